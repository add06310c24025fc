package gwsim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gwsync/gwsync/nsapi"
)

// outcome is what one request met: its answer code, or "none".
func outcome(g *Gateway, method, url string, body any) string {
	out := g.Handle(envelope(method, url, body))
	if out == nil {
		return "none"
	}
	var r nsapi.Response
	_ = json.Unmarshal(out, &r)
	var eb nsapi.ErrorBody
	_ = json.Unmarshal(r.Body, &eb)
	if eb.Code == 0 {
		eb.Code = 200
	}
	return fmt.Sprint(eb.Code)
}

func deviceCount(t *testing.T, g *Gateway) int {
	t.Helper()
	var dl nsapi.DeviceList
	_ = json.Unmarshal(mustOK(t, g, "GET", "/api/urdevices", nil), &dl)
	return len(dl.DeviceResult)
}

func TestFaults(t *testing.T) {
	create := func(i int) string { return fmt.Sprintf(`{"devEUI":"24E12413000000%02d","applicationID":"1"}`, i) }
	for _, tc := range []struct {
		name   string
		faults []Fault
		// requests: "w" a device create, "g" a device list, "p" a profile
		// create, "l" a create of gwsync's lock (its own record)
		reqs        string
		want        []string
		wantDevices int
	}{
		{"code on the first write", []Fault{{Code: 23}}, "www", []string{"23", "200", "200"}, 2},
		{"code on the 2nd write", []Fault{{Nth: 2, Code: 9}}, "www", []string{"200", "9", "200"}, 2},
		{"reads do not count as writes", []Fault{{Nth: 2, Code: 9}}, "wgw", []string{"200", "200", "9"}, 1},
		{"times 2", []Fault{{Code: 23, Times: 2}}, "www", []string{"23", "23", "200"}, 1},
		{"nth 2 times 2", []Fault{{Nth: 2, Code: 23, Times: 2}}, "wwww", []string{"200", "23", "23", "200"}, 2},
		{"without end", []Fault{{Code: 23, Times: -1}}, "www", []string{"23", "23", "23"}, 0},
		{"GET only", []Fault{{Method: "GET", Code: 24}}, "gwg", []string{"24", "200", "200"}, 1},
		{"by url", []Fault{{URLContains: "/api/urprofiles", Code: 3, Times: -1}}, "wpw", []string{"200", "3", "200"}, 2},
		{"drop response: performed, not answered", []Fault{{DropResponse: true}}, "w", []string{"none"}, 1},
		{"drop request: neither", []Fault{{DropRequest: true}}, "ww", []string{"none", "200"}, 1},
		{"disconnect: not performed", []Fault{{Disconnect: true}}, "w", []string{"none"}, 0},
		{"first added fires first", []Fault{{Code: 23}, {Code: 9}}, "www", []string{"23", "9", "200"}, 1},
		{"gwsync's records are spared", []Fault{{Code: 23, Times: -1}}, "lw", []string{"200", "23"}, 0},
		{"and not counted", []Fault{{Nth: 2, Code: 9}}, "wlw", []string{"200", "200", "9"}, 1},
		{"OwnRecords strikes them only", []Fault{{OwnRecords: true, Code: 9, Times: -1}}, "wlw", []string{"200", "9", "200"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGateway(t, Options{})
			for _, f := range tc.faults {
				g.Faults().Add(f)
			}
			var got []string
			for i, r := range tc.reqs {
				switch r {
				case 'w':
					got = append(got, outcome(g, "POST", "/api/urdevices", create(i)))
				case 'g':
					got = append(got, outcome(g, "GET", "/api/urdevices", nil))
				case 'p':
					got = append(got, outcome(g, "POST", "/api/urprofiles", fmt.Sprintf(`{"name":"P%d","profile":{}}`, i)))
				case 'l':
					got = append(got, outcome(g, "POST", "/api/payloadcodecs", `{"name":"gwsync-lock","decoderScript":"{}"}`))
				}
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("outcomes (-want +got):\n%s", d)
			}
			g.Faults().Clear()
			if n := deviceCount(t, g); n != tc.wantDevices {
				t.Errorf("%d devices on the gateway, want %d", n, tc.wantDevices)
			}
		})
	}
}

func TestFaultsClear(t *testing.T) {
	g := newGateway(t, Options{})
	g.Faults().Add(Fault{Code: 23, Times: -1})
	if g.Faults().Pending() != 1 {
		t.Errorf("Pending() = %d, want 1", g.Faults().Pending())
	}
	g.Faults().Clear()
	if got := outcome(g, "POST", "/api/urdevices", `{"devEUI":"24E1241300000001","applicationID":"1"}`); got != "200" {
		t.Errorf("after Clear: %s, want 200", got)
	}
	g.Faults().Add(Fault{Code: 23})
	outcome(g, "DELETE", "/api/urdevices/24E1241300000001", nil)
	if g.Faults().Pending() != 0 {
		t.Errorf("a fault that fired once is still pending")
	}
}

// collector gathers the transport's answers by id.
type collector struct {
	mu   sync.Mutex
	got  map[string]json.RawMessage
	ch   chan string
	lost chan error
}

func newCollector() *collector {
	return &collector{got: map[string]json.RawMessage{}, ch: make(chan string, 1000), lost: make(chan error, 10)}
}

func (c *collector) deliver(b []byte) {
	var r nsapi.Response
	if json.Unmarshal(b, &r) != nil {
		return
	}
	c.mu.Lock()
	c.got[r.ID] = r.Body
	c.mu.Unlock()
	c.ch <- r.ID
}

// wait waits (bounded) for n answers.
func (c *collector) wait(t *testing.T, n int) []string {
	t.Helper()
	var ids []string
	timeout := time.After(10 * time.Second)
	for len(ids) < n {
		select {
		case id := <-c.ch:
			ids = append(ids, id)
		case <-timeout:
			t.Fatalf("%d of %d answers came", len(ids), n)
		}
	}
	return ids
}

func rawRequest(id, method, url, body string) []byte {
	b, _ := json.Marshal(nsapi.Request{Type: "ns-api", ID: id, Method: method, URL: url, Body: json.RawMessage(body)})
	return b
}

func TestTransportConcurrent(t *testing.T) {
	g := newGateway(t, Options{Jitter: 5 * time.Millisecond})
	tr := g.Transport()
	c := newCollector()
	ctx := context.Background()
	if err := tr.Publish(ctx, rawRequest("x", "GET", "/api/urdevices", "")); err == nil {
		t.Error("Publish before Connect: no error")
	}
	if err := tr.Connect(ctx, c.deliver, func(err error) { c.lost <- err }); err != nil {
		t.Fatal(err)
	}
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"devEUI":"24E12413000000%02d","applicationID":"1"}`, i)
			if err := tr.Publish(ctx, rawRequest(fmt.Sprint("req-", i), "POST", "/api/urdevices", body)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	ids := c.wait(t, n)
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Errorf("answer %s came twice", id)
		}
		seen[id] = true
	}
	for i := range n {
		id := fmt.Sprint("req-", i)
		c.mu.Lock()
		body := c.got[id]
		c.mu.Unlock()
		if !seen[id] || string(body) != `{"code":200,"error":""}` {
			t.Errorf("%s: answer %s", id, body)
		}
	}
	if g.Writes() != n {
		t.Errorf("Writes() = %d, want %d", g.Writes(), n)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := tr.Publish(ctx, rawRequest("late", "GET", "/api/urdevices", "")); err == nil {
		t.Error("Publish after Close: no error")
	}
}

func TestTransportFaults(t *testing.T) {
	g := newGateway(t, Options{})
	tr := g.Transport()
	c := newCollector()
	ctx := context.Background()
	if err := tr.Connect(ctx, c.deliver, func(err error) { c.lost <- err }); err != nil {
		t.Fatal(err)
	}
	defer tr.Close()

	g.Faults().Add(Fault{Method: "GET", Disconnect: true})
	_ = tr.Publish(ctx, rawRequest("d", "GET", "/api/urdevices", ""))
	select {
	case err := <-c.lost:
		if !errors.Is(err, ErrDisconnected) {
			t.Errorf("lost(%v), want ErrDisconnected", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("lost was not called")
	}
	// The transport keeps working after the disconnect.
	g.Faults().Add(Fault{DropResponse: true})
	_ = tr.Publish(ctx, rawRequest("dropped", "POST", "/api/urdevices", `{"devEUI":"24E1241300000001","applicationID":"1"}`))
	_ = tr.Publish(ctx, rawRequest("after", "GET", "/api/urdevices", ""))
	if ids := c.wait(t, 1); ids[0] != "after" {
		t.Errorf("answer %s, want after", ids[0])
	}
	_ = tr.Close() // waits for every request in flight
	c.mu.Lock()
	_, gotDropped := c.got["dropped"]
	_, gotD := c.got["d"]
	c.mu.Unlock()
	if gotDropped || gotD {
		t.Errorf("answers came for a dropped response (%v) or a disconnect (%v)", gotDropped, gotD)
	}
	if g.Writes() != 1 {
		t.Errorf("Writes() = %d, want 1: the write whose answer was dropped was performed", g.Writes())
	}
}
