package faultcampaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

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
// and then counts writes from that moment.
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

// MITM is an nsapi.Transport between the client and the gateway's own
// transport: it counts requests and injects the faults it holds.
type MITM struct {
	inner  nsapi.Transport
	faults []*Fault

	mu         sync.Mutex
	deliver    func([]byte)
	lost       func(error)
	writes     int             // writes the client sent
	forwarded  int             // writes that reached the gateway
	readsAfter int             // reads after the first write
	drop       map[string]bool // answers to drop, by request id
	replace    map[string]int  // answers to replace by an error code, by request id
	lostOn     map[string]bool // answers that drop the connection, by request id
	fired      []string        // what fired, in order
	closed     bool
	wg         sync.WaitGroup
}

// NewMITM wraps inner with the faults (none: it only counts).
func NewMITM(inner nsapi.Transport, faults ...*Fault) *MITM {
	return &MITM{inner: inner, faults: faults, drop: map[string]bool{}, replace: map[string]int{}, lostOn: map[string]bool{}}
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

// Fired says which faults fired, in order ("" when none did).
func (m *MITM) Fired() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.fired...)
}

// Connect connects the inner transport with the MITM in the middle.
func (m *MITM) Connect(ctx context.Context, deliver func([]byte), lost func(error)) error {
	m.mu.Lock()
	m.deliver, m.lost = deliver, lost
	m.mu.Unlock()
	return m.inner.Connect(ctx, m.answer, lost)
}

type envelope struct {
	ID         string `json:"id"`
	Method     string `json:"method"`
	URL        string `json:"url"`
	GatewayEUI string `json:"gatewayEUI"`
}

// action is what Publish does with one request.
type action int

const (
	forward action = iota
	answerCode
	dropRequest
	disconnectDrop
	disconnectAfter
)

// Publish passes the request on, or injects the fault due at it.
func (m *MITM) Publish(ctx context.Context, payload []byte) error {
	var req envelope
	if err := json.Unmarshal(payload, &req); err != nil {
		return m.inner.Publish(ctx, payload)
	}
	method := strings.ToUpper(req.Method)
	write := method == "POST" || method == "PUT" || method == "DELETE"

	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return errors.New("mitm transport: closed")
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
				act = disconnectAfter
			}
		}
		break
	}
	if write && (act == forward || act == disconnectAfter) {
		m.forwarded++
	}
	deliver, lost := m.deliver, m.lost
	if act == disconnectAfter {
		m.drop[req.ID] = true
		m.lostOn[req.ID] = true
	}
	m.mu.Unlock()

	switch act {
	case answerCode:
		resp, _ := json.Marshal(map[string]any{
			"id": req.ID, "gatewayEUI": req.GatewayEUI, "method": req.Method, "url": req.URL,
			"body": map[string]any{"code": code, "error": nsapi.CodeText(code)},
		})
		m.later(func() { deliver(resp) })
		return nil
	case dropRequest:
		return nil
	case disconnectDrop:
		m.later(func() { lost(errors.New("mitm: broker connection dropped")) })
		return nil
	}
	return m.inner.Publish(ctx, payload)
}

// later runs fn on its own goroutine, as a transport delivers.
func (m *MITM) later(fn func()) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		fn()
	}()
}

// answer receives the gateway's answers: it drops or rewrites the ones a
// fault names and passes on the rest.
func (m *MITM) answer(payload []byte) {
	var resp map[string]any
	if err := json.Unmarshal(payload, &resp); err != nil {
		m.pass(payload)
		return
	}
	id, _ := resp["id"].(string)
	m.mu.Lock()
	drop := m.drop[id]
	code, rewrite := m.replace[id]
	lostOn, lost := m.lostOn[id], m.lost
	delete(m.drop, id)
	delete(m.replace, id)
	delete(m.lostOn, id)
	m.mu.Unlock()
	switch {
	case lostOn:
		lost(errors.New("mitm: broker connection dropped"))
	case drop:
		return
	case rewrite:
		resp["body"] = map[string]any{"code": code, "error": nsapi.CodeText(code)}
		b, _ := json.Marshal(resp)
		m.pass(b)
	default:
		m.pass(payload)
	}
}

func (m *MITM) pass(payload []byte) {
	m.mu.Lock()
	deliver := m.deliver
	m.mu.Unlock()
	if deliver != nil {
		deliver(payload)
	}
}

// Close closes the inner transport and waits for injected deliveries.
func (m *MITM) Close() error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	err := m.inner.Close()
	m.wg.Wait()
	return err
}
