// Package atomicfile writes files so that a reader sees the old content or
// the new, never half of either: through a temporary file in the same
// folder, renamed into place, and made durable (the file and the folder
// entry both fsynced). It is the only file-writing helper gwsync's
// packages share; it knows nothing of what they write.
package atomicfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrIsDir is returned when path names a folder.
var ErrIsDir = errors.New("is a directory")

// Write writes data to path. perm is the mode before the umask, as for
// os.WriteFile: a file that others may read (perm 0o644 or 0o666) gets
// perm less the user's umask. A private file (perm with no group or other
// bit, such as 0o600 for a secret) gets exactly perm whatever the umask,
// and is never readable by others on the way, not even as the temporary
// file. A symbolic link at path is replaced, never followed. Errors carry
// the cause alone ("no such file or directory", "is a directory"): the
// caller names path, not the temporary file.
func Write(path string, data []byte, perm os.FileMode) error {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return ErrIsDir
	}
	dir := filepath.Dir(path)
	f, tmp, err := createTemp(dir, "."+filepath.Base(path)+".", ".tmp", perm.Perm())
	if err != nil {
		return cause(err)
	}
	_, werr := f.Write(data)
	if werr == nil && perm.Perm()&0o077 == 0 {
		werr = f.Chmod(perm.Perm())
	}
	if werr == nil {
		werr = f.Sync()
	}
	err = errors.Join(werr, f.Close())
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return cause(err)
	}
	return cause(SyncDir(dir))
}

// createTemp creates a new file dir/prefix<random>suffix with perm (the
// umask applies), never through a symbolic link.
func createTemp(dir, prefix, suffix string, perm os.FileMode) (*os.File, string, error) {
	var err error
	for try := 0; try < 10; try++ {
		b := make([]byte, 8)
		if _, err := rand.Read(b); err != nil {
			return nil, "", err
		}
		name := filepath.Join(dir, prefix+hex.EncodeToString(b)+suffix)
		var f *os.File
		f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL|NoFollow, perm)
		if err == nil {
			return f, name, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, "", err
		}
	}
	return nil, "", err
}

// cause drops the path an *fs.PathError or *os.LinkError repeats.
func cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
