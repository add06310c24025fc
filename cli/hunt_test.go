package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/gwsync/gwsync/gwsim"
)

// huntMark is in every password of TestPasswordHunt. It is searched for
// without regard to case: a lock file's name is lower case.
const huntMark = "h4nt"

// TestPasswordHunt runs the commands that connect to a broker, on their
// failure paths and some of their success paths, with recognizable
// passwords in the broker URL, GWSYNC_PASSWORD and the site's
// connection.password (${env:…}), and searches every output and every
// file name and file content left in the site folders, TMPDIR, HOME and
// the working folder for them.
func TestPasswordHunt(t *testing.T) {
	root := t.TempDir()
	tmp, home, work := filepath.Join(root, "tmp"), filepath.Join(root, "home"), filepath.Join(root, "work")
	for _, d := range []string{tmp, home, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("TMPDIR", tmp)
	t.Setenv("HOME", home)
	t.Chdir(work)

	const eui = "24E124FFFEF5B0A1"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g, err := gwsim.New(gwsim.Options{EUI: eui})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	const goodPW = "Pw-H4NT-right"
	srv, err := gwsim.ServeEmbedded(ctx, g, "127.0.0.1:0", DefaultRequestTopic, DefaultResponseTopic, gwsim.WithAuth("gw", goodPW))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	// A broker no client gets through to: the test's own listener, which
	// drops every connection at once. (A port closed after listening on
	// it could be taken meanwhile by another test run on this machine.)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	closed := ln.Addr().String()
	live := srv.Addr()

	inputs := map[string]bool{} // files the test writes, holding passwords on purpose
	var inputsMu sync.Mutex
	// inputsNow is a copy of inputs, for a hunt while scenarios still write.
	inputsNow := func() map[string]bool {
		inputsMu.Lock()
		defer inputsMu.Unlock()
		m := make(map[string]bool, len(inputs))
		for k, v := range inputs {
			m[k] = v
		}
		return m
	}
	write := func(path, content string) string {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		inputsMu.Lock()
		inputs[path] = true
		inputsMu.Unlock()
		return path
	}
	yamlString := func(s string) string { b, _ := json.Marshal(s); return string(b) }

	type scenario struct {
		name     string
		broker   string
		noEUI    bool   // the site names no gateway EUI: the lock is keyed by broker and topic
		topics   string // request and response topics, when not the default
		envPW    string // GWSYNC_PASSWORD
		dead     bool   // connecting fails: sim --broker returns
		fleet    bool   // also as a fleet of one site
		readable bool   // the gateway answers: plan --out, show, apply of the saved plan
	}
	scenarios := []scenario{
		{name: "raw percent", broker: "tcp://gw:Pw-H4NT-pct%zz@" + closed, dead: true, fleet: true},
		{name: "space", broker: "tcp://gw:Pw-H4NT-sp ace@" + closed, dead: true},
		{name: "control characters", broker: "tcp://gw:Pw-H4NT-ctl\x01\x1b[2J@" + closed, dead: true},
		{name: "slash", broker: "tcp://gw:Pw-H4NT-sl/ash@" + closed, dead: true},
		{name: "no scheme", broker: "gw:Pw-H4NT-nos@" + closed, dead: true},
		{name: "unreachable", broker: "tcp://gw:Pw-H4NT-unr@" + closed, envPW: "Pw-H4NT-env-unr", dead: true},
		{name: "auth refused, URL", broker: "tcp://gw:Pw-H4NT-wrong@" + live, dead: true},
		{name: "auth refused, env", broker: "tcp://gw@" + live, envPW: "Pw-H4NT-env-wrong", dead: true, fleet: true},
		{name: "auth refused, site", broker: "tcp://gw@" + live, dead: true},
		{name: "wrong topic, timeout", broker: "tcp://gw:" + goodPW + "@" + live, topics: "nobody/{eui}"},
		{name: "missing EUI", broker: "tcp://gw:" + goodPW + "@" + live, noEUI: true, topics: "nobody/here", fleet: true},
		{name: "reads, verbose", broker: "tcp://gw@" + live, envPW: goodPW, readable: true, fleet: true},
		{name: "reads, password in the URL", broker: "tcp://gw:" + goodPW + "@" + live, readable: true},
	}
	// An output is hunted in its body; its head names the run (and shows
	// the arguments, passwords and all, for the reader of a failure).
	type output struct{ head, body string }
	var outputs []output
	var mu sync.Mutex // outputs, appended to by the scenarios side by side
	add := func(o output) {
		mu.Lock()
		defer mu.Unlock()
		outputs = append(outputs, o)
	}
	runIn := func(what string, vars map[string]string, args ...string) int {
		t.Helper()
		code, stdout, stderr := runEnv(vars, args...)
		add(output{fmt.Sprintf("%s: gwsync %q: exit %d", what, args, code), stdout + stderr})
		return code
	}
	siteBody := func(sc scenario, broker string) string {
		var b strings.Builder
		b.WriteString("version: 1\n")
		if !sc.noEUI {
			b.WriteString("gateway: {eui: \"" + eui + "\"}\n")
		}
		b.WriteString("connection:\n  broker: " + yamlString(broker) + "\n  username: gw\n  password: ${env:HUNT_SITE_PW}\n")
		if sc.topics != "" {
			b.WriteString("  requestTopic: " + sc.topics + "/req\n  responseTopic: " + sc.topics + "/resp\n")
		}
		b.WriteString("devices:\n  - devEUI: \"24E1241234567890\"\n    name: lamp\n    application: cloud\n    appKey: ${env:HUNT_KEY}\n")
		return b.String()
	}
	// The scenarios run side by side (each in its own folder): most of
	// the hunt's time is commands waiting out --timeout.
	var wg sync.WaitGroup
	for i, sc := range scenarios {
		wg.Go(func() {
			dir := filepath.Join(work, fmt.Sprintf("s%02d", i))
			sitePath := write(filepath.Join(dir, "site.yaml"), siteBody(sc, sc.broker))
			vars := map[string]string{"HUNT_SITE_PW": "Pw-H4NT-site", "HUNT_KEY": "000102030405060708090a0b0c0d0e0f"}
			if sc.envPW != "" {
				vars["GWSYNC_PASSWORD"] = sc.envPW
			}
			if sc.name == "auth refused, site" {
				vars["HUNT_SITE_PW"] = "Pw-H4NT-site-wrong"
			}
			// Runs that wait out --timeout keep it short; the runs of a
			// readable gateway must succeed, so a loaded machine gets time.
			to := []string{"--timeout", "700ms"}
			if sc.readable {
				to = []string{"--timeout", "30s"}
			}
			with := func(args ...string) []string { return append(args, to...) }
			// The scenario's steps, in order. A step that uses the site
			// folder's journal (apply, rollback: one run at a time holds it)
			// says so: such steps never run side by side.
			type step struct {
				journal bool
				do      func()
			}
			var steps []step
			run := func(what string, vars map[string]string, args ...string) {
				journal := args[0] == "rollback" || args[0] == "apply" && args[1] == sitePath
				steps = append(steps, step{journal, func() { runIn(what, vars, args...) }})
			}
			for _, args := range [][]string{
				{"validate", sitePath},
				with("plan", sitePath),
				with("plan", sitePath, "-v", "--format", "markdown"),
				with("apply", sitePath, "--auto-approve"),
				with("apply", sitePath, "--auto-approve", "-v"),
				with("rollback", dir),
				with("export", sitePath, "--out", filepath.Join(dir, "export", "site.yaml")),
				with("snapshot", sitePath, "--out", filepath.Join(dir, "snapshot.json")),
				with("status", sitePath),
				with("status", sitePath, "--format", "json", "-v"),
				with("fuota", "retry", "fw", "--site", sitePath),
				with("firmware", "list", "--site", sitePath),
			} {
				run(sc.name, vars, args...)
			}
			// The broker from the flag and from GWSYNC_BROKER.
			flagVars := map[string]string{"GWSYNC_PASSWORD": sc.envPW}
			run(sc.name, flagVars, with("snapshot", "--broker", sc.broker, "--gateway-eui", eui, "--out", "-", "-v")...)
			run(sc.name, flagVars, with("export", "--broker", sc.broker, "--gateway-eui", eui, "--out", filepath.Join(dir, "flag-export.yaml"))...)
			envVars := map[string]string{"GWSYNC_BROKER": sc.broker, "GWSYNC_PASSWORD": sc.envPW, "GWSYNC_GATEWAY_EUI": eui}
			run(sc.name, envVars, with("status", "--gateway-eui", eui)...)
			run(sc.name, envVars, with("firmware", "list", "--gateway-eui", eui)...)
			if sc.dead {
				run(sc.name, flagVars, "sim", "--broker", sc.broker, "--state", filepath.Join(dir, "sim.json"))
			}
			if sc.readable {
				planFile := filepath.Join(dir, "plan.json")
				// The success paths run for real: a plan is saved, shown
				// and applied (its apply uses the site folder's journal).
				steps = append(steps, step{true, func() {
					if code := runIn(sc.name, vars, with("plan", sitePath, "--out", planFile, "-v")...); code != ExitOK {
						t.Errorf("%s: plan --out: exit %d, want 0", sc.name, code)
					}
					if code := runIn(sc.name, vars, "show", planFile); code != ExitOK {
						t.Errorf("%s: show: exit %d, want 0", sc.name, code)
					}
					runIn(sc.name, vars, with("apply", planFile, "--auto-approve", "-v")...)
				}})
			}
			if sc.noEUI {
				// No EUI: the gateway is found by broker and topic alone; what an
				// apply leaves in TMPDIR (no lock file: the lock is on the
				// gateway) is hunted too.
				steps = append(steps, step{true, func() {
					runIn(sc.name+", apply", vars, with("apply", sitePath, "--auto-approve")...)
					add(output{sc.name + ": files in TMPDIR after an apply", huntFiles(t, tmp, inputsNow())})
				}})
			}
			if sc.fleet {
				fdir := filepath.Join(dir, "fleet")
				write(filepath.Join(fdir, "fleet.yml"), "version: 1\nsites: [sites]\n")
				write(filepath.Join(fdir, "sites", "one", "site.yaml"), siteBody(sc, sc.broker))
				run(sc.name+", fleet", vars, "validate", fdir)
				run(sc.name+", fleet", vars, with("plan", fdir, "-v")...)
				run(sc.name+", fleet", vars, with("plan", fdir, "--format", "markdown")...)
				run(sc.name+", fleet", vars, with("apply", fdir, "--auto-approve")...)
			}
			// A gateway that is reached but never answers (wrong topic,
			// missing EUI) has every run wait out --timeout: the steps of
			// those scenarios run side by side, but for the ones that use
			// the journal, which run in order in one goroutine. The other
			// scenarios' runs end at once, or read and write a gateway:
			// their steps run in order.
			if sc.dead || sc.readable {
				for _, s := range steps {
					s.do()
				}
				return
			}
			var sw sync.WaitGroup
			var journal []func()
			for _, s := range steps {
				if s.journal {
					journal = append(journal, s.do)
				} else {
					sw.Go(s.do)
				}
			}
			sw.Go(func() {
				for _, do := range journal {
					do()
				}
			})
			sw.Wait()
		})
	}
	wg.Wait()
	outputs = append(outputs, output{"files left", huntFiles(t, root, inputs)})
	leaks := 0
	for _, o := range outputs {
		if strings.Contains(strings.ToLower(o.body), huntMark) {
			leaks++
			t.Errorf("a password is shown: %s\n%s", o.head, o.body)
		}
	}
	t.Logf("%d runs and file walks, %d showing a password", len(outputs), leaks)
}

// huntFiles lists every file and folder under root with the files' content,
// except inputs (the files that hold passwords on purpose), for the hunt.
func huntFiles(t *testing.T, root string, inputs map[string]bool) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // removed meanwhile
		}
		fmt.Fprintf(&b, "file %s\n", path)
		if d.Type().IsRegular() && !inputs[path] {
			data, err := os.ReadFile(path)
			if err == nil && strings.Contains(strings.ToLower(string(data)), huntMark) {
				fmt.Fprintf(&b, "  content of %s:\n%s\n", path, data)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestSimOnBrokerNamesItWithoutThePassword: gwsync sim --broker prints the
// broker it serves on; with the password in the URL, without it.
func TestSimOnBrokerNamesItWithoutThePassword(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	host, err := gwsim.New(gwsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	srv, err := gwsim.ServeEmbedded(ctx, host, "127.0.0.1:0", "unused/req", "unused/resp", gwsim.WithAuth("gw", "Pw-H4NT-sim"))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	url, out, _, _ := startSim(t, regexp.MustCompile(`gwsim: gateway \S+ \(\S+\) on (\S+),`),
		"--broker", "tcp://gw:Pw-H4NT-sim@"+srv.Addr(), "--state", filepath.Join(t.TempDir(), "sim.json"))
	if strings.Contains(strings.ToLower(out.String()), huntMark) || url != "tcp://gw:xxxxx@"+srv.Addr() {
		t.Errorf("sim names the broker %q, output:\n%s", url, out.String())
	}
}
