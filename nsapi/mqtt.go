package nsapi

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/gwsync/gwsync/internal/redact"
)

// Dial connects to cfg.Broker over MQTT (tcp://, ssl://, ws://, wss://) and
// returns a Client. An unreachable broker, refused credentials or a TLS
// failure is a one-line error naming the broker, returned within
// cfg.ConnectTimeout.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	cfg = withDefaults(cfg)
	t, err := NewMQTTTransport(cfg)
	if err != nil {
		return nil, err
	}
	c, err := New(ctx, t, cfg)
	if err != nil {
		_ = t.Close()
		return nil, err
	}
	return c, nil
}

// MQTTTransport is the Transport over an MQTT broker (paho), QoS 0. It
// reconnects on its own after a lost connection and subscribes again.
type MQTTTransport struct {
	cfg    Config
	broker string // for messages: the URL without a password
	// secrets are the password's forms that messages from paho and the
	// network must not show.
	secrets []string
	client  mqtt.Client

	mu sync.Mutex
	// up is closed once the connection is open and subscribed to the
	// response topic; a new one is made when paho starts to reconnect.
	up chan struct{}
	// Paho hands a lost connection to its handler on a goroutine of its
	// own, started beside the reconnect, and that handler (which fails the
	// requests in flight) may run after the reconnect is done. So a new
	// connection is up only once the losses of those before it were handed
	// on: conns counts the connections (at their OnConnect), notices the
	// losses handed on; noticed is closed and made anew at each.
	conns, notices int
	noticed        chan struct{}

	// beforeLost (guarded by mu), when set by a test, runs first in the
	// handler of a lost connection.
	beforeLost func()
}

// NewMQTTTransport checks cfg and prepares a transport; Connect dials.
func NewMQTTTransport(cfg Config) (*MQTTTransport, error) {
	cfg = withDefaults(cfg)
	broker := redact.URL(cfg.Broker)
	if cfg.Broker == "" {
		return nil, errors.New("mqtt: no broker URL")
	}
	u, err := redact.ParseURL(cfg.Broker)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss":
	default:
		return nil, fmt.Errorf("broker %s: unsupported scheme %q (want tcp://, ssl://, ws:// or wss://)", broker, u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("broker %s: no host", broker)
	}
	if cfg.RequestTopic == "" || cfg.ResponseTopic == "" {
		return nil, fmt.Errorf("broker %s: request and response topics are required", broker)
	}
	secrets := redact.Secrets(append(redact.URLPasswords(cfg.Broker), cfg.Password)...)
	return &MQTTTransport{cfg: cfg, broker: broker, secrets: secrets, up: make(chan struct{}), noticed: make(chan struct{})}, nil
}

func (m *MQTTTransport) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{InsecureSkipVerify: m.cfg.InsecureSkipVerify} //nolint:gosec // the user's explicit choice
	if m.cfg.CAFile != "" {
		pem, err := readTLSFile(m.cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("broker %s: CA file: %w", m.broker, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("broker %s: CA file %s: no PEM certificate", m.broker, m.cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	if m.cfg.CertFile != "" || m.cfg.KeyFile != "" {
		if m.cfg.CertFile == "" || m.cfg.KeyFile == "" {
			return nil, fmt.Errorf("broker %s: a client certificate needs both a cert file and a key file", m.broker)
		}
		cert, err := loadKeyPair(m.cfg.CertFile, m.cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("broker %s: client certificate: %w", m.broker, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// Connect dials the broker and subscribes to the response topic, within
// cfg.ConnectTimeout (or ctx's deadline, if sooner).
func (m *MQTTTransport) Connect(ctx context.Context, deliver func([]byte), lost func(error)) error {
	tc, err := m.tlsConfig()
	if err != nil {
		return err
	}
	id := m.cfg.ClientID
	if id == "" {
		var err error
		if id, err = randomClientID(); err != nil {
			return fmt.Errorf("broker %s: client id: %w", m.broker, err)
		}
	}
	subscribed := make(chan error, 1)
	handler := func(_ mqtt.Client, msg mqtt.Message) { deliver(msg.Payload()) }
	opts := mqtt.NewClientOptions().
		AddBroker(m.cfg.Broker).
		SetClientID(id).
		SetUsername(m.cfg.Username).
		SetPassword(m.cfg.Password).
		SetTLSConfig(tc).
		SetCleanSession(true).
		SetOrderMatters(false).
		SetAutoReconnect(true).
		SetConnectRetry(false).
		SetMaxReconnectInterval(10 * time.Second).
		SetConnectTimeout(m.cfg.ConnectTimeout).
		SetWriteTimeout(m.cfg.RequestTimeout).
		SetKeepAlive(30 * time.Second).
		SetPingTimeout(m.cfg.ConnectTimeout).
		SetReconnectingHandler(func(_ mqtt.Client, o *mqtt.ClientOptions) {
			// Called before every attempt, on the goroutine that then
			// connects and starts the OnConnect handler: the connection is
			// down from here until that handler has subscribed again. (The
			// lost-connection handler cannot say so: paho starts it beside
			// the reconnect, and it may run after the reconnect is done.)
			m.setUp(false)
			// A random id is drawn again for every reconnect: a broker
			// still tearing down the old session cannot then take the
			// new session's subscriptions with it.
			if m.cfg.ClientID == "" {
				if id, err := randomClientID(); err == nil {
					o.SetClientID(id)
				}
			}
		}).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			m.handOn(func() { lost(fmt.Errorf("broker %s: %s", m.broker, m.oneLine(err))) })
		}).
		SetOnConnectHandler(func(c mqtt.Client) {
			k := m.connected()
			// Also after every reconnect: a clean session forgets subscriptions.
			tok := c.Subscribe(m.cfg.ResponseTopic, 0, handler)
			var err error
			if !tok.WaitTimeout(m.cfg.ConnectTimeout) {
				err = fmt.Errorf("broker %s: subscribe %s: no answer within %s", m.broker, m.cfg.ResponseTopic, m.cfg.ConnectTimeout)
			} else if tok.Error() != nil {
				err = fmt.Errorf("broker %s: subscribe %s: %s", m.broker, m.cfg.ResponseTopic, m.oneLine(tok.Error()))
			}
			if err == nil {
				m.afterNotices(k)
				m.setUp(true)
			}
			select {
			case subscribed <- err:
			default:
			}
		})
	m.client = mqtt.NewClient(opts)

	wait := m.cfg.ConnectTimeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
		wait = time.Until(dl)
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	fail := func(err error) error {
		m.client.Disconnect(0)
		return err
	}
	tok := m.client.Connect()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fail(fmt.Errorf("broker %s: connect: %s", m.broker, m.connectReason(err)))
		}
	case <-timer.C:
		return fail(fmt.Errorf("broker %s: connect: no answer within %s", m.broker, wait))
	case <-ctx.Done():
		return fail(fmt.Errorf("broker %s: connect: %w", m.broker, ctx.Err()))
	}
	select {
	case err := <-subscribed:
		if err != nil {
			return fail(err)
		}
	case <-timer.C:
		return fail(fmt.Errorf("broker %s: subscribe %s: no answer within %s", m.broker, m.cfg.ResponseTopic, wait))
	case <-ctx.Done():
		return fail(fmt.Errorf("broker %s: subscribe: %w", m.broker, ctx.Err()))
	}
	return nil
}

// setUp records whether the connection is open and subscribed.
func (m *MQTTTransport) setUp(up bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	select {
	case <-m.up:
		if !up {
			m.up = make(chan struct{})
		}
	default:
		if up {
			close(m.up)
		}
	}
}

// connected counts a connection paho opened (its OnConnect handler
// calls it) and returns its number, from 1.
func (m *MQTTTransport) connected() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.conns++
	return m.conns
}

// handOn runs notify, which hands the loss of a connection on (it fails
// the requests in flight), and counts it handed on.
func (m *MQTTTransport) handOn(notify func()) {
	m.mu.Lock()
	before := m.beforeLost
	m.mu.Unlock()
	if before != nil {
		before()
	}
	notify()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.notices++
	close(m.noticed)
	m.noticed = make(chan struct{})
}

// afterNotices waits until the losses of the connections before the k-th
// were handed on: no request goes out on connection k before the requests
// in flight on the one before it have failed, which fails every request
// in flight. It waits at most the connect timeout (a handler paho never
// ran must not keep the client down).
func (m *MQTTTransport) afterNotices(k int) {
	deadline := time.After(m.cfg.ConnectTimeout)
	for {
		m.mu.Lock()
		done, ch := m.notices >= k-1, m.noticed
		m.mu.Unlock()
		if done {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			return
		}
	}
}

// ready is closed while the connection is open and subscribed.
func (m *MQTTTransport) ready() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.up
}

// waitUp waits until c's connection is open and subscribed. Between the
// loss of a connection and paho's first reconnect attempt, up is still
// closed, but paho already holds the connection as not open: that is
// waited out too, in short steps (it lasts until the next attempt starts).
func (m *MQTTTransport) waitUp(ctx context.Context, c mqtt.Client) error {
	for {
		select {
		case <-m.ready():
			if c.IsConnectionOpen() {
				return nil
			}
			select {
			case <-time.After(10 * time.Millisecond):
				continue
			case <-ctx.Done():
			}
		case <-ctx.Done():
		}
		return fmt.Errorf("broker %s: not sent: the connection to the broker is lost and was not back in time", m.broker)
	}
}

// Ready waits until the connection is open and subscribed (see waitUp).
func (m *MQTTTransport) Ready(ctx context.Context) error {
	if m.client == nil {
		return errors.New("mqtt: not connected")
	}
	return m.waitUp(ctx, m.client)
}

// Publish sends payload on the request topic (QoS 0, not retained). While
// the connection is down and paho reconnects, it waits for the connection
// (and its subscription) to be back: paho would take a QoS 0 message then
// and drop it unsent, and its request would wait for an answer until its
// timeout. A connection not back within ctx is an error that says nothing
// was sent.
func (m *MQTTTransport) Publish(ctx context.Context, payload []byte) error {
	if m.client == nil {
		return errors.New("mqtt: not connected")
	}
	if err := m.waitUp(ctx, m.client); err != nil {
		return err
	}
	tok := m.client.Publish(m.cfg.RequestTopic, 0, false, payload)
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("broker %s: %s", m.broker, m.oneLine(err))
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("broker %s: publish: %w", m.broker, ctx.Err())
	}
}

// Close disconnects; it is safe to call more than once.
func (m *MQTTTransport) Close() error {
	if m.client != nil && m.client.IsConnectionOpen() {
		m.client.Disconnect(250)
	}
	return nil
}

// connectReason words a failed connect: paho's prefix dropped, and a hint
// when a TLS connection was closed before the handshake ended.
func (m *MQTTTransport) connectReason(err error) string {
	msg := strings.TrimPrefix(m.oneLine(err), "network Error : ")
	if strings.Contains(msg, "not Authorized") || strings.Contains(msg, "bad user name or password") {
		msg += " (check the user name and password)"
	}
	scheme, _, _ := strings.Cut(m.cfg.Broker, "://")
	switch scheme {
	case "ssl", "tls", "mqtts", "wss":
		switch {
		case strings.HasSuffix(msg, "EOF") || strings.Contains(msg, "connection reset"):
			msg = "TLS handshake failed: " + msg + " (is the port a TLS port?)"
		case strings.Contains(msg, "tls:") || strings.Contains(msg, "x509:"):
			msg = "TLS handshake failed: " + msg
		}
	}
	return msg
}

// randomClientID is "gwsync-" and 64 random bits in hex.
func randomClientID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "gwsync-" + hex.EncodeToString(b[:]), nil
}

// oneLine flattens an error message to one line.
func oneLine(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	return strings.TrimSpace(s)
}

// oneLine is oneLine(err) without the password, for errors from paho and
// the network, which may quote the URL they were given.
func (m *MQTTTransport) oneLine(err error) string {
	return redact.String(oneLine(err), m.secrets)
}
