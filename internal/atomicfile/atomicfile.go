// Package atomicfile writes files so that a reader sees the old content or
// the new, never half of either: through a temporary file in the same
// folder, renamed into place. It is the only file-writing helper gwsync's
// packages share; it knows nothing of what they write.
package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrIsDir is returned when path names a folder.
var ErrIsDir = errors.New("is a directory")

// Write writes data to path with mode. The temporary file is created 0600,
// so a secret never lies readable in it, and given mode only before the
// rename. Errors carry the cause alone ("no such file or directory", "is a
// directory"): the caller names path, not the temporary file.
func Write(path string, data []byte, mode os.FileMode) error {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return ErrIsDir
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return cause(err)
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	err = errors.Join(werr, f.Close())
	if err == nil {
		err = os.Chmod(tmp, mode)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return cause(err)
	}
	return nil
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
