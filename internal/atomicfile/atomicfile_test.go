package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "new" {
		t.Fatalf("content = %q, %v; want new", b, err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries, want only the file (no temporary left)", len(entries))
	}
}

func TestWriteErrorsNameNoTemporaryFile(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir, nil, 0o644); !errors.Is(err, ErrIsDir) {
		t.Errorf("Write(folder) = %v, want ErrIsDir", err)
	}
	err := Write(filepath.Join(dir, "missing", "f.json"), nil, 0o644)
	if !errors.Is(err, syscall.ENOENT) || strings.Contains(err.Error(), ".tmp") {
		t.Errorf("Write into a missing folder = %v, want ENOENT without the temporary name", err)
	}
}
