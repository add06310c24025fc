package nsapi

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// SharedMQTT is one MQTT connection to a broker shared by the Clients of
// several gateways (a fleet on one broker): each gets a Transport from
// Gateway, with its own request and response topics. Messages on a response
// topic go to the gateways subscribed to it; where several share one topic,
// to the one whose EUI the answer carries (to all when it carries none or
// an EUI none of them has), and each Client keeps only the answers to its
// own request ids. Dial and NewMQTTTransport are unchanged: they still open
// a connection per client.
type SharedMQTT struct {
	base *MQTTTransport // the broker, credentials, TLS and timeouts

	mu     sync.Mutex
	client mqtt.Client
	topics map[string][]*sharedGateway // response topic → gateways on it
	closed bool
}

// sharedGateway is one gateway's Transport over a SharedMQTT.
type sharedGateway struct {
	s                  *SharedMQTT
	request, response  string
	eui                string // upper case; "" takes every answer on the topic
	deliver            func([]byte)
	lost               func(error)
	mu                 sync.Mutex
	connected, stopped bool
}

// NewSharedMQTT checks cfg as NewMQTTTransport does (its topics, gateway
// EUI, window and page size are not used) and prepares the connection;
// Connect dials.
func NewSharedMQTT(cfg Config) (*SharedMQTT, error) {
	cfg.RequestTopic, cfg.ResponseTopic = "-", "-"
	t, err := NewMQTTTransport(cfg)
	if err != nil {
		return nil, err
	}
	return &SharedMQTT{base: t, topics: map[string][]*sharedGateway{}}, nil
}

// Broker is the broker's URL without a password.
func (s *SharedMQTT) Broker() string { return s.base.broker }

// Connect dials the broker within the connect timeout (or ctx's deadline,
// if sooner). After a lost connection it reconnects on its own and
// subscribes again to every response topic in use.
func (s *SharedMQTT) Connect(ctx context.Context) error {
	cfg := s.base.cfg
	tc, err := s.base.tlsConfig()
	if err != nil {
		return err
	}
	id := cfg.ClientID
	if id == "" {
		if id, err = randomClientID(); err != nil {
			return fmt.Errorf("broker %s: client id: %w", s.base.broker, err)
		}
	}
	opts := mqtt.NewClientOptions().
		AddBroker(cfg.Broker).
		SetClientID(id).
		SetUsername(cfg.Username).
		SetPassword(cfg.Password).
		SetTLSConfig(tc).
		SetCleanSession(true).
		SetOrderMatters(false).
		SetAutoReconnect(true).
		SetConnectRetry(false).
		SetMaxReconnectInterval(10 * time.Second).
		SetConnectTimeout(cfg.ConnectTimeout).
		SetWriteTimeout(cfg.RequestTimeout).
		SetKeepAlive(30 * time.Second).
		SetPingTimeout(cfg.ConnectTimeout).
		SetReconnectingHandler(func(_ mqtt.Client, o *mqtt.ClientOptions) {
			// Down until the OnConnect handler has subscribed again (as
			// in MQTTTransport, whose up and waitUp these are).
			s.base.setUp(false)
			if cfg.ClientID == "" {
				if id, err := randomClientID(); err == nil {
					o.SetClientID(id)
				}
			}
		}).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			s.base.handOn(func() {
				s.mu.Lock()
				var gws []*sharedGateway
				for _, l := range s.topics {
					gws = append(gws, l...)
				}
				s.mu.Unlock()
				e := fmt.Errorf("broker %s: %s", s.base.broker, s.base.oneLine(err))
				for _, g := range gws {
					g.lost(e)
				}
			})
		}).
		SetOnConnectHandler(func(c mqtt.Client) {
			k := s.base.connected()
			// After a reconnect: a clean session forgot the subscriptions.
			s.mu.Lock()
			var topics []string
			for t := range s.topics {
				topics = append(topics, t)
			}
			s.mu.Unlock()
			for _, t := range topics {
				_ = s.subscribe(c, t)
			}
			// Up even if a topic could not be subscribed again: its
			// gateway's requests then go unanswered, the others' work.
			s.base.afterNotices(k)
			s.base.setUp(true)
		})
	c := mqtt.NewClient(opts)
	wait := cfg.ConnectTimeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
		wait = time.Until(dl)
	}
	tok := c.Connect()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			c.Disconnect(0)
			return fmt.Errorf("broker %s: connect: %s", s.base.broker, s.base.connectReason(err))
		}
	case <-timer.C:
		c.Disconnect(0)
		return fmt.Errorf("broker %s: connect: no answer within %s", s.base.broker, wait)
	case <-ctx.Done():
		c.Disconnect(0)
		return fmt.Errorf("broker %s: connect: %w", s.base.broker, ctx.Err())
	}
	s.mu.Lock()
	s.client = c
	s.mu.Unlock()
	s.base.setUp(true)
	return nil
}

// subscribe subscribes c to the response topic t, waiting at most the
// connect timeout.
func (s *SharedMQTT) subscribe(c mqtt.Client, t string) error {
	tok := c.Subscribe(t, 0, func(_ mqtt.Client, m mqtt.Message) { s.route(t, m.Payload()) })
	if !tok.WaitTimeout(s.base.cfg.ConnectTimeout) {
		return fmt.Errorf("broker %s: subscribe %s: no answer within %s", s.base.broker, t, s.base.cfg.ConnectTimeout)
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("broker %s: subscribe %s: %s", s.base.broker, t, s.base.oneLine(err))
	}
	return nil
}

// route hands a message on response topic t to its gateway.
func (s *SharedMQTT) route(t string, payload []byte) {
	s.mu.Lock()
	gws := s.topics[t]
	if len(gws) > 1 {
		var to []*sharedGateway
		if r, _, err := scanResponse(payload); err == nil && r.GatewayEUI != "" {
			for _, g := range gws {
				if g.eui == "" || strings.EqualFold(g.eui, r.GatewayEUI) {
					to = append(to, g)
				}
			}
		}
		if len(to) > 0 {
			gws = to
		}
	}
	gws = append([]*sharedGateway(nil), gws...)
	s.mu.Unlock()
	for _, g := range gws {
		g.deliver(payload)
	}
}

// Gateway returns the Transport of one gateway over the shared connection:
// requests go to requestTopic, answers are read on responseTopic. eui (may
// be "") picks this gateway's answers on a response topic that several
// gateways share. Closing it unsubscribes when no other gateway uses the
// topic; the connection stays open until the SharedMQTT is closed.
func (s *SharedMQTT) Gateway(requestTopic, responseTopic, eui string) Transport {
	return &sharedGateway{s: s, request: requestTopic, response: responseTopic, eui: strings.ToUpper(eui)}
}

// Gateways reports how many gateway transports are connected.
func (s *SharedMQTT) Gateways() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, l := range s.topics {
		n += len(l)
	}
	return n
}

// Close disconnects; the gateways' requests in flight fail as on a lost
// connection. It is safe to call more than once.
func (s *SharedMQTT) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	c := s.client
	s.mu.Unlock()
	if c != nil && c.IsConnectionOpen() {
		c.Disconnect(250)
	}
	return nil
}

func (g *sharedGateway) Connect(ctx context.Context, deliver func([]byte), lost func(error)) error {
	if g.request == "" || g.response == "" {
		return fmt.Errorf("broker %s: request and response topics are required", g.s.base.broker)
	}
	s := g.s
	s.mu.Lock()
	c := s.client
	if s.closed || c == nil {
		s.mu.Unlock()
		return fmt.Errorf("broker %s: the shared connection is not open", s.base.broker)
	}
	g.mu.Lock()
	if g.connected {
		g.mu.Unlock()
		s.mu.Unlock()
		return errors.New("mqtt: transport connected twice")
	}
	g.deliver, g.lost, g.connected = deliver, lost, true
	g.mu.Unlock()
	first := len(s.topics[g.response]) == 0
	s.topics[g.response] = append(s.topics[g.response], g)
	s.mu.Unlock()
	if first {
		if err := s.subscribe(c, g.response); err != nil {
			g.remove()
			return err
		}
	}
	return nil
}

// Ready waits until the shared connection is open and subscribed.
func (g *sharedGateway) Ready(ctx context.Context) error {
	g.s.mu.Lock()
	c := g.s.client
	g.s.mu.Unlock()
	if c == nil {
		return errors.New("mqtt: not connected")
	}
	return g.s.base.waitUp(ctx, c)
}

func (g *sharedGateway) Publish(ctx context.Context, payload []byte) error {
	g.s.mu.Lock()
	c := g.s.client
	g.s.mu.Unlock()
	g.mu.Lock()
	ok := g.connected && !g.stopped
	g.mu.Unlock()
	if c == nil || !ok {
		return errors.New("mqtt: not connected")
	}
	// While paho reconnects, a QoS 0 publish would be dropped unsent.
	if err := g.s.base.waitUp(ctx, c); err != nil {
		return err
	}
	tok := c.Publish(g.request, 0, false, payload)
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("broker %s: %s", g.s.base.broker, g.s.base.oneLine(err))
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("broker %s: publish: %w", g.s.base.broker, ctx.Err())
	}
}

// remove takes g off its topic; it reports whether g was the topic's last.
func (g *sharedGateway) remove() bool {
	s := g.s
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.topics[g.response]
	for i, x := range l {
		if x == g {
			l = append(l[:i:i], l[i+1:]...)
			break
		}
	}
	if len(l) == 0 {
		delete(s.topics, g.response)
		return true
	}
	s.topics[g.response] = l
	return false
}

func (g *sharedGateway) Close() error {
	g.mu.Lock()
	if g.stopped || !g.connected {
		g.stopped = true
		g.mu.Unlock()
		return nil
	}
	g.stopped = true
	g.mu.Unlock()
	if g.remove() {
		g.s.mu.Lock()
		c, closed := g.s.client, g.s.closed
		g.s.mu.Unlock()
		if c != nil && !closed && c.IsConnectionOpen() {
			c.Unsubscribe(g.response).WaitTimeout(g.s.base.cfg.ConnectTimeout)
		}
	}
	return nil
}
