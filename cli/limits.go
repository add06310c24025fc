package cli

import (
	"fmt"

	"github.com/gwsync/gwsync/internal/safefile"
)

// applyLimits sets the size caps of the files gwsync reads from
// GWSYNC_MAX_*_BYTES (and GWSYNC_MAX_SITE_VALUES); a variable not set keeps
// the default.
func applyLimits(env *Env) error {
	get := env.Getenv
	if get == nil {
		get = func(string) string { return "" }
	}
	if err := safefile.LimitsFromEnv(get); err != nil {
		return fmt.Errorf("size caps: %w", err)
	}
	return nil
}

// readPlanFile reads a saved plan file given to apply or show.
func readPlanFile(path string) ([]byte, error) {
	return safefile.Read(path, safefile.Plan)
}

// readSnapshotFile reads a state snapshot given to plan --state.
func readSnapshotFile(path string) ([]byte, error) {
	return safefile.Read(path, safefile.Snapshot)
}
