package main

// The pipeline as an adversary meets it, from outside: the built gwsync
// binary, run from checkouts on "machines" of their own (their own
// TMPDIR, HOME and user), against a simulated gateway on a real MQTT
// broker. What the gateway holds is read from the simulator's raw state
// file, and what it should hold from the site YAML, with code that shares
// nothing with gwsync's site loader, planner or client.

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v4"

	"github.com/gwsync/gwsync/gwsim"
)

var adversarySeed = flag.Int64("adversary.seed", 0, "seed of TestPipelineAdversary (0: from the clock)")

// advSeed is the subtest's seed; on failure it prints the replay command.
func advSeed(t *testing.T) int64 {
	t.Helper()
	seed := *adversarySeed
	if seed == 0 {
		seed = time.Now().UnixNano() % 1_000_000_007
	}
	name := t.Name()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed %d; replay: go test -run '%s' -adversary.seed=%d", seed, regexp.QuoteMeta(name), seed)
		}
	})
	return seed
}

// advGW is a simulated gateway with a state file, served on a broker:
// gwsim's embedded one on 127.0.0.1, or GWSYNC_TEST_BROKER when set.
type advGW struct {
	g         *gwsim.Gateway
	eui       string
	statePath string
	broker    string
	reqTopic  string
	respTopic string

	mu     sync.Mutex
	writes []string // "METHOD URL" of each performed write, gwsync's own records left out
	all    int      // performed writes, gwsync's own records too
	// A kill armed by startKilled: after the write killAtN (of all writes when
	// killOwn, else of writes), SIGKILL to proc; killDue when it came
	// before proc was known.
	killAtN int
	killOwn bool
	killDue bool
	proc    *os.Process
}

var advEUIs atomic.Int64

// newAdvGW starts a gateway with a fresh EUI (topics of its own on a
// shared broker) unless opts names one, quirks from opts.
func newAdvGW(t *testing.T, opts gwsim.Options) *advGW {
	t.Helper()
	a := &advGW{eui: opts.EUI, statePath: opts.StatePath}
	if a.eui == "" {
		a.eui = fmt.Sprintf("24E124FFFE%06X", 0xA00000+advEUIs.Add(1)+int64(os.Getpid()%4096)*16)
	}
	if a.statePath == "" {
		a.statePath = filepath.Join(t.TempDir(), "gw.json")
	}
	opts.EUI, opts.StatePath = a.eui, a.statePath
	opts.Logf = a.logf
	g, err := gwsim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	a.g = g
	t.Cleanup(func() { g.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	// Topics of its own even when it shares its EUI with another gateway
	// of the test (a probe, a factory-state twin): on a shared broker two
	// simulators on one topic would both answer.
	inst := advEUIs.Add(1)
	a.reqTopic = fmt.Sprintf("milesight-gateway/%s/%d/request", a.eui, inst)
	a.respTopic = fmt.Sprintf("milesight-gateway/%s/%d/response", a.eui, inst)
	var srv *gwsim.Server
	if b := os.Getenv("GWSYNC_TEST_BROKER"); b != "" {
		srv, err = gwsim.ServeOnBroker(ctx, g, b, a.reqTopic, a.respTopic, "", "")
		a.broker = b
	} else {
		srv, err = gwsim.ServeEmbedded(ctx, g, "127.0.0.1:0", a.reqTopic, a.respTopic)
		if err == nil {
			a.broker = srv.URL()
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return a
}

var reWriteLog = regexp.MustCompile(`^gwsim: (POST|PUT|DELETE) (\S+): ok( \(a gwsync record\))?$`)

func (a *advGW) logf(format string, args ...any) {
	m := reWriteLog.FindStringSubmatch(fmt.Sprintf(format, args...))
	if m == nil {
		return
	}
	a.mu.Lock()
	if m[3] == "" {
		a.writes = append(a.writes, m[1]+" "+m[2])
	}
	a.all++
	n := len(a.writes)
	if a.killOwn {
		n = a.all
	}
	var kill *os.Process
	if a.killAtN > 0 && n == a.killAtN {
		a.killAtN = 0
		if kill = a.proc; kill == nil {
			a.killDue = true
		}
	}
	a.mu.Unlock()
	if kill != nil {
		kill.Signal(syscall.SIGKILL)
	}
}

// writeCount is the number of writes performed so far.
func (a *advGW) writeCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.writes)
}

// startKilled starts cmd and has the simulator SIGKILL it right after it
// performs its k-th write from now (own: gwsync's own records counted
// too), before the answer leaves.
func (a *advGW) startKilled(t *testing.T, cmd *exec.Cmd, k int, own bool) {
	t.Helper()
	a.mu.Lock()
	a.killOwn, a.killDue, a.proc = own, false, nil
	a.killAtN = len(a.writes) + k
	if own {
		a.killAtN = a.all + k
	}
	a.mu.Unlock()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	a.proc = cmd.Process
	due := a.killDue
	a.mu.Unlock()
	if due {
		cmd.Process.Signal(syscall.SIGKILL)
	}
}

// allCount is the number of writes performed so far, gwsync's own too.
func (a *advGW) allCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.all
}

// noKill disarms the kill of startKilled.
func (a *advGW) noKill() {
	a.mu.Lock()
	a.killAtN, a.killDue, a.proc = 0, false, nil
	a.mu.Unlock()
}

// raw reads the simulator's state file (its log replayed) as plain JSON.
func (a *advGW) raw(t *testing.T) map[string]any {
	t.Helper()
	b, err := gwsim.ReadStateFile(a.statePath)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("state file %s: %v", a.statePath, err)
	}
	return m
}

// rawNorm is the raw state without gwsync's own records and without
// what a rollback cannot put back as it was (modification times, the
// next free ids).
func (a *advGW) rawNorm(t *testing.T) map[string]any {
	m := a.raw(t)
	delete(m, "nextCodecID")
	delete(m, "nextTaskID")
	var codecs []any
	for _, c := range m["codecs"].([]any) {
		if n := c.(map[string]any)["name"]; n == "gwsync-lock" || n == "gwsync-state" {
			continue
		}
		codecs = append(codecs, c)
	}
	m["codecs"] = codecs
	for _, g := range asList(m["multicastGroups"]) {
		delete(g, "createdAt")
		delete(g, "updatedAt")
	}
	return m
}

// locked says whether the raw state holds gwsync's lock record.
func (a *advGW) locked(t *testing.T) bool {
	for _, c := range asList(a.raw(t)["codecs"]) {
		if c["name"] == "gwsync-lock" {
			return true
		}
	}
	return false
}

func asList(v any) []map[string]any {
	l, _ := v.([]any)
	out := make([]map[string]any, 0, len(l))
	for _, x := range l {
		if m, ok := x.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// advSite is the site text for gateway eui: n devices described by
// marker, a codec (codecJSON when not empty), a group of the even ones.
func advSite(eui string, n int, marker, codecJSON string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\ngateway:\n  eui: '%s'\nprofiles:\n  - name: street-c\n    supportsJoin: true\n    supportsClassC: true\n", eui)
	b.WriteString("codecs:\n  - name: em300-decoder\n    decoderScript: \"function Decode(fPort, bytes) { return {t: bytes[0]}; }\"\n")
	if codecJSON != "" {
		fmt.Fprintf(&b, "    codecJson: '%s'\n", codecJSON)
	}
	b.WriteString("devices:\n")
	var members []string
	for i := 0; i < n; i++ {
		e := fmt.Sprintf("24E124136B%06X", i)
		fmt.Fprintf(&b, "  - devEUI: '%s'\n    name: lamp-%03d\n    description: %s\n    application: cloud\n    profile: street-c\n    codec: em300-decoder\n    appKey: ${env:K1}\n", e, i, marker)
		if i%2 == 0 {
			members = append(members, "'"+e+"'")
		}
	}
	fmt.Fprintf(&b, "multicastGroups:\n  - name: street-lights\n    mcAddr: '01AB23CD'\n    mcNwkSKey: ${env:K3}\n    mcAppSKey: ${env:K4}\n    groupType: CLASS_C\n    devices: [%s]\n", strings.Join(members, ", "))
	return b.String()
}

// advMachine is a checkout of a site on a machine of its own.
func advMachine(t *testing.T, gw *advGW, user, site string) *subEnv {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "site.yaml"), []byte(site), 0o644); err != nil {
		t.Fatal(err)
	}
	s := newSubEnv(t, dir, gw.broker)
	s.env = append(s.env, "TMPDIR="+t.TempDir(), "HOME="+t.TempDir(), "USER="+user, "GWSYNC_REQUEST_TOPIC="+gw.reqTopic, "GWSYNC_RESPONSE_TOPIC="+gw.respTopic)
	return s
}

func (s *subEnv) writeSite(t *testing.T, site string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(s.dir, "site.yaml"), []byte(site), 0o644); err != nil {
		t.Fatal(err)
	}
}

// runCode runs gwsync and returns its exit code and output.
func (s *subEnv) runCode(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	cmd := s.cmd(args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String()
	} else if err != nil {
		t.Fatalf("gwsync %v: %v", args, err)
	}
	return 0, out.String()
}

// siteWant is what a site says the gateway holds, read from its YAML
// alone.
type siteWant struct {
	Devices map[string]devWant // by EUI
	Codecs  map[string]map[string]string
	Members []string
}

type devWant struct{ Name, Description, AppKey, Profile, Codec string }

func readSiteWant(t *testing.T, text string) siteWant {
	t.Helper()
	var y struct {
		Codecs []map[string]string `yaml:"codecs"`
		Devs   []map[string]string `yaml:"devices"`
		Groups []struct {
			Devices []string `yaml:"devices"`
		} `yaml:"multicastGroups"`
	}
	if err := yaml.Unmarshal([]byte(text), &y); err != nil {
		t.Fatal(err)
	}
	env := regexp.MustCompile(`^\$\{env:(\w+)\}$`)
	w := siteWant{Devices: map[string]devWant{}, Codecs: map[string]map[string]string{}}
	for _, d := range y.Devs {
		key := d["appKey"]
		if m := env.FindStringSubmatch(key); m != nil {
			key = testKeys[m[1]]
		}
		w.Devices[strings.ToUpper(d["devEUI"])] = devWant{d["name"], d["description"], strings.ToLower(key), d["profile"], d["codec"]}
	}
	for _, c := range y.Codecs {
		w.Codecs[c["name"]] = c
	}
	for _, g := range y.Groups {
		for _, e := range g.Devices {
			w.Members = append(w.Members, strings.ToUpper(e))
		}
	}
	sort.Strings(w.Members)
	return w
}

// holds returns "" when the raw state m holds exactly the site's devices,
// codecs and group membership, else what differs.
func holds(m map[string]any, w siteWant) string {
	profName := map[string]string{}
	for _, p := range asList(m["profiles"]) {
		profName[fmt.Sprint(p["id"])] = fmt.Sprint(p["name"])
	}
	codecName := map[string]string{}
	var diffs []string
	for _, c := range asList(m["codecs"]) {
		codecName[fmt.Sprint(c["id"])] = fmt.Sprint(c["name"])
		if want, ok := w.Codecs[fmt.Sprint(c["name"])]; ok {
			if c["decoderScript"] != want["decoderScript"] {
				diffs = append(diffs, fmt.Sprintf("codec %v: decoderScript %q, want %q", c["name"], c["decoderScript"], want["decoderScript"]))
			}
			if cj, ok := want["codecJson"]; ok && c["codecJson"] != cj {
				diffs = append(diffs, fmt.Sprintf("codec %v: codecJson %q, want %q", c["name"], c["codecJson"], cj))
			}
		}
	}
	got := map[string]devWant{}
	for _, d := range asList(m["devices"]) {
		got[strings.ToUpper(fmt.Sprint(d["devEUI"]))] = devWant{fmt.Sprint(d["name"]), fmt.Sprint(d["description"]),
			strings.ToLower(fmt.Sprint(d["appKey"])), profName[fmt.Sprint(d["profileID"])], codecName[fmt.Sprint(d["payloadCodecID"])]}
	}
	if d := cmp.Diff(w.Devices, got); d != "" {
		diffs = append(diffs, "devices (-site +gateway):\n"+d)
	}
	var members []string
	for _, g := range asList(m["multicastGroups"]) {
		if g["name"] == "street-lights" {
			for _, e := range g["devices"].([]any) {
				members = append(members, strings.ToUpper(fmt.Sprint(e)))
			}
		}
	}
	sort.Strings(members)
	if d := cmp.Diff(w.Members, members); d != "" {
		diffs = append(diffs, "group members (-site +gateway):\n"+d)
	}
	return strings.Join(diffs, "\n")
}

// rawRequests records, with a client of its own on the broker, every
// write request sent to the gateway, in the order the broker passed them.
type rawRequests struct {
	mu  sync.Mutex
	seq []rawReq
}

type rawReq struct{ Method, URL, Body string }

func watchRequests(t *testing.T, gw *advGW) *rawRequests {
	t.Helper()
	r := &rawRequests{}
	cl := rawClient(t, gw)
	tok := cl.Subscribe(gw.reqTopic, 1, func(_ mqtt.Client, m mqtt.Message) {
		var env struct {
			Method, URL string
			Body        json.RawMessage
		}
		if json.Unmarshal(m.Payload(), &env) != nil {
			return
		}
		switch strings.ToUpper(env.Method) {
		case "POST", "PUT", "DELETE":
			r.mu.Lock()
			r.seq = append(r.seq, rawReq{strings.ToUpper(env.Method), env.URL, string(env.Body)})
			r.mu.Unlock()
		}
	})
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", gw.reqTopic, tok.Error())
	}
	return r
}

func rawClient(t *testing.T, gw *advGW) mqtt.Client {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker(gw.broker).SetClientID(fmt.Sprintf("adversary-%d", rand.Int63())).SetAutoReconnect(false)
	cl := mqtt.NewClient(o)
	if tok := cl.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("raw MQTT client: %v", tok.Error())
	}
	t.Cleanup(func() { cl.Disconnect(100) })
	return cl
}

// TestPipelineAdversary runs gwsync end to end as those who feed it would
// break it: other machines, kills, planted journals, pull requests,
// gateways.
func TestPipelineAdversary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs it against simulated gateways")
	}
	gwsyncBinary(t)
	t.Run("concurrent_apply", advConcurrentApply)
	t.Run("killed_apply", advKilledApply)
	t.Run("killed_anywhere", advKilledAnywhere)
	t.Run("killed_first_apply", advKilledFirstApply)
	t.Run("killed_rollback", advKilledRollback)
	t.Run("two_rollbacks", advTwoRollbacks)
	t.Run("rollback_of_a_live_apply", advRollbackLiveApply)
	t.Run("rollback_from_a_copy_of_a_live_apply", advRollbackCopyOfLiveApply)
	t.Run("planted_journal", advPlantedJournal)
	t.Run("codec_json", advCodecJSON)
	t.Run("hostile_gateway", advHostileGateway)
	t.Run("quirky_gateway", advQuirkyGateway)
	t.Run("saved_plan", advSavedPlan)
	t.Run("damaged_journal", advDamagedJournal)
	t.Run("planted_links", advPlantedLinks)
	t.Run("site_reaches_out", advSiteReachesOut)
	t.Run("hostile_names", advHostileNames)
}

// advConcurrentApply: two fresh clones apply different sites at once.
// At the simulator, the writes of one never interleave with the other's;
// one that exits 1 wrote nothing; the gateway ends holding exactly the site
// of the last writer.
func advConcurrentApply(t *testing.T) {
	seed := advSeed(t)
	rng := rand.New(rand.NewSource(seed))
	const n = 12
	for round := 0; round < 4; round++ {
		gw := newAdvGW(t, gwsim.Options{})
		base := advMachine(t, gw, "base", advSite(gw.eui, n, "base", ""))
		base.run(t, 0, "apply", "site.yaml", "--auto-approve")
		gw.g.Faults().SetDelay(time.Duration(5+rng.Intn(15))*time.Millisecond, 0)
		reqs := watchRequests(t, gw)
		sites := [2]string{advSite(gw.eui, n, "site-a", ""), advSite(gw.eui, n, "site-b", "")}
		wait := round%2 == 1 // odd rounds: both wait for the lock
		var codes [2]int
		var outs [2]string
		var wg sync.WaitGroup
		for i := range sites {
			m := advMachine(t, gw, fmt.Sprintf("user-%c", 'a'+i), sites[i])
			delay := time.Duration(rng.Intn(400)) * time.Millisecond
			args := []string{"apply", "site.yaml", "--auto-approve", "--parallelism", fmt.Sprint(1 + rng.Intn(3))}
			if wait {
				args = append(args, "--lock-timeout", "60s")
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				time.Sleep(delay)
				codes[i], outs[i] = m.runCode(t, args...)
			}()
		}
		wg.Wait()
		time.Sleep(100 * time.Millisecond) // the watcher's last messages
		gw.g.Faults().SetDelay(0, 0)

		// Who wrote what, in the broker's order, from the request bodies.
		reqs.mu.Lock()
		var order []int
		for _, r := range reqs.seq {
			if !strings.Contains(r.URL, "device") {
				continue
			}
			switch {
			case strings.Contains(r.Body, "site-a"):
				order = append(order, 0)
			case strings.Contains(r.Body, "site-b"):
				order = append(order, 1)
			default:
				reqs.mu.Unlock()
				t.Fatalf("round %d: a device write of neither site: %s %s %s", round, r.Method, r.URL, r.Body)
			}
		}
		reqs.mu.Unlock()
		var count [2]int
		for i, o := range order {
			count[o]++
			if i > 0 && o != order[i-1] && count[o] > 1 {
				t.Fatalf("round %d: the writes of the two machines interleave (0=a, 1=b): %v\n--- a (exit %d):\n%s\n--- b (exit %d):\n%s", round, order, codes[0], outs[0], codes[1], outs[1])
			}
		}
		for i := range codes {
			switch codes[i] {
			case 0:
			case 1:
				if wait {
					t.Errorf("round %d: machine %c waited for the lock and still exited 1:\n%s", round, 'a'+i, outs[i])
				}
				if count[i] != 0 || !strings.Contains(outs[i], "gateway locked") || !strings.Contains(outs[i], "nothing was written") {
					t.Errorf("round %d: machine %c refused (%d device writes seen), want a refusal naming the lock and no write:\n%s", round, 'a'+i, count[i], outs[i])
				}
			default:
				t.Errorf("round %d: machine %c: exit %d:\n%s", round, 'a'+i, codes[i], outs[i])
			}
		}
		if len(order) == 0 {
			t.Fatalf("round %d: no device write at all:\n%s\n%s", round, outs[0], outs[1])
		}
		last := order[len(order)-1]
		t.Logf("round %d (wait %v): exits a=%d b=%d, device writes a=%d b=%d, last writer %c", round, wait, codes[0], codes[1], count[0], count[1], 'a'+last)
		if codes[last] != 0 {
			t.Errorf("round %d: machine %c wrote last and exited %d", round, 'a'+last, codes[last])
		}
		if d := holds(gw.raw(t), readSiteWant(t, sites[last])); d != "" {
			t.Errorf("round %d: the gateway does not hold the site of the last writer %c:\n%s", round, 'a'+last, d)
		}
		if gw.locked(t) {
			t.Errorf("round %d: the lock is left on the gateway", round)
		}
	}
}

// killApply starts an apply in s and has the simulator kill it right after
// its k-th write; it returns the output.
func killApply(t *testing.T, gw *advGW, s *subEnv, k int, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	cmd := s.cmd(args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	gw.startKilled(t, cmd, k, false)
	defer gw.noKill()
	code := waitExit(t, cmd)
	if code != -1 || !cmd.ProcessState.Sys().(syscall.WaitStatus).Signaled() {
		t.Fatalf("%v: exit %d: it ended before its write %d:\n%s", args, code, k, out.String())
	}
	return out.String()
}

// advKilledApply: an apply killed at a random write is seen from a fresh
// clone (plan says so, apply refuses and writes nothing); gwsync rollback
// in the killed checkout restores the raw state; the fresh clone's apply
// then converges.
func advKilledApply(t *testing.T) {
	seed := advSeed(t)
	rng := rand.New(rand.NewSource(seed))
	const n = 10
	for round := 0; round < 3; round++ {
		gw := newAdvGW(t, gwsim.Options{})
		first := advSite(gw.eui, n, "first", "")
		second := advSite(gw.eui, n+6, "second", "")
		a := advMachine(t, gw, "killed", first)
		a.run(t, 0, "apply", "site.yaml", "--auto-approve")
		before := gw.rawNorm(t)
		a.writeSite(t, second)
		k := 1 + rng.Intn(n+6)
		killApply(t, gw, a, k, "apply", "site.yaml", "--auto-approve", "--parallelism", fmt.Sprint(1+rng.Intn(3)))
		if !applierHasJournal(a.dir) {
			t.Fatalf("round %d, kill at write %d: no journal", round, k)
		}

		fresh := advMachine(t, gw, "fresh", second)
		out := fresh.run(t, 0, "plan", "site.yaml")
		if !strings.Contains(out, "an apply to this gateway was interrupted") {
			t.Errorf("round %d, kill at write %d: plan from a fresh clone does not say an apply was interrupted:\n%s", round, k, out)
		}
		// Its one write request is the create of the lock, refused.
		w, mid := gw.writeCount(), gw.raw(t)
		out = fresh.run(t, 1, "apply", "site.yaml", "--auto-approve")
		if d := gw.writeCount() - w; d != 0 || !strings.Contains(out, "gateway locked") {
			t.Errorf("round %d, kill at write %d: apply from a fresh clone: %d writes, want a refusal and none:\n%s", round, k, d, out)
		}
		if d := cmp.Diff(mid, gw.raw(t)); d != "" {
			t.Errorf("round %d: a refused apply changed the gateway:\n%s", round, d)
		}

		out = a.run(t, 0, "rollback", "site.yaml")
		if d := cmp.Diff(before, gw.rawNorm(t)); d != "" {
			t.Fatalf("round %d, kill at write %d: raw state after rollback differs from before the apply (-before +after):\n%s\n%s", round, k, d, out)
		}
		if gw.locked(t) {
			t.Errorf("round %d: the lock is left after the rollback", round)
		}
		fresh.run(t, 0, "apply", "site.yaml", "--auto-approve")
		if d := holds(gw.raw(t), readSiteWant(t, second)); d != "" {
			t.Errorf("round %d: the gateway after the fresh clone's apply:\n%s", round, d)
		}
		if code, out := fresh.runCode(t, "plan", "site.yaml", "--detailed-exitcode"); code != 0 {
			t.Errorf("round %d: plan after the apply: exit %d, want 0:\n%s", round, code, out)
		}
	}
}

// advKilledAnywhere: an apply that changes codecJson, killed at any of
// its writes, its lock and its record of write-only digests included; the
// way forward its refusals show (rollback with the journal, or unlock)
// ends with fresh clones that plan nothing for the site the gateway holds.
func advKilledAnywhere(t *testing.T) {
	seed := advSeed(t)
	rng := rand.New(rand.NewSource(seed))
	const n = 6
	// A run that is not killed counts its writes.
	probe := newAdvGW(t, gwsim.Options{})
	first, second := advSite(probe.eui, n, "first", `{"v":1}`), advSite(probe.eui, n+3, "second", `{"v":2}`)
	p := advMachine(t, probe, "probe", first)
	p.run(t, 0, "apply", "site.yaml", "--auto-approve")
	w := probe.allCount()
	p.writeSite(t, second)
	p.run(t, 0, "apply", "site.yaml", "--auto-approve", "--parallelism", "1")
	total := probe.allCount() - w
	ks := []int{1, 2, total - 1, total}
	for len(ks) < 7 {
		ks = append(ks, 1+rng.Intn(total))
	}
	for _, k := range ks {
		gw := newAdvGW(t, gwsim.Options{EUI: probe.eui})
		a := advMachine(t, gw, "killed", first)
		a.run(t, 0, "apply", "site.yaml", "--auto-approve")
		before := gw.rawNorm(t)
		a.writeSite(t, second)
		var out bytes.Buffer
		cmd := a.cmd("apply", "site.yaml", "--auto-approve", "--parallelism", "1")
		cmd.Stdout, cmd.Stderr = &out, &out
		gw.startKilled(t, cmd, k, true)
		code := waitExit(t, cmd)
		gw.noKill()
		if code != -1 {
			t.Fatalf("kill at write %d of %d: the apply ended first, exit %d:\n%s", k, total, code, out.String())
		}
		fresh1, fresh2 := advMachine(t, gw, "fresh1", first), advMachine(t, gw, "fresh2", second)
		done := !gw.locked(t) // killed after its lock's release: the apply had ended
		if done && (k != total || applierHasJournal(a.dir)) {
			t.Errorf("kill at write %d of %d: no lock on the gateway (journal kept: %v)", k, total, applierHasJournal(a.dir))
		}
		if c, out := fresh2.runCode(t, "apply", "site.yaml", "--auto-approve"); !done && (c != 1 || !strings.Contains(out, "gateway locked")) {
			t.Errorf("kill at write %d of %d: apply from a fresh clone: exit %d, want 1 and the lock named:\n%s", k, total, c, out)
		}
		switch {
		case done:
		case applierHasJournal(a.dir):
			if c, out := a.runCode(t, "rollback", "site.yaml"); c != 0 {
				t.Fatalf("kill at write %d of %d: rollback: exit %d:\n%s", k, total, c, out)
			}
			if d := cmp.Diff(before, gw.rawNorm(t)); d != "" {
				t.Errorf("kill at write %d of %d: raw state after the rollback differs from before (-before +after):\n%s", k, total, d)
			}
			// The gateway holds the first site again, codecJson too: a
			// fresh clone of it plans nothing.
			if c, out := fresh1.runCode(t, "plan", "site.yaml", "--detailed-exitcode"); c != 0 {
				t.Errorf("kill at write %d of %d: after the rollback, the first site from a fresh clone: exit %d, want 0:\n%s", k, total, c, out)
			}
		default:
			t.Logf("kill at write %d of %d: no journal; the lock is broken", k, total)
			if c, out := fresh2.runCode(t, "unlock", "site.yaml", "--force"); c != 0 {
				t.Fatalf("kill at write %d of %d: unlock --force: exit %d:\n%s", k, total, c, out)
			}
		}
		if c, out := fresh2.runCode(t, "apply", "site.yaml", "--auto-approve"); c != 0 {
			t.Fatalf("kill at write %d of %d: apply from a fresh clone: exit %d:\n%s", k, total, c, out)
		}
		if d := holds(gw.raw(t), readSiteWant(t, second)); d != "" {
			t.Errorf("kill at write %d of %d: after the fresh clone's apply:\n%s", k, total, d)
		}
		for _, m := range []*subEnv{fresh2, advMachine(t, gw, "fresh3", second)} {
			if c, out := m.runCode(t, "plan", "site.yaml", "--detailed-exitcode"); c != 0 {
				t.Errorf("kill at write %d of %d: plan of the site applied: exit %d, want 0:\n%s", k, total, c, out)
			}
		}
		if c, out := fresh1.runCode(t, "plan", "site.yaml", "--detailed-exitcode"); c != 2 || !strings.Contains(out, "em300-decoder") {
			t.Errorf("kill at write %d of %d: plan of the first site: exit %d, want 2 and the codec's change:\n%s", k, total, c, out)
		}
	}
}

// advKilledFirstApply: the first apply ever to a gateway, killed after it
// wrote its record of write-only values (its last write but the lock's
// release): the rollback leaves no record behind, and a fresh clone of the
// site plans the codecJson again.
func advKilledFirstApply(t *testing.T) {
	probe := newAdvGW(t, gwsim.Options{})
	site := advSite(probe.eui, 4, "first", `{"v":1}`)
	advMachine(t, probe, "probe", site).run(t, 0, "apply", "site.yaml", "--auto-approve", "--parallelism", "1")
	total := probe.allCount()
	// The factory state, as a gateway closed without a write leaves it.
	factory := newAdvGW(t, gwsim.Options{EUI: probe.eui})
	if err := factory.g.Close(); err != nil {
		t.Fatal(err)
	}
	before := factory.rawNorm(t)
	gw := newAdvGW(t, gwsim.Options{EUI: probe.eui})
	a := advMachine(t, gw, "a", site)
	var out bytes.Buffer
	cmd := a.cmd("apply", "site.yaml", "--auto-approve", "--parallelism", "1")
	cmd.Stdout, cmd.Stderr = &out, &out
	gw.startKilled(t, cmd, total-1, true)
	code := waitExit(t, cmd)
	gw.noKill()
	hasRecord := func() bool {
		for _, c := range asList(gw.raw(t)["codecs"]) {
			if c["name"] == "gwsync-state" {
				return true
			}
		}
		return false
	}
	if code != -1 || !hasRecord() || !applierHasJournal(a.dir) {
		t.Fatalf("kill at write %d of %d: exit %d, record %v, journal %v: not killed between the record and the lock's release:\n%s", total-1, total, code, hasRecord(), applierHasJournal(a.dir), out.String())
	}
	a.run(t, 0, "rollback", "site.yaml")
	if d := cmp.Diff(before, gw.rawNorm(t)); d != "" {
		t.Errorf("after the rollback (-before +after):\n%s", d)
	}
	if hasRecord() {
		t.Error("the record of write-only values the rolled-back apply made is still on the gateway")
	}
	if c, out := advMachine(t, gw, "fresh", site).runCode(t, "plan", "site.yaml", "--detailed-exitcode"); c != 2 || !strings.Contains(out, "codecJson") {
		t.Errorf("a fresh clone after the rollback: exit %d, want 2 and the codecJson planned:\n%s", c, out)
	}
}

// advKilledRollback: a rollback killed at a random write, run again,
// finishes, and the raw state is the one before the apply.
func advKilledRollback(t *testing.T) {
	seed := advSeed(t)
	rng := rand.New(rand.NewSource(seed))
	const n = 8
	first, second := func(eui string) string { return advSite(eui, n, "first", `{"v":1}`) }, func(eui string) string { return advSite(eui, n+5, "second", `{"v":2}`) }
	for round := 0; round < 4; round++ {
		gw := newAdvGW(t, gwsim.Options{})
		a := advMachine(t, gw, "killed", first(gw.eui))
		a.run(t, 0, "apply", "site.yaml", "--auto-approve")
		before := gw.rawNorm(t)
		a.writeSite(t, second(gw.eui))
		// Any write of the apply but its first (the lock, taken before
		// the journal) and its last (the lock's release, after it).
		k := 2 + rng.Intn(n+5+3)
		var out bytes.Buffer
		cmd := a.cmd("apply", "site.yaml", "--auto-approve", "--parallelism", fmt.Sprint(1+rng.Intn(3)))
		cmd.Stdout, cmd.Stderr = &out, &out
		gw.startKilled(t, cmd, k, true)
		if code := waitExit(t, cmd); code != -1 || !applierHasJournal(a.dir) {
			gw.noKill()
			t.Fatalf("round %d: the apply to kill at write %d: exit %d, journal kept %v:\n%s", round, k, code, applierHasJournal(a.dir), out.String())
		}
		j := 1 + rng.Intn(k+1)
		if round == 0 {
			j = 1 // the rollback's first write: the takeover of the lock
		}
		out.Reset()
		cmd = a.cmd("rollback", "site.yaml")
		cmd.Stdout, cmd.Stderr = &out, &out
		gw.startKilled(t, cmd, j, true)
		code := waitExit(t, cmd)
		gw.noKill()
		t.Logf("round %d: apply killed at write %d, rollback at write %d: exit %d", round, k, j, code)
		if code != 0 && applierHasJournal(a.dir) { // else killed at its last write, the lock's release
			code, text := a.runCode(t, "rollback", "site.yaml")
			if code != 0 {
				t.Fatalf("round %d, apply killed at write %d, rollback at write %d: rollback again: exit %d:\n%s", round, k, j, code, text)
			}
		}
		if d := cmp.Diff(before, gw.rawNorm(t)); d != "" {
			t.Fatalf("round %d, apply killed at write %d, rollback at write %d: raw state differs from before the apply (-before +after):\n%s", round, k, j, d)
		}
		if gw.locked(t) {
			t.Errorf("round %d: the lock is left after the rollback", round)
		}
		if c, out := advMachine(t, gw, "fresh", first(gw.eui)).runCode(t, "plan", "site.yaml", "--detailed-exitcode"); c != 0 {
			t.Errorf("round %d, apply killed at write %d, rollback at write %d: the site before, from a fresh clone: exit %d, want 0:\n%s", round, k, j, c, out)
		}
		if c, out := advMachine(t, gw, "fresh", second(gw.eui)).runCode(t, "plan", "site.yaml", "--detailed-exitcode"); c != 2 || !strings.Contains(out, "codecJson") {
			t.Errorf("round %d, apply killed at write %d, rollback at write %d: the killed apply's site, from a fresh clone: exit %d, want 2 and codecJson:\n%s", round, k, j, c, out)
		}
	}
}

// advPlantedJournal: a journal copied from another gateway's checkout, or
// from another run on this gateway, is refused by rollback before any
// write request.
func advPlantedJournal(t *testing.T) {
	seed := advSeed(t)
	rng := rand.New(rand.NewSource(seed))
	const n = 8
	gw1 := newAdvGW(t, gwsim.Options{})
	gw2 := newAdvGW(t, gwsim.Options{})
	a := advMachine(t, gw1, "a", advSite(gw1.eui, n, "first", ""))
	a.run(t, 0, "apply", "site.yaml", "--auto-approve")
	a.writeSite(t, advSite(gw1.eui, n+4, "second", ""))
	killApply(t, gw1, a, 1+rng.Intn(n), "apply", "site.yaml", "--auto-approve")
	run1 := filepath.Join(t.TempDir(), "run1")
	copyDir(t, filepath.Join(a.dir, ".gwsync"), run1)

	// Another gateway's journal.
	b := advMachine(t, gw2, "b", advSite(gw2.eui, n, "first", ""))
	b.run(t, 0, "apply", "site.yaml", "--auto-approve")
	copyDir(t, run1, filepath.Join(b.dir, ".gwsync"))
	w := gw2.g.WriteRequests()
	for _, args := range [][]string{{"rollback", "site.yaml"}, {"rollback", "site.yaml", "--force"}} {
		out := b.run(t, 1, args...)
		if d := gw2.g.WriteRequests() - w; d != 0 || !strings.Contains(out, gw1.eui) || !strings.Contains(out, gw2.eui) {
			t.Errorf("%v with another gateway's journal: %d write requests; want a refusal naming both gateways and none:\n%s", args, d, out)
		}
	}

	// Run 1 is rolled back; run 2 is killed: run 1's journal, planted in
	// a checkout, is not the one the lock names.
	a.run(t, 0, "rollback", "site.yaml")
	killApply(t, gw1, a, 1+rng.Intn(n), "apply", "site.yaml", "--auto-approve")
	c := advMachine(t, gw1, "c", advSite(gw1.eui, n+4, "second", ""))
	copyDir(t, run1, filepath.Join(c.dir, ".gwsync"))
	// (Its write requests are the lock's, taken and released or refused.)
	wc, before := gw1.writeCount(), gw1.rawNorm(t)
	out := c.run(t, 1, "rollback", "site.yaml")
	if d := gw1.writeCount() - wc; d != 0 || !strings.Contains(out, "is not that run's") {
		t.Errorf("rollback of a journal the lock does not name: %d writes, want a refusal and none:\n%s", d, out)
	}
	if d := cmp.Diff(before, gw1.rawNorm(t)); d != "" {
		t.Errorf("a refused rollback changed the gateway:\n%s", d)
	}
	// With no lock at all (run 2 rolled back), it is refused too.
	a.run(t, 0, "rollback", "site.yaml")
	wc, before = gw1.writeCount(), gw1.rawNorm(t)
	out = c.run(t, 1, "rollback", "site.yaml")
	if d := gw1.writeCount() - wc; d != 0 || !strings.Contains(out, "no lock on the gateway names it") {
		t.Errorf("rollback of an old journal, no lock held: %d writes, want a refusal and none:\n%s", d, out)
	}
	if d := cmp.Diff(before, gw1.rawNorm(t)); d != "" || gw1.locked(t) {
		t.Errorf("a refused rollback changed the gateway (locked: %v):\n%s", gw1.locked(t), d)
	}
	// --force over a journal that does not open (its key or the state
	// before left behind): refused, and no lock left for others to break.
	for _, gone := range []string{"journal.key", "before.json"} {
		if err := os.Remove(filepath.Join(c.dir, ".gwsync", gone)); err != nil {
			t.Fatal(err)
		}
		out = c.run(t, 1, "rollback", "site.yaml", "--force")
		if d := gw1.writeCount() - wc; d != 0 || gw1.locked(t) {
			t.Errorf("rollback --force of a journal without %s: %d writes, locked %v; want none and no lock:\n%s", gone, d, gw1.locked(t), out)
		}
		copyDir(t, run1, filepath.Join(c.dir, ".gwsync"))
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	es, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// advCodecJSON: codecJson, which the gateway never returns, seen from
// fresh clones: a change plans one, none plans none, and a site without
// it never wipes the gateway's.
func advCodecJSON(t *testing.T) {
	seed := advSeed(t)
	rng := rand.New(rand.NewSource(seed))
	gw := newAdvGW(t, gwsim.Options{})
	cj := fmt.Sprintf(`{"v":%d}`, rng.Intn(1000))
	site := advSite(gw.eui, 3, "first", cj)
	advMachine(t, gw, "a", site).run(t, 0, "apply", "site.yaml", "--auto-approve")
	if d := holds(gw.raw(t), readSiteWant(t, site)); d != "" {
		t.Fatalf("after the first apply:\n%s", d)
	}

	fresh := advMachine(t, gw, "b", site)
	if code, out := fresh.runCode(t, "plan", "site.yaml", "--detailed-exitcode"); code != 0 {
		t.Errorf("unchanged codecJson from a fresh clone: exit %d, want 0:\n%s", code, out)
	}
	changed := advSite(gw.eui, 3, "first", fmt.Sprintf(`{"v":%d}`, 1000+rng.Intn(1000)))
	fresh = advMachine(t, gw, "c", changed)
	if code, out := fresh.runCode(t, "plan", "site.yaml", "--detailed-exitcode"); code != 2 || !strings.Contains(out, "em300-decoder") {
		t.Errorf("changed codecJson from a fresh clone: exit %d, want 2 and the codec named:\n%s", code, out)
	}
	// Without codecJson, with a device change so that the apply writes.
	without := advSite(gw.eui, 3, "second", "")
	fresh = advMachine(t, gw, "d", without)
	if out := fresh.run(t, 2, "plan", "site.yaml", "--detailed-exitcode"); strings.Contains(out, "codecJson") {
		t.Errorf("a site without codecJson plans a change of it:\n%s", out)
	}
	fresh.run(t, 0, "apply", "site.yaml", "--auto-approve")
	for _, c := range asList(gw.raw(t)["codecs"]) {
		if c["name"] == "em300-decoder" && c["codecJson"] != cj {
			t.Errorf("a site without codecJson changed the gateway's from %q to %q", cj, c["codecJson"])
		}
	}
	// And the clone that changed it applies the change.
	fresh = advMachine(t, gw, "e", changed)
	fresh.run(t, 0, "apply", "site.yaml", "--auto-approve")
	if d := holds(gw.raw(t), readSiteWant(t, changed)); d != "" {
		t.Errorf("after the codecJson change:\n%s", d)
	}
}

// advHostileGateway: a gateway whose pages lie, and answers from another
// gateway injected on the broker: the apply ends with an error naming the
// request, and writes nothing.
func advHostileGateway(t *testing.T) {
	seed := advSeed(t)
	rng := rand.New(rand.NewSource(seed))
	const n = 30
	// The gateway holds n devices, so that every list has several pages.
	honest := newAdvGW(t, gwsim.Options{})
	advMachine(t, honest, "setup", advSite(honest.eui, n, "first", "")).run(t, 0, "apply", "site.yaml", "--auto-approve")
	if err := honest.g.Close(); err != nil {
		t.Fatal(err)
	}
	seeded, err := os.ReadFile(honest.statePath)
	if err != nil {
		t.Fatal(err)
	}
	// hostile starts a gateway of that state with opts.
	hostile := func(t *testing.T, opts gwsim.Options) *advGW {
		opts.EUI, opts.StatePath = honest.eui, filepath.Join(t.TempDir(), "gw.json")
		if err := os.WriteFile(opts.StatePath, seeded, 0o600); err != nil {
			t.Fatal(err)
		}
		return newAdvGW(t, opts)
	}
	for _, q := range []gwsim.PagingQuirk{gwsim.PagingRepeat, gwsim.PagingOverlap, gwsim.PagingNullBody} {
		t.Run("paging_"+string(q), func(t *testing.T) {
			gw := hostile(t, gwsim.Options{Paging: q, PageCap: 5 + rng.Intn(10)})
			s := advMachine(t, gw, "pr", advSite(gw.eui, n, "second", ""))
			before := gw.raw(t)
			code, out := s.runCode(t, "apply", "site.yaml", "--auto-approve", "--timeout", "20s")
			if code != 1 || !strings.Contains(out, "GET /api/") {
				t.Errorf("paging %s: exit %d, want 1 and the request named:\n%s", q, code, out)
			}
			if w := gw.g.WriteRequests(); w != 0 {
				t.Errorf("paging %s: %d write requests, want none", q, w)
			}
			if d := cmp.Diff(before, gw.raw(t)); d != "" {
				t.Errorf("paging %s: the gateway changed:\n%s", q, d)
			}
		})
	}

	// inject answers every request on the broker, before the gateway
	// does, as gateway other, with an empty page or an empty object.
	inject := func(t *testing.T, gw *advGW, other string) *atomic.Int64 {
		cl := rawClient(t, gw)
		var sent atomic.Int64
		tok := cl.Subscribe(gw.reqTopic, 0, func(c mqtt.Client, m mqtt.Message) {
			var req struct{ ID, Method, URL string }
			if json.Unmarshal(m.Payload(), &req) != nil {
				return
			}
			body := `{}`
			if req.Method == "GET" {
				body = `{"total":0,"list":[]}`
			}
			b, _ := json.Marshal(req.ID)
			u, _ := json.Marshal(req.URL)
			c.Publish(gw.respTopic, 0, false, fmt.Sprintf(`{"id":%s,"gatewayEUI":%q,"method":%q,"url":%s,"body":%s}`, b, other, req.Method, u, body))
			sent.Add(1)
		})
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe: %v", tok.Error())
		}
		return &sent
	}
	t.Run("other_gateway_answers_first", func(t *testing.T) {
		// The gateway answers too, later: the apply goes on with its
		// answers and holds the site.
		gw := hostile(t, gwsim.Options{})
		gw.g.Faults().SetDelay(10*time.Millisecond, 0)
		sent := inject(t, gw, "24E124FFFE000001")
		site := advSite(gw.eui, n, "second", "")
		advMachine(t, gw, "pr", site).run(t, 0, "apply", "site.yaml", "--auto-approve")
		if sent.Load() == 0 {
			t.Fatal("nothing was injected: the test proves nothing")
		}
		if d := holds(gw.raw(t), readSiteWant(t, site)); d != "" {
			t.Errorf("the gateway after an apply with injected answers:\n%s", d)
		}
	})
	t.Run("only_other_gateway_answers", func(t *testing.T) {
		// The gateway's answer to the device list is lost: only the other
		// gateway's empty page arrives. Believed, it would plan every
		// device as new.
		gw := hostile(t, gwsim.Options{})
		gw.g.Faults().Add(gwsim.Fault{Method: "GET", URLContains: "/api/urdevices", DropResponse: true, Times: -1})
		inject(t, gw, "24E124FFFE000001")
		before := gw.raw(t)
		code, out := advMachine(t, gw, "pr", advSite(gw.eui, n, "second", "")).runCode(t, "apply", "site.yaml", "--auto-approve", "--timeout", "3s")
		if code != 1 || !strings.Contains(out, "GET /api/urdevices") || !strings.Contains(out, "another gateway's EUI") {
			t.Errorf("exit %d, want 1 naming the request and the other gateway:\n%s", code, out)
		}
		if w := gw.g.WriteRequests(); w != 0 {
			t.Errorf("%d write requests, want none", w)
		}
		if d := cmp.Diff(before, gw.raw(t)); d != "" {
			t.Errorf("the gateway changed:\n%s", d)
		}
	})
}

// advSiteReachesOut: a pull request's site that names a file outside the
// site's folder, to make a plan print it: validate and plan refuse, name
// the file and field, and the file's content appears in no output.
func advSiteReachesOut(t *testing.T) {
	seed := advSeed(t)
	marker := fmt.Sprintf("ADVERSARY-SECRET-%d", seed)
	gw := newAdvGW(t, gwsim.Options{})
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte(marker+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secret+".csv", []byte("devEUI,name\n24E124136B0000FF,"+marker+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := advSite(gw.eui, 2, "first", "")
	cases := []struct {
		name, field, from, to string
	}{
		{"decoderFile up", "decoderFile", `decoderScript: "function Decode(fPort, bytes) { return {t: bytes[0]}; }"`, "decoderFile: '../../secret'"},
		{"decoderFile absolute", "decoderFile", `decoderScript: "function Decode(fPort, bytes) { return {t: bytes[0]}; }"`, "decoderFile: '" + secret + "'"},
		{"decoderFile proc", "decoderFile", `decoderScript: "function Decode(fPort, bytes) { return {t: bytes[0]}; }"`, "decoderFile: /proc/self/environ"},
		{"decoderFile symlink", "decoderFile", `decoderScript: "function Decode(fPort, bytes) { return {t: bytes[0]}; }"`, "decoderFile: codecs/link.js"},
		{"codecJsonFile up", "codecJsonFile", `decoderScript: "function Decode(fPort, bytes) { return {t: bytes[0]}; }"`, "decoderScript: x\n    codecJsonFile: '../../secret'"},
		{"file key up", "appKey", "appKey: ${env:K1}", "appKey: ${file:../../secret}"},
		{"file key absolute", "mcNwkSKey", "mcNwkSKey: ${env:K3}", "mcNwkSKey: ${file:" + secret + "}"},
		{"file key proc", "mcAppSKey", "mcAppSKey: ${env:K4}", "mcAppSKey: ${file:/proc/self/environ}"},
		{"devicesFrom up", "devicesFrom", "multicastGroups:", "devicesFrom: '../../secret.csv'\nmulticastGroups:"},
		{"devicesFrom symlink", "devicesFrom", "multicastGroups:", "devicesFrom: link.csv\nmulticastGroups:"},
		{"decoderFile dotdot inside", "decoderFile", `decoderScript: "function Decode(fPort, bytes) { return {t: bytes[0]}; }"`, "decoderFile: 'codecs/../../../secret'"},
		{"decoderFile linked folder", "decoderFile", `decoderScript: "function Decode(fPort, bytes) { return {t: bytes[0]}; }"`, "decoderFile: 'out/secret'"},
		{"file key dotdot inside", "appKey", "appKey: ${env:K1}", "appKey: ${file:codecs/../../../secret}"},
		{"file key linked folder", "appKey", "appKey: ${env:K1}", "appKey: ${file:out/secret}"},
		{"firmwareFile up", "firmwareFile", "multicastGroups:", "firmwareUpdates:\n  - name: fw\n    startAt: 2030-06-01T02:00:00Z\n    devices: ['24E124136B000000']\n    firmwareFile: '../../secret'\n    fragment: {size: 88, intervalMs: 5000, redundancy: 30}\n    multicast: {dr: 3, frequency: 869525000}\nmulticastGroups:"},
		{"firmwareFile linked folder", "firmwareFile", "multicastGroups:", "firmwareUpdates:\n  - name: fw\n    startAt: 2030-06-01T02:00:00Z\n    devices: ['24E124136B000000']\n    firmwareFile: out/secret\n    fragment: {size: 88, intervalMs: 5000, redundancy: 30}\n    multicast: {dr: 3, frequency: 869525000}\nmulticastGroups:"},
	}
	// The control: the same file inside the site is read, and the plan
	// shows it; so its absence from the output above says something.
	t.Run("control_inside", func(t *testing.T) {
		s := advMachine(t, gw, "pr", strings.Replace(base, `decoderScript: "function Decode(fPort, bytes) { return {t: bytes[0]}; }"`, "decoderFile: codecs/inside.js", 1))
		if err := os.MkdirAll(filepath.Join(s.dir, "codecs"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(s.dir, "codecs", "inside.js"), []byte(marker+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		s.run(t, 0, "validate", "site.yaml")
		if out := s.run(t, 0, "plan", "site.yaml"); !strings.Contains(out, marker) {
			t.Errorf("the plan does not show the decoder file inside the site:\n%s", out)
		}
	})
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			site := strings.Replace(base, c.from, c.to, 1)
			if site == base {
				t.Fatalf("case %q changes nothing", c.name)
			}
			root := t.TempDir()
			dir := filepath.Join(root, "repo", "site")
			if err := os.MkdirAll(filepath.Join(dir, "codecs"), 0o755); err != nil {
				t.Fatal(err)
			}
			for link, to := range map[string]string{"codecs/link.js": secret, "link.csv": secret + ".csv", "out": outside} {
				if err := os.Symlink(to, filepath.Join(dir, link)); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(root, "secret"), []byte(marker+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, "secret.csv"), []byte("devEUI,name\n24E124136B0000FF,"+marker+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			s := advMachine(t, gw, "pr", site)
			s.dir = dir
			s.writeSite(t, site)
			s.env = append(s.env, "ADVERSARY_MARKER="+marker)
			w := gw.g.WriteRequests()
			for _, args := range [][]string{{"validate", "site.yaml"}, {"plan", "site.yaml"}, {"plan", "site.yaml", "--format", "json"}, {"apply", "site.yaml", "--auto-approve"}} {
				code, out := s.runCode(t, args...)
				if strings.Contains(out, marker) {
					t.Errorf("%v: the content of a file outside the site is in the output:\n%s", args, out)
				}
				if code != 1 || !strings.Contains(out, "site.yaml:") || !strings.Contains(out, c.field) {
					t.Errorf("%v: exit %d, want 1 and the file, line and field %s named:\n%s", args, code, c.field, out)
				}
			}
			if d := gw.g.WriteRequests() - w; d != 0 {
				t.Errorf("%d write requests, want none", d)
			}
		})
	}
}

// advQuirkyGateway: gateways that answer within the spec's latitude (a
// page smaller than asked, ids echoed as numbers, a search of names only,
// a PUT that replaces the whole device, the spec examples' spellings):
// applies from fresh clones converge, as the raw state says, and plan
// nothing after.
func advQuirkyGateway(t *testing.T) {
	seed := advSeed(t)
	rng := rand.New(rand.NewSource(seed))
	quirks := map[string]gwsim.Options{
		"page_cap":      {PageCap: 3 + rng.Intn(8)},
		"numeric_ids":   {NumericIDs: true},
		"search_names":  {SearchNamesOnly: true},
		"put_replaces":  {PutReplaces: true},
		"spec_examples": {Quirks: gwsim.QuirksSpecExamples, LegacyURLs: true},
		"all":           {PageCap: 4, NumericIDs: true, SearchNamesOnly: true, PutReplaces: true},
	}
	names := make([]string, 0, len(quirks))
	for k := range quirks {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			gw := newAdvGW(t, quirks[name])
			n := 15 + rng.Intn(10)
			for i, site := range []string{advSite(gw.eui, n, "first", `{"v":1}`), advSite(gw.eui, n+3, "second", `{"v":2}`)} {
				m := advMachine(t, gw, fmt.Sprintf("m%d", i), site)
				if c, out := m.runCode(t, "apply", "site.yaml", "--auto-approve", "--parallelism", fmt.Sprint(1+rng.Intn(4))); c != 0 {
					t.Fatalf("apply %d: exit %d:\n%s", i, c, out)
				}
				if d := holds(gw.raw(t), readSiteWant(t, site)); d != "" {
					t.Errorf("after apply %d:\n%s", i, d)
				}
				if c, out := advMachine(t, gw, "fresh", site).runCode(t, "plan", "site.yaml", "--detailed-exitcode"); c != 0 {
					t.Errorf("plan after apply %d, from a fresh clone: exit %d, want 0:\n%s", i, c, out)
				}
			}
		})
	}
}

// advPlantedLinks: a checkout whose .gwsync/, or a file in it, is a
// symbolic link (committed to the repository by a pull request): apply
// and rollback refuse, write nothing to the gateway, and nothing through
// the link.
func advPlantedLinks(t *testing.T) {
	gw := newAdvGW(t, gwsim.Options{})
	advMachine(t, gw, "setup", advSite(gw.eui, 3, "first", "")).run(t, 0, "apply", "site.yaml", "--auto-approve")
	for _, c := range []string{"folder", "journal", "key", "written"} {
		t.Run(c, func(t *testing.T) {
			s := advMachine(t, gw, "pr", advSite(gw.eui, 4, "second", ""))
			target := t.TempDir()
			victim := filepath.Join(target, "victim")
			if err := os.WriteFile(victim, []byte("keep me\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			dot := filepath.Join(s.dir, ".gwsync")
			var err error
			switch c {
			case "folder":
				err = os.Symlink(target, dot)
			default:
				file := map[string]string{"journal": "journal.jsonl", "key": "journal.key", "written": "written.json"}[c]
				if err = os.Mkdir(dot, 0o700); err == nil {
					err = os.Symlink(victim, filepath.Join(dot, file))
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			before, w := gw.rawNorm(t), gw.writeCount()
			for _, args := range [][]string{{"rollback", "site.yaml"}, {"rollback", "site.yaml", "--force"}, {"apply", "site.yaml", "--auto-approve"}} {
				code, out := s.runCode(t, args...)
				if c != "journal" && args[0] == "rollback" && strings.Contains(out, "nothing to roll back") {
					continue // the link was not followed to find a journal
				}
				if c == "written" && args[0] == "apply" {
					// The cache of written values is not needed: the apply
					// goes on, and replaces the link with a file.
					if code != 0 {
						t.Errorf("%v with written.json a link: exit %d:\n%s", args, code, out)
					}
					continue
				}
				if code != 1 || !strings.Contains(out, "link") {
					t.Errorf("%v with a link in .gwsync: exit %d, want 1 and the link named:\n%s", args, code, out)
				}
			}
			if c != "written" {
				if d := gw.writeCount() - w; d != 0 {
					t.Errorf("%d writes, want none", d)
				}
				if d := cmp.Diff(before, gw.rawNorm(t)); d != "" {
					t.Errorf("the gateway changed:\n%s", d)
				}
			}
			if b, _ := os.ReadFile(victim); string(b) != "keep me\n" {
				t.Errorf("the file the link points to was written: %q", b)
			}
			if es, _ := os.ReadDir(target); len(es) != 1 {
				t.Errorf("files made through the link: %v", es)
			}
		})
	}
}

// advSavedPlan: a plan saved for review is applied after the gateway moved
// (another machine applied), or after someone edited it: refused, nothing
// written.
func advSavedPlan(t *testing.T) {
	seed := advSeed(t)
	rng := rand.New(rand.NewSource(seed))
	gw := newAdvGW(t, gwsim.Options{})
	advMachine(t, gw, "setup", advSite(gw.eui, 4, "first", "")).run(t, 0, "apply", "site.yaml", "--auto-approve")
	a := advMachine(t, gw, "a", advSite(gw.eui, 5, "site-a", ""))
	a.run(t, 0, "plan", "site.yaml", "--out", "plan.json")
	b, err := os.ReadFile(filepath.Join(a.dir, "plan.json"))
	if err != nil {
		t.Fatal(err)
	}
	// Edited: one byte of "site-a" in a device's description.
	edited := bytes.Replace(b, []byte("site-a"), []byte("site-x"), 1)
	if bytes.Equal(edited, b) {
		t.Fatal("the saved plan holds no description to edit")
	}
	if err := os.WriteFile(filepath.Join(a.dir, "edited.json"), edited, 0o600); err != nil {
		t.Fatal(err)
	}
	w, before := gw.writeCount(), gw.rawNorm(t)
	if out := a.run(t, 1, "apply", "edited.json"); strings.Contains(out, "done") {
		t.Errorf("an edited plan was applied:\n%s", out)
	}
	if d := gw.writeCount() - w; d != 0 {
		t.Errorf("an edited plan: %d writes, want none", d)
	}
	if d := cmp.Diff(before, gw.rawNorm(t)); d != "" || gw.locked(t) {
		t.Errorf("an edited plan: the gateway changed (locked %v):\n%s", gw.locked(t), d)
	}
	// Moved: another machine applies between review and apply.
	advMachine(t, gw, "b", advSite(gw.eui, 4+rng.Intn(3), "site-b", "")).run(t, 0, "apply", "site.yaml", "--auto-approve")
	w, before = gw.writeCount(), gw.rawNorm(t)
	out := a.run(t, 1, "apply", "plan.json")
	if !strings.Contains(out, "STALE") {
		t.Errorf("a plan applied after the gateway moved: want STALE:\n%s", out)
	}
	if d := gw.writeCount() - w; d != 0 {
		t.Errorf("%d writes, want none", d)
	}
	if d := cmp.Diff(before, gw.rawNorm(t)); d != "" || gw.locked(t) {
		t.Errorf("the gateway changed (locked %v):\n%s", gw.locked(t), d)
	}
}

// advDamagedJournal: a journal with a record changed in its middle is
// refused by rollback, naming the file and line, with nothing written; a
// last line cut short (the crash itself) is not in the way.
func advDamagedJournal(t *testing.T) {
	seed := advSeed(t)
	rng := rand.New(rand.NewSource(seed))
	const n = 8
	gw := newAdvGW(t, gwsim.Options{})
	a := advMachine(t, gw, "a", advSite(gw.eui, n, "first", ""))
	a.run(t, 0, "apply", "site.yaml", "--auto-approve")
	before := gw.rawNorm(t)
	a.writeSite(t, advSite(gw.eui, n+4, "second", ""))
	killApply(t, gw, a, 4+rng.Intn(n), "apply", "site.yaml", "--auto-approve", "--parallelism", "1")
	path := filepath.Join(a.dir, ".gwsync", "journal.jsonl")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(orig, []byte("\n"))
	if len(lines) < 4 {
		t.Fatalf("a journal of %d lines: the kill came too early", len(lines))
	}
	// A byte changed in a middle record: a digit or letter for another.
	i := 1 + rng.Intn(len(lines)-3)
	line := append([]byte(nil), lines[i]...)
	k := rng.Intn(len(line) - 1)
	for line[k] == '"' || line[k] == '\n' {
		k = (k + 1) % (len(line) - 1)
	}
	line[k] ^= 0x01
	damaged := bytes.Join(append(append(append([][]byte{}, lines[:i]...), line), lines[i+1:]...), nil)
	if err := os.WriteFile(path, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	w, mid := gw.writeCount(), gw.rawNorm(t)
	out := a.run(t, 1, "rollback", "site.yaml")
	if !strings.Contains(out, fmt.Sprintf("line %d", i+1)) {
		t.Errorf("a record damaged at line %d (byte %d): want the line named:\n%s", i+1, k, out)
	}
	if d := gw.writeCount() - w; d != 0 {
		t.Errorf("%d writes, want none", d)
	}
	if d := cmp.Diff(mid, gw.rawNorm(t)); d != "" {
		t.Errorf("a refused rollback changed the gateway:\n%s", d)
	}
	// The journal as the crash left it, with its last line cut short.
	cut := orig
	if last := lines[len(lines)-1]; len(last) == 0 && len(lines) > 1 {
		cut = orig[:len(orig)-1-rng.Intn(len(lines[len(lines)-2])/2)]
	}
	if err := os.WriteFile(path, cut, 0o600); err != nil {
		t.Fatal(err)
	}
	a.run(t, 0, "rollback", "site.yaml")
	if d := cmp.Diff(before, gw.rawNorm(t)); d != "" {
		t.Errorf("after the rollback (-before +after):\n%s", d)
	}
	if gw.locked(t) {
		t.Error("the lock is left after the rollback")
	}
}

// advTwoRollbacks: the journal of a killed apply in two places (the
// checkout, and the CI artifact copied elsewhere), rolled back from both
// at once: one rolls back, the other is refused; the gateway ends as it
// was before the apply, no lock left.
func advTwoRollbacks(t *testing.T) {
	seed := advSeed(t)
	rng := rand.New(rand.NewSource(seed))
	const n = 10
	for round := 0; round < 3; round++ {
		gw := newAdvGW(t, gwsim.Options{})
		a := advMachine(t, gw, "a", advSite(gw.eui, n, "first", ""))
		a.run(t, 0, "apply", "site.yaml", "--auto-approve")
		before := gw.rawNorm(t)
		a.writeSite(t, advSite(gw.eui, n+4, "second", ""))
		killApply(t, gw, a, 3+rng.Intn(n), "apply", "site.yaml", "--auto-approve")
		b := advMachine(t, gw, "b", advSite(gw.eui, n+4, "second", ""))
		copyDir(t, filepath.Join(a.dir, ".gwsync"), filepath.Join(b.dir, ".gwsync"))
		gw.g.Faults().SetDelay(time.Duration(rng.Intn(10))*time.Millisecond, 3*time.Millisecond)
		var codes [2]int
		var outs [2]string
		var wg sync.WaitGroup
		for i, m := range []*subEnv{a, b} {
			delay := time.Duration(rng.Intn(50)) * time.Millisecond
			wg.Add(1)
			go func() {
				defer wg.Done()
				time.Sleep(delay)
				codes[i], outs[i] = m.runCode(t, "rollback", "site.yaml")
			}()
		}
		wg.Wait()
		gw.g.Faults().SetDelay(0, 0)
		t.Logf("round %d: exits %v\n--- a:\n%s\n--- b:\n%s", round, codes, outs[0], outs[1])
		if codes[0] != 0 && codes[1] != 0 {
			t.Errorf("round %d: neither rollback finished:\n--- a (exit %d):\n%s\n--- b (exit %d):\n%s", round, codes[0], outs[0], codes[1], outs[1])
		}
		// One rolls back; the other, from the second copy, is refused
		// while the first holds the lock, or finds no lock naming the
		// journal once it is done. Never both.
		if codes[0] == 0 && codes[1] == 0 {
			t.Errorf("round %d: both rollbacks ran:\n--- a:\n%s\n--- b:\n%s", round, outs[0], outs[1])
		}
		for i := range codes {
			if codes[i] != 0 && codes[i] != 1 {
				t.Errorf("round %d: rollback %c: exit %d:\n%s", round, 'a'+i, codes[i], outs[i])
			}
			// The way forward it shows must work: after gwsync unlock, no
			// lock names the journal, and only --force goes on.
			if codes[i] == 1 && strings.Contains(outs[i], "gwsync unlock") && !strings.Contains(outs[i], "--force") {
				t.Errorf("round %d: rollback %c says to unlock and run again, without --force, which that needs:\n%s", round, 'a'+i, outs[i])
			}
		}
		if d := cmp.Diff(before, gw.rawNorm(t)); d != "" {
			t.Errorf("round %d: the gateway after two rollbacks at once (-before +after):\n%s", round, d)
		}
		if gw.locked(t) {
			t.Errorf("round %d: a lock is left:\n--- a (exit %d):\n%s\n--- b (exit %d):\n%s", round, codes[0], outs[0], codes[1], outs[1])
		}
	}
}

// advRollbackLiveApply: gwsync rollback run in the checkout of an apply
// that is still running (a second terminal, a CI step that did not wait):
// the apply's journal is there and the gateway's lock names it, but its
// process is alive. The rollback must not write beside it.
func advRollbackLiveApply(t *testing.T) {
	const n = 16
	gw := newAdvGW(t, gwsim.Options{})
	a := advMachine(t, gw, "a", advSite(gw.eui, n, "first", ""))
	a.run(t, 0, "apply", "site.yaml", "--auto-approve")
	second := advSite(gw.eui, n, "second", "")
	a.writeSite(t, second)
	gw.g.Faults().SetDelay(40*time.Millisecond, 0)
	var out bytes.Buffer
	cmd := a.cmd("apply", "site.yaml", "--auto-approve", "--parallelism", "1")
	cmd.Stdout, cmd.Stderr = &out, &out
	w := gw.writeCount()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for gw.writeCount()-w < 3 {
		time.Sleep(5 * time.Millisecond)
	}
	code, rout := a.runCode(t, "rollback", "site.yaml")
	acode := waitExit(t, cmd)
	gw.g.Faults().SetDelay(0, 0)
	if code != 1 {
		t.Errorf("rollback beside a running apply: exit %d, want 1:\n%s", code, rout)
	}
	if acode != 0 {
		t.Errorf("the apply with a rollback run beside it: exit %d:\n%s\n--- rollback:\n%s", acode, out.String(), rout)
	}
	if d := holds(gw.raw(t), readSiteWant(t, second)); d != "" {
		t.Errorf("the gateway after the apply:\n%s", d)
	}
}

// advHostileNames: names and descriptions with terminal escapes, Trojan
// Source overrides and markdown, from the gateway (a device made by hand)
// and from a pull request's site: no output of plan, apply or status
// carries them raw.
func advHostileNames(t *testing.T) {
	seed := advSeed(t)
	rng := rand.New(rand.NewSource(seed))
	bad := []string{"\x1b[2J\x1b[HNo changes.", "\u202eevil", "\u2066x\u2069", "\x07bell", "\x1b]8;;http://x\x07link"}
	gw := newAdvGW(t, gwsim.Options{})
	advMachine(t, gw, "setup", advSite(gw.eui, 2, "first", "")).run(t, 0, "apply", "site.yaml", "--auto-approve")
	// By hand, on the gateway: a device the site does not manage.
	cl := rawClient(t, gw)
	name := "hand-" + bad[rng.Intn(len(bad))]
	body, _ := json.Marshal(map[string]any{"devEUI": "24E124136B0000FE", "name": name, "description": bad[rng.Intn(len(bad))], "applicationID": "1",
		"profileID": "8f3c1b6e-4a2d-4e59-9b1a-0c7d2e5f6a01", "appKey": testKeys["K2"], "fPort": 1})
	req, _ := json.Marshal(map[string]any{"type": "ns-api", "id": "777", "method": "POST", "url": "/api/urdevices", "gatewayEUI": gw.eui, "body": json.RawMessage(body)})
	got := make(chan string, 1)
	cl.Subscribe(gw.respTopic, 0, func(_ mqtt.Client, m mqtt.Message) {
		if strings.Contains(string(m.Payload()), `"777"`) {
			got <- string(m.Payload())
		}
	}).Wait()
	cl.Publish(gw.reqTopic, 0, false, req).Wait()
	select {
	case a := <-got:
		if !strings.Contains(a, `"code":200`) {
			t.Fatalf("the device made by hand was refused: %s", a)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no answer to the device made by hand")
	}
	// From the pull request: a description with them (YAML escapes).
	site := strings.Replace(advSite(gw.eui, 2, "first", ""), "description: first", `description: "\e[2J\u202eevil\a"`, 1)
	s := advMachine(t, gw, "pr", site)
	for i, args := range [][]string{{"plan", "site.yaml"}, {"plan", "site.yaml", "--format", "markdown"}, {"validate", "site.yaml"}, {"apply", "site.yaml", "--auto-approve"}, {"status", "site.yaml"}} {
		_, out := s.runCode(t, args...)
		if i == 0 && (!strings.Contains(out, `\u202e`) || !strings.Contains(out, "hand-")) {
			t.Errorf("the plan shows neither the description nor the device made by hand, escaped: the test proves nothing:\n%s", out)
		}
		for _, r := range out {
			if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
				t.Errorf("%v: the output carries %U raw:\n%q", args, r, out)
				break
			}
		}
	}
}
