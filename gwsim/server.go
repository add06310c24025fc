package gwsim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/gwsync/gwsync/internal/redact"
)

// ServeOption configures ServeEmbedded.
type ServeOption func(*serveConfig)

type serveConfig struct {
	user, pass string
	wsAddr     string
	maxMessage int
}

// DefaultMaxMessage is the largest MQTT packet (a request, its topic
// included) the embedded broker takes by default: above the largest
// legitimate request, a FUOTA task carrying the largest firmware a site
// may declare (16383 fragments of 250 bytes, 5.2 MiB in base64; see
// TestLargestRequestFits), and far below what would strain the machine.
const DefaultMaxMessage = 8 << 20

// WithAuth makes the embedded broker accept only clients that give this
// username and password (default: anonymous clients are allowed). Both
// must be given.
func WithAuth(username, password string) ServeOption {
	return func(c *serveConfig) { c.user, c.pass = username, password }
}

// WithMaxMessage sets the largest MQTT packet, in bytes, the embedded
// broker takes from a client (default DefaultMaxMessage). A client that
// sends a larger one is disconnected; its message reaches no one.
func WithMaxMessage(n int) ServeOption {
	return func(c *serveConfig) { c.maxMessage = n }
}

// WithWebsocket adds a websocket listener on addr (host:port; port 0 picks
// one), so ws:// clients can be tested; see Server.WSURL.
func WithWebsocket(addr string) ServeOption {
	return func(c *serveConfig) { c.wsAddr = addr }
}

// Server is a gateway attached to an MQTT broker: its own embedded one
// (ServeEmbedded) or another (ServeOnBroker).
type Server struct {
	g             *Gateway
	requestTopic  string
	responseTopic string
	addr, wsAddr  string

	mq   *mqtt.Server // embedded broker
	paho paho.Client  // client of another broker
	// attached is the inline subscription id of a gateway served on
	// another Server's embedded broker (Attach); 0 when s owns mq.
	attached int

	mu     sync.Mutex
	closed bool
	stop   chan struct{}
	wg     sync.WaitGroup
}

// expandTopic replaces {eui} with the gateway EUI.
func expandTopic(topic, eui string) string { return strings.ReplaceAll(topic, "{eui}", eui) }

// ServeEmbedded starts an MQTT broker (mochi-mqtt) on listenAddr (tcp;
// "127.0.0.1:0" picks a port) with the gateway attached: it subscribes to
// requestTopic and answers on responseTopic ({eui} in either is replaced by
// the gateway EUI). Anonymous clients are allowed unless WithAuth is given;
// a client that sends a packet larger than WithMaxMessage (default
// DefaultMaxMessage) is disconnected. A Disconnect fault drops the client
// that sent the request. The server stops when ctx ends or on Close.
func ServeEmbedded(ctx context.Context, g *Gateway, listenAddr, requestTopic, responseTopic string, opts ...ServeOption) (*Server, error) {
	var cfg serveConfig
	for _, o := range opts {
		o(&cfg)
	}
	if requestTopic == "" || responseTopic == "" {
		return nil, errors.New("gwsim server: request and response topics are required")
	}
	s := &Server{g: g, requestTopic: expandTopic(requestTopic, g.EUI()), responseTopic: expandTopic(responseTopic, g.EUI()),
		stop: make(chan struct{})}
	if !mqtt.IsValidFilter(s.requestTopic, false) || strings.ContainsAny(s.responseTopic, "+#") {
		return nil, fmt.Errorf("gwsim server: invalid topics %q, %q", s.requestTopic, s.responseTopic)
	}
	if cfg.maxMessage == 0 {
		cfg.maxMessage = DefaultMaxMessage
	}
	if cfg.maxMessage < MinMaxMessage || cfg.maxMessage > MaxMaxMessage {
		return nil, fmt.Errorf("gwsim server: maximum message size %d: want %d–%d bytes", cfg.maxMessage, MinMaxMessage, MaxMaxMessage)
	}
	if (cfg.user == "") != (cfg.pass == "") {
		return nil, errors.New("gwsim server: a login needs both a username and a password")
	}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = uint32(cfg.maxMessage)
	mq := mqtt.New(&mqtt.Options{InlineClient: true, Capabilities: caps, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	var err error
	if cfg.user != "" {
		// Users, not Auth rules: a user's password is compared whole,
		// where a rule's would take "*" as a wildcard. No ACL rule lets an
		// authenticated client use every topic.
		err = mq.AddHook(new(auth.Hook), &auth.Options{Ledger: &auth.Ledger{
			Users: auth.Users{cfg.user: auth.UserRule{Username: auth.RString(cfg.user), Password: auth.RString(cfg.pass)}},
		}})
	} else {
		err = mq.AddHook(new(auth.AllowHook), nil)
	}
	if err != nil {
		return nil, fmt.Errorf("gwsim server: %w", err)
	}
	tcp := newTCPListener("tcp", listenAddr)
	if err := mq.AddListener(tcp); err != nil {
		return nil, fmt.Errorf("gwsim server: listen on %s: %w", listenAddr, err)
	}
	s.addr = tcp.Address()
	if cfg.wsAddr != "" {
		// The websocket listener reports the address it was given, so a
		// port 0 is resolved here first.
		ln, err := net.Listen("tcp", cfg.wsAddr)
		if err != nil {
			_ = mq.Close()
			return nil, fmt.Errorf("gwsim server: websocket listen on %s: %w", cfg.wsAddr, err)
		}
		s.wsAddr = ln.Addr().String()
		_ = ln.Close()
		if err := mq.AddListener(listeners.NewWebsocket(listeners.Config{ID: "ws", Address: s.wsAddr})); err != nil {
			_ = mq.Close()
			return nil, fmt.Errorf("gwsim server: websocket: %w", err)
		}
	}
	if err := mq.Serve(); err != nil {
		_ = mq.Close()
		return nil, fmt.Errorf("gwsim server: %w", err)
	}
	s.mq = mq
	if err := mq.Subscribe(s.requestTopic, 1, func(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
		s.request(pk.Payload, pk.Origin)
	}); err != nil {
		_ = mq.Close()
		return nil, fmt.Errorf("gwsim server: subscribe %s: %w", s.requestTopic, err)
	}
	if cfg.wsAddr != "" {
		if err := waitListening(ctx, s.wsAddr); err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("gwsim server: websocket: %w", err)
		}
	}
	context.AfterFunc(ctx, func() { _ = s.Close() })
	return s, nil
}

// waitListening waits (bounded) until addr accepts connections.
func waitListening(ctx context.Context, addr string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// request runs one request message asynchronously (after the delay).
func (s *Server) request(payload []byte, origin string) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	msg := bytes.Clone(payload)
	go func() {
		defer s.wg.Done()
		if d := s.g.faults.delay(); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-s.stop:
				t.Stop()
				return
			}
		}
		resp, act := s.g.handle(msg, s.mq != nil)
		if act == actDisconnect {
			s.disconnect(origin)
			return
		}
		if resp != nil {
			s.publish(resp)
		}
	}()
}

func (s *Server) publish(resp []byte) {
	if s.mq != nil {
		if err := s.mq.Publish(s.responseTopic, resp, false, 0); err != nil {
			s.g.logf("gwsim: publish answer: %v", err)
		}
		return
	}
	t := s.paho.Publish(s.responseTopic, 0, false, resp)
	if !t.WaitTimeout(10 * time.Second) {
		s.g.logf("gwsim: publish answer: timed out")
	} else if err := t.Error(); err != nil {
		s.g.logf("gwsim: publish answer: %v", err)
	}
}

// disconnect drops the client origin, or every network client when it
// cannot be found (embedded broker only).
func (s *Server) disconnect(origin string) {
	cause := ErrDisconnected
	if cl, ok := s.mq.Clients.Get(origin); ok && !cl.Net.Inline {
		cl.Stop(cause)
		return
	}
	for _, cl := range s.mq.Clients.GetAll() {
		if !cl.Net.Inline {
			cl.Stop(cause)
		}
	}
}

// ServeOnBroker attaches the gateway to another broker (e.g. Mosquitto) as
// an MQTT client of brokerURL (tcp:// or ws://), subscribed to
// requestTopic and answering on responseTopic ({eui} replaced). Disconnect
// faults are not supported there: they are logged and ignored (the request
// is performed and answered as if there were no fault). It stops when ctx
// ends or on Close.
func ServeOnBroker(ctx context.Context, g *Gateway, brokerURL, requestTopic, responseTopic string, user, pass string) (*Server, error) {
	if requestTopic == "" || responseTopic == "" {
		return nil, errors.New("gwsim client: request and response topics are required")
	}
	// Messages name the broker without its password (redact.URL), and
	// what paho says passes through the same redaction.
	if _, err := redact.ParseURL(brokerURL); err != nil {
		return nil, fmt.Errorf("gwsim client: %w", err)
	}
	shown, secrets := redact.URL(brokerURL), redact.Secrets(append(redact.URLPasswords(brokerURL), pass)...)
	s := &Server{g: g, requestTopic: expandTopic(requestTopic, g.EUI()), responseTopic: expandTopic(responseTopic, g.EUI()),
		addr: shown, stop: make(chan struct{})}
	handler := func(_ paho.Client, m paho.Message) { s.request(m.Payload(), "") }
	// The subscription is made on every connection (a reconnection has a
	// clean session); the first one is waited for below, as paho runs this
	// handler after Connect has returned, and a request published before
	// the broker has the subscription is lost.
	subscribed := make(chan error, 1)
	var first sync.Once
	o := paho.NewClientOptions().AddBroker(brokerURL).SetClientID("gwsim-" + newUUID()[:8]).
		SetUsername(user).SetPassword(pass).SetAutoReconnect(true).SetCleanSession(true).
		SetConnectTimeout(10 * time.Second).
		SetOnConnectHandler(func(c paho.Client) {
			t := c.Subscribe(s.requestTopic, 0, handler)
			var err error
			if !t.WaitTimeout(10 * time.Second) {
				err = errors.New("no answer from the broker")
			} else {
				err = t.Error()
			}
			if err != nil {
				g.logf("gwsim: subscribe %s failed: %v", s.requestTopic, err)
			}
			first.Do(func() { subscribed <- err })
		}).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			g.logf("gwsim: broker connection lost: %v", redact.Error(err, secrets))
		})
	c := paho.NewClient(o)
	t := c.Connect()
	wait := 10 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl))
	}
	if !t.WaitTimeout(wait) {
		c.Disconnect(0)
		return nil, fmt.Errorf("gwsim client: connect to %s: timed out", shown)
	}
	if err := t.Error(); err != nil {
		return nil, fmt.Errorf("gwsim client: connect to %s: %w", shown, redact.Error(err, secrets))
	}
	select {
	case err := <-subscribed:
		if err != nil {
			c.Disconnect(0)
			return nil, fmt.Errorf("gwsim client: subscribe %s on %s: %w", s.requestTopic, shown, redact.Error(err, secrets))
		}
	case <-time.After(wait):
		c.Disconnect(0)
		return nil, fmt.Errorf("gwsim client: subscribe %s on %s: timed out", s.requestTopic, shown)
	}
	s.paho = c
	context.AfterFunc(ctx, func() { _ = s.Close() })
	return s, nil
}

// Addr is the broker's host:port (ServeEmbedded) or URL, without its
// password (ServeOnBroker).
func (s *Server) Addr() string { return s.addr }

// URL is the broker URL clients connect to: tcp://host:port.
func (s *Server) URL() string {
	if s.mq == nil {
		return s.addr
	}
	return "tcp://" + s.addr
}

// WSURL is the websocket URL (ws://host:port), or "" without WithWebsocket.
func (s *Server) WSURL() string {
	if s.wsAddr == "" {
		return ""
	}
	return "ws://" + s.wsAddr
}

// RequestTopic is the topic the gateway listens on ({eui} replaced).
func (s *Server) RequestTopic() string { return s.requestTopic }

// ResponseTopic is the topic the gateway answers on ({eui} replaced).
func (s *Server) ResponseTopic() string { return s.responseTopic }

// Close stops the server (the broker, or the client of another broker);
// answers still delayed are dropped. It does not close the gateway.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.stop)
	s.mu.Unlock()
	s.wg.Wait()
	if s.attached != 0 {
		return s.mq.Unsubscribe(s.requestTopic, s.attached)
	}
	if s.mq != nil {
		return s.closeBroker()
	}
	if s.paho != nil {
		s.paho.Disconnect(250)
	}
	return nil
}

// closeBroker stops the embedded broker. The broker's own Close lists each
// listener's clients under a read lock taken twice, which deadlocks when a
// client connects or leaves in between; so the listeners are closed first
// with a closer that lists the clients once, and the broker's Close, run
// when no client is left, has nothing to race with.
func (s *Server) closeBroker() error {
	s.mq.Listeners.CloseAll(func(listener string) {
		for _, cl := range s.mq.Clients.GetAll() {
			if cl.Net.Listener == listener && !cl.Closed() {
				_ = s.mq.DisconnectClient(cl, packets.ErrServerShuttingDown)
			}
		}
	})
	return s.mq.Close()
}

// The bounds of WithMaxMessage: a packet of 1 KiB carries any ordinary
// request, and MQTT's remaining length stops short of 256 MiB.
const (
	MinMaxMessage = 1 << 10
	MaxMaxMessage = 256<<20 - 1
)
