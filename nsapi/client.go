// Package nsapi is the client of the Milesight gateway "ns-api": the
// request/response protocol that the gateway's embedded LoRaWAN network
// server speaks over MQTT. It holds the wire types, the correlation of
// responses to requests (by id and gateway EUI), timeouts, paging, error
// codes, the spec's URL fallbacks and the MQTT transport (paho).
//
// It is not a planner: it neither reads site files nor decides what differs;
// it reads and writes exactly what it is asked to, one call per endpoint.
package nsapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults applied by New to a zero Config field.
const (
	DefaultConnectTimeout = 10 * time.Second
	DefaultRequestTimeout = 10 * time.Second
	DefaultWindow         = 4
	DefaultPageSize       = 500
)

// ErrClosed is the cause of the error of a request made on, or waiting in, a
// closed Client.
var ErrClosed = errors.New("client closed")

// Client is the ns-api client: every typed call of API, over a Transport,
// with a window of requests in flight. It is safe for concurrent use.
type Client struct {
	t      Transport
	cfg    Config
	window chan struct{}

	mu sync.Mutex
	// delivering is held (read) by each deliver call; Close takes it to
	// wait for the calls in flight, so that none logs after Close.
	delivering sync.RWMutex
	pending    map[string]*waiter
	closed     bool

	requests atomic.Int64
	answers  atomic.Int64 // answers matched to a request
	seenEUI  atomic.Value // string: the gatewayEUI of the last matched response
	ignored  ignoredCounts

	// What the device search (3.3 search=) was seen to do with an EUI:
	// find the device (searchFindsEUI), or miss one a full read then found
	// (searchMissesEUI). The spec never says that search matches EUIs.
	searchFindsEUI, searchMissesEUI atomic.Bool

	// Spec fallbacks learnt in this session (NOTES.md).
	deletedDevices atomic.Bool // .../deleteddevices instead of .../deletedevices
	// /api/payloadcodec instead of /api/payloadcodecs, per method: the
	// spec's examples write on the singular and read and delete on the
	// plural (5.1–5.4), so what one method learns says nothing of another.
	singularCodec methodFlags
}

var _ API = (*Client)(nil)

type waiter struct {
	sent []byte // our own request, to ignore it when a shared topic echoes it
	ch   chan result
}

type result struct {
	resp *Response
	st   bodyStatus // the body's code and error
	err  error      // connection lost or client closed
}

// New starts a Client over t. cfg's transport fields (Broker, Username, TLS)
// are not used; zero durations and sizes take their defaults.
func New(ctx context.Context, t Transport, cfg Config) (*Client, error) {
	if t == nil {
		return nil, errors.New("nsapi: new client: nil transport")
	}
	cfg = withDefaults(cfg)
	c := &Client{
		t:       t,
		cfg:     cfg,
		window:  make(chan struct{}, cfg.Window),
		pending: map[string]*waiter{},
	}
	c.seenEUI.Store("")
	if err := t.Connect(ctx, c.deliver, c.lost); err != nil {
		return nil, err
	}
	return c, nil
}

func withDefaults(cfg Config) Config {
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = DefaultPageSize
	}
	return cfg
}

// Close ends the transport; requests still waiting fail with an
// *OutcomeError whose cause is ErrClosed. It is safe to call more than once.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.failAllLocked(ErrClosed)
	c.mu.Unlock()
	err := c.t.Close()
	// Messages the transport hands over from now on are dropped (deliver
	// sees closed); wait for the calls already in flight.
	c.delivering.Lock()
	//lint:ignore SA2001 an empty critical section: the wait for the calls in flight is the point
	c.delivering.Unlock()
	return err
}

// Requests reports how many requests the client has sent.
func (c *Client) Requests() int64 { return c.requests.Load() }

// Answers reports how many answers to its requests the client has had.
func (c *Client) Answers() int64 { return c.answers.Load() }

// silenceHint says what to check when the gateway never answered; it is
// "" when answers came but were ignored (the timeouts' errors say why).
func (c *Client) silenceHint() string {
	if c.ignored.since(ignoredSnapshot{}) != "" {
		return ""
	}
	if c.cfg.RequestTopic == "" {
		return "the gateway never answered: is it online?"
	}
	return fmt.Sprintf("the gateway never answered: is it online, does it take requests on %s and answer on %s?",
		c.cfg.RequestTopic, c.cfg.ResponseTopic)
}

// GatewayEUI is the configured gateway EUI or, when none was configured, the
// one the last answer came from (upper case; "" before any answer).
func (c *Client) GatewayEUI() string {
	if c.cfg.GatewayEUI != "" {
		return strings.ToUpper(c.cfg.GatewayEUI)
	}
	return strings.ToUpper(c.seenEUI.Load().(string))
}

func (c *Client) logf(format string, args ...any) {
	if c.cfg.Logf != nil {
		c.cfg.Logf(format, args...)
	}
}

// maxID bounds request ids: below 2^53, an id survives a gateway that
// reads it as a JSON number (a double) and echoes it as one, as the spec's
// 6.2 example echoes "id": 1 for the request id "1".
const maxID = 1 << 53

// newID returns a random request id: a decimal string of a number in
// [1, 2^53) from crypto/rand, without leading zeros, so that its echo
// matches whether the gateway gives it back as a string or as a number.
func newID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("nsapi: request id: %w", err)
	}
	n := binary.LittleEndian.Uint64(b[:])%(maxID-1) + 1
	return strconv.FormatUint(n, 10), nil
}

// deliver is the transport's callback for every message on the response
// topic. Anything that is not an answer to one of our waiting requests is
// dropped.
func (c *Client) deliver(payload []byte) {
	c.delivering.RLock()
	defer c.delivering.RUnlock()
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return
	}
	// The envelope, its body, and the body's code and error.
	r, st, err := scanResponse(payload)
	if err != nil {
		c.ignored.notJSON.Add(1)
		c.logf("ns-api: ignored a message that is not a JSON response (%d bytes)", len(payload))
		return
	}
	if r.ID == "" {
		c.ignored.noID.Add(1)
		c.logf("ns-api: ignored a response without an id (%d bytes)", len(payload))
		return
	}
	otherGateway := c.cfg.GatewayEUI != "" && r.GatewayEUI != "" && !strings.EqualFold(r.GatewayEUI, c.cfg.GatewayEUI)
	if code, _ := st.remote("", ""); otherGateway && code != CodeGatewayMismatch {
		c.ignored.otherEUI.Add(1)
		c.logf("ns-api: ignored the answer to id=%s from gateway %s", r.ID, r.GatewayEUI)
		return
	}
	// A code 25 answer to our id ends the request whichever gateway sent
	// it: the gateway on our request topic is not the one we named (a
	// mistyped EUI), and waiting would only end in a timeout.
	c.mu.Lock()
	w, ok := c.pending[r.ID]
	echo := ok && bytes.Equal(bytes.TrimSpace(payload), w.sent) // our own request, echoed on a shared topic
	if ok && !echo {
		delete(c.pending, r.ID)
	}
	c.mu.Unlock()
	if echo {
		return
	}
	if !ok {
		c.ignored.unknownID.Add(1)
		c.logf("ns-api: ignored an answer to id=%s, which no waiting request has", r.ID)
		return
	}
	if r.GatewayEUI != "" && !otherGateway {
		c.seenEUI.Store(r.GatewayEUI)
	}
	c.answers.Add(1)
	w.ch <- result{resp: &r, st: st}
}

// ignoredCounts counts the messages on the response topic that were not
// taken as an answer, by reason.
type ignoredCounts struct {
	otherEUI, unknownID, noID, notJSON atomic.Int64
}

// ignoredSnapshot is ignoredCounts at one moment.
type ignoredSnapshot struct{ otherEUI, unknownID, noID, notJSON int64 }

func (ic *ignoredCounts) snapshot() ignoredSnapshot {
	return ignoredSnapshot{ic.otherEUI.Load(), ic.unknownID.Load(), ic.noID.Load(), ic.notJSON.Load()}
}

// since words what was ignored after s: "3 answers carried another
// gateway's EUI, 1 answer was not JSON"; "" when nothing was.
func (ic *ignoredCounts) since(s ignoredSnapshot) string {
	now := ic.snapshot()
	var parts []string
	add := func(n int64, one, many string) {
		switch {
		case n == 1:
			parts = append(parts, "1 answer "+one)
		case n > 1:
			parts = append(parts, strconv.FormatInt(n, 10)+" answers "+many)
		}
	}
	add(now.otherEUI-s.otherEUI, "carried another gateway's EUI", "carried another gateway's EUI")
	add(now.unknownID-s.unknownID, "had an unknown id", "had an unknown id")
	add(now.noID-s.noID, "had no id", "had no id")
	add(now.notJSON-s.notJSON, "was not JSON", "were not JSON")
	return strings.Join(parts, ", ")
}

// lost is the transport's callback for a dropped connection: every request
// in flight fails at once.
func (c *Client) lost(err error) {
	if err == nil {
		err = errors.New("connection lost")
	}
	c.logf("ns-api: connection lost: %v", err)
	c.mu.Lock()
	c.failAllLocked(err)
	c.mu.Unlock()
}

func (c *Client) failAllLocked(err error) {
	for id, w := range c.pending {
		w.ch <- result{err: err}
		delete(c.pending, id)
	}
}

// do sends one request and waits for its answer. body may be nil; out, when
// not nil, receives the response body. An error answer is a *RemoteError; no
// answer is an *OutcomeError.
func (c *Client) do(ctx context.Context, method, url string, body, out any) error {
	req := Request{Type: "ns-api", Method: method, URL: url, GatewayEUI: c.cfg.GatewayEUI}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s %s: encode body: %w", method, url, err)
		}
		req.Body = b
	}
	id, err := newID()
	if err != nil {
		return err
	}
	req.ID = id
	payload, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("%s %s: encode request: %w", method, url, err)
	}

	// A slot in the window: bounded, since every request in flight ends
	// within RequestTimeout.
	select {
	case c.window <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("%s %s: %w", method, url, ctx.Err())
	}
	defer func() { <-c.window }()
	if r, ok := c.t.(readier); ok {
		rctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
		err := r.Ready(rctx)
		cancel()
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, url, err)
		}
	}

	w := &waiter{sent: payload, ch: make(chan result, 1)}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return fmt.Errorf("%s %s: %w", method, url, ErrClosed)
	}
	c.pending[id] = w
	c.mu.Unlock()
	forget := func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}

	if err := ctx.Err(); err != nil {
		forget()
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	start := time.Now()
	// Counted from before the publish: a gateway may answer (and be
	// ignored) before Publish returns.
	ign := c.ignored.snapshot()
	timer := time.NewTimer(c.cfg.RequestTimeout)
	defer timer.Stop()
	pctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	err = c.t.Publish(pctx, payload)
	cancel()
	if err != nil {
		forget()
		c.logf("ns-api %s %s id=%s publish failed after %s", method, url, id, time.Since(start).Round(time.Microsecond))
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			// Given up while the transport held the message: it may
			// still have gone out.
			return &OutcomeError{Method: method, URL: url, Cause: fmt.Errorf("publish: %w", err)}
		}
		return fmt.Errorf("%s %s: publish: %w", method, url, err)
	}
	c.requests.Add(1)

	var res result
	select {
	case res = <-w.ch:
	case <-timer.C:
		forget()
		c.logf("ns-api %s %s id=%s no answer after %s", method, url, id, time.Since(start).Round(time.Microsecond))
		cause := fmt.Errorf("timeout after %s", c.cfg.RequestTimeout)
		if why := c.ignored.since(ign); why != "" {
			cause = fmt.Errorf("timeout after %s; meanwhile %s", c.cfg.RequestTimeout, why)
		}
		return &OutcomeError{Method: method, URL: url, Cause: cause}
	case <-ctx.Done():
		forget()
		return &OutcomeError{Method: method, URL: url, Cause: ctx.Err()}
	}
	if res.err != nil {
		c.logf("ns-api %s %s id=%s failed after %s: %v", method, url, id, time.Since(start).Round(time.Microsecond), res.err)
		return &OutcomeError{Method: method, URL: url, Cause: res.err}
	}
	code, err := decodeBody(method, url, res.resp.Body, res.st, out)
	c.logf("ns-api %s %s id=%s %s code=%d", method, url, id, time.Since(start).Round(time.Microsecond), code)
	if code == CodeGatewayMismatch {
		c.explainMismatch(err, res.resp.GatewayEUI)
	}
	return err
}

// explainMismatch words a code 25 error so that it names the gateway EUI
// the request carried and, when known, the one that answered.
func (c *Client) explainMismatch(err error, answeredBy string) {
	var re *RemoteError
	if !errors.As(err, &re) {
		return
	}
	sent := strings.ToUpper(c.cfg.GatewayEUI)
	if sent == "" {
		sent = "(none)"
	}
	msg := "the request named gateway " + sent
	if answeredBy != "" && !strings.EqualFold(answeredBy, c.cfg.GatewayEUI) {
		msg += " but gateway " + strings.ToUpper(answeredBy) + " answered"
	}
	msg += ": check the configured gateway EUI"
	if re.Message != "" && re.Message != CodeText(re.Code) {
		msg += " (" + re.Message + ")"
	}
	re.Message = msg
}

// decodeBody turns a response body into out, or into a *RemoteError when
// st (its status) found {"code":N,"error":…} with N other than 200. It
// returns the code (200 when the body carries none). A body that is
// empty, null or "" leaves out as it was; one that does not decode into
// out is a *decodeError. The body is decoded once, into out.
func decodeBody(method, url string, body json.RawMessage, st bodyStatus, out any) (int, error) {
	b := bytes.TrimSpace(body)
	if len(b) == 0 || string(b) == "null" || string(b) == `""` {
		return CodeSuccess, nil
	}
	if code, re := st.remote(method, url); re != nil {
		return code, re
	}
	if out != nil {
		if err := unmarshalWire(b, out); err != nil {
			return CodeSuccess, &decodeError{method, url, err}
		}
	}
	return CodeSuccess, nil
}

// decodeError is the error of an answer whose body is not of the type
// the call expects.
type decodeError struct {
	method, url string
	err         error
}

func (e *decodeError) Error() string {
	return fmt.Sprintf("%s %s: decode answer: %v", e.method, e.url, e.err)
}

func (e *decodeError) Unwrap() error { return e.err }

// fallback is one of the spec's URL spellings that NOTES.md tells us to try
// when the canonical one is refused with code 21.
type fallback struct {
	learnt  *atomic.Bool
	applies func(url string) bool
	rewrite func(url string) string
}

func (c *Client) deleteDevicesFallback() *fallback {
	return &fallback{
		learnt:  &c.deletedDevices,
		applies: func(u string) bool { return strings.HasSuffix(u, "/deletedevices") },
		rewrite: func(u string) string { return strings.TrimSuffix(u, "/deletedevices") + "/deleteddevices" },
	}
}

// methodFlags is one flag per request method.
type methodFlags struct {
	get, post, put, del, other atomic.Bool
}

// of is the flag of method.
func (m *methodFlags) of(method string) *atomic.Bool {
	switch strings.ToUpper(method) {
	case "GET":
		return &m.get
	case "POST":
		return &m.post
	case "PUT":
		return &m.put
	case "DELETE":
		return &m.del
	}
	return &m.other
}

// codecFallback is the payload codec URL fallback of method: learnt, and
// remembered, for that method alone.
func (c *Client) codecFallback(method string) *fallback {
	const plural = "/api/payloadcodecs"
	return &fallback{
		learnt: c.singularCodec.of(method),
		applies: func(u string) bool {
			rest, ok := strings.CutPrefix(u, plural)
			return ok && (rest == "" || rest[0] == '/' || rest[0] == '?')
		},
		rewrite: func(u string) string { return "/api/payloadcodec" + strings.TrimPrefix(u, plural) },
	}
}

// call is do with a spec fallback: when fb applies and has been learnt, the
// alternative URL is used at once; otherwise a code 21 answer is retried
// once with it, and an alternative that is not refused in turn is
// remembered for the session.
func (c *Client) call(ctx context.Context, fb *fallback, method, url string, body, out any) error {
	if fb == nil || !fb.applies(url) {
		return c.do(ctx, method, url, body, out)
	}
	if fb.learnt.Load() {
		return c.do(ctx, method, fb.rewrite(url), body, out)
	}
	err := c.do(ctx, method, url, body, out)
	if !IsCode(err, CodeUnsupportedURL) {
		return err
	}
	alt := fb.rewrite(url)
	c.logf("ns-api %s %s: code 21, retrying as %s", method, url, alt)
	err2 := c.do(ctx, method, alt, body, out)
	if !IsCode(err2, CodeUnsupportedURL) {
		fb.learnt.Store(true)
		return err2
	}
	return err
}
