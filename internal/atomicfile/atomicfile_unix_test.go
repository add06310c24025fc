//go:build unix

package atomicfile

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestWriteUmask: a shared file gets its mode less the umask, as
// os.WriteFile gives; a private one gets exactly 0600 whatever the umask.
func TestWriteUmask(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		umask      int
		perm, want os.FileMode
	}{
		{0o027, 0o644, 0o640},
		{0o022, 0o666, 0o644},
		{0o002, 0o664, 0o664},
		{0o077, 0o644, 0o600},
		{0o000, 0o600, 0o600},
		{0o277, 0o600, 0o600}, // a secret stays readable by its owner
	} {
		old := syscall.Umask(tc.umask)
		path := filepath.Join(dir, "f")
		err := Write(path, []byte("x"), tc.perm)
		syscall.Umask(old)
		if err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != tc.want {
			t.Errorf("umask %04o, perm %04o: mode %04o, want %04o", tc.umask, tc.perm, st.Mode().Perm(), tc.want)
		}
	}
}

// TestWriteReplacesSymlink: a symbolic link at path is replaced by the
// file, never followed to overwrite what it points at.
func TestWriteReplacesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "elsewhere")
	if err := os.WriteFile(target, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "state.json")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Errorf("the link's target was overwritten: %q", b)
	}
	if st, err := os.Lstat(path); err != nil || !st.Mode().IsRegular() {
		t.Errorf("path is not a regular file after the write: %v, %v", st, err)
	}
}

func TestSyncDir(t *testing.T) {
	if err := SyncDir(t.TempDir()); err != nil {
		t.Errorf("SyncDir: %v", err)
	}
	if err := SyncDir(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("SyncDir of a missing folder: no error")
	}
}
