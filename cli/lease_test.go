package cli

import (
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gwsync/gwsync/applier"
	"github.com/gwsync/gwsync/internal/reserved"
	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/site"
)

// TestLockLeaseEnv: GWSYNC_LOCK_LEASE sets the lease; unset, the default;
// a value that is not a sensible duration is an error, not a silent
// default.
func TestLockLeaseEnv(t *testing.T) {
	for v, want := range map[string]time.Duration{"": 0, "2s": 2 * time.Second, " 5m ": 5 * time.Minute} {
		if d, err := lockLease(envOf(map[string]string{LeaseEnv: v})); err != nil || d != want {
			t.Errorf("%s=%q: %s, %v; want %s", LeaseEnv, v, d, err, want)
		}
	}
	for _, v := range []string{"soon", "0", "-1m", "10ms", "48h"} {
		if _, err := lockLease(envOf(map[string]string{LeaseEnv: v})); err == nil || !strings.Contains(err.Error(), LeaseEnv) {
			t.Errorf("%s=%q: %v, want an error naming the variable", LeaseEnv, v, err)
		}
	}
}

// TestLockRenewalShown: plan, apply and unlock show when the holder last
// renewed the lock, and whether its lease looks expired; a record of the
// previous release (no renewal) counts as renewed at its start.
func TestLockRenewalShown(t *testing.T) {
	for _, tc := range []struct {
		name    string
		renewed time.Time
		started time.Time
		want    string // a regular expression
		unlock  string
	}{
		{name: "fresh", renewed: time.Now().Add(-40 * time.Second), started: time.Now().Add(-time.Hour),
			want: `renewed 4\ds ago \(lease of 2m0s\)`, unlock: "may still be going"},
		{name: "expired", renewed: time.Now().Add(-5 * time.Minute), started: time.Now().Add(-time.Hour),
			want: `renewed 5m\ds ago \(lease of 2m0s expired: its run looks gone\)`, unlock: "looks gone"},
		{name: "previous release", started: time.Now().Add(-10 * time.Minute),
			want: `renewed 10m\ds ago \(lease of 2m0s expired`, unlock: "looks gone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw := filepath.Join(t.TempDir(), "gw.json")
			sitePath := checkout(t, gw, codecA, false)
			cl, closer, err := connect(context.Background(), envOf(nil), ConnFlags{Broker: "sim://" + gw}, nil, site.Gateway{EUI: "24E124FFFEF5A6A8"})
			if err != nil {
				t.Fatal(err)
			}
			rec := applier.LockRecord{RunID: "r1", Command: "apply", State: applier.LockApplying, User: "ci", Host: "runner",
				Started: tc.started.UTC().Truncate(time.Second), Renewed: tc.renewed.UTC().Truncate(time.Second), JournalID: "j-1"}
			b, _ := json.Marshal(rec)
			if _, err := cl.CreateCodec(context.Background(), nsapi.CodecWrite{Name: reserved.LockCodec, DecoderScript: string(b)}); err != nil {
				t.Fatal(err)
			}
			if err := closer(); err != nil {
				t.Fatal(err)
			}
			want := regexp.MustCompile(tc.want)
			_, out, errOut := runMain(t, "plan", sitePath)
			if !want.MatchString(errOut) {
				t.Errorf("plan: no %q in its warning:\n%s%s", tc.want, out, errOut)
			}
			code, out, errOut := runMain(t, "apply", sitePath, "--auto-approve")
			if code != ExitError || !want.MatchString(errOut) {
				t.Errorf("apply: exit %d, want 1 showing %q:\n%s%s", code, tc.want, out, errOut)
			}
			_, out, errOut = runMain(t, "unlock", sitePath)
			if !want.MatchString(out) || !strings.Contains(out, tc.unlock) {
				t.Errorf("unlock: want %q and %q in:\n%s%s", tc.want, tc.unlock, out, errOut)
			}
		})
	}
}
