package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestFirmwareList lists the simulated gateway's official firmware (6.9
// models, 6.10 firmware of each): every model by default, one with
// --model, as text with the site file's spelling, and as JSON.
func TestFirmwareList(t *testing.T) {
	broker := "sim://" + filepath.Join(t.TempDir(), "gw.json")
	code, out, errOut := runEnv(nil, "firmware", "list", "--broker", broker)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 5 || !strings.HasPrefix(lines[0], "MODEL  VERSION  NAME") {
		t.Fatalf("want a header and the four firmware of the catalogue:\n%s", out)
	}
	for _, want := range []string{"CT303  v1.4", "WT101  v1.2", "WT201  v1.3", "WT201  v1.4", "In a site file: official: {model: WT201, version: v1.4}"} {
		if !strings.Contains(out, want) {
			t.Errorf("firmware list lacks %q:\n%s", want, out)
		}
	}

	code, out, errOut = runEnv(nil, "firmware", "list", "--broker", broker, "--model", "wt201", "--format", "json")
	var doc struct {
		Firmware []FirmwareEntry `json:"firmware"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != ExitOK {
		t.Fatalf("json: exit %d, %v\n%s%s", code, err, out, errOut)
	}
	var got []string
	for _, f := range doc.Firmware {
		got = append(got, f.Model+" "+f.Version+" "+f.ID+" "+f.Size)
	}
	if want := "WT201 v1.3 1888828394920153091 118272,WT201 v1.4 1888828394920153090 120320"; strings.Join(got, ",") != want {
		t.Errorf("--model wt201: %v, want %s", got, want)
	}

	if code, _, errOut = runEnv(nil, "firmware", "list", "--broker", broker, "--model", "XX999"); code != ExitOK ||
		!strings.Contains(errOut, "the gateway knows no official firmware for model XX999") {
		t.Errorf("unknown model: exit %d, want 0 and a warning:\n%s", code, errOut)
	}
}
