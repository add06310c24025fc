package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v4"
)

// TestEveryPropertyDocumented: editors show a description for every field,
// and every mapping refuses unknown fields.
func TestEveryPropertyDocumented(t *testing.T) {
	var raw map[string]any
	if err := json.Unmarshal(JSON(), &raw); err != nil {
		t.Fatal(err)
	}
	if raw["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %v", raw["$schema"])
	}
	c := &compiled{raw: raw}
	var props int
	var walk func(path string, s map[string]any)
	walk = func(path string, s map[string]any) {
		if isObject(s) && s["additionalProperties"] != false {
			t.Errorf("%s: object without additionalProperties: false", path)
		}
		if ps, ok := s["properties"].(map[string]any); ok {
			keys := make([]string, 0, len(ps))
			for k := range ps {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				p := ps[k].(map[string]any)
				props++
				d, _ := p["description"].(string)
				if d == "" {
					d, _ = c.deref(p)["description"].(string)
				}
				if strings.TrimSpace(d) == "" {
					t.Errorf("%s.%s: no description", path, k)
				}
				walk(path+"."+k, p)
			}
		}
		if it, ok := s["items"].(map[string]any); ok {
			walk(path+"[]", it)
		}
	}
	walk("(root)", raw)
	for name, d := range raw["$defs"].(map[string]any) {
		walk("$defs."+name, d.(map[string]any))
	}
	if props < 100 {
		t.Errorf("only %d properties documented; the schema lost fields", props)
	}
}

func isObject(s map[string]any) bool {
	switch t := s["type"].(type) {
	case string:
		return t == "object"
	case []any:
		for _, e := range t {
			if e == "object" {
				return true
			}
		}
	}
	return false
}

// TestSchemaFileIsTheEmbeddedOne: what `gwsync schema` prints is the file
// editors point at.
func TestSchemaFileIsTheEmbeddedOne(t *testing.T) {
	b, err := os.ReadFile("site.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, JSON()) {
		t.Error("JSON() differs from site.schema.json")
	}
	j := JSON()
	j[0] = 'X'
	if JSON()[0] == 'X' {
		t.Error("JSON() returns the embedded bytes themselves; callers could change them")
	}
}

func parse(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(src), &n); err != nil {
		t.Fatal(err)
	}
	return &n
}

func issuesText(is []Issue) []string {
	var out []string
	for _, i := range is {
		out = append(out, fmt.Sprintf("%d:%d: %s: %s", i.Line, i.Col, i.Path, i.Message))
	}
	return out
}

// TestValidateYAML checks positions and messages of the schema step alone,
// including values YAML would type differently from what the field wants.
func TestValidateYAML(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "all-digit EUI and a float-looking version: read as written, flagged for quoting as YAML 1.2 tools read numbers",
			src: "version: 1\ndevices:\n  - devEUI: 2400000000000001\nfirmwareUpdates:\n  - name: t\n    startAt: 2026-12-01T02:00:00Z\n" +
				"    devices: [2400000000000001, 24E1247151234568, '24E1247151234569']\n    official: {model: WT201, version: 1.4}\n    fragment: {size: 1, intervalMs: 1000, redundancy: 0}\n" +
				"multicastGroups:\n  - {name: true, mcAddr: 12345678}\n  - {name: 'true', mcAddr: \"12345678\"}\n",
			want: []string{
				"3:13: devices[0].devEUI: 2400000000000001 is read as a number by YAML 1.2 tools (editors, other schema validators), which then reject it: quote it: '2400000000000001'",
				"7:15: firmwareUpdates[0].devices[0]: 2400000000000001 is read as a number by YAML 1.2 tools (editors, other schema validators), which then reject it: quote it: '2400000000000001'",
				"7:33: firmwareUpdates[0].devices[1]: 24E1247151234568 is read as a number by YAML 1.2 tools (editors, other schema validators), which then reject it: quote it: '24E1247151234568'",
				"8:39: firmwareUpdates[0].official.version: 1.4 is read as a number by YAML 1.2 tools (editors, other schema validators), which then reject it: quote it: '1.4'",
				"11:12: multicastGroups[0].name: true is read as a boolean by YAML 1.2 tools (editors, other schema validators), which then reject it: quote it: 'true'",
				"11:26: multicastGroups[0].mcAddr: 12345678 is read as a number by YAML 1.2 tools (editors, other schema validators), which then reject it: quote it: '12345678'",
			},
		},
		{
			name: "anchors and merge keys",
			src: "version: 1\nx-common: &c {application: cloud, fPort: 500}\nbogus: 1\n" +
				"devices:\n  - <<: *c\n    devEUI: 24E124136A456465\n",
			want: []string{"2:42: devices[0].fPort: 500 is out of range 1-223", `3:1: bogus: unknown field "bogus"`},
		},
		{
			name: "type names",
			src:  "version: 1\nprofiles:\n  - name: p\n    supportsJoin: 1\n    factoryPresetFreqs: 868100000\n",
			want: []string{
				"4:19: profiles[0].supportsJoin: must be true or false, not 1",
				"5:25: profiles[0].factoryPresetFreqs: must be a list, not 868100000",
			},
		},
		{
			name: "secret values are never shown",
			src:  "version: 1\nconnection:\n  password: [hunter2]\ndevices:\n  - devEUI: 24E124136A456465\n    nwkSKey: hunter2\n",
			want: []string{
				"3:13: connection.password: must be a string",
				"6:14: devices[0].nwkSKey: value is not 32 hex digits or a ${env:NAME} / ${file:PATH} reference",
			},
		},
		{
			name: "startAt only as the spec's examples write it",
			src: "version: 1\nfirmwareUpdates:\n  - name: t\n    startAt: 2026-12-01 02:00:00Z\n" +
				"  - name: u\n    startAt: 2026-12-01t02:00:00z\n  - name: v\n    startAt: 2026-12-01T02:00:00.000+01:00\n",
			want: []string{
				`3:5: firmwareUpdates[0]: missing required field "devices"`,
				`3:5: firmwareUpdates[0]: missing required field "fragment"`,
				`4:14: firmwareUpdates[0].startAt: "2026-12-01 02:00:00Z" is not an RFC 3339 time (2026-12-01T02:00:00Z)`,
				`5:5: firmwareUpdates[1]: missing required field "devices"`,
				`5:5: firmwareUpdates[1]: missing required field "fragment"`,
				`6:14: firmwareUpdates[1].startAt: "2026-12-01t02:00:00z" is not an RFC 3339 time (2026-12-01T02:00:00Z)`,
				`7:5: firmwareUpdates[2]: missing required field "devices"`,
				`7:5: firmwareUpdates[2]: missing required field "fragment"`,
			},
		},
		{
			name: "required and empty",
			src:  "version: 1\nfirmwareUpdates:\n  - name: ''\n    devices: []\n",
			want: []string{
				`3:5: firmwareUpdates[0]: missing required field "fragment"`,
				`3:5: firmwareUpdates[0]: missing required field "startAt"`,
				"3:11: firmwareUpdates[0].name: must not be empty",
				"4:14: firmwareUpdates[0].devices: must list at least one item",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is, err := ValidateYAML(parse(t, tt.src))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, issuesText(is)); diff != "" {
				t.Errorf("issues (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAliasExpansionBounded: a document whose aliases expand without end
// is refused, not walked.
func TestAliasExpansionBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	_, err := ValidateYAML(parse(t, b.String()))
	if err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("err = %v, want a too-large error", err)
	}
}

// TestValidateDef validates a value against one definition, as for CSV rows.
func TestValidateDef(t *testing.T) {
	is, err := ValidateDef("device", map[string]any{"devEUI": "24E1", "fPort": int64(0), "bogus": "x"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`0:0: bogus: unknown field "bogus"`,
		`0:0: devEUI: "24E1" is not 16 hex digits`,
		"0:0: fPort: 0 is out of range 1-223",
	}
	if diff := cmp.Diff(want, issuesText(is)); diff != "" {
		t.Errorf("issues (-want +got):\n%s", diff)
	}
	if _, err := ValidateDef("nothing", map[string]any{}); err == nil {
		t.Error("unknown definition accepted")
	}
}

func TestSuggest(t *testing.T) {
	fields := []string{"appKey", "appSKey", "nwkSKey", "devEUI", "devAddr", "devices", "description"}
	tests := []struct{ in, want string }{
		{"appkey", "appKey"},
		{"APPKEY", "appKey"},
		{"deveui", "devEUI"},
		{"devAdr", "devAddr"},
		{"descripton", "description"},
		{"x", ""},
		{"frequency", ""},
	}
	for _, tt := range tests {
		if got := Suggest(tt.in, fields); got != tt.want {
			t.Errorf("Suggest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
