package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gwsync/gwsync/gwsim"
)

// lockHolder is the raw lock record's decoderScript, "" when none.
func (a *advGW) lockHolder(t *testing.T) string {
	t.Helper()
	for _, c := range asList(a.raw(t)["codecs"]) {
		if c["name"] == "gwsync-lock" {
			s, _ := c["decoderScript"].(string)
			return s
		}
	}
	return ""
}

// rollbackWrites are the write requests a rollback sent among seq: an
// undo (every delete: the applies here only create), or a lock record of
// a rollback (its create, refused or not, or a takeover).
func rollbackWrites(seq []rawReq) []rawReq {
	var out []rawReq
	for _, r := range seq {
		if r.Method == "DELETE" || strings.Contains(r.Body, `\"cmd\":\"rollback\"`) {
			out = append(out, r)
		}
	}
	return out
}

// advRollbackCopyOfLiveApply: machine A applies, slowly; machine B holds a
// copy of A's journal (a CI artifact uploaded while the job still ran) and
// runs gwsync rollback from it. While A is alive, its lease is renewed:
// B watches the lock, sees it renewed, and is refused without one write
// beyond the create of the lock the gateway refuses; A's apply completes.
// Once A is killed with SIGKILL, B's rollback waits out the lease and then
// takes the lock over and rolls A's apply back. In A's own checkout, the
// rollback of an apply killed there takes the lock over without waiting.
func advRollbackCopyOfLiveApply(t *testing.T) {
	const n = 4
	const lease = "GWSYNC_LOCK_LEASE=3s" // four renewals a watch: margin for a loaded machine
	gw := newAdvGW(t, gwsim.Options{})
	a := advMachine(t, gw, "a", advSite(gw.eui, n, "first", ""))
	a.env = append(a.env, lease)
	a.run(t, 0, "apply", "site.yaml", "--auto-approve")
	b := advMachine(t, gw, "b", advSite(gw.eui, n, "first", ""))
	b.env = append(b.env, lease)
	journalA, journalB := filepath.Join(a.dir, ".gwsync"), filepath.Join(b.dir, ".gwsync")

	// startApply starts A's apply of a site of more devices, only creates,
	// slowed down; it returns once A has written, its journal there.
	startApply := func(devices int, delay time.Duration) (*bytes.Buffer, *exec.Cmd) {
		t.Helper()
		site := advSite(gw.eui, devices, "first", "")
		a.writeSite(t, site)
		b.writeSite(t, site)
		gw.g.Faults().SetDelay(delay, 0)
		var out bytes.Buffer
		cmd := a.cmd("apply", "site.yaml", "--auto-approve", "--parallelism", "1")
		cmd.Stdout, cmd.Stderr = &out, &out
		w := gw.writeCount()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(time.Minute)
		for gw.writeCount()-w < 2 {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("the apply never wrote:\n%s", out.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
		return &out, cmd
	}

	// 1. A alive: B is refused, and writes nothing.
	aOut, aCmd := startApply(n+60, 80*time.Millisecond)
	copyDir(t, journalA, journalB)
	reqs := watchRequests(t, gw)
	holder := gw.lockHolder(t)
	code, out := b.runCode(t, "rollback", "site.yaml")
	reqs.mu.Lock()
	seq := append([]rawReq(nil), reqs.seq...)
	reqs.mu.Unlock()
	still := gw.lockHolder(t)
	aCode := waitExit(t, aCmd)
	gw.g.Faults().SetDelay(0, 0)
	if code != 1 || !strings.Contains(out, "alive") || !strings.Contains(out, "renewed") || !strings.Contains(out, "user: a") ||
		!strings.Contains(out, "gwsync unlock") || !strings.Contains(out, "nothing was written") {
		t.Errorf("rollback from a copy of a live apply's journal: exit %d, want 1, naming the holder, its renewal and the ways forward:\n%s", code, out)
	}
	if w := rollbackWrites(seq); len(w) != 1 || w[0].Method != "POST" {
		t.Errorf("the refused rollback sent %d writes, want only the create of its lock record (refused): %+v", len(w), w)
	}
	if !strings.Contains(holder, `"cmd":"apply"`) || !strings.Contains(still, `"cmd":"apply"`) || still == holder {
		t.Errorf("the lock record before B's rollback:\n%s\nafter it:\n%s\nwant A's, renewed meanwhile", holder, still)
	}
	if aCode != 0 {
		t.Fatalf("A's apply, with B's rollback refused beside it: exit %d:\n%s\n--- B:\n%s", aCode, aOut.String(), out)
	}
	if d := holds(gw.raw(t), readSiteWant(t, advSite(gw.eui, n+60, "first", ""))); d != "" {
		t.Errorf("the gateway after A's apply:\n%s", d)
	}
	if gw.locked(t) {
		t.Error("A's apply left its lock")
	}

	// 2. A killed: B's rollback from its copy waits out the lease, then
	// takes the lock over and rolls A's apply back.
	if err := os.RemoveAll(journalB); err != nil {
		t.Fatal(err)
	}
	before := gw.rawNorm(t)
	aOut, aCmd = startApply(n+68, 40*time.Millisecond)
	copyDir(t, journalA, journalB)
	killAt := time.Now()
	if err := aCmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, aCmd); code != -1 {
		t.Fatalf("A's apply: exit %d, want killed:\n%s", code, aOut.String())
	}
	gw.g.Faults().SetDelay(0, 0)
	if gw.writeCount() == 0 || !gw.locked(t) {
		t.Fatal("the killed apply left no lock")
	}
	code, out = b.runCode(t, "rollback", "site.yaml")
	if code != 0 || !strings.Contains(out, "Rollback complete") || !strings.Contains(out, "watching its record") {
		t.Errorf("rollback from a copy after A was killed: exit %d, want 0 after watching the lock:\n%s", code, out)
	}
	if el := time.Since(killAt); el < 3*time.Second {
		t.Errorf("the lock was taken over %s after the kill, within the lease", el)
	}
	if d := cmp.Diff(before, gw.rawNorm(t)); d != "" {
		t.Errorf("the gateway after B's rollback differs from before A's apply (-before +after):\n%s", d)
	}
	if gw.locked(t) {
		t.Error("B's rollback left a lock")
	}

	// 3. In A's own checkout, with a long lease: the rollback of an apply
	// killed there does not wait (its journal file, on its host, and the
	// RunFile free: that apply's process is gone).
	// A's journal of the apply B rolled back is stale: gone.
	if err := os.RemoveAll(journalA); err != nil {
		t.Fatal(err)
	}
	a.env = append(a.env, "GWSYNC_LOCK_LEASE=10m")
	before = gw.rawNorm(t)
	aOut, aCmd = startApply(n+76, 40*time.Millisecond)
	if err := aCmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, aCmd); code != -1 {
		t.Fatalf("A's apply: exit %d, want killed:\n%s", code, aOut.String())
	}
	gw.g.Faults().SetDelay(0, 0)
	code, out = a.runCode(t, "rollback", "site.yaml")
	if code != 0 || strings.Contains(out, "watching") {
		t.Errorf("rollback in the killed apply's checkout: exit %d, want 0 without a watch:\n%s", code, out)
	}
	if d := cmp.Diff(before, gw.rawNorm(t)); d != "" {
		t.Errorf("the gateway after A's rollback differs from before its apply (-before +after):\n%s", d)
	}
}
