package gwsim

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/gwsync/gwsync/nsapi"
)

// ErrDisconnected is the cause a Disconnect fault gives the transport's
// lost callback.
var ErrDisconnected = errors.New("gwsim: connection dropped (injected fault)")

// errNotConnected is Publish's error before Connect or after Close.
var errNotConnected = errors.New("gwsim transport: not connected")

// Transport returns an in-process nsapi.Transport to the gateway: no
// network. Publish hands the request to the gateway after the configured
// delay, asynchronously, so several requests are in flight and answers
// may come in any order. A Disconnect fault calls lost and drops the
// answers still in flight; the transport keeps working afterwards, as a
// client that reconnected.
func (g *Gateway) Transport() nsapi.Transport {
	return &transport{g: g, stop: make(chan struct{})}
}

type transport struct {
	g *Gateway

	mu        sync.Mutex
	deliver   func([]byte)
	lost      func(error)
	connected bool
	closed    bool
	gen       int // bumped by a disconnect: older answers are dropped
	stop      chan struct{}
	wg        sync.WaitGroup
}

// Connect starts the transport.
func (t *transport) Connect(ctx context.Context, deliver func(payload []byte), lost func(error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return errors.New("gwsim transport: closed")
	}
	t.deliver, t.lost, t.connected = deliver, lost, true
	return nil
}

// Publish sends one request to the gateway; the answer comes through the
// deliver callback.
func (t *transport) Publish(ctx context.Context, payload []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.connected || t.closed {
		return errNotConnected
	}
	msg := append([]byte(nil), payload...)
	gen := t.gen
	t.wg.Add(1)
	go t.run(msg, gen)
	return nil
}

func (t *transport) run(msg []byte, gen int) {
	defer t.wg.Done()
	if d := t.g.faults.delay(); d > 0 {
		timer := time.NewTimer(d)
		select {
		case <-timer.C:
		case <-t.stop:
			timer.Stop()
			return
		}
	}
	resp, act := t.g.handle(msg, true)
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	if act == actDisconnect {
		t.gen++
		lost := t.lost
		t.mu.Unlock()
		if lost != nil {
			lost(ErrDisconnected)
		}
		return
	}
	deliver, current := t.deliver, gen == t.gen
	t.mu.Unlock()
	if resp != nil && current && deliver != nil {
		deliver(resp)
	}
}

// Close ends the transport; answers still in flight are dropped. It waits
// for deliveries under way to return.
func (t *transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	close(t.stop)
	t.mu.Unlock()
	t.wg.Wait()
	return nil
}
