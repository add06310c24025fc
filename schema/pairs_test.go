package schema

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v4"
)

// TestPlainPairsAgree: the shortcut for mappings without merge keys or
// repeated keys gives what the general expansion gives, on seeded random
// mappings with and without them.
func TestPlainPairsAgree(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 7))
	keys := []string{"a", "b", "c", "devEUI", "name", "<<", "\"<<\"", "? [x]", "~"}
	plain := 0
	for i := range 2000 {
		var b strings.Builder
		b.WriteString("base: &b {a: 1, z: 2}\nm:\n")
		for range r.IntN(10) {
			k := keys[r.IntN(len(keys))]
			v := fmt.Sprint(r.IntN(3))
			if k == "<<" {
				v = "*b"
			}
			if strings.HasPrefix(k, "?") {
				fmt.Fprintf(&b, "  %s\n  : %s\n", k, v)
				continue
			}
			fmt.Fprintf(&b, "  %s: %s\n", k, v)
		}
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(b.String()), &doc); err != nil {
			continue
		}
		m := doc.Content[0].Content[3]
		if m.Kind != yaml.MappingNode {
			continue
		}
		if plainPairs(m) {
			plain++
		}
		if d := cmp.Diff(mergedPairs(m), Pairs(m)); d != "" {
			t.Fatalf("case %d (seed %d): Pairs differs from the general expansion:\n%s\n%s", i, seed, b.String(), d)
		}
	}
	if plain == 0 {
		t.Fatal("no mapping took the shortcut")
	}
}
