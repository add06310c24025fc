package nsapi_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gwsync/gwsync/nsapi"
)

// stateGW answers the six lists ReadState makes, each in an order that is
// not the identity order.
func stateGW(t *testing.T) *fakeGW {
	return &fakeGW{handle: func(req nsapi.Request, _ []byte) [][]byte {
		path, _, _ := strings.Cut(req.URL, "?")
		var body string
		switch path {
		case "/api/urprofiles":
			body = `{"totalCount":"2","result":[{"name":"b","profile":{"profileID":"p2"}},{"name":"a","profile":{"profileID":"p1"}}],"channelPlan":"EU868"}`
		case "/api/urdevices":
			body = `{"devTotalCount":2,"deviceResult":[{"devEUI":"24E1240000000002","appKey":"5572404C696E6B4C6F52613230313823"},{"devEUI":"24e1240000000001","nwksKey":"00112233445566778899aabbccddeeff","appSKey":""}],
				"appTotalCount":"2","appResult":[{"appName":"ten","applicationID":"10"},{"appName":"cloud","applicationID":"2"}],"channelPlan":"EU868"}`
		case "/api/payloadcodecs":
			body = `{"totalCount":"2","result":[{"id":"9","name":"z"},{"id":"8","name":"y","decoderScript":"x"}]}`
		case "/api/payloadcodecs-short":
			body = `{"totalCount":"2","result":[{"id":"2","name":"UC11"},{"id":"1","name":"AM102"}]}`
		case "/api/multicast-groups":
			body = `{"totalCount":1,"result":[{"id":"g","name":"lights","mcNwkSKey":"0123456789abcdef0123456789abcdef","mcAppSKey":"","devices":[{"devEUI":"24E1240000000002"},{"devEUI":"24E1240000000001"}]}]}`
		case "/api/fuota/task":
			body = `{"total":2,"tasks":[{"id":2,"name":"up","deveui":["24e1240000000002","24e1240000000001"]},{"id":1,"name":"down","deveui":[]}]}`
		default:
			body = `{"code":21,"error":"type or url not supported"}`
		}
		return [][]byte{answer(req, "24e124fffef5a6a8", raw(body))}
	}}
}

func TestReadState(t *testing.T) {
	f := stateGW(t)
	c := newClient(t, f, nsapi.Config{})
	s, err := c.ReadState(context.Background())
	if err != nil {
		t.Fatalf("ReadState: %v", err)
	}
	want := &nsapi.State{
		FormatVersion: nsapi.StateFormatVersion,
		GatewayEUI:    "24E124FFFEF5A6A8",
		ChannelPlan:   "EU868",
		Applications:  []nsapi.Application{{ApplicationID: "2", AppName: "cloud"}, {ApplicationID: "10", AppName: "ten"}},
		Profiles: []nsapi.Profile{
			{Name: "a", Profile: nsapi.ProfileSettings{ProfileID: "p1"}},
			{Name: "b", Profile: nsapi.ProfileSettings{ProfileID: "p2"}},
		},
		Devices: []nsapi.Device{
			{DevEUI: "24e1240000000001", NwkSKey: "00112233445566778899aabbccddeeff"},
			{DevEUI: "24E1240000000002", AppKey: "5572404C696E6B4C6F52613230313823"},
		},
		Codecs:        []nsapi.Codec{{ID: "8", Name: "y", DecoderScript: "x"}, {ID: "9", Name: "z"}},
		BuiltinCodecs: []nsapi.CodecShort{{ID: "1", Name: "AM102"}, {ID: "2", Name: "UC11"}},
		Groups: []nsapi.MulticastGroupInfo{{ID: "g",
			MulticastGroup: nsapi.MulticastGroup{Name: "lights", McNwkSKey: "0123456789abcdef0123456789abcdef"},
			Devices:        []nsapi.GroupMember{{DevEUI: "24E1240000000001"}, {DevEUI: "24E1240000000002"}}}},
		Tasks: []nsapi.FuotaTask{
			{ID: 1, Name: "down", DevEUIs: []string{}},
			{ID: 2, Name: "up", DevEUIs: []string{"24e1240000000001", "24e1240000000002"}},
		},
	}
	if d := cmp.Diff(want, s); d != "" {
		t.Errorf("ReadState (-want +got):\n%s", d)
	}
	var kinds []string
	for _, u := range f.urls() {
		if strings.Contains(u, "type=default") {
			kinds = append(kinds, u)
		}
	}
	if len(kinds) != 1 || !strings.HasPrefix(kinds[0], "GET /api/payloadcodecs-short?") {
		t.Errorf("built-in codecs read with %q, want the short list with type=default", kinds)
	}

	// The same gateway gives the same bytes.
	again, err := c.ReadState(context.Background())
	if err != nil {
		t.Fatalf("second ReadState: %v", err)
	}
	a, _ := s.MarshalIndent()
	b, _ := again.MarshalIndent()
	if string(a) != string(b) {
		t.Errorf("two reads of one gateway differ:\n%s\n%s", a, b)
	}
}

func TestReadStateReportsEveryFailedList(t *testing.T) {
	f := &fakeGW{handle: func(req nsapi.Request, _ []byte) [][]byte {
		if strings.HasPrefix(req.URL, "/api/urdevices") || strings.HasPrefix(req.URL, "/api/fuota") {
			return [][]byte{answer(req, "", raw(`{"code":23,"error":"internal"}`))}
		}
		return [][]byte{answer(req, "", raw(`{"totalCount":0,"result":[]}`))}
	}}
	c := newClient(t, f, nsapi.Config{})
	_, err := c.ReadState(context.Background())
	if !nsapi.IsCode(err, nsapi.CodeInternal) {
		t.Fatalf("got %v, want code 23", err)
	}
	for _, what := range []string{"read devices", "read FUOTA tasks"} {
		if !strings.Contains(err.Error(), what) {
			t.Errorf("error %q does not name %q", err, what)
		}
	}
}

func digest(v string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(v)))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func TestSecretDigest(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"5572404c696e6b4c6f52613230313823", digest("5572404c696e6b4c6f52613230313823")},
		{"5572404C696E6B4C6F52613230313823", digest("5572404c696e6b4c6f52613230313823")},
		{digest("00"), digest("00")},
	}
	for _, tc := range cases {
		if got := nsapi.SecretDigest(tc.in); got != tc.want {
			t.Errorf("SecretDigest(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMaskSecrets(t *testing.T) {
	c := newClient(t, stateGW(t), nsapi.Config{})
	s, err := c.ReadState(context.Background())
	if err != nil {
		t.Fatalf("ReadState: %v", err)
	}
	clear := *s
	clearFP := s.Fingerprint()
	masked, err := c.ReadState(context.Background())
	if err != nil {
		t.Fatalf("ReadState: %v", err)
	}
	masked.MaskSecrets()
	b, err := masked.MarshalIndent()
	if err != nil {
		t.Fatalf("MarshalIndent: %v", err)
	}
	for _, key := range []string{"5572404c696e6b4c6f52613230313823", "00112233445566778899aabbccddeeff", "0123456789abcdef0123456789abcdef"} {
		if strings.Contains(strings.ToLower(string(b)), key) {
			t.Errorf("masked snapshot holds key %s:\n%s", key, b)
		}
	}
	type keys struct{ App, Nwk, AppS string }
	var got []keys
	for _, d := range masked.Devices {
		got = append(got, keys{d.AppKey, d.NwkSKey, d.AppSKey})
	}
	want := []keys{
		{"", digest("00112233445566778899aabbccddeeff"), ""},
		{digest("5572404c696e6b4c6f52613230313823"), "", ""},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("device keys (-want +got):\n%s", d)
	}
	if g := masked.Groups[0]; g.McNwkSKey != digest("0123456789abcdef0123456789abcdef") || g.McAppSKey != "" {
		t.Errorf("group keys = %q, %q", g.McNwkSKey, g.McAppSKey)
	}
	if clear.Devices[1].AppKey == masked.Devices[1].AppKey {
		t.Errorf("masking changed nothing")
	}
	if fp := masked.Fingerprint(); fp != clearFP {
		t.Errorf("masked fingerprint %s differs from the clear one %s", fp, clearFP)
	}
	// Masking twice changes nothing more.
	again := *masked
	again.Devices = append([]nsapi.Device(nil), masked.Devices...)
	again.MaskSecrets()
	if d := cmp.Diff(masked.Devices, again.Devices); d != "" {
		t.Errorf("second MaskSecrets (-once +twice):\n%s", d)
	}
}

// TestReadStateStopsAtTheFirstUnansweredRead: a gateway that answers
// nothing (offline, or wrong topics) makes ReadState fail with one error
// that says so, without waiting out every other read's timeout in turn.
func TestReadStateStopsAtTheFirstUnansweredRead(t *testing.T) {
	f := &fakeGW{handle: func(nsapi.Request, []byte) [][]byte { return nil }}
	c := newClient(t, f, nsapi.Config{Window: 1, RequestTimeout: 50 * time.Millisecond})
	_, err := c.ReadState(context.Background())
	if !errors.Is(err, nsapi.ErrUnknownOutcome) {
		t.Fatalf("ReadState: got %v, want an unknown-outcome error", err)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		t.Errorf("the error has several lines, want the first unanswered read only:\n%s", msg)
	}
	for _, want := range []string{"no answer", "the gateway never answered"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error %q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "outcome of the request is unknown") {
		t.Errorf("a read's error %q speaks of an unknown outcome, which only matters for writes", msg)
	}
	// The reads waiting for a slot were not sent once one went unanswered.
	if n := len(f.urls()); n > 2 {
		t.Errorf("%d requests sent, want at most 2 (the one that went unanswered, and one that took its slot)", n)
	}
}
