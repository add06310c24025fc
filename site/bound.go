package site

import (
	"bytes"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/gwsync/gwsync/schema"
)

// The YAML library builds a document's whole tree before anything can look
// at it: a 20 MB file of small values was 2 GB of nodes. nodeBound is a
// cheap upper bound on the nodes (and so on the memory) a document's tree
// can take, computed from its bytes before it is parsed, so that a site
// too large to afford is refused first.
//
// A node of the tree (document, mapping, sequence, scalar, alias) is
// either a token of its own, which starts at a byte that follows a blank,
// a line's start or flow punctuation, or is made by the parser at an
// indicator: a null value at ':' (and the single-pair mapping around it in
// a flow sequence), a null item and the sequence at "- ", a null key and
// value at "? ", a null value at ',', ']' or '}'. Every such byte counts
// for the most nodes it can make. TestNodeBound checks the bound against
// the library on random documents.

// byteClass: 0 blank, 1 a byte after which a token can start at once,
// 2 anything else.
var byteClass = func() (c [256]uint8) {
	for i := range c {
		c[i] = 2
	}
	for _, b := range []byte(" \t\r\n") {
		c[b] = 0
	}
	for _, b := range []byte(",[]{}:") {
		c[b] = 1
	}
	return c
}()

// byteNodes is what a byte counts for besides a token's start: the null
// nodes the parser can make at it. '-' and '?' make nodes only before a
// blank; nodeBound adds them there.
var byteNodes = func() (n [256]uint8) {
	n[':'], n[','] = 3, 3
	n['['], n['{'], n[']'], n['}'] = 2, 2, 2, 2
	return n
}()

// nodeBound is an upper bound on the nodes a YAML stream of data decodes
// to (every document, aliases counted once, not expanded), and the number
// of '*' bytes, an upper bound on its aliases. It reads each byte once.
func nodeBound(data []byte) (nodes, aliases int) {
	nodes = 2
	prev := uint8(0) // the start counts as after a blank
	for i, b := range data {
		c := byteClass[b]
		// A token can start here: a non-blank after anything but a
		// word's byte.
		nodes += int(((prev >> 1) ^ 1) & (c | c>>1) & 1)
		nodes += int(byteNodes[b])
		if c == 0 && i > 0 && (data[i-1] == '-' || data[i-1] == '?') {
			nodes += 3 // "- " or "? "
		}
		prev = c
	}
	if n := len(data); n > 0 && (data[n-1] == '-' || data[n-1] == '?') {
		nodes += 3
	}
	return nodes, bytes.Count(data, []byte{'*'})
}

// maxFields is more fields than any object of a site has. A mapping with
// more is refused before the schema check, whose message for each unknown
// field walks the mapping again: 20,000 unknown fields in one mapping took
// three minutes.
const maxFields = 256

// wideMapping finds a mapping of doc with more than maxFields fields,
// merged ones (<<) included, and its number of fields; the values of the
// top-level x- fields, where anything goes, are not looked into unless
// another field names them by alias. Each node is looked at once, and
// once more through the first alias that names it or a node above it.
func wideMapping(doc *yaml.Node) (*yaml.Node, int) {
	seen := map[*yaml.Node]bool{}
	sizes := map[*yaml.Node]int{}
	var size func(m *yaml.Node, depth int) int
	size = func(m *yaml.Node, depth int) int {
		merges := false
		for i := 0; i+1 < len(m.Content); i += 2 {
			merges = merges || m.Content[i].Tag == "!!merge"
		}
		if !merges {
			return len(m.Content) / 2
		}
		if n, ok := sizes[m]; ok || depth > 16 {
			return n
		}
		sizes[m] = 0 // a merge that comes back to m adds nothing
		n := 0
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], m.Content[i+1]
			if k.Tag != "!!merge" {
				n++
				continue
			}
			for _, t := range append([]*yaml.Node{v}, v.Content...) {
				if t = schema.Resolve(t); t != nil && t.Kind == yaml.MappingNode {
					n += size(t, depth+1)
				}
			}
		}
		sizes[m] = n
		return n
	}
	var wide *yaml.Node
	var fields int
	var walk func(n *yaml.Node, top bool)
	walk = func(n *yaml.Node, top bool) {
		if n == nil || wide != nil {
			return
		}
		switch n.Kind {
		case yaml.AliasNode:
			if !seen[n.Alias] {
				seen[n.Alias] = true
				walk(n.Alias, false)
			}
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c, n.Kind == yaml.DocumentNode)
			}
		case yaml.MappingNode:
			own := 0
			for i := 0; i+1 < len(n.Content); i += 2 {
				if top && strings.HasPrefix(n.Content[i].Value, "x-") {
					continue
				}
				own++
			}
			if s := size(n, 0) - (len(n.Content)/2 - own); s > maxFields {
				wide, fields = n, s
				return
			}
			for i := 0; i+1 < len(n.Content); i += 2 {
				if top && strings.HasPrefix(n.Content[i].Value, "x-") {
					continue
				}
				walk(n.Content[i+1], false)
			}
		}
	}
	walk(doc, false)
	return wide, fields
}
