package applier

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// LockInfo is what a lock file holds: who applies to the gateway.
type LockInfo struct {
	PID     int    `json:"pid"`
	Host    string `json:"host"`
	Started string `json:"started"` // RFC 3339
	Key     string `json:"key"`     // gateway EUI or broker+topic
}

// LockedError says that another apply holds the gateway's lock.
type LockedError struct {
	Path   string
	Holder LockInfo
}

// Error names the holder and what to do.
func (e *LockedError) Error() string {
	return fmt.Sprintf("gateway %s is locked by another apply (pid %d on %s, started %s); wait for it to finish, or remove %s if that process is gone",
		e.Holder.Key, e.Holder.PID, e.Holder.Host, e.Holder.Started, e.Path)
}

// Lock is a held per-gateway lock file: one apply at a time per gateway on
// a machine.
type Lock struct {
	path string
}

// LockPath is the lock file for key (a gateway EUI, or broker+topic) in dir
// ("" means os.TempDir()).
func LockPath(dir, key string) string {
	if dir == "" {
		dir = os.TempDir()
	}
	var b strings.Builder
	for _, r := range strings.ToLower(key) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' || r == '.' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	name := b.String()
	if len(name) > 120 {
		name = name[:120]
	}
	return filepath.Join(dir, "gwsync-"+name+".lock")
}

// AcquireLock takes the lock for key in dir ("" means os.TempDir()). The
// file is created with O_EXCL and holds PID, host and start time; a lock
// whose process is dead (same host) is stale and taken over. A live holder
// gives a *LockedError naming it.
func AcquireLock(dir, key string) (*Lock, error) {
	path := LockPath(dir, key)
	host, _ := os.Hostname()
	info := LockInfo{PID: os.Getpid(), Host: host, Started: time.Now().UTC().Format(time.RFC3339), Key: key}
	b, err := json.Marshal(info)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	for attempt := 0; attempt < 3; attempt++ {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			_, werr := f.Write(append(b, '\n'))
			cerr := f.Close()
			if werr != nil || cerr != nil {
				os.Remove(path)
				return nil, fmt.Errorf("lock %s: %w", path, errors.Join(werr, cerr))
			}
			return &Lock{path: path}, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		held, rerr := os.ReadFile(path)
		if rerr != nil {
			if errors.Is(rerr, fs.ErrNotExist) {
				continue // released meanwhile
			}
			return nil, fmt.Errorf("lock %s: %w", path, rerr)
		}
		var holder LockInfo
		if json.Unmarshal(held, &holder) != nil {
			// Being written right now, or damaged: only a dead holder is taken over.
			if fi, serr := os.Stat(path); serr == nil && time.Since(fi.ModTime()) < 10*time.Second {
				return nil, &LockedError{Path: path, Holder: LockInfo{Key: key, Started: fi.ModTime().UTC().Format(time.RFC3339)}}
			}
			os.Remove(path)
			continue
		}
		if holder.Host == host && !processAlive(holder.PID) {
			os.Remove(path) // stale
			continue
		}
		return nil, &LockedError{Path: path, Holder: holder}
	}
	return nil, fmt.Errorf("lock %s: could not take the lock", path)
}

// Release removes the lock file.
func (l *Lock) Release() error {
	if l == nil {
		return nil
	}
	if err := os.Remove(l.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("lock %s: %w", l.path, err)
	}
	return nil
}

// Path is the lock file's path.
func (l *Lock) Path() string { return l.path }

func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
