package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const jsonKey = "00112233445566778899AABBCCDDEEFF"

// jsonSite is a site of n devices on a gateway; head is its connection block.
func jsonSite(t *testing.T, head string, n int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("version: 1\ngateway:\n  eui: '24E124FFFEF5A6A8'\n" + head + "devices:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - devEUI: '24E1241300000%03d'\n    name: lamp-%02d\n    application: cloud\n    appKey: ${env:K}\n", i+1, i+1)
	}
	path := filepath.Join(t.TempDir(), "site.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// jsonLines parses apply --json's stdout: every line one JSON object with
// the common fields; it returns them and their types in order.
func jsonLines(t *testing.T, out string) ([]map[string]any, []string) {
	t.Helper()
	var msgs []map[string]any
	var types []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for n := 1; sc.Scan(); n++ {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d is not a JSON object: %v\n%s", n, err, sc.Text())
		}
		for _, k := range []string{"@level", "@message", "@module", "@timestamp", "type"} {
			if _, ok := m[k].(string); !ok {
				t.Fatalf("line %d: no string %s: %s", n, k, sc.Text())
			}
		}
		if _, err := time.Parse(time.RFC3339Nano, m["@timestamp"].(string)); err != nil {
			t.Fatalf("line %d: @timestamp: %v", n, err)
		}
		msgs = append(msgs, m)
		types = append(types, m["type"].(string))
	}
	if len(msgs) < 2 || types[0] != "version" || types[len(types)-1] != "outcome" {
		t.Fatalf("want version first and outcome last, got %v", types)
	}
	return msgs, types
}

func outcomeOf(m map[string]any) (code int, result string) {
	o := m["outcome"].(map[string]any)
	return int(o["exit_code"].(float64)), o["result"].(string)
}

// checkHooks: every step that started ended once (complete or errored),
// after it started, for the same address; it returns the ends by type.
func checkHooks(t *testing.T, msgs []map[string]any, prefix string) map[string][]string {
	t.Helper()
	open := map[string]bool{}
	ends := map[string][]string{}
	for _, m := range msgs {
		typ := m["type"].(string)
		if !strings.HasPrefix(typ, prefix+"_") {
			continue
		}
		hook := m["hook"].(map[string]any)
		addr := hook["resource"].(map[string]any)["addr"].(string)
		switch strings.TrimPrefix(typ, prefix+"_") {
		case "start":
			if open[addr] {
				t.Fatalf("%s started twice", addr)
			}
			open[addr] = true
		case "complete", "errored", "stopped":
			if !open[addr] {
				t.Fatalf("%s %s without a start", addr, typ)
			}
			delete(open, addr)
			ends[typ] = append(ends[typ], addr)
		}
	}
	if len(open) > 0 {
		t.Fatalf("%s steps started and never ended: %v", prefix, open)
	}
	return ends
}

func TestApplyJSON(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir()) // the apply lock's folder: other runs on this machine use the same EUIs
	state := filepath.Join(t.TempDir(), "gw.json")
	site := jsonSite(t, "", 3)
	env := func(out *bytes.Buffer) *Env {
		return &Env{Stdin: strings.NewReader(""), Stdout: out, Stderr: &bytes.Buffer{}, Getenv: func(k string) string {
			return map[string]string{"K": jsonKey, "GWSYNC_BROKER": "sim://" + state}[k]
		}}
	}

	// Applied: the plan, each step's start and end, the summary, the outcome.
	var out bytes.Buffer
	if code := Run(env(&out), []string{"apply", site, "--auto-approve", "--json"}); code != ExitOK {
		t.Fatalf("exit %d\n%s", code, out.String())
	}
	if strings.Contains(out.String(), jsonKey) {
		t.Fatal("a key is in the JSON stream")
	}
	msgs, types := jsonLines(t, out.String())
	ends := checkHooks(t, msgs, "apply")
	if len(ends["apply_complete"]) != 3 || len(ends["apply_errored"]) != 0 {
		t.Fatalf("ends %v", ends)
	}
	want := []string{"version", "planned_change", "planned_change", "planned_change", "change_summary"}
	if strings.Join(types[:5], " ") != strings.Join(want, " ") {
		t.Fatalf("types start %v, want %v", types[:5], want)
	}
	if tail := types[len(types)-3:]; strings.Join(tail, " ") != "verify_start change_summary outcome" {
		t.Fatalf("types end %v", tail)
	}
	if m := msgs[len(msgs)-2]; m["@message"] != "Apply complete! Resources: 3 added, 0 changed, 0 destroyed." {
		t.Fatalf("change_summary %v", m["@message"])
	}
	if code, result := outcomeOf(msgs[len(msgs)-1]); code != 0 || result != "applied" {
		t.Fatalf("outcome %d %s", code, result)
	}

	// Nothing to do: no steps, "No changes", exit 0.
	out.Reset()
	if code := Run(env(&out), []string{"apply", site, "--auto-approve", "--json"}); code != ExitOK {
		t.Fatalf("exit %d\n%s", code, out.String())
	}
	_, types = jsonLines(t, out.String())
	if strings.Join(types, " ") != "version change_summary outcome" {
		t.Fatalf("no changes: %v", types)
	}
	if _, result := outcomeOf(jsonLinesLast(t, out.String())); result != "no_changes" {
		t.Fatalf("no changes: outcome %s", result)
	}

	// Without --auto-approve nor a saved plan: refused, in JSON.
	out.Reset()
	if code := Run(env(&out), []string{"apply", site, "--json"}); code != ExitError {
		t.Fatalf("exit %d, want 1", code)
	}
	msgs, types = jsonLines(t, out.String())
	if strings.Join(types, " ") != "version diagnostic outcome" || !strings.Contains(msgs[1]["@message"].(string), "--auto-approve") {
		t.Fatalf("no approval: %v\n%s", types, out.String())
	}
}

func jsonLinesLast(t *testing.T, out string) map[string]any {
	msgs, _ := jsonLines(t, out)
	return msgs[len(msgs)-1]
}

// TestApplyJSONRollback: a gateway that refuses the k-th write of n (seeded
// random) makes apply roll back (exit 3); the stream shows the failed step,
// an undo for each completed one, the re-read, a diagnostic and the
// outcome "rolled_back" with exit code 3, and no key.
func TestApplyJSONRollback(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewSource(seed))
	t.Logf("seed %d", seed)
	re := regexp.MustCompile(`^gwsim: gateway 24E124FFFEF5A6A8 \(EU868\) on (tcp://127\.0\.0\.1:\d+),`)
	for i := 0; i < 3; i++ {
		n := 2 + rng.Intn(4)
		k := 1 + rng.Intn(n)
		par := 1 + rng.Intn(3)
		state := filepath.Join(t.TempDir(), "gw.json")
		url, _, cancel, _ := startSim(t, re, "--state", state, "--eui", "24E124FFFEF5A6A8", "--fail-write", fmt.Sprintf("%d:9", k))
		site := jsonSite(t, "connection:\n  broker: "+url+"\n  requestTopic: gw/{eui}/req\n  responseTopic: gw/{eui}/resp\n", n)
		var out, errb bytes.Buffer
		env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return map[string]string{"K": jsonKey}[k] }}
		code := Run(env, []string{"apply", site, "--auto-approve", "--json", "--parallelism", fmt.Sprint(par)})
		cancel()
		if code != ExitRolled {
			t.Fatalf("seed %d, %d devices, write %d refused (code 9): exit %d, want 3\n%s\n%s", seed, n, k, code, out.String(), errb.String())
		}
		if strings.Contains(out.String(), jsonKey) {
			t.Fatalf("seed %d: a key is in the JSON stream", seed)
		}
		msgs, types := jsonLines(t, out.String())
		applied := checkHooks(t, msgs, "apply")
		undone := checkHooks(t, msgs, "rollback")
		if len(applied["apply_errored"]) != 1 || len(undone["rollback_complete"]) != len(applied["apply_complete"]) || len(undone["rollback_errored"]) != 0 {
			t.Fatalf("seed %d: applied %v, undone %v\n%s", seed, applied, undone, out.String())
		}
		for _, m := range msgs {
			if m["type"] == "apply_stopped" && m["hook"].(map[string]any)["sent"] != "no" {
				t.Fatalf("seed %d: a step stopped before its write is not said to be unsent: %v", seed, m)
			}
		}
		if tail := strings.Join(types[len(types)-3:], " "); tail != "verify_start diagnostic outcome" && !strings.HasSuffix(tail, "_stopped diagnostic outcome") {
			t.Fatalf("seed %d: types end %s\n%s", seed, tail, out.String())
		}
		if last := lastOf(msgs, "verify_start"); last["phase"] != "rollback" {
			t.Fatalf("seed %d: last verify is not the rollback's", seed)
		}
		if c, result := outcomeOf(msgs[len(msgs)-1]); c != 3 || result != "rolled_back" || msgs[len(msgs)-1]["@level"] != "error" {
			t.Fatalf("seed %d: outcome %d %s", seed, c, result)
		}
		if d := msgs[len(msgs)-2]["diagnostic"].(map[string]any); !strings.Contains(d["detail"].(string), "Rolled back:") {
			t.Fatalf("seed %d: diagnostic %v", seed, d)
		}
	}
}

func lastOf(msgs []map[string]any, typ string) map[string]any {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i]["type"] == typ {
			return msgs[i]
		}
	}
	return nil
}
