// Command bench measures gwsync end to end against the figures of issue 10
// and prints each beside its floor: plan of 10,000 devices against a
// client that only fetches the same pages, apply of 2,000 creates at 20 ms
// against the limit and against one write at a time, the requests of 4
// creates on a 10,000-device gateway, and wall time and peak RSS of
// validate, plan and apply at 1k/5k/10k/20k devices.
//
// It runs the gwsync binary given by --gwsync (scripts/bench.sh builds it)
// as separate processes: the gateway is `gwsync sim` on Mosquitto when
// mosquitto is installed (started on a free port on 127.0.0.1), else on
// the simulator's embedded broker, and it says which.
//
//	go run ./internal/bench --gwsync ./gwsync [--quick]
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/gwsync/gwsync/nsapi"
)

const (
	eui       = "24E124FFFEF5A6A8"
	reqTopic  = "milesight-gateway/" + eui + "/request"
	respTopic = "milesight-gateway/" + eui + "/response"
)

func main() {
	gwsync := flag.String("gwsync", "", "the gwsync binary to measure")
	quick := flag.Bool("quick", false, "smaller runs (about a minute): 1k/2k/5k devices, 500 creates")
	flag.Parse()
	if *gwsync == "" {
		fmt.Fprintln(os.Stderr, "bench: --gwsync BINARY is required")
		os.Exit(2)
	}
	b, err := newBench(*gwsync, *quick)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	err = b.run()
	b.close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type bench struct {
	gwsync string
	quick  bool
	dir    string
	broker string // tcp://127.0.0.1:PORT
	kind   string // what the broker is
	mosq   *exec.Cmd
}

func newBench(gwsync string, quick bool) (*bench, error) {
	abs, err := filepath.Abs(gwsync)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "gwsync-bench-")
	if err != nil {
		return nil, err
	}
	return &bench{gwsync: abs, quick: quick, dir: dir}, nil
}

func (b *bench) close() {
	if b.mosq != nil && b.mosq.Process != nil {
		_ = b.mosq.Process.Kill()
		_ = b.mosq.Wait()
	}
	_ = os.RemoveAll(b.dir)
}

// freePort is a TCP port on 127.0.0.1 nothing listens on.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitPort(addr string, d time.Duration) error {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			_ = c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("nothing listens on %s after %s", addr, d)
}

// startBroker starts Mosquitto on a free port when it is installed.
func (b *bench) startBroker() error {
	path, err := exec.LookPath("mosquitto")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/mosquitto"); serr == nil {
			path, err = "/usr/sbin/mosquitto", nil
		}
	}
	if err != nil {
		b.kind = "gwsim's embedded broker (mosquitto is not installed)"
		return nil
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	conf := filepath.Join(b.dir, "mosquitto.conf")
	// set_tcp_nodelay: Mosquitto leaves Nagle's algorithm on by default, and
	// then a small answer can wait for the previous one's ACK (up to 40 ms
	// of delayed ACK): 2,000 creates at 20 ms took 14.9 s with it on, 12.1 s
	// with it off. A broker in front of gateways should turn it off.
	if err := os.WriteFile(conf, fmt.Appendf(nil, "listener %d 127.0.0.1\nallow_anonymous true\npersistence false\nset_tcp_nodelay true\n", port), 0o600); err != nil {
		return err
	}
	b.mosq = exec.Command(path, "-c", conf)
	if err := b.mosq.Start(); err != nil {
		return fmt.Errorf("mosquitto: %w", err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if err := waitPort(addr, 5*time.Second); err != nil {
		return fmt.Errorf("mosquitto: %w", err)
	}
	b.broker = "tcp://" + addr
	ver, _ := exec.Command(path, "-h").CombinedOutput()
	first, _, _ := strings.Cut(string(ver), "\n")
	b.kind = "Mosquitto (" + strings.TrimSpace(first) + ")"
	return nil
}

// sim is a running `gwsync sim`, counting the requests it answers.
type sim struct {
	cmd      *exec.Cmd
	broker   string
	requests atomic.Int64
	// records counts, of requests, those about gwsync's own records on
	// the gateway (its lock and the digests of write-only values): a
	// fixed cost of each apply that writes, not of each write.
	records atomic.Int64
	done    chan struct{}
}

// startSim runs the simulated gateway on state, with latency per answer.
func (b *bench) startSim(state string, latency time.Duration) (*sim, error) {
	args := []string{"sim", "--state", state, "-v"}
	s := &sim{done: make(chan struct{})}
	if latency > 0 {
		args = append(args, "--latency", latency.String())
	}
	if b.broker != "" {
		args = append(args, "--broker", b.broker)
		s.broker = b.broker
	} else {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		args = append(args, "--listen", addr)
		s.broker = "tcp://" + addr
	}
	s.cmd = exec.Command(b.gwsync, args...)
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("gwsync sim: %w", err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		once := sync.Once{}
		for sc.Scan() {
			if strings.Contains(sc.Text(), "requests on") {
				once.Do(func() { close(ready) })
			}
		}
		once.Do(func() { close(ready) })
	}()
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			t := sc.Text()
			// One line a request answered, plain or a log record
			// (msg="gwsim: GET …").
			for _, m := range []string{"gwsim: GET ", "gwsim: POST ", "gwsim: PUT ", "gwsim: DELETE "} {
				if strings.Contains(t, m) {
					s.requests.Add(1)
					if strings.Contains(t, "(a gwsync record)") || strings.Contains(t, "search=gwsync-") {
						s.records.Add(1)
					}
					break
				}
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(60 * time.Second):
		return nil, errors.New("gwsync sim did not start")
	}
	// The simulator subscribes right after it says where it listens.
	time.Sleep(300 * time.Millisecond)
	return s, nil
}

// stop ends the simulator (SIGINT: it compacts its state and exits).
func (s *sim) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
	}
	_ = s.cmd.Wait()
}

// result is one gwsync run.
type result struct {
	wall  time.Duration
	rssMB float64
	exit  int
	out   string
}

// gw runs gwsync args in dir against broker.
func (b *bench) gw(dir, broker string, args ...string) (result, error) {
	cmd := exec.Command(b.gwsync, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	if broker != "" {
		cmd.Env = append(cmd.Env, "GWSYNC_BROKER="+broker)
	}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	r := result{wall: time.Since(start), out: out.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.exit = ee.ExitCode()
	case err != nil:
		return r, fmt.Errorf("gwsync %s: %w", args[0], err)
	}
	r.rssMB = peakRSSMB(cmd.ProcessState)
	return r, nil
}

// check is a run that has to exit with code.
func check(what string, code int) func(result, error) (result, error) {
	return func(r result, err error) (result, error) { return must(r, err, what, code) }
}

// must is a run that has to exit with one of codes.
func must(r result, err error, what string, codes ...int) (result, error) {
	if err != nil {
		return r, err
	}
	for _, c := range codes {
		if r.exit == c {
			return r, nil
		}
	}
	tail := r.out
	if len(tail) > 2000 {
		tail = "…" + tail[len(tail)-2000:]
	}
	return r, fmt.Errorf("%s: exit %d:\n%s", what, r.exit, tail)
}

// site writes a site of n devices (keys in files) plus extra devices after
// them; with full, also 200 profiles (the devices spread over them) and
// n/100 multicast groups of 100 members.
func (b *bench) site(name string, n, extra int, full bool) (string, error) {
	dir := filepath.Join(b.dir, name)
	keys := filepath.Join(b.dir, "keys")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := os.MkdirAll(keys, 0o700); err != nil {
		return "", err
	}
	// The sites share their key files, as sites of one repository do: a
	// site names files inside its repository only.
	if err := os.MkdirAll(filepath.Join(b.dir, ".git"), 0o755); err != nil {
		return "", err
	}
	key := func(kind string, i int) (string, error) {
		name := fmt.Sprintf("%s-%d", kind, i)
		p := filepath.Join(keys, name)
		if _, err := os.Stat(p); err == nil {
			return "../keys/" + name, nil
		}
		v := fmt.Sprintf("%s%024X", map[string]string{"app": "A1A1A1A1", "nwk": "B2B2B2B2", "aps": "C3C3C3C3"}[kind], i)
		return "../keys/" + name, os.WriteFile(p, []byte(v+"\n"), 0o600)
	}
	var y strings.Builder
	fmt.Fprintf(&y, "version: 1\ngateway:\n  eui: %s\n  channelPlan: EU868\n", eui)
	if full {
		y.WriteString("profiles:\n")
		for i := range 200 {
			fmt.Fprintf(&y, "  - name: p-%d\n    supportsJoin: true\n", i)
		}
	}
	y.WriteString("deviceDefaults:\n  application: cloud\ndevices:\n")
	for i := range n + extra {
		k, err := key("app", i)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&y, "  - devEUI: \"24E12413%08X\"\n    name: d-%d\n    appKey: ${file:%s}\n", i, i, k)
		if full {
			fmt.Fprintf(&y, "    profile: p-%d\n", i%200)
		}
	}
	groups := 0
	if full {
		groups = n / 100
	}
	if groups > 0 {
		y.WriteString("multicastGroups:\n")
	}
	for g := range groups {
		nk, err := key("nwk", g)
		if err != nil {
			return "", err
		}
		ak, err := key("aps", g)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&y, "  - name: g-%d\n    mcAddr: \"%08X\"\n    mcNwkSKey: ${file:%s}\n    mcAppSKey: ${file:%s}\n    devices: [", g, 0x01000000+g, nk, ak)
		for m := range 100 {
			if m > 0 {
				y.WriteString(", ")
			}
			fmt.Fprintf(&y, "\"24E12413%08X\"", g*100+m)
		}
		y.WriteString("]\n")
	}
	p := filepath.Join(dir, "site.yaml")
	return p, os.WriteFile(p, []byte(y.String()), 0o644)
}

// scaleRow is one size of the scale table.
type scaleRow struct {
	n                     int
	validate, plan, apply result
}

// figures are what the run measured, printed at the end.
type figures struct {
	planN                  int
	plan, floor, load      []time.Duration
	planReqs, floorReqs    int64
	floorKinds, floorPages int
	creates                int
	p4, p1                 result
	p4Reqs                 int64
	fourTotal, fourRead    int64
	fourVerify             int64
	fourRecords            int64 // of fourTotal: the lock and the record of write-only values
	scale                  []scaleRow
}

func (b *bench) run() error {
	if err := b.startBroker(); err != nil {
		return err
	}
	sizes := []int{1000, 5000, 10000, 20000}
	creates := 2000
	planN := 10000
	if b.quick {
		sizes, creates, planN = []int{1000, 2000, 5000}, 500, 5000
	}
	f := &figures{planN: planN, creates: creates}
	start := time.Now()
	fmt.Fprintf(os.Stderr, "bench: broker %s; work in %s\n", b.kind, b.dir)

	for _, n := range sizes {
		fmt.Fprintf(os.Stderr, "bench: %d devices: validate, apply, plan\n", n)
		row, err := b.scaleRun(n, n == planN, f)
		if err != nil {
			return err
		}
		f.scale = append(f.scale, row)
	}
	fmt.Fprintf(os.Stderr, "bench: apply %d creates at 20 ms, parallelism 4 and 1\n", creates)
	if err := b.applyRun(f); err != nil {
		return err
	}
	b.report(f, time.Since(start))
	return nil
}

// scaleRun: a fresh gateway of n devices made by apply, then plans (with
// the floor and the 4-create run when full is true).
func (b *bench) scaleRun(n int, full bool, f *figures) (scaleRow, error) {
	row := scaleRow{n: n}
	site, err := b.site(fmt.Sprintf("site-%d", n), n, 0, true)
	if err != nil {
		return row, err
	}
	dir := filepath.Dir(site)
	if row.validate, err = check("validate", 0)(b.gw(dir, "", "validate", site)); err != nil {
		return row, err
	}
	state := filepath.Join(b.dir, fmt.Sprintf("gw-%d.json", n))
	s, err := b.startSim(state, 0)
	if err != nil {
		return row, err
	}
	defer s.stop()
	if row.apply, err = check("apply", 0)(b.gw(dir, s.broker, "apply", site, "--auto-approve")); err != nil {
		return row, err
	}
	// Plans: no changes. Three when this is the plan figure (median).
	runs := 1
	if full {
		runs = 3
	}
	for range runs {
		before := s.requests.Load()
		r, err := check("plan", 0)(b.gw(dir, s.broker, "plan", site, "--detailed-exitcode"))
		if err != nil {
			return row, fmt.Errorf("plan after apply is not empty: %w", err)
		}
		if row.plan.wall == 0 || r.rssMB > row.plan.rssMB {
			row.plan.rssMB = r.rssMB
		}
		if full {
			f.plan = append(f.plan, r.wall)
			f.planReqs = s.requests.Load() - before
		}
		row.plan.wall = r.wall
	}
	if !full {
		return row, nil
	}
	// The site load alone: validate reads and checks the same files.
	for range 3 {
		r, err := check("validate", 0)(b.gw(dir, "", "validate", site))
		if err != nil {
			return row, err
		}
		f.load = append(f.load, r.wall)
	}
	for range 3 {
		d, reqs, kinds, pages, err := fetchFloor(s.broker)
		if err != nil {
			return row, fmt.Errorf("floor: %w", err)
		}
		f.floor = append(f.floor, d)
		f.floorReqs, f.floorKinds, f.floorPages = reqs, kinds, pages
	}
	// 4 creates on this gateway: every request of the apply, less the
	// plan's read and the verification read (one read each).
	plus, err := b.site(fmt.Sprintf("site-%d-plus4", n), n, 4, true)
	if err != nil {
		return row, err
	}
	before, records := s.requests.Load(), s.records.Load()
	if _, err := check("apply of 4 creates", 0)(b.gw(filepath.Dir(plus), s.broker, "apply", plus, "--auto-approve")); err != nil {
		return row, err
	}
	f.fourTotal = s.requests.Load() - before
	f.fourRecords = s.records.Load() - records
	f.fourRead = f.planReqs
	// The verification reads the gateway as it is after the creates (one
	// more page, perhaps): count it as a plan of the same site now.
	before = s.requests.Load()
	if _, err := check("plan after the 4 creates", 0)(b.gw(filepath.Dir(plus), s.broker, "plan", plus)); err != nil {
		return row, err
	}
	f.fourVerify = s.requests.Load() - before
	return row, nil
}

// applyRun: creates at 20 ms latency with the default parallelism and 1.
func (b *bench) applyRun(f *figures) error {
	// Only devices: the figure is writes × latency ÷ in flight.
	site, err := b.site(fmt.Sprintf("site-create-%d", f.creates), f.creates, 0, false)
	if err != nil {
		return err
	}
	dir := filepath.Dir(site)
	for _, par := range []int{4, 1} {
		state := filepath.Join(b.dir, fmt.Sprintf("gw-create-p%d.json", par))
		s, err := b.startSim(state, 20*time.Millisecond)
		if err != nil {
			return err
		}
		r, err := check("apply", 0)(b.gw(dir, s.broker, "apply", site, "--auto-approve", fmt.Sprintf("--parallelism=%d", par)))
		reqs := s.requests.Load()
		s.stop()
		_ = os.RemoveAll(filepath.Join(dir, ".gwsync"))
		if err != nil {
			return err
		}
		if par == 4 {
			f.p4, f.p4Reqs = r, reqs
		} else {
			f.p1 = r
		}
	}
	return nil
}

// fetchFloor is the minimal client: connect, then fetch every page gwsync's
// read fetches (the first page of each kind, then the other pages once its
// total is known), 4 in flight as gwsync's default window, decoding only
// the totals of first pages.
func fetchFloor(broker string) (time.Duration, int64, int, int, error) {
	start := time.Now()
	opts := paho.NewClientOptions().AddBroker(broker).SetClientID(fmt.Sprintf("bench-floor-%d", time.Now().UnixNano())).
		SetOrderMatters(false).SetCleanSession(true)
	var (
		mu      sync.Mutex
		waiting = map[string]chan []byte{}
	)
	opts.SetDefaultPublishHandler(func(paho.Client, paho.Message) {})
	cl := paho.NewClient(opts)
	if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return 0, 0, 0, 0, fmt.Errorf("connect: %v", tok.Error())
	}
	defer cl.Disconnect(0)
	tok := cl.Subscribe(respTopic, 0, func(_ paho.Client, m paho.Message) {
		p := m.Payload()
		// The id is the envelope's first member in gwsim's answers.
		i := strings.Index(string(p[:min(len(p), 80)]), `"id":"`)
		if i < 0 {
			return
		}
		rest := p[i+6:]
		j := strings.IndexByte(string(rest[:min(len(rest), 64)]), '"')
		if j < 0 {
			return
		}
		mu.Lock()
		ch := waiting[string(rest[:j])]
		delete(waiting, string(rest[:j]))
		mu.Unlock()
		if ch != nil {
			ch <- p
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return 0, 0, 0, 0, fmt.Errorf("subscribe: %v", tok.Error())
	}
	var seq atomic.Int64
	window := make(chan struct{}, 4)
	get := func(url string) ([]byte, error) {
		window <- struct{}{}
		defer func() { <-window }()
		id := fmt.Sprintf("f%d", seq.Add(1))
		ch := make(chan []byte, 1)
		mu.Lock()
		waiting[id] = ch
		mu.Unlock()
		msg, _ := json.Marshal(nsapi.Request{Type: "ns-api", ID: id, Method: "GET", URL: url, GatewayEUI: eui})
		if t := cl.Publish(reqTopic, 0, false, msg); !t.WaitTimeout(10*time.Second) || t.Error() != nil {
			return nil, fmt.Errorf("publish: %v", t.Error())
		}
		select {
		case p := <-ch:
			return p, nil
		case <-time.After(30 * time.Second):
			return nil, fmt.Errorf("GET %s: no answer", url)
		}
	}
	type kind struct {
		page     func(offset int) string
		totalKey string
	}
	kinds := []kind{
		{func(o int) string { return fmt.Sprintf("/api/urprofiles?limit=500&offset=%d", o) }, "totalCount"},
		{func(o int) string {
			return fmt.Sprintf("/api/urdevices?search=&limit=500&offset=%d&applicationID=0", o)
		}, "devTotalCount"},
		{func(o int) string {
			return fmt.Sprintf("/api/payloadcodecs?type=custom&search=&limit=500&offset=%d", o)
		}, "totalCount"},
		{func(o int) string {
			return fmt.Sprintf("/api/payloadcodecs-short?type=default&search=&limit=500&offset=%d", o)
		}, "totalCount"},
		{func(o int) string {
			return fmt.Sprintf("/api/multicast-groups?search=&order=asc&offset=%d&limit=500", o)
		}, "totalCount"},
		{func(o int) string { return fmt.Sprintf("/api/fuota/task?limit=500&offset=%d&search=", o) }, "total"},
	}
	var (
		wg    sync.WaitGroup
		pages atomic.Int64
		emu   sync.Mutex
		first error
	)
	fail := func(err error) {
		emu.Lock()
		if first == nil {
			first = err
		}
		emu.Unlock()
	}
	for _, k := range kinds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := get(k.page(0))
			if err != nil {
				fail(err)
				return
			}
			var env struct {
				Body map[string]json.RawMessage `json:"body"`
			}
			if err := json.Unmarshal(p, &env); err != nil {
				fail(err)
				return
			}
			var total nsapi.FlexInt
			_ = json.Unmarshal(env.Body[k.totalKey], &total)
			for o := 500; o < int(total); o += 500 {
				wg.Add(1)
				pages.Add(1)
				go func() {
					defer wg.Done()
					if _, err := get(k.page(o)); err != nil {
						fail(err)
					}
				}()
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return 0, 0, 0, 0, first
	}
	return time.Since(start), int64(len(kinds)) + pages.Load(), len(kinds), int(pages.Load()), nil
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}

func comma(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func (b *bench) report(f *figures, took time.Duration) {
	w := os.Stdout
	fmt.Fprintf(w, "gwsync benchmarks: %d CPUs, %s/%s, broker: %s\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, b.kind)
	if b.quick {
		fmt.Fprintln(w, "(--quick: smaller sizes; the goals are stated for the full run)")
	}
	fmt.Fprintln(w)

	plan, floor := median(f.plan), median(f.floor)
	ratio := plan.Seconds() / floor.Seconds()
	fmt.Fprintf(w, "plan, %s devices (+200 profiles, %d groups of 100), no changes (median of 3)\n", comma(f.planN), f.planN/100)
	fmt.Fprintf(w, "  %-44s %9s  %3d requests\n", "gwsync plan", secs(plan), f.planReqs)
	fmt.Fprintf(w, "  %-44s %9s  %3d requests = %d kinds + %d pages\n", "floor: a client that only fetches the pages", secs(floor), f.floorReqs, f.floorKinds, f.floorPages)
	fmt.Fprintf(w, "  %-44s %8.2fx  goal <= 1.5x: %s; requests = kinds + pages: %s\n", "plan / floor", ratio,
		verdict(ratio <= 1.5), verdict(f.planReqs == f.floorReqs))
	load := median(f.load)
	fmt.Fprintf(w, "  %-44s %9s  %.2fx the floor by itself\n", "site load alone (gwsync validate)", secs(load), load.Seconds()/floor.Seconds())
	fmt.Fprintf(w, "  %-44s %8.2fx  (1x: the read costs nothing beside the load)\n", "plan / (site load alone)", plan.Seconds()/load.Seconds())
	both := plan.Seconds() / (load + floor).Seconds()
	fmt.Fprintf(w, "  %-44s %8.2fx  goal <= 1.5x (the floor with the site's load in it): %s\n", "plan / (site load + floor)", both, verdict(both <= 1.5))
	fmt.Fprintln(w)

	limit := time.Duration(f.creates) * 20 * time.Millisecond / 4
	fmt.Fprintf(w, "apply, %s creates at 20 ms gateway latency\n", comma(f.creates))
	fmt.Fprintf(w, "  %-44s %9s  %d requests\n", "parallelism 4 (default)", secs(f.p4.wall), f.p4Reqs)
	fmt.Fprintf(w, "  %-44s %9s\n", fmt.Sprintf("limit: %s x 20 ms / 4 in flight", comma(f.creates)), secs(limit))
	r1 := f.p4.wall.Seconds() / limit.Seconds()
	fmt.Fprintf(w, "  %-44s %8.2fx  goal <= 1.2x: %s\n", "parallelism 4 / limit", r1, verdict(r1 <= 1.2))
	fmt.Fprintf(w, "  %-44s %9s\n", "parallelism 1", secs(f.p1.wall))
	r2 := f.p1.wall.Seconds() / f.p4.wall.Seconds()
	fmt.Fprintf(w, "  %-44s %8.2fx  goal >= 3x: %s\n", "speed-up of 4 over 1", r2, verdict(r2 >= 3))
	fmt.Fprintln(w)

	beyond := f.fourTotal - f.fourRead - f.fourVerify - f.fourRecords
	per := float64(beyond) / 4
	fmt.Fprintf(w, "4 creates on a %s-device gateway\n", comma(f.planN))
	fmt.Fprintf(w, "  %-44s %9d\n", "requests of the apply", f.fourTotal)
	fmt.Fprintf(w, "  %-44s %9d\n", "plan's read + verification read", f.fourRead+f.fourVerify)
	fmt.Fprintf(w, "  %-44s %9d  (once an apply, whatever it writes)\n", "the gateway's lock and record of gwsync's own", f.fourRecords)
	fmt.Fprintf(w, "  %-44s %9.2f  goal <= 2 (the write and its confirmation): %s\n", "beyond them, per write", per, verdict(per <= 2))
	fmt.Fprintln(w)

	fmt.Fprintln(w, "scale (gateway answering at once; peak RSS of the gwsync process)")
	fmt.Fprintf(w, "  %8s  %18s  %18s  %18s\n", "devices", "validate", "plan", "apply")
	top := 0.0
	for _, r := range f.scale {
		cell := func(x result) string { return fmt.Sprintf("%7s %6.0f MB", secs(x.wall), x.rssMB) }
		fmt.Fprintf(w, "  %8s  %18s  %18s  %18s\n", comma(r.n), cell(r.validate), cell(r.plan), cell(r.apply))
		top = max(top, r.validate.rssMB, r.plan.rssMB, r.apply.rssMB)
	}
	if len(f.scale) > 1 {
		a, z := f.scale[0], f.scale[len(f.scale)-1]
		k := float64(z.n) / float64(a.n)
		g := func(x, y result) float64 { return y.wall.Seconds() / x.wall.Seconds() }
		fmt.Fprintf(w, "  %8s  %17.1fx  %17.1fx  %17.1fx  (linear: %.0fx)\n", fmt.Sprintf("%dk/%dk", z.n/1000, a.n/1000),
			g(a.validate, z.validate), g(a.plan, z.plan), g(a.apply, z.apply), k)
	}
	fmt.Fprintf(w, "  peak RSS %.0f MB, goal < 200 MB: %s\n", top, verdict(top < 200))
	fmt.Fprintf(w, "\n(%s in all)\n", secs(took.Round(time.Second)))
}
