package cli

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gwsync/gwsync/site"
)

// countingListener accepts TCP connections on 127.0.0.1 and closes them,
// counting them: a refused setting must be refused before any dial.
func countingListener(t *testing.T) (addr string, accepted *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted = new(atomic.Int64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	return ln.Addr().String(), accepted
}

func TestInsecureWarnsOnEveryRun(t *testing.T) {
	addr, _ := countingListener(t)
	dir := t.TempDir()
	sitePath := filepath.Join(dir, "site.yaml")
	writeFile(t, sitePath, "version: 1\ngateway: {eui: 24E124FFFEF5A6A8}\nconnection:\n  broker: ssl://"+addr+"\n  insecureSkipVerify: true\n")
	for _, args := range [][]string{
		{"snapshot", "--out", filepath.Join(dir, "s.json"), "--broker", "ssl://" + addr, "--gateway-eui", "24E124FFFEF5A6A8", "--insecure", "--timeout", "1s"},
		{"plan", sitePath, "--timeout", "1s"},
		{"status", sitePath, "--timeout", "1s"},
	} {
		_, _, stderr := runEnv(nil, args...)
		n := strings.Count(stderr, "Warning: the TLS certificate of broker ssl://"+addr+" is not verified")
		if n != 1 {
			t.Errorf("%v: the warning is printed %d times, want once; stderr:\n%s", args, n, stderr)
		}
		if args[0] != "snapshot" && !strings.Contains(stderr, "connection.insecureSkipVerify") {
			t.Errorf("%v: the warning does not name the site's setting:\n%s", args, stderr)
		}
	}
}

func TestForbidInsecureRefusesBeforeDialling(t *testing.T) {
	addr, accepted := countingListener(t)
	dir := t.TempDir()
	sitePath := filepath.Join(dir, "site.yaml")
	writeFile(t, sitePath, "version: 1\ngateway: {eui: 24E124FFFEF5A6A8}\nconnection:\n  broker: ssl://"+addr+"\n  insecureSkipVerify: true\n")
	caSite := filepath.Join(dir, "ca-site.yaml")
	writeFile(t, caSite, "version: 1\ngateway: {eui: 24E124FFFEF5A6A8}\nconnection:\n  broker: ssl://"+addr+"\n  caFile: ca.pem\n")
	clear := filepath.Join(dir, "clear.yaml")
	// 192.0.2.1 (TEST-NET-1) is never dialled: the refusal comes first.
	writeFile(t, clear, "version: 1\ngateway: {eui: 24E124FFFEF5A6A8}\nconnection:\n  broker: tcp://192.0.2.1:1883\n  password: Pw-H4NT-clear\n")
	forbid := map[string]string{"GWSYNC_FORBID_INSECURE": "1"}
	for _, tc := range []struct {
		name string
		vars map[string]string
		args []string
		want string
	}{
		{"flag --insecure, env forbid", forbid, []string{"snapshot", "--out", "-", "--broker", "ssl://" + addr, "--gateway-eui", "24E124FFFEF5A6A8", "--insecure"}, "(--insecure)"},
		{"site insecureSkipVerify, env forbid", forbid, []string{"plan", sitePath}, "connection.insecureSkipVerify"},
		{"site insecureSkipVerify, --forbid-insecure", nil, []string{"apply", sitePath, "--auto-approve", "--forbid-insecure"}, "connection.insecureSkipVerify"},
		{"env forbid with a typo still forbids", map[string]string{"GWSYNC_FORBID_INSECURE": "yes please"}, []string{"status", sitePath}, "not verified"},
		{"site caFile", forbid, []string{"plan", caSite}, "connection.caFile " + filepath.Join(dir, "ca.pem")},
		{"password in clear to another host", forbid, []string{"plan", clear}, "password is sent in clear to broker tcp://192.0.2.1:1883"},
	} {
		code, stdout, stderr := runEnv(tc.vars, tc.args...)
		if code != ExitError || !strings.Contains(stderr, "insecure connection refused") || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr:\n%s\nwant exit 1 and the refusal naming %q", tc.name, code, stderr, tc.want)
		}
		if strings.Contains(stdout+stderr, "H4NT") {
			t.Errorf("%s: the output shows the password", tc.name)
		}
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("the broker was dialled %d times, want 0: the refusal comes before connecting", n)
	}
	// The CI's own --ca-file is allowed under the forbid (no refusal; the
	// connect then fails on the listener that closes at once).
	_, _, stderr := runEnv(forbid, "plan", caSite, "--ca-file", filepath.Join(dir, "ci-ca.pem"), "--timeout", "1s")
	if strings.Contains(stderr, "insecure connection refused") {
		t.Errorf("--ca-file was refused under the forbid:\n%s", stderr)
	}
	if code, _, stderr := runEnv(map[string]string{"GWSYNC_FORBID_INSECURE": "0"}, "snapshot", "--out", "-", "--broker", "ssl://"+addr,
		"--gateway-eui", "24E124FFFEF5A6A8", "--insecure", "--timeout", "1s"); code != ExitError || strings.Contains(stderr, "refused (GWSYNC") || !strings.Contains(stderr, "Warning:") {
		t.Errorf("GWSYNC_FORBID_INSECURE=0: exit %d, stderr:\n%s\nwant a warning and no refusal", code, stderr)
	}
}

func TestCleartextPasswordWarns(t *testing.T) {
	for _, tc := range []struct {
		broker, password string
		warn             bool
	}{
		{"tcp://10.0.0.5:1883", "pw", true},
		{"ws://gateway.lan:8080/mqtt", "pw", true},
		{"mqtt://gateway.lan", "pw", true},
		{"tcp://10.0.0.5:1883", "", false},
		{"tcp://127.0.0.1:1883", "pw", false},
		{"tcp://127.8.9.1:1883", "pw", false},
		{"tcp://[::1]:1883", "pw", false},
		{"tcp://localhost:1883", "pw", false},
		{"ssl://10.0.0.5:8883", "pw", false},
		{"wss://10.0.0.5:443/mqtt", "pw", false},
		{"sim://state.json", "pw", false},
	} {
		c := connection{broker: tc.broker, password: tc.password}
		warnings, err := weakSettings(envOf(nil), ConnFlags{}, nil, c)
		if err != nil {
			t.Fatalf("%s: %v", tc.broker, err)
		}
		got := len(warnings) == 1 && strings.Contains(warnings[0], "password is sent in clear")
		if got != tc.warn || len(warnings) > 1 {
			t.Errorf("%s, password %q: warnings %q, want a clear-text warning: %v", tc.broker, tc.password, warnings, tc.warn)
		}
	}
	// The site's caFile alone is not a warning: it is the way to trust a
	// private CA. Only the forbid refuses it.
	conn := &site.Connection{CAFile: "ca.pem"}
	if w, err := weakSettings(envOf(nil), ConnFlags{}, conn, connection{broker: "ssl://10.0.0.5:8883", caFile: "ca.pem"}); err != nil || len(w) != 0 {
		t.Errorf("site caFile without the forbid: %q, %v; want nothing", w, err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestFleetWarnsOnceAndForbids(t *testing.T) {
	f := newTestFleet(t, 3, 1)
	code, out, errOut := runFleetCmd(t, "plan", f.dir, "--insecure")
	if code != ExitOK {
		t.Fatalf("plan --insecure: exit %d\n%s\n%s", code, out, errOut)
	}
	if n := strings.Count(errOut, "Warning: the TLS certificate of broker"); n != 1 || strings.Contains(out, "Warning:") {
		t.Errorf("the fleet warned %d times on stderr (want 1, none in the sections):\nstdout:\n%s\nstderr:\n%s", n, out, errOut)
	}
	var stdout, stderr bytes.Buffer
	code = Run(&Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string {
		if k == "GWSYNC_FORBID_INSECURE" {
			return "1"
		}
		return fleetGetenv(k)
	}}, []string{"apply", f.dir, "--insecure", "--auto-approve"})
	// The first refusal halts the sites not yet started (README, Waves):
	// how many started first is the scheduler's, so each site is either
	// refused or not started, and at least one is refused.
	refused := strings.Count(stdout.String(), "Error: insecure connection refused")
	line := fmt.Sprintf("3 sites: 0 with changes, 0 unchanged, %d failed", refused)
	if refused < 3 {
		line += fmt.Sprintf(", %d not started", 3-refused)
	}
	if code != ExitError || refused < 1 || !strings.Contains(stdout.String(), line+"\n") {
		t.Errorf("apply --insecure under the forbid: exit %d, want 1, each site refused or not started (%q):\n%s%s", code, line, stdout.String(), stderr.String())
	}
	for _, g := range f.gws {
		if n := liveDevices(t, g); n != 0 {
			t.Errorf("gateway %s has %d devices after a refused apply", g.EUI(), n)
		}
	}
}
