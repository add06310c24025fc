//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package safefile

import (
	"bytes"
	"io"
	"io/fs"
	"os"
)

// readFile reads the regular file at path, up to limit bytes; with
// noFollow a symbolic link is errSymlink.
func readFile(path string, noFollow bool, limit int64) ([]byte, error) {
	if noFollow {
		st, err := os.Lstat(path)
		if err != nil {
			return nil, err
		}
		if st.Mode()&fs.ModeSymlink != 0 {
			return nil, errSymlink
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, openError(err)
	}
	if !st.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: path, Err: &TypeError{Mode: st.Mode()}}
	}
	if st.Size() > limit {
		return nil, &fs.PathError{Op: "read", Path: path, Err: &LimitError{Limit: limit, Size: st.Size()}}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	buf.Grow(int(min(st.Size()+1, limit+1)))
	if _, err := io.Copy(&buf, io.LimitReader(f, limit+1)); err != nil {
		return nil, &fs.PathError{Op: "read", Path: path, Err: err}
	}
	if int64(buf.Len()) > limit {
		return nil, &fs.PathError{Op: "read", Path: path, Err: &LimitError{Limit: limit, Size: -1}}
	}
	return bytes.Clone(buf.Bytes()), nil
}
