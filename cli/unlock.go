package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gwsync/gwsync/applier"
)

// UnlockCmd is `gwsync unlock`: it shows the gateway's lock holder and
// breaks the lock, once told to.
type UnlockCmd struct {
	Site        string `arg:"" optional:"" name:"site" default:"." help:"Site file or directory of the gateway (default: the current folder)."`
	Force       bool   `name:"force" help:"Break the lock without asking (needed when standard input is not a terminal)."`
	AutoApprove bool   `name:"auto-approve" help:"The same as --force."`
	ConnFlags   `embed:""`
}

// Run runs the command.
func (c *UnlockCmd) Run(env *Env) error {
	ctx := context.Background()
	conn, gw := siteConnection(env, c.Site, true)
	cl, closer, err := connect(ctx, env, c.ConnFlags, conn, gw)
	if err != nil {
		return withExit(ExitError, err)
	}
	defer closer()
	h, err := applier.ReadLock(ctx, cl)
	if err != nil {
		return withExit(ExitError, err)
	}
	if h == nil {
		fmt.Fprintln(env.Stdout, "The gateway is not locked.")
		return nil
	}
	fmt.Fprintf(env.Stdout, "The gateway's lock is held by %s:\n", h.Holder())
	for _, d := range h.Details() {
		fmt.Fprintf(env.Stdout, "  %s\n", d)
	}
	switch now := time.Now(); {
	case h.Ended():
	case h.LeaseExpired(now):
		fmt.Fprintf(env.Stdout, "\nIts record was not renewed for longer than its lease (%s) by this machine's clock: that run looks gone.\n", h.LeaseOf())
	default:
		fmt.Fprintf(env.Stdout, "\nIts record was renewed within its lease (%s) by this machine's clock: that run may still be going (a running gwsync renews it every quarter of the lease).\n", h.LeaseOf())
	}
	if h.Interrupted() {
		fmt.Fprintf(env.Stdout, "\nThat run may have written to the gateway. Break the lock only when it is gone (its CI job ended, its process killed).\n"+
			"Breaking it does not roll it back: afterwards gwsync plan %s shows where the gateway stands, and gwsync apply %s goes forward to the site.\n", c.Site, c.Site)
	}
	if !c.Force && !c.AutoApprove {
		if !stdinIsTerminal(env) {
			return withExit(ExitError, errors.New("the lock was not broken: standard input is not a terminal; to break it without asking, pass --force"))
		}
		fmt.Fprint(env.Stdout, "\nBreak this lock?\n  Only 'yes' will be accepted.\n\n  Enter a value: ")
		line, _ := bufio.NewReader(env.Stdin).ReadString('\n')
		fmt.Fprintln(env.Stdout)
		if strings.TrimSpace(line) != "yes" {
			fmt.Fprintln(env.Stdout, "Unlock cancelled.")
			if line == "" {
				return withExit(ExitError, errors.New("the lock was not broken: no answer on standard input; to break it without asking, pass --force"))
			}
			return withExit(ExitError, nil)
		}
	}
	if err := applier.BreakLock(ctx, cl, *h); err != nil {
		return withExit(ExitError, err)
	}
	fmt.Fprintln(env.Stdout, "Lock broken.")
	return nil
}

// Help is the command's long help.
func (c *UnlockCmd) Help() string {
	return `Shows who holds the gateway's lock (host, user, CI run, start, plan digest,
state, journal id, last renewal) and breaks it. The lock lives on the gateway,
as a custom payload codec named gwsync-lock, so that two machines never apply
to one gateway at once. A run that was killed or cancelled leaves it held, and
plan and apply say so from any checkout. A running gwsync renews the record
every quarter of its lease (GWSYNC_LOCK_LEASE, 2m by default): a record not
renewed for longer is of a run that looks gone. Break it only when that run is
gone; to undo what it wrote, run gwsync rollback with its journal instead (it
takes the lock over by itself, once the lease has run out).

Exit codes:
  0  the lock was broken, or none was held
  1  error, or not confirmed (not on a terminal: pass --force)`
}
