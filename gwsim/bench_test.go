package gwsim

import (
	"context"
	"fmt"
	"path/filepath"
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
