package gwsim

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gwsync/gwsync/nsapi"
)

// TestServeEmbeddedLogin: with a login, a wrong password, a wrong user, a
// password that matches only as a wildcard pattern would, and no login at
// all are refused; the right login is served.
func TestServeEmbeddedLogin(t *testing.T) {
	g := newGateway(t, Options{})
	s, err := ServeEmbedded(context.Background(), g, "127.0.0.1:0", "req", "resp", WithAuth("ci", "p*ss"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, login := range [][2]string{{"ci", "pwned"}, {"ci", "p*"}, {"ci", "p*ssx"}, {"CI", "p*ss"}, {"other", "p*ss"}, {"", ""}, {"ci", ""}} {
		if _, err := dial(t, s.URL(), login[0], login[1], "resp"); err == nil {
			t.Errorf("user %q password %q: connected", login[0], login[1])
		}
	}
	m, err := dial(t, s.URL(), "ci", "p*ss", "resp")
	if err != nil {
		t.Fatalf("connect with the login: %v", err)
	}
	r := m.roundTrip(t, "req", "l1", "GET", "/api/urprofiles", "")
	if pl, err := decodeProfiles(r.Body); err != nil || len(pl.Result) != 3 {
		t.Errorf("answer %s (%v): want the 3 built-in profiles", r.Body, err)
	}
}

func decodeProfiles(b json.RawMessage) (nsapi.ProfileList, error) {
	var pl nsapi.ProfileList
	err := json.Unmarshal(b, &pl)
	return pl, err
}

// TestServeEmbeddedOptionErrors: a half login and a size limit out of
// bounds are refused before anything listens.
func TestServeEmbeddedOptionErrors(t *testing.T) {
	g := newGateway(t, Options{})
	for _, o := range []ServeOption{WithAuth("u", ""), WithAuth("", "p"), WithMaxMessage(100), WithMaxMessage(1 << 30), WithMaxMessage(-1)} {
		s, err := ServeEmbedded(context.Background(), g, "127.0.0.1:0", "req", "resp", o)
		if err == nil {
			_ = s.Close()
			t.Errorf("%+v: no error", o)
		}
	}
}

// TestServeEmbeddedMessageLimit: a message above the limit drops its
// sender's connection and reaches no one; the gateway goes on serving, a
// message just under the limit included.
func TestServeEmbeddedMessageLimit(t *testing.T) {
	g := newGateway(t, Options{})
	const limit = 4096
	s, err := ServeEmbedded(context.Background(), g, "127.0.0.1:0", "req", "resp", WithMaxMessage(limit))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	big, err := dial(t, s.URL(), "", "", "resp")
	if err != nil {
		t.Fatal(err)
	}
	// A device create whose description pads the message past the limit.
	pad := func(n int) []byte {
		return rawRequest("big", "POST", "/api/urdevices",
			fmt.Sprintf(`{"devEUI":"24E124136A456465","applicationID":"1","description":%q}`, strings.Repeat("x", n)))
	}
	_ = big.c.Publish("req", 0, false, pad(limit))
	select {
	case <-big.lost:
	case <-time.After(10 * time.Second):
		t.Fatal("the sender of an oversize message was not disconnected")
	}
	m, err := dial(t, s.URL(), "", "", "resp")
	if err != nil {
		t.Fatalf("connect after an oversize message: %v", err)
	}
	r := m.roundTrip(t, "req", "after", "GET", "/api/urdevices", "")
	var dl nsapi.DeviceList
	if err := json.Unmarshal(r.Body, &dl); err != nil || len(dl.DeviceResult) != 0 {
		t.Errorf("devices after the oversize create: %s (%v); want none", r.Body, err)
	}
	// Under the limit (topic and header included) it is served.
	msg := pad(0)
	fits := pad(limit - len(msg) - len("req") - 64)
	if len(fits) >= limit {
		t.Fatalf("test message of %d bytes", len(fits))
	}
	_ = m.c.Publish("req", 0, false, fits)
	select {
	case a := <-m.ans:
		if a.ID != "big" {
			t.Errorf("answer %+v", a)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no answer to a %d-byte message under the %d-byte limit", len(fits), limit)
	}
}

// TestLargestRequestFits measures the largest legitimate request, a
// FUOTA task create carrying the largest firmware a site may declare
// (16383 fragments of 250 bytes, no redundancy) for 2000 devices, and
// sends it through the embedded broker with the default limit.
func TestLargestRequestFits(t *testing.T) {
	if testing.Short() {
		t.Skip("a 5 MiB message")
	}
	clk := newClock()
	g := newGateway(t, Options{Now: clk.Now})
	const devices = 2000
	euis := make([]string, devices)
	for i := range euis {
		euis[i] = fmt.Sprintf("24E12413%08X", i)
	}
	addDevice(t, g, euis[0], "d0")
	task := nsapi.FuotaTask{
		Name: strings.Repeat("n", 127), Description: strings.Repeat("d", 1024),
		StartedAt: clk.Now().Add(time.Hour).Format(time.RFC3339), DevEUIs: euis,
		FirmwareInfo: &nsapi.FirmwareInfo{FirmwareName: strings.Repeat("f", 127) + ".bin",
			FileContent: base64.StdEncoding.EncodeToString(make([]byte, 16383*250))},
		FragmentInfo: nsapi.FragmentInfo{FragmentSize: 250, FragmentInterval: 10000, FragmentRedundancy: 0},
		TmpMcInfo:    nsapi.TmpMcInfo{DR: 5, Frequency: 869525000},
	}
	body, err := json.Marshal(map[string]any{"fuotaTask": task})
	if err != nil {
		t.Fatal(err)
	}
	msg := rawRequest("largest", "POST", "/api/fuota/task", string(body))
	t.Logf("largest legitimate request: %d bytes (%.2f MiB); default limit %d", len(msg), float64(len(msg))/(1<<20), DefaultMaxMessage)
	if len(msg)+1024 > DefaultMaxMessage {
		t.Fatalf("the largest legitimate request (%d bytes) does not fit DefaultMaxMessage (%d)", len(msg), DefaultMaxMessage)
	}
	s, err := ServeEmbedded(context.Background(), g, "127.0.0.1:0", "milesight-gateway/{eui}/request", "milesight-gateway/{eui}/response")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m, err := dial(t, s.URL(), "", "", s.ResponseTopic())
	if err != nil {
		t.Fatal(err)
	}
	_ = m.c.Publish(s.RequestTopic(), 0, false, msg)
	select {
	case a := <-m.ans:
		// The devices but the first are not on the gateway: code 5
		// shows the request arrived and was read.
		if a.ID != "largest" || !strings.Contains(string(a.Body), `"code":5`) {
			t.Errorf("answer %s %s", a.ID, a.Body)
		}
	case <-m.lost:
		t.Fatal("the largest legitimate request cost its sender the connection")
	case <-time.After(20 * time.Second):
		t.Fatal("no answer to the largest legitimate request")
	}
}
