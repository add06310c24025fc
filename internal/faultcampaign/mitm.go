package faultcampaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/gwsync/gwsync/internal/reserved"
	"github.com/gwsync/gwsync/nsapi"
)

// Fault kinds. The first six are injected by the MITM transport; the
// SIGKILL ones kill a gwsync subprocess.
const (
	KindCodeNoWrite    = "code-no-write"    // an error code, the write not performed
	KindCodeAfterWrite = "code-after-write" // the write performed, answered by an error code
	KindLostAnswer     = "lost-answer"      // the write performed, no answer
	KindLostRequest    = "lost-request"     // the request never reaches the gateway
	KindLostRead       = "lost-read"        // no answer to a read after the first write
	KindDisconnect     = "disconnect"       // the broker connection drops instead of an answer
	KindRollbackFault  = "rollback-fault"   // a code-no-write, then a second fault inside the rollback
	KindKillApply      = "sigkill-apply"    // gwsync apply killed at a write
	KindKillRollback   = "sigkill-rollback" // gwsync apply killed at a write of its rollback
)

// Kinds lists every fault kind, in table order.
var Kinds = []string{KindCodeNoWrite, KindCodeAfterWrite, KindLostAnswer, KindLostRequest, KindLostRead,
	KindDisconnect, KindRollbackFault, KindKillApply, KindKillRollback}

// Fault is one fault the MITM injects. At is 1-based: the At-th write
// (POST, PUT, DELETE), or for KindLostRead the At-th read (GET) after the
// first write. A fault with After set is armed only when After has fired,
// and then counts its requests from that moment.
type Fault struct {
	Kind      string
	At        int
	Code      int  // the code answered (code kinds)
	Performed bool // disconnect: whether the gateway got the request first
	After     *Fault

	seen  int
	fired bool
}

func (f *Fault) String() string {
	s := fmt.Sprintf("%s at #%d", f.Kind, f.At)
	if f.Code != 0 {
		s += fmt.Sprintf(" code %d", f.Code)
	}
	if f.Kind == KindDisconnect {
		s += fmt.Sprintf(" (performed: %v)", f.Performed)
	}
	return s
}

// MITM is the man in the middle between a client and the gateway's own
// transport: Wrap puts it in front of each connection (a command may open
// more than one). It counts requests over all of them and injects the
// faults it holds.
type MITM struct {
	faults []*Fault

	mu         sync.Mutex
	writes     int             // writes the client sent
	forwarded  int             // writes that reached the gateway
	readsAfter int             // reads after the first write
	drop       map[string]bool // answers to drop, by request id
	replace    map[string]int  // answers to replace by an error code, by request id
	lostOn     map[string]bool // answers that drop the connection, by request id
	fired      []string        // what fired, in order
	ownReq     map[string]bool // creates of gwsync's records, by request id
	ownIDs     map[string]bool // codec ids of gwsync's records
}

// NewMITM returns a MITM with the faults (none: it only counts).
func NewMITM(faults ...*Fault) *MITM {
	return &MITM{faults: faults, drop: map[string]bool{}, replace: map[string]int{}, lostOn: map[string]bool{},
		ownReq: map[string]bool{}, ownIDs: map[string]bool{}}
}

// Wrap returns inner with the MITM in front of it.
func (m *MITM) Wrap(inner nsapi.Transport) nsapi.Transport {
	return &conn{m: m, inner: inner}
}

// Writes is the number of writes the client sent.
func (m *MITM) Writes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.writes
}

// Forwarded is the number of writes that reached the gateway.
func (m *MITM) Forwarded() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.forwarded
}

// ReadsAfterFirstWrite is the number of reads sent after the first write.
func (m *MITM) ReadsAfterFirstWrite() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.readsAfter
}

// Fired says which faults fired, in order.
func (m *MITM) Fired() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.fired...)
}

type envelope struct {
	ID         string `json:"id"`
	Method     string `json:"method"`
	URL        string `json:"url"`
	GatewayEUI string `json:"gatewayEUI"`
	Body       struct {
		Name string `json:"name"`
	} `json:"body"`
}

// own says whether req touches gwsync's own records on the gateway (the
// codecs with a reserved name: the lock, the digests of write-only
// values), by the name it sends or the codec id it names. Those requests
// are neither counted nor faulted: the campaign judges what gwsync does
// to the user's resources, and the raw-state judge skips the records too.
// A create of one is remembered, so that its answer teaches the id.
func (m *MITM) own(req envelope) bool {
	path, _, _ := strings.Cut(req.URL, "?")
	if !strings.HasPrefix(path, "/api/payloadcodec") {
		return false
	}
	if reserved.Codec(req.Body.Name) {
		if strings.ToUpper(req.Method) == "POST" {
			m.ownReq[req.ID] = true
		}
		return true
	}
	i := strings.LastIndexByte(path, '/')
	return m.ownIDs[path[i+1:]]
}

// learn takes the ids of gwsync's records from an answer: a create of
// one, or a codec list.
func (m *MITM) learn(resp map[string]any) {
	id, _ := resp["id"].(string)
	body, _ := resp["body"].(map[string]any)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ownReq[id] {
		delete(m.ownReq, id)
		if cid := fmt.Sprint(body["id"]); cid != "" && cid != "<nil>" {
			m.ownIDs[cid] = true
		}
	}
	result, _ := body["result"].([]any)
	for _, r := range result {
		rec, _ := r.(map[string]any)
		if name, _ := rec["name"].(string); reserved.Codec(name) {
			m.ownIDs[fmt.Sprint(rec["id"])] = true
		}
	}
}

// action is what a connection does with one request.
type action int

const (
	forward action = iota
	answerCode
	dropRequest
	disconnectDrop
	disconnectAfter
)

// decide counts the request and picks what happens to it.
func (m *MITM) decide(req envelope) (action, int) {
	method := strings.ToUpper(req.Method)
	write := method == "POST" || method == "PUT" || method == "DELETE"
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.own(req) {
		return forward, 0
	}
	if write {
		m.writes++
	} else if m.writes > 0 {
		m.readsAfter++
	}
	act, code := forward, 0
	for _, f := range m.faults {
		if f.fired || f.After != nil && !f.After.fired {
			continue
		}
		if f.Kind == KindLostRead {
			if write || m.writes == 0 {
				continue
			}
		} else if !write {
			continue
		}
		f.seen++
		if f.seen != f.At {
			continue
		}
		f.fired = true
		m.fired = append(m.fired, fmt.Sprintf("%s: %s %s", f, method, req.URL))
		switch f.Kind {
		case KindCodeNoWrite, KindRollbackFault:
			act, code = answerCode, f.Code
		case KindCodeAfterWrite:
			m.replace[req.ID] = f.Code
		case KindLostAnswer, KindLostRead:
			m.drop[req.ID] = true
		case KindLostRequest:
			act = dropRequest
		case KindDisconnect:
			act = disconnectDrop
			if f.Performed {
				// The connection drops as the gateway answers.
				act = disconnectAfter
				m.drop[req.ID] = true
				m.lostOn[req.ID] = true
			}
		}
		break
	}
	if write && (act == forward || act == disconnectAfter) {
		m.forwarded++
	}
	return act, code
}

// settle says what happens to the answer to request id: dropped,
// rewritten to an error code, or dropped with the connection.
func (m *MITM) settle(id string) (drop bool, code int, lost bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	drop, lost = m.drop[id], m.lostOn[id]
	code = m.replace[id]
	delete(m.drop, id)
	delete(m.replace, id)
	delete(m.lostOn, id)
	return drop, code, lost
}

// conn is one connection through the MITM: an nsapi.Transport.
type conn struct {
	m     *MITM
	inner nsapi.Transport

	mu      sync.Mutex
	deliver func([]byte)
	lost    func(error)
	closed  bool
	wg      sync.WaitGroup
}

var errDropped = errors.New("mitm: broker connection dropped")

// Connect connects the inner transport with the MITM in the middle.
func (c *conn) Connect(ctx context.Context, deliver func([]byte), lost func(error)) error {
	c.mu.Lock()
	c.deliver, c.lost = deliver, lost
	c.mu.Unlock()
	return c.inner.Connect(ctx, c.answer, lost)
}

// Publish passes the request on, or injects the fault due at it.
func (c *conn) Publish(ctx context.Context, payload []byte) error {
	var req envelope
	if err := json.Unmarshal(payload, &req); err != nil {
		return c.inner.Publish(ctx, payload)
	}
	c.mu.Lock()
	closed, deliver, lost := c.closed, c.deliver, c.lost
	c.mu.Unlock()
	if closed {
		return errors.New("mitm transport: closed")
	}
	act, code := c.m.decide(req)
	switch act {
	case answerCode:
		resp, _ := json.Marshal(map[string]any{
			"id": req.ID, "gatewayEUI": req.GatewayEUI, "method": req.Method, "url": req.URL,
			"body": map[string]any{"code": code, "error": nsapi.CodeText(code)},
		})
		c.later(func() { deliver(resp) })
		return nil
	case dropRequest:
		return nil
	case disconnectDrop:
		c.later(func() { lost(errDropped) })
		return nil
	}
	return c.inner.Publish(ctx, payload)
}

// later runs fn on its own goroutine, as a transport delivers.
func (c *conn) later(fn func()) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		fn()
	}()
}

// answer receives the gateway's answers: it drops or rewrites the ones a
// fault names and passes on the rest.
func (c *conn) answer(payload []byte) {
	c.mu.Lock()
	deliver, lost := c.deliver, c.lost
	c.mu.Unlock()
	var resp map[string]any
	if err := json.Unmarshal(payload, &resp); err != nil {
		deliver(payload)
		return
	}
	c.m.learn(resp)
	id, _ := resp["id"].(string)
	drop, code, lostOn := c.m.settle(id)
	switch {
	case lostOn:
		lost(errDropped)
	case drop:
	case code != 0:
		resp["body"] = map[string]any{"code": code, "error": nsapi.CodeText(code)}
		b, _ := json.Marshal(resp)
		deliver(b)
	default:
		deliver(payload)
	}
}

// Close closes the inner transport and waits for injected deliveries.
func (c *conn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	err := c.inner.Close()
	c.wg.Wait()
	return err
}
