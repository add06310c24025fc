package cli

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestSiteSimStateNotFollowed: the simulator's state file a site names
// (connection.broker: sim://FILE) is read and written back by gwsync, so it
// is never followed through a link nor opened when it is a special file;
// the same file given with --broker is the user's own choice.
func TestSiteSimStateNotFollowed(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need privileges on Windows")
	}
	dir := t.TempDir()
	target := filepath.Join(dir, "elsewhere.json")
	if err := os.WriteFile(target, []byte("not a state file, and not to be replaced\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "gw.json")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	site := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(site, []byte("version: 1\ngateway:\n  eui: 24E124FFFEF5A6A8\nconnection:\n  broker: sim://"+link+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runMain(t, "plan", site)
	if code != ExitError || !strings.Contains(errOut, "is not a regular file") {
		t.Fatalf("plan of a site whose sim:// state file is a link: exit %d, want 1 and a refusal\n%s\n%s", code, out, errOut)
	}
	if b, _ := os.ReadFile(target); string(b) != "not a state file, and not to be replaced\n" {
		t.Errorf("the link's target changed: %q", b)
	}
}
