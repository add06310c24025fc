package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// simStart matches the start line of `gwsync sim` on gw/{eui}/req.
var simStart = regexp.MustCompile(`on (tcp://127\.0\.0\.1:\d+), requests on`)

// runSimEnv runs `gwsync sim ARGS…` on 127.0.0.1:0 with topics gw/{eui}/req
// and gw/{eui}/resp and the environment vars, until its start line.
func runSimEnv(t *testing.T, vars map[string]string, args ...string) (url string, stdout, stderr *simBuffer) {
	t.Helper()
	cmd := parseSimArgs(t, append([]string{"--listen", "127.0.0.1:0", "--state", filepath.Join(t.TempDir(), "s.json"),
		"--request-topic", "gw/{eui}/req", "--response-topic", "gw/{eui}/resp"}, args...)...)
	stdout, stderr = &simBuffer{}, &simBuffer{}
	env := &Env{Stdout: stdout, Stderr: stderr, Getenv: func(k string) string { return vars[k] }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.run(ctx, env) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("sim: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("sim did not stop")
		}
	})
	deadline := time.After(10 * time.Second)
	for {
		if m := simStart.FindStringSubmatch(stdout.String()); m != nil {
			return m[1], stdout, stderr
		}
		select {
		case err := <-done:
			t.Fatalf("sim ended early: %v; stdout %q, stderr %q", err, stdout, stderr)
		case <-deadline:
			t.Fatalf("no start line; stdout %q", stdout)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// brokerClient is an MQTT client of a simulator on gw/24E124FFFEF5A6A8/….
type brokerClient struct {
	c       paho.Client
	answers chan map[string]any
	lost    chan error
}

func dialSim(url, user, pass string) (*brokerClient, error) {
	s := &brokerClient{answers: make(chan map[string]any, 10), lost: make(chan error, 1)}
	s.c = paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(fmt.Sprintf("sim-broker-test-%d", time.Now().UnixNano())).
		SetUsername(user).SetPassword(pass).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second).
		SetConnectionLostHandler(func(_ paho.Client, err error) { s.lost <- err }))
	if tok := s.c.Connect(); !tok.WaitTimeout(10 * time.Second) {
		return nil, fmt.Errorf("connect timed out")
	} else if tok.Error() != nil {
		return nil, tok.Error()
	}
	tok := s.c.Subscribe("gw/24E124FFFEF5A6A8/resp", 0, func(_ paho.Client, m paho.Message) {
		var v map[string]any
		if json.Unmarshal(m.Payload(), &v) == nil {
			s.answers <- v
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		s.c.Disconnect(0)
		return nil, fmt.Errorf("subscribe: %v", tok.Error())
	}
	return s, nil
}

// ask publishes a raw request message and returns the answer's body.
func (s *brokerClient) ask(t *testing.T, msg string) map[string]any {
	t.Helper()
	s.c.Publish("gw/24E124FFFEF5A6A8/req", 0, false, msg).WaitTimeout(10 * time.Second)
	select {
	case a := <-s.answers:
		b, _ := a["body"].(map[string]any)
		return b
	case err := <-s.lost:
		t.Fatalf("%.80s: connection lost: %v", msg, err)
	case <-time.After(10 * time.Second):
		t.Fatalf("%.80s: no answer", msg)
	}
	return nil
}

// TestSimOverflow: the anonymous message that crashed `gwsync sim` through
// an integer overflow is answered with code 3, and the simulator goes on.
func TestSimOverflow(t *testing.T) {
	url, _, _ := runSimEnv(t, nil)
	c, err := dialSim(url, "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.c.Disconnect(0)
	body := c.ask(t, `{"type":"ns-api","id":"x1","method":"GET","url":"/api/urprofiles?limit=9223372036854775807&offset=1"}`)
	if body["code"] != 3.0 {
		t.Errorf("overflowing limit: body %v, want code 3", body)
	}
	body = c.ask(t, `{"type":"ns-api","id":"x2","method":"GET","url":"/api/urprofiles?limit=2&offset=1"}`)
	if r, _ := body["result"].([]any); len(r) != 2 {
		t.Errorf("after it: body %v, want 2 profiles", body)
	}
}

// TestSimLogin: `gwsync sim --username U` with the password from
// GWSYNC_SIM_PASSWORD refuses a wrong password and anonymous clients,
// serves the right login, and prints the password nowhere.
func TestSimLogin(t *testing.T) {
	const pass = "Sim-Pa55-7f3c"
	url, stdout, stderr := runSimEnv(t, map[string]string{"GWSYNC_SIM_PASSWORD": pass}, "--username", "ci")
	for _, login := range [][2]string{{"ci", "wrong"}, {"", ""}, {"other", pass}} {
		if c, err := dialSim(url, login[0], login[1]); err == nil {
			c.c.Disconnect(0)
			t.Errorf("user %q password %q: admitted", login[0], login[1])
		}
	}
	c, err := dialSim(url, "ci", pass)
	if err != nil {
		t.Fatalf("the right login: %v", err)
	}
	defer c.c.Disconnect(0)
	if body := c.ask(t, `{"type":"ns-api","id":"l1","method":"GET","url":"/api/urprofiles"}`); body["result"] == nil {
		t.Errorf("answer %v: want the profile list", body)
	}
	if out := stdout.String() + stderr.String(); strings.Contains(out, pass) || strings.Contains(out, "warning") {
		t.Errorf("output %q: shows the password or warns", out)
	}

	// The flags alone, and the flags over the environment.
	url, _, _ = runSimEnv(t, map[string]string{"GWSYNC_SIM_USERNAME": "env", "GWSYNC_SIM_PASSWORD": "env-pass"},
		"--username", "flag", "--password", "flag-pass")
	if c, err := dialSim(url, "env", "env-pass"); err == nil {
		c.c.Disconnect(0)
		t.Error("the environment's login admitted over the flags'")
	}
	c2, err := dialSim(url, "flag", "flag-pass")
	if err != nil {
		t.Fatalf("the flags' login: %v", err)
	}
	c2.c.Disconnect(0)
}

// TestSimMaxMessage: a message above --max-message costs its sender the
// connection and changes nothing; the simulator goes on serving.
func TestSimMaxMessage(t *testing.T) {
	url, _, _ := runSimEnv(t, nil, "--max-message", "2048")
	big, err := dialSim(url, "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer big.c.Disconnect(0)
	big.c.Publish("gw/24E124FFFEF5A6A8/req", 0, false, `{"type":"ns-api","id":"big","method":"POST","url":"/api/urdevices",`+
		`"body":{"devEUI":"24E1241300000001","applicationID":"1","description":"`+strings.Repeat("x", 2048)+`"}}`)
	select {
	case <-big.lost:
	case a := <-big.answers:
		t.Fatalf("an oversize message was answered: %v", a)
	case <-time.After(10 * time.Second):
		t.Fatal("the sender of an oversize message kept its connection")
	}
	c, err := dialSim(url, "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.c.Disconnect(0)
	body := c.ask(t, `{"type":"ns-api","id":"after","method":"GET","url":"/api/urdevices"}`)
	if body["devTotalCount"] != "0" && body["devTotalCount"] != 0.0 {
		t.Errorf("devices after the oversize create: %v, want none", body)
	}
}

func TestSimBrokerFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		vars map[string]string
		want string
	}{
		{[]string{"--username", "u"}, nil, "--username: needs a password"},
		{[]string{"--password", "Pw-9x"}, nil, "--password: needs a username"},
		{nil, map[string]string{"GWSYNC_SIM_PASSWORD": "Pw-9x"}, "--password: needs a username"},
		{[]string{"--max-message", "100"}, nil, "--max-message 100: want 1024 to"},
		{[]string{"--max-message=-1"}, nil, "--max-message -1"},
		{[]string{"--username", "u", "--password", "Pw-9x", "--broker", "tcp://127.0.0.1:1"}, nil, "--username: sets the embedded broker"},
		{[]string{"--max-message", "4096", "--broker", "tcp://127.0.0.1:1"}, nil, "--max-message: sets the embedded broker"},
	} {
		cmd := parseSimArgs(t, append(tc.args, "--listen", "127.0.0.1:0", "--state", filepath.Join(t.TempDir(), "s.json"))...)
		stderr := &simBuffer{}
		env := &Env{Stdout: &simBuffer{}, Stderr: stderr, Getenv: func(k string) string { return tc.vars[k] }}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := cmd.run(ctx, env)
		cancel()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: error %v, want one naming %s", tc.args, tc.vars, err, tc.want)
		}
		if strings.Contains(fmt.Sprint(err)+stderr.String(), "Pw-9x") {
			t.Errorf("%v: the password is shown: %v", tc.args, err)
		}
	}
}

// TestSimAnonymousWarning: an anonymous broker on an address others can
// reach is warned about; loopback addresses are not.
func TestSimAnonymousWarning(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:1883": false, "[::1]:1883": false, "localhost:1883": false, "127.1.2.3:1883": false,
		"0.0.0.0:1883": true, "[::]:1883": true, ":1883": true, "192.168.1.10:1883": true, "gw.example:1883": true,
	} {
		stderr := &simBuffer{}
		warnAnonymous(&Env{Stderr: stderr}, addr, "")
		if got := strings.Contains(stderr.String(), "warning: the embedded broker on "+addr+" admits anyone"); got != want {
			t.Errorf("%s: warned %v, want %v (%q)", addr, got, want, stderr)
		}
		stderr = &simBuffer{}
		warnAnonymous(&Env{Stderr: stderr}, addr, "ci")
		if stderr.String() != "" {
			t.Errorf("%s with a login: %q", addr, stderr)
		}
	}
}
