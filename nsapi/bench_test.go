package nsapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gwsync/gwsync/gwsim"
	"github.com/gwsync/gwsync/nsapi"
)

// BenchmarkRoundTrip is one GET, client → embedded broker → simulated
// gateway → back.
func BenchmarkRoundTrip(b *testing.B) {
	c, _ := embedded(b, gwsim.Options{}, nsapi.Config{})
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.PayloadSizes(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWindow is 1,000 GETs (one op) through the embedded broker to a
// gateway that takes 20 ms to answer each, at window 1 and window 8.
func BenchmarkWindow(b *testing.B) {
	for _, window := range []int{1, 8} {
		b.Run(fmt.Sprintf("window=%d", window), func(b *testing.B) {
			c, _ := embedded(b, gwsim.Options{Latency: 20 * time.Millisecond}, nsapi.Config{Window: window, RequestTimeout: time.Minute})
			ctx := context.Background()
			for b.Loop() {
				var wg sync.WaitGroup
				errs := make(chan error, 1000)
				for range 1000 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if _, err := c.PayloadSizes(ctx); err != nil {
							errs <- err
						}
					}()
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					b.Fatal(err)
				}
			}
		})
	}
}

// cannedTransport answers every request at once with the same body (a
// recorded gateway answer), its id swapped in: a client's decoding cost
// with no gateway and no broker behind it.
type cannedTransport struct {
	body    []byte // the answer's body
	deliver func([]byte)
}

func (t *cannedTransport) Connect(_ context.Context, deliver func([]byte), _ func(error)) error {
	t.deliver = deliver
	return nil
}

func (t *cannedTransport) Publish(_ context.Context, payload []byte) error {
	var req nsapi.Request
	if err := json.Unmarshal(payload, &req); err != nil {
		return err
	}
	msg := make([]byte, 0, len(t.body)+200)
	msg = append(msg, `{"id":"`+req.ID+`","gatewayEUI":"`+gwsim.DefaultEUI+`","method":"GET","url":"`+req.URL+`","body":`...)
	msg = append(msg, t.body...)
	msg = append(msg, '}')
	go t.deliver(msg)
	return nil
}

func (t *cannedTransport) Close() error { return nil }

// devicePage is the body of a gwsim answer listing n devices in one page.
func devicePage(b *testing.B, n int) []byte {
	b.Helper()
	g, err := gwsim.New(gwsim.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	for i := range n {
		body := fmt.Sprintf(`{"devEUI":"24E12413%08X","name":"d-%d","applicationID":"1","appKey":"%032X"}`, i, i, i)
		req, _ := json.Marshal(nsapi.Request{Type: "ns-api", ID: fmt.Sprint(i), Method: "POST", URL: "/api/urdevices", Body: json.RawMessage(body)})
		g.Handle(req)
	}
	req, _ := json.Marshal(nsapi.Request{Type: "ns-api", ID: "page", Method: "GET", URL: fmt.Sprintf("/api/urdevices?limit=%d&offset=0", n)})
	var resp struct {
		Body json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(g.Handle(req), &resp); err != nil {
		b.Fatal(err)
	}
	return resp.Body
}

// BenchmarkDecodeDevicePage500 is the client's cost of one answer listing
// 500 devices: envelope, error check and decoding, with no wire behind.
func BenchmarkDecodeDevicePage500(b *testing.B) {
	tr := &cannedTransport{body: devicePage(b, 500)}
	c, err := nsapi.New(context.Background(), tr, nsapi.Config{PageSize: 500})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	b.SetBytes(int64(len(tr.body)))
	b.ReportAllocs()
	for b.Loop() {
		l, err := c.ListDevices(ctx, nsapi.DeviceQuery{})
		if err != nil || len(l.DeviceResult) != 500 {
			b.Fatalf("%d devices, %v", len(l.DeviceResult), err)
		}
	}
}

// bigState is a gateway of n devices, 200 profiles and groups of 100
// members (n/100 of them), as the plan benchmark has.
func bigState(b *testing.B, n int, latency time.Duration) *gwsim.Gateway {
	b.Helper()
	g, err := gwsim.New(gwsim.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = g.Close() })
	send := func(method, url, body string) []byte {
		req, _ := json.Marshal(nsapi.Request{Type: "ns-api", ID: "x", Method: method, URL: url, Body: json.RawMessage(body)})
		return g.Handle(req)
	}
	for i := range n {
		send("POST", "/api/urdevices", fmt.Sprintf(`{"devEUI":"24E12413%08X","name":"d-%d","applicationID":"1","appKey":"%032X"}`, i, i, i))
	}
	for i := range 197 {
		send("POST", "/api/urprofiles", fmt.Sprintf(`{"name":"p-%d","profile":{"supportsJoin":true}}`, i))
	}
	for gi := range n / 100 {
		var r struct {
			Body struct{ ID string } `json:"body"`
		}
		_ = json.Unmarshal(send("POST", "/api/multicast-groups", fmt.Sprintf(`{"multicastGroup":{"name":"g-%d"}}`, gi)), &r)
		var euis []string
		for m := range 100 {
			euis = append(euis, fmt.Sprintf(`"24E12413%08X"`, gi*100+m))
		}
		send("POST", "/api/multicast-groups/"+r.Body.ID+"/devices", `{"devEUIs":[`+strings.Join(euis, ",")+`]}`)
	}
	g.Faults().SetDelay(latency, 0)
	return g
}

// BenchmarkReadState10k reads the whole state of a gateway of 10,000
// devices (+200 profiles, 100 groups of 100) in-process: the client's CPU
// for a plan's read.
func BenchmarkReadState10k(b *testing.B) {
	g := bigState(b, 10000, 0)
	c, err := nsapi.New(context.Background(), g.Transport(), nsapi.Config{GatewayEUI: g.EUI()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ReportAllocs()
	for b.Loop() {
		s, err := c.ReadState(context.Background())
		if err != nil || len(s.Devices) != 10000 {
			b.Fatalf("%v", err)
		}
	}
}

// BenchmarkReadState10kLatency20ms is the same read from a gateway that
// takes 20 ms to answer: 20 device pages, read one after another or
// within the window.
func BenchmarkReadState10kLatency20ms(b *testing.B) {
	g := bigState(b, 10000, 20*time.Millisecond)
	c, err := nsapi.New(context.Background(), g.Transport(), nsapi.Config{GatewayEUI: g.EUI()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for b.Loop() {
		s, err := c.ReadState(context.Background())
		if err != nil || len(s.Devices) != 10000 {
			b.Fatalf("%v", err)
		}
	}
}

// BenchmarkFingerprint10k is the fingerprint of a 10,000-device state.
func BenchmarkFingerprint10k(b *testing.B) {
	g := bigState(b, 10000, 0)
	c, err := nsapi.New(context.Background(), g.Transport(), nsapi.Config{GatewayEUI: g.EUI()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	s, err := c.ReadState(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Fingerprint()
	}
}

// BenchmarkScanResponse is the reading of an answer listing 500 devices:
// the envelope, the body and its code and error, without the
// decoding of the body.
func BenchmarkScanResponse(b *testing.B) {
	body := devicePage(b, 500)
	msg := []byte(`{"id":"0123456789abcdef01234567","gatewayEUI":"` + gwsim.DefaultEUI +
		`","method":"GET","url":"/api/urdevices?limit=500&offset=0","body":` + string(body) + `}`)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if err := nsapi.ScanResponse(msg); err != nil {
			b.Fatal(err)
		}
	}
}

// groupPage is the body of a gwsim answer listing groups groups of members
// devices each in one page.
func groupPage(b *testing.B, groups, members int) []byte {
	b.Helper()
	g, err := gwsim.New(gwsim.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	send := func(method, url, body string) []byte {
		req, _ := json.Marshal(nsapi.Request{Type: "ns-api", ID: "x", Method: method, URL: url, Body: json.RawMessage(body)})
		return g.Handle(req)
	}
	for i := range groups * members {
		send("POST", "/api/urdevices", fmt.Sprintf(`{"devEUI":"24E12413%08X","name":"d-%d","applicationID":"1","appKey":"%032X"}`, i, i, i))
	}
	for gi := range groups {
		var r struct {
			Body struct{ ID string } `json:"body"`
		}
		_ = json.Unmarshal(send("POST", "/api/multicast-groups", fmt.Sprintf(`{"multicastGroup":{"name":"g-%d"}}`, gi)), &r)
		var euis []string
		for m := range members {
			euis = append(euis, fmt.Sprintf(`"24E12413%08X"`, gi*members+m))
		}
		send("POST", "/api/multicast-groups/"+r.Body.ID+"/devices", `{"devEUIs":[`+strings.Join(euis, ",")+`]}`)
	}
	var resp struct {
		Body json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(send("GET", fmt.Sprintf("/api/multicast-groups?limit=%d&offset=0", groups), ""), &resp); err != nil {
		b.Fatal(err)
	}
	return resp.Body
}

// BenchmarkDecodeGroupPage100 is the client's cost of one answer listing
// 100 multicast groups of 100 members: envelope, error check and decoding,
// with no wire behind.
func BenchmarkDecodeGroupPage100(b *testing.B) {
	tr := &cannedTransport{body: groupPage(b, 100, 100)}
	c, err := nsapi.New(context.Background(), tr, nsapi.Config{PageSize: 500})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	b.SetBytes(int64(len(tr.body)))
	b.ReportAllocs()
	for b.Loop() {
		l, err := c.ListGroups(ctx, "")
		if err != nil || len(l) != 100 || len(l[99].Devices) != 100 {
			b.Fatalf("%d groups, %v", len(l), err)
		}
	}
}
