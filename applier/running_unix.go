//go:build unix

package applier

import (
	"errors"
	"os"
	"syscall"
)

// tryLockFile takes an exclusive lock of f without waiting; busy says
// another holds it. The system drops it when the process ends, killed too.
func tryLockFile(f *os.File) (busy bool, err error) {
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return true, nil
	}
	return false, err
}

// releaseRunFile ends the hold of f at path: removed while still locked,
// so that a process that opened it before the removal finds, once it has
// the lock, that the file at path is no longer the one it locked.
func releaseRunFile(path string, f *os.File) {
	_ = os.Remove(path)
	f.Close()
}
