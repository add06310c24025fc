package gwsim

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/gwsync/gwsync/nsapi"
)

// mqttClient is a plain paho client subscribed to a response topic.
type mqttClient struct {
	c    paho.Client
	ans  chan nsapi.Response
	lost chan error
}

func dial(t *testing.T, url, user, pass, respTopic string) (*mqttClient, error) {
	t.Helper()
	m := &mqttClient{ans: make(chan nsapi.Response, 100), lost: make(chan error, 1)}
	o := paho.NewClientOptions().AddBroker(url).SetClientID(fmt.Sprint("test-", reqSeq.Add(1))).
		SetUsername(user).SetPassword(pass).SetAutoReconnect(false).SetConnectRetry(false).
		SetConnectTimeout(5 * time.Second).
		SetConnectionLostHandler(func(_ paho.Client, err error) { m.lost <- err })
	m.c = paho.NewClient(o)
	tok := m.c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, fmt.Errorf("connect timed out")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { m.c.Disconnect(0) })
	tok = m.c.Subscribe(respTopic, 0, func(_ paho.Client, msg paho.Message) {
		var typ struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(msg.Payload(), &typ)
		var r nsapi.Response
		if typ.Type == "" && json.Unmarshal(msg.Payload(), &r) == nil { // skip requests on a shared topic
			m.ans <- r
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return nil, fmt.Errorf("subscribe: %v", tok.Error())
	}
	return m, nil
}

// roundTrip publishes a request and waits (bounded) for its answer.
func (m *mqttClient) roundTrip(t *testing.T, topic, id, method, url, body string) nsapi.Response {
	t.Helper()
	tok := m.c.Publish(topic, 0, false, rawRequest(id, method, url, body))
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case r := <-m.ans:
			if r.ID == id {
				return r
			}
		case <-timeout:
			t.Fatalf("no answer to %s", id)
		}
	}
}

func TestServeEmbedded(t *testing.T) {
	g := newGateway(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := ServeEmbedded(ctx, g, "127.0.0.1:0", "milesight-gateway/{eui}/request", "milesight-gateway/{eui}/response",
		WithWebsocket("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.RequestTopic() != "milesight-gateway/24E124FFFEF5A6A8/request" || !strings.HasPrefix(s.URL(), "tcp://127.0.0.1:") ||
		strings.HasSuffix(s.Addr(), ":0") {
		t.Errorf("topic %q, url %q, addr %q", s.RequestTopic(), s.URL(), s.Addr())
	}
	for _, url := range []string{s.URL(), s.WSURL()} {
		t.Run(url[:strings.Index(url, ":")], func(t *testing.T) {
			m, err := dial(t, url, "", "", s.ResponseTopic())
			if err != nil {
				t.Fatal(err)
			}
			r := m.roundTrip(t, s.RequestTopic(), "id-"+url, "GET", "/api/urprofiles?limit=9999&offset=0", "")
			var pl nsapi.ProfileList
			if err := json.Unmarshal(r.Body, &pl); err != nil || len(pl.Result) != 3 || r.GatewayEUI != "24E124FFFEF5A6A8" {
				t.Errorf("answer %+v: want the 3 built-in profiles from 24E124FFFEF5A6A8 (%v)", r, err)
			}
		})
	}

	t.Run("disconnect fault drops the requester", func(t *testing.T) {
		m, err := dial(t, s.URL(), "", "", s.ResponseTopic())
		if err != nil {
			t.Fatal(err)
		}
		g.Faults().Add(Fault{Method: "GET", Disconnect: true})
		_ = m.c.Publish(s.RequestTopic(), 0, false, rawRequest("dc", "GET", "/api/urdevices", ""))
		select {
		case <-m.lost:
		case <-time.After(10 * time.Second):
			t.Fatal("the client was not disconnected")
		}
	})

	t.Run("closed with its context", func(t *testing.T) {
		cancel()
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, err := dial(t, s.URL(), "", "", s.ResponseTopic()); err != nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("broker still accepts clients after its context ended")
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

func TestServeEmbeddedAuth(t *testing.T) {
	g := newGateway(t, Options{})
	s, err := ServeEmbedded(context.Background(), g, "127.0.0.1:0", "req", "resp", WithAuth("gwsync", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := dial(t, s.URL(), "gwsync", "wrong", "resp"); err == nil {
		t.Error("connected with a wrong password")
	}
	if _, err := dial(t, s.URL(), "", "", "resp"); err == nil {
		t.Error("connected anonymously")
	}
	m, err := dial(t, s.URL(), "gwsync", "s3cret", "resp")
	if err != nil {
		t.Fatalf("connect with the password: %v", err)
	}
	r := m.roundTrip(t, "req", "a1", "POST", "/api/urdevices", `{"devEUI":"24E124136A456465","applicationID":"1"}`)
	if string(r.Body) != `{"code":200,"error":""}` {
		t.Errorf("answer %s", r.Body)
	}
}

func TestServeEmbeddedBadAddress(t *testing.T) {
	g := newGateway(t, Options{})
	if _, err := ServeEmbedded(context.Background(), g, "256.0.0.1:1", "req", "resp"); err == nil {
		t.Error("bad listen address: no error")
	}
	if _, err := ServeEmbedded(context.Background(), g, "127.0.0.1:0", "", "resp"); err == nil {
		t.Error("no request topic: no error")
	}
}

func TestServeOnBroker(t *testing.T) {
	// The embedded broker of one gateway is the "other broker" of a second.
	g1 := newGateway(t, Options{})
	broker, err := ServeEmbedded(context.Background(), g1, "127.0.0.1:0", "gw1/req", "gw1/resp")
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	g2 := newGateway(t, Options{EUI: "24E124FFFE000002"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := ServeOnBroker(ctx, g2, broker.URL(), "gw/{eui}/req", "gw/{eui}/resp", "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m, err := dial(t, broker.URL(), "", "", s.ResponseTopic())
	if err != nil {
		t.Fatal(err)
	}
	// ServeOnBroker returns once its subscription stands: the first
	// request, sent at once and only once, is answered.
	r := m.roundTrip(t, s.RequestTopic(), "p", "GET", "/api/urdevices", "")
	if r.GatewayEUI != "24E124FFFE000002" || r.ID != "p" {
		t.Errorf("answer %+v: want id p from 24E124FFFE000002", r)
	}
	// A Disconnect fault is not supported there: ignored, the write is
	// performed and answered.
	g2.Faults().Add(Fault{Disconnect: true})
	r = m.roundTrip(t, s.RequestTopic(), "w", "POST", "/api/urdevices", `{"devEUI":"24E124136A456465","applicationID":"1"}`)
	if string(r.Body) != `{"code":200,"error":""}` || g2.Writes() != 1 {
		t.Errorf("write under an ignored Disconnect fault: answer %s, %d writes; want success, 1", r.Body, g2.Writes())
	}
	select {
	case err := <-m.lost:
		t.Errorf("the test client lost its connection: %v", err)
	default:
	}
}

func TestServeEmbeddedSharedTopic(t *testing.T) {
	// Requests and answers on one topic: the gateway must not answer its
	// own answers.
	g := newGateway(t, Options{})
	s, err := ServeEmbedded(context.Background(), g, "127.0.0.1:0", "gw/{eui}", "gw/{eui}")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m, err := dial(t, s.URL(), "", "", "gw/24E124FFFEF5A6A8")
	if err != nil {
		t.Fatal(err)
	}
	r := m.roundTrip(t, "gw/24E124FFFEF5A6A8", "s1", "POST", "/api/urdevices", `{"devEUI":"24E124136A456465","applicationID":"1"}`)
	if string(r.Body) != `{"code":200,"error":""}` {
		t.Errorf("answer %s", r.Body)
	}
	r = m.roundTrip(t, "gw/24E124FFFEF5A6A8", "s2", "GET", "/api/payloadcodecs-short?type=custom", "")
	if string(r.Body) != `{"totalCount":0,"result":[]}` {
		t.Errorf("answer %s", r.Body)
	}
	if g.Writes() != 1 {
		t.Errorf("Writes() = %d, want 1", g.Writes())
	}
}

// TestServeOnBrokerAnswersAtOnce: a gateway attached to another broker
// answers a request sent the moment ServeOnBroker returns, every time.
func TestServeOnBrokerAnswersAtOnce(t *testing.T) {
	g1 := newGateway(t, Options{})
	broker, err := ServeEmbedded(context.Background(), g1, "127.0.0.1:0", "gw1/req", "gw1/resp")
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	for i := range 15 {
		g := newGateway(t, Options{EUI: fmt.Sprintf("24E124FFFE0001%02X", i)})
		m, err := dial(t, broker.URL(), "", "", "gw/"+g.EUI()+"/resp")
		if err != nil {
			t.Fatal(err)
		}
		s, err := ServeOnBroker(context.Background(), g, broker.URL(), "gw/{eui}/req", "gw/{eui}/resp", "", "")
		if err != nil {
			t.Fatal(err)
		}
		r := m.roundTrip(t, s.RequestTopic(), "at-once", "GET", "/api/urprofiles", "")
		if r.ID != "at-once" {
			t.Fatalf("gateway %d: answer %+v", i, r)
		}
		_ = s.Close()
	}
}
