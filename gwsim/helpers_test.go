package gwsim

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gwsync/gwsync/nsapi"
)

// clock is a fake clock for tests.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newGateway(t *testing.T, opts Options) *Gateway {
	t.Helper()
	g, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = g.Close() })
	return g
}

var reqSeq atomic.Int64

// envelope builds a request message; body is marshalled unless it is a
// string, which is taken as raw JSON.
func envelope(method, url string, body any) []byte {
	var raw json.RawMessage
	switch b := body.(type) {
	case nil:
	case string:
		raw = json.RawMessage(b)
	default:
		raw, _ = json.Marshal(b)
	}
	m, _ := json.Marshal(nsapi.Request{Type: "ns-api", ID: fmt.Sprint("t", reqSeq.Add(1)), Method: method, URL: url, Body: raw})
	return m
}

// call sends one request through Handle and returns the answer's code
// (200 when the body carries none) and body.
func call(t *testing.T, g *Gateway, method, url string, body any) (int, json.RawMessage) {
	t.Helper()
	out := g.Handle(envelope(method, url, body))
	if out == nil {
		t.Fatalf("%s %s: no answer", method, url)
	}
	return decodeAnswer(t, out)
}

func decodeAnswer(t *testing.T, out []byte) (int, json.RawMessage) {
	t.Helper()
	var resp nsapi.Response
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("answer %s: %v", out, err)
	}
	var eb nsapi.ErrorBody
	_ = json.Unmarshal(resp.Body, &eb)
	code := int(eb.Code)
	if code == 0 {
		code = 200
	}
	return code, resp.Body
}

// mustOK calls and fails the test unless the answer is a success.
func mustOK(t *testing.T, g *Gateway, method, url string, body any) json.RawMessage {
	t.Helper()
	code, b := call(t, g, method, url, body)
	if code != 200 {
		t.Fatalf("%s %s: code %d: %s", method, url, code, b)
	}
	return b
}

func decode[T any](t *testing.T, b json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

// addDevice creates an OTAA device with the given EUI and name.
func addDevice(t *testing.T, g *Gateway, eui, name string) {
	t.Helper()
	mustOK(t, g, "POST", "/api/urdevices", map[string]any{"devEUI": eui, "name": name, "applicationID": "1"})
}
