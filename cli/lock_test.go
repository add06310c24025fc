package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gwsync/gwsync/applier"
	"github.com/gwsync/gwsync/internal/reserved"
	"github.com/gwsync/gwsync/site"
)

// checkout writes a site for the simulated gateway gw into a new folder:
// a fresh clone, without .gwsync.
func checkout(t *testing.T, gw, codecs string, prune bool) string {
	t.Helper()
	dir := t.TempDir()
	p := "false"
	if prune {
		p = "true"
	}
	body := "version: 1\ngateway:\n  eui: 24E124FFFEF5A6A8\n  channelPlan: EU868\nconnection:\n  broker: sim://" + gw + "\nprune: " + p + "\ncodecs:\n" + codecs
	if err := os.WriteFile(filepath.Join(dir, "site.yaml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "site.yaml")
}

// simCodecs reads the codecs the simulated gateway's state file holds,
// codecJson included (no read over the API returns it).
func simCodecs(t *testing.T, gw string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(gw)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Codecs []struct {
			Name      string `json:"name"`
			CodecJSON string `json:"codecJson"`
		} `json:"codecs"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, c := range st.Codecs {
		out[c.Name] = c.CodecJSON
	}
	return out
}

const codecA = "  - name: em300\n    decoderScript: function Decode() { return 1; }\n    codecJson: '{\"t\":\"a\"}'\n"

// TestCodecJSONFromAFreshClone: a change of codecJson alone plans as a
// change from a checkout that never applied (every CI run), an unchanged
// one plans none; a codecJson the site does not declare is never sent;
// prune leaves gwsync's own records.
func TestCodecJSONFromAFreshClone(t *testing.T) {
	gw := filepath.Join(t.TempDir(), "gw.json")
	first := checkout(t, gw, codecA, true)
	if code, out, errOut := runMain(t, "apply", first, "--auto-approve"); code != ExitOK {
		t.Fatalf("first apply: exit %d\n%s%s", code, out, errOut)
	}
	if got, ok := simCodecs(t, gw), false; got["em300"] != `{"t":"a"}` || func() bool { _, ok = got[reserved.StateCodec]; return !ok }() {
		t.Fatalf("after the first apply the gateway holds %v", got)
	}

	// A fresh clone, the same site: no changes, prune keeps the records.
	same := checkout(t, gw, codecA, true)
	if code, out, errOut := runMain(t, "plan", same, "--detailed-exitcode"); code != ExitOK || !strings.Contains(out, "No changes") {
		t.Errorf("unchanged site from a fresh clone: exit %d\n%s%s", code, out, errOut)
	}

	// A fresh clone that changes codecJson alone.
	changed := checkout(t, gw, strings.Replace(codecA, `"a"`, `"b"`, 1), true)
	code, out, errOut := runMain(t, "plan", changed, "--detailed-exitcode")
	if code != ExitChanges || !strings.Contains(out, `codec "em300"`) || !strings.Contains(out, "codecJson differs from the one gwsync last wrote") {
		t.Fatalf("codecJson changed, from a fresh clone: exit %d, want 2 and an update\n%s%s", code, out, errOut)
	}
	if strings.Contains(out, reserved.StateCodec) || strings.Contains(out, reserved.LockCodec) {
		t.Errorf("the plan shows gwsync's own records:\n%s", out)
	}
	if code, out, errOut := runMain(t, "apply", changed, "--auto-approve"); code != ExitOK {
		t.Fatalf("apply of the codecJson change: exit %d\n%s%s", code, out, errOut)
	}
	if got := simCodecs(t, gw)["em300"]; got != `{"t":"b"}` {
		t.Errorf("codecJson on the gateway: %q, want the site's", got)
	}
	// The first checkout, whose cache says "a", sees the change too.
	if code, out, errOut := runMain(t, "plan", first, "--detailed-exitcode"); code != ExitChanges || !strings.Contains(out, `codec "em300"`) {
		t.Errorf("the first checkout after another wrote: exit %d, want 2\n%s%s", code, out, errOut)
	}

	// A site that does not declare codecJson changes the script: the
	// gateway keeps its codecJson.
	undeclared := checkout(t, gw, "  - name: em300\n    decoderScript: function Decode() { return 2; }\n", true)
	if code, out, errOut := runMain(t, "apply", undeclared, "--auto-approve"); code != ExitOK {
		t.Fatalf("apply without codecJson: exit %d\n%s%s", code, out, errOut)
	}
	got := simCodecs(t, gw)
	if got["em300"] != `{"t":"b"}` {
		t.Errorf("an undeclared codecJson was sent: the gateway holds %q, want %q kept", got["em300"], `{"t":"b"}`)
	}
	if _, ok := got[reserved.StateCodec]; !ok {
		t.Errorf("prune deleted gwsync's record %s: %v", reserved.StateCodec, keys(got))
	}
	if _, ok := got[reserved.LockCodec]; ok {
		t.Errorf("the lock is still held after the applies ended: %v", keys(got))
	}
	// Export does not show gwsync's records as the user's.
	exp := filepath.Join(t.TempDir(), "export.yaml")
	if code, out, errOut := runMain(t, "export", "--broker", "sim://"+gw, "--out", exp); code != ExitOK {
		t.Fatalf("export: exit %d\n%s%s", code, out, errOut)
	}
	// By name, not by "gwsync-": the sim:// path of the connection holds
	// the temporary directory, whose name is the machine's.
	if b, _ := os.ReadFile(exp); strings.Contains(string(b), reserved.StateCodec) || strings.Contains(string(b), reserved.LockCodec) || !strings.Contains(string(b), "em300") {
		t.Errorf("export:\n%s", b)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestUnlock: a lock left on the gateway is shown and broken with
// --force; a second unlock finds none.
func TestUnlock(t *testing.T) {
	gw := filepath.Join(t.TempDir(), "gw.json")
	sitePath := checkout(t, gw, codecA, false)
	cl, closer, err := connect(context.Background(), envOf(nil), ConnFlags{Broker: "sim://" + gw}, nil, site.Gateway{EUI: "24E124FFFEF5A6A8"})
	if err != nil {
		t.Fatal(err)
	}
	rec := applier.NewLockRecord(func(k string) string {
		return map[string]string{"USER": "ci", "CI_JOB_URL": "https://ci.example/jobs/7"}[k]
	}, "apply", "sites/x", "sha256:feed")
	if _, err := applier.AcquireLock(context.Background(), cl, rec, applier.LockOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := closer(); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runMain(t, "apply", sitePath, "--auto-approve")
	if code != ExitError || !strings.Contains(errOut, "https://ci.example/jobs/7") || strings.Contains(out, "creating") {
		t.Errorf("apply under a held lock: exit %d, want 1 naming the holder\n%s%s", code, out, errOut)
	}
	code, out, errOut = runMain(t, "plan", sitePath, "--format", "markdown")
	if code != ExitOK || !strings.Contains(out, "> **Warning:** the gateway's lock is held by apply by ci&#64;") || !strings.Contains(out, "(https://ci.example/jobs/7)") ||
		!strings.Contains(errOut, "Warning: the gateway's lock is held by apply by ci@") {
		t.Errorf("plan --format markdown under a held lock: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runMain(t, "unlock", sitePath, "--force")
	if code != ExitOK || !strings.Contains(out, "https://ci.example/jobs/7") || !strings.Contains(out, "Lock broken.") {
		t.Fatalf("unlock --force: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, _ := runMain(t, "unlock", sitePath); code != ExitOK || !strings.Contains(out, "not locked") {
		t.Errorf("second unlock: exit %d\n%s", code, out)
	}
	if code, out, errOut := runMain(t, "apply", sitePath, "--auto-approve"); code != ExitOK {
		t.Errorf("apply after unlock: exit %d\n%s%s", code, out, errOut)
	}
}
