package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gwsync/gwsync/gwsim"
)

const runningSite = `version: 1
gateway:
  eui: 24E124FFFEF5F0D2
connection:
  broker: %s
prune: true
profiles:
  - name: WT201-ClassC
    supportsJoin: true
    supportsClassC: true
deviceDefaults: {application: cloud, profile: WT201-ClassC}
devices:
  - {devEUI: '24E1247151230001', name: wt201-hall, appKey: "${env:K1}"}
`

const runningTask = `firmwareUpdates:
  - name: wt201-v1.5
    description: %s
    startAt: %s
    devices: ['24E1247151230001']
    firmwareFile: WT201-v1.5.bin
    fragment: {size: 88, intervalMs: 1000, redundancy: 0}
    multicast: {dr: 3, frequency: 869525000}
`

// TestRunningTaskDay2 runs the day-2 changes of a running FUOTA task on a
// simulated gateway whose clock the test moves: drift on the running task
// is a held change that plan --detailed-exitcode reports (exit 2); a task
// removed from the site is stopped with a plan saved with --stop-task,
// applied without repeating the flag, and ends gone, not re-created.
func TestRunningTaskDay2(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	_, srv := serveGwsim(t, gwsim.Options{EUI: "24E124FFFEF5F0D2", StatePath: filepath.Join(dir, "gw.json"), Now: clock})
	if err := os.WriteFile(filepath.Join(dir, "WT201-v1.5.bin"), bytes.Repeat([]byte{0x5a}, 1760), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	write := func(name, task string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(fmt.Sprintf(runningSite, srv.URL())+task), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	env := map[string]string{"K1": "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "NO_COLOR": "1", "TMPDIR": t.TempDir()}
	site1 := write("site1.yaml", fmt.Sprintf(runningTask, "first", start.Format(time.RFC3339)))
	if code, out, errOut := runEnv(env, "apply", site1, "--auto-approve"); code != ExitOK {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	mu.Lock()
	now = start.Add(2 * time.Second) // the gateway starts the task: waiting
	mu.Unlock()

	// Drift: the site changes the running task.
	site2 := write("site2.yaml", fmt.Sprintf(runningTask, "second", start.Format(time.RFC3339)))
	code, out, errOut := runEnv(env, "plan", site2, "--detailed-exitcode")
	if code != ExitChanges {
		t.Errorf("plan --detailed-exitcode with a running task that differs from the site: exit %d, want 2\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"held: task wt201-v1.5 is waiting and differs from the site (description)", "No changes can be made now: the gateway differs from the site where a change is held (see Notes)."} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}

	// The task leaves the site: prune holds it while it runs ...
	site3 := write("site3.yaml", "")
	if code, out, errOut := runEnv(env, "plan", site3, "--detailed-exitcode"); code != ExitChanges || !strings.Contains(out, "held: task wt201-v1.5 is waiting and not in the site") {
		t.Errorf("plan of a running task removed from the site: exit %d, want 2 and a held note\n%s\n%s", code, out, errOut)
	}
	// ... until --stop-task names it, in a saved plan applied as saved.
	saved := filepath.Join(dir, "stop.json")
	if code, out, errOut := runEnv(env, "plan", site3, "--stop-task", "wt201-v1.5", "--out", saved); code != ExitOK || !strings.Contains(out, "Plan: 0 to add, 0 to change, 1 to destroy.") {
		t.Fatalf("plan --stop-task: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runEnv(env, "apply", saved, "--auto-approve")
	if code != ExitOK || !strings.Contains(out, "Verified") {
		t.Fatalf("apply of the saved --stop-task plan: exit %d, want 0\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := runEnv(env, "status", site3); code != ExitOK || !strings.Contains(out, "0 FUOTA tasks") {
		t.Errorf("status after the stop: exit %d, want no task left\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := runEnv(env, "plan", site3, "--detailed-exitcode"); code != ExitOK {
		t.Errorf("plan after the stop: exit %d, want 0\n%s\n%s", code, out, errOut)
	}
}
