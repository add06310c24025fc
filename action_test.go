package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v4"
)

// action is what the test reads of action.yml.
type action struct {
	Inputs map[string]struct {
		Default string `yaml:"default"`
	} `yaml:"inputs"`
	Outputs map[string]struct {
		Value string `yaml:"value"`
	} `yaml:"outputs"`
	Runs struct {
		Using string   `yaml:"using"`
		Steps []ghStep `yaml:"steps"`
	} `yaml:"runs"`
}

// ghStep is a step of a composite action or of a workflow job.
type ghStep struct {
	ID    string            `yaml:"id"`
	Name  string            `yaml:"name"`
	If    string            `yaml:"if"`
	Shell string            `yaml:"shell"`
	Env   map[string]string `yaml:"env"`
	Run   string            `yaml:"run"`
	Uses  string            `yaml:"uses"`
	With  map[string]string `yaml:"with"`
}

// fakeGitHub is the part of GitHub's REST API the action uses: issue
// comments of pull requests (each with its author), the pull requests of a
// commit, a pull request, and GET /user. Tokens are who they write as: the
// workflow's GITHUB_TOKEN writes as github-actions[bot] and is refused
// /user with 403 "Resource not accessible by integration", as GitHub does;
// a personal token is its user.
type fakeGitHub struct {
	mu       sync.Mutex
	nextID   int
	comments map[int][]map[string]any // PR number → comments
	pulls    map[string]int           // commit → merged PR number
	heads    map[int]string           // PR number → head commit
	tokens   map[string]fakeUser
	runs     []map[string]any // workflow runs (workflow_test.go)
	calls    []string
}

type fakeUser struct {
	login, typ string
	pat        bool // a personal token: GET /user answers
}

func newFakeGitHub() *fakeGitHub {
	return &fakeGitHub{comments: map[int][]map[string]any{}, pulls: map[string]int{}, heads: map[int]string{}, tokens: map[string]fakeUser{
		"test-token":  {login: "github-actions[bot]", typ: "Bot"},
		"alice-token": {login: "alice", typ: "User", pat: true},
	}}
}

// comment adds a comment to pr as login (of type typ) and returns its id.
func (f *fakeGitHub) comment(pr int, login, typ, body string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	f.comments[pr] = append(f.comments[pr], map[string]any{"id": f.nextID, "body": body, "user": map[string]any{"login": login, "type": typ}})
	return f.nextID
}

func (f *fakeGitHub) pull(n int) map[string]any {
	pr := map[string]any{"number": n, "head": map[string]any{"sha": f.heads[n]}, "merged_at": nil}
	for _, m := range f.pulls {
		if m == n {
			pr["merged_at"] = "2026-12-01T10:00:00Z"
		}
	}
	return pr
}

func (f *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	who, ok := f.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	if !ok {
		http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
		return
	}
	if r.URL.Path == "/user" && r.Method == http.MethodGet {
		if !who.pat {
			http.Error(w, `{"message":"Resource not accessible by integration"}`, http.StatusForbidden)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"login": who.login, "type": who.typ})
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	// repos/o/r/issues/N/comments, repos/o/r/issues/comments/ID,
	// repos/o/r/commits/SHA/pulls, repos/o/r/pulls/N
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
			c := map[string]any{"id": f.nextID, "body": b, "user": map[string]any{"login": who.login, "type": who.typ}}
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
					if c["user"].(map[string]any)["login"] != who.login {
						http.Error(w, `{"message":"Resource not accessible by integration"}`, http.StatusForbidden)
						return
					}
					c["body"] = b
					_ = json.NewEncoder(w).Encode(c)
					return
				}
			}
		}
		http.NotFound(w, r)
	case parts[3] == "commits" && len(parts) == 6 && parts[5] == "pulls" && r.Method == http.MethodGet:
		out := []map[string]any{}
		if n, ok := f.pulls[parts[4]]; ok {
			out = append(out, f.pull(n))
		}
		_ = json.NewEncoder(w).Encode(out)
	case parts[3] == "pulls" && len(parts) == 5 && r.Method == http.MethodGet:
		n, _ := strconv.Atoi(parts[4])
		if _, ok := f.heads[n]; !ok {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(f.pull(n))
	default:
		f.serveMore(w, r, parts)
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

// runner runs action.yml's steps the way a GitHub runner runs a composite
// action: inputs with their defaults, ${{ }} expressions (ghexpr_test.go)
// in env, with and names, `if:` conditions with the status functions,
// bash -eo pipefail (a composite step's `shell: bash`), a GITHUB_OUTPUT
// file per step read into steps.<id>.outputs, GITHUB_ENV and GITHUB_PATH
// seen by later steps. A `uses:` step is handed to uses; without it,
// actions/cache is a miss and any other action fails the test.
type runner struct {
	t      *testing.T
	act    action
	dir    string
	github map[string]string // github.* context
	env    []string
	uses   func(st ghStep, with map[string]string) (map[string]string, error)
	path   []string // GITHUB_PATH entries the last run added
	// runAt is when the last run's step "run" (the gwsync command) started.
	runAt time.Time
}

// ownTMPDIR is the TMPDIR env gives, when it is not the one of the test
// process (which os.Environ passes on): "" when the test set none.
func ownTMPDIR(env []string) string {
	dir := ""
	for _, kv := range env { // the last one counts, as for exec.Cmd
		if v, ok := strings.CutPrefix(kv, "TMPDIR="); ok {
			dir = v
		}
	}
	if dir == os.Getenv("TMPDIR") {
		return ""
	}
	return dir
}

func (r *runner) run(inputs map[string]string) (code int, out string, outputs map[string]string) {
	t := r.t
	t.Helper()
	ctx := map[string]string{}
	for k, v := range r.github {
		ctx["github."+k] = v
	}
	var st ghStatus
	eval := func(s string) string {
		v, err := ghInterpolate(s, ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		return v
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
	envFile, pathFile := filepath.Join(tmp, "env"), filepath.Join(tmp, "path")
	for _, f := range []string{envFile, pathFile} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r.path = nil
	var log bytes.Buffer
	for i, step := range r.act.Runs.Steps {
		ok, err := ghCondition(step.If, ctx, st)
		if err != nil {
			t.Fatalf("step %q: %v", step.Name, err)
		}
		if !ok {
			continue
		}
		fmt.Fprintf(&log, "== %s\n", eval(step.Name))
		if step.ID == "run" {
			r.runAt = time.Now()
		}
		var stepOut map[string]string
		var failed bool
		if step.Uses != "" {
			with := map[string]string{}
			for k, v := range step.With {
				with[k] = eval(v)
			}
			uses := r.uses
			if uses == nil {
				uses = func(st ghStep, with map[string]string) (map[string]string, error) {
					if strings.HasPrefix(st.Uses, "actions/cache@") {
						return nil, nil // a miss
					}
					return nil, fmt.Errorf("%s is not modelled", st.Uses)
				}
			}
			o, err := uses(step, with)
			if err != nil {
				fmt.Fprintf(&log, "%s: %v\n", step.Uses, err)
				failed = true
			}
			stepOut = o
		} else {
			if step.Shell != "bash" {
				t.Fatalf("step %q: shell %q, want bash", step.Name, step.Shell)
			}
			script := filepath.Join(tmp, fmt.Sprintf("step%d.sh", i))
			outFile := filepath.Join(tmp, fmt.Sprintf("output%d", i))
			if err := os.WriteFile(script, []byte(step.Run), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(outFile, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", script)
			cmd.Dir = r.dir
			cmd.Env = append(append([]string{}, r.env...), "GITHUB_OUTPUT="+outFile, "GITHUB_ENV="+envFile, "GITHUB_PATH="+pathFile,
				"GITHUB_ACTION_PATH="+r.github["action_path"])
			if ownTMPDIR(r.env) == "" {
				// The steps' mktemp folders go under the test's own
				// directory, removed with it, not the run's TMPDIR.
				cmd.Env = append(cmd.Env, "TMPDIR="+tmp)
			}
			if b, err := os.ReadFile(envFile); err == nil { // GITHUB_ENV: later steps see it
				cmd.Env = append(cmd.Env, strings.Fields(string(b))...)
			}
			if b, err := os.ReadFile(pathFile); err == nil && len(b) > 0 {
				cmd.Env = append(cmd.Env, "PATH="+strings.Join(strings.Fields(string(b)), ":")+":"+os.Getenv("PATH"))
			}
			for k, v := range step.Env {
				cmd.Env = append(cmd.Env, k+"="+eval(v))
			}
			cmd.Stdout, cmd.Stderr = &log, &log
			if err := cmd.Run(); err != nil {
				ee, ok := err.(*exec.ExitError)
				if !ok {
					t.Fatalf("step %q: %v", step.Name, err)
				}
				if code == 0 {
					code = ee.ExitCode()
				}
				failed = true
			}
			stepOut = readOutputs(t, outFile)
		}
		if failed {
			st.failed = true
			if code == 0 {
				code = 1
			}
		}
		if step.ID != "" {
			for k, v := range stepOut {
				ctx["steps."+step.ID+".outputs."+k] = v
			}
		}
	}
	if b, err := os.ReadFile(pathFile); err == nil {
		r.path = strings.Fields(string(b))
	}
	outputs = map[string]string{}
	for name, o := range r.act.Outputs {
		if v := eval(o.Value); v != "" {
			outputs[name] = v
		}
	}
	return code, log.String(), outputs
}

// readOutputs reads a GITHUB_OUTPUT file of NAME=value lines.
func readOutputs(t *testing.T, path string) map[string]string {
	out := map[string]string{}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			out[k] = v
		}
	}
	return out
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

	gh := newFakeGitHub()
	gh.heads[7], gh.heads[8] = strings.Repeat("7a", 20), strings.Repeat("8b", 20)
	srv := httptest.NewServer(gh)
	defer srv.Close()
	// a busy pull request: the plan comment lands on the second page
	for i := 0; i < 105; i++ {
		gh.comment(7, "bob", "User", fmt.Sprintf("looks good %d", i))
	}

	dir := t.TempDir()
	writeSite := func(desc string) {
		if err := os.WriteFile(filepath.Join(dir, "site.yaml"), fmt.Appendf(nil, actionSite, desc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	state := filepath.Join(dir, "gw.json")
	// TMPDIR of its own: gwsync's apply lock lives there, and other test
	// runs on this machine may apply to a gateway of the same EUI.
	env := append(os.Environ(), "TMPDIR="+t.TempDir(), "GWSYNC_BROKER=sim://"+state, "K1="+testKeys["K1"], "GITHUB_STEP_SUMMARY="+filepath.Join(dir, "summary.md"))
	r := &runner{t: t, act: act, dir: dir, env: env, github: map[string]string{
		"token": "test-token", "api_url": srv.URL, "repository": "o/r", "sha": "c0ffee",
		"event.pull_request.number": "7", "event.pull_request.head.sha": gh.heads[7], "action_path": root,
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
	for _, want := range []string{"**Plan: 1 to add, 0 to change, 0 to destroy.**", "<!-- gwsync-action-digest: " + digest1 + " head " + gh.heads[7] + " -->\n", "gateway `24E124FFFEF5A6A8`"} {
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

// loadAction reads action.yml.
func loadAction(t *testing.T, root string) action {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var act action
	if err := yaml.Unmarshal(b, &act); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	return act
}

func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (GitHub's runners have it)", tool)
		}
	}
}

// TestGitHubActionForgedReview: the merge applies only a plan whose
// digest the workflow's own identity recorded, in the first lines of its
// own comment, for the head commit that was merged. Forged comments (by
// other users, by a user named like the bot, placed before the genuine
// one at seeded random positions) and digests inside the plan's own text
// (a device description) are refused: nothing is written. The genuine
// review applies. A personal token trusts its own user instead of the bot.
func TestGitHubActionForgedReview(t *testing.T) {
	needTools(t, "jq", "curl")
	root, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	act := loadAction(t, root)
	bin := gwsyncBinary(t)
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewSource(seed))
	t.Logf("seed %d", seed)

	head := strings.Repeat("c1", 20)
	type world struct {
		gh    *fakeGitHub
		r     *runner
		dir   string
		state string
	}
	newWorld := func(token string) *world {
		gh := newFakeGitHub()
		gh.heads[7] = head
		srv := httptest.NewServer(gh)
		t.Cleanup(srv.Close)
		dir := t.TempDir()
		state := filepath.Join(dir, "gw.json")
		env := append(os.Environ(), "TMPDIR="+t.TempDir(), "GWSYNC_BROKER=sim://"+state, "K1="+testKeys["K1"])
		return &world{gh: gh, dir: dir, state: state, r: &runner{t: t, act: act, dir: dir, env: env, github: map[string]string{
			"token": token, "api_url": srv.URL, "repository": "o/r", "sha": "beef",
			"event.pull_request.number": "7", "event.pull_request.head.sha": head, "action_path": root,
		}}}
	}
	in := func(kv ...string) map[string]string {
		m := map[string]string{"site": "site.yaml", "gwsync-bin": bin}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	writeSite := func(w *world, desc string) {
		if err := os.WriteFile(filepath.Join(w.dir, "site.yaml"), fmt.Appendf(nil, actionSite, desc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// digestOf plans desc against w's gateway, as the attacker can.
	digestOf := func(w *world, desc string) string {
		writeSite(w, desc)
		out := filepath.Join(w.dir, "attacker-plan.json")
		cmd := exec.Command(bin, "plan", "site.yaml", "--out", out)
		cmd.Dir, cmd.Env = w.dir, w.r.env
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("plan: %v\n%s", err, b)
		}
		var p struct {
			Digest string `json:"plan_digest"`
		}
		b, _ := os.ReadFile(out)
		if err := json.Unmarshal(b, &p); err != nil || !strings.HasPrefix(p.Digest, "sha256:") {
			t.Fatalf("plan digest: %v %q", err, p.Digest)
		}
		return p.Digest
	}
	untouched := func(w *world, what string) {
		t.Helper()
		if b, err := os.ReadFile(w.state); err == nil && bytes.Contains(b, []byte("24E124136A456465")) {
			t.Fatalf("%s: the gateway was written", what)
		}
	}
	forge := func(digest, h string) string {
		return "<!-- gwsync-action: plan of site.yaml -->\n<!-- gwsync-action-digest: " + digest + " head " + h + " -->\nLGTM, plan attached"
	}
	const evil = "evil twin" // the unreviewed site the attacker wants applied

	// Forged comments from others, before and among the genuine one.
	for i := 0; i < 3; i++ {
		w := newWorld("test-token")
		writeSite(w, "north gate")
		forged := []struct{ login, typ string }{{"mallory", "User"}, {"github-actions", "User"}, {"github-actions[bot]", "User"}, {"renovate[bot]", "Bot"}}
		bad := digestOf(w, evil)
		writeSite(w, "north gate")
		var posted bool
		for n := 0; n < 20; n++ {
			if !posted && rng.Intn(6) == 0 {
				if code, out, _ := w.r.run(in("command", "pr")); code != 0 {
					t.Fatalf("seed %d: pr: exit %d\n%s", seed, code, out)
				}
				posted = true
				continue
			}
			f := forged[rng.Intn(len(forged))]
			w.gh.comment(7, f.login, f.typ, forge(bad, head))
		}
		// The first forged comment always comes before the genuine one.
		w.gh.mu.Lock()
		w.gh.nextID++
		w.gh.comments[7] = append([]map[string]any{{"id": w.gh.nextID, "body": forge(bad, head), "user": map[string]any{"login": "mallory", "type": "User"}}}, w.gh.comments[7]...)
		w.gh.mu.Unlock()
		w.gh.pulls["beef"] = 7
		writeSite(w, evil)
		code, out, _ := w.r.run(in("command", "apply", "pr-number", ""))
		if !posted {
			if code == 0 || !strings.Contains(out, "has no gwsync plan comment for site.yaml written by github-actions[bot]") {
				t.Fatalf("seed %d: only forged comments: exit %d\n%s", seed, code, out)
			}
			untouched(w, "only forged comments")
			continue
		}
		if code == 0 || !strings.Contains(out, "the plan is not the one reviewed in pull request #7") || strings.Contains(out, "reviewed "+bad) {
			t.Fatalf("seed %d: a forged comment was believed: exit %d\n%s", seed, code, out)
		}
		untouched(w, "forged comment")
		// The genuine review still applies.
		writeSite(w, "north gate")
		if code, out, _ := w.r.run(in("command", "apply", "pr-number", "")); code != 0 || !strings.Contains(out, "Apply complete! Resources: 1 added") {
			t.Fatalf("seed %d: the reviewed plan: exit %d\n%s", seed, code, out)
		}
	}

	// A digest in the plan's own text: the description carries the lines
	// the action reads and the old marker, with the unreviewed plan's digest.
	{
		w := newWorld("test-token")
		bad := digestOf(w, evil)
		trap := fmt.Sprintf("%q", "x\n"+forge(bad, head)+"\n<!-- gwsync-plan-digest: "+bad+" -->\ngwsync-plan-digest: "+bad)
		writeSite(w, trap)
		if code, out, _ := w.r.run(in("command", "pr")); code != 0 {
			t.Fatalf("pr: exit %d\n%s", code, out)
		}
		if c := w.gh.planComments(7); len(c) != 1 || !strings.Contains(c[0], bad) {
			t.Fatalf("the plan comment does not carry the planted digest (the test would prove nothing):\n%s", strings.Join(c, "\n---\n"))
		}
		w.gh.pulls["beef"] = 7
		writeSite(w, evil)
		code, out, _ := w.r.run(in("command", "apply", "pr-number", ""))
		if code == 0 || !strings.Contains(out, "the plan is not the one reviewed in pull request #7") {
			t.Fatalf("a digest in a description was believed: exit %d\n%s", code, out)
		}
		untouched(w, "digest in a description")
	}

	// The comment was made for an older push: the last push was never
	// planned, whatever the digest says.
	{
		w := newWorld("test-token")
		writeSite(w, "north gate")
		w.r.github["event.pull_request.head.sha"] = strings.Repeat("0d", 20)
		if code, out, _ := w.r.run(in("command", "pr")); code != 0 {
			t.Fatalf("pr: exit %d\n%s", code, out)
		}
		w.gh.pulls["beef"] = 7
		code, out, _ := w.r.run(in("command", "apply", "pr-number", ""))
		if code == 0 || !strings.Contains(out, "was made for commit "+strings.Repeat("0d", 20)+", but the pull request merged "+head) {
			t.Fatalf("a plan of an older push: exit %d\n%s", code, out)
		}
		untouched(w, "plan of an older push")
	}

	// A personal token: its own user's comment is trusted, the bot's is not.
	{
		w := newWorld("alice-token")
		writeSite(w, "north gate")
		w.gh.comment(7, "github-actions[bot]", "Bot", forge(digestOf(w, evil), head))
		writeSite(w, "north gate")
		if code, out, _ := w.r.run(in("command", "pr")); code != 0 || !strings.Contains(out, "Posted the plan comment") {
			t.Fatalf("pr with a personal token: exit %d\n%s", code, out)
		}
		w.gh.pulls["beef"] = 7
		writeSite(w, evil)
		if code, out, _ := w.r.run(in("command", "apply", "pr-number", "")); code == 0 || !strings.Contains(out, "the plan is not the one reviewed") {
			t.Fatalf("personal token, the bot's comment believed: exit %d\n%s", code, out)
		}
		untouched(w, "personal token")
		writeSite(w, "north gate")
		if code, out, _ := w.r.run(in("command", "apply", "pr-number", "")); code != 0 {
			t.Fatalf("personal token, the reviewed plan: exit %d\n%s", code, out)
		}
	}
}

// TestGitHubActionJournalArtifact: when an apply fails, the action packs the
// site's .gwsync/ and uploads it: encrypted with journal-passphrase, which
// README's recipe (openssl enc -d … | tar -x) opens to the same files; and
// without a passphrase, without the journal's key.
func TestGitHubActionJournalArtifact(t *testing.T) {
	needTools(t, "jq", "curl", "openssl", "tar")
	root, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	act := loadAction(t, root)
	bin := gwsyncBinary(t)
	for _, pass := range []string{"s3cret passphrase", ""} {
		gh := newFakeGitHub()
		gh.heads[7] = strings.Repeat("c1", 20)
		srv := httptest.NewServer(gh)
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "site", ".gwsync"), 0o700)
		journal := map[string]string{"journal.key": "0123456789abcdef0123456789abcdef", "before.json": `{"devices":[]}`, "journal.jsonl": "{}\n"}
		for name, content := range journal {
			os.WriteFile(filepath.Join(dir, "site", ".gwsync", name), []byte(content), 0o600)
		}
		os.WriteFile(filepath.Join(dir, "site", "site.yaml"), fmt.Appendf(nil, actionSite, "north gate"), 0o644)
		uploaded := map[string]string{}
		r := &runner{t: t, act: act, dir: dir, env: append(os.Environ(), "TMPDIR="+t.TempDir(), "RUNNER_TEMP="+t.TempDir(), "GITHUB_RUN_ID=42", "GITHUB_RUN_ATTEMPT=1",
			"GWSYNC_BROKER=sim://"+filepath.Join(dir, "gw.json"), "K1="+testKeys["K1"]),
			github: map[string]string{"token": "test-token", "api_url": srv.URL, "repository": "o/r", "sha": "beef", "action_path": root},
			uses: func(st ghStep, with map[string]string) (map[string]string, error) {
				if strings.HasPrefix(st.Uses, "actions/upload-artifact@") {
					uploaded = with
				}
				return nil, nil
			}}
		// Merged without a plan comment: the apply fails before any write.
		gh.pulls["beef"] = 7
		code, out, _ := r.run(map[string]string{"command": "apply", "site": "site/", "gwsync-bin": bin, "pr-number": "", "journal-passphrase": pass})
		srv.Close()
		if code == 0 || uploaded["name"] != "gwsync-journal-site--42-1" {
			t.Fatalf("passphrase %q: exit %d, uploaded %v\n%s", pass, code, uploaded, out)
		}
		extract := t.TempDir()
		var cmd *exec.Cmd
		if pass != "" {
			if b, _ := os.ReadFile(filepath.Join(uploaded["path"], "gwsync-journal.tar.enc")); bytes.Contains(b, []byte(journal["journal.key"])) {
				t.Fatal("the encrypted journal holds its key in clear")
			}
			cmd = exec.Command("bash", "-c", `openssl enc -d -aes-256-cbc -pbkdf2 -iter 600000 -pass env:PASSPHRASE -in "$1" | tar -C "$2" -xf -`, "x",
				filepath.Join(uploaded["path"], "gwsync-journal.tar.enc"), extract)
			cmd.Env = append(os.Environ(), "PASSPHRASE="+pass)
		} else {
			cmd = exec.Command("tar", "-C", extract, "-xf", filepath.Join(uploaded["path"], "gwsync-journal.tar"))
		}
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("passphrase %q: opening the artifact: %v\n%s", pass, err, b)
		}
		for name, content := range journal {
			b, err := os.ReadFile(filepath.Join(extract, ".gwsync", name))
			switch {
			case name == "journal.key" && pass == "":
				if err == nil {
					t.Error("without a passphrase the journal's key was uploaded")
				}
			case err != nil || string(b) != content:
				t.Errorf("passphrase %q: %s: %v %q", pass, name, err, b)
			}
		}
	}
}

// TestGitHubActionRelease: the action runs a release binary only when
// SHA256SUMS holds its line and its checksum matches (a mismatch or a
// missing line fails, with no fallback); with no release for the version
// it builds its own checkout.
func TestGitHubActionRelease(t *testing.T) {
	needTools(t, "jq", "curl", "sha256sum")
	root, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	act := loadAction(t, root)
	bin := gwsyncBinary(t)
	good, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	asset := fmt.Sprintf("gwsync_v9.9.9_%s_%s", runtime.GOOS, runtime.GOARCH)
	sumOf := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	evil := append([]byte("#!/bin/sh\necho PWNED\n"), good[:64]...)
	for _, tc := range []struct {
		name   string
		body   []byte
		sums   string
		status int // of the asset; 0: 200
		want   string
		ok     bool
	}{
		{"verified", good, sumOf(good) + "  " + asset + "\n", 0, "checksum verified", true},
		{"tampered", evil, sumOf(good) + "  " + asset + "\n", 0, "does not match its checksum in SHA256SUMS: not running it", false},
		{"no line", evil, sumOf(evil) + "  " + asset + ".old\n", 0, "SHA256SUMS has no checksum for " + asset, false},
		{"no release", nil, "", http.StatusNotFound, "building gwsync from the action's source", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mux := http.NewServeMux()
			mux.HandleFunc("/dl/v9.9.9/SHA256SUMS", func(w http.ResponseWriter, r *http.Request) {
				if tc.status != 0 {
					http.NotFound(w, r)
					return
				}
				io.WriteString(w, tc.sums)
			})
			mux.HandleFunc("/dl/v9.9.9/"+asset, func(w http.ResponseWriter, r *http.Request) {
				if tc.status != 0 {
					http.NotFound(w, r)
					return
				}
				w.Write(tc.body)
			})
			srv := httptest.NewServer(mux)
			defer srv.Close()
			tmp := t.TempDir()
			r := &runner{t: t, act: act, dir: tmp, env: append(os.Environ(), "RUNNER_TEMP="+tmp, "RUNNER_TOOL_CACHE="+filepath.Join(tmp, "tools")),
				github: map[string]string{"token": "test-token", "api_url": srv.URL, "repository": "o/r", "action_path": root, "action_ref": "v9.9.9"}}
			code, out, outputs := r.run(map[string]string{"command": "install", "release-url": srv.URL + "/dl"})
			if (code == 0) != tc.ok || !strings.Contains(out, tc.want) || strings.Contains(out, "PWNED") {
				t.Fatalf("exit %d, want ok=%v and %q:\n%s", code, tc.ok, tc.want, out)
			}
			if tc.ok && (!strings.Contains(out, "gwsync ") || outputs["gwsync"] == "") {
				t.Fatalf("no gwsync ran:\n%s", out)
			}
			if tc.status != 0 && !strings.Contains(out, "gwsync v9.9.9") {
				t.Fatalf("the build does not say its version:\n%s", out)
			}
		})
	}
}
