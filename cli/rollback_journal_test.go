package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gwsync/gwsync/applier"
	"github.com/gwsync/gwsync/gwsim"
	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
)

// blindReads is a gateway whose state reads are refused: an apply's
// verification read fails, so its journal is kept.
type blindReads struct{ *nsapi.Client }

func (blindReads) ReadState(context.Context) (*nsapi.State, error) {
	return nil, &nsapi.RemoteError{Method: "GET", URL: "/api/urprofiles", Code: nsapi.CodeParameter, Message: "injected"}
}

// TestRollbackRefusesAnotherGatewaysJournal: a journal an apply to gateway
// A left beside a site for gateway B is refused by gwsync rollback, naming
// both, before any write; the site of gateway A rolls it back.
func TestRollbackRefusesAnotherGatewaysJournal(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	const euiA, euiB = "24E124FFFEF5A6A8", "24E124FFFEF5A6B9"
	dir, state, journal := unverifiedApply(t, euiA, true)

	// Gateway B, on its own simulator.
	stateB := filepath.Join(dir, "gw-b.json")
	gb, err := gwsim.OpenURL(stateB, gwsim.Options{EUI: euiB})
	if err != nil {
		t.Fatal(err)
	}
	gb.Close()
	wasB, _ := os.ReadFile(stateB)
	siteB := filepath.Join(dir, "b.yaml")
	if err := os.WriteFile(siteB, []byte("version: 1\ngateway:\n  eui: "+euiB+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := envOf(nil)
	err = (&RollbackCmd{Site: siteB, ConnFlags: ConnFlags{Broker: "sim://" + stateB, Timeout: 2 * time.Second}}).Run(env)
	var me *applier.JournalMismatchError
	if !errors.As(err, &me) || !strings.Contains(err.Error(), euiA) || !strings.Contains(err.Error(), euiB) {
		t.Fatalf("rollback of gateway A's journal with gateway B's site: %v; want a refusal naming both", err)
	}
	if !applier.HasJournal(journal) {
		t.Fatal("the refused rollback removed the journal")
	}
	if isB, _ := os.ReadFile(stateB); string(isB) != string(wasB) {
		t.Error("the refused rollback changed gateway B")
	}

	siteA := filepath.Join(dir, "a.yaml")
	if err := os.WriteFile(siteA, []byte("version: 1\ngateway:\n  eui: "+euiA+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env = envOf(nil)
	if err := (&RollbackCmd{Site: siteA, ConnFlags: ConnFlags{Broker: "sim://" + state, Timeout: 2 * time.Second}}).Run(env); err != nil {
		t.Fatalf("rollback with gateway A's site: %v\n%s", err, env.Stdout)
	}
	if !strings.Contains(env.Stdout.(interface{ String() string }).String(), "Rollback complete") {
		t.Errorf("output:\n%s", env.Stdout)
	}
}

// TestJournalSummary: apply's refusal names the journal's run, gateway and
// start, and says when the file does not read as gwsync's journal.
func TestJournalSummary(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".gwsync")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, applier.JournalFile), []byte(`{"t":"begin","plan":{"gateway_eui":"24E124FFFEF5A6A8"}}`+"\n"+`{"t":"intent"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if s := journalSummary(dir); !strings.Contains(s, "earlier gwsync") || !strings.Contains(s, "24E124FFFEF5A6A8") {
		t.Errorf("summary of a version 1 journal: %q", s)
	}
	if err := os.WriteFile(filepath.Join(dir, applier.JournalFile), []byte(`{"t":"begin","v":2,"journal_id":"x","sum":"0000000000000000"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if s := journalSummary(dir); !strings.Contains(s, "does not read as a journal gwsync wrote") || !strings.Contains(s, "checksum") {
		t.Errorf("summary of a planted journal: %q", s)
	}
}

// TestRollbackRefusesAJournalNoLockNames: a journal of this very gateway
// that no lock on the gateway names (planted in a checkout, or left after
// its lock was broken) is refused by gwsync rollback before any write; it
// is rolled back only with --force.
func TestRollbackRefusesAJournalNoLockNames(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	const eui = "24E124FFFEF5A6A8"
	// No lock: the journal is not that of an apply the gateway knows of.
	dir, state, journal := unverifiedApply(t, eui, false)
	was, _ := os.ReadFile(state)

	site := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(site, []byte("version: 1\ngateway:\n  eui: "+eui+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := envOf(nil)
	err := (&RollbackCmd{Site: site, ConnFlags: ConnFlags{Broker: "sim://" + state, Timeout: 2 * time.Second}}).Run(env)
	if err == nil || !strings.Contains(err.Error(), "no lock on the gateway names it") || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("rollback of a journal no lock names: %v; want a refusal pointing to --force", err)
	}
	if !applier.HasJournal(journal) {
		t.Fatal("the refused rollback removed the journal")
	}
	if is, _ := os.ReadFile(state); !strings.Contains(string(is), `"planted"`) || !strings.Contains(string(was), `"planted"`) {
		t.Error("the refused rollback undid the planted profile")
	}

	env = envOf(nil)
	if err := (&RollbackCmd{Site: site, Force: true, ConnFlags: ConnFlags{Broker: "sim://" + state, Timeout: 2 * time.Second}}).Run(env); err != nil {
		t.Fatalf("rollback --force: %v\n%s", err, env.Stdout)
	}
	if !strings.Contains(env.Stdout.(interface{ String() string }).String(), "Rollback complete") {
		t.Errorf("output:\n%s", env.Stdout)
	}
}

// unverifiedApply applies, to a new simulated gateway eui, a plan creating
// one profile, and leaves it unverified (the verification read is refused)
// with its journal kept, as a killed or cut-off apply does. With lock, the
// apply holds the gateway's lock as gwsync apply does, and keeps it, naming
// its journal. It returns the site folder, the gateway's state file and
// the journal folder.
func unverifiedApply(t *testing.T, eui string, lock bool) (dir, state, journal string) {
	t.Helper()
	ctx := context.Background()
	dir = t.TempDir()
	state = filepath.Join(dir, "gw.json")
	g, err := gwsim.OpenURL(state, gwsim.Options{EUI: eui})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	cl, err := nsapi.New(ctx, g.Transport(), nsapi.Config{GatewayEUI: eui, RequestTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	before, err := cl.ReadState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var prof nsapi.Profile
	for _, p := range before.Profiles {
		if p.Name == "ClassA-OTAA" {
			prof = p
		}
	}
	prof.Name, prof.Profile.ProfileID = "planted", ""
	p := &plan.Plan{FormatVersion: plan.FormatVersion, GatewayEUI: eui, Changes: []plan.Change{{Address: "profile.planted", Kind: plan.KindProfile, Name: "planted", Action: plan.Create, After: &plan.Object{Profile: &prof}}}}
	journal = filepath.Join(dir, ".gwsync")
	opts := applier.Options{Before: before, JournalDir: journal,
		Verify: func(context.Context, *nsapi.State) error { return nil }, Target: applier.Target{GatewayEUI: eui, Broker: "sim://" + state}}
	if lock {
		if opts.Lock, err = applier.AcquireLock(ctx, cl, applier.NewLockRecord(nil, "apply", dir, ""), applier.LockOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = applier.Apply(ctx, blindReads{cl}, p, opts)
	var unverified *applier.UnverifiedError
	if !errors.As(err, &unverified) || !applier.HasJournal(journal) {
		t.Fatalf("apply: %v; want an unverified apply with its journal kept", err)
	}
	return dir, state, journal
}
