package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alecthomas/kong"
	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/google/go-cmp/cmp"
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

func TestSimCommand(t *testing.T) {
	state := filepath.Join(t.TempDir(), "gw.json")
	cmd := parseSimArgs(t, "--listen", "127.0.0.1:0", "--state", state, "--eui", "24e124fffe000009", "--channel-plan", "US915",
		"--request-topic", "gw/{eui}/req", "--response-topic", "gw/{eui}/resp", "--fail-write", "2:23")
	out, errOut := &simBuffer{}, &simBuffer{}
	env := &Env{Stdout: out, Stderr: errOut, Getenv: func(string) string { return "" }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.run(ctx, env) }()

	re := regexp.MustCompile(`^gwsim: gateway 24E124FFFE000009 \(US915\) on (tcp://127\.0\.0\.1:\d+), requests on gw/24E124FFFE000009/req, responses on gw/24E124FFFE000009/resp, state in ` + regexp.QuoteMeta(state) + "\n$")
	var url string
	deadline := time.Now().Add(10 * time.Second)
	for url == "" {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("sim ended early: %v; stdout %q", err, out.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no start line; stdout %q", out.String())
		}
	}

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
		{[]string{"--time-scale=-1"}, `--time-scale -1`},
		{[]string{"--channel-plan", "XX1"}, `XX1`},
		{[]string{"--listen", "256.1.1.1:1"}, `256.1.1.1:1`},
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
	cmd := parseSimArgs(t, "--fail-write", "3:9", "--fail-url", "multicast-groups:6", "--drop-response", "2")
	got, err := cmd.faults()
	if err != nil {
		t.Fatal(err)
	}
	var desc []string
	for _, f := range got {
		desc = append(desc, fmt.Sprintf("%s|%s|%d|%d|%d|%v", f.Method, f.URLContains, f.Nth, f.Code, f.Times, f.DropResponse))
	}
	want := []string{"||3|9|0|false", "|multicast-groups|0|6|-1|false", "||2|0|0|true"}
	if d := cmp.Diff(want, desc); d != "" {
		t.Errorf("faults (-want +got):\n%s", d)
	}
}
