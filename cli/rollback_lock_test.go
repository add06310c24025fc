package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gwsync/gwsync/applier"
	"github.com/gwsync/gwsync/site"
)

// TestRollbackWithoutJournalNamesHeldLock: a rollback in a checkout with no
// journal says only that there is nothing to roll back while the gateway is
// unlocked; while another run holds the gateway's lock, it names that run
// and the ways forward (its journal from where it ran, or gwsync unlock),
// and writes nothing.
func TestRollbackWithoutJournalNamesHeldLock(t *testing.T) {
	gw := filepath.Join(t.TempDir(), "gw.json")
	sitePath := checkout(t, gw, codecA, false)
	code, out, errOut := runMain(t, "rollback", sitePath)
	if code != ExitError || !strings.Contains(errOut, "nothing to roll back: no unfinished apply") || strings.Contains(errOut, "lock") {
		t.Fatalf("rollback, no journal, no lock: exit %d, want 1 and nothing to roll back\n%s%s", code, out, errOut)
	}

	cl, closer, err := connect(context.Background(), envOf(nil), ConnFlags{Broker: "sim://" + gw}, nil, site.Gateway{EUI: "24E124FFFEF5A6A8"})
	if err != nil {
		t.Fatal(err)
	}
	rec := applier.NewLockRecord(func(k string) string {
		return map[string]string{"USER": "ci", "CI_JOB_URL": "https://ci.example/jobs/9"}[k]
	}, "apply", "sites/x", "sha256:feed")
	if _, err := applier.AcquireLock(context.Background(), cl, rec, applier.LockOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := closer(); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runMain(t, "rollback", sitePath)
	for _, want := range []string{"no journal here", "the gateway's lock is held by apply by ci@", "https://ci.example/jobs/9",
		"artifacts", "gwsync rollback " + sitePath, "gwsync unlock " + sitePath} {
		if !strings.Contains(errOut, want) {
			t.Errorf("rollback, no journal, a held lock: stderr lacks %q", want)
		}
	}
	if code != ExitError || strings.Contains(errOut, "nothing to roll back") {
		t.Errorf("rollback, no journal, a held lock: exit %d, want 1, and no 'nothing to roll back'\n%s%s", code, out, errOut)
	}
	if code, out, _ := runMain(t, "unlock", sitePath); code != ExitError || !strings.Contains(out, "https://ci.example/jobs/9") {
		t.Errorf("the lock should still be held after the refused rollback: unlock exit %d\n%s", code, out)
	}
}
