package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"github.com/gwsync/gwsync/applier"
	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
	"github.com/gwsync/gwsync/render"
	"github.com/gwsync/gwsync/site"
)

// Text a hostile gateway may hold: a fake "No changes." after a screen
// clear, a bidi override, C1 CSI, an OSC title and a carriage return.
const (
	hostileName   = "\x1b[2J\x1b[H No changes.\x1b[8m \u202eevil\u2066x\u2069"
	hostileDesc   = "\u009b31m\rdesc\x07"
	hostileOther  = "\x1b]0;owned\x07 No changes.\u200b"
	hostileScript = "function decode(b) {\n\x1b[2J\x1b[H No changes.\n  return {}; // \u202e } ;\n}\n"
)

// terminalSafe fails t when s holds anything a terminal or a browser would
// act on rather than show.
func terminalSafe(t *testing.T, what, s string) {
	t.Helper()
	for i, r := range s {
		if r == '\n' || r == '\t' || r == ' ' || unicode.IsPrint(r) {
			continue
		}
		t.Errorf("%s holds %U at byte %d:\n%s", what, r, i, s)
		return
	}
}

func TestGatewayTextIsShownInert(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "gw.json")
	const eui = "24E124FFFEF5A6A8"
	ctx := context.Background()
	cl, closer, err := connect(ctx, envOf(nil), ConnFlags{Broker: "sim://" + state}, nil, site.Gateway{EUI: eui})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.CreateCodec(ctx, nsapi.CodecWrite{Name: "dec", Description: hostileDesc, DecoderScript: hostileScript}); err != nil {
		t.Fatalf("CreateCodec: %v", err)
	}
	for eui, name := range map[string]string{"24E1241234567890": hostileName, "24E1241234567899": hostileOther} {
		if err := cl.CreateDevice(ctx, nsapi.DeviceWrite{DevEUI: eui, Name: name, Description: hostileDesc, ApplicationID: "1",
			AppKey: "000102030405060708090a0b0c0d0e0f"}); err != nil {
			t.Fatalf("CreateDevice: %v", err)
		}
	}
	if err := closer(); err != nil {
		t.Fatal(err)
	}
	sitePath := filepath.Join(dir, "site.yaml")
	writeFile(t, sitePath, `version: 1
gateway: {eui: "`+eui+`"}
connection: {broker: "sim://`+state+`"}
codecs:
  - name: dec
    decoderScript: |
      function decode(b) {
        return {};
      }
devices:
  - devEUI: "24E1241234567890"
    name: lamp
    application: cloud
    codec: dec
    appKey: 000102030405060708090a0b0c0d0e0f
  - devEUI: "24E1241234567891"
    name: new-one
    application: cloud
    appKey: 000102030405060708090a0b0c0d0e0f
`)
	run := func(format string) string {
		t.Helper()
		code, stdout, stderr := runEnv(nil, "plan", sitePath, "--format", format)
		if code != ExitOK {
			t.Fatalf("plan --format %s: exit %d\n%s%s", format, code, stdout, stderr)
		}
		terminalSafe(t, "stderr of plan --format "+format, stderr)
		return stdout
	}
	js := run("json")
	var doc struct {
		ResourceChanges []struct {
			Address string `json:"address"`
		} `json:"resource_changes"`
	}
	if err := json.Unmarshal([]byte(js), &doc); err != nil {
		t.Fatalf("plan --format json: %v\n%s", err, js)
	}
	// The JSON plan keeps the exact values.
	var all any
	_ = json.Unmarshal([]byte(js), &all)
	for _, want := range []string{hostileName, hostileDesc, hostileScript, hostileOther} {
		if !holdsString(all, want) {
			t.Errorf("the JSON plan lost the exact value %q", want)
		}
	}
	if len(doc.ResourceChanges) != 3 {
		t.Fatalf("the JSON plan has %d changes, want 3 (codec update, device update, device create):\n%s", len(doc.ResourceChanges), js)
	}
	for _, format := range []string{"text", "markdown"} {
		out := run(format)
		terminalSafe(t, "plan --format "+format, out)
		if strings.Contains(out, render.NoChanges) && !strings.Contains(out, `\x1b[H No changes.`) {
			t.Errorf("%s: says No changes:\n%s", format, out)
		}
		if !strings.Contains(out, "Plan: 1 to add, 2 to change, 0 to destroy.") {
			t.Errorf("%s: the summary is missing:\n%s", format, out)
		}
		for _, c := range doc.ResourceChanges {
			kind, key, _ := strings.Cut(c.Address, ".")
			if !strings.Contains(out, kind+` "`+key+`" {`) {
				t.Errorf("%s: change %s is not shown:\n%s", format, c.Address, out)
			}
		}
		unmanaged := `\x1b]0;owned\a No changes.\u200b`
		if format == "markdown" { // the name is escaped as markdown text
			unmanaged = `\\x1b\]0;owned\\a No changes.\\u200b`
		}
		for _, want := range []string{`\x1b[2J\x1b[H No changes.`, `\u202eevil\u2066x\u2069`, `\u009b31m\rdesc\a`, unmanaged} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: %q is not shown escaped:\n%s", format, want, out)
			}
		}
	}
}

// holdsString reports a string equal to want anywhere in v.
func holdsString(v any, want string) bool {
	switch x := v.(type) {
	case string:
		return x == want
	case []any:
		for _, e := range x {
			if holdsString(e, want) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if holdsString(e, want) {
				return true
			}
		}
	}
	return false
}

func TestProgressAndErrorsAreInert(t *testing.T) {
	for _, terminal := range []bool{false, true} {
		var out bytes.Buffer
		p := newProgress(&Env{Stdout: &out, IsTerminal: terminal})
		p.event(applier.Event{Type: applier.EventStart, Address: "codec." + hostileName, Action: plan.Create, Total: 1})
		p.event(applier.Event{Type: applier.EventFailed, Address: "codec." + hostileName, Action: plan.Create, Done: 1, Total: 1,
			Err: errors.New("ns-api error 5: " + hostileDesc)})
		p.finish()
		// The bar's own redraws are the only carriage returns it may write.
		s := strings.ReplaceAll(out.String(), "\r", "")
		terminalSafe(t, "progress", s)
		if !strings.Contains(s, `codec.\x1b[2J`) || !strings.Contains(s, `\u009b31m\rdesc\a`) {
			t.Errorf("progress (terminal %v) does not show the name and error escaped: %q", terminal, out.String())
		}
	}
	// Errors reach stderr inert: a path quoted in an error.
	bad := filepath.Join(t.TempDir(), "\x1b[2J\u202esite.yaml")
	code, stdout, stderr := runEnv(nil, "validate", bad)
	if code != ExitError {
		t.Fatalf("validate of a missing file: exit %d", code)
	}
	terminalSafe(t, "validate's output", stdout+stderr)
	if !strings.Contains(stdout+stderr, `\x1b[2J\u202esite.yaml`) {
		t.Errorf("the path is not shown escaped:\n%s%s", stdout, stderr)
	}
}

func TestStatusTextIsInert(t *testing.T) {
	doc := &StatusDoc{GatewayEUI: "24E124FFFEF5A6A8", Tasks: []StatusTask{{Name: hostileName, Firmware: hostileOther, Status: nsapi.TaskFailed,
		Devices: []StatusDevice{{DevEUI: "24E1241234567890", Name: hostileDesc, Failed: true}}}}}
	var b bytes.Buffer
	writeStatusText(&b, doc, false)
	terminalSafe(t, "status", b.String())
	if !strings.Contains(b.String(), `Task \x1b[2J\x1b[H No changes.`) || !strings.Contains(b.String(), `\u009b31m\rdesc\a`) {
		t.Errorf("status does not show the names escaped:\n%s", b.String())
	}
}
