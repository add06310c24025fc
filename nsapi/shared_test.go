package nsapi_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gwsync/gwsync/gwsim"
	"github.com/gwsync/gwsync/nsapi"
)

// sharedFleet serves a simulated gateway of each opts on one embedded
// broker (requests on fleet/{eui}/request, answers on resp) and opens a
// shared connection to it; all are closed when the test ends.
func sharedFleet(t *testing.T, opts []gwsim.Options, resp string) (*gwsim.Server, []*gwsim.Gateway, *nsapi.SharedMQTT) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var srv *gwsim.Server
	var gws []*gwsim.Gateway
	for i, o := range opts {
		g, err := gwsim.New(o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Close() })
		if i == 0 {
			srv, err = gwsim.ServeEmbedded(ctx, g, "127.0.0.1:0", "fleet/{eui}/request", resp)
			if err == nil {
				t.Cleanup(func() { srv.Close() })
			}
		} else {
			_, err = srv.Attach(g, "fleet/{eui}/request", resp)
		}
		if err != nil {
			t.Fatal(err)
		}
		gws = append(gws, g)
	}
	shared, err := nsapi.NewSharedMQTT(nsapi.Config{Broker: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	if err := shared.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shared.Close() })
	return srv, gws, shared
}

// TestSharedMQTT: the clients of several gateways over one MQTT
// connection each get their own gateway's answers, under concurrent
// requests, whether the gateways answer on topics of their own or all on
// one topic (then routed by the gateway EUI the answer carries); the
// broker sees one client; closing one gateway's transport leaves the
// others working.
func TestSharedMQTT(t *testing.T) {
	for _, tc := range []struct{ name, resp string }{
		{"topic per gateway", "fleet/{eui}/response"},
		{"one response topic", "fleet/responses"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			plans := []string{"EU868", "US915", "AS923-1", "IN865"}
			var opts []gwsim.Options
			var euis []string
			for i, p := range plans {
				euis = append(euis, fmt.Sprintf("24E124FFFE3000%02X", i))
				opts = append(opts, gwsim.Options{EUI: euis[i], ChannelPlan: p})
			}
			srv, _, shared := sharedFleet(t, opts, tc.resp)
			var clients []*nsapi.Client
			for _, eui := range euis {
				resp := tc.resp
				if resp == "fleet/{eui}/response" {
					resp = "fleet/" + eui + "/response"
				}
				cl, err := nsapi.New(ctx, shared.Gateway("fleet/"+eui+"/request", resp, eui), nsapi.Config{GatewayEUI: eui})
				if err != nil {
					t.Fatal(err)
				}
				clients = append(clients, cl)
			}
			if n := shared.Gateways(); n != len(plans) {
				t.Errorf("%d gateways on the connection, want %d", n, len(plans))
			}
			check := func(idx []int) {
				var wg sync.WaitGroup
				for _, i := range idx {
					for k := 0; k < 5; k++ {
						wg.Add(1)
						go func() {
							defer wg.Done()
							st, err := clients[i].ReadState(ctx)
							if err != nil {
								t.Errorf("gateway %s: %v", euis[i], err)
								return
							}
							if st.ChannelPlan != plans[i] {
								t.Errorf("gateway %s: read channel plan %s, want %s", euis[i], st.ChannelPlan, plans[i])
							}
						}()
					}
				}
				wg.Wait()
			}
			check([]int{0, 1, 2, 3})
			if peak := srv.PeakClients(); peak != 1 {
				t.Errorf("the broker had %d clients at once, want 1", peak)
			}
			if err := clients[1].Close(); err != nil {
				t.Fatal(err)
			}
			check([]int{0, 2, 3})
			if n := shared.Gateways(); n != len(plans)-1 {
				t.Errorf("%d gateways on the connection after one closed, want %d", n, len(plans)-1)
			}
			for _, i := range []int{0, 2, 3} {
				clients[i].Close()
			}
		})
	}
}

// TestSharedMQTTRefusals: a gateway transport before the connection is
// open, and a broker URL of the wrong kind.
func TestSharedMQTTRefusals(t *testing.T) {
	if _, err := nsapi.NewSharedMQTT(nsapi.Config{Broker: "http://x:1"}); err == nil {
		t.Error("http:// accepted")
	}
	s, err := nsapi.NewSharedMQTT(nsapi.Config{Broker: "tcp://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nsapi.New(context.Background(), s.Gateway("a", "b", ""), nsapi.Config{}); err == nil {
		t.Error("a gateway connected over a shared connection never opened")
	}
}

// TestSharedMQTTReconnect: when the shared connection is dropped, every
// gateway's request in flight fails as an unknown outcome, and a request
// made at once, while paho reconnects, waits for the connection and its
// subscriptions to be back instead of being dropped unsent; every
// gateway works afterwards.
func TestSharedMQTTReconnect(t *testing.T) {
	ctx := context.Background()
	_, gws, shared := sharedFleet(t, []gwsim.Options{{EUI: "24E124FFFE310000"}, {EUI: "24E124FFFE310001"}}, "fleet/{eui}/response")
	var clients []*nsapi.Client
	for _, g := range gws {
		cl, err := nsapi.New(ctx, shared.Gateway("fleet/"+g.EUI()+"/request", "fleet/"+g.EUI()+"/response", g.EUI()),
			nsapi.Config{GatewayEUI: g.EUI(), RequestTimeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		clients = append(clients, cl)
	}
	gws[0].Faults().Add(gwsim.Fault{Method: "DELETE", Disconnect: true})
	if err := clients[0].DeleteGroup(ctx, "g-1"); !errors.Is(err, nsapi.ErrUnknownOutcome) || strings.Contains(err.Error(), "timeout after") {
		t.Fatalf("the request whose connection dropped: got %v, want an unknown outcome caused by the lost connection", err)
	}
	for i, cl := range clients {
		start := time.Now()
		if l, err := cl.ListProfiles(ctx); err != nil || len(l.Result) == 0 {
			t.Errorf("gateway %d, a read made while the connection comes back: %v, %v (after %s)", i, l, err, time.Since(start))
		}
	}
}
