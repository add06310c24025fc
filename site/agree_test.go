package site

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gwsync/gwsync/schema"
)

// agreeCases are site files on which the published schema, read by any
// validator from YAML 1.2, and gwsync validate must give the same verdict.
var agreeCases = []struct {
	name  string
	yaml  string
	valid bool
}{
	{"EUIs and addresses quoted", `version: 1
devices:
  - {devEUI: '1234567890123456', name: '42', application: cloud, appKey: '${env:K}'}
  - {devEUI: '24E1247151234568', application: cloud, appKey: '${env:K}'}
multicastGroups:
  - {name: 'true', mcAddr: '12345678', mcNwkSKey: '${env:K}', mcAppSKey: '${env:K2}', devices: ['24E1247151234568']}
`, true},
	{"bare all-digit devEUI", `version: 1
devices:
  - {devEUI: 1234567890123456, application: cloud, appKey: '${env:K}'}
`, false},
	{"bare 24E1247151234568 (a number in YAML 1.2)", `version: 1
devices:
  - {devEUI: 24E1247151234568, application: cloud, appKey: '${env:K}'}
`, false},
	{"bare all-digit mcAddr", `version: 1
multicastGroups:
  - {name: g, mcAddr: 12345678, mcNwkSKey: '${env:K}', mcAppSKey: '${env:K2}'}
`, false},
	{"version 1.4", "version: 1.4\n", false},
	{"name: true", `version: 1
multicastGroups:
  - {name: true, mcNwkSKey: '${env:K}', mcAppSKey: '${env:K2}'}
`, false},
	{"prune per kind", "version: 1\nprune: {devices: true}\n", true},
	{"prune kind misspelt", "version: 1\nprune: {device: true}\n", false},
	{"prune neither bool nor mapping", "version: 1\nprune: all\n", false},
	{"devicesFrom a list", "version: 1\ndevicesFrom: [d.csv]\n", true},
	{"codec script inline and from a file", `version: 1
codecs:
  - {name: c, decoderScript: 'function Decode(p, b) { return {}; }', decoderFile: c.js}
`, false},
	{"codec script from a file", "version: 1\ncodecs:\n  - {name: c, decoderFile: c.js}\n", true},
	{"FUOTA task with both firmware sources", `version: 1
firmwareUpdates:
  - name: t
    startAt: '2030-12-01T02:00:00Z'
    devices: ['24E1247151234568']
    firmwareFile: fw.bin
    official: {model: WT201, version: v1.4}
    fragment: {size: 50, intervalMs: 5000, redundancy: 30}
`, false},
	{"FUOTA task with no firmware", `version: 1
firmwareUpdates:
  - name: t
    startAt: '2030-12-01T02:00:00Z'
    devices: ['24E1247151234568']
    fragment: {size: 50, intervalMs: 5000, redundancy: 30}
`, false},
	{"FUOTA task, official firmware named", `version: 1
firmwareUpdates:
  - name: t
    startAt: '2030-12-01T02:00:00Z'
    devices: ['24E1247151234568']
    official: {model: WT201, version: v1.4}
    firmwareName: x.bin
    fragment: {size: 50, intervalMs: 5000, redundancy: 30}
`, false},
	{"FUOTA task, official firmware", `version: 1
firmwareUpdates:
  - name: t
    startAt: '2030-12-01T02:00:00Z'
    devices: ['24E1247151234568']
    official: {model: WT201, version: 'v1.4'}
    fragment: {size: 50, intervalMs: 5000, redundancy: 30}
`, true},
}

// writeAgreeCase writes one case with the files it refers to.
func writeAgreeCase(t *testing.T, dir, text string) string {
	t.Helper()
	writeTree(t, dir, map[string]string{
		"site.yaml": text,
		"c.js":      "function Decode(fPort, bytes) { return {}; }\n",
		"fw.bin":    strings.Repeat("\x01", 1000),
		"d.csv":     "devEUI,name,application,appKey\n24E124136A456465,d1,cloud,${env:K}\n",
	})
	return filepath.Join(dir, "site.yaml")
}

// TestValidateAgreesWithTheSchema: gwsync validate's verdict on each case
// is the one the published schema gives. The schema side runs here with
// the Go validator on the YAML 1.2 reading of each file; with node and
// ajv available (NODE_PATH naming a node_modules that holds ajv and yaml)
// TestSchemaInAjv checks the same cases with ajv in its default strict mode.
func TestValidateAgreesWithTheSchema(t *testing.T) {
	for _, tc := range agreeCases {
		t.Run(tc.name, func(t *testing.T) {
			f := writeAgreeCase(t, t.TempDir(), tc.yaml)
			s, probs := Load(Options{Offline: true, QuoteErrors: true, LookupEnv: func(string) (string, bool) { return "", false }}, f)
			if valid := s != nil && len(probs.Errors()) == 0; valid != tc.valid {
				t.Errorf("gwsync validate: valid = %v, want %v:\n%v", valid, tc.valid, probs)
			}
		})
	}
}

// TestSchemaInAjv loads the published schema in ajv's default strict mode
// (draft 2020-12) and checks that ajv, reading each case as YAML 1.2 (the
// yaml package), gives the verdict gwsync validate gives. It needs node
// with ajv and yaml installed where NODE_PATH points:
//
//	npm install --prefix /tmp/ajv ajv@8 yaml@2
//	NODE_PATH=/tmp/ajv/node_modules go test ./site -run Ajv
func TestSchemaInAjv(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	if exec.Command(node, "-e", "require('ajv/dist/2020'); require('yaml')").Run() != nil {
		t.Skip("ajv and yaml are not installed where NODE_PATH points (npm install --prefix /tmp/ajv ajv@8 yaml@2; NODE_PATH=/tmp/ajv/node_modules)")
	}
	dir := t.TempDir()
	schemaFile := filepath.Join(dir, "site.schema.json")
	if err := os.WriteFile(schemaFile, schema.JSON(), 0o644); err != nil {
		t.Fatal(err)
	}
	var files []string
	for i, tc := range agreeCases {
		files = append(files, writeAgreeCase(t, filepath.Join(dir, strings.Repeat("c", i+1)), tc.yaml))
	}
	const script = `
const Ajv2020 = require("ajv/dist/2020");
const YAML = require("yaml");
const fs = require("fs");
const warnings = [];
const ajv = new Ajv2020({logger: {log() {}, warn(m) { warnings.push(String(m)); }, error(m) { warnings.push(String(m)); }}});
const validate = ajv.compile(JSON.parse(fs.readFileSync(process.argv[1], "utf8")));
const out = {warnings, valid: []};
for (const f of process.argv.slice(2)) out.valid.push(validate(YAML.parse(fs.readFileSync(f, "utf8"))));
console.log(JSON.stringify(out));
`
	cmd := exec.Command(node, append([]string{"-e", script, schemaFile}, files...)...)
	b, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("ajv (strict) does not load the schema: %v\n%s", err, stderr)
	}
	var out struct {
		Warnings []string `json:"warnings"`
		Valid    []bool   `json:"valid"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if len(out.Warnings) > 0 {
		t.Errorf("ajv strict mode warns: %q", out.Warnings)
	}
	for i, tc := range agreeCases {
		if out.Valid[i] != tc.valid {
			t.Errorf("%s: ajv says valid = %v, gwsync validate %v", tc.name, out.Valid[i], tc.valid)
		}
	}
}
