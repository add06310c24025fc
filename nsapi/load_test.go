package nsapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/gwsync/gwsync/gwsim"
	"github.com/gwsync/gwsync/nsapi"
)

// impostor listens to the request topic like the gateway does and, for
// every request, answers first with wrong answers that must all be ignored:
// the same id from another gateway, another id, and junk.
func impostor(t *testing.T, addr, reqTopic, respTopic string) *atomic.Int64 {
	t.Helper()
	var sent atomic.Int64
	cl := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("impostor").SetOrderMatters(false))
	if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("impostor connect: %v", tok.Error())
	}
	t.Cleanup(func() { cl.Disconnect(100) })
	tok := cl.Subscribe(reqTopic, 0, func(c paho.Client, m paho.Message) {
		var req nsapi.Request
		if json.Unmarshal(m.Payload(), &req) != nil {
			return
		}
		wrong := map[string]any{"devTotalCount": "1", "deviceResult": []any{map[string]any{"devEUI": "24E1240000000000", "name": "impostor"}}}
		for _, msg := range []map[string]any{
			{"id": req.ID, "gatewayEUI": "0242ACFFFE160007", "method": req.Method, "url": req.URL, "body": wrong},
			{"id": req.ID + "0", "gatewayEUI": gwsim.DefaultEUI, "method": req.Method, "url": req.URL, "body": wrong},
			{"id": 12345, "body": wrong},
		} {
			b, _ := json.Marshal(msg)
			c.Publish(respTopic, 0, false, b)
			sent.Add(1)
		}
		c.Publish(respTopic, 0, false, []byte(`{"id":"`+req.ID+`", "body": {`)) // cut short
		sent.Add(1)
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("impostor subscribe: %v", tok.Error())
	}
	return &sent
}

func TestThousandRequestsInAWindowOfEight(t *testing.T) {
	const (
		devices  = 40
		requests = 1000
	)
	g, err := gwsim.New(gwsim.Options{Jitter: 3 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	reqTopic, respTopic := "gw/"+gwsim.DefaultEUI+"/request", "gw/"+gwsim.DefaultEUI+"/response"
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	srv, err := gwsim.ServeEmbedded(ctx, g, "127.0.0.1:0", reqTopic, respTopic)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	c, err := nsapi.Dial(context.Background(), nsapi.Config{Broker: "tcp://" + srv.Addr(), RequestTopic: reqTopic, ResponseTopic: respTopic,
		GatewayEUI: gwsim.DefaultEUI, Window: 8, RequestTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })

	profileID := classA(t, c)
	euis := make([]string, devices)
	var wg sync.WaitGroup
	for i := range euis {
		euis[i] = fmt.Sprintf("24E12413%08X", i*7919)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.CreateDevice(context.Background(), nsapi.DeviceWrite{DevEUI: euis[i], Name: "n-" + euis[i],
				ApplicationID: "1", ProfileID: profileID, AppKey: testKey}); err != nil {
				t.Errorf("CreateDevice: %v", err)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	injected := impostor(t, srv.Addr(), reqTopic, respTopic)
	// One answer is lost on the way: that request alone ends unknown.
	lost := euis[devices/2]
	g.Faults().Add(gwsim.Fault{Method: "GET", URLContains: "search=" + lost, DropResponse: true})

	before := c.Requests()
	var (
		mu       sync.Mutex
		outcomes []error
		wrong    []string
	)
	sem := make(chan struct{}, 32) // more callers than the window
	for i := range requests {
		eui := euis[rand.IntN(devices)]
		if i == requests/3 {
			eui = lost
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			d, err := c.GetDevice(context.Background(), eui)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				outcomes = append(outcomes, fmt.Errorf("%s: %w", eui, err))
			case !strings.EqualFold(d.DevEUI, eui) || d.Name != "n-"+eui:
				wrong = append(wrong, fmt.Sprintf("asked %s, got %s %q", eui, d.DevEUI, d.Name))
			}
		}()
	}
	wg.Wait()
	if len(wrong) > 0 {
		t.Errorf("%d answers matched to the wrong request, e.g. %s", len(wrong), wrong[0])
	}
	var unknown int
	for _, err := range outcomes {
		if errors.Is(err, nsapi.ErrUnknownOutcome) && strings.HasPrefix(err.Error(), lost) {
			unknown++
			continue
		}
		t.Errorf("unexpected failure: %v", err)
	}
	if unknown == 0 {
		t.Errorf("the dropped answer did not end in an unknown outcome")
	}
	if n := c.Requests() - before; n != requests {
		t.Errorf("sent %d requests, want %d", n, requests)
	}
	if injected.Load() < requests {
		t.Errorf("only %d wrong answers were injected", injected.Load())
	}
}
