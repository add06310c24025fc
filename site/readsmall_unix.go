//go:build unix

package site

import (
	"bytes"
	"io/fs"
	"slices"
	"syscall"
)

// readSmall reads a file that is mostly small (a key file: a site can name
// thousands) with the fewest system calls: open, read until the end, close.
// os.ReadFile also stats the file and sets it up for the runtime's poller,
// which for 10,000 key files was a sixth of a site load's CPU. The bytes are
// kept in a slice of about their size (os.ReadFile keeps at least 512 bytes:
// 20,000 key files, 10 MB instead of 0.7 MB). Errors are those of
// os.ReadFile: an *fs.PathError wrapping the system's error.
func readSmall(path string) ([]byte, error) {
	fd, err := openRetry(path)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	b := make([]byte, 0, 64)
	for {
		if len(b) == cap(b) {
			b = slices.Grow(b, len(b))
		}
		n, err := syscall.Read(fd, b[len(b):cap(b)])
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		case n == 0:
			if cap(b) > 2*len(b)+64 {
				return bytes.Clone(b), nil
			}
			return b, nil
		}
		b = b[:len(b)+n]
	}
}

func openRetry(path string) (int, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}
