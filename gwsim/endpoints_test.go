package gwsim

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// step is one request of a scenario run in order on one gateway. {name}
// in url and body is replaced by a value saved by an earlier step.
type step struct {
	name         string
	method, url  string
	body         string
	want         int
	save, saveAs string // field of the answer body to remember, and its name
	before       func() // run before the request (e.g. to move a clock)
}

func runSteps(t *testing.T, g *Gateway, steps []step) map[string]string {
	t.Helper()
	vars := map[string]string{}
	expand := func(s string) string {
		for k, v := range vars {
			s = strings.ReplaceAll(s, "{"+k+"}", v)
		}
		return s
	}
	for _, s := range steps {
		if s.before != nil {
			s.before()
		}
		var body any
		if s.body != "" {
			body = expand(s.body)
		}
		code, b := call(t, g, s.method, expand(s.url), body)
		if code != s.want {
			t.Errorf("%s: %s %s: code %d, want %d (%s)", s.name, s.method, expand(s.url), code, s.want, b)
			continue
		}
		if s.save != "" {
			var m map[string]any
			_ = json.Unmarshal(b, &m)
			v, ok := m[s.save].(string)
			if !ok {
				t.Fatalf("%s: answer %s has no %s", s.name, b, s.save)
			}
			vars[s.saveAs] = v
		}
	}
	return vars
}

const fullProfile = `{"name":"%s","profile":{"maxEIRP":0,"supportsJoin":true,"supportsClassB":false,"supportsClassC":true,
"macVersion":"1.0.2","regParamsRevision":"B","rxDROffset1":0,"rxDataRate2":0,"rxFreq2":869525000,"factoryPresetFreqs":[],
"enableUplinkChannels":[],"supports32bitFCnt":true,"pingSlotPeriod":128,"pingSlotDR":3,"pingSlotFreq":869525000,
"classBTimeout":10,"classCTimeout":10}}`

func profileBody(name string) string { return strings.Replace(fullProfile, "%s", name, 1) }

func TestEnvelopeCodes(t *testing.T) {
	g := newGateway(t, Options{})
	runSteps(t, g, []step{
		{name: "unknown url", method: "GET", url: "/api/nothing", want: 21},
		{name: "unknown sub-url", method: "POST", url: "/api/multicast-groups/x/members", body: `{}`, want: 21},
		{name: "wrong method on a collection", method: "DELETE", url: "/api/urdevices", want: 22},
		{name: "wrong method on an item", method: "GET", url: "/api/urdevices/24E124136A456465", want: 22},
		{name: "body not an object", method: "POST", url: "/api/urdevices", body: `[1]`, want: 20},
		{name: "negative limit", method: "GET", url: "/api/urdevices?limit=-1", want: 3},
		{name: "limit not a number", method: "GET", url: "/api/urprofiles?limit=x", want: 3},
		{name: "trailing slash on a list", method: "GET", url: "/api/payloadcodecs/?type=custom", want: 200},
	})
}

func TestProfiles(t *testing.T) {
	g := newGateway(t, Options{})
	long := "P" + strings.Repeat("x", 64)
	runSteps(t, g, []step{
		{name: "create with defaults", method: "POST", url: "/api/urprofiles", body: `{"name":"ClassC-ABP","profile":{"supportsClassC":true}}`, want: 200, save: "profileID", saveAs: "abp"},
		{name: "duplicate name", method: "POST", url: "/api/urprofiles", body: `{"name":"ClassC-ABP","profile":{}}`, want: 6},
		{name: "duplicate of a built-in", method: "POST", url: "/api/urprofiles", body: `{"name":"ClassA-OTAA","profile":{}}`, want: 6},
		{name: "name starts with a digit", method: "POST", url: "/api/urprofiles", body: `{"name":"1bad","profile":{}}`, want: 3},
		{name: "name with a space", method: "POST", url: "/api/urprofiles", body: `{"name":"a b","profile":{}}`, want: 3},
		{name: "name of 65", method: "POST", url: "/api/urprofiles", body: `{"name":"` + long + `","profile":{}}`, want: 3},
		{name: "name missing", method: "POST", url: "/api/urprofiles", body: `{"profile":{}}`, want: 3},
		{name: "profile missing", method: "POST", url: "/api/urprofiles", body: `{"name":"x"}`, want: 3},
		{name: "macVersion", method: "POST", url: "/api/urprofiles", body: `{"name":"x","profile":{"macVersion":"1.0.3"}}`, want: 3},
		{name: "regParamsRevision", method: "POST", url: "/api/urprofiles", body: `{"name":"x","profile":{"regParamsRevision":"C"}}`, want: 3},
		{name: "rxDROffset1 6", method: "POST", url: "/api/urprofiles", body: `{"name":"x","profile":{"rxDROffset1":6}}`, want: 3},
		{name: "rxDataRate2 not in EU868", method: "POST", url: "/api/urprofiles", body: `{"name":"x","profile":{"rxDataRate2":8}}`, want: 3},
		{name: "rxFreq2 outside EU868", method: "POST", url: "/api/urprofiles", body: `{"name":"x","profile":{"rxFreq2":505300000}}`, want: 3},
		{name: "pingSlotPeriod 100", method: "POST", url: "/api/urprofiles", body: `{"name":"x","profile":{"pingSlotPeriod":100}}`, want: 3},
		{name: "classBTimeout 11", method: "POST", url: "/api/urprofiles", body: `{"name":"x","profile":{"classBTimeout":11}}`, want: 3},
		{name: "classCTimeout -1", method: "POST", url: "/api/urprofiles", body: `{"name":"x","profile":{"classCTimeout":-1}}`, want: 3},
		{name: "number as a string", method: "POST", url: "/api/urprofiles", body: `{"name":"x","profile":{"maxEIRP":"0"}}`, want: 3},
		{name: "bool as a string", method: "POST", url: "/api/urprofiles", body: `{"name":"x","profile":{"supportsJoin":"true"}}`, want: 3},
		{name: "uplink channel 96", method: "POST", url: "/api/urprofiles", body: `{"name":"x","profile":{"enableUplinkChannels":[96]}}`, want: 3},
		{name: "update unknown", method: "PUT", url: "/api/urprofiles/nope", body: profileBody("x"), want: 5},
		{name: "update with fields missing", method: "PUT", url: "/api/urprofiles/{abp}", body: `{"name":"ClassC-ABP","profile":{"supportsJoin":false}}`, want: 3},
		{name: "update full", method: "PUT", url: "/api/urprofiles/{abp}", body: profileBody("Renamed"), want: 200},
		{name: "update to a taken name", method: "PUT", url: "/api/urprofiles/{abp}", body: profileBody("ClassB-OTAA"), want: 6},
		{name: "delete a built-in", method: "DELETE", url: "/api/urprofiles/" + profileIDClassA, want: 9},
		{name: "delete unknown", method: "DELETE", url: "/api/urprofiles/nope", want: 5},
		{name: "delete", method: "DELETE", url: "/api/urprofiles/{abp}", want: 200},
		{name: "delete again", method: "DELETE", url: "/api/urprofiles/{abp}", want: 5},
	})
}

func TestDevices(t *testing.T) {
	g := newGateway(t, Options{})
	runSteps(t, g, []step{
		{name: "ABP profile", method: "POST", url: "/api/urprofiles", body: `{"name":"ABP","profile":{"supportsJoin":false}}`, want: 200, save: "profileID", saveAs: "abp"},
		{name: "custom codec", method: "POST", url: "/api/payloadcodecs", body: `{"name":"dec","decoderScript":"x"}`, want: 200, save: "id", saveAs: "codec"},
		{name: "create minimal", method: "POST", url: "/api/urdevices", body: `{"devEUI":"24E124136A456465","applicationID":"1"}`, want: 200},
		{name: "duplicate EUI in lower case", method: "POST", url: "/api/urdevices", body: `{"devEUI":"24e124136a456465","applicationID":"1","name":"other"}`, want: 6},
		{name: "duplicate name", method: "POST", url: "/api/urdevices", body: `{"devEUI":"24E124136A456466","applicationID":"1","name":"24E124136A456465"}`, want: 6},
		{name: "applicationID as a number", method: "POST", url: "/api/urdevices", body: `{"devEUI":"24E124136A456467","applicationID":1,"payloadCodecID":"{codec}","name":"d7"}`, want: 200},
		{name: "built-in codec id as a number", method: "POST", url: "/api/urdevices", body: `{"devEUI":"24E124136A456468","applicationID":"1","payloadCodecID":1,"name":"d8"}`, want: 200},
		{name: "unknown application", method: "POST", url: "/api/urdevices", body: `{"devEUI":"24E124136A456469","applicationID":"7"}`, want: 5},
		{name: "application missing", method: "POST", url: "/api/urdevices", body: `{"devEUI":"24E124136A456469"}`, want: 3},
		{name: "application not a number", method: "POST", url: "/api/urdevices", body: `{"devEUI":"24E124136A456469","applicationID":"cloud"}`, want: 3},
		{name: "unknown codec", method: "POST", url: "/api/urdevices", body: `{"devEUI":"24E124136A456469","applicationID":"1","payloadCodecID":"9"}`, want: 5},
		{name: "unknown profile", method: "POST", url: "/api/urdevices", body: `{"devEUI":"24E124136A456469","applicationID":"1","profileID":"nope"}`, want: 5},
		{name: "EUI not hex", method: "POST", url: "/api/urdevices", body: `{"devEUI":"24E124136A45646Z","applicationID":"1"}`, want: 3},
		{name: "EUI too short", method: "POST", url: "/api/urdevices", body: `{"devEUI":"24E124","applicationID":"1"}`, want: 3},
		{name: "EUI missing", method: "POST", url: "/api/urdevices", body: `{"applicationID":"1"}`, want: 3},
		{name: "fPort 0", method: "POST", url: "/api/urdevices", body: `{"devEUI":"24E124136A456469","applicationID":"1","fPort":0}`, want: 3},
		{name: "fPort 224", method: "POST", url: "/api/urdevices", body: `{"devEUI":"24E124136A456469","applicationID":"1","fPort":224}`, want: 3},
		{name: "fPort as a string", method: "POST", url: "/api/urdevices", body: `{"devEUI":"24E124136A456469","applicationID":"1","fPort":"2"}`, want: 3},
		{name: "appKey short", method: "POST", url: "/api/urdevices", body: `{"devEUI":"24E124136A456469","applicationID":"1","appKey":"00"}`, want: 3},
		{name: "mbMode udp", method: "POST", url: "/api/urdevices", body: `{"devEUI":"24E124136A456469","applicationID":"1","mbMode":"udp"}`, want: 3},
		{name: "mbFramePort 85", method: "POST", url: "/api/urdevices", body: `{"devEUI":"24E124136A456469","applicationID":"1","mbMode":"rtu","mbFramePort":85}`, want: 3},
		{name: "mbTcpPort 65536", method: "POST", url: "/api/urdevices", body: `{"devEUI":"24E124136A456469","applicationID":"1","mbTcpPort":65536}`, want: 3},
		{name: "fCntUp too big", method: "POST", url: "/api/urdevices", body: `{"devEUI":"24E124136A456469","applicationID":"1","profileID":"{abp}","devAddr":"01020304","fCntUp":4294967296}`, want: 3},
		{name: "name of 65", method: "POST", url: "/api/urdevices", body: `{"devEUI":"24E124136A456469","applicationID":"1","name":"` + strings.Repeat("n", 65) + `"}`, want: 3},
		{name: "ABP without devAddr", method: "POST", url: "/api/urdevices", body: `{"devEUI":"24E124136A456469","applicationID":"1","profileID":"{abp}"}`, want: 3},
		{name: "ABP", method: "POST", url: "/api/urdevices", body: `{"devEUI":"24E124136A456469","applicationID":"1","profileID":"{abp}","devAddr":"01020304","fCntUp":7}`, want: 200},
		{name: "delete a profile in use", method: "DELETE", url: "/api/urprofiles/{abp}", want: 9},
		{name: "delete a codec in use", method: "DELETE", url: "/api/payloadcodecs/{codec}", want: 9},
		{name: "update unknown", method: "PUT", url: "/api/urdevices/24E1241300000000", body: `{"applicationID":"1"}`, want: 5},
		{name: "update without applicationID", method: "PUT", url: "/api/urdevices/24E124136A456465", body: `{"name":"x"}`, want: 3},
		{name: "update rename", method: "PUT", url: "/api/urdevices/24e124136a456465", body: `{"applicationID":"1","name":"em300"}`, want: 200},
		{name: "update to a taken name", method: "PUT", url: "/api/urdevices/24E124136A456465", body: `{"applicationID":"1","name":"d7"}`, want: 6},
		{name: "update to ABP without devAddr", method: "PUT", url: "/api/urdevices/24E124136A456465", body: `{"applicationID":"1","profileID":"{abp}"}`, want: 3},
		{name: "update with the example's nwksKey", method: "PUT", url: "/api/urdevices/24E124136A456469", body: `{"applicationID":"1","nwksKey":"000102030405060708090a0b0c0d0e0f"}`, want: 200},
		{name: "delete unknown", method: "DELETE", url: "/api/urdevices/24E1241300000000", want: 5},
		{name: "delete", method: "DELETE", url: "/api/urdevices/24E124136A456469", want: 200},
		{name: "delete the profile now unused", method: "DELETE", url: "/api/urprofiles/{abp}", want: 200},
	})
	code, b := call(t, g, "GET", "/api/urdevices?search=em300", nil)
	if code != 200 {
		t.Fatalf("list: code %d", code)
	}
	l := decode[map[string]any](t, b)
	devs := l["deviceResult"].([]any)
	if len(devs) != 1 || devs[0].(map[string]any)["name"] != "em300" {
		t.Errorf("search=em300 found %v, want the renamed device", devs)
	}
}

func TestDeviceDefaults(t *testing.T) {
	// The device list of the 3.3 table (default) and of its example.
	tables := map[string]any{
		"devEUI": "24E124136A456465", "name": "24E124136A456465", "applicationID": "1", "appName": "cloud",
		"description": "24E124136A456465", "profileID": profileIDClassA, "profileName": "ClassA-OTAA",
		"fCntUp": 0.0, "fCntDown": 0.0, "skipFCntCheck": false, "appKey": DefaultKey, "devAddr": "", "appSKey": "",
		"nwkSKey": "", "supportsJoin": true, "active": false, "lastSeenAt": "-", "mbMode": "", "mbFramePort": 0.0,
		"mbTcpPort": 0.0, "lastSeenAtTime": "-", "fPort": 1.0, "payloadCodecID": "0", "payloadName": "",
	}
	examples := map[string]any{
		"devEUI": "24E124136A456465", "name": "24E124136A456465", "applicationID": "1", "appName": "cloud",
		"description": "24E124136A456465", "profileID": profileIDClassA, "profileName": "ClassA-OTAA",
		"fCntUp": 0.0, "fCntDown": 0.0, "skipFCntCheck": false, "appKey": DefaultKey, "devAddr": "", "appSKey": "",
		"nwksKey": "", "supportsJoin": true, "active": false, "lastSeenAt": "-", "mbMode": "", "mbFramePort": "0",
		"mbTcpPort": "0", "lastSeenAtTime": "-", "fPort": 1.0, "payloadCodeID": "0", "payloadName": "",
	}
	for mode, want := range map[Quirks]map[string]any{QuirksTables: tables, QuirksSpecExamples: examples} {
		g := newGateway(t, Options{Quirks: mode})
		mustOK(t, g, "POST", "/api/urdevices", `{"devEUI":"24e124136a456465","applicationID":"1"}`)
		b := mustOK(t, g, "GET", "/api/urdevices?search=24E124136A456465", nil)
		l := decode[map[string]any](t, b)
		if l["devTotalCount"] != "1" {
			t.Errorf("%s mode: devTotalCount %#v, want the string 1", mode, l["devTotalCount"])
		}
		got := l["deviceResult"].([]any)[0]
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s mode: device with defaults (-want +got):\n%s", mode, d)
		}
	}
}

func TestGroups(t *testing.T) {
	clk := newClock()
	g := newGateway(t, Options{Now: clk.Now})
	addDevice(t, g, "24E124136A456465", "a")
	addDevice(t, g, "24E124136A456466", "b")
	full := `{"multicastGroup":{"name":"%s","mcAddr":"01AB23CD","mcNwkSKey":"000102030405060708090a0b0c0d0e0f",
"mcAppSKey":"000102030405060708090a0b0c0d0e0f","fCnt":0,"groupType":"CLASS_B","dr":3,"frequency":869525000,"pingSlotPeriod":64}}`
	put := func(name string) string { return strings.Replace(full, "%s", name, 1) }
	runSteps(t, g, []step{
		{name: "create minimal", method: "POST", url: "/api/multicast-groups", body: `{"multicastGroup":{"name":"street"}}`, want: 200, save: "id", saveAs: "street"},
		{name: "create second", method: "POST", url: "/api/multicast-groups", body: `{"multicastGroup":{"name":"park"}}`, want: 200, save: "id", saveAs: "park"},
		{name: "duplicate name", method: "POST", url: "/api/multicast-groups", body: `{"multicastGroup":{"name":"street"}}`, want: 6},
		{name: "wrapper missing", method: "POST", url: "/api/multicast-groups", body: `{"name":"x"}`, want: 3},
		{name: "name missing", method: "POST", url: "/api/multicast-groups", body: `{"multicastGroup":{}}`, want: 3},
		{name: "name of 129", method: "POST", url: "/api/multicast-groups", body: `{"multicastGroup":{"name":"` + strings.Repeat("g", 129) + `"}}`, want: 3},
		{name: "mcAddr not hex", method: "POST", url: "/api/multicast-groups", body: `{"multicastGroup":{"name":"x","mcAddr":"0000000G"}}`, want: 3},
		{name: "key short", method: "POST", url: "/api/multicast-groups", body: `{"multicastGroup":{"name":"x","mcAppSKey":"00"}}`, want: 3},
		{name: "groupType CLASS_A", method: "POST", url: "/api/multicast-groups", body: `{"multicastGroup":{"name":"x","groupType":"CLASS_A"}}`, want: 3},
		{name: "dr 7 not in EU868", method: "POST", url: "/api/multicast-groups", body: `{"multicastGroup":{"name":"x","dr":7}}`, want: 3},
		{name: "frequency outside EU868", method: "POST", url: "/api/multicast-groups", body: `{"multicastGroup":{"name":"x","frequency":923300000}}`, want: 3},
		{name: "pingSlotPeriod 3", method: "POST", url: "/api/multicast-groups", body: `{"multicastGroup":{"name":"x","pingSlotPeriod":3}}`, want: 3},
		{name: "update with fields missing", method: "PUT", url: "/api/multicast-groups/{street}", body: `{"multicastGroup":{"name":"street"}}`, want: 3},
		{name: "update unknown", method: "PUT", url: "/api/multicast-groups/nope", body: put("x"), want: 5},
		{name: "update to a taken name", method: "PUT", url: "/api/multicast-groups/{street}", body: put("park"), want: 6},
		{name: "update full", method: "PUT", url: "/api/multicast-groups/{street}", body: put("street"), want: 200},
		{name: "add unknown device", method: "POST", url: "/api/multicast-groups/{street}/devices", body: `{"devEUIs":["24E1241300000000"]}`, want: 5},
		{name: "add not hex", method: "POST", url: "/api/multicast-groups/{street}/devices", body: `{"devEUIs":["nope"]}`, want: 3},
		{name: "add to unknown group", method: "POST", url: "/api/multicast-groups/nope/devices", body: `{"devEUIs":["24E124136A456465"]}`, want: 5},
		{name: "add", method: "POST", url: "/api/multicast-groups/{street}/devices", body: `{"devEUIs":["24e124136a456465","24E124136A456466"]}`, want: 200},
		{name: "add again is harmless", method: "POST", url: "/api/multicast-groups/{street}/devices", body: `{"devEUIs":["24E124136A456465"]}`, want: 200},
		{name: "remove with the example's spelling", method: "POST", url: "/api/multicast-groups/{street}/deleteddevices", body: `{"devEUIs":["24E124136A456466"]}`, want: 21},
		{name: "remove", method: "POST", url: "/api/multicast-groups/{street}/deletedevices", body: `{"devEUIs":["24E124136A456466"]}`, want: 200},
		{name: "wrong method for remove", method: "GET", url: "/api/multicast-groups/{street}/deletedevices", want: 22},
		{name: "delete unknown", method: "DELETE", url: "/api/multicast-groups/nope", want: 5},
		{name: "delete", method: "DELETE", url: "/api/multicast-groups/{park}", want: 200},
	})
	b := mustOK(t, g, "GET", "/api/multicast-groups?search=STREET&order=asc&offset=0&limit=9999", nil)
	got := decode[map[string]any](t, b)
	res := got["result"].([]any)
	if got["totalCount"] != "1" || len(res) != 1 {
		t.Fatalf("group list %s: want one group, totalCount \"1\"", b)
	}
	grp := res[0].(map[string]any)
	delete(grp, "id")
	want := map[string]any{
		"name": "street", "mcAddr": "01AB23CD", "mcNwkSKey": "000102030405060708090a0b0c0d0e0f",
		"mcAppSKey": "000102030405060708090a0b0c0d0e0f", "fCnt": 0.0, "groupType": "CLASS_B", "dr": 3.0,
		"frequency": 869525000.0, "pingSlotPeriod": 64.0,
		"createdAt": "2026-03-01 12:00:00", "updatedAt": "2026-03-01 12:00:00",
		"devices": []any{map[string]any{
			"devEUI": "24E124136A456465", "name": "a", "applicationID": "1", "description": "24E124136A456465",
			"deviceProfileID": profileIDClassA, "deviceProfileName": "ClassA-OTAA", "deviceStatusBattery": 0.0,
			"deviceStatusMargin": 0.0, "lastSeenAt": "",
		}},
	}
	if d := cmp.Diff(want, grp); d != "" {
		t.Errorf("group (-want +got):\n%s", d)
	}
}

func TestGroupDefaults(t *testing.T) {
	for _, tc := range []struct {
		plan, groupType string
		dr, freq        float64
	}{
		{"EU868", "CLASS_C", 0, 869525000},
		{"EU868", "CLASS_B", 3, 869525000},
		{"US915", "CLASS_C", 8, 923300000},
		{"CN470", "CLASS_B", 2, 508300000},
	} {
		t.Run(tc.plan+"/"+tc.groupType, func(t *testing.T) {
			g := newGateway(t, Options{ChannelPlan: tc.plan})
			mustOK(t, g, "POST", "/api/multicast-groups", `{"multicastGroup":{"name":"g","groupType":"`+tc.groupType+`"}}`)
			l := decode[map[string]any](t, mustOK(t, g, "GET", "/api/multicast-groups", nil))
			grp := l["result"].([]any)[0].(map[string]any)
			got := map[string]any{"mcAddr": grp["mcAddr"], "mcNwkSKey": grp["mcNwkSKey"], "mcAppSKey": grp["mcAppSKey"],
				"dr": grp["dr"], "frequency": grp["frequency"], "pingSlotPeriod": grp["pingSlotPeriod"], "fCnt": grp["fCnt"]}
			want := map[string]any{"mcAddr": "11111111", "mcNwkSKey": DefaultKey, "mcAppSKey": DefaultKey,
				"dr": tc.dr, "frequency": tc.freq, "pingSlotPeriod": 128.0, "fCnt": 0.0}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("defaults (-want +got):\n%s", d)
			}
		})
	}
}

func TestCodecs(t *testing.T) {
	g := newGateway(t, Options{})
	runSteps(t, g, []step{
		{name: "create", method: "POST", url: "/api/payloadcodecs", body: `{"name":"em300-decoder","description":"d","templateID":0,"encoderScript":"e","decoderScript":"x","testEnabled":false,"fPort":85,"codecJson":"{}"}`, want: 200, save: "id", saveAs: "c"},
		{name: "duplicate", method: "POST", url: "/api/payloadcodecs", body: `{"name":"em300-decoder"}`, want: 6},
		{name: "duplicate of a built-in", method: "POST", url: "/api/payloadcodecs", body: `{"name":"Milesight EM300"}`, want: 6},
		{name: "blank name", method: "POST", url: "/api/payloadcodecs", body: `{"name":" "}`, want: 3},
		{name: "name missing", method: "POST", url: "/api/payloadcodecs", body: `{"decoderScript":"x"}`, want: 3},
		{name: "decoderScript a number", method: "POST", url: "/api/payloadcodecs", body: `{"name":"x","decoderScript":1}`, want: 3},
		{name: "templateID a string", method: "POST", url: "/api/payloadcodecs", body: `{"name":"x","templateID":"0"}`, want: 3},
		{name: "the example's spelling", method: "POST", url: "/api/payloadcodec", body: `{"name":"x"}`, want: 21},
		{name: "update unknown", method: "PUT", url: "/api/payloadcodecs/999", body: `{"name":"x"}`, want: 5},
		{name: "update a built-in", method: "PUT", url: "/api/payloadcodecs/1", body: `{"name":"x"}`, want: 9},
		{name: "update to a taken name", method: "PUT", url: "/api/payloadcodecs/{c}", body: `{"name":"Milesight WT201"}`, want: 6},
		{name: "update", method: "PUT", url: "/api/payloadcodecs/{c}", body: `{"name":"em300-decoder","decoderScript":"y"}`, want: 200},
		{name: "list type bogus", method: "GET", url: "/api/payloadcodecs?type=bogus", want: 3},
		{name: "delete a built-in", method: "DELETE", url: "/api/payloadcodecs/2", want: 9},
		{name: "delete unknown", method: "DELETE", url: "/api/payloadcodecs/999", want: 5},
	})
	b := mustOK(t, g, "GET", "/api/payloadcodecs?limit=10&offset=0&type=custom", nil)
	want := map[string]any{"totalCount": 1.0, "result": []any{map[string]any{
		"id": "100", "name": "em300-decoder", "description": "d", "templateID": 0.0, "devEUIPrefix": "",
		"encoderScript": "e", "decoderScript": "y", "testEnabled": false, "fPort": 85.0,
	}}}
	if d := cmp.Diff(want, decode[map[string]any](t, b)); d != "" {
		t.Errorf("custom codecs (-want +got):\n%s", d)
	}
	b = mustOK(t, g, "GET", "/api/payloadcodecs-short?type=default&search=wt", nil)
	want = map[string]any{"totalCount": 1.0, "result": []any{map[string]any{"id": "2", "name": "Milesight WT201"}}}
	if d := cmp.Diff(want, decode[map[string]any](t, b)); d != "" {
		t.Errorf("short built-in codecs (-want +got):\n%s", d)
	}
	mustOK(t, g, "DELETE", "/api/payloadcodecs/100", nil)
	b = mustOK(t, g, "GET", "/api/payloadcodecs-short?type=custom", nil)
	if d := cmp.Diff(map[string]any{"totalCount": 0.0, "result": []any{}}, decode[map[string]any](t, b)); d != "" {
		t.Errorf("custom codecs after delete (-want +got):\n%s", d)
	}
}

func TestLegacyURLs(t *testing.T) {
	g := newGateway(t, Options{LegacyURLs: true})
	addDevice(t, g, "24E124136A456465", "a")
	runSteps(t, g, []step{
		{name: "canonical codec url", method: "POST", url: "/api/payloadcodecs", body: `{"name":"x"}`, want: 21},
		{name: "canonical codec list", method: "GET", url: "/api/payloadcodecs?type=custom", want: 21},
		{name: "example codec url", method: "POST", url: "/api/payloadcodec", body: `{"name":"x"}`, want: 200, save: "id", saveAs: "c"},
		{name: "example codec update", method: "PUT", url: "/api/payloadcodec/{c}", body: `{"name":"y"}`, want: 200},
		{name: "example codec list", method: "GET", url: "/api/payloadcodec?type=custom", want: 200},
		{name: "short list unchanged", method: "GET", url: "/api/payloadcodecs-short?type=custom", want: 200},
		{name: "group", method: "POST", url: "/api/multicast-groups", body: `{"multicastGroup":{"name":"g"}}`, want: 200, save: "id", saveAs: "g"},
		{name: "add", method: "POST", url: "/api/multicast-groups/{g}/devices", body: `{"devEUIs":["24E124136A456465"]}`, want: 200},
		{name: "canonical remove", method: "POST", url: "/api/multicast-groups/{g}/deletedevices", body: `{"devEUIs":["24E124136A456465"]}`, want: 21},
		{name: "example remove", method: "POST", url: "/api/multicast-groups/{g}/deleteddevices", body: `{"devEUIs":["24E124136A456465"]}`, want: 200},
		{name: "example codec delete", method: "DELETE", url: "/api/payloadcodec/{c}", want: 200},
	})
}
