//go:build unix

package fleet

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCommonStaysInside: common files and site folders that leave the
// fleet's folder, by name or through a symbolic link, are refused with the
// fleet file's line; a fleet file that is a named pipe or a device is
// refused at once.
func TestCommonStaysInside(t *testing.T) {
	base := t.TempDir()
	write(t, base, map[string]string{"outside/shared.yaml": "profiles: []\n", "outside/gw/s.yaml": "version: 1\n"})
	for _, tc := range []struct {
		fleet string
		link  string // fleet/<link> → base/outside
		want  string
	}{
		{"version: 1\ncommon:\n  - ../outside/shared.yaml\n", "", "fleet.yml:3: common ../outside/shared.yaml: leaves"},
		{"version: 1\ncommon:\n  - ok.yaml\n  - out/shared.yaml\n", "out", "fleet.yml:4: common out/shared.yaml: a symbolic link"},
		{"version: 1\ncommon: [out]\n", "out", "fleet.yml:2: common out: a symbolic link"},
		{"version: 1\nsites: [../outside]\n", "", "fleet.yml:2: sites ../outside: leaves"},
		{"version: 1\nsites: [out]\n", "out", "fleet.yml:2: sites out: a symbolic link"},
	} {
		dir := filepath.Join(t.TempDir(), "fleet")
		write(t, dir, map[string]string{"fleet.yml": tc.fleet, "ok.yaml": "profiles: []\n", "a/s.yaml": "version: 1\n"})
		if tc.link != "" {
			if err := os.Symlink(filepath.Join(base, "outside"), filepath.Join(dir, tc.link)); err != nil {
				t.Fatal(err)
			}
		}
		_, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.fleet, err, tc.want)
		}
	}
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "fleet.yml"), 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := Load(dir); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "named pipe") {
			t.Errorf("a named pipe as fleet file: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a named pipe as fleet file blocked Load")
	}
}
