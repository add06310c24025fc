package gwsim

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

func benchGateway(b *testing.B, opts Options, devices int) *Gateway {
	b.Helper()
	g, err := New(opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = g.Close() })
	for i := range devices {
		out := g.Handle(envelope("POST", "/api/urdevices", fmt.Sprintf(`{"devEUI":"24E12413%08X","applicationID":"1"}`, i)))
		if out == nil {
			b.Fatal("no answer")
		}
	}
	return g
}

// BenchmarkListDevices500 lists 500 devices in one page.
func BenchmarkListDevices500(b *testing.B) {
	g := benchGateway(b, Options{}, 500)
	req := envelope("GET", "/api/urdevices?limit=500&offset=0", nil)
	b.ResetTimer()
	for b.Loop() {
		if g.Handle(req) == nil {
			b.Fatal("no answer")
		}
	}
}

// BenchmarkCreateDeleteDevice creates and deletes a device in memory.
func BenchmarkCreateDeleteDevice(b *testing.B) {
	g := benchGateway(b, Options{}, 100)
	create := envelope("POST", "/api/urdevices", `{"devEUI":"24E124FFFF000001","applicationID":"1"}`)
	del := envelope("DELETE", "/api/urdevices/24E124FFFF000001", nil)
	for b.Loop() {
		g.Handle(create)
		g.Handle(del)
	}
}

// BenchmarkCreateDeleteDeviceFile is the same with the state file written
// after each write (100 devices in the file).
func BenchmarkCreateDeleteDeviceFile(b *testing.B) {
	g := benchGateway(b, Options{StatePath: filepath.Join(b.TempDir(), "s.json")}, 100)
	create := envelope("POST", "/api/urdevices", `{"devEUI":"24E124FFFF000001","applicationID":"1"}`)
	del := envelope("DELETE", "/api/urdevices/24E124FFFF000001", nil)
	for b.Loop() {
		g.Handle(create)
		g.Handle(del)
	}
}

// BenchmarkTransportRoundTrip is one request and answer through the
// in-process transport.
func BenchmarkTransportRoundTrip(b *testing.B) {
	g := benchGateway(b, Options{}, 10)
	tr := g.Transport()
	ch := make(chan struct{}, 1)
	if err := tr.Connect(context.Background(), func([]byte) { ch <- struct{}{} }, func(error) {}); err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	req := envelope("GET", "/api/urdevices?limit=10", nil)
	for b.Loop() {
		if err := tr.Publish(context.Background(), req); err != nil {
			b.Fatal(err)
		}
		<-ch
	}
}

// bigGateway is the issue 10 gateway: n devices, groups of members each
// (devices taken in order), written straight into the state.
func bigGateway(b *testing.B, n, groups, members int) *Gateway {
	b.Helper()
	g := benchGateway(b, Options{}, 0)
	for i := range n {
		eui := fmt.Sprintf("24E12413%08X", i)
		g.Handle(envelope("POST", "/api/urdevices", fmt.Sprintf(`{"devEUI":%q,"name":"d-%d","applicationID":"1"}`, eui, i)))
	}
	for gi := range groups {
		out := g.Handle(envelope("POST", "/api/multicast-groups", fmt.Sprintf(`{"multicastGroup":{"name":"g-%d"}}`, gi)))
		var r struct {
			Body struct{ ID string } `json:"body"`
		}
		_ = json.Unmarshal(out, &r)
		var euis []string
		for m := range members {
			euis = append(euis, fmt.Sprintf("%q", fmt.Sprintf("24E12413%08X", (gi*members+m)%n)))
		}
		g.Handle(envelope("POST", "/api/multicast-groups/"+r.Body.ID+"/devices", `{"devEUIs":[`+strings.Join(euis, ",")+`]}`))
	}
	return g
}

// BenchmarkListGroups10k lists 100 groups of 100 members on a gateway of
// 10,000 devices (one page).
func BenchmarkListGroups10k(b *testing.B) {
	g := bigGateway(b, 10000, 100, 100)
	req := envelope("GET", "/api/multicast-groups?search=&order=asc&offset=0&limit=500", nil)
	b.ResetTimer()
	for b.Loop() {
		if g.Handle(req) == nil {
			b.Fatal("no answer")
		}
	}
}

// BenchmarkGetDevice10k finds one device by EUI among 10,000.
func BenchmarkGetDevice10k(b *testing.B) {
	g := bigGateway(b, 10000, 0, 0)
	req := envelope("GET", "/api/urdevices?search=24E1241300001234&limit=500&offset=0&applicationID=0", nil)
	b.ResetTimer()
	for b.Loop() {
		if g.Handle(req) == nil {
			b.Fatal("no answer")
		}
	}
}

// BenchmarkCreateDeleteDevice10k creates and deletes a device, in memory,
// on a gateway of 10,000 devices.
func BenchmarkCreateDeleteDevice10k(b *testing.B) {
	g := bigGateway(b, 10000, 0, 0)
	create := envelope("POST", "/api/urdevices", `{"devEUI":"24E124FFFF000001","applicationID":"1"}`)
	del := envelope("DELETE", "/api/urdevices/24E124FFFF000001", nil)
	b.ResetTimer()
	for b.Loop() {
		g.Handle(create)
		g.Handle(del)
	}
}

// BenchmarkListProfiles200 lists 200 profiles on a gateway of 10,000
// devices.
func BenchmarkListProfiles200(b *testing.B) {
	g := bigGateway(b, 10000, 0, 0)
	for i := range 197 {
		g.Handle(envelope("POST", "/api/urprofiles", fmt.Sprintf(`{"name":"p-%d","profile":{"supportsJoin":true}}`, i)))
	}
	req := envelope("GET", "/api/urprofiles?limit=500&offset=0", nil)
	b.ResetTimer()
	for b.Loop() {
		if g.Handle(req) == nil {
			b.Fatal("no answer")
		}
	}
}
