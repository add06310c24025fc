package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"github.com/gwsync/gwsync/applier"
	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/site"
)

// RollbackCmd is `gwsync rollback`: it finishes, from the journal, the
// rollback of an apply that did not complete (killed, or whose own
// rollback could not finish), and verifies the gateway is back in its
// state before that apply.
type RollbackCmd struct {
	Site      string `arg:"" optional:"" name:"site" default:"." help:"Site file or directory whose apply did not finish (default: the current folder)."`
	Force     bool   `name:"force" help:"Roll back also the resources that changed since the unfinished apply wrote them (by hand, or another tool); without it such a rollback is refused and names them."`
	Abandon   bool   `name:"abandon" help:"End the journal without undoing anything: the gateway is left as it is, and what was left is recorded in .gwsync/abandoned-<time>.json."`
	ConnFlags `embed:""`
}

// Run runs the command.
func (c *RollbackCmd) Run(env *Env) error {
	ctx := context.Background()
	env = inertStdout(env) // addresses and errors quote the gateway
	journalDir := journalDirOf(c.Site)
	if !applier.HasJournal(journalDir) {
		return withExit(ExitError, c.noJournal(ctx, env, journalDir))
	}
	// The site gives the connection when it still loads; flags and
	// GWSYNC_* work without it.
	conn, gw := siteConnection(env, c.Site, true)
	cl, closer, err := connect(ctx, env, c.ConnFlags, conn, gw)
	if err != nil {
		return withExit(ExitError, err)
	}
	defer closer()
	target := journalTarget(env, c.ConnFlags, conn, gw)
	if !c.Abandon {
		// Another gateway's journal is refused before its lock is taken:
		// nothing is written to the gateway at hand.
		if err := applier.CheckJournal(journalDir, target, c.Force); err != nil {
			return withExit(ExitError, err)
		}
	}
	// Not beside an apply, or another rollback, of this journal still
	// running on this machine.
	release, err := applier.HoldJournalDir(journalDir)
	if err != nil {
		return withExit(ExitError, err)
	}
	defer release()
	lock, tookOver, err := takeRollbackLock(ctx, env, cl, c.Site, journalDir)
	if err != nil {
		return err
	}
	if !tookOver && !c.Force && !c.Abandon && applier.HasJournal(journalDir) {
		releaseLock(ctx, env.Stderr, lock, c.Site)
		return withExit(ExitError, fmt.Errorf("journal %s (%s) is not the one of an interrupted apply on this gateway: "+
			"no lock on the gateway names it, so nothing was written. A journal planted in a checkout, copied from another gateway, "+
			"or left after its lock was broken would look like this. Review it; to roll back from it anyway, pass --force; "+
			"to end it without writing, pass --abandon", journalDir, cmp.Or(applier.JournalID(journalDir), "no id")))
	}
	keepLock := true // released only when the journal is ended
	defer func() {
		if keepLock {
			lock.Leave() // its lease runs out: a rollback from the journal takes it over
		} else {
			releaseLock(ctx, env.Stderr, lock, c.Site)
		}
	}()

	if c.Abandon {
		rec, path, err := applier.Abandon(ctx, cl, journalDir)
		if err != nil {
			return withExit(ExitError, err)
		}
		keepLock = false
		fmt.Fprintf(env.Stdout, "Journal ended without a rollback; the gateway is left as it is. Writes left in place (%d):\n", len(rec.Left))
		for _, l := range rec.Left {
			fmt.Fprintf(env.Stdout, "  %s\n", l)
		}
		fmt.Fprintf(env.Stdout, "Difference from the state before that apply:\n%s\nRecorded in %s. Run gwsync plan %s to see what the site still changes.\n", indent(rec.Remaining), path, c.Site)
		return nil
	}

	prog := newProgress(env)
	opts := applier.Options{Parallelism: applier.DefaultParallelism, Progress: prog.event, Force: c.Force, Target: target, Lock: lock}
	if debugf(env.logger(c.Verbose)) != nil {
		opts.Logf = prog.logf
	}
	res, err := applier.Rollback(ctx, cl, journalDir, opts)
	prog.finish()
	printUndo(env.Stdout, res)
	var inc *applier.RollbackIncompleteError
	var moved *applier.MovedError
	var lost *applier.LockLostError
	switch {
	case errors.As(err, &moved):
		return withExit(ExitError, err)
	case errors.As(err, &lost):
		fmt.Fprintln(env.Stdout, "Rollback INCOMPLETE: this rollback lost the gateway's lock, so it stopped writing: another run may be writing to the gateway now.")
		return withExit(ExitPartial, fmt.Errorf("%w; run gwsync unlock %s to see who holds the lock (answer no to keep it); once that run is over, gwsync plan %s shows where the gateway stands", err, c.Site, c.Site))
	case err == nil:
		keepLock = false
		n := countUndone(res)
		writes := "writes"
		if n == 1 {
			writes = "write"
		}
		fmt.Fprintf(env.Stdout, "Rollback complete: %d %s undone; the gateway was re-read and equals its state before the apply.\n", n, writes)
		return nil
	case errors.As(err, &inc):
		if lerr := lock.SetState(context.WithoutCancel(ctx), applier.LockRollbackIncomplete, ""); lerr != nil {
			fmt.Fprintf(env.Stderr, "warning: %v\n", lerr)
		}
		fmt.Fprintln(env.Stdout, "Rollback INCOMPLETE: the gateway is not verified back in its state before the apply:")
		fmt.Fprintln(env.Stdout, indent(res.Remaining))
		if refusedUndos(res) {
			return withExit(ExitPartial, fmt.Errorf("%w; the gateway refused the undos marked FAILED above, and running the rollback again will not change that: put those resources right by hand and run gwsync rollback %s again, or end the journal with gwsync rollback --abandon %s", err, c.Site, c.Site))
		}
		return withExit(ExitPartial, fmt.Errorf("%w; run gwsync rollback %s again when the gateway answers (or end the journal with --abandon)", err, c.Site))
	default:
		// Refused before any undo (a journal that does not open, under
		// --force): a lock this run took for itself, over no interrupted
		// run's, goes; one taken over keeps naming the journal.
		if !tookOver && (res == nil || !res.RolledBack) {
			keepLock = false
		}
		return withExit(ExitError, err)
	}
}

// noJournal is the error of a rollback with no journal here. When the
// gateway can be read and its lock is held, the run that holds it may have
// written: its journal is on the machine that ran it (for a CI run, in the
// run's artifacts), and the error says so and names the ways forward.
func (c *RollbackCmd) noJournal(ctx context.Context, env *Env, journalDir string) error {
	none := fmt.Errorf("%s: nothing to roll back: no unfinished apply (no journal in %s)", c.Site, journalDir)
	conn, gw := siteConnection(env, c.Site, false)
	cl, closer, err := connect(ctx, env, c.ConnFlags, conn, gw)
	if err != nil {
		return none // no gateway to ask: what is here is all there is to say
	}
	defer closer()
	h, err := applier.ReadLock(ctx, cl)
	if err != nil {
		return fmt.Errorf("%w; the gateway's lock could not be read: %w", none, err)
	}
	if h == nil {
		return none
	}
	return fmt.Errorf("%s: no journal here (%s), but the gateway's lock is held by %s: that run may have written to the gateway, "+
		"and its journal is where it ran (for a CI run, in the run's artifacts). To undo what it wrote, put that journal in %s "+
		"and run gwsync rollback %s; if the run is gone and what it wrote may stay, break the lock with gwsync unlock %s, "+
		"then gwsync plan %s shows where the gateway stands", c.Site, journalDir, h.Holder(), journalDir, c.Site, c.Site, c.Site)
}

// journalTarget names, for the journal, the gateway and broker a command
// writes to: --gateway-eui or the site's EUI, and the broker URL (the
// applier strips its user and password before writing it).
func journalTarget(env *Env, f ConnFlags, conn *site.Connection, gw site.Gateway) applier.Target {
	c := resolve(env, f, conn, gw)
	return applier.Target{GatewayEUI: c.gatewayEUI, Broker: c.broker}
}

// journalSummary says, for a message about the unfinished apply's journal
// in dir, which run wrote it, for which gateway and when, or that it does
// not read as a journal gwsync wrote (a file planted in a checkout, a link,
// a damaged begin record): then it is to be looked at, not rolled back.
func journalSummary(dir string) string {
	info, err := applier.ReadJournalInfo(dir)
	if err != nil {
		return fmt.Sprintf("; it does not read as a journal gwsync wrote: %v; look at it before any rollback", err)
	}
	s := "; run " + info.ID
	if info.ID == "" {
		s = "; written by an earlier gwsync"
	}
	if info.GatewayEUI != "" {
		s += ", gateway " + info.GatewayEUI
	}
	if info.Started != "" {
		s += ", started " + info.Started
	}
	return s
}

func countUndone(res *applier.Result) int {
	n := 0
	for _, u := range res.Undone {
		if u.Err == nil {
			n++
		}
	}
	return n
}

// refusedUndos says whether an undo failed with an error answer that will
// not change by trying again (as opposed to a lost answer).
func refusedUndos(res *applier.Result) bool {
	for _, u := range res.Undone {
		var re *nsapi.RemoteError
		if u.Err != nil && errors.As(u.Err, &re) {
			return true
		}
	}
	return false
}
