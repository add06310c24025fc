package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyCase copies the example golden case into a fresh folder of cases.
func copyCase(t *testing.T) (dir, caseDir string) {
	t.Helper()
	dir = t.TempDir()
	caseDir = filepath.Join(dir, "rename-and-add")
	os.MkdirAll(caseDir, 0o755)
	for _, f := range []string{"site.yaml", "state.json", "plan.txt"} {
		b, err := os.ReadFile(filepath.Join("..", "examples", "plantests", "rename-and-add", f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "site.yaml" { // the modeline's relative path is of no use here
			b = []byte(strings.Replace(string(b), "../../../schema/site.schema.json", "site.schema.json", 1))
		}
		os.WriteFile(filepath.Join(caseDir, f), b, 0o644)
	}
	return dir, caseDir
}

// TestGoldenTestCommand: gwsync test passes on the example case, fails
// with a readable -want +got difference when the expected plan is not
// what the site plans to, and --update rewrites it so that it passes.
func TestGoldenTestCommand(t *testing.T) {
	dir, caseDir := copyCase(t)
	code, out, errOut := runMain(t, "test", dir)
	if code != ExitOK || !strings.HasPrefix(out, "--- PASS: rename-and-add (") || !strings.Contains(out, "\nPASS\nok\t") {
		t.Fatalf("example case: exit %d\n%s%s", code, out, errOut)
	}

	golden := filepath.Join(caseDir, "plan.txt")
	b, _ := os.ReadFile(golden)
	os.WriteFile(golden, []byte(strings.Replace(string(b), `"wt201-meeting-room"`, `"wt201-board-room"`, 1)), 0o644)
	code, out, _ = runMain(t, "test", dir)
	if code != ExitError || !strings.HasPrefix(out, "--- FAIL: rename-and-add (") ||
		!strings.Contains(out, "    plan.txt differs (-want +got):\n") ||
		!strings.Contains(out, "\n    -       ~ name  = \"wt201-office\" -> \"wt201-board-room\"\n    +       ~ name  = \"wt201-office\" -> \"wt201-meeting-room\"\n") ||
		!strings.Contains(out, "… (16 unchanged lines)") ||
		!strings.Contains(out, "\nFAIL\nFAIL\t") || !strings.Contains(out, "1 of 1 case failed") {
		t.Errorf("a wrong expected plan: exit %d\n%s", code, out)
	}

	code, out, _ = runMain(t, "test", dir, "--update")
	if code != ExitOK || !strings.Contains(out, "    updated plan.txt\n") {
		t.Errorf("--update: exit %d\n%s", code, out)
	}
	if now, _ := os.ReadFile(golden); string(now) != string(b) {
		t.Errorf("--update wrote:\n%s\nwant:\n%s", now, b)
	}
	if code, out, _ = runMain(t, "test", dir); code != ExitOK {
		t.Errorf("after --update: exit %d\n%s", code, out)
	}
}

// TestGoldenTestJSONAndErrors: a JSON expected plan (site files named
// relative to the case, so it holds wherever the test runs from); a case
// with no expected plan, and a site that cannot be planned, fail.
func TestGoldenTestJSONAndErrors(t *testing.T) {
	dir, caseDir := copyCase(t)
	os.Remove(filepath.Join(caseDir, "plan.txt"))
	code, out, _ := runMain(t, "test", dir)
	if code != ExitError || !strings.Contains(out, "no expected plan") {
		t.Errorf("no expected plan: exit %d\n%s", code, out)
	}
	os.WriteFile(filepath.Join(caseDir, "plan.json"), []byte("{}\n"), 0o644)
	if code, out, _ = runMain(t, "test", dir, "--update"); code != ExitOK {
		t.Fatalf("--update: exit %d\n%s", code, out)
	}
	js, _ := os.ReadFile(filepath.Join(caseDir, "plan.json"))
	if !strings.Contains(string(js), `"site_files": [`+"\n"+`    "site.yaml"`) {
		t.Errorf("plan.json site files not relative to the case:\n%s", js)
	}
	if _, err := os.Stat(filepath.Join(caseDir, "plan.txt")); err == nil {
		t.Errorf("--update wrote plan.txt beside an existing plan.json")
	}
	t.Chdir(caseDir)
	if code, out, _ = runMain(t, "test", "."); code != ExitOK {
		t.Errorf("from the case folder: exit %d\n%s", code, out)
	}
	os.WriteFile(filepath.Join(caseDir, "site.yaml"), []byte("version: 1\ndevices: [{name: x}]\n"), 0o644)
	code, out, _ = runMain(t, "test", ".")
	if code != ExitError || !strings.Contains(out, "the site could not be planned:") || !strings.Contains(out, "devEUI") {
		t.Errorf("broken site: exit %d\n%s", code, out)
	}
	if code, _, errOut := runMain(t, "test", t.TempDir()); code != ExitError || !strings.Contains(errOut, "no case") {
		t.Errorf("empty folder: exit %d %s", code, errOut)
	}
}
