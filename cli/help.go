package cli

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// Exit codes of every command, as --help and the README show them.
const (
	exitsValidate = `Exit codes:
  0  the site is valid (warnings allowed, unless --strict)
  1  the site is invalid, or a usage error`
	exitsPlan = `Exit codes:
  0  planned (with --detailed-exitcode: no changes)
  1  error: the site is invalid, or the gateway or snapshot could not be read
  2  with --detailed-exitcode: there are changes (drift)`
	exitsApply = `Exit codes:
  0  applied and verified: the gateway was re-read and matches the site
  1  error before the first write (invalid site, stale saved plan, refused
     at the prompt, the gateway's lock held by another run): nothing changed
  3  a step failed; everything was rolled back and verified equal to before
  4  not verified either way: the journal is kept; run gwsync rollback SITE
     (or gwsync rollback --abandon SITE to end it without undoing)`
	exitsShow = `Exit codes:
  0  shown
  1  not a saved plan, or one written by another gwsync version or edited`
	exitsRollback = `Exit codes:
  0  the gateway is verified back in its state before the apply
  1  error before any write (no journal, a resource moved since the apply,
     the gateway's lock held by another run, a journal no lock on the
     gateway names)
  4  the rollback is still incomplete: run it again, or end it with --abandon`
	exitsRead = `Exit codes:
  0  written
  1  error (no broker, the gateway could not be read, a file could not be written)`
	exitsSim = `Exit codes:
  0  stopped (Ctrl-C)
  1  error (bad flags, the broker or state file could not be opened)`
	exitsSimple = `Exit codes:
  0  done
  1  usage error`
)

// Help is the detailed help of gwsync validate --help.
func (c *ValidateCmd) Help() string {
	return `Checks site files offline, with no gateway and no secret: the JSON Schema and
semantic checks. A ${env:NAME} that is not set (or a ${file:PATH} that is not
there) is a warning: its value is needed by plan and apply, not here.

` + exitsValidate
}

// Help is the detailed help of gwsync plan --help.
func (c *PlanCmd) Help() string {
	return `Reads the gateway (or, with --state, a snapshot: offline, no secret needed)
and prints what apply would change. --out saves the plan document, the same
document --format json prints; gwsync show prints it, gwsync apply runs it.

` + exitsPlan
}

// Help is the detailed help of gwsync apply --help.
func (c *ApplyCmd) Help() string {
	return `Changes the gateway to match the site. Given a site, it plans and asks for
"yes" (or --auto-approve); given a plan saved by gwsync plan --out, it runs
exactly that plan without asking again, and refuses it as stale when the
gateway or the site changed since.

` + exitsApply
}

// Help is the detailed help of gwsync show --help.
func (c *ShowCmd) Help() string {
	return `Prints a saved plan without reading the gateway or any secret.

` + exitsShow
}

// Help is the detailed help of gwsync rollback --help.
func (c *RollbackCmd) Help() string { return exitsRollback }

// Help is the detailed help of gwsync snapshot --help.
func (c *SnapshotCmd) Help() string { return exitsRead }

// Help is the detailed help of gwsync sim --help.
func (c *SimCmd) Help() string { return exitsSim }

// Help is the detailed help of gwsync schema --help.
func (c *SchemaCmd) Help() string { return exitsSimple }

// Help is the detailed help of gwsync status --help.
func (c *StatusCmd) Help() string {
	return `Exit codes:
  0  shown, and no device of the tasks shown failed
  1  a device failed, or an error (the gateway could not be read; --watch timed out)`
}

// Help is the detailed help of gwsync fuota retry --help.
func (c *FuotaRetryCmd) Help() string {
	return `Exit codes:
  0  the gateway took the retry
  1  error (no such task, a device that is not a failed device of the task, the gateway refused)`
}

// Help is the detailed help of gwsync firmware list --help.
func (c *FirmwareListCmd) Help() string {
	return `Exit codes:
  0  listed
  1  error (no broker, the gateway could not be read)`
}

// Help is the detailed help of gwsync version --help.
func (c *VersionCmd) Help() string { return exitsSimple }

// Help is the detailed help of gwsync completion --help.
func (c *CompletionCmd) Help() string {
	return `Prints a completion script for the shell:

  bash:  source <(gwsync completion bash)          (or save it in /etc/bash_completion.d/)
  zsh:   gwsync completion zsh > "${fpath[1]}/_gwsync"
  fish:  gwsync completion fish > ~/.config/fish/completions/gwsync.fish

` + exitsSimple
}

// HelpCmd is `gwsync help [COMMAND]`: the same as gwsync COMMAND --help.
type HelpCmd struct {
	Command []string `arg:"" optional:"" help:"The command to explain."`
}

// Run is never reached: Run rewrites "help CMD" to "CMD --help" before
// parsing.
func (c *HelpCmd) Run() error { return nil }

// VersionString is gwsync's version: Version when set at build time, else
// the module version from the build information, with the commit (and
// "+dirty" for a build from modified sources) when the build recorded it.
func VersionString() string {
	v := Version
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if v == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		v = info.Main.Version
	}
	var rev, when string
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	var parts []string
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if dirty {
			rev += "+dirty"
		}
		parts = append(parts, "commit "+rev)
	} else {
		parts = append(parts, "commit unknown")
	}
	if when != "" {
		parts = append(parts, when)
	}
	parts = append(parts, info.GoVersion)
	return fmt.Sprintf("%s (%s)", v, strings.Join(parts, ", "))
}

// Help is the detailed help of gwsync help --help.
func (c *HelpCmd) Help() string { return exitsSimple }

// Help is the detailed help of gwsync test --help.
func (c *TestCmd) Help() string {
	return `Exit codes:
  0  every case passes (or, with --update, the expected plans were written)
  1  a case differs, or an error (no case, a site or snapshot that does not load)`
}
