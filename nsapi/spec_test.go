package nsapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gwsync/gwsync/gwsim"
	"github.com/gwsync/gwsync/nsapi"
)

// The spec's own request examples (testdata/spec), sent raw to the simulated
// gateway in spec-examples mode; each answer must have the shape of the
// spec's response example.

// specEnv is a fresh CN470 gateway (the examples' frequencies are CN470's)
// and a client of it, for the setup a request example needs.
type specEnv struct {
	t *testing.T
	g *gwsim.Gateway
	c *nsapi.Client
	// replace maps text of the example (a server id the spec made up) to
	// what it names on this gateway.
	replace map[string]string
	// now is the gateway's clock (FUOTA tasks progress by it).
	now atomic.Pointer[time.Time]
}

// advance moves the gateway's clock on by d.
func (e *specEnv) advance(d time.Duration) {
	t := e.now.Load().Add(d)
	e.now.Store(&t)
}

const testKey = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"

func (e *specEnv) profileID(name string) string {
	p := findProfile(e.t, e.c, name)
	if p == nil {
		e.t.Fatalf("setup: no profile %s", name)
	}
	return p.ID()
}

func (e *specEnv) device(eui string) {
	e.t.Helper()
	err := e.c.CreateDevice(context.Background(), nsapi.DeviceWrite{DevEUI: eui, Name: "dev-" + strings.ToLower(eui[10:]),
		ApplicationID: "1", ProfileID: e.profileID("ClassC-OTAA"), AppKey: testKey})
	if err != nil {
		e.t.Fatalf("setup: device %s: %v", eui, err)
	}
}

func (e *specEnv) profile(specID string) {
	e.t.Helper()
	p := findProfile(e.t, e.c, "ClassA-OTAA").Write()
	p.Name = "spec-profile"
	id, err := e.c.CreateProfile(context.Background(), p)
	if err != nil {
		e.t.Fatalf("setup: profile: %v", err)
	}
	e.replace[specID] = id
}

func (e *specEnv) group(specID string, members ...string) {
	e.t.Helper()
	id, err := e.c.CreateGroup(context.Background(), nsapi.MulticastGroup{Name: "group1", McAddr: "11111111",
		McNwkSKey: testKey, McAppSKey: testKey, GroupType: "CLASS_C", DR: 0, Frequency: 505300000, PingSlotPeriod: 128})
	if err != nil {
		e.t.Fatalf("setup: group: %v", err)
	}
	if len(members) > 0 {
		if err := e.c.AddGroupDevices(context.Background(), id, members); err != nil {
			e.t.Fatalf("setup: group members: %v", err)
		}
	}
	if specID != "" {
		e.replace[specID] = id
	}
}

func (e *specEnv) codec(specID string) {
	e.t.Helper()
	id, err := e.c.CreateCodec(context.Background(), nsapi.CodecWrite{Name: "test", EncoderScript: "test", DecoderScript: "test", FPort: 1})
	if err != nil {
		e.t.Fatalf("setup: codec: %v", err)
	}
	e.replace[specID] = "/" + id
}

// task creates a local-firmware FUOTA task starting at start.
func (e *specEnv) task(name, start string, devEUIs ...string) int64 {
	e.t.Helper()
	id, err := e.c.CreateTask(context.Background(), nsapi.FuotaTask{Name: name, StartedAt: start, DevEUIs: devEUIs,
		FirmwareInfo: &nsapi.FirmwareInfo{FirmwareName: "WT101.bin", FileContent: "AAECAwQFBgcICQ=="},
		FragmentInfo: nsapi.FragmentInfo{FragmentSize: 88, FragmentInterval: 5000, FragmentRedundancy: 30},
		TmpMcInfo:    nsapi.TmpMcInfo{DR: 3, Frequency: 505300000}})
	if err != nil {
		e.t.Fatalf("setup: task %s: %v", name, err)
	}
	return id
}

// officialTask creates an official-firmware FUOTA task.
func (e *specEnv) officialTask(name string, devEUIs ...string) {
	e.t.Helper()
	fw, err := e.c.OfficialFirmware(context.Background(), "CT303", "")
	if err != nil || len(fw) == 0 {
		e.t.Fatalf("setup: official firmware: %v, %v", fw, err)
	}
	_, err = e.c.CreateTask(context.Background(), nsapi.FuotaTask{Name: name, StartedAt: future, DevEUIs: devEUIs,
		IsOfficialFirmware: true, OfficialFirmwareInfo: &fw[0],
		FragmentInfo: nsapi.FragmentInfo{FragmentSize: 88, FragmentInterval: 5000, FragmentRedundancy: 30},
		TmpMcInfo:    nsapi.TmpMcInfo{DR: 3, Frequency: 505300000}})
	if err != nil {
		e.t.Fatalf("setup: task %s: %v", name, err)
	}
}

const (
	future = "2030-04-15T00:50:00Z" // a task that has not started
	past   = "2025-04-15T00:50:00Z" // a task that has run to its end
)

// blankName: the codec examples (5.1, 5.4) name their codec " ", a
// placeholder the parameter table forbids (name is required); they are sent
// with a name.
func blankName(e *specEnv) { e.replace[`"name": " "`] = `"name": "test"` }

// documentedExtra are keys an answer may carry that the spec's response
// tables document but its examples leave out.
var documentedExtra = map[string]bool{
	"isDefault": true, // 2.3
}

// codecNine: the device examples name payload codec 9, which the simulated
// gateway does not have; they get its built-in codec 1.
var codecNine = regexp.MustCompile(`"payloadCodecID":\s*"9"`)

type specCase struct {
	name     string // testdata/spec/<name>.request.json
	response string // the response example to compare with; "" = name
	setup    func(e *specEnv)
}

var specCases = []specCase{
	{name: "2.1-profile-add"},
	{name: "2.2-profile-delete", setup: func(e *specEnv) { e.profile("09c9326b-0fc6-42ce-ae32-808d58306a50") }},
	{name: "2.3-profile-list"},
	{name: "2.4-profile-update", setup: func(e *specEnv) { e.profile("d11c2c2f-543e-4b6f-b393-3e8e6b0e76e4") }},
	{name: "3.1-device-add", setup: func(e *specEnv) { e.replace["940dcdbE-8d5b-4a1e-b7c6-4e5437162015"] = e.profileID("ClassA-OTAA") }},
	{name: "3.2-device-delete", setup: func(e *specEnv) { e.device("24E124136A456465") }},
	{name: "3.3-device-list-all", setup: func(e *specEnv) { e.device("24E124136A456465") }},
	{name: "3.3-device-list-application", response: "3.3-device-list-all", setup: func(e *specEnv) { e.device("24E124136A456465") }},
	{name: "3.4-device-update", setup: func(e *specEnv) {
		e.device("24E124136A456465")
		e.replace["fa8215d4-4b5a-4054-b6ba-5658609861d1"] = e.profileID("ClassA-OTAA")
	}},
	{name: "4.1-group-add"},
	{name: "4.2-group-add-devices", setup: func(e *specEnv) {
		e.device("24E124136A456467")
		e.device("24E124136A456465")
		e.group("03881b5e-9af0-4a38-860c-bdc25347f739")
	}},
	{name: "4.3-group-delete", setup: func(e *specEnv) { e.group("8cc84500-9587-4256-bd7e-4f265c56f8ee") }},
	{name: "4.4-group-delete-devices", setup: func(e *specEnv) {
		e.device("24E124136A456467")
		e.group("0663aff7-3223-4874-ad6a-b306c63a38e7", "24E124136A456467")
	}},
	{name: "4.5-group-list-all", setup: func(e *specEnv) {
		e.device("24E124136A456467")
		e.group("", "24E124136A456467")
	}},
	{name: "4.5-group-list-one", response: "4.5-group-list-all", setup: func(e *specEnv) {
		e.device("24E124136A456467")
		e.group("", "24E124136A456467")
	}},
	{name: "4.6-group-update", setup: func(e *specEnv) { e.group("0663aff7-3223-4874-ad6a-b306c63a38e7") }},
	{name: "5.1-codec-add", setup: blankName},
	{name: "5.2-codec-delete", setup: func(e *specEnv) { e.codec("/285") }},
	{name: "5.3-codec-list", setup: func(e *specEnv) { e.codec("/285") }},
	{name: "5.3-codec-list-short", setup: func(e *specEnv) { e.codec("/285") }},
	{name: "5.4-codec-update", setup: func(e *specEnv) { e.codec("/285"); blankName(e) }},
	{name: "6.1-fuota-add-local", setup: func(e *specEnv) {
		e.device("24E1247151234568")
		e.device("24E124715123456B")
	}},
	{name: "6.1-fuota-add-official", response: "6.1-fuota-add-local", setup: func(e *specEnv) {
		e.device("24E1247151234569")
		e.device("24E124715123456A")
	}},
	{name: "6.2-fuota-list", setup: func(e *specEnv) {
		e.device("24E1247151234568")
		e.officialTask("test", "24e1247151234568")
	}},
	{name: "6.3-fuota-update-local", setup: func(e *specEnv) {
		e.device("24E1247151234568")
		e.device("24E124715123456B")
		e.replace[`"id": 184`] = fmt.Sprintf(`"id": %d`, e.task("test", future, "24e1247151234568"))
	}},
	{name: "6.3-fuota-update-official", response: "6.3-fuota-update-local", setup: func(e *specEnv) {
		e.device("24E1247151234569")
		e.device("24E124715123456A")
		e.replace[`"id": 184`] = fmt.Sprintf(`"id": %d`, e.task("test", future, "24e1247151234569"))
	}},
	{name: "6.4-fuota-delete", setup: func(e *specEnv) {
		e.device("24E1247151234568")
		for _, n := range []string{"t1", "t2", "t3"} { // ids 1, 2, 3
			e.task(n, future, "24e1247151234568")
		}
	}},
	{name: "6.5-fuota-retry", setup: func(e *specEnv) {
		e.device("24E1247151234568")
		// Three tasks that ran and failed: they can be retried.
		e.g.FailFuotaDevice("24E1247151234568", true)
		for _, n := range []string{"t1", "t2", "t3"} {
			e.task(n, past, "24e1247151234568")
		}
		e.advance(24 * time.Hour)
	}},
	{name: "6.6-fuota-payloadsize"},
	{name: "6.7-fuota-devices", setup: func(e *specEnv) {
		e.device("24E1247151234568")
		e.device("24E1247151234569")
		e.task("test", future, "24e1247151234568", "24e1247151234569")
	}},
	{name: "6.8-fuota-firmware-devices-local", setup: func(e *specEnv) { e.device("24E124136A456465") }},
	{name: "6.8-fuota-firmware-devices-official", response: "6.8-fuota-firmware-devices-local", setup: func(e *specEnv) { e.device("24E124136A456465") }},
	{name: "6.9-official-models"},
	{name: "6.10-official-firmware"},
}

func TestSpecExamples(t *testing.T) {
	files, err := filepath.Glob("testdata/spec/*.request.json")
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, tc := range specCases {
		covered[tc.name] = true
	}
	for _, f := range files {
		if name := strings.TrimSuffix(filepath.Base(f), ".request.json"); !covered[name] {
			t.Errorf("%s has no case in specCases", f)
		}
	}
	for _, tc := range specCases {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := os.ReadFile("testdata/spec/" + tc.name + ".request.json")
			if err != nil {
				t.Fatal(err)
			}
			respName := tc.response
			if respName == "" {
				respName = tc.name
			}
			wantRaw, err := os.ReadFile("testdata/spec/" + respName + ".response.json")
			if err != nil {
				t.Fatal(err)
			}
			e := &specEnv{t: t, replace: map[string]string{}}
			start := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
			e.now.Store(&start)
			g, err := gwsim.New(gwsim.Options{ChannelPlan: "CN470", Quirks: gwsim.QuirksSpecExamples, Now: func() time.Time { return *e.now.Load() }})
			if err != nil {
				t.Fatal(err)
			}
			c, err := nsapi.New(context.Background(), g.Transport(), nsapi.Config{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close(); _ = g.Close() })
			e.g, e.c = g, c
			if tc.setup != nil {
				tc.setup(e)
			}
			payload := codecNine.ReplaceAll(raw, []byte(`"payloadCodecID": "1"`))
			keys := make([]string, 0, len(e.replace))
			for k := range e.replace {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				payload = bytes.ReplaceAll(payload, []byte(k), []byte(e.replace[k]))
			}

			answer := g.Handle(payload)
			if answer == nil {
				t.Fatalf("no answer to\n%s", payload)
			}
			var req, got, want struct {
				ID   json.RawMessage `json:"id"`
				Body json.RawMessage `json:"body"`
			}
			if err := json.Unmarshal(payload, &req); err != nil {
				t.Fatalf("request: %v", err)
			}
			if err := json.Unmarshal(answer, &got); err != nil {
				t.Fatalf("answer is not JSON: %v\n%s", err, answer)
			}
			if err := json.Unmarshal(wantRaw, &want); err != nil {
				t.Fatalf("response example: %v", err)
			}
			if req.ID != nil && !sameID(req.ID, got.ID) {
				t.Errorf("answer id %s, request id %s", got.ID, req.ID)
			}
			for _, p := range shapeDiff("body", decode(t, want.Body), decode(t, got.Body)) {
				t.Errorf("%s", p)
			}
			if t.Failed() {
				t.Logf("request:\n%s\nanswer:\n%s", payload, answer)
			}
		})
	}
}

func sameID(a, b json.RawMessage) bool {
	var x, y nsapi.FlexString
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && x == y
}

func decode(t *testing.T, b json.RawMessage) any {
	t.Helper()
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("body: %v", err)
	}
	return v
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// isStatus reports whether a body is a bare status {"code":…,"error":…}.
func isStatus(v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	_, hasCode := m["code"]
	for k := range m {
		if k != "code" && k != "error" {
			return false
		}
	}
	return hasCode
}

// shapeDiff lists where got does not have want's shape: a key missing or
// extra, or a value of another JSON type. Arrays compare each element of got
// with want's first. A status body ({"code":200,"error":""}) may also be
// answered blank, as the spec says ("Body is blank if success"), and an
// answer's code must be 200.
func shapeDiff(path string, want, got any) []string {
	if isStatus(want) {
		switch g := got.(type) {
		case nil:
			return nil
		case map[string]any:
			if len(g) == 0 {
				return nil
			}
			if c, ok := g["code"]; ok && fmt.Sprint(c) != "200" {
				return []string{fmt.Sprintf("%s: an error answer (code %v, %v), want success", path, c, g["error"])}
			}
		}
	}
	if m, ok := got.(map[string]any); ok {
		if c, ok := m["code"]; ok && fmt.Sprint(c) != "200" {
			return []string{fmt.Sprintf("%s: an error answer (code %v, %v), want success", path, c, m["error"])}
		}
	}
	if kind(want) != kind(got) {
		return []string{fmt.Sprintf("%s: %s, the spec's example has %s", path, kind(got), kind(want))}
	}
	var out []string
	switch w := want.(type) {
	case map[string]any:
		g := got.(map[string]any)
		keys := map[string]bool{}
		for k := range w {
			keys[k] = true
		}
		for k := range g {
			keys[k] = true
		}
		var sorted []string
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			wv, inW := w[k]
			gv, inG := g[k]
			switch {
			case !inG:
				out = append(out, fmt.Sprintf("%s.%s: missing (the spec's example has it)", path, k))
			case !inW && documentedExtra[k]:
			case !inW:
				out = append(out, fmt.Sprintf("%s.%s: not in the spec's example", path, k))
			default:
				out = append(out, shapeDiff(path+"."+k, wv, gv)...)
			}
		}
	case []any:
		g := got.([]any)
		if len(w) == 0 {
			return nil
		}
		for i, gv := range g {
			out = append(out, shapeDiff(fmt.Sprintf("%s[%d]", path, i), w[0], gv)...)
		}
	}
	return out
}
