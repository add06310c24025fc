//go:build unix

package applier

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// checkPrivate refuses a journal key file that others may read or that
// another user owns, as ssh refuses such a private key: it unseals the
// keys the journal holds, and gwsync writes it 0600. A file from a
// checkout or a copy usually has neither property.
func checkPrivate(name string, st fs.FileInfo) error {
	if m := st.Mode().Perm(); m&0o077 != 0 {
		return fmt.Errorf("%s has mode %04o, readable by others, but gwsync writes it 0600: it unseals the journal's keys, and a journal gwsync did not write may hold values nobody reviewed; if this journal is yours (copied from a failed run), chmod 600 it and run again", name, m)
	}
	if s, ok := st.Sys().(*syscall.Stat_t); ok && int(s.Uid) != os.Getuid() {
		return fmt.Errorf("%s is owned by uid %d, not by you (uid %d): gwsync did not write it for you; if this journal is yours, take ownership of it and run again", name, s.Uid, os.Getuid())
	}
	return nil
}

// fileIdentity is the device and inode of st's file: a copy of the file
// has another.
func fileIdentity(st fs.FileInfo) string {
	s, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	return fmt.Sprintf("%d:%d", uint64(s.Dev), uint64(s.Ino)) //nolint:unconvert // Dev's type differs between systems
}
