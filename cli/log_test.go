package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func TestLogLevelsAndFormats(t *testing.T) {
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	for _, tc := range []struct {
		name    string
		vars    map[string]string
		flag    string
		verbose bool
		// wantDebug and wantWarn: whether a debug and a warn record appear.
		wantDebug, wantWarn, wantJSON bool
	}{
		{name: "default", wantWarn: true},
		{name: "-v", verbose: true, wantDebug: true, wantWarn: true},
		{name: "GWSYNC_LOG=debug", vars: map[string]string{"GWSYNC_LOG": "debug"}, wantDebug: true, wantWarn: true},
		{name: "GWSYNC_LOG=error", vars: map[string]string{"GWSYNC_LOG": "error"}},
		{name: "GWSYNC_LOG=error -v", vars: map[string]string{"GWSYNC_LOG": "error"}, verbose: true, wantDebug: true, wantWarn: true},
		{name: "--log-format json", flag: "json", verbose: true, wantDebug: true, wantWarn: true, wantJSON: true},
		{name: "GWSYNC_LOG_FORMAT=json", vars: map[string]string{"GWSYNC_LOG_FORMAT": "json"}, wantWarn: true, wantJSON: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseLogConfig(env(tc.vars), tc.flag)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			l := c.logger(&buf, tc.verbose)
			l.Debug("a debug record")
			l.Warn("a warn record", "n", 3)
			out := buf.String()
			if got := strings.Contains(out, "a debug record"); got != tc.wantDebug {
				t.Errorf("debug record shown: %v, want %v\n%s", got, tc.wantDebug, out)
			}
			if got := strings.Contains(out, "a warn record"); got != tc.wantWarn {
				t.Errorf("warn record shown: %v, want %v\n%s", got, tc.wantWarn, out)
			}
			if tc.wantJSON {
				for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
					var rec map[string]any
					if err := json.Unmarshal([]byte(line), &rec); err != nil {
						t.Fatalf("not a JSON record: %q: %v", line, err)
					}
					if rec["msg"] == nil || rec["level"] == nil {
						t.Errorf("record without msg or level: %q", line)
					}
				}
			}
			if got := debugf(l) != nil; got != tc.wantDebug {
				t.Errorf("debugf hook set: %v, want %v", got, tc.wantDebug)
			}
		})
	}
	for _, bad := range []map[string]string{{"GWSYNC_LOG": "loud"}, {"GWSYNC_LOG_FORMAT": "xml"}} {
		if _, err := parseLogConfig(env(bad), ""); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// TestVerbosePlanLogsRequests: gwsync plan -v logs each request as a debug
// record, and --log-format json makes each of them a JSON object.
func TestVerbosePlanLogsRequests(t *testing.T) {
	dir := t.TempDir()
	site := dir + "/site.yaml"
	if err := os.WriteFile(site, []byte("version: 1\ngateway:\n  eui: 24E124FFFEF5A6A8\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := Run(&Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string {
		if k == "GWSYNC_BROKER" {
			return "sim://" + dir + "/gw.json"
		}
		return ""
	}}, []string{"--log-format", "json", "plan", site, "-v"})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	debug := 0
	for _, line := range lines {
		var rec struct{ Level, Msg string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("stderr line is not a JSON record: %q", line)
		}
		if rec.Level == "DEBUG" && strings.Contains(rec.Msg, "GET /api/") {
			debug++
		}
	}
	if debug == 0 {
		t.Fatalf("no debug record of a request:\n%s", stderr.String())
	}
}
