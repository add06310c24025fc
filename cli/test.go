package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/sergi/go-diff/diffmatchpatch"

	"github.com/gwsync/gwsync/internal/atomicfile"
	"github.com/gwsync/gwsync/render"
)

// TestCmd is `gwsync test DIR`: the users' golden plan tests. Every folder
// under DIR that holds a state.json snapshot is a case: its site
// (site.yaml, or the site/ folder) is planned offline against the
// snapshot and the plan compared with the expected plan.txt (text) and
// plan.json (the JSON document) beside them. --update writes them.
type TestCmd struct {
	Dir     string `arg:"" name:"dir" type:"path" help:"Folder of test cases: each folder holding state.json, the site (site.yaml or site/) and plan.txt or plan.json."`
	Update  bool   `name:"update" help:"Write the expected plans from what the site plans to now (plan.txt when a case has neither)."`
	Only    string `name:"run" placeholder:"SUBSTR" help:"Only the cases whose name contains SUBSTR."`
	Verbose bool   `name:"verbose" short:"v" help:"Also print each case's warnings."`
}

// testCase is one golden plan test.
type testCase struct {
	name string // relative to DIR, with /
	dir  string
	site string // site.yaml or site/
}

// goldens are the expected-plan files a case may hold, and how each is
// made.
var goldens = []struct {
	file   string
	format string
}{{"plan.txt", "text"}, {"plan.json", "json"}}

// findCases lists the cases under dir, sorted by name.
func findCases(dir string) ([]testCase, error) {
	var cases []testCase
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if p != dir && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if _, err := os.Stat(filepath.Join(p, "state.json")); err != nil {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		c := testCase{name: filepath.ToSlash(rel), dir: p}
		if st, err := os.Stat(filepath.Join(p, "site")); err == nil && st.IsDir() {
			c.site = filepath.Join(p, "site")
		} else {
			c.site = filepath.Join(p, "site.yaml")
		}
		cases = append(cases, c)
		return filepath.SkipDir // a case's site/ folder is not a case
	})
	if err != nil {
		return nil, fmt.Errorf("test %s: %w", dir, err)
	}
	sort.Slice(cases, func(i, j int) bool { return cases[i].name < cases[j].name })
	return cases, nil
}

// Run runs the cases and prints go test's way: a line per case, a
// failing case's difference (-want +got), then PASS or FAIL.
func (c *TestCmd) Run(env *Env) error {
	start := time.Now()
	env = inertStdout(env) // case names, expected and planned text
	cases, err := findCases(c.Dir)
	if err != nil {
		return withExit(ExitError, err)
	}
	if c.Only != "" {
		var keep []testCase
		for _, tc := range cases {
			if strings.Contains(tc.name, c.Only) {
				keep = append(keep, tc)
			}
		}
		cases = keep
	}
	if len(cases) == 0 {
		return withExit(ExitError, fmt.Errorf("test %s: no case (a case is a folder holding state.json, its site and plan.txt or plan.json)", c.Dir))
	}
	failed, updated := 0, 0
	for _, tc := range cases {
		t0 := time.Now()
		msgs, n, ok := c.runCase(env, tc)
		updated += n
		took := fmt.Sprintf("(%.2fs)", time.Since(t0).Seconds())
		if ok {
			fmt.Fprintf(env.Stdout, "--- PASS: %s %s\n", tc.name, took)
		} else {
			failed++
			fmt.Fprintf(env.Stdout, "--- FAIL: %s %s\n", tc.name, took)
		}
		for _, m := range msgs {
			fmt.Fprintln(env.Stdout, indentBy(m, "    "))
		}
	}
	took := fmt.Sprintf("%.3fs", time.Since(start).Seconds())
	if c.Update {
		fmt.Fprintf(env.Stdout, "updated %s\n", count(updated, "expected plan"))
	}
	if failed > 0 {
		fmt.Fprintf(env.Stdout, "FAIL\nFAIL\t%s\t%s\t%d of %s failed\n", c.Dir, took, failed, count(len(cases), "case"))
		return withExit(ExitError, nil)
	}
	fmt.Fprintf(env.Stdout, "PASS\nok\t%s\t%s\t%s\n", c.Dir, took, count(len(cases), "case"))
	return nil
}

// runCase plans one case and compares (or, with --update, writes) its
// expected plans. It returns what to print under the case's line, how many
// files it wrote, and whether the case passed.
func (c *TestCmd) runCase(env *Env, tc testCase) (msgs []string, updated int, ok bool) {
	var errb bytes.Buffer
	cenv := *env
	cenv.Stdout, cenv.Stderr = &errb, &errb
	cenv.DialShared = nil
	run, err := makePlan(context.Background(), &cenv, []string{tc.site}, filepath.Join(tc.dir, "state.json"), ConnFlags{})
	warnings := strings.TrimRight(errb.String(), "\n")
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) && ee.err != nil {
			warnings = strings.TrimLeft(warnings+"\n"+ee.err.Error(), "\n")
		}
		return []string{"the site could not be planned:\n" + warnings}, 0, false
	}
	defer run.Close()
	p := run.Plan
	// The site's files as the case folder names them: the same whatever
	// folder gwsync test runs from.
	for i, f := range p.SiteFiles {
		if rel, err := filepath.Rel(tc.dir, f); err == nil {
			p.SiteFiles[i] = filepath.ToSlash(rel)
		}
	}
	if c.Verbose && warnings != "" {
		msgs = append(msgs, warnings)
	}
	ok = true
	have := 0
	for _, g := range goldens {
		path := filepath.Join(tc.dir, g.file)
		want, rerr := readPlanFile(path) // an expected plan: regular, under the plan cap
		exists := rerr == nil
		if rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			return append(msgs, rerr.Error()), updated, false
		}
		if exists {
			have++
		} else if !(c.Update && g.file == "plan.txt" && !fileExists(filepath.Join(tc.dir, "plan.json"))) {
			continue
		}
		var got bytes.Buffer
		var err error
		if g.format == "json" {
			err = render.JSON(&got, p)
		} else {
			err = render.Text(&got, p, render.TextOptions{})
		}
		if err != nil {
			return append(msgs, err.Error()), updated, false
		}
		if exists && bytes.Equal(want, got.Bytes()) {
			continue
		}
		if c.Update {
			if err := atomicfile.Write(path, got.Bytes(), 0o644); err != nil {
				return append(msgs, err.Error()), updated, false
			}
			updated++
			msgs = append(msgs, "updated "+g.file)
			continue
		}
		ok = false
		msgs = append(msgs, fmt.Sprintf("%s differs (-want +got):\n%s", g.file, lineDiff(string(want), got.String())))
	}
	if have == 0 && !c.Update {
		return append(msgs, "no expected plan: plan.txt or plan.json (gwsync test --update writes plan.txt)"), updated, false
	}
	return msgs, updated, ok
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// indentBy prefixes every line of s.
func indentBy(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

// lineDiff is a line-by-line difference of want and got: "-" a line only
// in want, "+" only in got, "  " both; runs of more than six unchanged
// lines are shortened to three on each side.
func lineDiff(want, got string) string {
	dmp := diffmatchpatch.New()
	a, b, lines := dmp.DiffLinesToChars(want, got)
	diffs := dmp.DiffCharsToLines(dmp.DiffMain(a, b, false), lines)
	var out []string
	for _, d := range diffs {
		ls := strings.Split(strings.TrimSuffix(d.Text, "\n"), "\n")
		switch d.Type {
		case diffmatchpatch.DiffDelete:
			for _, l := range ls {
				out = append(out, "- "+l)
			}
		case diffmatchpatch.DiffInsert:
			for _, l := range ls {
				out = append(out, "+ "+l)
			}
		default:
			if len(ls) > 6 {
				skipped := len(ls) - 6
				ls = append(append(ls[:3:3], fmt.Sprintf("… (%d unchanged lines)", skipped)), ls[len(ls)-3:]...)
			}
			for _, l := range ls {
				out = append(out, "  "+l)
			}
		}
	}
	return strings.Join(out, "\n")
}
