package gwsim

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gwsync/gwsync/nsapi"
)

// In spec-examples mode the codec URLs are those of the 5.1–5.4 examples:
// POST and PUT on the singular, GET and DELETE on the plural; the other
// spelling answers 21 so that a client can fall back. Membership removal
// is only on /deleteddevices.
func TestSpecExamplesURLs(t *testing.T) {
	g := newGateway(t, Options{Quirks: QuirksSpecExamples})
	addDevice(t, g, "24E124136A456465", "a")
	runSteps(t, g, []step{
		{name: "create on the plural", method: "POST", url: "/api/payloadcodecs", body: `{"name":"x"}`, want: 21},
		{name: "create on the singular", method: "POST", url: "/api/payloadcodec", body: `{"name":"x"}`, want: 200, save: "id", saveAs: "c"},
		{name: "update on the plural", method: "PUT", url: "/api/payloadcodecs/{c}", body: `{"name":"y"}`, want: 21},
		{name: "update on the singular", method: "PUT", url: "/api/payloadcodec/{c}", body: `{"name":"y"}`, want: 200},
		{name: "list on the singular", method: "GET", url: "/api/payloadcodec?type=custom", want: 21},
		{name: "list on the plural", method: "GET", url: "/api/payloadcodecs?type=custom", want: 200},
		{name: "short list", method: "GET", url: "/api/payloadcodecs-short?type=custom", want: 200},
		{name: "delete on the singular", method: "DELETE", url: "/api/payloadcodec/{c}", want: 21},
		{name: "group", method: "POST", url: "/api/multicast-groups", body: `{"multicastGroup":{"name":"g"}}`, want: 200, save: "id", saveAs: "g"},
		{name: "add", method: "POST", url: "/api/multicast-groups/{g}/devices", body: `{"devEUIs":["24E124136A456465"]}`, want: 200},
		{name: "heading's remove", method: "POST", url: "/api/multicast-groups/{g}/deletedevices", body: `{"devEUIs":["24E124136A456465"]}`, want: 21},
		{name: "example's remove", method: "POST", url: "/api/multicast-groups/{g}/deleteddevices", body: `{"devEUIs":["24E124136A456465"]}`, want: 200},
		{name: "delete on the plural", method: "DELETE", url: "/api/payloadcodecs/{c}", want: 200},
	})
	// The tables' mode answers every codec call on the plural only.
	g = newGateway(t, Options{})
	runSteps(t, g, []step{
		{name: "tables: create on the singular", method: "POST", url: "/api/payloadcodec", body: `{"name":"x"}`, want: 21},
		{name: "tables: create on the plural", method: "POST", url: "/api/payloadcodecs", body: `{"name":"x"}`, want: 200, save: "id", saveAs: "c"},
		{name: "tables: update on the singular", method: "PUT", url: "/api/payloadcodec/{c}", body: `{"name":"y"}`, want: 21},
		{name: "tables: deleteddevices", method: "POST", url: "/api/multicast-groups/x/deleteddevices", body: `{"devEUIs":[]}`, want: 21},
	})
}

// A gateway reads one spelling of the network session key and ignores the
// other: the table's nwkSKey by default, the examples' nwksKey in
// spec-examples mode.
func TestSessionKeySpelling(t *testing.T) {
	const key = "00112233445566778899aabbccddeeff"
	for _, tc := range []struct {
		mode      Quirks
		sent      string
		read, out string // the key field read, and the list's name for it
	}{
		{QuirksTables, "nwkSKey", key, "nwkSKey"},
		{QuirksTables, "nwksKey", DefaultKey, "nwkSKey"},
		{QuirksSpecExamples, "nwksKey", key, "nwksKey"},
		{QuirksSpecExamples, "nwkSKey", DefaultKey, "nwksKey"},
	} {
		g := newGateway(t, Options{Quirks: tc.mode})
		var abp map[string]any
		_ = json.Unmarshal(mustOK(t, g, "POST", "/api/urprofiles", map[string]any{"name": "ABP", "profile": map[string]any{"supportsJoin": false}}), &abp)
		mustOK(t, g, "POST", "/api/urdevices", map[string]any{"devEUI": "24E124136A456465", "applicationID": "1",
			"profileID": abp["profileID"], "devAddr": "01F3A7D4", tc.sent: key})
		l := decode[map[string]any](t, mustOK(t, g, "GET", "/api/urdevices", nil))
		d := l["deviceResult"].([]any)[0].(map[string]any)
		if d[tc.out] != tc.read {
			t.Errorf("%s mode, %s sent: the list's %s is %v, want %v", tc.mode, tc.sent, tc.out, d[tc.out], tc.read)
		}
	}
}

// The envelope and list shapes of the examples.
func TestSpecExamplesShapes(t *testing.T) {
	g := newGateway(t, Options{Quirks: QuirksSpecExamples, ChannelPlan: "CN470"})
	out := string(g.Handle([]byte(`{"type":"ns-api","id":"7","method":"GET","url":"/api/payloadcodecs-short?type=custom"}`)))
	want := `{"id":7,"gatewayEUI":"24E124FFFEF5A6A8","method":"GET","gatewayEUI":"","url":"/api/payloadcodecs-short?type=custom","body":{"totalCount":"0","result":[]}}`
	if out != want {
		t.Errorf("answer\n got %s\nwant %s", out, want)
	}
	var r nsapi.Response
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.GatewayEUI != g.EUI() || r.ID != "7" {
		t.Errorf("the client reads %+v, %v", r, err)
	}
	addDevice(t, g, "24E1247151234568", "wt-1")
	task := taskBody("t", g.opts.Now().Add(1e12), []string{"24E1247151234568"}, func(m map[string]any) {
		m["tmpMcInfo"] = map[string]any{"dr": 3, "frequency": 505300000}
	})
	answer := g.Handle(envelope("POST", "/api/fuota/task", task))
	if !strings.Contains(string(answer), `"url":"/api/fuota/tasks"`) {
		t.Errorf("FUOTA create answered %s, want the 6.1 example's url /api/fuota/tasks", answer)
	}
	l := decode[map[string]any](t, mustOK(t, g, "GET", "/api/urprofiles", nil))
	for _, p := range l["result"].([]any) {
		if _, ok := p.(map[string]any)["isDefault"]; ok {
			t.Errorf("profile %v carries isDefault; the 2.3 example does not", p.(map[string]any)["name"])
		}
	}
	mustOK(t, g, "POST", "/api/payloadcodec", `{"name":"k","templateID":0}`)
	cl := decode[map[string]any](t, mustOK(t, g, "GET", "/api/payloadcodecs?type=custom", nil))
	if cl["totalCount"] != "1" || cl["result"].([]any)[0].(map[string]any)["templateID"] != "0" {
		t.Errorf("codec list %v: want totalCount and templateID as strings", cl)
	}
	var parsed nsapi.CodecList
	if err := json.Unmarshal(mustOK(t, g, "GET", "/api/payloadcodecs?type=custom", nil), &parsed); err != nil || parsed.TotalCount != 1 {
		t.Errorf("nsapi.CodecList: %+v, %v", parsed, err)
	}
}

func TestApplications(t *testing.T) {
	g := newGateway(t, Options{Applications: []Application{{Name: "building-b"}, {Name: "lab", ID: "7"}, {Name: "cloud", ID: "1"}}})
	l := decode[map[string]any](t, mustOK(t, g, "GET", "/api/urdevices", nil))
	want := []any{
		map[string]any{"appName": "cloud", "applicationID": "1"},
		map[string]any{"appName": "building-b", "applicationID": "2"},
		map[string]any{"appName": "lab", "applicationID": "7"},
	}
	if d := cmp.Diff(want, l["appResult"]); d != "" {
		t.Errorf("appResult (-want +got):\n%s", d)
	}
	if l["appTotalCount"] != "3" {
		t.Errorf("appTotalCount %v, want 3", l["appTotalCount"])
	}
	mustOK(t, g, "POST", "/api/urdevices", `{"devEUI":"24E124136A456465","applicationID":"7"}`)
	if code, _ := call(t, g, "POST", "/api/urdevices", `{"devEUI":"24E124136A456466","applicationID":"8"}`); code != nsapi.CodeNotFound {
		t.Errorf("a device in an application the gateway lacks: code %d, want 5", code)
	}

	for _, bad := range [][]Application{
		{{Name: "cloud", ID: "2"}},          // cloud is 1
		{{Name: "other", ID: "1"}},          // 1 is cloud
		{{Name: ""}},                        // no name
		{{Name: "x", ID: "0"}},              // ids are positive
		{{Name: "x", ID: "01"}},             // and written plainly
		{{Name: "x", ID: "building"}},       // and numbers
		{{Name: "a"}, {Name: "b", ID: "2"}}, // 2 was given to a
	} {
		if _, err := New(Options{Applications: bad}); err == nil {
			t.Errorf("New with applications %+v: no error", bad)
		}
	}
	for in, want := range map[string]Application{"building-b": {Name: "building-b"}, "lab=7": {Name: "lab", ID: "7"}} {
		if got, err := ParseApplication(in); err != nil || got != want {
			t.Errorf("ParseApplication(%q) = %+v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "=3", "x=-1", "x=y"} {
		if _, err := ParseApplication(in); err == nil {
			t.Errorf("ParseApplication(%q): no error", in)
		}
	}
}

// Applications added to a state file that exists are kept in it, even when
// the gateway is only read.
func TestApplicationsKeptInTheStateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gw.json")
	g, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_ = g.Close() // writes the factory state
	g, err = Open(path, Options{Applications: []Application{{Name: "building-b"}}})
	if err != nil {
		t.Fatal(err)
	}
	_ = g.Close()
	g = newGateway(t, Options{StatePath: path})
	l := decode[nsapi.DeviceList](t, mustOK(t, g, "GET", "/api/urdevices", nil))
	if len(l.AppResult) != 2 || l.AppResult[1].AppName != "building-b" {
		t.Errorf("applications after a reopen: %+v", l.AppResult)
	}
}

func TestOpenURL(t *testing.T) {
	dir := t.TempDir()
	g, err := OpenURL(filepath.Join(dir, "gw.json")+"?applications=building-b,lab=7&applications=ops&quirks=spec-examples", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if g.opts.Quirks != QuirksSpecExamples || g.opts.StatePath != filepath.Join(dir, "gw.json") {
		t.Errorf("quirks %q, state %q", g.opts.Quirks, g.opts.StatePath)
	}
	l := decode[nsapi.DeviceList](t, mustOK(t, g, "GET", "/api/urdevices", nil))
	var names []string
	for _, a := range l.AppResult {
		names = append(names, string(a.ApplicationID)+"="+a.AppName)
	}
	if d := cmp.Diff([]string{"1=cloud", "2=building-b", "7=lab", "8=ops"}, names); d != "" {
		t.Errorf("applications (-want +got):\n%s", d)
	}
	for _, bad := range []string{"?quirks=weird", "?colour=red", "?applications=x=y", "?%zz"} {
		if g, err := OpenURL(filepath.Join(dir, "other.json")+bad, Options{}); err == nil {
			_ = g.Close()
			t.Errorf("OpenURL(%q): no error", bad)
		}
	}
}
