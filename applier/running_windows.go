//go:build windows

package applier

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// tryLockFile takes an exclusive lock of f's first byte without waiting;
// busy says another holds it. The system drops it when the process ends,
// killed too.
func tryLockFile(f *os.File) (busy bool, err error) {
	err = windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, new(windows.Overlapped))
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) || errors.Is(err, windows.ERROR_IO_PENDING) {
		return true, nil
	}
	return false, err
}

// releaseRunFile ends the hold of f at path. Windows does not remove a
// file another process has open, so it is closed first: the removal then
// succeeds only when nobody else has it open, and a process that does
// keeps the file it locks (or will lock) at path.
func releaseRunFile(path string, f *os.File) {
	f.Close()
	_ = os.Remove(path)
}
