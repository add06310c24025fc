package export

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v4"
)

// TestEncodeFormat pins how values are written where YAML libraries
// differ: long lines are not folded, a line that ends in a space is kept
// visible in quotes, other multi-line text is a block scalar, and
// number-like strings are quoted.
func TestEncodeFormat(t *testing.T) {
	long := "a description of a device that goes on well past eighty characters, as some do on site"
	root := mapping()
	task := mapping()
	set(task, "name", str("t"))
	set(task, "devices", strs([]string{"24E124136A456465", "24E124136A456466", "24E124136A456467", "24E124136A456468"}))
	set(task, "description", str(long))
	set(task, "note", str("first line \nsecond line"))
	set(task, "ends", str("one\ntwo "))
	set(task, "script", str("function decode(b) {\n  return {};\n}\n"))
	set(task, "eui", str("1E10000000000000"))
	set(task, "fPort", integer(85))
	set(task, "confirmed", boolean(true))
	list := sequence()
	list.Content = append(list.Content, task)
	set(root, "version", integer(1))
	set(root, "firmwareUpdates", list)
	doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}
	got, err := encode(doc)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"version: 1",
		"",
		"firmwareUpdates:",
		"  - name: t",
		"    devices: [24E124136A456465, 24E124136A456466, 24E124136A456467, 24E124136A456468]",
		"    description: " + long,
		`    note: "first line \nsecond line"`,
		`    ends: "one\ntwo "`,
		"    script: |",
		"      function decode(b) {",
		"        return {};",
		"      }",
		`    eui: "1E10000000000000"`,
		"    fPort: 85",
		"    confirmed: true",
		"",
	}, "\n")
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
