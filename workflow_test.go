package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v4"
)

// This file runs the example workflows (examples/ci/) the way GitHub runs
// them, as far as they need, against the fake GitHub API of
// action_test.go and simulated gateways on 127.0.0.1. What it models:
//
//   - a job's `if:`, its steps' `if:` with the status functions, ${{ }}
//     in env, with, names and run text (ghexpr_test.go), contexts github,
//     env, secrets, vars, matrix, runner, steps;
//   - shells as GitHub documents them: no shell (and no defaults.run.shell)
//     is `bash -e {0}`, without pipefail; `shell: bash` is
//     `bash --noprofile --norc -eo pipefail {0}`;
//   - GITHUB_OUTPUT, GITHUB_ENV, GITHUB_PATH, GITHUB_STEP_SUMMARY;
//   - the actions used, each by what it does here: checkout copies the
//     commit's files into a fresh workspace, upload-artifact and
//     download-artifact (also from another run, by run-id) keep files per
//     run, gwsync/gwsync runs action.yml's own steps with its release
//     download pointed at a fake release server;
//   - concurrency: per group one running and one pending; a newly queued
//     job or run cancels the pending one of its group, and with
//     cancel-in-progress the running one.
//
// It does not model runners' images, services, containers, reusable
// workflows, or timing beyond the order the test gives.

// workflow is what the harness reads of a workflow file.
type workflow struct {
	Env      map[string]string `yaml:"env"`
	Defaults struct {
		Run struct {
			Shell string `yaml:"shell"`
		} `yaml:"run"`
	} `yaml:"defaults"`
	Concurrency yaml.Node `yaml:"concurrency"`
	Jobs        yaml.Node `yaml:"jobs"`
	jobs        []wfJob
}

type wfJob struct {
	ID          string
	If          string            `yaml:"if"`
	Needs       yaml.Node         `yaml:"needs"`
	Concurrency yaml.Node         `yaml:"concurrency"`
	Env         map[string]string `yaml:"env"`
	Strategy    struct {
		Matrix map[string][]string `yaml:"matrix"`
	} `yaml:"strategy"`
	Steps []ghStep `yaml:"steps"`
}

// concurrencyOf reads a concurrency: value (a group name, or group and
// cancel-in-progress); ok is false when there is none.
func concurrencyOf(n yaml.Node) (group string, cancel, ok bool) {
	switch n.Kind {
	case yaml.ScalarNode:
		return n.Value, false, true
	case yaml.MappingNode:
		var c struct {
			Group  string `yaml:"group"`
			Cancel bool   `yaml:"cancel-in-progress"`
		}
		if n.Decode(&c) == nil {
			return c.Group, c.Cancel, true
		}
	}
	return "", false, false
}

func loadWorkflow(t *testing.T, path string) *workflow {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var wf workflow
	if err := yaml.Unmarshal(b, &wf); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for i := 0; i+1 < len(wf.Jobs.Content); i += 2 {
		var j wfJob
		if err := wf.Jobs.Content[i+1].Decode(&j); err != nil {
			t.Fatalf("%s: job %s: %v", path, wf.Jobs.Content[i].Value, err)
		}
		j.ID = wf.Jobs.Content[i].Value
		wf.jobs = append(wf.jobs, j)
	}
	return &wf
}

func (j wfJob) needs() []string {
	switch j.Needs.Kind {
	case yaml.ScalarNode:
		return []string{j.Needs.Value}
	case yaml.SequenceNode:
		var out []string
		for _, n := range j.Needs.Content {
			out = append(out, n.Value)
		}
		return out
	}
	return nil
}

// wfRun is one run of a workflow: its event and commit.
type wfRun struct {
	id     int
	event  string // pull_request, push, schedule
	sha    string // the commit checked out
	pr     int    // pull_request: its number
	head   string // pull_request: its head commit
	result map[string]string
}

// harness runs one workflow file.
type harness struct {
	t          *testing.T
	root       string // this repository (the action's checkout)
	file       string // the workflow's path in the user's repository
	wf         *workflow
	gh         *fakeGitHub
	srv        *httptest.Server
	act        action
	commits    map[string]string // sha → folder of the repository at that commit
	secrets    map[string]string
	vars       map[string]string
	env        []string // the runner's environment (PATH, HOME, …)
	artifacts  map[int]map[string]string
	runs       int
	firstCmd   time.Duration // job start → the first gwsync command, of the last job that ran one
	jobStart   time.Time     // the running job's start, until its first gwsync command
	actionSHA  string
	releaseURL string
}

// newHarness serves a fake release of gwsync (the test binary as the
// runner's asset, and SHA256SUMS) and the fake GitHub API.
func newHarness(t *testing.T, file string) *harness {
	t.Helper()
	root, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, root: root, file: ".github/workflows/" + filepath.Base(file), wf: loadWorkflow(t, filepath.Join(root, file)),
		gh: newFakeGitHub(), act: loadAction(t, root), commits: map[string]string{}, secrets: map[string]string{}, vars: map[string]string{},
		artifacts: map[int]map[string]string{}}
	for _, j := range h.wf.jobs {
		for _, st := range j.Steps {
			if m := regexp.MustCompile(`^gwsync/gwsync@([0-9a-f]{40})$`).FindStringSubmatch(st.Uses); m != nil {
				h.actionSHA = m[1]
			}
		}
	}
	bin := gwsyncBinary(t)
	asset := fmt.Sprintf("gwsync_v1.0.0_%s_%s", runtime.GOOS, runtime.GOARCH)
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	sums := fmt.Sprintf("%s  %s\n%s  gwsync_v1.0.0_windows_amd64.exe\n", hex.EncodeToString(sum[:]), asset, strings.Repeat("0", 64))
	mux := http.NewServeMux()
	mux.HandleFunc("/download/v1.0.0/SHA256SUMS", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, sums) })
	mux.HandleFunc("/download/v1.0.0/"+asset, func(w http.ResponseWriter, r *http.Request) { w.Write(b) })
	mux.HandleFunc("/repos/gwsync/gwsync/tags", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode([]map[string]any{{"name": "v1.0.0", "commit": map[string]any{"sha": h.actionSHA}}})
	})
	mux.Handle("/", h.gh)
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	h.releaseURL = h.srv.URL + "/download"
	h.env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TMPDIR=" + t.TempDir(), "LANG=C.UTF-8"}
	return h
}

// commit records the repository's files at sha: the folder tree of files.
func (h *harness) commit(sha string, files map[string]string) {
	dir := h.t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			h.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			h.t.Fatal(err)
		}
	}
	h.commits[sha] = dir
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if fi.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, fi.Mode())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// newRun starts a run of the workflow: its id, and for a pull request the
// run GitHub lists for its head commit.
func (h *harness) newRun(event, sha string, pr int, head string) *wfRun {
	h.runs++
	return &wfRun{id: 1000 + h.runs, event: event, sha: sha, pr: pr, head: head, result: map[string]string{}}
}

// context is the github.*, secrets.*, vars.* context of run.
func (h *harness) context(run *wfRun) map[string]string {
	ctx := map[string]string{
		"github.event_name": run.event, "github.sha": run.sha, "github.run_id": fmt.Sprint(run.id), "github.run_attempt": "1",
		"github.repository": "o/r", "github.api_url": h.srv.URL, "github.token": "test-token",
		"github.workflow_ref": "o/r/" + h.file + "@refs/heads/main", "github.ref_name": "main",
	}
	if run.event == "pull_request" {
		ctx["github.event.pull_request.number"] = fmt.Sprint(run.pr)
		ctx["github.event.pull_request.head.sha"] = run.head
	}
	for k, v := range h.secrets {
		ctx["secrets."+k] = v
	}
	for k, v := range h.vars {
		ctx["vars."+k] = v
	}
	return ctx
}

// matrixOf lists the matrix values of job (one empty value without a matrix).
func matrixOf(j wfJob) []string {
	if v, ok := j.Strategy.Matrix["shard"]; ok {
		return v
	}
	if len(j.Strategy.Matrix) > 0 {
		panic("only a matrix of shard is modelled")
	}
	return []string{""}
}

// runAll runs every job of run in order (needs first), each matrix value
// in turn, and records each job's conclusion in run.result
// (job or job/shard → success, failure, skipped).
func (h *harness) runAll(run *wfRun) map[string]string {
	for _, j := range h.wf.jobs {
		for _, m := range matrixOf(j) {
			h.runJob(run, j, m)
		}
	}
	if run.event == "pull_request" {
		concl := "success"
		for _, r := range run.result {
			if r == "failure" {
				concl = "failure"
			}
		}
		h.gh.mu.Lock()
		h.gh.runs = append(h.gh.runs, map[string]any{"id": run.id, "run_number": run.id, "head_sha": run.head, "event": "pull_request",
			"status": "completed", "conclusion": concl, "path": h.file, "head_branch": "feature"})
		h.gh.mu.Unlock()
	}
	return run.result
}

func jobKey(j wfJob, m string) string {
	if m == "" {
		return j.ID
	}
	return j.ID + "/" + m
}

// runJob runs one job (one matrix value) of run and returns its conclusion.
func (h *harness) runJob(run *wfRun, j wfJob, m string) string {
	t := h.t
	key := jobKey(j, m)
	ctx := h.context(run)
	ctx["matrix.shard"] = m
	var needFailed bool
	for _, n := range j.needs() {
		for k, r := range run.result {
			if (k == n || strings.HasPrefix(k, n+"/")) && r != "success" {
				needFailed = true
			}
		}
	}
	ok, err := ghCondition(j.If, ctx, ghStatus{failed: needFailed})
	if err != nil {
		t.Fatalf("job %s: if: %v", j.ID, err)
	}
	if !ok {
		run.result[key] = "skipped"
		return "skipped"
	}
	start := time.Now()
	h.jobStart = start
	tmp := t.TempDir()
	ws, runnerTemp := filepath.Join(tmp, "workspace"), filepath.Join(tmp, "runner-temp")
	for _, d := range []string{ws, runnerTemp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ctx["runner.temp"] = runnerTemp
	var st ghStatus
	eval := func(s string) string {
		v, err := ghInterpolate(s, ctx, st)
		if err != nil {
			t.Fatalf("job %s: %v", key, err)
		}
		return v
	}
	// env.*: the workflow's, then the job's.
	envKeys := []string{}
	for _, m := range []map[string]string{h.wf.Env, j.Env} {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ctx["env."+k] = eval(m[k])
			envKeys = append(envKeys, k)
		}
	}
	envFile, pathFile := filepath.Join(tmp, "github-env"), filepath.Join(tmp, "github-path")
	summary := filepath.Join(tmp, "summary.md")
	for _, f := range []string{envFile, pathFile, summary} {
		os.WriteFile(f, nil, 0o644)
	}
	base := func() []string {
		env := append([]string{}, h.env...)
		env = append(env, "RUNNER_TEMP="+runnerTemp, "RUNNER_OS=Linux", "RUNNER_ARCH="+map[string]string{"amd64": "X64", "arm64": "ARM64"}[runtime.GOARCH],
			"GITHUB_WORKSPACE="+ws, "GITHUB_RUN_ID="+fmt.Sprint(run.id), "GITHUB_RUN_ATTEMPT=1", "GITHUB_SHA="+run.sha,
			"GITHUB_REPOSITORY=o/r", "GITHUB_API_URL="+h.srv.URL, "GITHUB_EVENT_NAME="+run.event, "GITHUB_STEP_SUMMARY="+summary,
			"GITHUB_ENV="+envFile, "GITHUB_PATH="+pathFile)
		for _, k := range envKeys {
			env = append(env, k+"="+ctx["env."+k])
		}
		if b, err := os.ReadFile(envFile); err == nil {
			env = append(env, strings.Fields(string(b))...)
		}
		if b, err := os.ReadFile(pathFile); err == nil && len(b) > 0 {
			env = append(env, "PATH="+strings.Join(strings.Fields(string(b)), ":")+":"+os.Getenv("PATH"))
		}
		return env
	}
	var log bytes.Buffer
	for i, step := range j.Steps {
		ok, err := ghCondition(step.If, ctx, st)
		if err != nil {
			t.Fatalf("job %s step %d: %v", key, i, err)
		}
		if !ok {
			continue
		}
		fmt.Fprintf(&log, "== %s%s\n", eval(step.Name), step.Uses)
		var failed bool
		var outputs map[string]string
		if step.Uses != "" {
			with := map[string]string{}
			for k, v := range step.With {
				with[k] = eval(v)
			}
			env := base()
			for k, v := range step.Env {
				env = append(env, k+"="+eval(v))
			}
			outputs, err = h.uses(run, ws, ctx, step, with, env, &log)
			if err != nil {
				fmt.Fprintf(&log, "%s: %v\n", step.Uses, err)
				failed = true
			}
		} else {
			script := filepath.Join(tmp, fmt.Sprintf("step%d.sh", i))
			outFile := filepath.Join(tmp, fmt.Sprintf("output%d", i))
			os.WriteFile(script, []byte(eval(step.Run)), 0o644)
			os.WriteFile(outFile, nil, 0o644)
			shell := step.Shell
			if shell == "" {
				shell = h.wf.Defaults.Run.Shell
			}
			var args []string
			switch shell {
			case "": // GitHub's default on Linux: bash -e {0}, no pipefail
				args = []string{"-e", script}
			case "bash":
				args = []string{"--noprofile", "--norc", "-eo", "pipefail", script}
			default:
				t.Fatalf("job %s: shell %q is not modelled", key, shell)
			}
			if h.jobStart != (time.Time{}) && regexp.MustCompile(`(^|\n)\s*gwsync `).MatchString(step.Run) {
				h.firstCmd, h.jobStart = time.Since(start), time.Time{}
			}
			cmd := exec.Command("bash", args...)
			cmd.Dir = ws
			cmd.Env = append(base(), "GITHUB_OUTPUT="+outFile)
			for k, v := range step.Env {
				cmd.Env = append(cmd.Env, k+"="+eval(v))
			}
			cmd.Stdout, cmd.Stderr = &log, &log
			if err := cmd.Run(); err != nil {
				if _, ok := err.(*exec.ExitError); !ok {
					t.Fatalf("job %s: %v", key, err)
				}
				failed = true
			}
			outputs = readOutputs(t, outFile)
		}
		if failed {
			st.failed = true
		}
		if step.ID != "" {
			for k, v := range outputs {
				ctx["steps."+step.ID+".outputs."+k] = v
			}
		}
	}
	concl := "success"
	if st.failed {
		concl = "failure"
	}
	run.result[key] = concl
	if testing.Verbose() || os.Getenv("GWSYNC_WORKFLOW_LOG") != "" {
		t.Logf("run %d (%s) job %s: %s\n%s", run.id, run.event, key, concl, log.String())
	}
	logs[fmt.Sprintf("%d %s", run.id, key)] = log.String()
	return concl
}

// logs keeps every job's log, by "run job", for failure messages.
var logs = map[string]string{}

// uses runs an action step.
func (h *harness) uses(run *wfRun, ws string, ctx map[string]string, step ghStep, with map[string]string, env []string, log *bytes.Buffer) (map[string]string, error) {
	t := h.t
	name, ref, _ := strings.Cut(step.Uses, "@")
	switch name {
	case "actions/checkout":
		dir, ok := h.commits[run.sha]
		if !ok {
			return nil, fmt.Errorf("no commit %s", run.sha)
		}
		copyTree(t, dir, ws)
		return nil, nil
	case "actions/upload-artifact":
		return nil, h.upload(run.id, ws, with)
	case "actions/download-artifact":
		id := run.id
		if v := with["run-id"]; v != "" {
			if _, err := fmt.Sscan(v, &id); err != nil {
				return nil, fmt.Errorf("run-id %q", v)
			}
		}
		src, ok := h.artifacts[id][with["name"]]
		if !ok {
			return nil, fmt.Errorf("no artifact %q in run %d", with["name"], id)
		}
		dst := filepath.Join(ws, with["path"])
		os.MkdirAll(dst, 0o755)
		copyTree(t, src, dst)
		return nil, nil
	case "gwsync/gwsync":
		inputs := map[string]string{"release-url": h.releaseURL}
		for k, v := range with {
			inputs[k] = v
		}
		gh := map[string]string{"action_path": h.root, "action_ref": ref, "action_repository": "gwsync/gwsync"}
		for k, v := range ctx {
			if k, ok := strings.CutPrefix(k, "github."); ok {
				gh[k] = v
			}
		}
		r := &runner{t: t, act: h.act, dir: ws, github: gh, env: env, uses: func(st ghStep, with map[string]string) (map[string]string, error) {
			switch n, _, _ := strings.Cut(st.Uses, "@"); n {
			case "actions/cache":
				return nil, nil
			case "actions/upload-artifact":
				return nil, h.upload(run.id, ws, with)
			}
			return nil, fmt.Errorf("%s is not modelled", st.Uses)
		}}
		code, out, outputs := r.run(inputs)
		log.WriteString(out)
		if h.jobStart != (time.Time{}) && !r.runAt.IsZero() {
			h.firstCmd, h.jobStart = r.runAt.Sub(h.jobStart), time.Time{}
		}
		// GITHUB_PATH entries of the action reach the job's later steps.
		for _, e := range env {
			if p, ok := strings.CutPrefix(e, "GITHUB_PATH="); ok && len(r.path) > 0 {
				f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0o644)
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintln(f, strings.Join(r.path, "\n"))
				f.Close()
			}
		}
		if code != 0 {
			return outputs, fmt.Errorf("exit %d", code)
		}
		return outputs, nil
	}
	return nil, fmt.Errorf("%s is not modelled", step.Uses)
}

func (h *harness) upload(runID int, ws string, with map[string]string) error {
	p := with["path"]
	if !filepath.IsAbs(p) {
		p = filepath.Join(ws, p)
	}
	fi, err := os.Stat(p)
	if err != nil {
		if with["if-no-files-found"] == "error" {
			return fmt.Errorf("no files at %s", with["path"])
		}
		return nil
	}
	dst := h.t.TempDir()
	if fi.IsDir() {
		copyTree(h.t, p, dst)
	} else {
		b, _ := os.ReadFile(p)
		os.WriteFile(filepath.Join(dst, filepath.Base(p)), b, 0o644)
	}
	if h.artifacts[runID] == nil {
		h.artifacts[runID] = map[string]string{}
	}
	if _, dup := h.artifacts[runID][with["name"]]; dup {
		return fmt.Errorf("artifact %q exists in run %d", with["name"], runID)
	}
	h.artifacts[runID][with["name"]] = dst
	return nil
}

// --- concurrency ---

// scheduler is GitHub's concurrency rule: in each group at most one job
// runs and one waits; a newly queued job cancels the one waiting in its
// group and takes its place, and with cancel-in-progress it also cancels
// the one running.
type scheduler struct {
	groups map[string]*[2]*entry // running, pending
	all    []*entry
}

type entry struct {
	name  string
	group string
	state string // running, pending, cancelled, done
}

func newScheduler() *scheduler { return &scheduler{groups: map[string]*[2]*entry{}} }

func (s *scheduler) queue(name, group string, cancelInProgress bool) *entry {
	e := &entry{name: name, group: group}
	s.all = append(s.all, e)
	if group == "" {
		e.state = "running"
		return e
	}
	g := s.groups[group]
	if g == nil {
		g = &[2]*entry{}
		s.groups[group] = g
	}
	if g[1] != nil {
		g[1].state = "cancelled"
		g[1] = nil
	}
	if g[0] != nil && cancelInProgress {
		g[0].state = "cancelled"
		g[0] = nil
	}
	if g[0] == nil {
		e.state, g[0] = "running", e
	} else {
		e.state, g[1] = "pending", e
	}
	return e
}

// finish ends a running entry and starts the one waiting in its group.
func (s *scheduler) finish(e *entry) {
	if e.state != "running" {
		panic(e.name + " is " + e.state)
	}
	e.state = "done"
	if g := s.groups[e.group]; g != nil && g[0] == e {
		g[0], g[1] = g[1], nil
		if g[0] != nil {
			g[0].state = "running"
		}
	}
}

// queueRun queues the jobs of run that its event runs (a job whose if:
// holds for the event), under the workflow's and the job's groups, and
// returns them by job key.
func (h *harness) queueRun(s *scheduler, run *wfRun) map[string]*entry {
	ctx := h.context(run)
	out := map[string]*entry{}
	wfGroup, wfCancel, wfOK := concurrencyOf(h.wf.Concurrency)
	if wfOK {
		g, _ := ghInterpolate(wfGroup, ctx, ghStatus{})
		out["(run)"] = s.queue(fmt.Sprintf("run %d", run.id), g, wfCancel)
	}
	for _, j := range h.wf.jobs {
		if ok, err := ghCondition(j.If, ctx, ghStatus{}); err != nil {
			h.t.Fatal(err)
		} else if !ok {
			continue
		}
		for _, m := range matrixOf(j) {
			ctx["matrix.shard"] = m
			group, cancel, _ := concurrencyOf(j.Concurrency)
			g, err := ghInterpolate(group, ctx, ghStatus{})
			if err != nil {
				h.t.Fatal(err)
			}
			out[jobKey(j, m)] = s.queue(fmt.Sprintf("run %d %s", run.id, jobKey(j, m)), g, cancel)
		}
	}
	return out
}

// --- the tests ---

// sha is a commit id for a name.
func sha(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:20])
}

// TestWorkflowShells holds the harness to GitHub's documented shells: a
// failing command before a pipe is a green step under the default shell
// and a red one under shell: bash.
func TestWorkflowShells(t *testing.T) {
	dir := t.TempDir()
	wfFile := filepath.Join(dir, "w.yml")
	os.WriteFile(wfFile, []byte("jobs:\n  a:\n    steps:\n      - run: false | cat\n  b:\n    steps:\n      - run: false | cat\n        shell: bash\n"), 0o644)
	h := &harness{t: t, wf: loadWorkflow(t, wfFile), gh: newFakeGitHub(), commits: map[string]string{}, artifacts: map[int]map[string]string{}}
	h.srv = httptest.NewServer(h.gh)
	defer h.srv.Close()
	h.env = []string{"PATH=" + os.Getenv("PATH")}
	res := h.runAll(h.newRun("push", "x", 0, ""))
	if res["a"] != "success" || res["b"] != "failure" {
		t.Fatalf("default shell %s (want success), shell: bash %s (want failure)", res["a"], res["b"])
	}
}

// pinned: every uses: of the file is owner/name@<full commit> # <version>.
func checkPinned(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^\s*(?:- )?uses: [\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+(\.\d+)*\s*$`)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		if strings.Contains(l, "uses:") && !strings.HasPrefix(strings.TrimSpace(l), "#") && !re.MatchString(l) {
			t.Errorf("%s:%d: not pinned by full commit with a version comment: %s", path, n, strings.TrimSpace(l))
		}
		if strings.Contains(l, "@latest") || strings.Contains(l, "go install") {
			t.Errorf("%s:%d: an unpinned install: %s", path, n, strings.TrimSpace(l))
		}
	}
}

func TestWorkflowsPinned(t *testing.T) {
	for _, p := range []string{"examples/ci/gwsync.yml", "examples/ci/gwsync-fleet.yml", ".github/workflows/release.yml", "action.yml"} {
		checkPinned(t, p)
	}
}

// TestWorkflowApplySurvivesPRPush: a merged apply waiting for its turn
// (behind a plan or another apply) is never cancelled by a pull request's
// plan or a drift check, under GitHub's concurrency rule, in both example
// workflows; then the single-site workflow runs end to end: the pull
// request's plan comment, a newer push to another pull request queued
// while the merge's apply waits, and the apply applying the reviewed plan.
func TestWorkflowApplySurvivesPRPush(t *testing.T) {
	needTools(t, "jq", "curl")
	for _, file := range []string{"examples/ci/gwsync.yml", "examples/ci/gwsync-fleet.yml"} {
		h := newHarness(t, file)
		s := newScheduler()
		prPlan := h.queueRun(s, h.newRun("pull_request", sha("m3"), 3, sha("h3")))    // a plan running
		applyA := h.queueRun(s, h.newRun("push", sha("m1"), 0, ""))                   // merge: its apply
		applyB := h.queueRun(s, h.newRun("push", sha("m2"), 0, ""))                   // another merge, waiting
		prPlan2 := h.queueRun(s, h.newRun("pull_request", sha("m3b"), 3, sha("h3b"))) // a newer push to the PR
		drift := h.queueRun(s, h.newRun("schedule", sha("m2"), 0, ""))
		// A job is cancelled when its own entry or its run's is.
		cancelled := func(set map[string]*entry, k string) bool {
			return set[k].state == "cancelled" || set["(run)"] != nil && set["(run)"].state == "cancelled"
		}
		groups := func(set map[string]*entry, k string) []string {
			var g []string
			for _, e := range []*entry{set[k], set["(run)"]} {
				if e != nil && e.group != "" {
					g = append(g, e.group)
				}
			}
			return g
		}
		applies := func(set map[string]*entry) []string {
			var ks []string
			for k := range set {
				if strings.HasPrefix(k, "apply") {
					ks = append(ks, k)
				}
			}
			sort.Strings(ks)
			return ks
		}
		for _, set := range []map[string]*entry{applyA, applyB} {
			for _, k := range applies(set) {
				if cancelled(set, k) {
					t.Errorf("%s: %s was cancelled by a later plan, push or drift check", file, set[k].name)
				}
			}
		}
		for _, set := range []map[string]*entry{prPlan, prPlan2, drift} {
			for k := range set {
				if k == "(run)" {
					continue
				}
				for _, a := range []map[string]*entry{applyA, applyB} {
					for _, ak := range applies(a) {
						for _, g := range groups(set, k) {
							if slices.Contains(groups(a, ak), g) {
								t.Errorf("%s: %s shares the group %q with %s", file, set[k].name, g, a[ak].name)
							}
						}
					}
				}
			}
		}
		if t.Failed() {
			continue
		}
		// The waiting apply runs once the running one ends.
		for _, k := range applies(applyA) {
			s.finish(applyA[k])
		}
		for _, k := range applies(applyB) {
			if applyB[k].state != "running" {
				t.Errorf("%s: %s is %s after the apply before it ended, want running", file, applyB[k].name, applyB[k].state)
			}
		}
	}

	// End to end, single site.
	h := newHarness(t, "examples/ci/gwsync.yml")
	state := filepath.Join(t.TempDir(), "gw.json")
	h.vars["GWSYNC_BROKER"] = "sim://" + state
	h.secrets["GWSYNC_SITE_KEYS"] = "K1=" + testKeys["K1"] + "\nK2=" + testKeys["K2"]
	site := func(desc string, more string) map[string]string {
		return map[string]string{"site/site.yaml": fmt.Sprintf(actionSite, desc) + more}
	}
	extra := "  - devEUI: '24E124136A456466'\n    name: lamp-02\n    application: cloud\n    appKey: ${env:K2}\n"
	h.commit(sha("h1"), site("north gate", ""))
	h.commit(sha("m1"), site("north gate", ""))
	h.commit(sha("h3"), site("north gate", extra))
	h.gh.heads[1], h.gh.heads[3] = sha("h1"), sha("h3")

	// PR #1 is reviewed: its plan comment.
	s := newScheduler()
	r1 := h.newRun("pull_request", sha("h1"), 1, sha("h1"))
	h.queueRun(s, r1)
	if res := h.runAll(r1); res["plan"] != "success" {
		t.Fatalf("PR #1 plan: %v\n%s", res, logs[fmt.Sprintf("%d plan", r1.id)])
	}
	if h.firstCmd > 5*time.Second {
		t.Errorf("the PR check took %v to its first gwsync command, want at most 5 s", h.firstCmd)
	}
	// PR #3's plan is running when PR #1 merges; PR #3 gets another push.
	r3 := h.newRun("pull_request", sha("h3"), 3, sha("h3"))
	q3 := h.queueRun(s, r3)
	h.gh.pulls[sha("m1")] = 1
	ra := h.newRun("push", sha("m1"), 0, "")
	qa := h.queueRun(s, ra)
	r3b := h.newRun("pull_request", sha("h3"), 3, sha("h3"))
	q3b := h.queueRun(s, r3b)
	if q3["plan"].state != "cancelled" || q3b["plan"].state != "running" {
		t.Errorf("a newer push to PR #3: its older plan %s (want cancelled), newer %s (want running)", q3["plan"].state, q3b["plan"].state)
	}
	if qa["apply"].state == "cancelled" {
		t.Fatal("the merged apply was cancelled by a push to another pull request")
	}
	if res := h.runAll(r3b); res["plan"] != "success" {
		t.Fatalf("PR #3 plan: %v", res)
	}
	s.finish(q3b["plan"])
	res := h.runAll(ra)
	if res["apply"] != "success" {
		t.Fatalf("the merged apply: %v\n%s", res, logs[fmt.Sprintf("%d apply", ra.id)])
	}
	if b, _ := os.ReadFile(state); !bytes.Contains(b, []byte("24E124136A456465")) || bytes.Contains(b, []byte("24E124136A456466")) {
		t.Fatalf("after the apply the gateway does not hold exactly PR #1's site:\n%s", b)
	}
	t.Logf("PR check start → first gwsync command: %v (release binary downloaded and checked)", h.firstCmd)
}

// TestWorkflowFleetFailedApplyIsRed: the fleet workflow end to end: a pull
// request's plan records each shard's digests; the merge applies only the
// reviewed plans; a gateway that refuses a write makes its site roll back
// and its shard's job red (gwsync apply … | tee under pipefail), while
// the other shards apply; a site changed after the review is refused and
// its shard is red too.
func TestWorkflowFleetFailedApplyIsRed(t *testing.T) {
	needTools(t, "jq", "curl")
	h := newHarness(t, "examples/ci/gwsync-fleet.yml")
	bin := gwsyncBinary(t)
	state := t.TempDir()
	faulty := "24E124FFFE100002" // the depot
	sim := exec.Command(bin, "sim", "--gateways", "3", "--state-dir", state, "--listen", "127.0.0.1:0",
		"--request-topic", "milesight-gateway/{eui}/request", "--response-topic", "milesight-gateway/{eui}/response",
		"--fault-gateway", faulty, "--fail-write", "1:9")
	stdout, err := sim.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Process.Kill(); sim.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	url := regexp.MustCompile(`on (tcp://127\.0\.0\.1:\d+),`).FindStringSubmatch(line)
	if err != nil || url == nil {
		t.Fatalf("sim: %v %q", err, line)
	}
	go io.Copy(io.Discard, stdout)

	// The repository: examples/fleet as fleet/, on the simulator's broker.
	files := map[string]string{}
	keys := map[string]bool{}
	filepath.Walk("examples/fleet", func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		s := strings.Replace(string(b), "broker: tcp://127.0.0.1:1883", "broker: "+url[1], 1)
		for _, m := range regexp.MustCompile(`\$\{env:(\w+)\}`).FindAllStringSubmatch(s, -1) {
			keys[m[1]] = true
		}
		files["fleet/"+strings.TrimPrefix(filepath.ToSlash(p), "examples/fleet/")] = s
		return nil
	})
	var kv []string
	for k := range keys {
		sum := sha256.Sum256([]byte(k))
		kv = append(kv, k+"="+hex.EncodeToString(sum[:16]))
	}
	sort.Strings(kv)
	h.secrets["FLEET_KEYS"] = strings.Join(kv, "\n")
	h.secrets["GWSYNC_JOURNAL_PASSPHRASE"] = "correct horse battery staple"
	h.commit(sha("h5"), files)
	h.commit(sha("m5"), files)
	h.gh.heads[5] = sha("h5")

	pr := h.newRun("pull_request", sha("h5"), 5, sha("h5"))
	res := h.runAll(pr)
	for k, v := range res {
		if strings.HasPrefix(k, "apply") && v != "skipped" || !strings.HasPrefix(k, "apply") && v != "success" {
			t.Fatalf("PR run: %s %s\n%s", k, v, logs[fmt.Sprintf("%d %s", pr.id, k)])
		}
	}
	if len(h.artifacts[pr.id]) != 4 {
		t.Fatalf("PR run artifacts %v, want the 4 shards' plans", h.artifacts[pr.id])
	}

	h.gh.pulls[sha("m5")] = 5
	merge := h.newRun("push", sha("m5"), 0, "")
	res = h.runAll(merge)
	red := 0
	for k, v := range res {
		if !strings.HasPrefix(k, "apply/") {
			continue
		}
		log := logs[fmt.Sprintf("%d %s", merge.id, k)]
		switch {
		case strings.Contains(log, "sites/depot"):
			if v != "failure" || !regexp.MustCompile(`(?m)^sites/depot\s.*rolled back, verified`).MatchString(log) {
				t.Errorf("%s (the failing gateway's shard): %s, want failure after a rollback\n%s", k, v, log)
			}
			red++
		case v != "success":
			t.Errorf("%s: %s\n%s", k, v, log)
		case strings.Contains(log, "sites/building-"):
			if !regexp.MustCompile(`(?m)^sites/building-[ab]\s.*applied, verified`).MatchString(log) {
				t.Errorf("%s: a reviewed site was not applied and verified\n%s", k, log)
			}
		}
	}
	if red != 1 {
		t.Errorf("%d red shards, want 1: %v", red, res)
	}
	// A merge whose fleet differs from the review: refused, red.
	changed := map[string]string{}
	for k, v := range files {
		changed[k] = strings.Replace(v, "name: em300-th-a-1", "name: em300-th-a-renamed", 1)
	}
	h.commit(sha("m6"), changed)
	h.gh.pulls[sha("m6")] = 5
	merge2 := h.newRun("push", sha("m6"), 0, "")
	res = h.runAll(merge2)
	refused := false
	for k, v := range res {
		log := logs[fmt.Sprintf("%d %s", merge2.id, k)]
		if strings.HasPrefix(k, "apply/") && strings.Contains(log, "sites/building-a") {
			refused = v == "failure" && strings.Contains(log, "the plan differs from the one approved")
		}
	}
	if !refused {
		t.Errorf("a merge unlike its review was not refused: %v", res)
	}
	// No merged pull request: nothing applied, every shard red.
	h.commit(sha("m7"), changed)
	merge3 := h.newRun("push", sha("m7"), 0, "")
	for k, v := range h.runAll(merge3) {
		if strings.HasPrefix(k, "apply/") && (v != "failure" || !strings.Contains(logs[fmt.Sprintf("%d %s", merge3.id, k)], "belongs to no merged pull request")) {
			t.Errorf("a push with no reviewed pull request: %s %s", k, v)
		}
	}
}

// serveMore serves the workflow runs of a commit:
// GET /repos/o/r/actions/runs?head_sha=SHA&event=E&status=S.
func (f *fakeGitHub) serveMore(w http.ResponseWriter, r *http.Request, parts []string) {
	if len(parts) != 5 || parts[3] != "actions" || parts[4] != "runs" || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	out := []map[string]any{}
	for _, run := range f.runs {
		if v := q.Get("head_sha"); v != "" && run["head_sha"] != v {
			continue
		}
		if v := q.Get("event"); v != "" && run["event"] != v {
			continue
		}
		if v := q.Get("status"); v != "" && run["conclusion"] != v && run["status"] != v {
			continue
		}
		out = append(out, run)
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"total_count": len(out), "workflow_runs": out})
}
