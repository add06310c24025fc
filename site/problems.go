package site

import (
	"fmt"
	"sort"
	"strings"
)

// Severity says whether a problem makes the site invalid.
type Severity int

// Severities, from the worst.
const (
	Error   Severity = iota // the site is invalid
	Warning                 // the site is valid but risky; an error under Options.Strict
)

// String returns "error" or "warning".
func (s Severity) String() string {
	switch s {
	case Error:
		return "error"
	case Warning:
		return "warning"
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// MarshalText writes the severity as its name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// FieldError is one problem in a site: where it is (file, 1-based line and
// column, and the field's path such as devices[2].devEUI) and what is wrong.
// Its message never contains a secret's value.
type FieldError struct {
	File     string
	Line     int
	Col      int
	Path     string
	Msg      string
	Severity Severity
}

// Error formats the problem as `FILE:LINE:COL: PATH: message`; a warning
// reads `FILE:LINE:COL: warning: PATH: message`. Parts that are unknown
// (no line, no path) are left out.
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d:%d", e.Line, e.Col)
		}
		b.WriteString(": ")
	}
	if e.Severity == Warning {
		b.WriteString("warning: ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Problems is every problem a load found, sorted by file, line and column.
type Problems []*FieldError

// Error joins the problems, one a line.
func (p Problems) Error() string {
	lines := make([]string, len(p))
	for i, e := range p {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Errors returns the problems that make the site invalid.
func (p Problems) Errors() Problems { return p.filter(Error) }

// Warnings returns the problems that do not make the site invalid.
func (p Problems) Warnings() Problems { return p.filter(Warning) }

// HasErrors reports whether any problem makes the site invalid.
func (p Problems) HasErrors() bool { return len(p.Errors()) > 0 }

func (p Problems) filter(s Severity) Problems {
	var out Problems
	for _, e := range p {
		if e.Severity == s {
			out = append(out, e)
		}
	}
	return out
}

// sortAndDedupe orders problems by file, line, column, path and message, and
// keeps only the first problem reported at one position (schema problems are
// reported before the loader's own, so they win).
func (p Problems) sortAndDedupe() Problems {
	sort.SliceStable(p, func(i, j int) bool {
		a, b := p[i], p[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	type key struct {
		file      string
		line, col int
		path, msg string
	}
	seen := map[key]bool{}
	typed := map[key]bool{}
	out := p[:0]
	for _, e := range p {
		k := key{e.File, e.Line, e.Col, e.Path, e.Msg}
		if seen[k] {
			continue
		}
		seen[k] = true
		// A type problem (decode) at a position the schema already flagged
		// adds nothing.
		pk := key{file: e.File, line: e.Line, col: e.Col, path: e.Path}
		if e.Line > 0 && typed[pk] && strings.HasPrefix(e.Msg, "must be ") {
			continue
		}
		typed[pk] = true
		out = append(out, e)
	}
	return out
}
