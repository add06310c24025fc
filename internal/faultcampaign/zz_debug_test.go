package faultcampaign

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestDebugSeed(t *testing.T) {
	if os.Getenv("DEBUGSEED") == "" {
		t.Skip()
	}
	var seed uint64
	fmt.Sscan(os.Getenv("DEBUGSEED"), &seed)
	t.Setenv("TMPDIR", t.TempDir())
	dir := "/tmp/keep"
	os.RemoveAll(dir)
	os.MkdirAll(dir, 0o755)
	kind, par := trialOf(seed)
	rep := Run(context.Background(), Trial{Seed: seed, Kind: kind, Parallelism: par, Dir: dir, Bin: gwsyncBin, Timeout: *flagTimeout})
	t.Logf("%+v", rep)
	m, _ := filepath.Glob(dir + "/*")
	t.Log(m)
}
