package export

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"
)

// This file builds the YAML node tree the site file is encoded from: keys
// in the order the file shows them, comments where the user needs them.

func mapping() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"} }

func sequence() *yaml.Node { return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"} }

// flow is a one-line sequence: [a, b, c].
func flow() *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
}

// numberLike matches strings other YAML readers could take for a number
// (an EUI such as 1E10000000000000): they are written quoted.
var numberLike = regexp.MustCompile(`^[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$`)

// spaceEnd matches a space at the end of a line of a string.
var spaceEnd = regexp.MustCompile(" ([\r\n\u0085\u2028\u2029]|$)")

// str is a string scalar: multi-line strings as block scalars (|), strings
// that could read as a number quoted. A multi-line string with a line that
// ends in a space is quoted too: in a block scalar that space would be
// invisible, and lost to an editor that trims lines.
func str(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	switch {
	case strings.Contains(s, "\n") && spaceEnd.MatchString(s):
		n.Style = yaml.DoubleQuotedStyle
	case strings.Contains(s, "\n"):
		n.Style = yaml.LiteralStyle
	case numberLike.MatchString(s):
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

func integer(v int64) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(v, 10)}
}

func boolean(v bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v)}
}

// set adds key: v to mapping m and returns the key node (for comments).
func set(m *yaml.Node, key string, v *yaml.Node) *yaml.Node {
	k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}
	m.Content = append(m.Content, k, v)
	return k
}

func ints(vs []int64) *yaml.Node {
	n := flow()
	for _, v := range vs {
		n.Content = append(n.Content, integer(v))
	}
	return n
}

func strs(vs []string) *yaml.Node {
	n := flow()
	for _, v := range vs {
		n.Content = append(n.Content, str(v))
	}
	return n
}

// encode writes the document with two-space indentation and a blank line
// before every top-level key after the first (and before its comment).
func encode(doc *yaml.Node) ([]byte, error) {
	var buf bytes.Buffer
	// No line width: a long value or flow list stays on its line.
	enc, err := yaml.NewDumper(&buf, yaml.WithV3Defaults(), yaml.WithIndent(2), yaml.WithLineWidth(-1))
	if err != nil {
		return nil, err
	}
	if err := enc.Dump(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	lines := strings.SplitAfter(buf.String(), "\n")
	var out strings.Builder
	seenKey := false
	var pending []string // a comment block at column 0, held until we know what follows
	flush := func() {
		for _, l := range pending {
			out.WriteString(l)
		}
		pending = pending[:0]
	}
	for _, l := range lines {
		topLevel := l != "" && l[0] != ' ' && l[0] != '\n'
		switch {
		case topLevel && l[0] == '#':
			pending = append(pending, l)
		case topLevel:
			if seenKey && !strings.HasSuffix(out.String(), "\n\n") {
				out.WriteString("\n")
			}
			seenKey = true
			flush()
			out.WriteString(l)
		default:
			flush()
			out.WriteString(l)
		}
	}
	flush()
	return []byte(out.String()), nil
}
