package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestSimFailFuotaDevices: gwsync sim --fail-fuota-devices makes the named
// devices fail their upgrade, so that a user's CI can run its retry flow:
// apply creates the task, status ends with exit 1 naming the failed device
// (and only it), and fuota retry takes the failed task.
func TestSimFailFuotaDevices(t *testing.T) {
	t.Parallel() // its own simulator, gateway EUI and folders; the environment is runEnv's
	const eui = "24E124FFFEF5F0FA"
	dir := t.TempDir()
	re := regexp.MustCompile(`^gwsim: gateway \S+ \(\S+\) on (tcp://127\.0\.0\.1:\d+),`)
	// The simulator's clock runs with the machine's, ahead by what the
	// test sets: once apply has made the task, the clock is moved to its
	// start rather than waited for.
	var ahead atomic.Int64
	url, _, _, _ := startSimWith(t, re, func(c *SimCmd) {
		c.now = func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	}, "--state", filepath.Join(dir, "gw.json"), "--eui", eui,
		"--time-scale", "1000", "--fail-fuota-devices", "24e1247151230002,24E1247151230009")
	if err := os.WriteFile(filepath.Join(dir, "WT201-v1.5.bin"), bytes.Repeat([]byte{0x5a}, 1760), 0o644); err != nil {
		t.Fatal(err)
	}
	// Far enough ahead for apply to take its time (it must be in the future).
	start := time.Now().Add(10 * time.Minute).UTC().Truncate(time.Second)
	site := strings.Replace(fmt.Sprintf(campaignSite, url, start.Format(time.RFC3339)), campaignEUI, eui, 1)
	site = strings.Replace(site, "connection:\n", "connection:\n  requestTopic: gw/{eui}/req\n  responseTopic: gw/{eui}/resp\n", 1)
	sitePath := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(sitePath, []byte(site), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"K1": "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "K2": "a1b2c3d4e5f60718293a4b5c6d7e8f90",
		"K3": "11223344556677889900aabbccddeeff", "NO_COLOR": "1", "TMPDIR": t.TempDir()}
	if code, out, errOut := runEnv(env, "apply", sitePath, "--auto-approve"); code != ExitOK {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	ahead.Store(int64(time.Until(start)))
	code, out, errOut := runEnv(env, "status", sitePath, "--watch", "--interval", "100ms", "--watch-timeout", "1m")
	if code != ExitError {
		t.Fatalf("status --watch: exit %d, want 1 (a device failed)\n%s\n%s", code, out, errOut)
	}
	failed := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^  (\S+) .*← failed$`).FindAllStringSubmatch(out, -1) {
		failed[m[1]] = true
	}
	if !strings.Contains(out, "24E1247151230002  wt201-office  upgrade failed   session complete   upgrade failed  ← failed") {
		t.Errorf("the failed device's fragment session does not end in 10, upgrade failed (spec 6.11):\n%s", out)
	}
	if len(failed) != 1 || !failed["24E1247151230002"] {
		t.Errorf("failed devices %v, want 24E1247151230002 alone:\n%s", failed, out)
	}
	if code, out, errOut := runEnv(env, "fuota", "retry", "wt201-v1.5", "--site", sitePath); code != ExitOK {
		t.Errorf("retry of the failed task: exit %d\n%s\n%s", code, out, errOut)
	}
}

func TestSimFailFuotaDevicesFlagError(t *testing.T) {
	cmd := parseSimArgs(t, "--state", filepath.Join(t.TempDir(), "gw.json"), "--fail-fuota-devices", "24E12471")
	err := cmd.run(t.Context(), &Env{Stdout: &simBuffer{}, Stderr: &simBuffer{}, Getenv: func(string) string { return "" }})
	if err == nil || !strings.Contains(err.Error(), `"24E12471": want a devEUI of 16 hex digits`) {
		t.Errorf("a malformed EUI: %v", err)
	}
}
