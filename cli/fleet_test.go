package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/gwsync/gwsync/fleet"
	"github.com/gwsync/gwsync/gwsim"
	"github.com/gwsync/gwsync/nsapi"
)

// testFleet is a fleet folder and its simulated gateways, all on one
// embedded broker.
type testFleet struct {
	dir  string
	gws  []*gwsim.Gateway
	srv  *gwsim.Server
	euis []string
}

const fleetEUI0 = 0x24E124FFFE200000

// newTestFleet writes a fleet of n sites (sites/s01…) with devices devices
// each, sharing a profile, a codec and deviceDefaults from common/, and
// starts a simulated gateway for each site on one embedded broker.
func newTestFleet(t *testing.T, n, devices int) *testFleet {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	f := &testFleet{dir: t.TempDir()}
	for i := 0; i < n; i++ {
		eui := fmt.Sprintf("%016X", fleetEUI0+i)
		g, err := gwsim.New(gwsim.Options{EUI: eui})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Close() })
		if i == 0 {
			f.srv, err = gwsim.ServeEmbedded(ctx, g, "127.0.0.1:0", DefaultRequestTopic, DefaultResponseTopic)
		} else {
			var s *gwsim.Server
			s, err = f.srv.Attach(g, DefaultRequestTopic, DefaultResponseTopic)
			t.Cleanup(func() { s.Close() })
		}
		if err != nil {
			t.Fatal(err)
		}
		f.gws = append(f.gws, g)
		f.euis = append(f.euis, eui)
	}
	t.Cleanup(func() { f.srv.Close() })
	write := func(name, content string) {
		p := filepath.Join(f.dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("fleet.yml", "version: 1\ncommon: [common]\nsites: [sites]\n")
	write("common/shared.yaml", fmt.Sprintf(`connection:
  broker: %s
profiles:
  - name: Fleet-ClassC
    supportsJoin: true
    supportsClassC: true
codecs:
  - name: fleet-codec
    decoderScript: "function Decode(fPort, bytes) { return {}; }"
deviceDefaults:
  application: cloud
  profile: Fleet-ClassC
  codec: fleet-codec
`, f.srv.URL()))
	for i := 0; i < n; i++ {
		var b strings.Builder
		fmt.Fprintf(&b, "version: 1\ngateway:\n  eui: '%s'\n  channelPlan: EU868\n", f.euis[i])
		if devices > 0 {
			b.WriteString("devices:\n")
		}
		for d := 0; d < devices; d++ {
			fmt.Fprintf(&b, "  - devEUI: '%016X'\n    name: dev-%02d-%03d\n    appKey: ${env:KEY_%d_%d}\n", 0x24E1241300000000+uint64(i)<<16+uint64(d), i, d, i, d)
		}
		write(fmt.Sprintf("sites/s%02d/site.yaml", i+1), b.String())
	}
	return f
}

// fleetEnv gives every ${env:KEY_…} its own key.
func fleetGetenv(k string) string {
	if strings.HasPrefix(k, "KEY_") {
		sum := sha256.Sum256([]byte(k))
		return hex.EncodeToString(sum[:16])
	}
	return ""
}

// runFleetCmd runs gwsync args with the fleet's keys.
func runFleetCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(&Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: fleetGetenv}, args)
	return code, out.String(), errb.String()
}

// liveDevices reads gateway g's devices over its own transport.
func liveDevices(t *testing.T, g *gwsim.Gateway) int {
	t.Helper()
	cl, err := nsapi.New(context.Background(), g.Transport(), nsapi.Config{GatewayEUI: g.EUI()})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	st, err := cl.ReadState(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return len(st.Devices)
}

// rowRE matches a summary table row: site, then (after the other columns) the result.
func row(site string, cols ...string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(site) + `\s+` + strings.Join(cols, `\s+`) + `\s*$`)
}

// TestFleetPlanApplyOneConnection: a fleet's plan and apply go over one
// MQTT connection to the broker all its gateways are on (the broker sees
// one client at most), print one section and one table row per site and
// the summary line, and aggregate exit codes; after the apply every
// gateway holds its own site and the fleet plans empty.
func TestFleetPlanApplyOneConnection(t *testing.T) {
	f := newTestFleet(t, 4, 3)
	code, out, errOut := runFleetCmd(t, "plan", f.dir, "--jobs", "4", "--detailed-exitcode")
	if code != ExitChanges {
		t.Fatalf("plan: exit %d, want 2\n%s\n%s", code, out, errOut)
	}
	for i, eui := range f.euis {
		site := fmt.Sprintf("sites/s%02d", i+1)
		if !strings.Contains(out, "=== "+site+" (gateway "+eui+")\n") {
			t.Errorf("no section for %s:\n%s", site, out)
		}
		if !row(site, eui, "5", "0", "0", "changes").MatchString(out) {
			t.Errorf("no table row for %s:\n%s", site, out)
		}
	}
	if !strings.HasSuffix(out, "\n4 sites: 4 with changes, 0 unchanged, 0 failed\n") {
		t.Errorf("summary line missing:\n%s", out)
	}
	if !strings.Contains(errOut, "MQTT connections opened: 1 for 4 sites.") {
		t.Errorf("stderr: %q", errOut)
	}
	if peak := f.srv.PeakClients(); peak != 1 {
		t.Errorf("the broker had %d clients at once; want the fleet's one connection", peak)
	}

	code, out, errOut = runFleetCmd(t, "apply", f.dir, "--jobs", "4", "--auto-approve")
	if code != ExitOK {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.HasSuffix(out, "\n4 sites: 4 with changes, 0 unchanged, 0 failed\n") || strings.Count(out, "applied, verified") != 4 {
		t.Errorf("apply output:\n%s", out)
	}
	for i, g := range f.gws {
		if n := liveDevices(t, g); n != 3 {
			t.Errorf("gateway %d holds %d devices, want its site's 3", i, n)
		}
	}
	code, out, _ = runFleetCmd(t, "plan", f.dir, "--jobs", "2", "--detailed-exitcode")
	if code != ExitOK || !strings.HasSuffix(out, "\n4 sites: 0 with changes, 4 unchanged, 0 failed\n") {
		t.Errorf("plan after apply: exit %d\n%s", code, out)
	}
	if peak := f.srv.PeakClients(); peak != 1 {
		t.Errorf("the broker had %d clients at once; want 1", peak)
	}
}

// TestFleetWavesHalt: with --wave 1,2,rest a site of wave 2 whose gateway
// refuses a write rolls back on its own; the other site of wave 2 stays
// applied and verified, wave 3 never starts, the table says which site is
// where and the exit code is apply's 3.
func TestFleetWavesHalt(t *testing.T) {
	f := newTestFleet(t, 5, 2)
	// wave 1: s01; wave 2: s02, s03; wave 3: s04, s05. s03's gateway
	// refuses its second device create.
	f.gws[2].Faults().Add(gwsim.Fault{Method: "POST", URLContains: "/api/urdevices", Nth: 2, Code: 9})
	code, out, errOut := runFleetCmd(t, "apply", f.dir, "--jobs", "1", "--wave", "1,2,rest", "--auto-approve")
	if code != ExitRolled {
		t.Fatalf("exit %d, want 3\n%s\n%s", code, out, errOut)
	}
	for _, want := range []*regexp.Regexp{
		row("sites/s01", f.euis[0], "1", "4", "0", "0", "applied, verified"),
		row("sites/s02", f.euis[1], "2", "4", "0", "0", "applied, verified"),
		regexp.MustCompile(`(?m)^sites/s03\s+` + f.euis[2] + `\s+2\s+4\s+0\s+0\s+rolled back, verified: .*$`),
		row("sites/s04", "", "3", "0", "0", "0", `not started \(halted\)`),
		row("sites/s05", "", "3", "0", "0", "0", `not started \(halted\)`),
	} {
		if !want.MatchString(out) {
			t.Errorf("no line %v in:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "A site of wave 2 did not end applied and verified: the later waves are not started.\n\n--- wave 3 of 3: 2 sites, not started\n") ||
		!strings.HasSuffix(out, "5 sites: 2 with changes, 0 unchanged, 1 failed, 2 not started\n") {
		t.Errorf("output:\n%s", out)
	}
	// What the table says, read from the gateways themselves.
	for i, want := range []int{2, 2, 0, 0, 0} {
		if n := liveDevices(t, f.gws[i]); n != want {
			t.Errorf("gateway s%02d holds %d devices, want %d", i+1, n, want)
		}
	}
	// s03's rollback left no journal: the next apply may start.
	if _, err := os.Stat(filepath.Join(f.dir, "sites", "s03", ".gwsync", "journal.jsonl")); err == nil {
		t.Errorf("s03 kept a journal")
	}
}

// TestFleetValidate: every site with the common files, and two sites
// naming one gateway refused.
func TestFleetValidate(t *testing.T) {
	f := newTestFleet(t, 3, 1)
	code, out, _ := runFleetCmd(t, "validate", f.dir)
	if code != ExitOK || !strings.HasSuffix(out, "3 sites: 3 valid, 0 invalid\n") ||
		!strings.Contains(out, "Valid: 2 files, 1 profile, 1 codec, 1 device, 0 multicast groups, 0 FUOTA tasks.") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	p := filepath.Join(f.dir, "sites", "s03", "site.yaml")
	b, _ := os.ReadFile(p)
	os.WriteFile(p, bytes.Replace(b, []byte(f.euis[2]), []byte(f.euis[0]), 1), 0o644)
	code, out, _ = runFleetCmd(t, "validate", f.dir)
	if code != ExitError || !strings.Contains(out, "gateway "+f.euis[0]+" is also the gateway of site sites/s01") ||
		!strings.HasSuffix(out, "3 sites: 2 valid, 1 invalid\n") {
		t.Errorf("duplicate gateway: exit %d\n%s", code, out)
	}
	// A profile defined both in common/ and in a site is a duplicate.
	os.WriteFile(p, append(b, []byte("profiles:\n  - name: Fleet-ClassC\n    supportsJoin: true\n")...), 0o644)
	code, out, _ = runFleetCmd(t, "validate", f.dir)
	if code != ExitError || !strings.Contains(out, "sites/s03") || !strings.Contains(out, "invalid: ") {
		t.Errorf("duplicate profile: exit %d\n%s", code, out)
	}
}

// TestFleetPlanMarkdown: the fleet summary on top, then a folded section
// per site with changes.
func TestFleetPlanMarkdown(t *testing.T) {
	f := newTestFleet(t, 2, 1)
	code, out, errOut := runFleetCmd(t, "plan", f.dir, "--format", "markdown")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	top := "**2 sites: 2 with changes, 0 unchanged, 0 failed**\n\n| site | gateway | add | change | destroy | result |\n|---|---|---|---|---|---|\n| sites/s01 | " + f.euis[0] + " | 3 | 0 | 0 | changes |\n"
	if !strings.Contains(out, top) || strings.Index(out, top) > strings.Index(out, "<details>") {
		t.Errorf("summary not on top:\n%s", out)
	}
	if strings.Count(out, "<details><summary><code>sites/s0") != 2 || strings.Count(out, "</details>") < 2 {
		t.Errorf("want a fold per site:\n%s", out)
	}
}

// TestFleetShardFlag: the shards of --shard I/3 together plan every site
// exactly once.
func TestFleetShardFlag(t *testing.T) {
	f := newTestFleet(t, 6, 0)
	seen := map[string]int{}
	for i := 1; i <= 3; i++ {
		code, out, errOut := runFleetCmd(t, "validate", f.dir, "--shard", fmt.Sprintf("%d/3", i))
		if code != ExitOK {
			t.Fatalf("shard %d: exit %d\n%s%s", i, code, out, errOut)
		}
		for _, m := range regexp.MustCompile(`(?m)^=== (sites/s\d\d) `).FindAllStringSubmatch(out, -1) {
			seen[m[1]]++
			if fleet.Of(m[1], 3) != i {
				t.Errorf("%s in shard %d, want %d", m[1], i, fleet.Of(m[1], 3))
			}
		}
	}
	if len(seen) != 6 {
		t.Errorf("sites seen: %v", seen)
	}
	for s, n := range seen {
		if n != 1 {
			t.Errorf("%s in %d shards", s, n)
		}
	}
	if code, _, errOut := runFleetCmd(t, "plan", f.dir, "--shard", "4/3"); code != ExitError || !strings.Contains(errOut, "want I/N with 1 ≤ I ≤ N") {
		t.Errorf("--shard 4/3: exit %d %s", code, errOut)
	}
}

func TestWorstExit(t *testing.T) {
	for _, tc := range []struct {
		codes []int
		want  int
	}{
		{nil, 0}, {[]int{0, 0}, 0}, {[]int{0, 1}, 1}, {[]int{1, 3, 0}, 3}, {[]int{3, 4, 1}, 4}, {[]int{0, 2}, 2}, {[]int{2, 1}, 1},
	} {
		if got := worstExit(tc.codes...); got != tc.want {
			t.Errorf("worstExit(%v) = %d, want %d", tc.codes, got, tc.want)
		}
	}
}

// TestSiteOutputTakesWritesFromSeveralGoroutines: a site's section takes
// the debug records of its client, which logs on the goroutine that
// delivers the gateway's messages (an answer nobody waits for, from
// another run on the gateway), while the site's run writes its plan. The
// two writes below are not ordered with each other, as they are not in a
// fleet plan -v; the race detector (CI runs the tests with -race) reports
// them on a section that is a bare bytes.Buffer, whatever their timing
// (TestPasswordHunt's fleet plan -v did so, now and then, on a busy machine).
func TestSiteOutputTakesWritesFromSeveralGoroutines(t *testing.T) {
	var out siteOutput
	senv := siteEnv(&Env{Stderr: &bytes.Buffer{}}, newBrokerPool(), fleet.Site{Name: "a", Dir: t.TempDir()}, &out)
	logf := senv.debugLog(true)
	var wg sync.WaitGroup
	wg.Go(func() { logf("ns-api: ignored an answer to id=%d, which no waiting request has", 7) })
	// As render.Text writes: no fmt, whose pool of printers would order
	// this write after the record's, or before it, for the race detector.
	wg.Go(func() { _, _ = io.WriteString(senv.Stdout, "Plan: 1 to add, 0 to change, 0 to destroy.\n") })
	wg.Wait()
	got := out.String()
	for _, want := range []string{"ignored an answer to id=7", "Plan: 1 to add, 0 to change, 0 to destroy.\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("the section %q lacks %q", got, want)
		}
	}
}

// TestFleetFailedReleaseWarned: a gateway that refuses once the delete of
// gwsync's lock after a good apply has it released by a later try; one
// that refuses it to the end leaves that site applied and verified, and
// the site's own section says the gateway keeps the lock and how to break
// it; once broken, the fleet plans clean.
func TestFleetFailedReleaseWarned(t *testing.T) {
	f := newTestFleet(t, 2, 1)
	s02 := filepath.Join(f.dir, "sites", "s02")
	section := func(out, site string) string {
		_, rest, _ := strings.Cut(out, "=== "+site)
		sec, _, _ := strings.Cut(rest, "\n=== ")
		sec, _, _ = strings.Cut(sec, "\nSITE ")
		return sec
	}
	f.gws[1].Faults().Add(gwsim.Fault{Method: "DELETE", OwnRecords: true, Code: nsapi.CodeFailedPrecondition})
	code, out, errOut := runFleetCmd(t, "apply", f.dir, "--jobs", "2", "--auto-approve")
	if code != ExitOK || strings.Contains(out, "warning") || strings.Count(out, "applied, verified") != 2 {
		t.Fatalf("apply, one refused release: exit %d\n%s\n%s", code, out, errOut)
	}
	if f.gws[1].Faults().Pending() != 0 {
		t.Errorf("the release was never refused: the test proves nothing")
	}
	if code, out, _ := runFleetCmd(t, "plan", f.dir, "--detailed-exitcode"); code != ExitOK || strings.Contains(out, "lock") {
		t.Errorf("plan after a release tried again: exit %d\n%s", code, out)
	}

	f.addDevice(t, 1) // a change for s02 only
	f.gws[1].Faults().Add(gwsim.Fault{Method: "DELETE", OwnRecords: true, Code: nsapi.CodeFailedPrecondition, Times: -1})
	code, out, errOut = runFleetCmd(t, "apply", f.dir, "--jobs", "2", "--auto-approve")
	if code != ExitOK {
		t.Fatalf("apply, release refused to the end: exit %d\n%s\n%s", code, out, errOut)
	}
	sec := section(out, "sites/s02")
	for _, want := range []string{
		"Apply complete! Resources: 1 added, 0 changed, 0 destroyed.\nVerified: the gateway was re-read and matches the site.\n",
		"warning: lock: release: DELETE /api/payloadcodecs/",
		"ns-api error 9 (failed precondition)",
		"The gateway keeps this run's lock: the next plan and apply will find it held",
		"break its lock with gwsync unlock " + s02 + "\n",
	} {
		if !strings.Contains(sec, want) {
			t.Errorf("s02's section has no %q:\n%s", want, sec)
		}
	}
	if strings.Contains(section(out, "sites/s01"), "warning") {
		t.Errorf("s01's section warns:\n%s", out)
	}
	if !row("sites/s02", f.euis[1], "1", "1", "0", "0", "applied, verified").MatchString(out) {
		t.Errorf("no applied row for s02:\n%s", out)
	}
	// As the warning says: the lock is held until broken.
	if code, out, _ := runFleetCmd(t, "apply", f.dir, "--auto-approve"); code != ExitError || !strings.Contains(section(out, "sites/s02"), "gateway locked") {
		t.Errorf("apply with the lock left: exit %d\n%s", code, out)
	}
	f.gws[1].Faults().Clear()
	if code, out, errOut := runFleetCmd(t, "unlock", s02, "--force"); code != ExitOK || !strings.Contains(out, "Lock broken.") {
		t.Fatalf("unlock: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, out, _ := runFleetCmd(t, "plan", f.dir, "--detailed-exitcode"); code != ExitOK || strings.Contains(out, "lock") {
		t.Errorf("plan after the unlock: exit %d\n%s", code, out)
	}
}

// addDevice adds a device to site i of the fleet.
func (f *testFleet) addDevice(t *testing.T, i int) {
	t.Helper()
	p := filepath.Join(f.dir, "sites", fmt.Sprintf("s%02d", i+1), "site.yaml")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b = fmt.Appendf(b, "  - devEUI: '%016X'\n    name: dev-%02d-extra\n    appKey: ${env:KEY_%d_extra}\n", 0x24E1241300000000+uint64(i)<<16+0xFFFF, i, i)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestFleetSiteAlone: a fleet's site named alone is read as the fleet
// reads it, with the common files, by every command of one site, so the
// commands the fleet's messages give work on it: validate, plan and apply
// it; a rollback from the journal a fleet apply kept (its rollback
// incomplete) restores the gateway and frees the lock.
func TestFleetSiteAlone(t *testing.T) {
	f := newTestFleet(t, 2, 2)
	s02 := filepath.Join(f.dir, "sites", "s02")
	if code, out, errOut := runFleetCmd(t, "validate", s02); code != ExitOK {
		t.Fatalf("validate a fleet site: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut := runFleetCmd(t, "plan", s02, "--detailed-exitcode")
	if code != ExitChanges || !strings.Contains(out, "Plan: 4 to add, 0 to change, 0 to destroy.") || !strings.Contains(out, `codec "fleet-codec" will be created`) {
		t.Fatalf("plan a fleet site: exit %d\n%s\n%s", code, out, errOut)
	}

	// s02's gateway refuses its second device create, then the undo of
	// the first: the fleet apply ends with s02's rollback incomplete.
	f.gws[1].Faults().Add(gwsim.Fault{Method: "POST", URLContains: "/api/urdevices", Nth: 2, Code: nsapi.CodeFailedPrecondition})
	f.gws[1].Faults().Add(gwsim.Fault{Method: "DELETE", URLContains: "/api/urdevices", Code: nsapi.CodeFailedPrecondition, Times: -1})
	code, out, errOut = runFleetCmd(t, "apply", f.dir, "--jobs", "1", "--auto-approve")
	if code != ExitPartial {
		t.Fatalf("fleet apply: exit %d, want 4\n%s\n%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(s02, ".gwsync", "journal.jsonl")); err != nil {
		t.Fatalf("s02 kept no journal: %v", err)
	}
	f.gws[1].Faults().Clear()
	code, out, errOut = runFleetCmd(t, "rollback", s02)
	if code != ExitOK {
		t.Fatalf("rollback of a fleet site: exit %d\n%s\n%s", code, out, errOut)
	}
	if n := liveDevices(t, f.gws[1]); n != 0 {
		t.Errorf("after the rollback s02's gateway holds %d devices, want none", n)
	}
	// Planned to a file and applied from it: the plan's site files are the
	// site's and the common ones; its journal is the site's.
	planFile := filepath.Join(t.TempDir(), "s02.plan")
	if code, out, errOut := runFleetCmd(t, "plan", s02, "--out", planFile); code != ExitOK {
		t.Fatalf("plan a fleet site to a file: exit %d\n%s\n%s", code, out, errOut)
	}
	f.gws[1].Faults().Add(gwsim.Fault{Method: "POST", URLContains: "/api/urdevices", Nth: 2, Code: nsapi.CodeFailedPrecondition})
	f.gws[1].Faults().Add(gwsim.Fault{Method: "DELETE", URLContains: "/api/urdevices", Code: nsapi.CodeFailedPrecondition, Times: -1})
	if code, out, errOut := runFleetCmd(t, "apply", planFile, "--auto-approve"); code != ExitPartial || !strings.Contains(errOut+out, "gwsync rollback "+s02) {
		t.Fatalf("apply a fleet site's plan file: exit %d, want 4 naming the site's rollback\n%s\n%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(s02, ".gwsync", "journal.jsonl")); err != nil {
		t.Fatalf("the plan file's apply kept no journal in the site: %v", err)
	}
	f.gws[1].Faults().Clear()
	if code, out, errOut := runFleetCmd(t, "rollback", s02); code != ExitOK {
		t.Fatalf("rollback of a fleet site: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runFleetCmd(t, "apply", s02, "--auto-approve")
	if code != ExitOK || !strings.Contains(out, "Apply complete! Resources: 4 added") {
		t.Fatalf("apply a fleet site alone: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, out, _ := runFleetCmd(t, "plan", f.dir, "--detailed-exitcode"); code != ExitOK || !strings.HasSuffix(out, "2 sites: 0 with changes, 2 unchanged, 0 failed\n") {
		t.Errorf("the fleet after its site was applied alone: exit %d\n%s", code, out)
	}
	for _, p := range []string{filepath.Join(s02, ".gwsync", "journal.jsonl"), filepath.Join(f.dir, ".gwsync")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s is left", p)
		}
	}
}
