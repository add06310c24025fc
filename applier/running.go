package applier

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gwsync/gwsync/internal/atomicfile"
)

// RunFile, in the journal directory, is held locked by the process that
// writes the journal (an apply, or a rollback from it) for as long as it
// runs. The gateway's lock cannot tell a run that was killed from one that
// is still going; this machine can: the lock of a killed process is gone
// with it. So a rollback run beside an apply still going in the same
// checkout (a second terminal, a CI step that did not wait) is refused
// before it takes the apply's lock over and writes beside it.
const RunFile = "run.lock"

// ErrJournalBusy says another process on this machine holds RunFile.
var ErrJournalBusy = errors.New("an apply or a rollback from this folder is still running on this machine (it holds its run.lock): wait for it to end; nothing was written")

// HoldJournalDir makes the journal directory dir when it is missing and
// locks its RunFile for this process; release unlocks it and removes
// what is left of the directory when the journal is gone. Another process
// holding it gives ErrJournalBusy. A dir of "" holds nothing.
func HoldJournalDir(dir string) (release func(), err error) {
	if dir == "" {
		return func() {}, nil
	}
	if err := makeJournalDir(dir); err != nil {
		return nil, err
	}
	if err := writeIgnore(dir); err != nil {
		return nil, fmt.Errorf("journal %s: %w", dir, err)
	}
	path := filepath.Join(dir, RunFile)
	for try := 0; ; try++ {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|atomicfile.NoFollow, 0o600)
		if err != nil {
			return nil, fmt.Errorf("journal %s: %w", dir, err)
		}
		busy, err := tryLockFile(f)
		if err != nil || busy {
			f.Close()
			if busy {
				return nil, fmt.Errorf("journal %s: %w", dir, ErrJournalBusy)
			}
			return nil, fmt.Errorf("journal %s: lock %s: %w", dir, RunFile, err)
		}
		// The file locked must still be the one at path: a holder that
		// ended removes it, and one opened before that removal locks a
		// file nobody else sees.
		fst, ferr := f.Stat()
		pst, perr := os.Lstat(path)
		if ferr == nil && perr == nil && os.SameFile(fst, pst) {
			return func() {
				releaseRunFile(path, f)
				if ents, err := os.ReadDir(dir); err == nil && len(ents) == 1 && ents[0].Name() == ignoreFile {
					_ = os.Remove(filepath.Join(dir, ignoreFile))
				}
				if os.Remove(dir) == nil {
					_ = atomicfile.SyncDir(filepath.Dir(dir))
				}
			}, nil
		}
		f.Close()
		if try == 3 {
			return nil, fmt.Errorf("journal %s: %w", dir, ErrJournalBusy)
		}
	}
}
