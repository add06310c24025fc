package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gwsync/gwsync/applier"
	"github.com/gwsync/gwsync/internal/reserved"
	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/planner"
)

// The lock every machine sees (applier.AcquireLock) is taken on the
// gateway, through the client that read the state for the plan. A state
// read before the lock is current only when no other run held the lock
// then and the gateway's record of write-only values, which every apply
// that writes rewrites before it releases the lock, is unchanged since:
// otherwise the gateway is read and the site planned again, under the lock.

// takeLock takes the gateway's lock for run (cmd "apply"), waiting up to
// timeout for another run's; it plans again when the state run was planned
// from may have moved meanwhile. A held lock is an exit-1 error that names
// the holder and the ways forward.
func takeLock(ctx context.Context, env *Env, run *planRun, siteDir string, timeout time.Duration, logf func(string, ...any)) (*applier.Lock, error) {
	lease, err := lockLease(env)
	if err != nil {
		return nil, withExit(ExitError, err)
	}
	rec := applier.NewLockRecord(env.Getenv, "apply", siteDir, run.Plan.Digest())
	l, err := applier.AcquireLock(ctx, run.Client, rec, applier.LockOptions{Timeout: timeout, Logf: logf, Lease: lease,
		Waiting: func(h applier.LockRecord) {
			fmt.Fprintf(env.Stderr, "Waiting up to %s for the gateway's lock, held by %s\n", timeout, h.Holder())
		}})
	var le *applier.LockedError
	if errors.As(err, &le) {
		return nil, withExit(ExitError, lockedError(le, siteDir))
	}
	if err != nil {
		return nil, withExit(ExitError, err)
	}
	if applier.LockOf(run.State) == nil && sameRecord(run.State.Records, l.Seen) {
		return l, nil
	}
	// Planned while another run held the lock, or one wrote since: read
	// and plan again.
	st, err := run.Client.ReadState(ctx)
	if err == nil {
		opts := run.Options
		opts.CodecJSONDigests, opts.FirmwareDigests, opts.WrittenCodecJSON = applier.WrittenDigests(env.journalDirFor(siteDir), run.Site.Gateway.EUI, st.Records)
		var p = run.Plan
		if p, err = planner.Plan(run.Site, st, opts); err == nil {
			p.SiteDigest = run.Site.Digest()
			run.State, run.Plan, run.Options = st, p, opts
			l.SetPlanDigest(p.Digest())
			return l, nil
		}
	}
	if rerr := l.Release(context.WithoutCancel(ctx)); rerr != nil {
		err = errors.Join(err, rerr)
	}
	return nil, withExit(ExitError, fmt.Errorf("plan again under the lock: %w", err))
}

// releaseLock releases the run's lock. When the gateway keeps it, it
// warns on w that the next plan and apply will find the gateway locked by
// this run, which has ended, and how to free it.
func releaseLock(ctx context.Context, w io.Writer, lock *applier.Lock, siteDir string) {
	err := lock.Release(context.WithoutCancel(ctx))
	if err == nil {
		return
	}
	fmt.Fprintf(w, "warning: %v\n", err)
	if !errors.Is(err, applier.ErrLockLost) {
		fmt.Fprintf(w, "The gateway keeps this run's lock: the next plan and apply will find it held, as if this run were still going. "+
			"This run has ended: break its lock with gwsync unlock %s\n", siteDir)
	}
}

// LeaseEnv sets the lease of the gateway's lock: how long its holder may
// go without renewing its record (it renews every quarter of it) before a
// rollback from its journal may take it over. Unset: the default.
const LeaseEnv = "GWSYNC_LOCK_LEASE"

// lockLease is the lease LeaseEnv sets (0: applier.DefaultLockLease).
func lockLease(env *Env) (time.Duration, error) {
	v := strings.TrimSpace(env.getenv(LeaseEnv))
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 40*time.Millisecond || d > 24*time.Hour {
		return 0, fmt.Errorf("%s=%q: want a duration from 40ms to 24h, such as 2m", LeaseEnv, v)
	}
	return d, nil
}

// journalDirFor is the journal folder of siteDir, or the fleet site's.
func (env *Env) journalDirFor(siteDir string) string {
	if env.JournalDir != "" {
		return env.JournalDir
	}
	return journalDirOf(siteDir)
}

// sameRecord says whether the record of write-only values is the same in
// both lists (a state's Records, and the records listed under the lock).
func sameRecord(a, b []nsapi.Codec) bool {
	find := func(cs []nsapi.Codec) (string, bool) {
		for _, c := range cs {
			if strings.EqualFold(c.Name, reserved.StateCodec) {
				return string(c.ID) + "\x00" + c.DecoderScript, true
			}
		}
		return "", false
	}
	x, okx := find(a)
	y, oky := find(b)
	return okx == oky && x == y
}

// lockedError names the lock's holder, in full, and the ways forward.
func lockedError(le *applier.LockedError, siteDir string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%v; nothing was written", le)
	writeHolder(&b, &le.Holder, siteDir)
	return errors.New(strings.TrimRight(b.String(), "\n"))
}

// writeHolder prints the holder's record and the ways forward.
func writeHolder(w io.Writer, h *applier.LockRecord, siteDir string) {
	fmt.Fprintln(w)
	for _, d := range h.Details() {
		fmt.Fprintf(w, "  %s\n", d)
	}
	if siteDir == "" {
		siteDir = "SITE"
	}
	switch {
	case !h.Interrupted():
		fmt.Fprintf(w, "That run had not started writing. If it is still going, wait for it (gwsync apply --lock-timeout 10m %s); if it is gone, break its lock: gwsync unlock %s.\n", siteDir, siteDir)
	default:
		fmt.Fprintf(w, "If that run is still going, wait for it (gwsync apply --lock-timeout 10m %s).\n", siteDir)
		fmt.Fprintf(w, "If it was interrupted (killed, cancelled), the gateway may be half-way between two states. Either:\n")
		fmt.Fprintf(w, "  - roll it back with its journal: gwsync rollback %s, from the checkout that ran it, or with the .gwsync/ folder that the CI run kept as an artifact copied into the site's folder%s; or\n", siteDir, journalHint(h))
		fmt.Fprintf(w, "  - break the lock and go forward to the site: gwsync unlock %s, then gwsync plan %s and gwsync apply %s.\n", siteDir, siteDir, siteDir)
	}
}

func journalHint(h *applier.LockRecord) string {
	if h.JournalID == "" {
		return ""
	}
	return " (journal " + h.JournalID + ")"
}

// interruptedNotice warns, on w, that the gateway's lock is held: by a run
// under way, or by an apply that was interrupted.
func interruptedNotice(w io.Writer, h *applier.LockRecord, siteDir string) {
	if h.Interrupted() {
		fmt.Fprintf(w, "Warning: an apply to this gateway was interrupted, or is under way: the gateway's lock is held by %s.\n", h.Holder())
	} else {
		fmt.Fprintf(w, "Warning: the gateway's lock is held by %s.\n", h.Holder())
	}
	fmt.Fprint(w, "This plan compares the site with the gateway as it is now.")
	writeHolder(w, h, siteDir)
}

// takeRollbackLock takes the gateway's lock for a rollback from the
// journal in journalDir. The lock of the interrupted run that wrote that
// journal (the same journal id, here or from a copied artifact) is taken
// over; any other holder is refused, naming it.
//
// tookOver says that the lock was that run's: the gateway itself names
// this journal as the one of an apply that did not finish. A journal that
// no lock names (planted in a checkout, copied from another gateway, or
// left after its lock was broken) is trusted only with --force.
func takeRollbackLock(ctx context.Context, env *Env, cl applier.LockStore, siteDir, journalDir string) (l *applier.Lock, tookOver bool, err error) {
	jid := applier.JournalID(journalDir)
	lease, err := lockLease(env)
	if err != nil {
		return nil, false, withExit(ExitError, err)
	}
	rec := applier.NewLockRecord(env.Getenv, "rollback", siteDir, "")
	rec.JournalID = jid
	// The journal file here, on this machine: a record that names it, of
	// this host, is of a run that wrote this very file, and this run holds
	// its RunFile (HoldJournalDir): that run's process has ended.
	origin := applier.JournalOrigin(journalDir)
	rec.Origin = origin
	host, _ := os.Hostname()
	// The lock of a rollback of this journal is taken over only when that
	// rollback started from this copy of it (cut short, run again here):
	// another copy's rollback may be running.
	ours := applier.RollbackRuns(journalDir)
	if jid != "" && applier.HasJournal(journalDir) {
		if err := applier.AddRollbackRun(journalDir, rec.RunID); err != nil {
			return nil, false, withExit(ExitError, fmt.Errorf("nothing was written: %w", err))
		}
	}
	l, err = applier.AcquireLock(ctx, cl, rec, applier.LockOptions{Lease: lease, Logf: env.debugLog(false),
		TakeOver: func(h applier.LockRecord) bool {
			return jid != "" && h.JournalID == jid && (h.Command != "rollback" || slices.Contains(ours, h.RunID))
		},
		HolderGone: func(h applier.LockRecord) bool {
			return origin != "" && h.Origin == origin && host != "" && h.Host == host
		},
		Watching: func(h applier.LockRecord, d time.Duration) {
			fmt.Fprintf(env.Stderr, "The gateway's lock is held by %s.\n"+
				"Its run may still be going on another machine: watching its record for up to %s; it is taken over if it is not renewed meanwhile.\n", h.Holder(), d)
		}})
	var le *applier.LockedError
	if errors.As(err, &le) {
		var b strings.Builder
		fmt.Fprintf(&b, "%v; nothing was written", le)
		fmt.Fprintln(&b)
		for _, d := range le.Holder.Details() {
			fmt.Fprintf(&b, "  %s\n", d)
		}
		if le.Alive {
			fmt.Fprintf(&b, "That run is still going: it renewed its lock (%s) while this rollback watched it. Wait for it to end; it releases the lock, or its lease runs out %s after it stops, and gwsync rollback %s then takes the lock over. Only if you know it is gone (its machine down, its CI job cancelled), break its lock with gwsync unlock %s and run the rollback again with --force (no lock names this journal then).",
				le.Holder.LeaseSummary(time.Now()), le.Holder.LeaseOf(), siteDir, siteDir)
		} else if jid != "" && le.Holder.JournalID == jid {
			fmt.Fprintf(&b, "A rollback of this journal (%s) started from another copy of it holds the lock: wait for it to finish, or, if it is gone, break its lock with gwsync unlock %s and run the rollback again with --force (no lock names this journal then).", jid, siteDir)
		} else {
			fmt.Fprintf(&b, "This journal (%s) is not that run's: wait for that run, or, if it is gone and this journal is the one to finish, break its lock with gwsync unlock %s and run the rollback again with --force (no lock names this journal then).", cmp.Or(jid, "no id"), siteDir)
		}
		return nil, false, withExit(ExitError, errors.New(b.String()))
	}
	if err != nil {
		return nil, false, withExit(ExitError, err)
	}
	// Only a lock taken over names this journal: one accepted, then
	// released or broken while its lease was watched, and created anew,
	// does not.
	tookOver = l.TookOver
	if err := l.SetState(ctx, applier.LockRollingBack, jid); err != nil {
		return nil, false, withExit(ExitError, err)
	}
	return l, tookOver, nil
}
