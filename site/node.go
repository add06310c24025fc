package site

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/gwsync/gwsync/schema"
)

// mapping is one YAML mapping being decoded: its fields by name, and where
// it is (file and path) for messages. Getters are tolerant: a value of the
// wrong type is reported and left out.
type mapping struct {
	l    *loader
	file string
	path string
	node *yaml.Node
	val  map[string]*yaml.Node

	// A frozen mapping (freeze) keeps only where it and its fields stand:
	// node and val are nil, and only has, pos, self and sub work.
	frozen bool
	at     spot
	fields []spot // a few: searched in order
}

// spot is where a value stands (of key, when it is a field's); null marks
// an empty value.
type spot struct {
	key       string
	line, col int32
	null      bool
}

// field finds the spot of field k of a frozen mapping.
func (m *mapping) field(k string) (spot, bool) {
	for _, f := range m.fields {
		if f.key == k {
			return f, true
		}
	}
	return spot{}, false
}

// keyNode is the key node of field k, or nil.
func (m *mapping) keyNode(k string) *yaml.Node {
	for _, kv := range schema.Pairs(m.node) {
		if kv[0].Value == k {
			return kv[0]
		}
	}
	return nil
}

// freeze lets go of the mapping's YAML nodes once its resource is decoded,
// keeping where its fields stand for the checks that run on the whole
// site: the nodes of 20,000 devices are some 38 MB, their spots 3 MB.
func (m *mapping) freeze() {
	m.at = spot{line: int32(m.node.Line), col: int32(m.node.Column)}
	m.fields = make([]spot, 0, len(m.val))
	for k, n := range m.val {
		if n != nil {
			m.fields = append(m.fields, spot{key: k, line: int32(n.Line), col: int32(n.Column), null: isNull(n)})
		}
	}
	m.node, m.val, m.frozen = nil, nil, true
}

// newMapping wraps n, or returns nil (after reporting) when n is not a mapping.
func (l *loader) newMapping(file, path string, n *yaml.Node) *mapping {
	n = schema.Resolve(n)
	if n == nil {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		if !isNull(n) {
			l.addAt(file, n, path, "must be a mapping, not %s", describe(n))
		}
		return nil
	}
	pairs := schema.Pairs(n)
	m := &mapping{l: l, file: file, path: path, node: n, val: make(map[string]*yaml.Node, len(pairs))}
	for _, kv := range pairs {
		m.val[kv[0].Value] = schema.Resolve(kv[1])
	}
	return m
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// describe names a node's type and, for scalars, its value, for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "empty"
		case "!!str":
			return strconv.Quote(n.Value)
		}
		return n.Value
	}
	return "a " + strings.ToLower(fmt.Sprint(n.Kind))
}

func (m *mapping) sub(k string) string {
	if m.path == "" {
		return k
	}
	return m.path + "." + k
}

// has reports whether the field is given (a null value counts as left out).
func (m *mapping) has(k string) bool {
	if m == nil {
		return false
	}
	if m.frozen {
		f, ok := m.field(k)
		return ok && !f.null
	}
	n, ok := m.val[k]
	return ok && n != nil && !isNull(n)
}

// pos is where the field's value stands, or the mapping itself when the
// field is left out.
func (m *mapping) pos(k string) Pos {
	if m.frozen {
		if f, ok := m.field(k); ok {
			return Pos{File: m.file, Line: int(f.line), Col: int(f.col)}
		}
		return m.self()
	}
	if n, ok := m.val[k]; ok && n != nil {
		return Pos{File: m.file, Line: n.Line, Col: n.Column}
	}
	return m.self()
}

func (m *mapping) self() Pos {
	if m.frozen {
		return Pos{File: m.file, Line: int(m.at.line), Col: int(m.at.col)}
	}
	return Pos{File: m.file, Line: m.node.Line, Col: m.node.Column}
}

func (m *mapping) str(k string) (string, bool) {
	if !m.has(k) {
		return "", false
	}
	n := m.val[k]
	if n.Kind != yaml.ScalarNode {
		m.l.addAt(m.file, n, m.sub(k), "must be a string, not %s", describe(n))
		return "", false
	}
	return n.Value, true
}

func (m *mapping) s(k string) string { s, _ := m.str(k); return s }

func scalarInt(n *yaml.Node) (int64, bool) {
	if n.Kind != yaml.ScalarNode {
		return 0, false
	}
	switch n.Tag {
	case "!!int":
		var v int64
		if err := n.Decode(&v); err == nil {
			return v, true
		}
		var u uint64
		if err := n.Decode(&u); err == nil && u <= 1<<63-1 {
			return int64(u), true
		}
	case "!!float":
		var f float64
		if err := n.Decode(&f); err == nil && f == float64(int64(f)) && f < 1<<62 && f > -(1<<62) {
			return int64(f), true
		}
	}
	return 0, false
}

func (m *mapping) int(k string) *int64 {
	if !m.has(k) {
		return nil
	}
	n := m.val[k]
	v, ok := scalarInt(n)
	if !ok {
		m.l.addAt(m.file, n, m.sub(k), "must be an integer, not %s", describe(n))
		return nil
	}
	return &v
}

func (m *mapping) bool(k string) *bool {
	if !m.has(k) {
		return nil
	}
	n := m.val[k]
	var b bool
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
		m.l.addAt(m.file, n, m.sub(k), "must be true or false, not %s", describe(n))
		return nil
	}
	return &b
}

// seq returns the items of a list field (nil when left out or not a list).
func (m *mapping) seq(k string) []*yaml.Node {
	if !m.has(k) {
		return nil
	}
	n := m.val[k]
	if n.Kind != yaml.SequenceNode {
		m.l.addAt(m.file, n, m.sub(k), "must be a list, not %s", describe(n))
		return nil
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		out[i] = schema.Resolve(c)
	}
	return out
}

func (m *mapping) strs(k string) ([]string, []Pos) {
	items := m.seq(k)
	if items == nil {
		return nil, nil
	}
	out := make([]string, 0, len(items))
	pos := make([]Pos, 0, len(items))
	for i, n := range items {
		if n == nil || n.Kind != yaml.ScalarNode || isNull(n) {
			if n != nil {
				m.l.addAt(m.file, n, fmt.Sprintf("%s[%d]", m.sub(k), i), "must be a string, not %s", describe(n))
			}
			continue
		}
		out = append(out, n.Value)
		pos = append(pos, Pos{File: m.file, Line: n.Line, Col: n.Column})
	}
	return out, pos
}

func (m *mapping) ints(k string) []int64 {
	items := m.seq(k)
	if items == nil {
		return nil
	}
	out := make([]int64, 0, len(items))
	for i, n := range items {
		v, ok := scalarInt(n)
		if !ok {
			m.l.addAt(m.file, n, fmt.Sprintf("%s[%d]", m.sub(k), i), "must be an integer, not %s", describe(n))
			continue
		}
		out = append(out, v)
	}
	return out
}

// child returns the mapping field k (nil when left out or not a mapping).
func (m *mapping) child(k string) *mapping {
	if !m.has(k) {
		return nil
	}
	return m.l.newMapping(m.file, m.sub(k), m.val[k])
}

// items returns the mappings of a list-of-mappings field.
func (m *mapping) items(k string) []*mapping {
	nodes := m.seq(k)
	out := make([]*mapping, 0, len(nodes))
	for i, n := range nodes {
		if n == nil {
			continue
		}
		if c := m.l.newMapping(m.file, fmt.Sprintf("%s[%d]", m.sub(k), i), n); c != nil {
			out = append(out, c)
		}
	}
	return out
}
