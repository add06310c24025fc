package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"
)

// action is what the test reads of action.yml.
type action struct {
	Inputs map[string]struct {
		Default string `yaml:"default"`
	} `yaml:"inputs"`
	Runs struct {
		Using string `yaml:"using"`
		Steps []struct {
			Name  string            `yaml:"name"`
			If    string            `yaml:"if"`
			Shell string            `yaml:"shell"`
			Env   map[string]string `yaml:"env"`
			Run   string            `yaml:"run"`
		} `yaml:"steps"`
	} `yaml:"runs"`
}

// fakeGitHub is the part of GitHub's REST API the action uses: issue
// comments of pull requests, and the pull requests of a commit.
type fakeGitHub struct {
	mu       sync.Mutex
	nextID   int
	comments map[int][]map[string]any // PR number → comments
	pulls    map[string]int           // commit → PR number
	calls    []string
}

func (f *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	if r.Header.Get("Authorization") != "Bearer test-token" {
		http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	// repos/o/r/issues/N/comments, repos/o/r/issues/comments/ID, repos/o/r/commits/SHA/pulls
	if len(parts) < 5 || parts[0] != "repos" || parts[1] != "o" || parts[2] != "r" {
		http.NotFound(w, r)
		return
	}
	body := func() string {
		var req struct {
			Body string `json:"body"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Body == "" {
			return ""
		}
		return req.Body
	}
	switch {
	case parts[3] == "issues" && len(parts) == 6 && parts[5] == "comments":
		pr, _ := strconv.Atoi(parts[4])
		switch r.Method {
		case http.MethodGet:
			per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
			page, _ := strconv.Atoi(r.URL.Query().Get("page"))
			per, page = max(min(per, 100), 30), max(page, 1)
			all := f.comments[pr]
			lo, hi := min((page-1)*per, len(all)), min(page*per, len(all))
			_ = json.NewEncoder(w).Encode(all[lo:hi])
		case http.MethodPost:
			b := body()
			if b == "" {
				http.Error(w, `{"message":"no body"}`, http.StatusUnprocessableEntity)
				return
			}
			f.nextID++
			c := map[string]any{"id": f.nextID, "body": b}
			f.comments[pr] = append(f.comments[pr], c)
			w.WriteHeader(http.StatusCreated)
			_ = json.NewEncoder(w).Encode(c)
		default:
			http.Error(w, "method", http.StatusMethodNotAllowed)
		}
	case parts[3] == "issues" && len(parts) == 6 && parts[4] == "comments" && r.Method == http.MethodPatch:
		id, _ := strconv.Atoi(parts[5])
		b := body()
		for _, cs := range f.comments {
			for _, c := range cs {
				if c["id"] == id {
					c["body"] = b
					_ = json.NewEncoder(w).Encode(c)
					return
				}
			}
		}
		http.NotFound(w, r)
	case parts[3] == "commits" && len(parts) == 6 && parts[5] == "pulls" && r.Method == http.MethodGet:
		var out []map[string]any
		if n, ok := f.pulls[parts[4]]; ok {
			out = append(out, map[string]any{"number": n})
		}
		_ = json.NewEncoder(w).Encode(out)
	default:
		http.NotFound(w, r)
	}
}

// planComments returns the bodies of PR pr's comments that gwsync posted.
func (f *fakeGitHub) planComments(pr int) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.comments[pr] {
		if b := c["body"].(string); strings.Contains(b, "<!-- gwsync-action:") {
			out = append(out, b)
		}
	}
	return out
}

var expr = regexp.MustCompile(`\$\{\{\s*([^}]*?)\s*\}\}`)

// runner runs action.yml's steps the way a GitHub runner runs a composite
// action: inputs with their defaults, ${{ }} expressions in env and names,
// `if:` conditions, bash -eo pipefail, GITHUB_OUTPUT and GITHUB_ENV files.
type runner struct {
	t       *testing.T
	act     action
	dir     string
	github  map[string]string // github.* context
	env     []string
	actPath string
}

func (r *runner) run(inputs map[string]string) (code int, out string, outputs map[string]string) {
	t := r.t
	t.Helper()
	ctx := map[string]string{}
	for k, v := range r.github {
		ctx["github."+k] = v
	}
	eval := func(s string) string {
		return expr.ReplaceAllStringFunc(s, func(m string) string { return ctx[expr.FindStringSubmatch(m)[1]] })
	}
	for name, in := range r.act.Inputs {
		v, ok := inputs[name]
		if !ok {
			v = eval(in.Default)
		}
		ctx["inputs."+name] = v
	}
	for name := range inputs {
		if _, ok := r.act.Inputs[name]; !ok {
			t.Fatalf("action.yml has no input %q", name)
		}
	}
	tmp := t.TempDir()
	outFile, envFile := filepath.Join(tmp, "output"), filepath.Join(tmp, "env")
	for _, f := range []string{outFile, envFile} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := append(append([]string{}, r.env...), "GITHUB_OUTPUT="+outFile, "GITHUB_ENV="+envFile)
	cond := regexp.MustCompile(`^inputs\.([\w-]+) (==|!=) '([^']*)'$`)
	var log bytes.Buffer
	for _, st := range r.act.Runs.Steps {
		if st.If != "" {
			m := cond.FindStringSubmatch(st.If)
			if m == nil {
				t.Fatalf("step %q: cannot evaluate if: %s", st.Name, st.If)
			}
			if (ctx["inputs."+m[1]] == m[3]) != (m[2] == "==") {
				continue
			}
		}
		if st.Shell != "bash" {
			t.Fatalf("step %q: shell %q, want bash", st.Name, st.Shell)
		}
		script := filepath.Join(tmp, "step.sh")
		if err := os.WriteFile(script, []byte(st.Run), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", script)
		cmd.Dir = r.dir
		cmd.Env = append([]string{}, env...)
		for k, v := range st.Env {
			cmd.Env = append(cmd.Env, k+"="+eval(v))
		}
		cmd.Stdout, cmd.Stderr = &log, &log
		fmt.Fprintf(&log, "== %s\n", eval(st.Name))
		err := cmd.Run()
		if b, rerr := os.ReadFile(envFile); rerr == nil { // GITHUB_ENV: later steps see it
			env = append(env, strings.Fields(string(b))...)
		}
		if err != nil {
			ee, ok := err.(*exec.ExitError)
			if !ok {
				t.Fatalf("step %q: %v", st.Name, err)
			}
			code = ee.ExitCode()
			break
		}
	}
	outputs = map[string]string{}
	if b, err := os.ReadFile(outFile); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), "="); ok {
				outputs[k] = v
			}
		}
	}
	return code, log.String(), outputs
}

const actionSite = `version: 1
gateway:
  eui: '24E124FFFEF5A6A8'
devices:
  - devEUI: '24E124136A456465'
    name: lamp-01
    description: %s
    application: cloud
    appKey: ${env:K1}
`

// TestGitHubAction drives the steps of action.yml locally, as the example
// workflow (examples/ci/gwsync.yml) uses them, against a simulated gateway
// and a fake GitHub comment API on 127.0.0.1: a pull request gets one plan
// comment, updated on each push; the merge applies only a plan equal to the
// reviewed one (a digest in the comment) and otherwise fails and says why;
// the scheduled drift check reports drift.
func TestGitHubAction(t *testing.T) {
	if _, err := exec.LookPath("jq"); err != nil {
		t.Skip("jq is not installed (GitHub's runners have it)")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed (GitHub's runners have it)")
	}
	root, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var act action
	if err := yaml.Unmarshal(b, &act); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	if act.Runs.Using != "composite" {
		t.Fatalf("action.yml runs.using = %q, want composite", act.Runs.Using)
	}
	// The example workflow uses the action with inputs it has.
	wf, err := os.ReadFile(filepath.Join(root, "examples", "ci", "gwsync.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"pr", "apply", "drift"} {
		if !strings.Contains(string(wf), "command: "+cmd+"\n") {
			t.Errorf("examples/ci/gwsync.yml does not run command %s", cmd)
		}
	}

	gh := &fakeGitHub{comments: map[int][]map[string]any{}, pulls: map[string]int{}}
	srv := httptest.NewServer(gh)
	defer srv.Close()
	// a busy pull request: the plan comment lands on the second page
	for i := 0; i < 105; i++ {
		gh.nextID++
		gh.comments[7] = append(gh.comments[7], map[string]any{"id": gh.nextID, "body": fmt.Sprintf("looks good %d", i)})
	}

	dir := t.TempDir()
	writeSite := func(desc string) {
		if err := os.WriteFile(filepath.Join(dir, "site.yaml"), fmt.Appendf(nil, actionSite, desc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	state := filepath.Join(dir, "gw.json")
	env := append(os.Environ(), "GWSYNC_BROKER=sim://"+state, "K1="+testKeys["K1"], "GITHUB_STEP_SUMMARY="+filepath.Join(dir, "summary.md"))
	r := &runner{t: t, act: act, dir: dir, env: env, github: map[string]string{
		"token": "test-token", "api_url": srv.URL, "repository": "o/r", "sha": "c0ffee",
		"event.pull_request.number": "7", "action_path": root,
	}}
	bin := gwsyncBinary(t)
	in := func(kv ...string) map[string]string {
		m := map[string]string{"site": "site.yaml", "gwsync-bin": bin}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}

	// 1. The pull request: validate, plan, post the comment.
	writeSite("north gate")
	code, out, outputs := r.run(in("command", "pr"))
	if code != 0 {
		t.Fatalf("pr: exit %d\n%s", code, out)
	}
	comments := gh.planComments(7)
	if len(comments) != 1 {
		t.Fatalf("pr: %d plan comments, want 1\n%s", len(comments), out)
	}
	digest1 := outputs["plan-digest"]
	for _, want := range []string{"**Plan: 1 to add, 0 to change, 0 to destroy.**", "gwsync-plan-digest: " + digest1 + " -->", "gateway `24E124FFFEF5A6A8`"} {
		if !strings.Contains(comments[0], want) {
			t.Errorf("pr: the comment lacks %q:\n%s", want, comments[0])
		}
	}
	if !strings.HasPrefix(digest1, "sha256:") || strings.Contains(comments[0], testKeys["K1"]) {
		t.Errorf("pr: digest %q; the comment must hold no key", digest1)
	}

	// 2. Another push: the same comment is updated, not a second one posted.
	writeSite("south gate")
	if code, out, outputs = r.run(in("command", "pr")); code != 0 {
		t.Fatalf("pr again: exit %d\n%s", code, out)
	}
	comments = gh.planComments(7)
	digest2 := outputs["plan-digest"]
	if len(comments) != 1 || !strings.Contains(comments[0], "south gate") || digest2 == digest1 || !strings.Contains(comments[0], digest2) {
		t.Fatalf("pr again: %d plan comments (want 1, updated with the new plan %s):\n%s", len(comments), digest2, strings.Join(comments, "\n----\n"))
	}
	if !strings.Contains(out, "Updated the plan comment") {
		t.Errorf("pr again: does not say it updated the comment:\n%s", out)
	}

	// 3. Merged, but the site changed after the review (a second merge):
	// nothing is applied, and the step says why.
	gh.pulls["c0ffee"] = 7
	writeSite("west gate")
	code, out, _ = r.run(in("command", "apply", "pr-number", ""))
	if code == 0 || !strings.Contains(out, "the plan is not the one reviewed in pull request #7 (reviewed "+digest2) {
		t.Fatalf("apply of an unreviewed plan: exit %d, want a failure saying why:\n%s", code, out)
	}
	if _, err := os.Stat(state); err == nil {
		if b, _ := os.ReadFile(state); bytes.Contains(b, []byte("24E124136A456465")) {
			t.Fatal("apply of an unreviewed plan wrote to the gateway")
		}
	}

	// 4. The reviewed site merged: the plan equals the reviewed one; applied.
	writeSite("south gate")
	code, out, outputs = r.run(in("command", "apply", "pr-number", ""))
	if code != 0 || outputs["plan-digest"] != digest2 || !strings.Contains(out, "Apply complete! Resources: 1 added") {
		t.Fatalf("apply of the reviewed plan: exit %d, digest %s (reviewed %s):\n%s", code, outputs["plan-digest"], digest2, out)
	}
	if strings.Contains(out, "Enter a value") {
		t.Error("apply of the reviewed plan asked for approval")
	}

	// 5. A merge with no reviewed plan is refused.
	gh.pulls["d00d"] = 8
	r.github["sha"] = "d00d"
	if code, out, _ = r.run(in("command", "apply", "pr-number", "")); code == 0 || !strings.Contains(out, "pull request #8 has no gwsync plan comment") {
		t.Fatalf("apply without a review: exit %d:\n%s", code, out)
	}

	// 6. The nightly drift check: none, then drift after a change by hand.
	if code, out, outputs = r.run(in("command", "drift")); code != 0 || outputs["drift"] != "false" {
		t.Fatalf("drift, none: exit %d, drift=%q:\n%s", code, outputs["drift"], out)
	}
	writeSite("changed by hand")
	if code, out, outputs = r.run(in("command", "drift")); code != 2 || outputs["drift"] != "true" {
		t.Fatalf("drift: exit %d, drift=%q, want 2 and true:\n%s", code, outputs["drift"], out)
	}
	if code, _, outputs = r.run(in("command", "drift", "fail-on-drift", "false")); code != 0 || outputs["drift"] != "true" {
		t.Fatalf("drift, not failing: exit %d, drift=%q", code, outputs["drift"])
	}
	summary, _ := os.ReadFile(filepath.Join(dir, "summary.md"))
	if !strings.Contains(string(summary), "Plan: 0 to add, 1 to change, 0 to destroy.") {
		t.Errorf("the drift is not in the step summary:\n%s", summary)
	}

	// 7. An invalid site: the comment says so, the step fails.
	if err := os.WriteFile(filepath.Join(dir, "site.yaml"), []byte("version: 1\ndevices:\n  - devEUI: 24E1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r.github["sha"] = "c0ffee"
	if code, out, _ = r.run(in("command", "pr")); code == 0 {
		t.Fatalf("pr of an invalid site: exit 0:\n%s", out)
	}
	if comments = gh.planComments(7); len(comments) != 1 || !strings.Contains(comments[0], "is not 16 hex digits") {
		t.Errorf("pr of an invalid site: the comment does not show the problem:\n%s", strings.Join(comments, "\n----\n"))
	}
}
