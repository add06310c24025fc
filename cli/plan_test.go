package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gwsync/gwsync/plan"
)

const planCases = "../testdata/plan"

func runMain(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// TestPlanCommand runs `gwsync plan` against snapshots and a simulated
// gateway and checks exit codes and output.
func TestPlanCommand(t *testing.T) {
	dir := func(c string) string { return filepath.Join(planCases, c) }
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		stdout   string // substring
		stderr   string // substring
		noStdout string
	}{
		{"changes, detailed", []string{"plan", dir("update-device") + "/site.yaml", "--state", dir("update-device") + "/state.json", "--detailed-exitcode"},
			ExitChanges, "Plan: 0 to add, 1 to change, 0 to destroy.\n", "", "8f3c2a1b"},
		{"changes, plain exit", []string{"plan", dir("update-device") + "/site.yaml", "--state", dir("update-device") + "/state.json"},
			ExitOK, "~ fPort          = 1 -> 85", "", "\x1b["},
		{"no changes, detailed", []string{"plan", dir("steady") + "/site.yaml", "--state", dir("steady") + "/state.json", "--detailed-exitcode"},
			ExitOK, "No changes. The gateway matches the site.\n", "", ""},
		{"markdown", []string{"plan", dir("update-device") + "/site.yaml", "--state", dir("update-device") + "/state.json", "--format", "markdown"},
			ExitOK, "(EU868), site `../testdata/plan/update-device/site.yaml`\n\n**Plan: 0 to add, 1 to change, 0 to destroy.**\n", "", ""},
		{"json", []string{"plan", dir("update-device") + "/site.yaml", "--state", dir("update-device") + "/state.json", "--format", "json"},
			ExitOK, `"format_version": "1.2"`, "", ""},
		{"unresolved references", []string{"plan", dir("error-references") + "/site.yaml", "--state", dir("error-references") + "/state.json"},
			ExitError, "", `devices[1].codec: codec "Milesight XYZ" is neither in the site nor on the gateway`, ""},
		// a held change is drift all the same: --detailed-exitcode says so
		{"running task waits", []string{"plan", dir("replace-task") + "/site.yaml", "--state", dir("replace-task") + "/state.json", "--detailed-exitcode"},
			ExitChanges, "pass --stop-task wt201-v1.4 to stop and replace it", "", "must be replaced"},
		{"--stop-task replaces a running task", []string{"plan", dir("replace-task") + "/site.yaml", "--state", dir("replace-task") + "/state.json", "--stop-task", "wt201-v1.4", "--detailed-exitcode"},
			ExitChanges, "executing and --stop-task names it", "", ""},
		{"--stop-task mistyped", []string{"plan", dir("replace-task") + "/site.yaml", "--state", dir("replace-task") + "/state.json", "--stop-task", "wt201,v1.4"},
			ExitError, "", `--stop-task: "wt201,v1.4" is neither a FUOTA task on the gateway nor one in the site`, ""},
		{"missing snapshot", []string{"plan", dir("steady") + "/site.yaml", "--state", dir("steady") + "/nothing.json"},
			ExitError, "", "snapshot: open", ""},
		{"broken site", []string{"plan", "testdata-does-not-exist.yaml", "--state", dir("steady") + "/state.json"},
			ExitError, "", "testdata-does-not-exist.yaml: cannot read: no such file or directory\nError: the site has 1 error; nothing was planned or written\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runMain(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
			if !strings.Contains(out, tc.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tc.stdout, out)
			}
			if !strings.Contains(errOut, tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, errOut)
			}
			if tc.noStdout != "" && strings.Contains(out, tc.noStdout) {
				t.Errorf("stdout has %q", tc.noStdout)
			}
			if tc.name == "json" && !json.Valid([]byte(out)) {
				t.Errorf("json output is not JSON")
			}
		})
	}
}

// TestPlanOutSaves checks --out: a saved plan without keys that loads back
// with the same digest as a fresh plan of the same inputs.
func TestPlanOutSaves(t *testing.T) {
	out := filepath.Join(t.TempDir(), "plan.json")
	c := filepath.Join(planCases, "secrets")
	code, _, errOut := runMain(t, "plan", c+"/site.yaml", "--state", c+"/state.json", "--out", out)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"2b7e151628aed2a6abf7158809cf4f3c", "ffeeddccbbaa99887766554433221100", "c0ffee00c0ffee00c0ffee00c0ffee01"} {
		if strings.Contains(strings.ToLower(string(b)), k) {
			t.Errorf("saved plan holds key %s… in clear", k[:6])
		}
	}
	saved, err := plan.Load(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	env := &Env{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, Getenv: func(string) string { return "" }}
	run, err := makePlan(t.Context(), env, []string{c + "/site.yaml"}, c+"/state.json", ConnFlags{})
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	if saved.Digest() != run.Plan.Digest() {
		t.Error("the saved plan's digest differs from a fresh plan's")
	}
	if saved.SiteDigest == "" || saved.SiteDigest != run.Site.Digest() || saved.StateFingerprint != run.State.Fingerprint() {
		t.Errorf("saved plan digests: site %q state %q", saved.SiteDigest, saved.StateFingerprint)
	}
}

// TestPlanAgainstSim plans a site against a simulated gateway (sim://)
// and reports the request count with --verbose.
func TestPlanAgainstSim(t *testing.T) {
	state := filepath.Join(t.TempDir(), "gw.json")
	c := futureCase(t, "create-all")
	code, out, errOut := runMain(t, "plan", c+"/site.yaml", "--broker", "sim://"+state, "--detailed-exitcode", "--verbose")
	if code != ExitChanges {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "Plan: 10 to add, 0 to change, 0 to destroy.") {
		t.Errorf("stdout:\n%s", out)
	}
	if !regexp.MustCompile(`level=DEBUG msg="read the gateway's state" requests=[0-9]+`).MatchString(errOut) {
		t.Errorf("--verbose did not report the request count:\n%s", errOut)
	}
}

// TestPlanFileMistakes: --out naming a folder or a missing folder, and a
// saved plan given to --state, are refused with a message that says what
// is wrong, and leave no file behind.
func TestPlanFileMistakes(t *testing.T) {
	dir := t.TempDir()
	c := filepath.Join(planCases, "update-device")
	saved := filepath.Join(dir, "saved.json")
	if code, _, errOut := runMain(t, "plan", c+"/site.yaml", "--state", c+"/state.json", "--out", saved); code != ExitOK {
		t.Fatalf("plan --out: exit %d: %s", code, errOut)
	}
	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"out is a folder", []string{"--out", dir}, "Error: saving the plan to " + dir + ": is a directory\n"},
		{"out in a missing folder", []string{"--out", filepath.Join(dir, "nowhere", "p.json")},
			"Error: saving the plan to " + filepath.Join(dir, "nowhere", "p.json") + ": no such file or directory\n"},
		{"state is a saved plan", []string{"--state", saved},
			"Error: snapshot " + saved + ": this is a plan, not a snapshot: make one with gwsync snapshot --out FILE\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"plan", c + "/site.yaml"}, tc.args...)
			if tc.name != "state is a saved plan" {
				args = append(args, "--state", c+"/state.json")
			}
			code, _, errOut := runMain(t, args...)
			if code != ExitError {
				t.Errorf("exit %d, want %d", code, ExitError)
			}
			if i := strings.Index(errOut, "Error: "); i < 0 || errOut[i:] != tc.stderr {
				t.Errorf("stderr = %q, want it to end in %q", errOut, tc.stderr)
			}
			left, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), "*.tmp"))
			more, _ := filepath.Glob(filepath.Join(dir, "*.tmp"))
			if len(left)+len(more) > 0 {
				t.Errorf("left behind: %v", append(left, more...))
			}
		})
	}
}

// TestPlanChecksLiveChannelPlan: a site that names no channel plan is
// checked at plan time against the one the gateway reports, with validate's
// messages and positions; FUOTA fragments against the gateway's own
// payload-size answer.
func TestPlanChecksLiveChannelPlan(t *testing.T) {
	dir := t.TempDir()
	siteFile := filepath.Join(dir, "site.yaml")
	body := "version: 1\nprofiles:\n  - name: p\n    supportsJoin: true\n    rxFreq2: 915000000\n"
	if err := os.WriteFile(siteFile, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runMain(t, "validate", siteFile); code != ExitOK {
		t.Fatalf("validate without a channel plan: exit %d: %s", code, errOut)
	}
	state := filepath.Join(planCases, "steady", "state.json")
	code, out, errOut := runMain(t, "plan", siteFile, "--state", state)
	want := siteFile + ":5:14: profiles[0].rxFreq2: 915000000 Hz is outside EU868's range 863000000-870000000 Hz\n"
	if code != ExitError || !strings.Contains(errOut, want) || !strings.Contains(errOut, "against the gateway's channel plan EU868") {
		t.Errorf("exit %d, want %d; stderr lacks %q:\n%s\nstdout:\n%s", code, ExitError, want, errOut, out)
	}

	task := "version: 1\ndeviceDefaults: {application: cloud}\ndevices:\n  - devEUI: 24E124136A456465\n    appKey: ${env:K}\n" +
		"firmwareUpdates:\n  - name: t\n    startAt: 2026-12-01T02:00:00Z\n    devices: [24E124136A456465]\n" +
		"    official: {model: WT201, version: v1.4}\n    fragment: {size: 47, intervalMs: 5000, redundancy: 10}\n"
	if err := os.WriteFile(siteFile, []byte(task), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("K", "0011223344556677889900aabbccddee")
	code, _, errOut = runMain(t, "plan", siteFile, "--broker", "sim://"+filepath.Join(dir, "gw.json"))
	if code != ExitError || !strings.Contains(errOut, "fragment.size: 47 bytes is more than data rate 0 carries on EU868: at most 46") {
		t.Errorf("fragment too large for the gateway: exit %d\n%s", code, errOut)
	}
}

// futureCase copies the golden case name to a temporary folder with its
// FUOTA tasks starting in 2030: a plan against a gateway refuses a new
// task whose start has passed, and the cases' dates are fixed.
func futureCase(t *testing.T, name string) string {
	t.Helper()
	dst := t.TempDir()
	src := filepath.Join(planCases, name)
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == "site.yaml" {
			b = regexp.MustCompile(`startAt: 20\d\d-`).ReplaceAll(b, []byte("startAt: 2030-"))
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}
