package faultcampaign

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gwsync/gwsync/applier"
	"github.com/gwsync/gwsync/cli"
	"github.com/gwsync/gwsync/gwsim"
	"github.com/gwsync/gwsync/nsapi"
)

// Outcomes of a trial.
const (
	Restored  = "restored"  // the gateway ended in its state before the apply
	Converged = "converged" // the gateway ended in the state a fault-free apply reaches
	Wrong     = "wrong"     // the gateway ended elsewhere than the reported outcome says
	Stuck     = "stuck"     // the journal could not be finished by gwsync rollback
	NoOp      = "no-op"     // the edit planned no write: nothing to inject a fault into
)

// Exit codes of gwsync apply, as cli/apply.go reports them.
const (
	exitOK      = 0
	exitError   = 1
	exitRolled  = 3
	exitPartial = 4
)

// Trial is one trial's settings.
type Trial struct {
	Seed        uint64
	Kind        string
	Parallelism int
	Dir         string        // an empty folder of its own
	Bin         string        // the gwsync binary, for the SIGKILL kinds
	Timeout     time.Duration // the request timeout of the run with faults

	quirks gwsim.Quirks
}

// Report is how a trial ended.
type Report struct {
	Seed        uint64
	Kind        string
	Parallelism int
	Quirks      gwsim.Quirks // the gateway's reading of the spec's contradictions
	Outcome     string
	Exit        int      // apply's exit code (-1 killed)
	Faults      []string // what fired
	Fired       bool     // the trial's fault struck (a kill killed)
	HalfWay     bool     // apply left the gateway neither before nor applied (exit 4, killed)
	Edits       []string
	Detail      []string // why a trial is wrong or stuck; never a key in clear
}

// secondApp is the application a replace moves devices to, besides the
// factory one ("cloud", id 1).
const secondApp = "hvac"

// Run runs one trial: start site applied without faults, the edit applied
// without faults on a copy (the wanted state), the edit applied with the
// trial's fault, then judged.
func Run(ctx context.Context, tr Trial) *Report {
	rep := &Report{Seed: tr.Seed, Kind: tr.Kind, Parallelism: tr.Parallelism}
	// One trial in three talks to a gateway that answers exactly as the
	// spec's examples show (URL spellings, field names, string numbers).
	if rand.New(rand.NewPCG(tr.Seed, 0x9a1c)).IntN(3) == 0 {
		rep.Quirks = gwsim.QuirksSpecExamples
	}
	tr.quirks = rep.Quirks
	gen := NewGenerator(tr.Seed)
	scrub := func(s string) string {
		for _, v := range gen.Secrets() {
			s = strings.ReplaceAll(s, v, "(sensitive value)")
			s = strings.ReplaceAll(s, strings.ToUpper(v), "(sensitive value)")
		}
		return s
	}
	fail := func(outcome string, format string, args ...any) *Report {
		rep.Outcome = outcome
		msg := fmt.Sprintf(format, args...)
		if scrub(msg) != msg {
			rep.Detail = append(rep.Detail, "a key appeared in clear in gwsync's output (shown here as (sensitive value))")
		}
		for _, l := range strings.Split(msg, "\n") {
			rep.Detail = append(rep.Detail, scrub(l))
		}
		return rep
	}
	// leaked says whether gwsync printed a key in clear.
	leaked := func(out string) bool { return out != "" && scrub(out) != out }

	start := gen.Start([]string{"cloud", secondApp})
	startSite, err := gen.Write(start, filepath.Join(tr.Dir, "start"))
	if err != nil {
		return fail(Wrong, "harness: %v", err)
	}
	getenv := func(k string) string {
		if k == "NO_COLOR" {
			return "1"
		}
		return gen.Secrets()[k]
	}

	// The starting state: factory, a second application, the start site.
	beforePath := filepath.Join(tr.Dir, "before.json")
	if err := factory(beforePath); err != nil {
		return fail(Wrong, "harness: %v", err)
	}
	a := &cliRun{getenv: getenv, par: tr.Parallelism, timeout: tr.Timeout, quirks: tr.quirks}
	if out := a.apply(beforePath, startSite); out.exit != exitOK {
		return fail(Wrong, "starting apply without faults: exit %d:\n%s", out.exit, out.printed)
	} else if leaked(out.printed) {
		return fail(Wrong, "starting apply without faults printed a key in clear:\n%s", out.printed)
	}
	if probs := CheckModel(start, mustRead(beforePath)); len(probs) > 0 {
		return fail(Wrong, "starting apply without faults does not reach the site:\n%s", strings.Join(probs, "\n"))
	}
	before := mustRead(beforePath)

	// The wanted state: the edit applied without faults, on a copy. A
	// fault inside the rollback needs a write before the first fault: an
	// edit of fewer writes is drawn again (twice at most).
	wantPath := filepath.Join(tr.Dir, "want.json")
	var edit *Model
	var editSite string
	var clean applyOut
	var want State
	for range 3 {
		edit = gen.Edit(start)
		rep.Edits = gen.Edits
		// Each copy of the gateway gets the site folder a user would have:
		// the edit over the started site, with what gwsync keeps beside it
		// from the start's apply (its record of write-only values).
		if editSite, err = gen.Write(edit, filepath.Join(tr.Dir, "edit")); err != nil {
			return fail(Wrong, "harness: %v", err)
		}
		wantSite, err := gen.Write(edit, filepath.Join(tr.Dir, "want-site"))
		if err != nil {
			return fail(Wrong, "harness: %v", err)
		}
		for _, to := range []string{editSite, wantSite} {
			if err := carryRecord(filepath.Dir(startSite), filepath.Dir(to)); err != nil {
				return fail(Wrong, "harness: %v", err)
			}
		}
		if err := copyFile(beforePath, wantPath); err != nil {
			return fail(Wrong, "harness: %v", err)
		}
		clean = a.apply(wantPath, wantSite)
		want = mustRead(wantPath)
		if clean.exit != exitOK || clean.mitm.Writes() >= minWrites(tr.Kind) {
			break
		}
	}
	if clean.exit != exitOK {
		return fail(Wrong, "edit applied without faults: exit %d:\n%s\n%s", clean.exit, clean.printed, strings.Join(Diff(before, want, 12), "\n"))
	}
	if leaked(clean.printed) {
		return fail(Wrong, "edit applied without faults printed a key in clear:\n%s", clean.printed)
	}
	if probs := CheckModel(edit, want); len(probs) > 0 {
		return fail(Wrong, "edit applied without faults does not reach the site:\n%s", strings.Join(probs, "\n"))
	}
	writes, reads := clean.mitm.Writes(), clean.mitm.ReadsAfterFirstWrite()
	if writes == 0 {
		rep.Outcome = NoOp
		return rep
	}

	// The trial: the edit applied with the fault, on another copy.
	trialPath := filepath.Join(tr.Dir, "trial.json")
	if err := copyFile(beforePath, trialPath); err != nil {
		return fail(Wrong, "harness: %v", err)
	}
	fr := rand.New(rand.NewPCG(tr.Seed, 0x5eed))
	var exit int
	var forwarded int
	var printed string                // what gwsync shows the operator of the apply's ending
	var followUp func() (int, string) // the fault-free rollback after exit 4 or a kill
	switch tr.Kind {
	case KindKillApply, KindKillRollback:
		ko := killRun(ctx, tr, fr, trialPath, editSite, writes, gen.Secrets())
		exit, forwarded, rep.Faults, rep.Fired = ko.exit, ko.performed, ko.fired, ko.killed
		if ko.err != nil {
			return fail(Wrong, "harness: %v", ko.err)
		}
		printed = ko.output
		followUp = func() (int, string) { return cliRollback(ctx, tr, trialPath, editSite, gen.Secrets()) }
	default:
		out := a.apply(trialPath, editSite, chooseFaults(fr, tr.Kind, writes, reads)...)
		exit, forwarded, rep.Faults, printed = out.exit, out.mitm.Forwarded(), out.mitm.Fired(), out.printed
		rep.Fired = len(rep.Faults) > 0
		if !rep.Fired {
			rep.Faults = []string{"(no fault fired)"}
		}
		followUp = func() (int, string) { return a.rollback(trialPath, editSite) }
	}
	rep.Exit = exit
	got := mustRead(trialPath)
	if leaked(printed) {
		return fail(Wrong, "apply's report holds a key in clear:\n%s", printed)
	}
	if f := fileWithKey(filepath.Join(tr.Dir, "edit", ".gwsync"), leaked); f != "" {
		return fail(Wrong, "the journal file %s holds a key in clear", f)
	}

	// What gwsync said, for the reader of a wrong trial.
	said := func() string { return "gwsync said:\n    " + strings.Join(lastLines(printed, 6), "\n    ") }
	switch exit {
	case exitOK:
		if d := Diff(want, got, 12); len(d) > 0 {
			return fail(Wrong, "exit 0 (applied), but the gateway differs from a fault-free apply:\n%s\n%s", strings.Join(d, "\n"), said())
		}
		rep.Outcome = Converged
	case exitRolled:
		if d := Diff(before, got, 12); len(d) > 0 {
			return fail(Wrong, "exit 3 (rolled back), but the gateway differs from its state before:\n%s\n%s", strings.Join(d, "\n"), said())
		}
		rep.Outcome = Restored
	case exitError:
		if !rep.Fired && forwarded == 0 {
			return fail(Wrong, "exit 1 before any write, with no fault injected: the apply refused to start:\n%s", printed)
		}
		if forwarded > 0 {
			return fail(Wrong, "exit 1 (nothing written), but %d writes reached the gateway:\n%s\n%s", forwarded, strings.Join(Diff(before, got, 12), "\n"), said())
		}
		if d := Diff(before, got, 12); len(d) > 0 {
			return fail(Wrong, "exit 1 (nothing written), but the gateway differs from its state before:\n%s", strings.Join(d, "\n"))
		}
		rep.Outcome = Restored
	default: // exitPartial, or killed (-1)
		if exit < 0 && !applier.HasJournal(filepath.Join(tr.Dir, "edit", ".gwsync")) {
			// Killed before the journal's first record: nothing may have
			// changed, and there is nothing to roll back.
			if d := Diff(before, got, 12); len(d) > 0 {
				return fail(Wrong, "apply killed before it kept a journal, but the gateway differs from its state before:\n%s", strings.Join(d, "\n"))
			}
			rep.Outcome = Restored
			break
		}
		rep.HalfWay = len(Diff(before, got, 1)) > 0 && len(Diff(want, got, 1)) > 0
		code, msg := followUp()
		got = mustRead(trialPath)
		if leaked(msg) {
			return fail(Wrong, "gwsync rollback printed a key in clear:\n%s", msg)
		}
		if code != 0 {
			return fail(Stuck, "apply exit %d; gwsync rollback (no fault) then failed: %s\n%s", exit, msg, strings.Join(Diff(before, got, 12), "\n"))
		}
		if d := Diff(before, got, 12); len(d) > 0 {
			return fail(Wrong, "apply exit %d; gwsync rollback (no fault) succeeded, but the gateway differs from its state before:\n%s\ngwsync rollback said:\n    %s",
				exit, strings.Join(d, "\n"), strings.Join(lastLines(msg, 6), "\n    "))
		}
		rep.Outcome = Restored
	}
	return rep
}

// minWrites is the fewest writes an edit needs for a fault of kind to
// strike where it means something.
func minWrites(kind string) int {
	if kind == KindRollbackFault || kind == KindKillRollback {
		return 2
	}
	return 1
}

// chooseFaults picks the fault of kind from the seed's fault stream:
// writes and reads are what the fault-free apply of the edit sent.
func chooseFaults(r *rand.Rand, kind string, writes, reads int) []*Fault {
	noWrite := []int{nsapi.CodeParameter, nsapi.CodeNotFound, nsapi.CodeAlreadyExists, nsapi.CodeFailedPrecondition, nsapi.CodeInternal}
	afterWrite := []int{nsapi.CodeUnknown, nsapi.CodeInternal, nsapi.CodeRequestTimeout}
	at := 1 + r.IntN(writes)
	switch kind {
	case KindCodeNoWrite:
		return []*Fault{{Kind: kind, At: at, Code: noWrite[r.IntN(len(noWrite))]}}
	case KindCodeAfterWrite:
		return []*Fault{{Kind: kind, At: at, Code: afterWrite[r.IntN(len(afterWrite))]}}
	case KindLostRead:
		return []*Fault{{Kind: kind, At: 1 + r.IntN(max(reads, 1))}}
	case KindDisconnect:
		return []*Fault{{Kind: kind, At: at, Performed: r.IntN(2) == 0}}
	case KindRollbackFault:
		// After at least one write, so that the rollback has one to undo.
		first := &Fault{Kind: kind, At: min(2+r.IntN(max(writes-1, 1)), writes), Code: noWrite[r.IntN(len(noWrite))]}
		kinds := []string{KindCodeNoWrite, KindCodeAfterWrite, KindLostAnswer, KindLostRequest, KindDisconnect, KindLostRead}
		second := chooseFaults(r, kinds[r.IntN(len(kinds))], 3, 3)[0]
		second.After = first
		return []*Fault{first, second}
	}
	return []*Fault{{Kind: kind, At: at}}
}

// cliRun runs gwsync's own commands in-process (cli.Run) on a sim://
// gateway, with the MITM in front of every connection they open.
type cliRun struct {
	getenv  func(string) string
	par     int
	timeout time.Duration
	quirks  gwsim.Quirks
}

type applyOut struct {
	exit    int
	printed string // what the command printed
	mitm    *MITM
}

// lockedBuffer is a command's output: several goroutines print.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// calmTimeout is the request timeout of the runs without faults: long,
// so that a busy machine does not fault them.
const calmTimeout = 10 * time.Second

// run runs gwsync args against the gateway kept in statePath and returns
// its exit code and output. Runs with faults use the trial's short
// timeout, so that a lost answer costs milliseconds.
func (c *cliRun) run(m *MITM, statePath string, args ...string) (int, string) {
	timeout := calmTimeout
	if m != nil && len(m.faults) > 0 {
		timeout = c.timeout
	}
	broker := "sim://" + statePath
	if c.quirks != "" {
		broker += "?quirks=" + string(c.quirks)
	}
	var out lockedBuffer
	env := &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out, Getenv: c.getenv}
	if m != nil {
		env.WrapTransport = m.Wrap
	}
	code := cli.Run(env, append(args, "--broker", broker, "--timeout", timeout.String()))
	return code, out.String()
}

// apply runs gwsync apply SITE --auto-approve with faults.
func (c *cliRun) apply(statePath, sitePath string, faults ...*Fault) applyOut {
	m := NewMITM(faults...)
	code, out := c.run(m, statePath, "apply", sitePath, "--auto-approve", "--parallelism", fmt.Sprint(c.par))
	return applyOut{exit: code, printed: out, mitm: m}
}

// rollback runs gwsync rollback SITE without faults.
func (c *cliRun) rollback(statePath, sitePath string) (int, string) {
	return c.run(nil, statePath, "rollback", sitePath)
}

// lastLines is the last n non-blank lines of s.
func lastLines(s string, n int) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out[max(len(out)-n, 0):]
}

// fileWithKey is the first file under dir whose content leaked says holds
// a key, or "".
func fileWithKey(dir string, leaked func(string) bool) string {
	found := ""
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || found != "" {
			return nil
		}
		if b, err := os.ReadFile(path); err == nil && leaked(string(b)) {
			found = path
		}
		return nil
	})
	return found
}

// factory writes a factory gateway's state file with a second application.
func factory(path string) error {
	g, err := gwsim.Open(path, gwsim.Options{Applications: []gwsim.Application{{Name: secondApp}}})
	if err != nil {
		return err
	}
	return g.Close()
}

// carryRecord copies the record gwsync keeps in from/.gwsync of what it
// wrote (applier.WrittenFile) to to/.gwsync, as a site folder keeps it
// from one apply to the next; a folder without one gets none.
func carryRecord(from, to string) error {
	dst := filepath.Join(to, ".gwsync", applier.WrittenFile)
	b, err := os.ReadFile(filepath.Join(from, ".gwsync", applier.WrittenFile))
	if errors.Is(err, os.ErrNotExist) {
		return os.RemoveAll(dst)
	}
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o600)
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o600)
}

// mustRead reads a state file; an unreadable one is a state holding only
// the read error, which differs from every real one and shows the error.
func mustRead(path string) State {
	st, err := ReadState(path)
	if err != nil {
		return State{"error": {"": {"read": err.Error()}}}
	}
	return st
}

// ---- the gwsync binary, for the SIGKILL kinds ----

type killOut struct {
	exit      int // -1 when killed
	performed int // writes the gateway performed
	fired     []string
	killed    bool
	output    string // what gwsync apply printed
	err       error
}

// logLine is gwsim's request log line: "gwsim: METHOD URL: ok|code N|fault: …".
var logLine = regexp.MustCompile(`^gwsim: (POST|PUT|DELETE) (\S+): (.*)$`)

// killRun serves the gateway in trialPath on an embedded broker, runs
// gwsync apply as a subprocess and SIGKILLs it when the gateway has
// performed the chosen write: the At-th write of the apply
// (KindKillApply), or the At-th write after an injected code 3 that
// starts the rollback (KindKillRollback).
func killRun(ctx context.Context, tr Trial, r *rand.Rand, trialPath, sitePath string, writes int, secrets map[string]string) (out killOut) {
	var stdout bytes.Buffer
	defer func() { out.output = stdout.String() }()
	killAt := 1 + r.IntN(writes)
	failAt := 0
	if tr.Kind == KindKillRollback {
		failAt = min(2+r.IntN(max(writes-1, 1)), writes) // a write to undo comes first
		killAt = 1 + r.IntN(max(failAt-1, 1))            // the rollback undoes at least the writes before
	}
	var mu sync.Mutex
	var cmd *exec.Cmd
	performed, afterFault, faulted, killed := 0, 0, false, false
	kill := func(why string) {
		if !killed && cmd != nil && cmd.Process != nil {
			killed = true
			_ = cmd.Process.Signal(syscall.SIGKILL)
			out.fired = append(out.fired, why)
		}
	}
	logf := func(format string, args ...any) {
		m := logLine.FindStringSubmatch(fmt.Sprintf(format, args...))
		if m == nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		switch {
		case strings.HasPrefix(m[3], "fault:"):
			faulted = true
			out.fired = append(out.fired, fmt.Sprintf("code 3 at write #%d: %s %s", failAt, m[1], m[2]))
		case m[3] == "ok":
			performed++
			if faulted {
				afterFault++
			}
			if tr.Kind == KindKillApply && performed == killAt {
				kill(fmt.Sprintf("SIGKILL after write #%d: %s %s", killAt, m[1], m[2]))
			}
			if tr.Kind == KindKillRollback && faulted && afterFault == killAt {
				kill(fmt.Sprintf("SIGKILL after rollback write #%d: %s %s", killAt, m[1], m[2]))
			}
		}
	}
	g, err := gwsim.Open(trialPath, gwsim.Options{Logf: logf, Quirks: tr.quirks})
	if err != nil {
		out.err = err
		return out
	}
	defer g.Close()
	if failAt > 0 {
		g.Faults().Add(gwsim.Fault{Nth: failAt, Code: nsapi.CodeParameter})
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv, err := gwsim.ServeEmbedded(sctx, g, "127.0.0.1:0", "milesight-gateway/{eui}/request", "milesight-gateway/{eui}/response")
	if err != nil {
		out.err = err
		return out
	}
	defer srv.Close()
	mu.Lock()
	cmd = command(ctx, tr, secrets, &stdout, "apply", sitePath, "--auto-approve", "--broker", srv.URL(),
		"--parallelism", fmt.Sprint(tr.Parallelism))
	err = cmd.Start()
	mu.Unlock()
	if err != nil {
		out.err = err
		return out
	}
	werr := cmd.Wait()
	mu.Lock()
	defer mu.Unlock()
	out.performed = performed
	out.exit = cmd.ProcessState.ExitCode()
	var ee *exec.ExitError
	if werr != nil && !errors.As(werr, &ee) {
		out.err = werr
	}
	out.killed = killed
	if !killed {
		out.fired = append(out.fired, "(not killed: the apply ended first)")
	}
	return out
}

// cliRollback runs gwsync rollback SITE on the gateway in trialPath,
// without faults.
func cliRollback(ctx context.Context, tr Trial, trialPath, sitePath string, secrets map[string]string) (int, string) {
	g, err := gwsim.Open(trialPath, gwsim.Options{Quirks: tr.quirks})
	if err != nil {
		return 1, err.Error()
	}
	defer g.Close()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv, err := gwsim.ServeEmbedded(sctx, g, "127.0.0.1:0", "milesight-gateway/{eui}/request", "milesight-gateway/{eui}/response")
	if err != nil {
		return 1, err.Error()
	}
	defer srv.Close()
	var stdout bytes.Buffer
	cmd := command(ctx, tr, secrets, &stdout, "rollback", sitePath, "--broker", srv.URL())
	err = cmd.Run()
	code := cmd.ProcessState.ExitCode()
	if code == 0 && err != nil {
		code = 1
	}
	return code, strings.TrimSpace(stdout.String())
}

// command is a gwsync subprocess with the trial's keys in its environment
// and its own temporary folder.
func command(ctx context.Context, tr Trial, secrets map[string]string, out *bytes.Buffer, args ...string) *exec.Cmd {
	args = append(args, "--timeout", calmTimeout.String()) // no lost answers here
	cmd := exec.CommandContext(ctx, tr.Bin, args...)
	tmp := filepath.Join(tr.Dir, "tmp")
	_ = os.MkdirAll(tmp, 0o700)
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + tr.Dir, "TMPDIR=" + tmp, "NO_COLOR=1"}
	names := make([]string, 0, len(secrets))
	for k := range secrets {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		env = append(env, k+"="+secrets[k])
	}
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Dir = tr.Dir
	return cmd
}
