package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gwsync/gwsync/applier"
	"github.com/gwsync/gwsync/site"
)

// TestRollbackTakesTheApplyLock: a run that holds the gateway's lock (on
// the gateway, whatever machine it runs on) keeps a rollback from another
// journal out, naming the holder.
func TestRollbackTakesTheApplyLock(t *testing.T) {
	dir := t.TempDir()
	sitePath := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(sitePath, []byte("version: 1\ngateway:\n  channelPlan: EU868\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, ".gwsync"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".gwsync", applier.JournalFile), []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	flags := ConnFlags{Broker: "sim://" + filepath.Join(dir, "gw.json"), GatewayEUI: "24e124fffef5a6a8"}
	env := envOf(nil)
	cl, closer, err := connect(context.Background(), env, flags, nil, site.Gateway{})
	if err != nil {
		t.Fatal(err)
	}
	rec := applier.NewLockRecord(func(string) string { return "" }, "apply", "elsewhere", "")
	rec.JournalID = "j-another"
	if _, err := applier.AcquireLock(context.Background(), cl, rec, applier.LockOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := closer(); err != nil {
		t.Fatal(err)
	}
	err = (&RollbackCmd{Site: sitePath, ConnFlags: flags}).Run(env)
	if err == nil || !strings.Contains(err.Error(), "gateway locked: held by apply") || !strings.Contains(err.Error(), "j-another") {
		t.Errorf("rollback while another run holds the lock: got %v, want the holder named", err)
	}
}
