package applier_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gwsync/gwsync/applier"
	"github.com/gwsync/gwsync/gwsim"
	"github.com/gwsync/gwsync/internal/reserved"
	"github.com/gwsync/gwsync/nsapi"
)

// countStore counts the requests to a LockStore, and fails them while
// flaky is set, as a wire that loses answers.
type countStore struct {
	applier.LockStore
	mu                           sync.Mutex
	lists, creates, updates, del int
	flaky                        bool
}

func (c *countStore) fail() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.flaky {
		return nsapi.ErrUnknownOutcome
	}
	return nil
}

func (c *countStore) setFlaky(v bool) {
	c.mu.Lock()
	c.flaky = v
	c.mu.Unlock()
}

func (c *countStore) count(n *int) {
	c.mu.Lock()
	*n++
	c.mu.Unlock()
}

func (c *countStore) counts() (lists, creates, updates, deletes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lists, c.creates, c.updates, c.del
}

func (c *countStore) ListCodecs(ctx context.Context, typ, search string) ([]nsapi.Codec, error) {
	c.count(&c.lists)
	if err := c.fail(); err != nil {
		return nil, err
	}
	return c.LockStore.ListCodecs(ctx, typ, search)
}

func (c *countStore) CreateCodec(ctx context.Context, w nsapi.CodecWrite) (string, error) {
	c.count(&c.creates)
	if err := c.fail(); err != nil {
		return "", err
	}
	return c.LockStore.CreateCodec(ctx, w)
}

func (c *countStore) UpdateCodec(ctx context.Context, id string, w nsapi.CodecWrite) error {
	c.count(&c.updates)
	if err := c.fail(); err != nil {
		return err
	}
	return c.LockStore.UpdateCodec(ctx, id, w)
}

func (c *countStore) DeleteCodec(ctx context.Context, id string) error {
	c.count(&c.del)
	if err := c.fail(); err != nil {
		return err
	}
	return c.LockStore.DeleteCodec(ctx, id)
}

func newMem() *memStore { return &memStore{codecs: map[string]nsapi.Codec{}} }

// waitFor polls cond until it holds, failing the test after a generous
// deadline (a bound on a hang, not a timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func readLock(t *testing.T, s applier.LockStore) *applier.LockRecord {
	t.Helper()
	h, err := applier.ReadLock(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestLockRenewsItsRecord: the holder rewrites its record's renewal time
// every quarter of its lease, one list and one update each, and stops at
// Release; the record names its lease.
func TestLockRenewsItsRecord(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		m := newMem()
		cs := &countStore{LockStore: m}
		l, err := applier.AcquireLock(ctx, cs, applier.NewLockRecord(env("USER", "a"), "apply", "", ""), applier.LockOptions{Lease: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		first := readLock(t, m)
		if first.Lease != 200*time.Millisecond || first.Renewed.IsZero() {
			t.Fatalf("the record %+v: want its lease and a renewal time", first)
		}
		waitFor(t, "three renewals", func() bool { _, _, u, _ := cs.counts(); return u >= 3 })
		if h := readLock(t, m); !h.Renewed.After(first.Renewed) || h.RunID != first.RunID {
			t.Errorf("after renewals the record is %+v, was %+v", h, first)
		}
		lists, _, updates, _ := cs.counts()
		if lists-1 < updates || lists-1 > updates+1 { // one list after the create; one list per renewal
			t.Errorf("%d lists for %d renewals: want one check per renewal", lists, updates)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if h := readLock(t, m); h != nil {
			t.Fatalf("released, the record stays: %+v", h)
		}
		_, _, u0, _ := cs.counts()
		time.Sleep(4 * 50 * time.Millisecond) // four renew intervals
		if _, _, u, _ := cs.counts(); u != u0 {
			t.Errorf("%d updates after the release", u-u0)
		}
		if l.Err() != nil {
			t.Errorf("a released lock says it was lost: %v", l.Err())
		}
	})
}

// TestShortRunAddsNoRequests: a run shorter than the renew interval sends
// exactly the requests of a lock without a lease.
func TestShortRunAddsNoRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		run := func(lease time.Duration) [4]int {
			cs := &countStore{LockStore: newMem()}
			l, err := applier.AcquireLock(ctx, cs, applier.NewLockRecord(env("USER", "a"), "apply", "", ""), applier.LockOptions{Lease: lease})
			if err != nil {
				t.Fatal(err)
			}
			if err := l.SetState(ctx, applier.LockApplying, "j-1"); err != nil {
				t.Fatal(err)
			}
			if err := l.Release(ctx); err != nil {
				t.Fatal(err)
			}
			a, b, c, d := cs.counts()
			return [4]int{a, b, c, d}
		}
		if with, without := run(0), run(-1); with != without {
			t.Errorf("requests (lists, creates, updates, deletes) with the default lease %v, without a lease %v", with, without)
		}
	})
}

// takeOver writes another run's record in place of id, as a rollback
// taking the lock over does.
func takeOver(t *testing.T, s applier.LockStore, id string) applier.LockRecord {
	t.Helper()
	rec, err := writeTaker(s, id)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func writeTaker(s applier.LockStore, id string) (applier.LockRecord, error) {
	rec := applier.NewLockRecord(env("USER", "bob"), "rollback", "", "")
	rec.Renewed = time.Now().UTC()
	b, err := json.Marshal(rec)
	if err != nil {
		return rec, err
	}
	return rec, s.UpdateCodec(context.Background(), id, nsapi.CodecWrite{Name: reserved.LockCodec, DecoderScript: string(b)})
}

// TestLockLostToATakeover: a renewal that finds the record another's loses
// the lock, naming the new holder; from then on the old holder writes
// nothing to the record, SetState and Release included.
func TestLockLostToATakeover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		m := newMem()
		cs := &countStore{LockStore: m}
		l, err := applier.AcquireLock(ctx, cs, applier.NewLockRecord(env("USER", "alice"), "apply", "", ""), applier.LockOptions{Lease: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		theirs := takeOver(t, m, l.Record().ID)
		select {
		case <-l.Lost():
		case <-time.After(20 * time.Second):
			t.Fatal("the lock taken over is never lost")
		}
		if err := l.Err(); !errors.Is(err, applier.ErrLockLost) || !strings.Contains(err.Error(), "bob") {
			t.Errorf("lost: %v; want ErrLockLost naming the new holder", err)
		}
		_, _, u0, _ := cs.counts()
		if err := l.SetState(ctx, applier.LockRollingBack, ""); !errors.Is(err, applier.ErrLockLost) {
			t.Errorf("SetState after the loss: %v, want ErrLockLost", err)
		}
		if err := l.Release(ctx); !errors.Is(err, applier.ErrLockLost) {
			t.Errorf("Release after the loss: %v, want ErrLockLost", err)
		}
		if _, _, u, d := cs.counts(); u != u0 || d != 0 {
			t.Errorf("after the loss the old holder sent %d updates and %d deletes", u-u0, d)
		}
		if h := readLock(t, m); h == nil || h.RunID != theirs.RunID {
			t.Errorf("the record is %+v, want the taker's", h)
		}
	})
}

// TestLockLostWhenBroken: gwsync unlock deletes the record; the next
// renewal says the lock is lost.
func TestLockLostWhenBroken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		m := newMem()
		l, err := applier.AcquireLock(ctx, m, applier.NewLockRecord(env("USER", "alice"), "apply", "", ""), applier.LockOptions{Lease: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Leave() // the renewals end; the bubble waits for them
		if err := applier.BreakLock(ctx, m, l.Record()); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the broken lock lost", func() bool { return l.Err() != nil })
		if !errors.Is(l.Err(), applier.ErrLockLost) {
			t.Errorf("lost: %v", l.Err())
		}
	})
}

// TestRenewalFailuresRetried: renewals the wire loses are tried again at
// the next tick; only when the lease would expire before the next one is
// the lock lost.
func TestRenewalFailuresRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		m := newMem()
		cs := &countStore{LockStore: m}
		const lease = 400 * time.Millisecond
		l, err := applier.AcquireLock(ctx, cs, applier.NewLockRecord(env("USER", "a"), "apply", "", ""), applier.LockOptions{Lease: lease})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release(ctx)
		// One renewal fails (the list of its check gets no answer), the next
		// one takes.
		l0, _, _, _ := cs.counts()
		cs.setFlaky(true)
		waitFor(t, "a failed renewal", func() bool { n, _, _, _ := cs.counts(); return n > l0 })
		cs.setFlaky(false)
		_, _, u0, _ := cs.counts()
		waitFor(t, "a renewal after the failure", func() bool { _, _, u, _ := cs.counts(); return u > u0 })
		if err := l.Err(); err != nil {
			t.Fatalf("one failed renewal lost the lock: %v", err)
		}
		// The wire stays down: the lock is lost before its lease runs out.
		cs.setFlaky(true)
		waitFor(t, "the lock lost", func() bool { return l.Err() != nil })
		if err := l.Err(); !errors.Is(err, applier.ErrLockLost) || !strings.Contains(err.Error(), "not renewed") {
			t.Errorf("lost: %v", err)
		}
	})
}

// holderLeft is a record left on m by a run that stopped renewing (killed),
// with its renewal time set by renewed (a clock of its own).
func holderLeft(t *testing.T, m applier.LockStore, renewed time.Time, lease time.Duration, state applier.LockState) applier.LockRecord {
	t.Helper()
	rec := applier.NewLockRecord(env("USER", "alice"), "apply", "", "")
	rec.State, rec.JournalID = state, "j-1"
	l, err := applier.AcquireLock(context.Background(), m, rec, applier.LockOptions{Lease: -1})
	if err != nil {
		t.Fatal(err)
	}
	r := l.Record()
	r.Renewed, r.Lease = renewed.UTC(), lease
	b, _ := json.Marshal(r)
	if err := m.UpdateCodec(context.Background(), r.ID, nsapi.CodecWrite{Name: reserved.LockCodec, DecoderScript: string(b)}); err != nil {
		t.Fatal(err)
	}
	return r
}

func rollbackOf(jid string) func(applier.LockRecord) bool {
	return func(h applier.LockRecord) bool { return h.JournalID == jid }
}

// TestTakeOverWatchesAFreshRecord: a record that looks fresh by this
// machine's clock is watched for a lease by its own elapsed time; left
// unchanged (its holder killed), it is taken over.
func TestTakeOverWatchesAFreshRecord(t *testing.T) {
	ctx := context.Background()
	const lease = 300 * time.Millisecond
	// The renewal time is taken as each case starts: a case that ran
	// before it (one watches 2 leases) must not age it.
	for name, ahead := range map[string]time.Duration{
		"fresh":                      0,
		"holder's clock ahead a day": 24 * time.Hour,
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := newMem()
				h := holderLeft(t, m, time.Now().Add(ahead), 2*lease, applier.LockApplying)
				var watched time.Duration
				start := time.Now()
				l, err := applier.AcquireLock(ctx, m, applier.NewLockRecord(env("USER", "b"), "rollback", "", ""), applier.LockOptions{
					Lease: lease, TakeOver: rollbackOf("j-1"), Watching: func(_ applier.LockRecord, d time.Duration) { watched = d }})
				if err != nil {
					t.Fatal(err)
				}
				defer l.Release(ctx)
				// The holder's record says a lease longer than this run's:
				// the longer one is waited out.
				if el := time.Since(start); watched != 2*lease || el < watched {
					t.Errorf("watched for %s (announced %s); want at least the holder's lease %s", el, watched, 2*lease)
				}
				if !l.TookOver {
					t.Error("TookOver not set")
				}
				if got := readLock(t, m); got.RunID != l.Record().RunID || got.ID != h.ID {
					t.Errorf("the record %+v: want the taker's, in place of %s", got, h.ID)
				}
			})
		})
	}
}

// TestTakeOverAtOnce: a record last renewed longer than a lease ago by
// this machine's clock, a record of an earlier release that only has its
// start, one whose run says it ended, and one whose holder is known gone
// are taken over without watching.
func TestTakeOverAtOnce(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		age   time.Duration // of the record's renewal, by this clock
		state applier.LockState
		gone  bool
		clock func() time.Time
	}{
		{name: "expired by this clock", age: 3 * time.Minute, state: applier.LockApplying},
		{name: "this clock a day ahead", state: applier.LockApplying, clock: func() time.Time { return time.Now().Add(24 * time.Hour) }},
		{name: "ended", state: applier.LockRollbackIncomplete},
		{name: "holder gone", state: applier.LockApplying, gone: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := newMem()
				holderLeft(t, m, time.Now().Add(-tc.age), 400*time.Millisecond, tc.state)
				cs := &countStore{LockStore: m}
				l, err := applier.AcquireLock(ctx, cs, applier.NewLockRecord(env("USER", "b"), "rollback", "", ""), applier.LockOptions{
					Lease: 400 * time.Millisecond, TakeOver: rollbackOf("j-1"), Now: tc.clock, HolderGone: func(applier.LockRecord) bool { return tc.gone },
					Watching: func(applier.LockRecord, time.Duration) { t.Error("watched") }})
				if err != nil {
					t.Fatal(err)
				}
				defer l.Release(ctx)
				if !l.TookOver {
					t.Error("TookOver not set")
				}
				// After the refused create and after the update; a holder not
				// known to have ended is read once more, once a renewal of its
				// under way would have landed (a lease/8 later).
				want := 3
				if tc.gone || tc.state != applier.LockApplying {
					want = 2
				}
				if lists, _, _, _ := cs.counts(); lists != want {
					t.Errorf("%d lists: want %d, no watch", lists, want)
				}
			})
		})
	}
	t.Run("earlier release", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			m := newMem()
			rec := applier.LockRecord{RunID: "old", Command: "apply", State: applier.LockApplying, JournalID: "j-1", Started: time.Now().Add(-time.Hour).UTC()}
			b, _ := json.Marshal(rec)
			if strings.Contains(string(b), "renewed") {
				t.Fatalf("a record without renewal writes %s", b)
			}
			if _, err := m.CreateCodec(ctx, nsapi.CodecWrite{Name: reserved.LockCodec, DecoderScript: string(b)}); err != nil {
				t.Fatal(err)
			}
			l, err := applier.AcquireLock(ctx, m, applier.NewLockRecord(env("USER", "b"), "rollback", "", ""), applier.LockOptions{
				TakeOver: rollbackOf("j-1"), Watching: func(applier.LockRecord, time.Duration) { t.Error("watched") }})
			if err != nil {
				t.Fatal(err)
			}
			l.Release(ctx)
		})
	})
}

// TestTakeOverRefusedWhileTheHolderRenews: a holder alive on another
// machine, whose clock is behind (its record looks old, but less than a
// lease) renews while the taker watches: the taker is refused, naming the
// holder and its last renewal, and never writes the record.
func TestTakeOverRefusedWhileTheHolderRenews(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		m := newMem()
		const lease = 2 * time.Second // four renewals a watch: margin for a loaded machine
		rec := applier.NewLockRecord(env("USER", "alice"), "apply", "", "")
		rec.JournalID = "j-1"
		behind := func() time.Time { return time.Now().Add(-lease / 2) }
		a, err := applier.AcquireLock(ctx, m, rec, applier.LockOptions{Lease: lease, Now: behind})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Release(ctx)
		cs := &countStore{LockStore: m}
		_, err = applier.AcquireLock(ctx, cs, applier.NewLockRecord(env("USER", "b"), "rollback", "", ""), applier.LockOptions{
			Lease: lease, TakeOver: rollbackOf("j-1")})
		var le *applier.LockedError
		if !errors.As(err, &le) || !le.Alive || le.Watched == 0 {
			t.Fatalf("take over of a live holder: %v, want a LockedError after a watch", err)
		}
		if !strings.Contains(err.Error(), "alice") || !strings.Contains(err.Error(), "renewed") || !strings.Contains(err.Error(), "alive") {
			t.Errorf("the refusal %q: want the holder, its last renewal, and that it is alive", err)
		}
		if _, _, u, d := cs.counts(); u != 0 || d != 0 {
			t.Errorf("the refused taker sent %d updates and %d deletes", u, d)
		}
		if a.Err() != nil {
			t.Errorf("the holder lost its lock: %v", a.Err())
		}
		if h := readLock(t, m); h.RunID != rec.RunID {
			t.Errorf("the record is %+v, want the holder's", h)
		}
	})
}

// TestApplyStopsWhenItLosesTheLock: an apply whose lock is taken over
// mid-way stops sending writes, does not roll back (the taker may be
// writing), keeps its journal and leaves the taker's record alone.
func TestApplyStopsWhenItLosesTheLock(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, gwsim.Options{})
	f.seed(t)
	dir := filepath.Join(t.TempDir(), ".gwsync")
	p := f.fullPlan(t)
	// A lease far longer than a stall of a loaded machine: the lock is lost
	// to the takeover below, not to its lease running out first.
	l, err := applier.AcquireLock(ctx, f.c, applier.NewLockRecord(env("USER", "alice"), "apply", "site", "sha256:1"), applier.LockOptions{Lease: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	f.g.Faults().SetDelay(60*time.Millisecond, 0)
	other := f.machine(t)
	taken := make(chan applier.LockRecord, 1)
	var once sync.Once
	res, err := applier.Apply(ctx, f.c, p, applier.Options{Parallelism: 1, JournalDir: dir, Lock: l,
		Progress: func(ev applier.Event) {
			if ev.Type == applier.EventDone {
				// Taken after the first write; the apply goes on once a
				// renewal has seen it (Progress holds the next step
				// back), so that it must stop before the end.
				once.Do(func() {
					// Broken, then taken by another run: the holder's
					// renewal (its update of a record that is gone) sees it.
					if err := applier.BreakLock(ctx, other, l.Record()); err != nil {
						t.Errorf("break the lock: %v", err)
					}
					tl, err := applier.AcquireLock(ctx, other, applier.NewLockRecord(env("USER", "bob"), "rollback", "", ""), applier.LockOptions{Lease: -1})
					if err != nil {
						t.Errorf("take the lock: %v", err)
						taken <- applier.LockRecord{}
					} else {
						taken <- tl.Record()
					}
					select {
					case <-l.Lost():
					case <-time.After(20 * time.Second):
						t.Error("the lock taken over is never lost")
					}
				})
			}
		}})
	f.g.Faults().SetDelay(0, 0)
	var theirs applier.LockRecord
	select {
	case theirs = <-taken:
	default:
		t.Fatalf("the apply ended before its first write was done: %v", err)
	}
	var lost *applier.LockLostError
	if !errors.As(err, &lost) || !errors.Is(err, applier.ErrLockLost) {
		t.Fatalf("apply: %v, want a LockLostError", err)
	}
	if res.RolledBack || !res.JournalKept || !res.KeepLock || !applier.HasJournal(dir) {
		t.Errorf("rolled back %v, journal kept %v (there: %v), keep the lock %v: want no rollback, the journal kept, the lock not released",
			res.RolledBack, res.JournalKept, applier.HasJournal(dir), res.KeepLock)
	}
	if len(res.Applied) >= len(p.Changes) {
		t.Errorf("all %d changes applied: the apply did not stop", len(res.Applied))
	}
	if h := readLock(t, other); h == nil || h.RunID != theirs.RunID {
		t.Errorf("the record after the apply: %+v, want the taker's", h)
	}
}

// TestLongestRecordFits: every free-text field at its longest, in
// characters JSON escapes, with the lease's fields: the record is still
// written, within the limit, its holder recognisable.
func TestLongestRecordFits(t *testing.T) {
	ctx := context.Background()
	m := newMem()
	long := strings.Repeat("<&>", 100)
	rec := applier.NewLockRecord(env("USER", long, "CI_JOB_URL", long), "rollback", long, "sha256:"+strings.Repeat("f", 64))
	rec.Host, rec.JournalID, rec.State = long, "j-"+strings.Repeat("0", 24), applier.LockRollbackIncomplete
	l, err := applier.AcquireLock(ctx, m, rec, applier.LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	if err := l.SetState(ctx, applier.LockRollbackIncomplete, ""); err != nil {
		t.Fatal(err)
	}
	cs, _ := m.ListCodecs(ctx, "", reserved.LockCodec)
	if len(cs) != 1 || len(cs[0].DecoderScript) > 1024 {
		t.Fatalf("records %+v: want one of at most 1024 bytes", cs)
	}
	if h := readLock(t, m); h.RunID != rec.RunID || h.Host == "" || h.Renewed.IsZero() {
		t.Errorf("the record read back: %+v", h)
	}
}

// TestReleasedWhileWatched: the record a taker accepted is released while
// it watches (its run ended well): the lock is then created anew, and
// TookOver says it was not taken over, so that a rollback does not take
// the new lock for one that names its journal.
func TestReleasedWhileWatched(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		m := newMem()
		h := holderLeft(t, m, time.Now(), 10*time.Second, applier.LockApplying)
		l, err := applier.AcquireLock(ctx, m, applier.NewLockRecord(env("USER", "b"), "rollback", "", ""), applier.LockOptions{
			Lease: 400 * time.Millisecond, TakeOver: rollbackOf("j-1"),
			Watching: func(applier.LockRecord, time.Duration) {
				go func() {
					if err := applier.BreakLock(ctx, m, h); err != nil {
						t.Error(err)
					}
				}()
			}})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release(ctx)
		if l.TookOver {
			t.Error("a lock created after the watched record went says it was taken over")
		}
		if got := readLock(t, m); got.RunID != l.Record().RunID || got.ID == h.ID {
			t.Errorf("the record %+v: want the taker's own, created anew", got)
		}
	})
}

// clobberStore writes back, right after the first update it passes on,
// the record a live holder's renewal under way at that moment writes: its
// list came before the takeover, its update lands after it.
type clobberStore struct {
	applier.LockStore
	holder applier.LockRecord
	after  time.Duration // when the renewal lands after the update (0: before it is answered)
	once   sync.Once
	landed chan struct{}
}

func (c *clobberStore) UpdateCodec(ctx context.Context, id string, w nsapi.CodecWrite) error {
	err := c.LockStore.UpdateCodec(ctx, id, w)
	c.once.Do(func() {
		renew := func() {
			defer close(c.landed)
			h := c.holder
			h.Renewed = time.Now().UTC()
			b, _ := json.Marshal(h)
			_ = c.LockStore.UpdateCodec(ctx, h.ID, nsapi.CodecWrite{Name: reserved.LockCodec, DecoderScript: string(b)})
		}
		if c.after == 0 {
			renew()
			return
		}
		time.AfterFunc(c.after, renew)
	})
	return err
}

// TestTakeOverRenewedOverIsRefused: a takeover in place that a holder's
// renewal under way writes over is not a lock: the taker reads the record
// again once such a renewal has landed, and is refused (its holder is
// alive), writing nothing more; the record stays the holder's.
func TestTakeOverRenewedOverIsRefused(t *testing.T) {
	ctx := context.Background()
	for name, after := range map[string]time.Duration{
		"landed before the taker reads the record": 0,
		"landed after it":                          10 * time.Millisecond, // within the taker's settle (a lease/8: 50 ms)
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := newMem()
				h := holderLeft(t, m, time.Now().Add(-time.Hour), 400*time.Millisecond, applier.LockApplying) // expired by this clock
				cs := &clobberStore{LockStore: m, holder: h, after: after, landed: make(chan struct{})}
				l, err := applier.AcquireLock(ctx, cs, applier.NewLockRecord(env("USER", "b"), "rollback", "", ""), applier.LockOptions{
					Lease: 400 * time.Millisecond, TakeOver: rollbackOf("j-1")})
				<-cs.landed
				var le *applier.LockedError
				if !errors.As(err, &le) || le.Holder.RunID != h.RunID || !strings.Contains(err.Error(), "alive") {
					if l != nil {
						l.Release(ctx)
					}
					t.Fatalf("a takeover written over by the holder's renewal: %v, want refused, naming the holder as alive", err)
				}
				if got := readLock(t, m); got.RunID != h.RunID {
					t.Errorf("the record %+v: want the holder's", got)
				}
			})
		})
	}
}

// stallStore holds the next list back for stall once armed: the holder's
// process stalled in the middle of a renewal.
type stallStore struct {
	applier.LockStore
	armed atomic.Bool
	stall time.Duration
}

func (s *stallStore) ListCodecs(ctx context.Context, typ, search string) ([]nsapi.Codec, error) {
	if s.armed.CompareAndSwap(true, false) {
		time.Sleep(s.stall)
	}
	return s.LockStore.ListCodecs(ctx, typ, search)
}

// TestStalledHolderLosesItsLock: a holder stalled past its lease (by its
// own clock) in the middle of a renewal does not write its record back (a
// taker may have it by then): the lock is lost, saying the lease ran out.
func TestStalledHolderLosesItsLock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		m := newMem()
		const lease = 200 * time.Millisecond
		ss := &stallStore{LockStore: m, stall: 2 * lease}
		l, err := applier.AcquireLock(ctx, ss, applier.NewLockRecord(env("USER", "a"), "apply", "", ""), applier.LockOptions{Lease: lease})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release(ctx)
		before := readLock(t, m)
		ss.armed.Store(true)
		select {
		case <-l.Lost():
		case <-time.After(20 * time.Second):
			t.Fatal("a holder stalled past its lease keeps the lock")
		}
		if err := l.Err(); !errors.Is(err, applier.ErrLockLost) || !strings.Contains(err.Error(), "ran out") {
			t.Errorf("the lock lost: %v, want its lease run out", err)
		}
		if got := readLock(t, m); !got.Renewed.Equal(before.Renewed) {
			t.Errorf("the stalled holder renewed its record after its lease ran out: %v, was %v", got.Renewed, before.Renewed)
		}
	})
}
