package site

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v4"
)

// countNodes counts the nodes of a tree, an alias once (not what it names).
func countNodes(n *yaml.Node) int {
	c := 1
	for _, k := range n.Content {
		c += countNodes(k)
	}
	return c
}

// decodedNodes is the number of nodes the library builds for data (every
// document), and whether it parsed.
func decodedNodes(data []byte) (int, bool) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	total := 0
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return total, true
		}
		if err != nil {
			return total, false
		}
		total += countNodes(&n)
	}
}

// TestNodeBound: on random documents made of YAML's punctuation, the bound
// is never below the nodes the library builds. Seeded; the seed is printed
// on failure.
func TestNodeBound(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	r := rand.New(rand.NewPCG(seed, 7))
	pieces := []string{"a", "b1", " ", "  ", "\n", "\n  ", "\n- ", ":", ": ", "-", "- ", "?", "? ", ",", ", ", "[", "]", "{", "}",
		`"x"`, `""`, "'y'", "*a", "&a ", "!!str ", "|\n  t\n", ">\n  u\n", "# c\n", "---\n", "...\n", "\t", "%YAML 1.2\n---\n", "~", "null"}
	parsed := 0
	n := 200_000
	if testing.Short() {
		n = 20_000
	}
	for i := 0; i < n; i++ {
		var sb strings.Builder
		for k := r.IntN(24); k >= 0; k-- {
			sb.WriteString(pieces[r.IntN(len(pieces))])
		}
		doc := []byte(sb.String())
		got, ok := decodedNodes(doc)
		if !ok {
			continue
		}
		parsed++
		if bound, _ := nodeBound(doc); got > bound {
			t.Fatalf("seed %d: %q: %d nodes, bound %d", seed, doc, got, bound)
		}
	}
	if parsed < n/20 {
		t.Fatalf("seed %d: only %d of %d documents parsed: the test checks little", seed, parsed, n)
	}
	// And some known shapes, at their worst.
	for _, doc := range []string{"a:\nb:\nc:\n", "- - - - a", "[[[[a]]]]", "{a,b,c}", "?\n?\n?\n", "-\n-\n-\n", "[:, :, :]", "[a: ]", "---\n---\n---\n", "{\"a\":1,\"b\":2}", "[*a, *a]"} {
		got, ok := decodedNodes([]byte(doc))
		if bound, _ := nodeBound([]byte(doc)); ok && got > bound {
			t.Errorf("%q: %d nodes, bound %d", doc, got, bound)
		}
	}
}
