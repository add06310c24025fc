package gwsim

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"
)

// TestCloseWhileClientsConnect closes the embedded broker again and again
// while clients keep connecting: Close returns, the port is released, and
// (under -race) no connection races with the broker's shutdown.
func TestCloseWhileClientsConnect(t *testing.T) {
	g, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	for round := range 20 {
		ctx, cancel := context.WithCancel(context.Background())
		s, err := ServeEmbedded(ctx, g, "127.0.0.1:0", "milesight-gateway/{eui}/request", "milesight-gateway/{eui}/response")
		if err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					mqttConnect(s.Addr())
				}
			})
		}
		time.Sleep(time.Duration(round%5) * 5 * time.Millisecond)
		done := make(chan error, 1)
		go func() { done <- s.Close() }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Fatalf("round %d: Close did not return", round)
		}
		close(stop)
		wg.Wait()
		cancel()
		if c, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
			c.Close()
			t.Fatalf("round %d: %s still accepts connections after Close", round, s.Addr())
		}
	}
}

// mqttConnect opens a connection to addr, sends an MQTT 3.1.1 CONNECT,
// waits (briefly) for the CONNACK and closes: a client that comes and
// goes, with deadlines of its own.
func mqttConnect(addr string) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	connect := []byte{0x10, 14, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 2, 'c', '1'}
	if _, err := c.Write(connect); err != nil {
		return
	}
	var connack [4]byte
	_, _ = c.Read(connack[:])
}
