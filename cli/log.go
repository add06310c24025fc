package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Logging: levelled records on stderr through log/slog, as Terraform's
// TF_LOG. GWSYNC_LOG sets the level (debug, info, warn, error; warn when
// unset), --log-format (or GWSYNC_LOG_FORMAT) the form: text, one
// key=value line a record, or json, one object a line. A command's -v is
// a shorthand for GWSYNC_LOG=debug.

// logConfig is what Run learns of logging before a command runs.
type logConfig struct {
	level  slog.Level
	format string // "text" or "json"
}

// parseLogConfig reads GWSYNC_LOG and the format (the flag first, then
// GWSYNC_LOG_FORMAT).
func parseLogConfig(getenv func(string) string, flagFormat string) (logConfig, error) {
	c := logConfig{level: slog.LevelWarn, format: "text"}
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	switch v := strings.ToLower(strings.TrimSpace(getenv("GWSYNC_LOG"))); v {
	case "":
	case "debug", "trace":
		c.level = slog.LevelDebug
	case "info":
		c.level = slog.LevelInfo
	case "warn", "warning":
		c.level = slog.LevelWarn
	case "error", "off":
		c.level = slog.LevelError
	default:
		return c, fmt.Errorf("GWSYNC_LOG=%q: want debug, info, warn or error", v)
	}
	format := flagFormat
	if format == "" {
		format = strings.ToLower(strings.TrimSpace(getenv("GWSYNC_LOG_FORMAT")))
	}
	switch format {
	case "", "text":
	case "json":
		c.format = "json"
	default:
		return c, fmt.Errorf("log format %q: want text or json", format)
	}
	return c, nil
}

// logger is the command's logger on w: debug records too when verbose
// (-v), else from the configured level up.
func (c logConfig) logger(w io.Writer, verbose bool) *slog.Logger {
	if c.format == "" { // not configured (a command run without Run): the defaults
		c = logConfig{level: slog.LevelWarn, format: "text"}
	}
	level := c.level
	if verbose && level > slog.LevelDebug {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// logger is env's logger, debug records included when verbose.
func (env *Env) logger(verbose bool) *slog.Logger {
	return env.log.logger(env.Stderr, verbose)
}

// debugf adapts l to the Logf hooks of nsapi, applier and gwsim: nil when
// l drops debug records, so that those packages do not format them.
func debugf(l *slog.Logger) func(format string, args ...any) {
	if !l.Enabled(context.Background(), slog.LevelDebug) {
		return nil
	}
	return func(format string, args ...any) { l.Debug(fmt.Sprintf(format, args...)) }
}

// debugLog is a Logf hook that logs debug records on env's stderr when
// they are on (verbose, or GWSYNC_LOG=debug), and does nothing otherwise.
func (env *Env) debugLog(verbose bool) func(format string, args ...any) {
	if f := debugf(env.logger(verbose)); f != nil {
		return f
	}
	return func(string, ...any) {}
}
