package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gwsync/gwsync/gwsim"
	"github.com/gwsync/gwsync/nsapi"
)

// runEnv runs gwsync in-process with env as its environment.
func runEnv(env map[string]string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = Run(&Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] }}, args)
	return code, out.String(), errb.String()
}

// campaignEUI is the simulated gateway's EUI: its own, so that apply's
// lock (one a gateway) is not shared with other tests.
const campaignEUI = "24E124FFFEF5F07A"

const campaignSite = `version: 1
gateway:
  eui: 24E124FFFEF5F07A
connection:
  broker: %s
profiles:
  - name: WT201-ClassC
    supportsJoin: true
    supportsClassC: true
deviceDefaults: {application: cloud, profile: WT201-ClassC}
devices:
  - {devEUI: 24E1247151230001, name: wt201-hall, appKey: "${env:K1}"}
  - {devEUI: 24E1247151230002, name: wt201-office, appKey: "${env:K2}"}
  - {devEUI: 24E1247151230003, name: wt201-lobby, appKey: "${env:K3}"}
firmwareUpdates:
  - name: wt201-v1.5
    startAt: %s
    devices: [24E1247151230001, 24E1247151230002, 24E1247151230003]
    firmwareFile: WT201-v1.5.bin
    fragment: {size: 88, intervalMs: 1000, redundancy: 0}
    multicast: {dr: 3, frequency: 869525000}
`

// TestFuotaCampaignOnGwsim runs a campaign end to end with gwsync's own
// commands on a simulated gateway whose clock the test drives: apply
// creates the task, status --watch follows it to its end with one device
// failing (exit 1, the device and its session statuses named), retry is
// refused while the task runs and then retries the failed device, and a
// second watch ends with every device upgraded (exit 0) and the site
// planning empty.
func TestFuotaCampaignOnGwsim(t *testing.T) {
	t.Parallel() // its own gateway EUI, broker and folder; the environment is runEnv's
	dir := t.TempDir()
	// The gateway's clock stands still but for a step of gateway time after
	// every read of a task's devices, the last read of each of a watch's
	// polls: every watch sees each stage of the campaign (the shortest,
	// sending fragments, lasts 20 s: four steps) however slow the machine,
	// and nothing waits for the gateway's time to pass.
	const step = 5 * time.Second
	var clock atomic.Int64 // the gateway's time, in Unix nanoseconds
	clock.Store(time.Now().UnixNano())
	g, srv := serveGwsim(t, gwsim.Options{EUI: campaignEUI, StatePath: filepath.Join(dir, "gw.json"),
		Now: func() time.Time { return time.Unix(0, clock.Load()) },
		Logf: func(format string, args ...any) {
			if strings.HasPrefix(fmt.Sprintf(format, args...), "gwsim: GET /api/fuota/devices?") {
				clock.Add(int64(step))
			}
		}})

	// 1760 bytes: 20 fragments, one a second, 20 s of gateway time; with
	// set-up and the three reports a run takes 170 s, 34 polls of a watch.
	if err := os.WriteFile(filepath.Join(dir, "WT201-v1.5.bin"), bytes.Repeat([]byte{0x5a}, 1760), 0o644); err != nil {
		t.Fatal(err)
	}
	// The start is far enough ahead for plan and apply to take their time
	// (it must be in the future); the gateway's clock is moved to it below.
	start := time.Now().Add(10 * time.Minute).UTC().Truncate(time.Second)
	sitePath := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(sitePath, []byte(fmt.Sprintf(campaignSite, srv.URL(), start.Format(time.RFC3339))), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"K1": "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "K2": "a1b2c3d4e5f60718293a4b5c6d7e8f90",
		"K3": "11223344556677889900aabbccddeeff", "NO_COLOR": "1"}

	g.FailFuotaDevice("24E1247151230002", true)
	code, out, errOut := runEnv(env, "plan", sitePath)
	if code != ExitOK || !strings.Contains(out, "estimate: 1760-byte firmware in 20 fragments of 88 bytes") {
		t.Fatalf("plan: exit %d, want the estimate in its notes:\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut = runEnv(env, "apply", sitePath, "--auto-approve"); code != ExitOK {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}

	// Retry is for a task that has failed: refused while it is pending.
	code, _, errOut = runEnv(env, "fuota", "retry", "wt201-v1.5", "--site", sitePath)
	if code != ExitError || !strings.Contains(errOut, "task wt201-v1.5 is pending") {
		t.Errorf("retry of a pending task: exit %d, want 1 and a refusal naming its status:\n%s", code, errOut)
	}

	// The gateway's clock a second before the start: the watch's first
	// poll finds the task pending, and its steps then run the campaign.
	clock.Store(start.Add(-time.Second).UnixNano())
	code, out, errOut = runEnv(env, "status", sitePath, "--watch", "--interval", "1ms", "--watch-timeout", "1m")
	if code != ExitError {
		t.Fatalf("status --watch of a campaign with a failing device: exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"Task wt201-v1.5 (id 1): pending, 0 of 3 devices done",
		"sending fragments",
		"Task wt201-v1.5 (id 1): upgrade failed, 2 of 3 devices done, 1 failed",
		"24E1247151230002  wt201-office  upgrade failed   session complete   upgrade failed  ← failed",
		"24E1247151230001  wt201-hall    upgrade success  session complete   upgrade complete",
		"Task wt201-v1.5 failed: retry its failed devices with gwsync fuota retry wt201-v1.5",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status --watch lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "█") || strings.Contains(out, "\x1b[") {
		t.Errorf("status --watch drew bars or escapes on a pipe:\n%s", out)
	}

	code, out, _ = runEnv(env, "status", sitePath, "--format", "json")
	var doc StatusDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != ExitError {
		t.Fatalf("status --format json: exit %d, %v:\n%s", code, err, out)
	}
	if len(doc.Tasks) != 1 || !doc.Ended || !doc.Failed || doc.Tasks[0].FailedCount != 1 {
		t.Fatalf("status json: %+v", doc)
	}
	if d := doc.Tasks[0].Devices[1]; d.DevEUI != "24E1247151230002" || d.StatusName != "upgrade failed" ||
		d.FragmentSessionStatus != 10 || d.FragmentSessionStatusName != "upgrade failed" || !d.Failed {
		t.Errorf("status json, the failed device: %+v", d)
	}

	// --devices must name failed devices of the task.
	code, _, errOut = runEnv(env, "fuota", "retry", "wt201-v1.5", "--site", sitePath, "--devices", "24E1247151230001")
	if code != ExitError || !strings.Contains(errOut, "--devices 24E1247151230001: the device has not failed in task wt201-v1.5 (failed: 24E1247151230002)") {
		t.Errorf("retry of a device that did not fail: exit %d\n%s", code, errOut)
	}
	g.FailFuotaDevice("24E1247151230002", false)
	code, out, errOut = runEnv(env, "fuota", "retry", "wt201-v1.5", "--site", sitePath, "--devices", "24e1247151230002")
	if code != ExitOK || !strings.Contains(out, "Retrying task wt201-v1.5 (id 1) for 1 failed device: 24E1247151230002.") {
		t.Fatalf("retry: exit %d\n%s\n%s", code, out, errOut)
	}

	code, out, errOut = runEnv(env, "status", sitePath, "--watch", "--interval", "1ms", "--watch-timeout", "1m")
	if code != ExitOK || !strings.Contains(out, "Task wt201-v1.5 (id 1): upgrade success, 3 of 3 devices done") || strings.Contains(out, "failed") {
		t.Fatalf("status --watch after the retry: exit %d, want 0 and every device done:\n%s\n%s", code, out, errOut)
	}
	// A watch of ended tasks reads once; as JSON, one document a line.
	code, out, _ = runEnv(env, "status", sitePath, "--watch", "--format", "json", "--interval", "1ms")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); code != ExitOK || len(lines) != 1 ||
		json.Unmarshal([]byte(lines[0]), &doc) != nil || !doc.Ended || doc.Failed || doc.Tasks[0].DoneDevices != 3 {
		t.Errorf("status --watch --format json of ended tasks: exit %d:\n%s", code, out)
	}
	if code, out, errOut = runEnv(env, "plan", sitePath, "--detailed-exitcode"); code != ExitOK {
		t.Errorf("plan after the campaign: exit %d, want 0 (no changes)\n%s\n%s", code, out, errOut)
	}
}

// TestStatusNames: every code of the spec's session status tables (6.11)
// has a name, and the failure codes are exactly the failures.
func TestStatusNames(t *testing.T) {
	for c := int64(0); c <= 13; c++ {
		if n := tableName(multicastSessionNames, c); n == "" || strings.HasPrefix(n, "unknown status") {
			t.Errorf("multicast session status %d: name %q", c, n)
		}
	}
	for c := int64(0); c <= 16; c++ {
		if n := tableName(fragmentSessionNames, c); n == "" || strings.HasPrefix(n, "unknown status") {
			t.Errorf("fragment session status %d: name %q", c, n)
		}
	}
	if n := tableName(fragmentSessionNames, 17); n != "unknown status 17" {
		t.Errorf("fragment session status 17: %q", n)
	}
	for _, c := range []struct {
		mc, frag, status int64
		failed           bool
	}{
		{0, 0, 0, false}, {5, 12, 2, false}, {5, 13, 3, false},
		{6, 0, 2, true},   // group set-up timeout
		{10, 0, 2, true},  // frequency not supported
		{5, 4, 2, true},   // fragment set-up timeout
		{5, 9, 2, true},   // lack of fragments
		{5, 14, 2, true},  // upgrade timeout
		{5, 13, 4, true},  // the device's own status
		{5, 16, 2, true},  // unknown error
		{4, 3, 2, false},  // sending fragments
		{3, 2, 2, false},  // session ready
		{1, 0, 1, false},  // setting up
		{2, 1, 1, false},  // setting up the fragment session
		{5, 12, 2, false}, // complete, report pending
	} {
		d := nsapi.FuotaDevice{MulticastSessionStatus: nsapi.FlexInt(c.mc), FragmentSessionStatus: nsapi.FlexInt(c.frag), Status: nsapi.FlexInt(c.status)}
		if got := deviceFailed(&d); got != c.failed {
			t.Errorf("multicast %d, fragment %d, status %d: failed %v, want %v", c.mc, c.frag, c.status, got, c.failed)
		}
	}
}

// TestStatusBarsOnATerminal: a terminal gets a progress bar per task.
func TestStatusBarsOnATerminal(t *testing.T) {
	doc := &StatusDoc{Tasks: []StatusTask{{ID: 1, Name: "t", StatusName: "executing", Progress: 0.5, TotalDevices: 1,
		Devices: []StatusDevice{{DevEUI: "24E1247151230001", StatusName: "executing", MulticastSessionStatusName: "session processing", FragmentSessionStatusName: "sending fragments"}}}}}
	var b bytes.Buffer
	writeStatusText(&b, doc, true)
	if want := "[" + strings.Repeat("█", 15) + strings.Repeat("░", 15) + "]  50%"; !strings.Contains(b.String(), want) {
		t.Errorf("want the bar %q:\n%s", want, b.String())
	}
	b.Reset()
	writeStatusText(&b, doc, false)
	if strings.Contains(b.String(), "█") {
		t.Errorf("a bar without a terminal:\n%s", b.String())
	}
}

// serveGwsim runs a simulated gateway with opts on an embedded broker of
// its own, on the default topics, until the test ends.
func serveGwsim(t *testing.T, opts gwsim.Options) (*gwsim.Gateway, *gwsim.Server) {
	t.Helper()
	g, err := gwsim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	srv, err := gwsim.ServeEmbedded(ctx, g, "127.0.0.1:0", DefaultRequestTopic, DefaultResponseTopic)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return g, srv
}
