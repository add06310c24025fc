package applier_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gwsync/gwsync/applier"
	"github.com/gwsync/gwsync/nsapi"
)

// releaseStore answers the deletes of a LockStore by a script, one entry
// per delete: "refuse" (ns-api code 9, not performed), "lose" (performed,
// its answer lost); past the script's end every delete is done.
type releaseStore struct {
	applier.LockStore
	mu      sync.Mutex
	script  []string
	deletes int
}

func (s *releaseStore) DeleteCodec(ctx context.Context, id string) error {
	s.mu.Lock()
	next := ""
	if s.deletes < len(s.script) {
		next = s.script[s.deletes]
	}
	s.deletes++
	s.mu.Unlock()
	switch next {
	case "refuse":
		return &nsapi.RemoteError{Method: "DELETE", URL: "/api/payloadcodecs/" + id, Code: nsapi.CodeFailedPrecondition}
	case "lose":
		if err := s.LockStore.DeleteCodec(ctx, id); err != nil {
			return err
		}
		return nsapi.ErrUnknownOutcome
	}
	return s.LockStore.DeleteCodec(ctx, id)
}

// TestReleaseTriedAgain: a lock whose release the gateway refuses, or
// whose answer is lost, is released by a later try within the lease; one
// refused to the end stays on the gateway and Release says why, after
// four tries, or fewer when a quarter of the lease would not be left.
func TestReleaseTriedAgain(t *testing.T) {
	for _, tc := range []struct {
		name        string
		script      []string
		lease       time.Duration
		wantDeletes int
		wantErr     string // "" released
		wantWait    time.Duration
	}{
		{name: "refused twice", script: []string{"refuse", "refuse"}, wantDeletes: 3, wantWait: 750 * time.Millisecond},
		{name: "answer lost", script: []string{"lose"}, wantDeletes: 1, wantWait: 250 * time.Millisecond},
		{name: "refused to the end", script: []string{"refuse", "refuse", "refuse", "refuse", "refuse"},
			wantDeletes: 4, wantErr: "ns-api error 9", wantWait: 1750 * time.Millisecond},
		{name: "a short lease", script: []string{"refuse", "refuse", "refuse"}, lease: time.Second,
			wantDeletes: 2, wantErr: "ns-api error 9", wantWait: 250 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				m := newMem()
				rs := &releaseStore{LockStore: m, script: tc.script}
				l, err := applier.AcquireLock(ctx, rs, applier.NewLockRecord(env("USER", "a"), "apply", "", ""), applier.LockOptions{Lease: tc.lease})
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				err = l.Release(ctx)
				waited := time.Since(start)
				switch {
				case tc.wantErr == "" && err != nil:
					t.Errorf("Release: %v, want it released", err)
				case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr) || errors.Is(err, applier.ErrLockLost)):
					t.Errorf("Release: %v, want an error with %q", err, tc.wantErr)
				}
				if h := readLock(t, m); (h == nil) != (tc.wantErr == "") {
					t.Errorf("after Release the gateway holds %+v", h)
				}
				if rs.deletes != tc.wantDeletes {
					t.Errorf("%d deletes, want %d", rs.deletes, tc.wantDeletes)
				}
				if waited != tc.wantWait {
					t.Errorf("Release took %s, want %s", waited, tc.wantWait)
				}
			})
		})
	}
}

// TestReleaseOfABrokenLock: a lock broken before its release is not
// released by it, and Release says it was lost.
func TestReleaseOfABrokenLock(t *testing.T) {
	ctx := context.Background()
	m := newMem()
	l, err := applier.AcquireLock(ctx, m, applier.NewLockRecord(env("USER", "a"), "apply", "", ""), applier.LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.DeleteCodec(ctx, l.Record().ID); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx); !errors.Is(err, applier.ErrLockLost) {
		t.Errorf("Release of a broken lock: %v, want ErrLockLost", err)
	}
}
