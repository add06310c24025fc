package site

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDeviceFieldsGivenOnly: every field a device gives, and every field it
// takes from deviceDefaults, has its position and path; no other field has
// one.
func TestDeviceFieldsGivenOnly(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "site.yaml")
	body := `version: 1
deviceDefaults:
  application: cloud
  fPort: 85
devices:
  - devEUI: "24E1241234567890"
    name: a
    appKey: ${env:K1}
  - name: b
    devEUI: "24E1241234567891"
    fPort: 2
    appKey: ${env:K2}
    application: edge
`
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	s, problems := Load(Options{LookupEnv: lookup(testEnv)}, p)
	if s == nil {
		t.Fatal(problems)
	}
	type at struct {
		Line, Col int
		Path      string
	}
	got := make([]map[string]at, len(s.Devices))
	for i, d := range s.Devices {
		got[i] = map[string]at{}
		for f, fp := range d.Fields {
			got[i][f] = at{fp.Pos.Line, fp.Pos.Col, fp.Path}
		}
	}
	want := []map[string]at{
		{"devEUI": {6, 13, "devices[0].devEUI"}, "name": {7, 11, "devices[0].name"}, "appKey": {8, 13, "devices[0].appKey"},
			"application": {3, 16, "deviceDefaults.application"}, "fPort": {4, 10, "deviceDefaults.fPort"}},
		{"name": {9, 11, "devices[1].name"}, "devEUI": {10, 13, "devices[1].devEUI"}, "fPort": {11, 12, "devices[1].fPort"},
			"appKey": {12, 13, "devices[1].appKey"}, "application": {13, 18, "devices[1].application"}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("field positions (-want +got):\n%s", d)
	}
}
