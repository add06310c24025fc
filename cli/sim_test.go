package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alecthomas/kong"
	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/google/go-cmp/cmp"
	"github.com/gwsync/gwsync/nsapi"
)

// simBuffer is a bytes.Buffer safe for one writer and one reader.
type simBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *simBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *simBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// parseSim parses `gwsync sim ARGS…` with the real grammar.
func parseSimArgs(t *testing.T, args ...string) *SimCmd {
	t.Helper()
	var grammar CLI
	p, err := kong.New(&grammar, kong.Name("gwsync"), kong.Exit(func(int) { t.Fatalf("kong exit for %v", args) }))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Parse(append([]string{"sim"}, args...)); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	return &grammar.Sim
}

// startSim runs `gwsync sim ARGS…` (with --listen 127.0.0.1:0 and the
// topics gw/{eui}/req and gw/{eui}/resp) until its start line names the
// broker URL; start matches that line with the URL as its first group.
func startSim(t *testing.T, start *regexp.Regexp, args ...string) (url string, out *simBuffer, cancel func(), done <-chan error) {
	t.Helper()
	return startSimWith(t, start, nil, args...)
}

// startSimWith is startSim, with setup, when not nil, called on the parsed
// command before it runs.
func startSimWith(t *testing.T, start *regexp.Regexp, setup func(*SimCmd), args ...string) (url string, out *simBuffer, cancel func(), done <-chan error) {
	t.Helper()
	cmd := parseSimArgs(t, append([]string{"--listen", "127.0.0.1:0",
		"--request-topic", "gw/{eui}/req", "--response-topic", "gw/{eui}/resp"}, args...)...)
	if setup != nil {
		setup(cmd)
	}
	out = &simBuffer{}
	env := &Env{Stdout: out, Stderr: &simBuffer{}, Getenv: func(string) string { return "" }}
	ctx, cancel := context.WithCancel(context.Background())
	// ch gives the caller the result; finished tells the cleanup that the
	// simulator stopped, whether or not the test already took the result.
	ch := make(chan error, 1)
	finished := make(chan struct{})
	go func() { ch <- cmd.run(ctx, env); close(finished) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-finished:
		case <-time.After(10 * time.Second):
			t.Error("the simulator did not stop within 10 s of its cancel")
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := start.FindStringSubmatch(out.String()); m != nil {
			return m[1], out, cancel, ch
		}
		select {
		case err := <-ch:
			t.Fatalf("sim ended early: %v; stdout %q", err, out.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no start line; stdout %q", out.String())
		}
	}
}

func TestSimCommand(t *testing.T) {
	state := filepath.Join(t.TempDir(), "gw.json")
	re := regexp.MustCompile(`^gwsim: gateway 24E124FFFE000009 \(US915\) on (tcp://127\.0\.0\.1:\d+), requests on gw/24E124FFFE000009/req, responses on gw/24E124FFFE000009/resp, state in ` + regexp.QuoteMeta(state) + "\n$")
	url, out, cancel, done := startSim(t, re, "--state", state, "--eui", "24e124fffe000009", "--channel-plan", "US915",
		"--fail-write", "2:23")

	answers := make(chan map[string]any, 10)
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("sim-test").SetConnectTimeout(5 * time.Second))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(0)
	tok := c.Subscribe("gw/24E124FFFE000009/resp", 0, func(_ paho.Client, m paho.Message) {
		var v map[string]any
		if json.Unmarshal(m.Payload(), &v) == nil {
			answers <- v
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	var codes []any
	for i, eui := range []string{"24E1241300000001", "24E1241300000002", "24E1241300000003"} {
		req, _ := json.Marshal(map[string]any{"type": "ns-api", "id": eui, "method": "POST", "url": "/api/urdevices",
			"body": map[string]any{"devEUI": eui, "applicationID": "1"}})
		c.Publish("gw/24E124FFFE000009/req", 0, false, req).WaitTimeout(10 * time.Second)
		select {
		case a := <-answers:
			codes = append(codes, a["body"].(map[string]any)["code"])
		case <-time.After(10 * time.Second):
			t.Fatalf("no answer to request %d", i+1)
		}
	}
	if d := cmp.Diff([]any{200.0, 23.0, 200.0}, codes); d != "" {
		t.Errorf("codes with --fail-write 2:23 (-want +got):\n%s", d)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("sim: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sim did not stop when its context ended")
	}
	if !strings.HasSuffix(out.String(), "gwsim: stopped; state saved in "+state+"\n") {
		t.Errorf("stdout %q: want the stop line last", out.String())
	}
	b, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"24E1241300000001", "24E1241300000003", `"channelPlan": "US915"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("state file lacks %s", want)
		}
	}
	if strings.Contains(string(b), "24E1241300000002") {
		t.Error("state file holds the device whose create was refused")
	}
}

func TestSimFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--fail-write", "x:23"}, `--fail-write "x:23"`},
		{[]string{"--fail-write", "0:23"}, `--fail-write "0:23"`},
		{[]string{"--fail-write", "1"}, `--fail-write "1"`},
		{[]string{"--fail-url", "/api/urdevices:abc"}, `--fail-url "/api/urdevices:abc"`},
		{[]string{"--drop-response", "0"}, `--drop-response 0`},
		{[]string{"--drop-request", "1,0"}, `--drop-request 0`},
		{[]string{"--disconnect=-2"}, `--disconnect -2`},
		{[]string{"--disconnect", "1", "--broker", "tcp://127.0.0.1:1"}, `--disconnect: needs the embedded broker`},
		{[]string{"--time-scale=-1"}, `--time-scale -1`},
		{[]string{"--channel-plan", "XX1"}, `XX1`},
		{[]string{"--listen", "256.1.1.1:1"}, `256.1.1.1:1`},
		{[]string{"--application", "lab=0"}, `--application: application "lab=0": id "0"`},
		{[]string{"--application", "=3"}, `--application: application "=3": empty name`},
		{[]string{"--application", "cloud=2"}, `application "cloud": the gateway holds it with id 1, not 2`},
	} {
		cmd := parseSimArgs(t, append(tc.args, "--state", filepath.Join(t.TempDir(), "s.json"))...)
		env := &Env{Stdout: &simBuffer{}, Stderr: &simBuffer{}, Getenv: func(string) string { return "" }}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := cmd.run(ctx, env)
		cancel()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one naming %s", tc.args, err, tc.want)
		}
	}
}

func TestSimFaultFlags(t *testing.T) {
	cmd := parseSimArgs(t, "--fail-write", "3:9", "--fail-url", "multicast-groups:6", "--drop-response", "2",
		"--drop-request", "4,5", "--disconnect", "6", "--disconnect", "8")
	got, err := cmd.faults()
	if err != nil {
		t.Fatal(err)
	}
	var desc []string
	for _, f := range got {
		desc = append(desc, fmt.Sprintf("%s|%s|%d|%d|%d|%v|%v|%v", f.Method, f.URLContains, f.Nth, f.Code, f.Times,
			f.DropResponse, f.DropRequest, f.Disconnect))
	}
	want := []string{
		"||3|9|0|false|false|false",
		"|multicast-groups|0|6|-1|false|false|false",
		"||2|0|0|true|false|false",
		"||4|0|0|false|true|false",
		"||5|0|0|false|true|false",
		"||6|0|0|false|false|true",
		"||8|0|0|false|false|true",
	}
	if d := cmp.Diff(want, desc); d != "" {
		t.Errorf("faults (-want +got):\n%s", d)
	}
}

// TestSimDisconnect drives `gwsync sim --disconnect 2 --drop-request 3` with
// an ns-api client: the 2nd write loses the client its connection, the
// client reconnects on its own, the 3rd write goes unanswered, the 4th
// works, and only the 1st and the 4th took effect.
func TestSimDisconnect(t *testing.T) {
	t.Parallel() // its own simulator, broker and state file; no environment
	state := filepath.Join(t.TempDir(), "gw.json")
	re := regexp.MustCompile(`^gwsim: gateway \S+ \(\S+\) on (tcp://127\.0\.0\.1:\d+),`)
	url, _, _, _ := startSim(t, re, "--state", state, "--eui", "24E124FFFE00000A", "--disconnect", "2", "--drop-request", "3")

	var logMu sync.Mutex
	var clientLog []string
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := nsapi.Dial(ctx, nsapi.Config{Broker: url, RequestTopic: "gw/24E124FFFE00000A/req",
		ResponseTopic: "gw/24E124FFFE00000A/resp", GatewayEUI: "24E124FFFE00000A", RequestTimeout: 3 * time.Second,
		Logf: func(format string, args ...any) {
			logMu.Lock()
			clientLog = append(clientLog, fmt.Sprintf(format, args...))
			logMu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	createIn := func(ctx context.Context, eui string) error {
		return c.CreateDevice(ctx, nsapi.DeviceWrite{DevEUI: eui, Name: "dev-" + eui[len(eui)-2:], ApplicationID: "1",
			ProfileID: "8f3c1b6e-4a2d-4e59-9b1a-0c7d2e5f6a01", PayloadCodecID: "0", AppKey: "000102030405060708090a0b0c0d0e0f"})
	}
	create := func(eui string) error { return createIn(ctx, eui) }

	if err := create("24E1241300000001"); err != nil {
		t.Fatalf("1st write: %v", err)
	}
	err = create("24E1241300000002")
	if !errors.Is(err, nsapi.ErrUnknownOutcome) {
		t.Fatalf("2nd write (--disconnect 2): error %v, want an unknown outcome", err)
	}
	logMu.Lock()
	lost := strings.Contains(strings.Join(clientLog, "\n"), "ns-api: connection lost")
	logMu.Unlock()
	if !lost {
		t.Errorf("the client did not lose its connection; its log:\n%s", strings.Join(clientLog, "\n"))
	}

	// The client reconnects on its own; reads do not count as writes. A
	// read sent while the client is still reconnecting is dropped unsent
	// (paho drops a QoS 0 publish then) and would wait out the whole
	// RequestTimeout: each try has a deadline of its own, short at first
	// and doubled up to the RequestTimeout on every try, so that the first
	// read after the reconnect ends the wait, and a slow machine's reads
	// get the time they need.
	var devices *nsapi.DeviceList
	for try := 250 * time.Millisecond; ; try = min(2*try, 3*time.Second) {
		tctx, tcancel := context.WithTimeout(ctx, try)
		devices, err = c.ListDevices(tctx, nsapi.DeviceQuery{})
		tcancel()
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the client did not reconnect: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if d := cmp.Diff([]string{"24E1241300000001"}, deviceEUIs(devices)); d != "" {
		t.Errorf("devices after the disconnected write (-want +got):\n%s", d)
	}

	// No answer comes: a deadline of the caller's ends the wait (the
	// devices listed at the end show the write was not performed).
	dropCtx, dropCancel := context.WithTimeout(ctx, 300*time.Millisecond)
	err = createIn(dropCtx, "24E1241300000003")
	dropCancel()
	if !errors.Is(err, nsapi.ErrUnknownOutcome) {
		t.Fatalf("3rd write (--drop-request 3): error %v, want an unknown outcome", err)
	}
	if err := create("24E1241300000004"); err != nil {
		t.Fatalf("4th write: %v", err)
	}
	if devices, err = c.ListDevices(ctx, nsapi.DeviceQuery{}); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"24E1241300000001", "24E1241300000004"}, deviceEUIs(devices)); d != "" {
		t.Errorf("devices at the end (-want +got):\n%s", d)
	}
}

func deviceEUIs(l *nsapi.DeviceList) []string {
	var out []string
	for _, d := range l.DeviceResult {
		out = append(out, strings.ToUpper(d.DevEUI))
	}
	sort.Strings(out)
	return out
}

// TestSimApplicationsAndQuirks runs `gwsync sim --application building-b
// --application lab=7 --quirks spec-examples`: the gateway holds the
// applications (kept in its state file even when only read), and answers
// the codec create on the plural spelling with code 21, as the examples'
// gateway would.
func TestSimApplicationsAndQuirks(t *testing.T) {
	state := filepath.Join(t.TempDir(), "gw.json")
	re := regexp.MustCompile(`^gwsim: gateway \S+ \(\S+\) on (tcp://127\.0\.0\.1:\d+),`)
	url, _, cancelSim, done := startSim(t, re, "--state", state, "--eui", "24E124FFFE00000B",
		"--application", "building-b", "--application", "lab=7", "--quirks", "spec-examples")
	var logMu sync.Mutex
	var clientLog []string
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := nsapi.Dial(ctx, nsapi.Config{Broker: url, RequestTopic: "gw/24E124FFFE00000B/req",
		ResponseTopic: "gw/24E124FFFE00000B/resp", GatewayEUI: "24E124FFFE00000B", RequestTimeout: 5 * time.Second,
		Logf: func(format string, args ...any) {
			logMu.Lock()
			clientLog = append(clientLog, fmt.Sprintf(format, args...))
			logMu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	l, err := c.ListDevices(ctx, nsapi.DeviceQuery{})
	if err != nil {
		t.Fatal(err)
	}
	want := []nsapi.Application{{ApplicationID: "1", AppName: "cloud"}, {ApplicationID: "2", AppName: "building-b"}, {ApplicationID: "7", AppName: "lab"}}
	if d := cmp.Diff(want, l.AppResult); d != "" {
		t.Errorf("applications (-want +got):\n%s", d)
	}
	if _, err := c.CreateCodec(ctx, nsapi.CodecWrite{Name: "k", DecoderScript: "x"}); err != nil {
		t.Fatalf("CreateCodec: %v", err)
	}
	logMu.Lock()
	fellBack := strings.Contains(strings.Join(clientLog, "\n"), "code 21, retrying as /api/payloadcodec")
	logMu.Unlock()
	if !fellBack {
		t.Errorf("the codec create was not refused on /api/payloadcodecs: --quirks spec-examples not in effect")
	}
	c.Close()
	cancelSim()
	if err := <-done; err != nil {
		t.Fatalf("sim: %v", err)
	}
	b, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"building-b"`) {
		t.Errorf("the state file does not hold application building-b")
	}
}
