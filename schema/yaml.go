package schema

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"
)

// Limits on what one YAML document may expand to through aliases, so that
// a hostile file cannot make validation run away.
const (
	maxNodes = 2_000_000
	maxDepth = 100
)

// Resolve follows alias nodes to the node they name (nil stays nil).
func Resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxDepth; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

// Pairs returns a mapping node's key/value pairs with merge keys (<<)
// expanded: explicit keys first, in order, then merged keys the mapping does
// not set itself. A key given twice keeps its first value. Each merged
// mapping is expanded once, so aliases cannot make it run away.
func Pairs(n *yaml.Node) [][2]*yaml.Node {
	n = Resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	if plainPairs(n) {
		out := make([][2]*yaml.Node, 0, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			out = append(out, [2]*yaml.Node{n.Content[i], n.Content[i+1]})
		}
		return out
	}
	return mergedPairs(n)
}

// mergedPairs is Pairs of a mapping n with merge keys or keys given twice.
func mergedPairs(n *yaml.Node) [][2]*yaml.Node {
	out := make([][2]*yaml.Node, 0, len(n.Content)/2)
	seen := make(map[string]bool, len(n.Content)/2)
	visited := map[*yaml.Node]bool{}
	var add func(m *yaml.Node, depth int)
	add = func(m *yaml.Node, depth int) {
		m = Resolve(m)
		if m == nil || depth > maxDepth || visited[m] {
			return
		}
		visited[m] = true
		switch m.Kind {
		case yaml.SequenceNode:
			if depth == 0 {
				return
			}
			for _, e := range m.Content {
				add(e, depth+1)
			}
			return
		case yaml.MappingNode:
		default:
			return
		}
		var merges []*yaml.Node
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], m.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
				merges = append(merges, v)
				continue
			}
			if !seen[k.Value] {
				seen[k.Value] = true
				out = append(out, [2]*yaml.Node{k, v})
			}
		}
		for _, v := range merges {
			add(v, depth+1)
		}
	}
	add(n, 0)
	return out
}

// plainPairs reports whether a mapping's pairs are its content as it
// stands: a mapping of a few keys (a device's), none a merge key (<<) and
// none given twice. Pairs then needs no bookkeeping.
func plainPairs(n *yaml.Node) bool {
	if len(n.Content) > 16 {
		return false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			return false
		}
		for j := 0; j < i; j += 2 {
			if n.Content[j].Value == k.Value {
				return false
			}
		}
	}
	return true
}

// duplicateKey is a mapping key given twice in one mapping.
type duplicateKey struct {
	Key        *yaml.Node // the second occurrence
	First      *yaml.Node // the first
	ParentPath []string   // instance location of the mapping
}

// converter turns a YAML node tree into the JSON-like value the validator
// takes. Where the schema wants a string, a plain scalar is read as its
// text, so `version: 1.4` or an all-digit EUI stay what the user wrote.
type converter struct {
	sch      *compiled
	count    int
	dups     []duplicateKey
	unquoted []unquoted
	err      error
}

// unquoted is a plain scalar where the schema wants a string that YAML 1.2
// tools (editors, other validators) read as a number or a boolean.
type unquoted struct {
	node *yaml.Node
	loc  []string
	as   string // "a number" or "a boolean"
}

// readAs says what YAML 1.2's core schema makes of a plain scalar other
// than a string: "a number", "a boolean", or "".
func readAs(n *yaml.Node) string {
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return ""
	}
	switch {
	case n.Tag != "!!str" && n.Tag != "!!int" && n.Tag != "!!float" && n.Tag != "!!bool":
		return ""
	case n.Value == "" || !strings.ContainsRune("+-.0123456789tTfF", rune(n.Value[0])):
		return "" // neither form starts otherwise: most names skip the patterns
	case core12Number.MatchString(n.Value):
		return "a number"
	case core12Bool.MatchString(n.Value):
		return "a boolean"
	}
	return ""
}

// The YAML 1.2 core schema's number and boolean forms (go.yaml.in/yaml reads some,
// such as 24E1247151234568, as strings; editors and js-yaml read them as
// numbers).
var (
	core12Number = regexp.MustCompile(`^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`)
	core12Bool   = regexp.MustCompile(`^(?:true|True|TRUE|false|False|FALSE)$`)
)

func (c *converter) value(n *yaml.Node, s map[string]any, loc []string, depth int) any {
	if c.err != nil {
		return nil
	}
	n = Resolve(n)
	if n == nil {
		return nil
	}
	c.count++
	if c.count > maxNodes || depth > maxDepth {
		c.err = fmt.Errorf("document too large or too deep once aliases are expanded (more than %d values or %d levels)", maxNodes, maxDepth)
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		obj := make(map[string]any, len(n.Content)/2)
		first := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Tag == "!!merge" {
				continue
			}
			if f, ok := first[k.Value]; ok {
				c.dups = append(c.dups, duplicateKey{Key: k, First: f, ParentPath: append([]string(nil), loc...)})
				continue
			}
			first[k.Value] = k
		}
		for _, kv := range Pairs(n) {
			key := kv[0].Value
			sub := c.sch.property(s, key)
			obj[key] = c.value(kv[1], sub, append(loc, key), depth+1)
		}
		return obj
	case yaml.SequenceNode:
		arr := make([]any, len(n.Content))
		item := c.sch.items(s)
		for i, e := range n.Content {
			arr[i] = c.value(e, item, append(loc, strconv.Itoa(i)), depth+1)
		}
		return arr
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return nil
		}
		if c.sch.wantsString(s) {
			if as := readAs(n); as != "" {
				c.unquoted = append(c.unquoted, unquoted{node: n, loc: append([]string(nil), loc...), as: as})
			}
			return n.Value
		}
		return scalar(n)
	}
	return nil
}

func scalar(n *yaml.Node) any {
	switch n.Tag {
	case "!!int":
		var v int64
		if err := n.Decode(&v); err == nil {
			return v
		}
		var u uint64
		if err := n.Decode(&u); err == nil {
			return json.Number(strconv.FormatUint(u, 10))
		}
	case "!!float":
		var f float64
		if err := n.Decode(&f); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return f
		}
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err == nil {
			return b
		}
	}
	return n.Value
}

// NodeAt walks from root along an instance location (JSON pointer tokens)
// and returns the node there, and the key node when the last step was a
// mapping key. It stops at the deepest node it can reach.
func NodeAt(root *yaml.Node, loc []string) (node, key *yaml.Node) {
	n := Resolve(root)
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = Resolve(n.Content[0])
	}
	for _, tok := range loc {
		if n == nil {
			return nil, key
		}
		switch n.Kind {
		case yaml.MappingNode:
			found := false
			for _, kv := range Pairs(n) {
				if kv[0].Value == tok {
					key, n, found = kv[0], Resolve(kv[1]), true
					break
				}
			}
			if !found {
				return n, nil
			}
		case yaml.SequenceNode:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(n.Content) {
				return n, nil
			}
			key, n = nil, Resolve(n.Content[i])
		default:
			return n, nil
		}
	}
	return n, key
}
