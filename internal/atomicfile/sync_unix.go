//go:build unix

package atomicfile

import (
	"errors"
	"os"
	"syscall"
)

// NoFollow is the open flag that refuses a symbolic link as the last
// element of a path (O_NOFOLLOW); 0 where the platform has none.
const NoFollow = syscall.O_NOFOLLOW

// SyncDir makes the entries of dir durable: a file created, renamed or
// removed in it survives a crash. Filesystems that cannot sync a folder
// (EINVAL, ENOTSUP) are taken as having nothing to sync.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) {
		err = nil
	}
	return errors.Join(err, d.Close())
}
