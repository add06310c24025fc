package applier_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gwsync/gwsync/applier"
	"github.com/gwsync/gwsync/gwsim"
)

// killTrials is how many kill points TestRollbackKilledThenRunAgain tries
// beyond its fixed ones (GWSYNC_KILL_TRIALS raises it; each trial costs
// about a second of fsyncs).
func killTrials(t *testing.T) int {
	if s := os.Getenv("GWSYNC_KILL_TRIALS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("GWSYNC_KILL_TRIALS=%q: %v", s, err)
		}
		return n
	}
	if testing.Short() {
		return 2
	}
	return 6
}

// TestRollbackKilledThenRunAgain kills an apply late (many writes to
// undo), then kills the rollback from its journal at its k-th undo write
// (before or after the write reached the gateway), and runs the rollback
// again from the journal as the kill left it: without --force it must
// finish, and the gateway must equal what it held before the apply, as
// read from the simulator then (the oracle is the gateway's own state, not
// anything the applier computes).
func TestRollbackKilledThenRunAgain(t *testing.T) {
	seed := time.Now().UnixNano()
	if s := os.Getenv("GWSYNC_KILL_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	rng := rand.New(rand.NewSource(seed))
	type trial struct {
		applyKill, rollbackKill int
		applySent, undoSent     bool
		// againKill, when set, kills the second rollback too, at its
		// againKill-th undo write; a third one finishes.
		againKill int
	}
	// The fixed points cover the undos of every kind of the full plan
	// (a replace-like delete and re-create of a device whose profile and
	// codec are re-created too is the one seen in the field); the random
	// ones add other apply kill points.
	var trials []trial
	for _, k := range []int{1, 3, 5, 6, 8, 10, 12, 14} {
		trials = append(trials, trial{applyKill: 15, applySent: true, rollbackKill: k, undoSent: true})
	}
	for i := 0; i < killTrials(t); i++ {
		tr := trial{applyKill: 4 + rng.Intn(15), applySent: rng.Intn(2) == 0, rollbackKill: 1 + rng.Intn(14), undoSent: rng.Intn(2) == 0}
		if rng.Intn(2) == 0 {
			tr.againKill = 1 + rng.Intn(8)
		}
		trials = append(trials, tr)
	}
	for _, tr := range trials {
		name := fmt.Sprintf("apply killed at write %d sent=%v, rollback killed at undo %d sent=%v, again at %d", tr.applyKill, tr.applySent, tr.rollbackKill, tr.undoSent, tr.againKill)
		t.Run(name, func(t *testing.T) {
			defer func() {
				if t.Failed() {
					t.Logf("seed %d (GWSYNC_KILL_SEED=%d reproduces the random trials)", seed, seed)
				}
			}()
			f := newFixture(t, gwsim.Options{})
			f.seed(t)
			ctx := context.Background()
			dir := filepath.Join(t.TempDir(), ".gwsync")
			afterApply := filepath.Join(t.TempDir(), ".gwsync")
			// A killed process sends nothing more: the calls after the kill
			// get no answer, so the apply's own rollback stops at once.
			w := &crashWriter{Writer: f.c, dir: dir, copyTo: afterApply, nth: tr.applyKill, afterWrite: tr.applySent, t: t, silence: lost()}
			if _, err := applier.Apply(ctx, w, f.fullPlan(t), applier.Options{Parallelism: 1, JournalDir: dir}); err == nil {
				t.Fatal("apply succeeded through a crash")
			}
			afterRollback := filepath.Join(t.TempDir(), ".gwsync")
			rw := &crashWriter{Writer: f.c, dir: afterApply, copyTo: afterRollback, nth: tr.rollbackKill, afterWrite: tr.undoSent, t: t, silence: lost()}
			res, err := applier.Rollback(ctx, rw, afterApply, applier.Options{Parallelism: 1})
			if !rw.dead {
				// Fewer undo writes than the kill point: the first rollback
				// finished on its own.
				if err != nil {
					t.Fatalf("rollback without a kill: %v\n%s", err, res.Remaining)
				}
				if d := canonDiff(f.live, must(f.c.ReadState(ctx))(t)); d != "" {
					t.Errorf("(-before +after):\n%s", d)
				}
				return
			}
			if err == nil {
				t.Fatal("rollback reported success through a crash")
			}
			if tr.againKill > 0 {
				again := filepath.Join(t.TempDir(), ".gwsync")
				rw := &crashWriter{Writer: f.c, dir: afterRollback, copyTo: again, nth: tr.againKill, afterWrite: true, t: t, silence: lost()}
				res, err := applier.Rollback(ctx, rw, afterRollback, applier.Options{Parallelism: 1})
				var moved *applier.MovedError
				if errors.As(err, &moved) {
					t.Fatalf("second rollback takes the first one's undos for hand edits: %v", err)
				}
				if rw.dead {
					afterRollback = again
				} else if err != nil {
					t.Fatalf("second rollback without a kill: %v\n%s", err, res.Remaining)
				} else {
					afterRollback = "" // finished
				}
			}
			if afterRollback == "" {
				if d := canonDiff(f.live, must(f.c.ReadState(ctx))(t)); d != "" {
					t.Errorf("(-before +after):\n%s", d)
				}
				return
			}
			res, err = applier.Rollback(ctx, f.c, afterRollback, applier.Options{})
			var moved *applier.MovedError
			if errors.As(err, &moved) {
				t.Fatalf("second rollback takes the first one's undos for hand edits: %v", err)
			}
			if err != nil {
				t.Fatalf("second rollback: %v\n%s", err, res.Remaining)
			}
			if d := canonDiff(f.live, must(f.c.ReadState(ctx))(t)); d != "" {
				t.Errorf("(-before +after):\n%s", d)
			}
			if applier.HasJournal(afterRollback) {
				t.Error("journal still there after a complete rollback")
			}
		})
	}
}
