package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/gwsync/gwsync/applier"
	"github.com/gwsync/gwsync/site"
)

// RollbackCmd is `gwsync rollback`: it finishes, from the journal, the
// rollback of an apply that did not complete (killed, or whose own
// rollback could not finish), and verifies the gateway is back in its
// state before that apply.
type RollbackCmd struct {
	Site      string `arg:"" optional:"" name:"site" default:"." help:"Site file or directory whose apply did not finish (default: the current folder)."`
	ConnFlags `embed:""`
}

// Run runs the command.
func (c *RollbackCmd) Run(env *Env) error {
	ctx := context.Background()
	journalDir := journalDirOf(c.Site)
	if !applier.HasJournal(journalDir) {
		return withExit(ExitError, fmt.Errorf("%s: nothing to roll back: no unfinished apply (no journal in %s)", c.Site, journalDir))
	}
	// The site gives the connection when it still loads; flags and
	// GWSYNC_* work without it.
	var conn *site.Connection
	var gw site.Gateway
	if _, err := os.Stat(c.Site); err == nil {
		s, problems := site.Load(site.Options{LookupEnv: func(k string) (string, bool) {
			v := env.Getenv(k)
			return v, v != ""
		}}, c.Site)
		if s != nil && len(problems.Errors()) == 0 {
			conn, gw = &s.Connection, s.Gateway
		} else {
			fmt.Fprintf(env.Stderr, "warning: %s does not load (%d errors); connecting with flags and GWSYNC_* only\n", c.Site, len(problems.Errors()))
		}
	}
	cl, closer, err := connect(ctx, env, c.ConnFlags, conn, gw)
	if err != nil {
		return withExit(ExitError, err)
	}
	defer closer()
	// The same lock as gwsync apply's: --gateway-eui, else the site's
	// EUI, else broker and request topic.
	lock, err := applier.AcquireLock("", lockKey(env, c.ConnFlags, []string{c.Site}))
	if err != nil {
		return withExit(ExitError, err)
	}
	defer lock.Release()

	prog := newProgress(env)
	opts := applier.Options{Parallelism: applier.DefaultParallelism, Progress: prog.event}
	if c.Verbose {
		opts.Logf = prog.logf
	}
	res, err := applier.Rollback(ctx, cl, journalDir, opts)
	prog.finish()
	printUndo(env.Stdout, res)
	var inc *applier.RollbackIncompleteError
	switch {
	case err == nil:
		n := countUndone(res)
		writes := "writes"
		if n == 1 {
			writes = "write"
		}
		fmt.Fprintf(env.Stdout, "Rollback complete: %d %s undone; the gateway was re-read and equals its state before the apply.\n", n, writes)
		return nil
	case errors.As(err, &inc):
		fmt.Fprintln(env.Stdout, "Rollback INCOMPLETE: the gateway is not verified back in its state before the apply:")
		fmt.Fprintln(env.Stdout, indent(res.Remaining))
		return withExit(ExitError, fmt.Errorf("%w; run gwsync rollback %s again when the gateway answers", err, c.Site))
	default:
		return withExit(ExitError, err)
	}
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
