package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gwsync/gwsync/applier"
)

// TestRollbackTakesTheApplyLock: an apply given --gateway-eui (the site
// names no EUI) holds the gateway's lock; a rollback with the same flag
// must wait for it, not run beside it under another lock name.
func TestRollbackTakesTheApplyLock(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	dir := t.TempDir()
	sitePath := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(sitePath, []byte("version: 1\ngateway:\n  channelPlan: EU868\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, ".gwsync"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".gwsync", applier.JournalFile), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	flags := ConnFlags{Broker: "sim://" + filepath.Join(dir, "gw.json"), GatewayEUI: "24e124fffef5a6a8"}
	env := envOf(nil)
	lock, err := applier.AcquireLock("", lockKey(env, flags, []string{sitePath}))
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	err = (&RollbackCmd{Site: sitePath, ConnFlags: flags}).Run(env)
	var le *applier.LockedError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "locked by another apply") {
		t.Errorf("rollback while the apply holds the lock: got %v, want a LockedError", err)
	}
}
