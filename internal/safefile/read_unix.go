//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package safefile

import (
	"bytes"
	"io/fs"
	"os"
	"slices"
	"syscall"
)

// readFile reads the regular file at path, up to limit bytes, with the
// fewest system calls (open, fstat, read until the end, close: a site can
// name thousands of key files) and without the runtime's poller. The open
// does not block on a named pipe (O_NONBLOCK), and with noFollow a
// symbolic link is errSymlink. The bytes are kept in a slice of about
// their size.
func readFile(path string, noFollow bool, limit int64) ([]byte, error) {
	if !noFollow {
		// A device is not opened at all: opening some has effects.
		st, err := os.Stat(path)
		if err != nil {
			return nil, openError(err)
		}
		if !st.Mode().IsRegular() {
			return nil, &fs.PathError{Op: "read", Path: path, Err: &TypeError{Mode: st.Mode()}}
		}
	}
	flags := syscall.O_RDONLY | syscall.O_CLOEXEC | syscall.O_NONBLOCK
	if noFollow {
		flags |= syscall.O_NOFOLLOW
	}
	var fd int
	var err error
	for {
		fd, err = syscall.Open(path, flags, 0)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		if noFollow && (err == syscall.ELOOP || err == syscall.EMLINK) {
			if st, lerr := os.Lstat(path); lerr == nil && st.Mode()&fs.ModeSymlink != 0 {
				return nil, errSymlink
			}
		}
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if m := uint32(st.Mode) & syscall.S_IFMT; m != syscall.S_IFREG {
		return nil, &fs.PathError{Op: "read", Path: path, Err: &TypeError{Mode: modeOf(m)}}
	}
	if st.Size > limit {
		return nil, &fs.PathError{Op: "read", Path: path, Err: &LimitError{Limit: limit, Size: st.Size}}
	}
	// The size may lie (/proc files say 0): the read stops past limit
	// whatever it said.
	b := make([]byte, 0, min(max(st.Size+1, 64), limit+1))
	for {
		if len(b) == cap(b) {
			b = slices.Grow(b, min(len(b), int(limit+1)-len(b)))
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
		if int64(len(b)) > limit {
			return nil, &fs.PathError{Op: "read", Path: path, Err: &LimitError{Limit: limit, Size: -1}}
		}
	}
}

func modeOf(m uint32) fs.FileMode {
	switch m {
	case syscall.S_IFDIR:
		return fs.ModeDir
	case syscall.S_IFIFO:
		return fs.ModeNamedPipe
	case syscall.S_IFSOCK:
		return fs.ModeSocket
	case syscall.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFBLK:
		return fs.ModeDevice
	case syscall.S_IFLNK:
		return fs.ModeSymlink
	}
	return fs.ModeIrregular
}
