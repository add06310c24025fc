package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gwsync/gwsync/schema"
)

// runValidateCLI runs gwsync with args in dir and returns its exit code
// and output.
func runValidateCLI(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	t.Chdir(dir)
	var stdout, stderr bytes.Buffer
	code := Main(args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func writeSite(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const validSite = `version: 1
devices:
  - devEUI: 24E124136A456465
    name: em300-th-01
    application: cloud
    appKey: ${env:GWSYNC_TEST_APPKEY}
`

func TestValidateCommand(t *testing.T) {
	t.Setenv("GWSYNC_TEST_APPKEY", "0011223344556677889900aabbccddee")
	tests := []struct {
		name     string
		files    map[string]string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{
			name:     "valid",
			files:    map[string]string{"site.yaml": validSite},
			args:     []string{"validate", "site.yaml"},
			wantCode: 0,
			wantOut:  "Valid: 1 file, 0 profiles, 0 codecs, 1 device, 0 multicast groups, 0 FUOTA tasks.\n",
		},
		{
			name:     "warnings allowed",
			files:    map[string]string{"site.yaml": strings.Replace(validSite, "${env:GWSYNC_TEST_APPKEY}", "5572404c696e6b4c6f52613230313823", 1)},
			args:     []string{"validate", "site.yaml"},
			wantCode: 0,
			wantOut: "site.yaml:6:13: warning: devices[0].appKey: key written in clear in the site file; use ${env:NAME} or ${file:PATH}\n" +
				"site.yaml:6:13: warning: devices[0].appKey: is the spec's published default key: anyone can use it; set a key of your own\n" +
				"Valid: 1 file, 0 profiles, 0 codecs, 1 device, 0 multicast groups, 0 FUOTA tasks (2 warnings).\n",
		},
		{
			name:     "strict",
			files:    map[string]string{"site.yaml": strings.Replace(validSite, "${env:GWSYNC_TEST_APPKEY}", "5572404c696e6b4c6f52613230313823", 1)},
			args:     []string{"validate", "--strict", "site.yaml"},
			wantCode: 1,
			wantOut: "site.yaml:6:13: devices[0].appKey: key written in clear in the site file; use ${env:NAME} or ${file:PATH}\n" +
				"site.yaml:6:13: devices[0].appKey: is the spec's published default key: anyone can use it; set a key of your own\n" +
				"Invalid: 2 errors.\n",
		},
		{
			name: "invalid, relative paths as given",
			files: map[string]string{"sites/a/site.yaml": "version: 1\ndevices:\n  - devEUI: 24E1\n    application: cloud\n    appKey: ${env:UNSET_KEY_FOR_TEST}\n" +
				"multicastGroups:\n  - name: g\n    mcNwkSKey: ${env:GWSYNC_TEST_APPKEY}\n    mcAppSKey: ${env:GWSYNC_TEST_APPKEY}\n"},
			args:     []string{"validate", "sites/a"},
			wantCode: 1,
			wantOut: "sites/a/site.yaml:3:13: devices[0].devEUI: \"24E1\" is not 16 hex digits\n" +
				"sites/a/site.yaml:5:13: warning: devices[0].appKey: ${env:UNSET_KEY_FOR_TEST} is not set: needed by plan and apply\n" +
				"sites/a/site.yaml:8:16: warning: multicastGroups[0].mcNwkSKey: same key as multicast group g (mcAppSKey); give every device and group its own key\n" +
				"sites/a/site.yaml:9:16: warning: multicastGroups[0].mcAppSKey: same key as multicast group g (mcNwkSKey); give every device and group its own key\n" +
				"Invalid: 1 error, 3 warnings.\n",
		},
		{
			name:     "channel plan flag",
			files:    map[string]string{"site.yaml": "version: 1\nprofiles:\n  - name: p\n    rxFreq2: 869525000\n"},
			args:     []string{"validate", "--channel-plan", "US915", "site.yaml"},
			wantCode: 1,
			wantOut:  "site.yaml:4:14: profiles[0].rxFreq2: 869525000 Hz is outside US915's range 923300000-927500000 Hz\nInvalid: 1 error.\n",
		},
		{
			name:     "unknown channel plan flag",
			files:    map[string]string{"site.yaml": "version: 1\n"},
			args:     []string{"validate", "--channel-plan", "EU433", "site.yaml"},
			wantCode: 1,
			wantErr:  "Error: --channel-plan: unknown channel plan \"EU433\" (known: AS923-1, AS923-2, AS923-3, AS923-4, AU915, CN470, EU868, IN865, KR920, RU864, US915)\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeSite(t, tt.files)
			code, out, errOut := runValidateCLI(t, dir, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.wantCode, errOut)
			}
			if diff := cmp.Diff(tt.wantOut, out); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantErr, errOut); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateJSON(t *testing.T) {
	dir := writeSite(t, map[string]string{"site.yaml": "version: 1\ndevices:\n  - devEUI: 24E1\n    application: cloud\n    appKey: 0011223344556677889900aabbccddee\n"})
	code, out, _ := runValidateCLI(t, dir, "validate", "--format", "json", "site.yaml")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	var got validateOutput
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	want := validateOutput{Valid: false, Problems: []validateProblem{
		{File: "site.yaml", Line: 3, Col: 13, Path: "devices[0].devEUI", Message: `"24E1" is not 16 hex digits`, Severity: "error"},
		{File: "site.yaml", Line: 5, Col: 13, Path: "devices[0].appKey", Message: "key written in clear in the site file; use ${env:NAME} or ${file:PATH}", Severity: "warning"},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("json (-want +got):\n%s", diff)
	}
	if strings.Contains(out, "0011223344556677889900aabbccddee") {
		t.Error("JSON output shows a key")
	}
	// A valid site: valid true and an empty list, not null.
	os.WriteFile(filepath.Join(dir, "site.yaml"), []byte("version: 1\n"), 0o644)
	code, out, _ = runValidateCLI(t, dir, "validate", "--format", "json", "site.yaml")
	if code != 0 || !strings.Contains(out, `"problems": []`) || !strings.Contains(out, `"valid": true`) {
		t.Errorf("exit %d, output:\n%s", code, out)
	}
}

func TestSchemaCommand(t *testing.T) {
	code, out, errOut := runValidateCLI(t, t.TempDir(), "schema")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if out != string(schema.JSON()) {
		t.Error("gwsync schema does not print the embedded schema")
	}
	if !json.Valid([]byte(out)) {
		t.Error("gwsync schema prints invalid JSON")
	}
}
