//go:build unix

package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runWithin runs gwsync with args, failing the test if it takes longer
// than limit (a named pipe blocked it, or /dev/zero is being read).
func runWithin(t *testing.T, limit time.Duration, args ...string) (int, string) {
	t.Helper()
	type res struct {
		code int
		out  string
	}
	ch := make(chan res, 1)
	go func() {
		var stdout, stderr bytes.Buffer
		code := Main(args, nil, &stdout, &stderr)
		ch <- res{code, stdout.String() + stderr.String()}
	}()
	select {
	case r := <-ch:
		return r.code, r.out
	case <-time.After(limit):
		t.Fatalf("gwsync %s: still running after %v", strings.Join(args, " "), limit)
		return 0, ""
	}
}

// TestHostileFilesGiven: /dev/zero and a named pipe given as every kind
// of file a command reads end the command at once with an error naming
// the file and what it is, before anything is sent.
func TestHostileFilesGiven(t *testing.T) {
	t.Setenv("GWSYNC_BROKER", "")
	t.Setenv("GWSYNC_PASSWORD", "")
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	site := filepath.Join(planCases, "steady", "site.yaml")
	state := filepath.Join(planCases, "steady", "state.json")
	for _, f := range []struct{ path, what string }{{"/dev/zero", "a character device"}, {fifo, "a named pipe"}} {
		for _, args := range [][]string{
			{"validate", f.path},
			{"plan", f.path, "--state", state},
			{"plan", site, "--state", f.path},
			{"plan", site, "--state", state, "--env-file", f.path},
			{"apply", f.path, "--auto-approve", "--broker", "tcp://127.0.0.1:1"},
			{"show", f.path},
			{"plan", site, "--broker", "ssl://127.0.0.1:1", "--ca-file", f.path, "--timeout", "2s"},
			{"plan", site, "--broker", "ssl://127.0.0.1:1", "--cert-file", f.path, "--key-file", f.path, "--timeout", "2s"},
		} {
			code, out := runWithin(t, 10*time.Second, args...)
			if code == ExitOK || !strings.Contains(out, f.path) || !strings.Contains(out, f.what) {
				t.Errorf("gwsync %s: exit %d, want an error naming %s as %s:\n%s", strings.Join(args, " "), code, f.path, f.what, out)
			}
		}
	}
}

// TestCapsRaisedFromTheEnvironment: a file over its cap is refused with
// the variable that raises it, and raising it lets it through.
func TestCapsRaisedFromTheEnvironment(t *testing.T) {
	t.Setenv("GWSYNC_BROKER", "")
	t.Setenv("GWSYNC_PASSWORD", "")
	dir := t.TempDir()
	env := filepath.Join(dir, "keys.env")
	if err := os.WriteFile(env, []byte(strings.Repeat("# a comment line\n", 100_000)+"A=b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	site := filepath.Join(planCases, "steady", "site.yaml")
	state := filepath.Join(planCases, "steady", "state.json")
	args := []string{"plan", site, "--state", state, "--env-file", env}
	code, out := runWithin(t, 20*time.Second, args...)
	if code != ExitError || !strings.Contains(out, "GWSYNC_MAX_ENV_FILE_BYTES") || !strings.Contains(out, env) {
		t.Fatalf("an env file over the cap: exit %d:\n%s", code, out)
	}
	t.Setenv("GWSYNC_MAX_ENV_FILE_BYTES", "4MiB")
	if code, out := runWithin(t, 20*time.Second, args...); code != ExitOK {
		t.Fatalf("with the cap raised: exit %d:\n%s", code, out)
	}
	t.Setenv("GWSYNC_MAX_ENV_FILE_BYTES", "lots")
	if code, out := runWithin(t, 20*time.Second, args...); code != ExitError || !strings.Contains(out, "GWSYNC_MAX_ENV_FILE_BYTES") {
		t.Fatalf("a cap that is no size: exit %d:\n%s", code, out)
	}
}

// TestPlanCommentHoldsNoOutsideFile: a site whose codec is the process's
// environment, by absolute path or through a symbolic link, is refused by
// every command that reads the site, with the line that names it, and the
// environment's secret never reaches the output (the plan comment).
func TestPlanCommentHoldsNoOutsideFile(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs /proc")
	}
	const secret = "Hunter2-runner-secret"
	t.Setenv("GWSYNC_TEST_RUNNER_SECRET", secret)
	t.Setenv("GWSYNC_BROKER", "")
	t.Setenv("GWSYNC_PASSWORD", "")
	state := filepath.Join(planCases, "steady", "state.json")
	for ref, rule := range map[string]string{"/proc/self/environ": "an absolute path", "codecs/env.js": "a symbolic link"} {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, "codecs"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/proc/self/environ", filepath.Join(dir, "codecs", "env.js")); err != nil {
			t.Fatal(err)
		}
		site := filepath.Join(dir, "site.yaml")
		text := "version: 1\ngateway: {eui: '24E124FFFEF5A6A8', channelPlan: EU868}\ncodecs:\n  - name: leak\n    decoderFile: " + ref + "\n"
		if err := os.WriteFile(site, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{
			{"validate", site},
			{"plan", site, "--state", state, "--format", "markdown"},
			{"plan", site, "--state", state, "--format", "json"},
			{"apply", site, "--auto-approve", "--broker", "tcp://127.0.0.1:1", "--timeout", "2s"},
			{"export", site, "--out", "-", "--broker", "tcp://127.0.0.1:1", "--timeout", "2s"},
		} {
			code, out := runWithin(t, 20*time.Second, args...)
			if strings.Contains(out, secret) {
				t.Errorf("gwsync %s: the runner's environment is in the output", strings.Join(args, " "))
			}
			if args[0] == "export" {
				// export reads the site for its connection only: its
				// codecs are not read, and it cannot reach the broker.
				continue
			}
			if code == ExitOK || !strings.Contains(out, "site.yaml:5:18") || !strings.Contains(out, rule) {
				t.Errorf("gwsync %s: exit %d, want the refusal at site.yaml:5:18 (%s):\n%s", strings.Join(args, " "), code, rule, out)
			}
		}
	}
}
