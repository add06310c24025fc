// Package cli is gwsync's command line: the kong grammar, one command per
// file, and the wiring of the other packages. It is the only package that
// touches arguments, exit codes, the environment and standard streams.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/alecthomas/kong"

	"github.com/gwsync/gwsync/nsapi"

	"golang.org/x/term"
)

// Version is set at build time with -ldflags "-X github.com/gwsync/gwsync/cli.Version=…".
var Version = "dev"

// Exit codes shared by the commands.
const (
	ExitOK      = 0
	ExitError   = 1
	ExitChanges = 2 // plan --detailed-exitcode: there are changes
	ExitRolled  = 3 // apply: a step failed and everything was rolled back
	ExitPartial = 4 // apply: rollback incomplete, journal kept
)

// Env is what a command may see of the process: streams and environment.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// IsTerminal reports whether Stdout is a terminal (colour, progress bars).
	IsTerminal bool
	// WrapTransport, when set, wraps the transport of every in-process
	// (sim://) gateway connection: a test's man in the middle sees and
	// faults the real command's traffic.
	WrapTransport func(nsapi.Transport) nsapi.Transport
	// DialShared, when set, opens the client of a network broker (not
	// sim://) instead of nsapi.Dial: a fleet shares one connection per
	// broker among its sites.
	DialShared func(context.Context, nsapi.Config) (*nsapi.Client, error)
	// JournalDir, when set, is the journal folder of the site being
	// planned (a fleet site is loaded together with its common folders,
	// so its journal cannot be found from the paths loaded).
	JournalDir string
	// log is the logging configuration (GWSYNC_LOG, --log-format), set by Run.
	log logConfig
	// warned holds the warnings this run has printed (warnOnce), and
	// warnTo, when set, is where they go instead of Stderr: a fleet's
	// stderr, not one site's section.
	warned *sync.Map
	warnTo io.Writer
}

// exitError carries an exit code out of a command's Run.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// withExit makes err end the process with code (err may be nil for a quiet exit).
func withExit(code int, err error) error { return &exitError{code: code, err: err} }

// CLI is the command-line grammar.
type CLI struct {
	Validate ValidateCmd `cmd:"" help:"Check site files offline: schema and semantic checks."`
	Plan     PlanCmd     `cmd:"" help:"Read the gateway and show what apply would change."`
	Show     ShowCmd     `cmd:"" help:"Print a saved plan as text, markdown or its JSON document."`
	Apply    ApplyCmd    `cmd:"" help:"Change the gateway to match the site, rolling back on failure."`
	Rollback RollbackCmd `cmd:"" help:"Finish an interrupted apply's rollback from its journal."`
	Unlock   UnlockCmd   `cmd:"" help:"Break the gateway's lock left by a run that is gone."`
	Snapshot SnapshotCmd `cmd:"" help:"Save the gateway's live state as a JSON snapshot."`
	Export   ExportCmd   `cmd:"" help:"Write the gateway's live state as a site file, keys as references."`
	Sim      SimCmd      `cmd:"" help:"Run a simulated gateway."`
	Schema   SchemaCmd   `cmd:"" help:"Print the site file JSON Schema."`
	Status   StatusCmd   `cmd:"" help:"Show the gateway's FUOTA tasks and each device's progress; exit 1 when a device failed."`
	Fuota    FuotaCmd    `cmd:"" help:"FUOTA task commands: retry."`
	Firmware FirmwareCmd `cmd:"" help:"Official firmware the gateway can fetch: list."`
	Test     TestCmd     `cmd:"" help:"Run golden plan tests: each case's site planned against its snapshot and compared with the expected plan."`
	Version  VersionCmd  `cmd:"" help:"Print gwsync's version."`

	Completion CompletionCmd `cmd:"" help:"Print a shell completion script (bash, zsh, fish)."`
	Help       HelpCmd       `cmd:"" help:"Show the help of a command (gwsync help plan)."`

	VersionFlag kong.VersionFlag `name:"version" help:"Print gwsync's version and exit."`
	LogFormat   string           `name:"log-format" help:"Form of log records on stderr: text or json (default GWSYNC_LOG_FORMAT, else text). GWSYNC_LOG sets their level: debug, info, warn (default) or error; -v means debug."`
}

// VersionCmd prints the version.
type VersionCmd struct{}

// Run prints the version.
func (VersionCmd) Run(env *Env) error {
	fmt.Fprintln(env.Stdout, "gwsync", VersionString())
	return nil
}

// Main runs gwsync with args and returns the exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return Run(&Env{Stdin: stdin, Stdout: stdout, Stderr: stderr, Getenv: os.Getenv, IsTerminal: isTerminal(stdout)}, args)
}

// Run runs gwsync with args in env and returns the exit code.
func Run(env *Env, args []string) int {
	// Messages reach stderr from more than one goroutine (a plan's site
	// warnings while the gateway is read with --verbose): one at a time,
	// and inert: a name or error quoted there cannot drive the terminal.
	e := *env
	if e.Stderr == nil {
		e.Stderr = io.Discard
	}
	e.Stderr = &lockedWriter{w: &inertWriter{w: e.Stderr}}
	e.warned = &sync.Map{}
	env = &e
	stdout, stderr := env.Stdout, env.Stderr
	var grammar CLI
	exitCode := -1
	bare := len(args) == 0
	switch {
	case bare:
		// gwsync alone: the usage, and exit 1 (no command ran)
		args = []string{"--help"}
	case args[0] == "help":
		// gwsync help CMD is gwsync CMD --help
		args = append(append([]string{}, args[1:]...), "--help")
	}
	parser, err := kong.New(&grammar,
		kong.Name("gwsync"),
		kong.Description("Keep Milesight gateways' LoRaWAN network server in the state your site files describe."),
		kong.UsageOnError(),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { exitCode = code; panic(kongExit{}) }),
		kong.Bind(env),
		kong.Vars{"version": "gwsync " + VersionString()},
	)
	if err != nil {
		fmt.Fprintln(stderr, "gwsync:", err)
		return ExitError
	}
	ctx, code, done := parse(parser, args, &exitCode)
	if done {
		if bare {
			return ExitError
		}
		return code
	}
	if env.log, err = parseLogConfig(env.Getenv, grammar.LogFormat); err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return ExitError
	}
	if err := applyLimits(env); err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return ExitError
	}
	if err := ctx.Run(); err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.err != nil {
				fmt.Fprintln(stderr, "Error:", ee.err)
			}
			return ee.code
		}
		fmt.Fprintln(stderr, "Error:", err)
		return ExitError
	}
	return ExitOK
}

type kongExit struct{}

// parse parses args. --help and usage errors end in kong's Exit hook, which
// unwinds here with the code to exit with.
func parse(parser *kong.Kong, args []string, exitCode *int) (ctx *kong.Context, code int, done bool) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(kongExit); !ok {
				panic(r)
			}
			ctx, code, done = nil, *exitCode, true
		}
	}()
	ctx, err := parser.Parse(args)
	if err != nil {
		parser.Errorf("%s", err)
		return nil, ExitError, true
	}
	return ctx, 0, false
}

// isTerminal reports whether w is a terminal: a character device such as
// /dev/null is not one.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
