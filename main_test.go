package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/gwsync/gwsync/applier"
	"github.com/gwsync/gwsync/cli"
	"github.com/gwsync/gwsync/gwsim"
	"github.com/gwsync/gwsync/nsapi"
)

// Keys the test sites reference by ${env:…}; never the spec's public default.
var testKeys = map[string]string{
	"K1": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
	"K2": "a1b2c3d4e5f60718293a4b5c6d7e8f90",
	"K3": "11223344556677889900aabbccddeeff",
	"K4": "ffeeddccbbaa00998877665544332211",
}

func TestMain(m *testing.M) {
	testscript.Main(removesBinary{m}, map[string]func(){
		"gwsync": func() { os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the CLI end-to-end scripts of testdata/script against
// simulated gateways (sim://$WORK/gw.json).
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(e *testscript.Env) error {
			for k, v := range testKeys {
				e.Setenv(k, v)
			}
			host, _ := os.Hostname()
			e.Setenv("HOST", host)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// exit N CMD ARGS… runs CMD and checks its exit code is N.
			"exit": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) < 2 {
					ts.Fatalf("usage: exit CODE COMMAND [ARGS...]")
				}
				want, err := strconv.Atoi(args[0])
				if err != nil {
					ts.Fatalf("exit: %v", err)
				}
				got := 0
				if err := ts.Exec(args[1], args[2:]...); err != nil {
					var ee *exec.ExitError
					if !errors.As(err, &ee) {
						ts.Fatalf("%s: %v", args[1], err)
					}
					got = ee.ExitCode()
				}
				if got != want {
					ts.Fatalf("%s: exit code %d, want %d", args[1], got, want)
				}
			},
		},
	})
}

// removesBinary runs the tests, then removes the gwsync binary the
// subprocess tests built, which lives in the test run's TMPDIR.
type removesBinary struct{ m *testing.M }

func (r removesBinary) Run() int {
	code := r.m.Run()
	if buildOnce.dir != "" {
		os.RemoveAll(buildOnce.dir)
	}
	return code
}

// buildBinary builds gwsync once for the subprocess tests.
var buildOnce struct {
	sync.Once
	dir  string
	path string
	err  error
	out  []byte
}

func gwsyncBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gwsync-bin")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.dir, buildOnce.path = dir, filepath.Join(dir, "gwsync")
		cmd := exec.Command("go", "build", "-o", buildOnce.path, ".")
		buildOnce.out, buildOnce.err = cmd.CombinedOutput()
	})
	if buildOnce.err != nil {
		t.Fatalf("go build: %v\n%s", buildOnce.err, buildOnce.out)
	}
	return buildOnce.path
}

const killSite = `version: 1
gateway:
  eui: 24E124FFFEF5A6A8
profiles:
  - name: street-c
    supportsJoin: true
    supportsClassC: true
codecs:
  - name: em300-decoder
    decoderScript: "function Decode(fPort, bytes) { return {t: bytes[0]}; }"
devices:
%s
multicastGroups:
  - name: street-lights
    mcAddr: 01AB23CD
    mcNwkSKey: ${env:K3}
    mcAppSKey: ${env:K4}
    groupType: CLASS_C
    devices: [%s]
`

// writeKillSite writes a site of n devices; description tags each device
// so that a second site updates every one of them.
func writeKillSite(t *testing.T, path string, n int, description string) {
	var devs, members []string
	for i := 0; i < n; i++ {
		eui := fmt.Sprintf("24E124136A%06X", i)
		devs = append(devs, fmt.Sprintf("  - devEUI: %s\n    name: lamp-%03d\n    description: %s\n    application: cloud\n    profile: street-c\n    codec: em300-decoder\n    appKey: ${env:K1}", eui, i, description))
		if i%2 == 0 {
			members = append(members, eui)
		}
	}
	s := fmt.Sprintf(killSite, strings.Join(devs, "\n"), strings.Join(members, ", "))
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

type subEnv struct {
	bin, dir, broker string
	env              []string
}

func (s *subEnv) cmd(args ...string) *exec.Cmd {
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.dir
	cmd.Env = s.env
	return cmd
}

func (s *subEnv) run(t *testing.T, want int, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	cmd := s.cmd(args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("gwsync %v: %v", args, err)
	}
	if code != want {
		t.Fatalf("gwsync %v: exit %d, want %d\n%s", args, code, want, out.String())
	}
	return out.String()
}

// TestKillMidApply runs the built gwsync binary against a simulated
// gateway on an embedded MQTT broker that answers in 15 ms, kills it with
// SIGKILL half-way through an apply, checks that a second apply refuses to
// start (a concurrent one, then one after the kill), and that gwsync
// rollback restores the state read before the apply.
func TestKillMidApply(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := gwsyncBinary(t)
	dir := t.TempDir()
	g, err := gwsim.New(gwsim.Options{StatePath: filepath.Join(dir, "gw.json")})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := gwsim.ServeEmbedded(ctx, g, "127.0.0.1:0", "milesight-gateway/{eui}/request", "milesight-gateway/{eui}/response")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	tmp := t.TempDir()
	env := append(os.Environ(), "GWSYNC_BROKER="+srv.URL(), "TMPDIR="+tmp, "NO_COLOR=1")
	for k, v := range testKeys {
		env = append(env, k+"="+v)
	}
	s := &subEnv{bin: bin, dir: dir, broker: srv.URL(), env: env}

	// The gateway holds a first site of 30 devices.
	sitePath := filepath.Join(dir, "site.yaml")
	writeKillSite(t, sitePath, 30, "first")
	s.run(t, 0, "apply", "site.yaml", "--auto-approve")

	cl, err := nsapi.Dial(ctx, nsapi.Config{Broker: srv.URL(), RequestTopic: "milesight-gateway/24E124FFFEF5A6A8/request",
		ResponseTopic: "milesight-gateway/24E124FFFEF5A6A8/response", GatewayEUI: "24E124FFFEF5A6A8", RequestTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	before, err := cl.ReadState(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// The second site updates those 30, adds 30 more, and the slow
	// gateway makes the apply take over a second.
	writeKillSite(t, sitePath, 60, "second")
	g.Faults().SetDelay(15*time.Millisecond, 5*time.Millisecond)
	apply := s.cmd("apply", "site.yaml", "--auto-approve", "--parallelism", "2")
	stdout, err := apply.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	apply.Stderr = io.Discard
	if err := apply.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	done := 0
	var seen []string
	for done < 20 && lines.Scan() {
		seen = append(seen, lines.Text())
		if strings.Contains(lines.Text(), "… done") {
			done++
		}
	}
	if done < 20 {
		apply.Process.Kill()
		apply.Wait()
		t.Fatalf("the apply ended after %d steps:\n%s", done, strings.Join(seen, "\n"))
	}

	// The rest of the apply is slowed down, to stay under way while the
	// other machine tries.
	g.Faults().SetDelay(150*time.Millisecond, 0)
	// Another machine: a fresh clone of the site, its own HOME, TMPDIR
	// and user.
	clone := t.TempDir()
	writeKillSite(t, filepath.Join(clone, "site.yaml"), 60, "second")
	other := &subEnv{bin: bin, dir: clone, broker: srv.URL(), env: append(append([]string(nil), env...),
		"TMPDIR="+t.TempDir(), "HOME="+t.TempDir(), "USER=runner-b")}

	// A second apply while the first runs, from the other machine, is
	// refused by the lock on the gateway, naming the holder; nothing is
	// written.
	out := other.run(t, 1, "apply", "site.yaml", "--auto-approve")
	if !strings.Contains(out, "gateway locked: held by apply by ") || !strings.Contains(out, "nothing was written") || strings.Contains(out, "creating") {
		t.Errorf("concurrent apply from another machine: want a refusal naming the holder, got:\n%s", out)
	}
	// It may wait instead, and gives up when the holder stays.
	start := time.Now()
	out = other.run(t, 1, "apply", "site.yaml", "--auto-approve", "--lock-timeout", "1s")
	if !strings.Contains(out, "gateway locked") || !strings.Contains(out, "waited") || time.Since(start) < time.Second {
		t.Errorf("apply --lock-timeout 1s: want a wait of 1s then the holder, got (after %s):\n%s", time.Since(start), out)
	}

	if err := apply.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	apply.Wait()
	g.Faults().SetDelay(0, 0)

	// From the fresh clone, plan and apply say an apply was interrupted:
	// who, where, when, and the ways forward.
	out = other.run(t, 0, "plan", "site.yaml")
	jid := applier.JournalID(filepath.Join(dir, ".gwsync"))
	if jid == "" {
		t.Fatal("the killed apply left no journal")
	}
	for _, want := range []string{"an apply to this gateway was interrupted", "state: applying", "journal: " + jid, "plan: sha256:", "gwsync rollback site.yaml", "gwsync unlock site.yaml"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan from a fresh clone after the kill: no %q in:\n%s", want, out)
		}
	}
	out = other.run(t, 1, "apply", "site.yaml", "--auto-approve")
	if !strings.Contains(out, "gateway locked: held by apply") || !strings.Contains(out, "gwsync unlock site.yaml") || strings.Contains(out, "creating") {
		t.Errorf("apply from a fresh clone after the kill: want a refusal with the ways forward, got:\n%s", out)
	}
	out = other.run(t, 1, "unlock", "site.yaml")
	if !strings.Contains(out, "the lock was not broken") || !strings.Contains(out, "--force") || !strings.Contains(out, "state: applying") {
		t.Errorf("unlock without --force, not on a terminal: got:\n%s", out)
	}

	if _, err := os.Stat(filepath.Join(dir, ".gwsync", "journal.jsonl")); err != nil {
		t.Fatalf("no journal after the kill: %v", err)
	}
	mid, err := cl.ReadState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if canonDiff(before, mid) == "" {
		t.Fatal("the kill came before any write: the test proves nothing")
	}
	out = s.run(t, 1, "apply", "site.yaml", "--auto-approve")
	if !strings.Contains(out, "run gwsync rollback") {
		t.Errorf("apply after the kill: want a refusal saying to run gwsync rollback, got:\n%s", out)
	}

	out = s.run(t, 0, "rollback", ".")
	if !strings.Contains(out, "Rollback complete") {
		t.Errorf("rollback output:\n%s", out)
	}
	after, err := cl.ReadState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := canonDiff(before, after); d != "" {
		t.Errorf("gateway after rollback differs from before the apply (-before +after):\n%s", d)
	}
	if _, err := os.Stat(filepath.Join(dir, ".gwsync", "journal.jsonl")); !os.IsNotExist(err) {
		t.Errorf("journal still there after the rollback (%v)", err)
	}
	// The rollback took the interrupted run's lock over (its journal) and
	// released it: the other machine sees no interrupted apply.
	if out := other.run(t, 0, "unlock", "site.yaml"); !strings.Contains(out, "The gateway is not locked.") {
		t.Errorf("after the rollback the lock is still held:\n%s", out)
	}
	// And the interrupted apply can now run to the end.
	out = s.run(t, 0, "apply", "site.yaml", "--auto-approve")
	if !strings.Contains(out, "Verified: the gateway was re-read and matches the site.") {
		t.Errorf("apply after rollback:\n%s", out)
	}
}

func canonDiff(a, b *nsapi.State) string {
	return cmp.Diff(a.Canonical(), b.Canonical(), cmpopts.EquateEmpty())
}

// startSim serves a simulated gateway with a state file in dir on an
// embedded broker, for the subprocess tests.
func startSim(t *testing.T, dir string) (*gwsim.Gateway, *gwsim.Server) {
	t.Helper()
	g, err := gwsim.New(gwsim.Options{StatePath: filepath.Join(dir, "gw.json")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	srv, err := gwsim.ServeEmbedded(ctx, g, "127.0.0.1:0", "milesight-gateway/{eui}/request", "milesight-gateway/{eui}/response")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return g, srv
}

func newSubEnv(t *testing.T, dir, broker string) *subEnv {
	env := append(os.Environ(), "GWSYNC_BROKER="+broker, "TMPDIR="+t.TempDir(), "NO_COLOR=1")
	for k, v := range testKeys {
		env = append(env, k+"="+v)
	}
	return &subEnv{bin: gwsyncBinary(t), dir: dir, broker: broker, env: env}
}

// outLines streams a running command's output lines; all keeps them.
type outLines struct {
	ch  chan string
	all []string
}

// startStreaming starts cmd with its stdout and stderr as one stream of
// lines, read as they come.
func startStreaming(t *testing.T, cmd *exec.Cmd) *outLines {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return streamLines(stdout)
}

// streamLines starts reading r line by line.
func streamLines(r io.Reader) *outLines {
	o := &outLines{ch: make(chan string, 1024)}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			o.ch <- sc.Text()
		}
		close(o.ch)
	}()
	return o
}

// waitLine reads lines until one contains want; it fails the test when the
// output ends first, or when nothing comes for a minute (a hang).
func (o *outLines) waitLine(t *testing.T, want string) {
	t.Helper()
	for {
		select {
		case l, ok := <-o.ch:
			if !ok {
				t.Fatalf("the output ended without %q:\n%s", want, strings.Join(o.all, "\n"))
			}
			o.all = append(o.all, l)
			if strings.Contains(l, want) {
				return
			}
		case <-time.After(time.Minute):
			t.Fatalf("no %q after a minute: it hangs:\n%s", want, strings.Join(o.all, "\n"))
		}
	}
}

// rest reads the remaining lines until the output ends, or nothing comes
// for a minute (then waitExit reports the hang).
func (o *outLines) rest() string {
	for {
		select {
		case l, ok := <-o.ch:
			if !ok {
				return strings.Join(o.all, "\n")
			}
			o.all = append(o.all, l)
		case <-time.After(time.Minute):
			return strings.Join(o.all, "\n")
		}
	}
}

// waitExit waits for cmd and returns its exit code; a process still running
// after a minute is killed and fails the test (it hangs).
func waitExit(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatal("gwsync still running a minute later: it hangs")
		return -1
	}
}

// TestInterruptAtThePrompt: Ctrl-C while apply waits for "yes" cancels it
// at once (exit 1, nothing written), without the user pressing Enter.
func TestInterruptAtThePrompt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	g, srv := startSim(t, dir)
	s := newSubEnv(t, dir, srv.URL())
	writeKillSite(t, filepath.Join(dir, "site.yaml"), 2, "first")
	cmd := s.cmd("apply", "site.yaml")
	stdin, err := cmd.StdinPipe() // open, and never answered
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	out := startStreaming(t, cmd)
	before := g.Writes()
	out.waitLine(t, "Only 'yes' will be accepted")
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	text := out.rest()
	code := waitExit(t, cmd)
	if code != 1 {
		t.Errorf("exit %d, want 1\n%s", code, text)
	}
	if !strings.Contains(text, "Apply cancelled.") {
		t.Errorf("the output does not say the apply was cancelled:\n%s", text)
	}
	if n := g.Writes() - before; n != 0 {
		t.Errorf("%d writes after a cancelled prompt, want 0", n)
	}
}

// TestSecondInterruptStopsTheRollback: a first Ctrl-C mid-apply rolls back;
// a second one, while the rollback waits on a slow gateway, stops at once
// with exit 4 and the journal kept, and gwsync rollback then restores the
// gateway.
func TestSecondInterruptStopsTheRollback(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir, sitePath, g, srv, s := simWithFirstSite(t)
	cl := dialSim(t, srv)
	before, err := cl.ReadState(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	writeKillSite(t, sitePath, 40, "second")
	g.Faults().SetDelay(20*time.Millisecond, 0)
	cmd := s.cmd("apply", "site.yaml", "--auto-approve", "--parallelism", "1", "--timeout", "30s")
	lines := startStreaming(t, cmd)
	for i := 0; i < 5; i++ {
		lines.waitLine(t, "… done")
	}
	// Every answer now takes 20 s: the rollback's first undo waits.
	g.Faults().SetDelay(20*time.Second, 0)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	lines.waitLine(t, "Interrupted")
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	out := lines.rest()
	code := waitExit(t, cmd)
	if code != 4 {
		t.Fatalf("exit %d, want 4\n%s", code, out)
	}
	if !strings.Contains(out, "gwsync rollback") {
		t.Errorf("the output does not say to run gwsync rollback:\n%s", out)
	}
	if !applierHasJournal(dir) {
		t.Fatalf("no journal after the second interrupt")
	}
	g.Faults().SetDelay(0, 0)
	s.run(t, 0, "rollback", ".")
	after, err := cl.ReadState(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d := canonDiff(before, after); d != "" {
		t.Errorf("gateway after rollback differs from before the apply (-before +after):\n%s", d)
	}
}

func applierHasJournal(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, ".gwsync", "journal.jsonl"))
	return err == nil
}

// TestJournalAfterAKill is the operator's way out of a killed apply, end to
// end: plan warns while the journal exists; rollback refuses, naming it, a
// resource changed by hand since the kill, and writes nothing; --abandon
// ends the journal, records what was left, and apply runs again. The
// journal directory keeps itself out of git.
func TestJournalAfterAKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir, sitePath, g, srv, s := simWithFirstSite(t)

	writeKillSite(t, sitePath, 20, "second")
	g.Faults().SetDelay(20*time.Millisecond, 0)
	cmd := s.cmd("apply", "site.yaml", "--auto-approve", "--parallelism", "1")
	lines := startStreaming(t, cmd)
	for i := 0; i < 6; i++ {
		lines.waitLine(t, "… done")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	waitExit(t, cmd)
	g.Faults().SetDelay(0, 0)
	if !applierHasJournal(dir) {
		t.Fatal("no journal after a killed apply")
	}
	if b, err := os.ReadFile(filepath.Join(dir, ".gwsync", ".gitignore")); err != nil || !strings.Contains(string(b), "*") {
		t.Errorf(".gwsync/.gitignore: %q, %v; want it to ignore everything", b, err)
	}

	// plan warns; apply refuses.
	cmdPlan := s.cmd("plan", "site.yaml")
	out, _ := cmdPlan.CombinedOutput()
	if !strings.Contains(string(out), "Warning: an earlier apply did not finish") {
		t.Errorf("plan does not warn of the unfinished apply:\n%s", out)
	}
	s.run(t, 1, "apply", "site.yaml", "--auto-approve")

	// By hand: the first device the killed apply updated gets a new name.
	cl := dialSim(t, srv)
	const eui = "24E124136A000000"
	d, err := cl.GetDevice(context.Background(), eui)
	if err != nil {
		t.Fatal(err)
	}
	if d.Description != "second" {
		t.Fatalf("device %s: description %q: the killed apply had not updated it yet; the test proves nothing", eui, d.Description)
	}
	w := d.Write()
	w.DevEUI, w.Description = "", "fixed by hand"
	if err := cl.UpdateDevice(context.Background(), eui, w); err != nil {
		t.Fatal(err)
	}
	writes := g.Writes()
	text := s.run(t, 1, "rollback", ".")
	if !strings.Contains(text, "device."+eui) || !strings.Contains(text, "--force") {
		t.Errorf("rollback over a hand edit does not name device.%s and --force:\n%s", eui, text)
	}
	if n := g.Writes() - writes; n != 0 {
		t.Errorf("a refused rollback wrote %d times", n)
	}

	text = s.run(t, 0, "rollback", ".", "--abandon")
	if !strings.Contains(text, "Journal ended without a rollback") {
		t.Errorf("abandon says:\n%s", text)
	}
	if applierHasJournal(dir) {
		t.Error("the journal is still there after --abandon")
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".gwsync", "abandoned-*.json")); len(m) != 1 {
		t.Errorf("abandon records: %q, want one", m)
	}
	s.run(t, 0, "apply", "site.yaml", "--auto-approve")
}

// dialSim connects a client of its own to the simulated gateway of
// startSim, as a second operator would.
func dialSim(t *testing.T, srv *gwsim.Server) *nsapi.Client {
	t.Helper()
	cl, err := nsapi.Dial(context.Background(), nsapi.Config{Broker: srv.URL(), RequestTopic: "milesight-gateway/24E124FFFEF5A6A8/request",
		ResponseTopic: "milesight-gateway/24E124FFFEF5A6A8/response", GatewayEUI: "24E124FFFEF5A6A8", RequestTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// simWithFirstSite starts a simulated gateway on its own broker and applies
// a first site of 4 devices to it with the gwsync binary.
func simWithFirstSite(t *testing.T) (dir, sitePath string, g *gwsim.Gateway, srv *gwsim.Server, s *subEnv) {
	t.Helper()
	dir = t.TempDir()
	g, srv = startSim(t, dir)
	s = newSubEnv(t, dir, srv.URL())
	sitePath = filepath.Join(dir, "site.yaml")
	writeKillSite(t, sitePath, 4, "first")
	s.run(t, 0, "apply", "site.yaml", "--auto-approve")
	return dir, sitePath, g, srv, s
}

// TestLockAcrossMachines: two checkouts on two "machines" (their own HOME
// and TMPDIR) apply different sites to one gateway at once. The second
// waits for the first with --lock-timeout, plans again under the lock and
// applies; both end verified and the gateway holds the site applied last.
// With a lock kept on each machine, both wrote at once.
func TestLockAcrossMachines(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	g, srv := startSim(t, t.TempDir())
	machine := func(description string) *subEnv {
		dir := t.TempDir()
		writeKillSite(t, filepath.Join(dir, "site.yaml"), 30, description)
		s := newSubEnv(t, dir, srv.URL())
		s.env = append(s.env, "TMPDIR="+t.TempDir(), "HOME="+t.TempDir(), "USER=user-"+description)
		return s
	}
	a, b := machine("site-a"), machine("site-b")
	g.Faults().SetDelay(20*time.Millisecond, 5*time.Millisecond)
	first := a.cmd("apply", "site.yaml", "--auto-approve", "--parallelism", "2")
	var outA bytes.Buffer
	first.Stderr = io.Discard
	stdout, err := first.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		outA.WriteString(lines.Text() + "\n")
		if strings.Contains(lines.Text(), "… done") {
			break
		}
	}
	outB := b.run(t, 0, "apply", "site.yaml", "--auto-approve", "--lock-timeout", "60s")
	for lines.Scan() {
		outA.WriteString(lines.Text() + "\n")
	}
	if err := first.Wait(); err != nil {
		t.Fatalf("first apply: %v\n%s", err, outA.String())
	}
	if !strings.Contains(outB, "Waiting up to 1m0s for the gateway's lock, held by apply by user-site-a") || !strings.Contains(outB, "Verified") {
		t.Errorf("second machine: want a wait for the first, then a verified apply:\n%s", outB)
	}
	g.Faults().SetDelay(0, 0)
	// The gateway holds site B, as B planned it under the lock.
	if out := b.run(t, 0, "plan", "site.yaml", "--detailed-exitcode"); !strings.Contains(out, "No changes") {
		t.Errorf("site B after both applies:\n%s", out)
	}
	if out := a.run(t, 0, "unlock", "site.yaml"); !strings.Contains(out, "not locked") {
		t.Errorf("lock left after both applies:\n%s", out)
	}
}
