package applier_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gwsync/gwsync/applier"
	"github.com/gwsync/gwsync/gwsim"
	"github.com/gwsync/gwsync/internal/reserved"
	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
)

// machine is a second client of the fixture's gateway: another machine.
func (f *fixture) machine(t testing.TB) *nsapi.Client {
	t.Helper()
	c, err := nsapi.New(context.Background(), f.g.Transport(), nsapi.Config{GatewayEUI: f.g.EUI(), RequestTimeout: 1500 * time.Millisecond, Window: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// TestGatewayLock: the lock lives on the gateway. A second machine is
// refused with the holder named, waits it out with a timeout, and the
// lock is released only by its holder.
func TestGatewayLock(t *testing.T) {
	f := newFixture(t, gwsim.Options{})
	ctx := context.Background()
	a, b := f.c, f.machine(t)
	recA := applier.NewLockRecord(env("USER", "alice", "GITHUB_SERVER_URL", "https://github.com", "GITHUB_REPOSITORY", "acme/sites", "GITHUB_RUN_ID", "42"), "apply", "sites/a", "sha256:abc")
	la, err := applier.AcquireLock(ctx, a, recA, applier.LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.codecNames(t); !strings.Contains(got, reserved.LockCodec) {
		t.Fatalf("no lock record on the gateway: codecs %s", got)
	}
	recB := applier.NewLockRecord(env("USER", "bob"), "apply", "sites/b", "sha256:def")
	_, err = applier.AcquireLock(ctx, b, recB, applier.LockOptions{})
	var le *applier.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("second machine: %v, want a LockedError", err)
	}
	for _, want := range []string{"alice", "https://github.com/acme/sites/actions/runs/42", "apply"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal %q does not name %q", err, want)
		}
	}
	if le.Holder.PlanDigest != "sha256:abc" || le.Holder.Site != "sites/a" {
		t.Errorf("holder %+v: want its plan digest and site", le.Holder)
	}
	// Read from anywhere, the same holder.
	if h, err := applier.ReadLock(ctx, b); err != nil || h == nil || h.RunID != recA.RunID {
		t.Fatalf("ReadLock: %+v, %v", h, err)
	}
	if err := la.SetState(ctx, applier.LockApplying, "j-1"); err != nil {
		t.Fatal(err)
	}
	if h, _ := applier.ReadLock(ctx, b); h.State != applier.LockApplying || h.JournalID != "j-1" || !h.Interrupted() {
		t.Errorf("after SetState the record is %+v", h)
	}

	// B waits; A releases once B has found the lock held; B gets it.
	// (Synchronised on B's Waiting call, not on a pause.)
	released := make(chan struct{})
	lb, err := applier.AcquireLock(ctx, b, recB, applier.LockOptions{Timeout: 30 * time.Second, Waiting: func(holder applier.LockRecord) {
		if holder.RunID != la.Record().RunID {
			t.Errorf("B waits for %+v, want A's run %s", holder, la.Record().RunID)
		}
		go func() {
			defer close(released)
			if err := la.Release(ctx); err != nil {
				t.Error(err)
			}
		}()
	}})
	if err != nil {
		t.Fatalf("waiting for the lock: %v", err)
	}
	<-released
	if !lb.Waited {
		t.Errorf("the lock was not waited for")
	}
	// A cannot release B's lock: its record is gone.
	if err := la.Release(ctx); !errors.Is(err, applier.ErrLockLost) {
		t.Errorf("release of a lock no longer held: %v, want ErrLockLost", err)
	}
	// A timeout that runs out names the holder too.
	_, err = applier.AcquireLock(ctx, a, recA, applier.LockOptions{Timeout: 300 * time.Millisecond})
	if !errors.As(err, &le) || le.Holder.User != "bob" || le.Waited < 300*time.Millisecond {
		t.Fatalf("timed out wait: %v", err)
	}
	// Broken by another machine: the holder finds out.
	h, _ := applier.ReadLock(ctx, a)
	if err := applier.BreakLock(ctx, a, *h); err != nil {
		t.Fatal(err)
	}
	if err := applier.BreakLock(ctx, a, *h); err != nil {
		t.Errorf("a second break of the same lock: %v, want none", err)
	}
	if err := lb.SetState(ctx, applier.LockApplying, ""); !errors.Is(err, applier.ErrLockLost) {
		t.Errorf("SetState on a broken lock: %v, want ErrLockLost", err)
	}
	if h, _ := applier.ReadLock(ctx, a); h != nil {
		t.Errorf("lock still held after break: %+v", h)
	}
}

func (f *fixture) codecNames(t testing.TB) string {
	cs, err := f.c.ListCodecs(context.Background(), nsapi.CodecTypeCustom, "")
	if err != nil {
		t.Fatal(err)
	}
	var n []string
	for _, c := range cs {
		n = append(n, c.Name)
	}
	return strings.Join(n, ",")
}

// memStore is a gateway's codec list in memory; with dup it takes a
// second codec of a name it holds, as a gateway that does not enforce
// unique codec names would.
type memStore struct {
	mu     sync.Mutex
	dup    bool
	next   int
	codecs map[string]nsapi.Codec
	delay  func()
}

func (m *memStore) pause() {
	if m.delay != nil {
		m.delay()
	}
}

func (m *memStore) ListCodecs(_ context.Context, _, search string) ([]nsapi.Codec, error) {
	m.pause()
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []nsapi.Codec
	for _, c := range m.codecs {
		if strings.Contains(c.Name, search) {
			out = append(out, c)
		}
	}
	return out, nil
}

func (m *memStore) CreateCodec(_ context.Context, w nsapi.CodecWrite) (string, error) {
	m.pause()
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.dup {
		for _, c := range m.codecs {
			if c.Name == w.Name {
				return "", &nsapi.RemoteError{Code: nsapi.CodeAlreadyExists}
			}
		}
	}
	m.next++
	id := strconv.Itoa(m.next)
	m.codecs[id] = nsapi.Codec{ID: nsapi.FlexString(id), Name: w.Name, DecoderScript: w.DecoderScript}
	return id, nil
}

func (m *memStore) UpdateCodec(_ context.Context, id string, w nsapi.CodecWrite) error {
	m.pause()
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.codecs[id]; !ok {
		return &nsapi.RemoteError{Code: nsapi.CodeNotFound}
	}
	m.codecs[id] = nsapi.Codec{ID: nsapi.FlexString(id), Name: w.Name, DecoderScript: w.DecoderScript}
	return nil
}

func (m *memStore) DeleteCodec(_ context.Context, id string) error {
	m.pause()
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.codecs[id]; !ok {
		return &nsapi.RemoteError{Code: nsapi.CodeNotFound}
	}
	delete(m.codecs, id)
	return nil
}

// TestLockMutualExclusion races machines for the lock, each holding it a
// moment: never two inside at once, on a gateway that refuses a second
// codec of a name and on one that takes it, and on the simulated gateway.
func TestLockMutualExclusion(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	for _, tc := range []struct {
		name string
		dup  bool
	}{{"unique names", false}, {"duplicate names taken", true}} {
		t.Run(tc.name, func(t *testing.T) {
			jit := rand.New(rand.NewPCG(rng.Uint64(), 2))
			var jmu sync.Mutex
			m := &memStore{dup: tc.dup, codecs: map[string]nsapi.Codec{}, delay: func() {
				jmu.Lock()
				d := time.Duration(jit.IntN(2000)) * time.Microsecond
				jmu.Unlock()
				time.Sleep(d)
			}}
			race(t, seed, 6, func(int) applier.LockStore { return m })
		})
	}
	t.Run("gwsim", func(t *testing.T) {
		f := newFixture(t, gwsim.Options{})
		clients := []applier.LockStore{f.c, f.machine(t), f.machine(t)}
		race(t, seed, 3, func(i int) applier.LockStore { return clients[i] })
	})
}

func race(t *testing.T, seed int64, n int, store func(int) applier.LockStore) {
	t.Helper()
	var inside, max, entries atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				rec := applier.NewLockRecord(env("USER", fmt.Sprint("m", i)), "apply", "", "")
				l, err := applier.AcquireLock(context.Background(), store(i), rec, applier.LockOptions{Timeout: 30 * time.Second})
				if err != nil {
					t.Errorf("seed %d: machine %d: %v", seed, i, err)
					return
				}
				now := inside.Add(1)
				for {
					m := max.Load()
					if now <= m || max.CompareAndSwap(m, now) {
						break
					}
				}
				entries.Add(1)
				time.Sleep(5 * time.Millisecond)
				inside.Add(-1)
				if err := l.Release(context.Background()); err != nil {
					t.Errorf("seed %d: machine %d: release: %v", seed, i, err)
				}
			}
		}()
	}
	wg.Wait()
	if max.Load() != 1 || entries.Load() != int32(3*n) {
		t.Errorf("seed %d: at most %d machines held the lock at once (want 1), %d entries (want %d)", seed, max.Load(), entries.Load(), 3*n)
	}
}

// TestApplyKeepsTheLockWhenHalfWay: an apply whose rollback is incomplete
// (exit 4) asks to keep the lock, whose record says "rollback incomplete"
// and names the journal; a verified apply writes the digests of the
// write-only values to the gateway and lets the lock go.
func TestApplyKeepsTheLockWhenHalfWay(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, gwsim.Options{})
	f.seed(t)
	dir := filepath.Join(t.TempDir(), ".gwsync")
	f.g.Faults().Add(gwsim.Fault{Method: "POST", URLContains: "/api/urdevices", Code: nsapi.CodeParameter})
	f.g.Faults().Add(gwsim.Fault{Method: "DELETE", URLContains: "/api/urprofiles/", Code: nsapi.CodeInternal})
	l, err := applier.AcquireLock(ctx, f.c, applier.NewLockRecord(env("USER", "ci"), "apply", "site", "sha256:1"), applier.LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := applier.Apply(ctx, f.c, f.fullPlan(t), applier.Options{Parallelism: 1, JournalDir: dir, Lock: l})
	if err == nil || res.Restored || !res.KeepLock {
		t.Fatalf("apply: %v, restored %v, keep the lock %v; want a failure, not restored, the lock kept", err, res.Restored, res.KeepLock)
	}
	h, err := applier.ReadLock(ctx, f.machine(t))
	if err != nil || h == nil {
		t.Fatalf("the lock after an incomplete rollback: %+v, %v", h, err)
	}
	if h.State != applier.LockRollbackIncomplete || h.JournalID == "" || h.JournalID != applier.JournalID(dir) {
		t.Errorf("lock record %+v: want state %q and journal %q", h, applier.LockRollbackIncomplete, applier.JournalID(dir))
	}
}

// TestApplyRecordsWriteOnlyDigests: a verified apply under the lock leaves
// the digest of each codecJson it wrote on the gateway.
func TestApplyRecordsWriteOnlyDigests(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, gwsim.Options{})
	f.seed(t)
	p := f.fullPlan(t)
	want := map[string]string{} // codec → the digest expected
	for _, c := range p.Changes {
		if c.After != nil && c.After.Codec != nil {
			switch c.Action {
			case plan.Create:
				want[c.After.Codec.Name] = reserved.Digest("") // created without one: none
			case plan.Update:
				c.After.Codec.CodecJSON = `{"c":"` + c.After.Codec.Name + `"}`
				want[c.After.Codec.Name] = reserved.Digest(c.After.Codec.CodecJSON)
			}
		}
	}
	if len(want) < 2 {
		t.Fatalf("the plan has %d codec changes, want a create and an update", len(want))
	}
	l, err := applier.AcquireLock(ctx, f.c, applier.NewLockRecord(nil, "apply", "", ""), applier.LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := applier.Apply(ctx, f.c, p, applier.Options{JournalDir: filepath.Join(t.TempDir(), ".gwsync"), Lock: l})
	if err != nil || res.KeepLock {
		t.Fatalf("apply: %v (keep the lock %v)", err, res.KeepLock)
	}
	st, err := f.machine(t).ReadState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gr := applier.GatewayRecordOf(st.Records)
	if gr == nil || gr.Run != l.Record().RunID {
		t.Fatalf("no record of write-only values from this run on the gateway: %+v", gr)
	}
	if d := cmp.Diff(want, gr.CodecJSON); d != "" {
		t.Errorf("digests on the gateway (-want +got):\n%s", d)
	}
	for _, c := range st.Codecs {
		if reserved.Codec(c.Name) {
			t.Errorf("ReadState lists gwsync's record %s among the codecs", c.Name)
		}
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
}
