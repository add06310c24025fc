package cli

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/gwsync/gwsync/band"
	"github.com/gwsync/gwsync/render"
	"github.com/gwsync/gwsync/site"
)

// ValidateCmd is `gwsync validate`: the schema and semantic checks of a
// site, offline. It prints every problem at once, one a line as
// `FILE:LINE:COL: PATH: message` (warnings read `FILE:LINE:COL: warning:
// PATH: message`), then a summary line. It exits 0 when the site is valid
// (warnings allowed unless --strict) and 1 when it is not.
type ValidateCmd struct {
	Site        []string `arg:"" name:"site" help:"Site files or directories of site files (merged into one site)."`
	Strict      bool     `help:"Treat security warnings (keys in clear, default or shared keys) as errors."`
	Format      string   `enum:"text,json" default:"text" help:"Output format: text or json."`
	ChannelPlan string   `name:"channel-plan" placeholder:"PLAN" help:"Check frequencies and data rates against this channel plan when the site's gateway.channelPlan is not given."`
	FleetFlags  `embed:""`
}

// validateProblem is one problem in the JSON output.
type validateProblem struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Col      int    `json:"col"`
	Path     string `json:"path"`
	Message  string `json:"message"`
	Severity string `json:"severity"`
}

// validateOutput is the JSON output of validate.
type validateOutput struct {
	Valid    bool              `json:"valid"`
	Problems []validateProblem `json:"problems"`
}

// Run loads and checks the site.
func (c *ValidateCmd) Run(env *Env) error {
	if c.ChannelPlan != "" {
		if _, err := band.Lookup(c.ChannelPlan); err != nil {
			return withExit(ExitError, fmt.Errorf("--channel-plan: %w", err))
		}
	}
	if dir, ok := fleetDir(c.Site); ok {
		return c.runFleet(env, dir) // fleet.go
	}
	opts := site.Options{
		Strict:      c.Strict,
		ChannelPlan: c.ChannelPlan,
		LookupEnv: func(k string) (string, bool) {
			v := env.Getenv(k)
			return v, v != ""
		},
		Offline:       true,
		PasswordGiven: env.Getenv("GWSYNC_PASSWORD") != "",
		QuoteErrors:   true,
	}
	paths, err := sitePaths(c.Site)
	if err != nil {
		return withExit(ExitError, err)
	}
	s, problems := site.Load(opts, paths...)
	errs, warns := len(problems.Errors()), len(problems.Warnings())
	valid := s != nil && errs == 0
	switch c.Format {
	case "json":
		out := validateOutput{Valid: valid, Problems: []validateProblem{}}
		for _, p := range problems {
			out.Problems = append(out.Problems, validateProblem{File: p.File, Line: p.Line, Col: p.Col,
				Path: p.Path, Message: p.Msg, Severity: p.Severity.String()})
		}
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return fmt.Errorf("validate: %w", err)
		}
		fmt.Fprintf(env.Stdout, "%s\n", b)
	default:
		for _, p := range problems {
			fmt.Fprintln(env.Stdout, render.InertLines(p.Error()))
		}
		switch {
		case valid && warns > 0:
			fmt.Fprintf(env.Stdout, "Valid: %s (%s).\n", summary(s), plural(warns, "warning"))
		case valid:
			fmt.Fprintf(env.Stdout, "Valid: %s.\n", summary(s))
		case warns > 0:
			fmt.Fprintf(env.Stdout, "Invalid: %s, %s.\n", plural(errs, "error"), plural(warns, "warning"))
		default:
			fmt.Fprintf(env.Stdout, "Invalid: %s.\n", plural(errs, "error"))
		}
	}
	if !valid {
		return withExit(ExitError, nil)
	}
	return nil
}

// summary counts what a valid site declares.
func summary(s *site.Site) string {
	parts := []string{
		plural(len(s.Files), "file"),
		plural(len(s.Profiles), "profile"),
		plural(len(s.Codecs), "codec"),
		plural(len(s.Devices), "device"),
		plural(len(s.MulticastGroups), "multicast group"),
		plural(len(s.FirmwareUpdates), "FUOTA task"),
	}
	return strings.Join(parts, ", ")
}

func plural(n int, what string) string {
	if n != 1 {
		what += "s"
	}
	return fmt.Sprintf("%d %s", n, what)
}
