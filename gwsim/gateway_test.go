package gwsim

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gwsync/gwsync/nsapi"
)

func TestHandleEnvelope(t *testing.T) {
	g := newGateway(t, Options{})
	for _, tc := range []struct {
		name    string
		in      string
		want    string // "" means no answer
		wantErr int
	}{
		{
			name: "answer echoes id, method and url, with the gateway EUI",
			in:   `{"type":"ns-api","id":"abc","method":"GET","url":"/api/payloadcodecs-short?type=custom"}`,
			want: `{"id":"abc","gatewayEUI":"24E124FFFEF5A6A8","method":"GET","url":"/api/payloadcodecs-short?type=custom","body":{"totalCount":0,"result":[]}}`,
		},
		{
			name: "numeric id",
			in:   `{"type":"ns-api","id":7,"method":"GET","url":"/api/payloadcodecs-short?type=custom"}`,
			want: `{"id":"7","gatewayEUI":"24E124FFFEF5A6A8","method":"GET","url":"/api/payloadcodecs-short?type=custom","body":{"totalCount":0,"result":[]}}`,
		},
		{
			name: "our own gateway EUI in lower case",
			in:   `{"type":"ns-api","id":"1","method":"GET","url":"/api/payloadcodecs-short?type=custom","gatewayEUI":"24e124fffef5a6a8"}`,
			want: `{"id":"1","gatewayEUI":"24E124FFFEF5A6A8","method":"GET","url":"/api/payloadcodecs-short?type=custom","body":{"totalCount":0,"result":[]}}`,
		},
		{
			name:    "another gateway's EUI",
			in:      `{"type":"ns-api","id":"1","method":"GET","url":"/api/urdevices","gatewayEUI":"24E124FFFE000000"}`,
			wantErr: nsapi.CodeGatewayMismatch,
		},
		{
			name:    "bad JSON in an ns-api request",
			in:      `{"type":"ns-api","id":"9","method":"POST","url":"/api/urdevices","body":{"devEUI":}`,
			wantErr: nsapi.CodeBadJSON,
		},
		{name: "a response echoed on a shared topic", in: `{"id":"1","gatewayEUI":"24E124FFFEF5A6A8","method":"GET","url":"/api/urdevices","body":{}}`},
		{name: "another message type", in: `{"type":"uplink","devEUI":"24E124136A456465"}`},
		{name: "not JSON", in: `hello`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := g.Handle([]byte(tc.in))
			switch {
			case tc.want == "" && tc.wantErr == 0:
				if out != nil {
					t.Errorf("answer %s, want none", out)
				}
			case tc.wantErr != 0:
				if out == nil {
					t.Fatal("no answer")
				}
				code, body := decodeAnswer(t, out)
				if code != tc.wantErr {
					t.Errorf("code %d, want %d (%s)", code, tc.wantErr, body)
				}
				var r nsapi.Response
				_ = json.Unmarshal(out, &r)
				var in map[string]any
				if json.Unmarshal([]byte(tc.in), &in) == nil && r.ID != in["id"] {
					t.Errorf("id %q, want %q", r.ID, in["id"])
				}
				if tc.wantErr == nsapi.CodeBadJSON && r.ID != "9" {
					t.Errorf("id %q, want the request's 9", r.ID)
				}
			default:
				if d := cmp.Diff(tc.want, string(out)); d != "" {
					t.Errorf("answer (-want +got):\n%s", d)
				}
			}
		})
	}
}

func TestFactoryState(t *testing.T) {
	g := newGateway(t, Options{})
	b := mustOK(t, g, "GET", "/api/urprofiles?limit=9999&offset=0", nil)
	var pl nsapi.ProfileList
	if err := json.Unmarshal(b, &pl); err != nil {
		t.Fatal(err)
	}
	type prof struct {
		Name                    string
		Join, B, C, Default     bool
		RX2DR, RX2Freq, PingDR  int64
		PingFreq, Period        int64
		Region, Mac, Rev        string
		ClassBTimeout, CTimeout int64
	}
	var got []prof
	for _, p := range pl.Result {
		s := p.Profile
		got = append(got, prof{p.Name, s.SupportsJoin, s.SupportsClassB, s.SupportsClassC, p.IsDefault,
			int64(s.RxDataRate2), int64(s.RxFreq2), int64(s.PingSlotDR), int64(s.PingSlotFreq), int64(s.PingSlotPeriod),
			s.RfRegion, s.MacVersion, s.RegParamsRevision, int64(s.ClassBTimeout), int64(s.ClassCTimeout)})
	}
	eu := func(name string, b, c bool) prof {
		return prof{name, true, b, c, true, 0, 869525000, 3, 869525000, 128, "EU_863_870", "1.0.2", "B", 10, 10}
	}
	want := []prof{eu("ClassA-OTAA", false, false), eu("ClassB-OTAA", true, false), eu("ClassC-OTAA", false, true)}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("built-in profiles (-want +got):\n%s", d)
	}
	if pl.TotalCount != 3 || pl.ChannelPlan != "EU868" {
		t.Errorf("totalCount %d, channelPlan %q; want 3, EU868", pl.TotalCount, pl.ChannelPlan)
	}
	raw := decode[map[string]any](t, b)
	if raw["totalCount"] != "3" {
		t.Errorf("totalCount %#v, want the string \"3\" as the spec's example", raw["totalCount"])
	}

	b = mustOK(t, g, "GET", "/api/urdevices?&offset=0&limit=9999", nil)
	var dl nsapi.DeviceList
	if err := json.Unmarshal(b, &dl); err != nil {
		t.Fatal(err)
	}
	wantApps := []nsapi.Application{{ApplicationID: "1", AppName: "cloud"}}
	if d := cmp.Diff(wantApps, dl.AppResult); d != "" {
		t.Errorf("applications (-want +got):\n%s", d)
	}
	if dl.DevTotalCount != 0 || len(dl.DeviceResult) != 0 || dl.PfTotalCount != 3 || len(dl.ProfileResult) != 3 || dl.ChannelPlan != "EU868" {
		t.Errorf("device list %s: want no devices, 3 profiles, EU868", b)
	}

	b = mustOK(t, g, "GET", "/api/payloadcodecs", nil) // type defaults to "default"
	var cl nsapi.CodecList
	if err := json.Unmarshal(b, &cl); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cl.Result {
		names = append(names, string(c.ID)+" "+c.Name)
	}
	if d := cmp.Diff([]string{"1 Milesight EM300", "2 Milesight WT201", "3 Milesight AM300"}, names); d != "" {
		t.Errorf("built-in codecs (-want +got):\n%s", d)
	}
	b = mustOK(t, g, "GET", "/api/fuota/task?limit=10&offset=0", nil)
	if d := cmp.Diff(map[string]any{"total": 0.0, "tasks": []any{}}, decode[map[string]any](t, b)); d != "" {
		t.Errorf("tasks (-want +got):\n%s", d)
	}
}

func TestChannelPlans(t *testing.T) {
	for _, tc := range []struct {
		plan, region string
		rx2dr        int64
		rx2          int64
	}{
		{"CN470", "China470", 0, 505300000},
		{"US915", "US902-928", 8, 923300000},
		{"AS923-2", "AS923_2", 2, 921400000},
	} {
		t.Run(tc.plan, func(t *testing.T) {
			g := newGateway(t, Options{ChannelPlan: tc.plan})
			var pl nsapi.ProfileList
			_ = json.Unmarshal(mustOK(t, g, "GET", "/api/urprofiles", nil), &pl)
			s := pl.Result[0].Profile
			got := []any{pl.ChannelPlan, s.RfRegion, int64(s.RxDataRate2), int64(s.RxFreq2)}
			if d := cmp.Diff([]any{tc.plan, tc.region, tc.rx2dr, tc.rx2}, got); d != "" {
				t.Errorf("plan, region, RX2 (-want +got):\n%s", d)
			}
			// A profile created without RX2 settings takes the plan's.
			mustOK(t, g, "POST", "/api/urprofiles", `{"name":"P","profile":{}}`)
			_ = json.Unmarshal(mustOK(t, g, "GET", "/api/urprofiles", nil), &pl)
			s = pl.Result[3].Profile
			if int64(s.RxDataRate2) != tc.rx2dr || int64(s.RxFreq2) != tc.rx2 {
				t.Errorf("new profile RX2 DR%d %d Hz, want DR%d %d Hz", s.RxDataRate2, s.RxFreq2, tc.rx2dr, tc.rx2)
			}
		})
	}
	if _, err := New(Options{ChannelPlan: "XX999"}); err == nil || !strings.Contains(err.Error(), "XX999") {
		t.Errorf("unknown plan: error %v, want one naming it", err)
	}
	if _, err := New(Options{EUI: "nope"}); err == nil {
		t.Error("bad EUI: no error")
	}
}

func TestPaging(t *testing.T) {
	g := newGateway(t, Options{})
	for _, e := range []string{"24E1241300000001", "24E1241300000002", "24E1241300000003", "24E1241300000004", "24E1241300000005"} {
		addDevice(t, g, e, "dev-"+e[14:])
	}
	for _, tc := range []struct {
		url   string
		total string
		names []string
	}{
		{"/api/urdevices?limit=2&offset=0", "5", []string{"dev-01", "dev-02"}},
		{"/api/urdevices?limit=2&offset=4", "5", []string{"dev-05"}},
		{"/api/urdevices?limit=2&offset=9", "5", nil},
		{"/api/urdevices?search=DEV-0&limit=1&offset=1", "5", []string{"dev-02"}},
		{"/api/urdevices?search=1300000003", "1", []string{"dev-03"}},
		{"/api/urdevices?search=24e1241300000004", "1", []string{"dev-04"}},
		{"/api/urdevices?applicationID=1&limit=9999", "5", []string{"dev-01", "dev-02", "dev-03", "dev-04", "dev-05"}},
		{"/api/urdevices?applicationID=2", "0", nil},
		{"/api/urdevices?applicationID=0&search=05", "1", []string{"dev-05"}},
	} {
		var dl struct {
			DevTotalCount string `json:"devTotalCount"`
			DeviceResult  []struct {
				Name string `json:"name"`
			} `json:"deviceResult"`
		}
		_ = json.Unmarshal(mustOK(t, g, "GET", tc.url, nil), &dl)
		var names []string
		for _, d := range dl.DeviceResult {
			names = append(names, d.Name)
		}
		if dl.DevTotalCount != tc.total || !cmp.Equal(tc.names, names) {
			t.Errorf("%s: total %q names %v, want %q %v", tc.url, dl.DevTotalCount, names, tc.total, tc.names)
		}
	}
}

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	g, err := Open(path, Options{EUI: "24E124FFFE000001", ChannelPlan: "US915"})
	if err != nil {
		t.Fatal(err)
	}
	addDevice(t, g, "24E124136A456465", "em300")
	id := decode[map[string]string](t, mustOK(t, g, "POST", "/api/multicast-groups", `{"multicastGroup":{"name":"g"}}`))["id"]
	mustOK(t, g, "POST", "/api/multicast-groups/"+id+"/devices", `{"devEUIs":["24E124136A456465"]}`)
	cid := decode[map[string]any](t, mustOK(t, g, "POST", "/api/payloadcodecs", `{"name":"c"}`))["id"]
	before := mustOK(t, g, "GET", "/api/multicast-groups", nil)
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if g.Handle(envelope("GET", "/api/urdevices", nil)) != nil {
		t.Error("a closed gateway answered")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("state dir holds %d files, want only the state file (no temp files left)", len(entries))
	}

	g2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g2.Close()
	if g2.EUI() != "24E124FFFE000001" || g2.ChannelPlan() != "US915" {
		t.Errorf("reopened gateway %s %s, want the saved EUI and plan", g2.EUI(), g2.ChannelPlan())
	}
	after := mustOK(t, g2, "GET", "/api/multicast-groups", nil)
	if d := cmp.Diff(string(before), string(after)); d != "" {
		t.Errorf("groups after reopening (-before +after):\n%s", d)
	}
	// New ids continue after the saved ones.
	cid2 := decode[map[string]any](t, mustOK(t, g2, "POST", "/api/payloadcodecs", `{"name":"c2"}`))["id"]
	if cid2 == cid {
		t.Errorf("codec id %v reused after reopening", cid2)
	}

	if _, err := Open(path, Options{EUI: "24E124FFFE000002"}); err == nil {
		t.Error("opening with another EUI: no error")
	}
	if _, err := Open(path, Options{ChannelPlan: "EU868"}); err == nil {
		t.Error("opening with another channel plan: no error")
	}
	bad := filepath.Join(dir, "bad.json")
	_ = os.WriteFile(bad, []byte("{"), 0o600)
	if _, err := Open(bad, Options{}); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("corrupt state file: error %v, want one naming the file", err)
	}
}

func TestOpenMissingFileStartsFromFactory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.json")
	g, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustOK(t, g, "GET", "/api/urdevices", nil)
	if _, err := os.Stat(path); err == nil {
		t.Error("a read wrote the state file")
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	g2, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("reopen the file Close left: %v", err)
	}
	defer g2.Close()
	var pl nsapi.ProfileList
	_ = json.Unmarshal(mustOK(t, g2, "GET", "/api/urprofiles", nil), &pl)
	if len(pl.Result) != 3 {
		t.Errorf("%d profiles, want the 3 built-in ones", len(pl.Result))
	}
}

func TestWritesCount(t *testing.T) {
	g := newGateway(t, Options{})
	addDevice(t, g, "24E124136A456465", "a")
	call(t, g, "POST", "/api/urdevices", `{"devEUI":"24E124136A456465","applicationID":"1"}`) // refused: 6
	call(t, g, "GET", "/api/urdevices", nil)
	mustOK(t, g, "DELETE", "/api/urdevices/24E124136A456465", nil)
	if got := g.Writes(); got != 2 {
		t.Errorf("Writes() = %d, want 2 (one create, one delete)", got)
	}
}

func TestNoSecretsInLogsOrErrors(t *testing.T) {
	var mu sync.Mutex
	var logs []string
	g := newGateway(t, Options{Logf: func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		logs = append(logs, fmt.Sprintf(format, args...))
	}})
	const key = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
	const badKey = "0f1e2d3c4b5a69788796a5b4c3d2e1fZ"
	mustOK(t, g, "POST", "/api/urdevices", `{"devEUI":"24E124136A456465","applicationID":"1","appKey":"`+key+`"}`)
	_, b1 := call(t, g, "POST", "/api/urdevices", `{"devEUI":"24E124136A456466","applicationID":"1","appKey":"`+badKey+`"}`)
	_, b2 := call(t, g, "POST", "/api/multicast-groups", `{"multicastGroup":{"name":"g","mcNwkSKey":"`+badKey+`"}}`)
	_, b3 := call(t, g, "POST", "/api/urdevices", `{"devEUI":"24E124136A456465","applicationID":"1","appKey":"`+key+`"}`)
	mu.Lock()
	defer mu.Unlock()
	if len(logs) != 4 {
		t.Errorf("%d log lines, want one per request: %q", len(logs), logs)
	}
	for _, s := range append(logs, string(b1), string(b2), string(b3)) {
		if strings.Contains(s, key) || strings.Contains(s, badKey) {
			t.Errorf("a key shows in %q", s)
		}
	}
	if !strings.Contains(string(b1), "appKey") || !strings.Contains(string(b2), "mcNwkSKey") {
		t.Errorf("errors %s, %s: want them to name the field", b1, b2)
	}
}

// TestOpenInAMissingFolder fails at once, naming the folder, instead of
// after the caller's reads when the first write cannot be saved.
func TestOpenInAMissingFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nowhere")
	_, err := Open(filepath.Join(dir, "gw.json"), Options{})
	if err == nil || !strings.Contains(err.Error(), "folder "+dir+" does not exist") {
		t.Fatalf("Open in a missing folder: %v", err)
	}
}
