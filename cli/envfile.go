package cli

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"

	"github.com/gwsync/gwsync/internal/safefile"
)

// EnvFileFlag is the --env-file flag of plan and apply.
type EnvFileFlag struct {
	EnvFile string `name:"env-file" placeholder:"FILE" type:"path" help:"Read NAME=value lines (as gwsync export --env-file writes them) for ${env:NAME} references and GWSYNC_* settings; variables set in the environment win."`
}

// withEnvFile returns env with the variables of the file path added under
// the process's own (which win). Values are never printed: a malformed
// line is named by its number only.
func withEnvFile(env *Env, path string) (*Env, error) {
	if path == "" {
		return env, nil
	}
	b, err := safefile.Read(path, safefile.EnvFile)
	if err != nil {
		return nil, fmt.Errorf("--env-file: %w", err)
	}
	vars := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t\"'") {
			return nil, fmt.Errorf("--env-file %s:%d: not a NAME=value line", path, n)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		vars[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--env-file %s: %w", path, err)
	}
	e := *env
	get := env.Getenv
	if get == nil {
		get = func(string) string { return "" }
	}
	e.Getenv = func(k string) string {
		if v := get(k); v != "" {
			return v
		}
		return vars[k]
	}
	return &e, nil
}

// stdinIsTerminal reports whether env's standard input is a terminal.
func stdinIsTerminal(env *Env) bool { return isTerminal(env.Stdin) }
