package cli

import (
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

// leafCommands lists every runnable command of the grammar as its words.
func leafCommands(t *testing.T) [][]string {
	t.Helper()
	var grammar CLI
	k, err := kong.New(&grammar, kong.Name("gwsync"))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	var walk func(n *kong.Node, path []string)
	walk = func(n *kong.Node, path []string) {
		leaf := true
		for _, c := range n.Children {
			if c.Type == kong.CommandNode && !c.Hidden {
				leaf = false
				walk(c, append(append([]string{}, path...), c.Name))
			}
		}
		if leaf && len(path) > 0 {
			out = append(out, path)
		}
	}
	walk(k.Model.Node, nil)
	return out
}

// TestEveryCommandHelpHasExitCodes: gwsync help CMD (and CMD --help) of
// every command ends with its exit-code table.
func TestEveryCommandHelpHasExitCodes(t *testing.T) {
	cmds := leafCommands(t)
	if len(cmds) < 15 {
		t.Fatalf("only %d commands found: %v", len(cmds), cmds)
	}
	for _, c := range cmds {
		name := strings.Join(c, " ")
		code, out, _ := runMain(t, append([]string{"help"}, c...)...)
		if code != ExitOK || !strings.Contains(out, "Usage: gwsync "+name) {
			t.Errorf("gwsync help %s: exit %d:\n%s", name, code, out)
			continue
		}
		if !strings.Contains(out, "Exit codes:") || !strings.Contains(out, "0  ") || !strings.Contains(out, "1  ") {
			t.Errorf("gwsync help %s has no exit-code table:\n%s", name, out)
		}
	}
	if code, out, _ := runMain(t); code != ExitError || !strings.Contains(out, "Usage: gwsync <command>") {
		t.Errorf("gwsync alone: exit %d, want 1 and the usage:\n%s", code, out)
	}
}
