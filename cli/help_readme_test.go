package cli

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestHelpExitCodesMatchREADME: the exit codes each command's help lists
// are the ones the README's exit-code table gives it, for every command
// the table names, and every command of the grammar is in the table.
func TestHelpExitCodesMatchREADME(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "### Exit codes")
	if start < 0 {
		t.Fatal("README has no Exit codes section")
	}
	var header []string
	want := map[string][]string{} // command → codes with a meaning
	for _, line := range strings.Split(readme[start:], "\n")[1:] {
		if strings.HasPrefix(line, "#") {
			break
		}
		if !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if header == nil {
			header = cells
			continue
		}
		if strings.HasPrefix(cells[0], "---") || strings.Contains(cells[0], "alone") {
			continue
		}
		var codes []string
		for i, c := range cells[1:] {
			if c != "" {
				codes = append(codes, header[i+1])
			}
		}
		for _, m := range regexp.MustCompile("`([a-z ]+)`").FindAllStringSubmatch(cells[0], -1) {
			want[m[1]] = codes
		}
	}
	if len(want) < 15 {
		t.Fatalf("only %d commands read from the README's table: %v", len(want), want)
	}
	codeLine := regexp.MustCompile(`(?m)^\s+(\d)  \S`)
	for name, codes := range want {
		code, out, errOut := runMain(t, append([]string{"help"}, strings.Fields(name)...)...)
		if code != ExitOK {
			t.Errorf("gwsync help %s: exit %d\n%s%s", name, code, out, errOut)
			continue
		}
		i := strings.Index(out, "Exit codes:")
		if i < 0 {
			t.Errorf("gwsync help %s: no exit-code table", name)
			continue
		}
		table := out[i:]
		if j := strings.Index(table, "\n\n"+"Arguments:"); j >= 0 {
			table = table[:j]
		}
		if j := strings.Index(table, "\nFlags:"); j >= 0 {
			table = table[:j]
		}
		var got []string
		for _, m := range codeLine.FindAllStringSubmatch(table, -1) {
			got = append(got, m[1])
		}
		if !slices.Equal(got, codes) {
			t.Errorf("gwsync help %s lists exit codes %v, the README %v:\n%s", name, got, codes, table)
		}
	}
	for _, c := range leafCommands(t) {
		if _, ok := want[strings.Join(c, " ")]; !ok {
			t.Errorf("gwsync %s is not in the README's exit-code table", strings.Join(c, " "))
		}
	}
	// The lock: what apply and rollback refuse on, and what unlock breaks.
	for _, name := range []string{"apply", "rollback"} {
		if _, out, _ := runMain(t, "help", name); !strings.Contains(out, "the gateway's lock held by another run") {
			t.Errorf("gwsync help %s: exit 1 does not name a lock held by another run", name)
		}
	}
	if _, out, _ := runMain(t, "unlock", "--help"); !strings.Contains(out, "0  the lock was broken, or none was held") {
		t.Errorf("gwsync unlock --help: no exit-code table:\n%s", out)
	}
}
