package nsapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/gwsync/gwsync/gwsim"
	"github.com/gwsync/gwsync/nsapi"
)

// startMochi runs an embedded broker on a free 127.0.0.1 port. With users,
// only those user/password pairs may connect; without, anyone may.
func startMochi(t testing.TB, users map[string]string) string {
	t.Helper()
	s := mochi.New(&mochi.Options{InlineClient: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if users == nil {
		if err := s.AddHook(new(auth.AllowHook), nil); err != nil {
			t.Fatalf("broker: %v", err)
		}
	} else {
		var rules auth.AuthRules
		for u, p := range users {
			rules = append(rules, auth.AuthRule{Username: auth.RString(u), Password: auth.RString(p), Allow: true})
		}
		if err := s.AddHook(new(auth.Hook), &auth.Options{Ledger: &auth.Ledger{Auth: rules}}); err != nil {
			t.Fatalf("broker: %v", err)
		}
	}
	l := listeners.NewTCP(listeners.Config{ID: "t", Address: "127.0.0.1:0"})
	if err := s.AddListener(l); err != nil {
		t.Fatalf("broker: %v", err)
	}
	go func() { _ = s.Serve() }()
	t.Cleanup(func() { _ = s.Close() })
	return l.Address()
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func TestDialFailures(t *testing.T) {
	const secret = "s3cret-password"
	open := startMochi(t, map[string]string{"gwsync": "right"})
	silent := silentServer(t)
	cases := []struct {
		name   string
		cfg    nsapi.Config
		reason string // a part of the message saying why
	}{
		{"unreachable port", nsapi.Config{Broker: "tcp://" + freePort(t)}, "refused"},
		{"refused credentials", nsapi.Config{Broker: "tcp://" + open, Username: "gwsync", Password: secret}, "authorized"},
		{"TLS to a plain port", nsapi.Config{Broker: "ssl://" + open, InsecureSkipVerify: true}, "TLS handshake failed"},
		{"a server that never answers", nsapi.Config{Broker: "tcp://" + silent}, "no answer within"},
		{"unsupported scheme", nsapi.Config{Broker: "http://" + open}, "unsupported scheme"},
		{"missing CA file", nsapi.Config{Broker: "ssl://" + open, CAFile: "testdata/no-such-ca.pem"}, "CA file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.ConnectTimeout = time.Second
			cfg.RequestTopic, cfg.ResponseTopic = "req", "resp"
			done := make(chan error, 1)
			go func() {
				c, err := nsapi.Dial(context.Background(), cfg)
				if err == nil {
					_ = c.Close()
				}
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(time.Minute): // a hang, not a timing check
				t.Fatal("Dial did not return")
			}
			if err == nil {
				t.Fatal("Dial succeeded, want an error")
			}
			msg := err.Error()
			t.Log(msg)
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			if !strings.Contains(msg, strings.SplitN(cfg.Broker, "://", 2)[1]) {
				t.Errorf("error %q does not name the broker %s", msg, cfg.Broker)
			}
			if !strings.Contains(strings.ToLower(msg), strings.ToLower(tc.reason)) {
				t.Errorf("error %q does not say %q", msg, tc.reason)
			}
			if strings.Contains(msg, secret) {
				t.Errorf("error %q shows the password", msg)
			}
		})
	}
}

// silentServer accepts TCP connections and never says a word.
func silentServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				_ = c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	return l.Addr().String()
}

func TestDialWithCredentials(t *testing.T) {
	addr := startMochi(t, map[string]string{"gwsync": "right"})
	c, err := nsapi.Dial(context.Background(), nsapi.Config{
		Broker: "tcp://" + addr, Username: "gwsync", Password: "right",
		RequestTopic: "req", ResponseTopic: "resp", ConnectTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// responder is a minimal gateway on a broker: it answers every request on
// topic with a profile list naming the request id.
func responder(t *testing.T, addr, reqTopic, respTopic, eui string) {
	t.Helper()
	opts := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("responder-" + eui)
	cl := paho.NewClient(opts)
	if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("responder connect: %v", tok.Error())
	}
	t.Cleanup(func() { cl.Disconnect(100) })
	tok := cl.Subscribe(reqTopic, 0, func(c paho.Client, m paho.Message) {
		var req struct {
			Type, ID, Method, URL string
		}
		if json.Unmarshal(m.Payload(), &req) != nil || req.Type != "ns-api" {
			return // an answer on a shared topic
		}
		b, _ := json.Marshal(map[string]any{
			"id": req.ID, "gatewayEUI": eui, "method": req.Method, "url": req.URL,
			"body": map[string]any{"totalCount": "1", "result": []any{map[string]any{"name": "for-" + req.ID, "profile": map[string]any{}}}},
		})
		c.Publish(respTopic, 0, false, b)
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("responder subscribe: %v", tok.Error())
	}
}

func TestSharedTopicIgnoresEchoesAndOtherGateways(t *testing.T) {
	addr := startMochi(t, nil)
	// One topic for requests and answers, and two gateways answering.
	const topic = "site/ns-api"
	responder(t, addr, topic, topic, "24E124FFFEF5A6A8")
	responder(t, addr, topic, topic, "0242ACFFFE160007")
	c, err := nsapi.Dial(context.Background(), nsapi.Config{
		Broker: "tcp://" + addr, RequestTopic: topic, ResponseTopic: topic,
		GatewayEUI: "24e124fffef5a6a8", RequestTimeout: 10 * time.Second, Window: 8,
	})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	for range 20 {
		l, err := c.ListProfiles(context.Background())
		if err != nil {
			t.Fatalf("ListProfiles: %v", err)
		}
		if len(l.Result) != 1 || !strings.HasPrefix(l.Result[0].Name, "for-") {
			t.Fatalf("ListProfiles = %+v, want the answer to our request", l.Result)
		}
	}
	if got := c.GatewayEUI(); got != "24E124FFFEF5A6A8" {
		t.Errorf("GatewayEUI() = %q", got)
	}
}

func TestBrokerGoneIsUnknownOutcome(t *testing.T) {
	s := mochi.New(&mochi.Options{InlineClient: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	_ = s.AddHook(new(auth.AllowHook), nil)
	l := listeners.NewTCP(listeners.Config{ID: "t", Address: "127.0.0.1:0"})
	if err := s.AddListener(l); err != nil {
		t.Fatalf("broker: %v", err)
	}
	go func() { _ = s.Serve() }()
	c, err := nsapi.Dial(context.Background(), nsapi.Config{
		Broker: "tcp://" + l.Address(), RequestTopic: "req", ResponseTopic: "resp", RequestTimeout: 30 * time.Second,
	})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	errc := make(chan error, 1)
	go func() { errc <- c.DeleteProfile(context.Background(), "p-1") }()
	// Nobody answers; the broker goes away while the request waits.
	waitRequests(t, c, 1)
	_ = s.Close()
	err = <-errc
	var oe *nsapi.OutcomeError
	if !errors.As(err, &oe) || !errors.Is(err, nsapi.ErrUnknownOutcome) || strings.Contains(err.Error(), "timeout after") {
		t.Fatalf("got %v, want an *OutcomeError caused by the lost connection", err)
	}
}

// waitRequests waits until c has sent n requests (a few seconds at most).
func waitRequests(t *testing.T, c *nsapi.Client, n int64) {
	t.Helper()
	for range 1000 {
		if c.Requests() >= n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("the client sent %d requests, want %d", c.Requests(), n)
}

// retryUntil calls f until it succeeds, at most n times.
func retryUntil(n int, f func() error) error {
	var err error
	for range n {
		if err = f(); err == nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return err
}

func TestDroppedConnectionFailsInFlightAndReconnects(t *testing.T) {
	c, g := embedded(t, gwsim.Options{Latency: 50 * time.Millisecond}, nsapi.Config{Window: 4, RequestTimeout: 30 * time.Second})
	ctx := context.Background()
	// The gateway's broker drops the client that sends this request; the
	// other requests in flight fail with it, at once.
	g.Faults().Add(gwsim.Fault{Method: "DELETE", Disconnect: true})
	errs := make(chan error, 3)
	for i := range 3 {
		go func() {
			_, err := c.ListGroups(ctx, fmt.Sprint(i))
			errs <- err
		}()
	}
	waitRequests(t, c, 3)
	err := c.DeleteGroup(ctx, "g-1")
	if !errors.Is(err, nsapi.ErrUnknownOutcome) || strings.Contains(err.Error(), "timeout after") {
		t.Errorf("the request whose connection dropped: got %v, want an unknown outcome caused by the lost connection", err)
	}
	for range 3 {
		if err := <-errs; err != nil && !errors.Is(err, nsapi.ErrUnknownOutcome) {
			t.Errorf("request in flight at the drop: got %v, want an answer or an unknown outcome", err)
		}
	}
	// paho reconnects and subscribes again: requests work afterwards.
	err = retryUntil(50, func() error {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := c.ListProfiles(cctx)
		return err
	})
	if err != nil {
		t.Errorf("no request succeeded after the reconnect: %v", err)
	}
}

func TestDialOverWebsocket(t *testing.T) {
	g, err := gwsim.New(gwsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := gwsim.ServeEmbedded(ctx, g, "127.0.0.1:0", "req", "resp", gwsim.WithWebsocket("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if !strings.HasPrefix(srv.WSURL(), "ws://") {
		t.Fatalf("WSURL = %q", srv.WSURL())
	}
	c, err := nsapi.Dial(ctx, nsapi.Config{Broker: srv.WSURL(), RequestTopic: "req", ResponseTopic: "resp", GatewayEUI: g.EUI()})
	if err != nil {
		t.Fatalf("Dial %s: %v", srv.WSURL(), err)
	}
	defer c.Close()
	l, err := c.ListProfiles(ctx)
	if err != nil || len(l.Result) == 0 {
		t.Errorf("ListProfiles over ws:// = %v, %v", l, err)
	}
}

// A request made while paho reconnects waits for the connection and goes
// out on it: paho takes a QoS 0 message while reconnecting and drops it
// unsent, so the request used to wait for an answer until its timeout.
func TestRequestWhileReconnectingWaitsForTheConnection(t *testing.T) {
	c, g := embedded(t, gwsim.Options{}, nsapi.Config{RequestTimeout: 5 * time.Second})
	ctx := context.Background()
	g.Faults().Add(gwsim.Fault{Method: "DELETE", Disconnect: true})
	if err := c.DeleteGroup(ctx, "g-1"); !errors.Is(err, nsapi.ErrUnknownOutcome) {
		t.Fatalf("the request whose connection dropped: got %v, want an unknown outcome", err)
	}
	// Made at once, while paho reconnects: it must not be lost.
	start := time.Now()
	l, err := c.ListProfiles(ctx)
	if err != nil || len(l.Result) == 0 {
		t.Fatalf("a read made while the client reconnects: %v, %v (after %s)", l, err, time.Since(start))
	}
}

// TestLostNoticeAfterTheReconnect: paho starts the handler of a lost
// connection (which fails the requests in flight) beside its reconnect, on
// a goroutine of its own, and under load that handler can run after the
// reconnect is done. Here it is held until paho has reconnected: a read
// made then is not sent until the loss was handed on (else the late
// notice would fail a read sent on the new connection, or the client
// would wait for a connection it has), and is answered after it. So for a
// gateway's own connection, and for a fleet's shared one.
func TestLostNoticeAfterTheReconnect(t *testing.T) {
	t.Run("own connection", func(t *testing.T) {
		c, g := embedded(t, gwsim.Options{}, nsapi.Config{RequestTimeout: 5 * time.Second})
		lateNotice(t, g, c, c, func(f func()) { nsapi.SetBeforeLost(c, f) }, func() bool { return nsapi.ConnectionOpen(c) })
	})
	t.Run("shared connection", func(t *testing.T) {
		_, gws, shared := sharedFleet(t, []gwsim.Options{{EUI: "24E124FFFE320000"}, {EUI: "24E124FFFE320001"}}, "fleet/{eui}/response")
		var cs []*nsapi.Client
		for _, g := range gws {
			cl, err := nsapi.New(context.Background(), shared.Gateway("fleet/"+g.EUI()+"/request", "fleet/"+g.EUI()+"/response", g.EUI()),
				nsapi.Config{GatewayEUI: g.EUI(), RequestTimeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cl.Close() })
			cs = append(cs, cl)
		}
		lateNotice(t, gws[0], cs[0], cs[1], func(f func()) { nsapi.SetSharedBeforeLost(shared, f) },
			func() bool { return nsapi.SharedConnectionOpen(shared) })
	})
}

// lateNotice drops the connection with a write of dropper to g, holds the
// handler of the loss until paho has reconnected (open), and checks that a
// read of reader made meanwhile is sent only after the loss was handed on,
// and is answered.
func lateNotice(t *testing.T, g *gwsim.Gateway, dropper, reader *nsapi.Client, hook func(func()), open func() bool) {
	ctx := context.Background()
	held, release := make(chan struct{}), make(chan struct{})
	hook(func() {
		close(held)
		<-release
	})
	g.Faults().Add(gwsim.Fault{Method: "DELETE", Disconnect: true})
	deleted := make(chan error, 1)
	go func() { deleted <- dropper.DeleteGroup(ctx, "g-1") }()
	<-held
	for deadline := time.Now().Add(20 * time.Second); !open(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			close(release)
			t.Fatal("paho never reconnected")
		}
	}
	sent := reader.Requests()
	read := make(chan error, 1)
	go func() {
		l, err := reader.ListProfiles(ctx)
		if err == nil && len(l.Result) == 0 {
			err = errors.New("no profiles listed")
		}
		read <- err
	}()
	// A read the transport let out would be sent (and answered) well
	// within this; one held back is not sent at all.
	time.Sleep(300 * time.Millisecond)
	if n := reader.Requests(); n != sent {
		t.Errorf("%d requests sent on the new connection before the loss of the old one was handed on", n-sent)
	}
	close(release)
	if err := <-deleted; !errors.Is(err, nsapi.ErrUnknownOutcome) {
		t.Errorf("the request whose connection dropped: got %v, want an unknown outcome", err)
	}
	if err := <-read; err != nil {
		t.Errorf("the read made while the loss was not yet handed on: %v", err)
	}
}
