package site

import (
	"bytes"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestReadSmallAgrees: readSmall gives what os.ReadFile gives, bytes and
// errors, for files of every size around its buffer's, a directory and a
// missing file.
func TestReadSmallAgrees(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(1, 2))
	var paths []string
	for _, n := range []int{0, 1, 33, 63, 64, 65, 127, 128, 129, 511, 512, 513, 4096, 100_000} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		p := filepath.Join(dir, "f", "size-"+string(rune('a'+len(paths))))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	paths = append(paths, filepath.Join(dir, "f"), filepath.Join(dir, "missing"))
	for _, p := range paths {
		want, werr := os.ReadFile(p)
		got, gerr := readSmall(p)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes, os.ReadFile %d", p, len(got), len(want))
		}
		if (gerr == nil) != (werr == nil) {
			t.Fatalf("%s: error %v, os.ReadFile %v", p, gerr, werr)
		}
		if gerr != nil {
			if unwrapPath(gerr).Error() != unwrapPath(werr).Error() || errors.Is(gerr, fs.ErrNotExist) != errors.Is(werr, fs.ErrNotExist) {
				t.Errorf("%s: error %q, os.ReadFile %q", p, gerr, werr)
			}
		}
		if len(got) > 0 && cap(got) > 2*len(got)+64 {
			t.Errorf("%s: %d bytes kept in %d", p, len(got), cap(got))
		}
	}
}
