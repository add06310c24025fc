package gwsim

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gwsync/gwsync/nsapi"
)

// firmware880 is 880 bytes of firmware: 10 fragments of 88 bytes.
var firmware880 = base64.StdEncoding.EncodeToString(make([]byte, 880))

// taskBody is a local-firmware task; edit tweaks the fuotaTask object.
func taskBody(name string, start time.Time, euis []string, edit func(m map[string]any)) string {
	m := map[string]any{
		"name": name, "startedAt": start.UTC().Format("2006-01-02T15:04:05.000Z"), "description": "test", "deveui": euis,
		"firmwareInfo":       map[string]any{"fileContent": firmware880, "firmwareName": "WT101.0000.0100.0101.bin"},
		"isOfficialFirmware": false,
		"fragmentInfo":       map[string]any{"fragmentSize": 88, "fragmentInterval": 5000, "fragmentRedundancy": 30},
		"tmpMcInfo":          map[string]any{"dr": 3, "frequency": 869525000},
	}
	if edit != nil {
		edit(m)
	}
	b, _ := json.Marshal(map[string]any{"fuotaTask": m})
	return string(b)
}

func TestFuotaValidation(t *testing.T) {
	clk := newClock()
	g := newGateway(t, Options{Now: clk.Now, MaxTasks: 2})
	addDevice(t, g, "24E1247151234568", "wt-1")
	addDevice(t, g, "24E1247151234569", "wt-2")
	start := clk.Now().Add(time.Hour)
	devs := []string{"24e1247151234568", "24e1247151234569"}
	body := func(edit func(m map[string]any)) string { return taskBody("t", start, devs, edit) }
	sub := func(key, field string, v any) func(m map[string]any) {
		return func(m map[string]any) { m[key].(map[string]any)[field] = v }
	}
	runSteps(t, g, []step{
		{name: "name blank", method: "POST", url: "/api/fuota/task", body: body(func(m map[string]any) { m["name"] = "" }), want: nsapi.CodeFuotaTaskName},
		{name: "name of 128", method: "POST", url: "/api/fuota/task", body: body(func(m map[string]any) { m["name"] = strings.Repeat("n", 128) }), want: nsapi.CodeFuotaTaskName},
		{name: "start time missing", method: "POST", url: "/api/fuota/task", body: body(func(m map[string]any) { delete(m, "startedAt") }), want: nsapi.CodeFuotaStartTime},
		{name: "start time garbled", method: "POST", url: "/api/fuota/task", body: body(func(m map[string]any) { m["startedAt"] = "tomorrow" }), want: nsapi.CodeFuotaStartTime},
		{name: "fragmentInfo missing", method: "POST", url: "/api/fuota/task", body: body(func(m map[string]any) { delete(m, "fragmentInfo") }), want: nsapi.CodeFuotaMissFragmentInfo},
		{name: "tmpMcInfo missing", method: "POST", url: "/api/fuota/task", body: body(func(m map[string]any) { delete(m, "tmpMcInfo") }), want: nsapi.CodeFuotaMissTmpMcInfo},
		{name: "firmwareInfo missing", method: "POST", url: "/api/fuota/task", body: body(func(m map[string]any) { delete(m, "firmwareInfo") }), want: nsapi.CodeFuotaMissFirmwareInfo},
		{name: "official info missing", method: "POST", url: "/api/fuota/task", body: body(func(m map[string]any) { m["isOfficialFirmware"] = true }), want: nsapi.CodeFuotaMissOfficialInfo},
		{name: "official firmware unknown", method: "POST", url: "/api/fuota/task", body: body(func(m map[string]any) {
			m["isOfficialFirmware"] = true
			m["officialFirmwareInfo"] = map[string]any{"id": "42", "model": "CT303"}
		}), want: nsapi.CodeFuotaOfficialFetch},
		{name: "file content missing", method: "POST", url: "/api/fuota/task", body: body(sub("firmwareInfo", "fileContent", "")), want: nsapi.CodeFuotaMissCustomFirmware},
		{name: "file content not base64", method: "POST", url: "/api/fuota/task", body: body(sub("firmwareInfo", "fileContent", "!!")), want: nsapi.CodeParameter},
		{name: "fragment size 0", method: "POST", url: "/api/fuota/task", body: body(sub("fragmentInfo", "fragmentSize", 0)), want: nsapi.CodeFuotaFragmentSize},
		{name: "fragment size over the DR3 payload", method: "POST", url: "/api/fuota/task", body: body(sub("fragmentInfo", "fragmentSize", 111)), want: nsapi.CodeFuotaFragmentSize},
		{name: "fragment size 251 at DR5", method: "POST", url: "/api/fuota/task", body: body(func(m map[string]any) {
			m["fragmentInfo"].(map[string]any)["fragmentSize"] = 251
			m["tmpMcInfo"].(map[string]any)["dr"] = 5
		}), want: nsapi.CodeFuotaFragmentSize},
		{name: "interval 999", method: "POST", url: "/api/fuota/task", body: body(sub("fragmentInfo", "fragmentInterval", 999)), want: nsapi.CodeFuotaFragmentInterval},
		{name: "interval 10001", method: "POST", url: "/api/fuota/task", body: body(sub("fragmentInfo", "fragmentInterval", 10001)), want: nsapi.CodeFuotaFragmentInterval},
		{name: "redundancy 101", method: "POST", url: "/api/fuota/task", body: body(sub("fragmentInfo", "fragmentRedundancy", 101)), want: nsapi.CodeFuotaRedundancy},
		{name: "dr not in EU868", method: "POST", url: "/api/fuota/task", body: body(sub("tmpMcInfo", "dr", 9)), want: nsapi.CodeParameter},
		{name: "frequency outside EU868", method: "POST", url: "/api/fuota/task", body: body(sub("tmpMcInfo", "frequency", 505300000)), want: nsapi.CodeParameter},
		{name: "group type 1", method: "POST", url: "/api/fuota/task", body: body(sub("tmpMcInfo", "groupType", 1)), want: nsapi.CodeParameter},
		{name: "unknown device", method: "POST", url: "/api/fuota/task", body: taskBody("t", start, []string{"24e1240000000000"}, nil), want: nsapi.CodeNotFound},
		{name: "no devices", method: "POST", url: "/api/fuota/task", body: taskBody("t", start, []string{}, nil), want: nsapi.CodeParameter},
		{name: "fragment size exactly the DR3 payload", method: "POST", url: "/api/fuota/task", body: body(sub("fragmentInfo", "fragmentSize", 110)), want: 200},
		{name: "duplicate name", method: "POST", url: "/api/fuota/task", body: body(nil), want: nsapi.CodeAlreadyExists},
		{name: "official firmware", method: "POST", url: "/api/fuota/task", body: taskBody("o", start, devs, func(m map[string]any) {
			delete(m, "firmwareInfo")
			m["isOfficialFirmware"] = true
			m["officialFirmwarInfo"] = map[string]any{"0": true, "id": "1888828394920153089", "model": "CT303", "size": "182581"}
		}), want: 200},
		{name: "over the maximum", method: "POST", url: "/api/fuota/task", body: taskBody("third", start, devs, nil), want: nsapi.CodeFuotaTooManyTasks},
		{name: "update unknown", method: "PUT", url: "/api/fuota/task", body: taskBody("t", start, devs, func(m map[string]any) { m["id"] = 99 }), want: nsapi.CodeNotFound},
		{name: "update without id", method: "PUT", url: "/api/fuota/task", body: body(nil), want: nsapi.CodeParameter},
		{name: "update to a taken name", method: "PUT", url: "/api/fuota/task", body: taskBody("o", start, devs, func(m map[string]any) { m["id"] = 1 }), want: nsapi.CodeAlreadyExists},
		{name: "update", method: "PUT", url: "/api/fuota/task", body: taskBody("t2", start, devs[:1], func(m map[string]any) { m["id"] = 1 }), want: 200},
		{name: "delete device in one task", method: "DELETE", url: "/api/urdevices/24E1247151234569", want: nsapi.CodeFuotaDeviceInTask},
		{name: "delete device in two tasks", method: "DELETE", url: "/api/urdevices/24E1247151234568", want: nsapi.CodeFuotaDevicesInTasks},
		{name: "retry a task that has not failed", method: "POST", url: "/api/fuota/task/retry", body: `{"ids":[1]}`, want: nsapi.CodeFuotaTaskStatus},
		{name: "delete unknown task", method: "POST", url: "/api/fuota/task/delete", body: `{"ids":[1,99]}`, want: nsapi.CodeNotFound},
		{name: "delete ids missing", method: "POST", url: "/api/fuota/task/delete", body: `{}`, want: nsapi.CodeParameter},
		{name: "delete ids as strings", method: "POST", url: "/api/fuota/task/delete", body: `{"ids":["1"]}`, want: nsapi.CodeParameter},
		{name: "delete", method: "POST", url: "/api/fuota/task/delete", body: `{"ids":[1,2]}`, want: 200},
		{name: "device free again", method: "DELETE", url: "/api/urdevices/24E1247151234569", want: 200},
	})
}

type taskView struct {
	Status, Done int
	Stopped      string
	Devices      []string // "mc/frag/status"
}

func viewTask(t *testing.T, g *Gateway, id int64) taskView {
	t.Helper()
	var tl nsapi.FuotaTaskList
	_ = json.Unmarshal(mustOK(t, g, "GET", "/api/fuota/task", nil), &tl)
	var v taskView
	for _, task := range tl.Tasks {
		if int64(task.ID) == id {
			v.Status, v.Done, v.Stopped = int(task.Status), int(task.DoneDevices), task.StoppedAt
		}
	}
	var dl nsapi.FuotaDeviceList
	_ = json.Unmarshal(mustOK(t, g, "GET", fmt.Sprintf("/api/fuota/devices?taskId=%d&limit=10&offset=0", id), nil), &dl)
	for _, d := range dl.Devices {
		v.Devices = append(v.Devices, fmt.Sprintf("%d/%d/%d", d.MulticastSessionStatus, d.FragmentSessionStatus, d.Status))
	}
	return v
}

func TestFuotaProgress(t *testing.T) {
	clk := newClock()
	g := newGateway(t, Options{Now: clk.Now})
	addDevice(t, g, "24E1247151234568", "wt-1")
	addDevice(t, g, "24E1247151234569", "wt-2")
	t0 := clk.Now().Add(time.Hour)
	mustOK(t, g, "POST", "/api/fuota/task", taskBody("up", t0, []string{"24e1247151234568", "24e1247151234569"}, nil))
	// 880 bytes / 88 = 10 fragments, +30 % = 13, × 5 s = 65 s of transfer:
	// it ends at 120+65 = 185 s; devices report at 195 s and 205 s.
	for _, tc := range []struct {
		at   time.Duration // after startedAt
		want taskView
	}{
		{-time.Minute, taskView{Status: 0, Devices: []string{"0/0/0", "0/0/0"}}},
		{10 * time.Second, taskView{Status: 1, Devices: []string{"1/0/1", "1/0/1"}}},
		{40 * time.Second, taskView{Status: 1, Devices: []string{"2/0/1", "2/0/1"}}},
		{70 * time.Second, taskView{Status: 2, Devices: []string{"3/1/2", "3/1/2"}}},
		{100 * time.Second, taskView{Status: 2, Devices: []string{"3/2/2", "3/2/2"}}},
		{150 * time.Second, taskView{Status: 2, Devices: []string{"4/3/2", "4/3/2"}}},
		{190 * time.Second, taskView{Status: 2, Devices: []string{"5/12/2", "5/12/2"}}},
		{200 * time.Second, taskView{Status: 2, Done: 1, Devices: []string{"5/13/3", "5/12/2"}}},
		{205 * time.Second, taskView{Status: 3, Done: 2, Stopped: "2026-03-01T13:03:25Z", Devices: []string{"5/13/3", "5/13/3"}}},
		{time.Hour, taskView{Status: 3, Done: 2, Stopped: "2026-03-01T13:03:25Z", Devices: []string{"5/13/3", "5/13/3"}}},
	} {
		clk.mu.Lock()
		clk.now = t0.Add(tc.at)
		clk.mu.Unlock()
		if d := cmp.Diff(tc.want, viewTask(t, g, 1)); d != "" {
			t.Errorf("at %v (-want +got):\n%s", tc.at, d)
		}
		if tc.at == 100*time.Second {
			code, _ := call(t, g, "PUT", "/api/fuota/task", taskBody("up", t0, []string{"24e1247151234568"}, func(m map[string]any) { m["id"] = 1 }))
			if code != nsapi.CodeFuotaTaskStatus {
				t.Errorf("update of an executing task: code %d, want %d", code, nsapi.CodeFuotaTaskStatus)
			}
		}
	}
}

func TestFuotaFailureAndRetry(t *testing.T) {
	clk := newClock()
	g := newGateway(t, Options{Now: clk.Now, TimeScale: 10})
	addDevice(t, g, "24E1247151234568", "wt-1")
	addDevice(t, g, "24E1247151234569", "wt-2")
	g.FailFuotaDevice("24e1247151234569", true)
	t0 := clk.Now()
	mustOK(t, g, "POST", "/api/fuota/task", taskBody("up", t0, []string{"24E1247151234568", "24E1247151234569"}, nil))
	clk.Add(21 * time.Second) // 210 s of gateway time at TimeScale 10
	want := taskView{Status: 4, Done: 1, Stopped: "2026-03-01T12:00:20Z", Devices: []string{"5/13/3", "5/10/4"}}
	if d := cmp.Diff(want, viewTask(t, g, 1)); d != "" {
		t.Errorf("failed run (-want +got):\n%s", d)
	}
	g.FailFuotaDevice("24E1247151234569", false)
	mustOK(t, g, "POST", "/api/fuota/task/retry", `{"ids":[1]}`)
	if v := viewTask(t, g, 1); v.Status != nsapi.TaskWaiting || v.Done != 0 {
		t.Errorf("after retry: status %d, done %d; want waiting, 0", v.Status, v.Done)
	}
	clk.Add(21 * time.Second)
	want = taskView{Status: 3, Done: 2, Stopped: "2026-03-01T12:00:41Z", Devices: []string{"5/13/3", "5/13/3"}}
	if d := cmp.Diff(want, viewTask(t, g, 1)); d != "" {
		t.Errorf("retried run (-want +got):\n%s", d)
	}
}

func TestFuotaShapes(t *testing.T) {
	clk := newClock()
	g := newGateway(t, Options{Now: clk.Now})
	addDevice(t, g, "24E1247151234568", "wt-1")
	t0 := time.Date(2026, 4, 15, 0, 50, 0, 0, time.UTC)
	id := decode[map[string]any](t, mustOK(t, g, "POST", "/api/fuota/task", taskBody("Test", t0, []string{"24E1247151234568"}, nil)))["id"]
	if id != 1.0 {
		t.Errorf("task id %#v, want the number 1", id)
	}
	tl := decode[map[string]any](t, mustOK(t, g, "GET", "/api/fuota/task?limit=10&offset=0&search=tes", nil))
	task := tl["tasks"].([]any)[0].(map[string]any)
	want := map[string]any{
		"id": 1.0, "name": "Test", "description": "test", "status": 0.0, "startedAt": "2026-04-15T00:50:00Z",
		"stoppedAt": "", "createdAt": "2026-03-01T12:00:00Z", "updatedAt": "2026-03-01T12:00:00Z",
		"firmwareName": "WT101.0000.0100.0101.bin", "doneDevices": 0.0, "totalDevices": 1.0,
		"deveui": []any{"24e1247151234568"},
		"firmwareInfo": map[string]any{"firmwareName": "WT101.0000.0100.0101.bin", "description": "", "fileContent": "",
			"productModel": "", "firmwareVersion": "", "supportHardwareVersion": "", "supportFirmwareVersion": "", "officialFirmwareUrl": ""},
		"fragmentInfo":       map[string]any{"fragmentSize": 88.0, "fragmentInterval": 5000.0, "fragmentRedundancy": 30.0},
		"tmpMcInfo":          map[string]any{"sessionTimeDelay": 0.0, "sessionTimeOut": 0.0, "status": 0.0, "groupType": 0.0, "dr": 3.0, "frequency": 869525000.0},
		"isOfficialFirmware": false,
	}
	if d := cmp.Diff(want, task); d != "" {
		t.Errorf("task (-want +got):\n%s", d)
	}
	if tl["total"] != 1.0 {
		t.Errorf("total %#v, want the number 1", tl["total"])
	}
	// fileContent is write-only, as the 6.2 example shows it; an option
	// shows it for tests that want to see what was sent.
	g.opts.ListFileContent = true
	tl = decode[map[string]any](t, mustOK(t, g, "GET", "/api/fuota/task?limit=10&offset=0", nil))
	if fc := tl["tasks"].([]any)[0].(map[string]any)["firmwareInfo"].(map[string]any)["fileContent"]; fc != firmware880 {
		t.Errorf("ListFileContent: fileContent %v, want the firmware sent", fc)
	}
	g.opts.ListFileContent = false
	// The client's type reads it back.
	var parsed nsapi.FuotaTaskList
	if err := json.Unmarshal(mustOK(t, g, "GET", "/api/fuota/task", nil), &parsed); err != nil || len(parsed.Tasks) != 1 || parsed.Tasks[0].FragmentInfo.FragmentSize != 88 {
		t.Errorf("nsapi.FuotaTaskList: %v %+v", err, parsed)
	}

	ps := decode[map[string]any](t, mustOK(t, g, "GET", "/api/fuota/task/payloadsize", nil))
	var sizes []string
	for _, e := range ps["maxPayloadSizeMap"].([]any) {
		m := e.(map[string]any)
		sizes = append(sizes, fmt.Sprintf("DR%v:%v", m["dr"], m["maxPayloadSize"]))
	}
	if d := cmp.Diff([]string{"DR0:46", "DR1:46", "DR2:46", "DR3:110", "DR4:237", "DR5:237", "DR6:237"}, sizes); d != "" {
		t.Errorf("payload sizes (-want +got):\n%s", d)
	}

	models := decode[map[string]any](t, mustOK(t, g, "GET", "/api/fuota/official/models?dateCenter=eu", nil))
	if d := cmp.Diff(map[string]any{"models": []any{"CT303", "WT101", "WT201"}}, models); d != "" {
		t.Errorf("models (-want +got):\n%s", d)
	}
	if code, _ := call(t, g, "GET", "/api/fuota/official/models?dateCenter=mars", nil); code != 3 {
		t.Errorf("dateCenter mars: code %d, want 3", code)
	}
	fw := decode[nsapi.OfficialFirmwareList](t, mustOK(t, g, "GET", "/api/fuota/official/firmware?model=WT201&limit=1&offset=0", nil))
	if fw.Total != 2 || len(fw.Data) != 1 || fw.Data[0].Model != "WT201" {
		t.Errorf("WT201 firmware: %+v; want total 2, one on the page", fw)
	}
	raw := decode[map[string]any](t, mustOK(t, g, "GET", "/api/fuota/official/firmware?model=WT201&search=v1.3", nil))
	d0 := raw["data"].([]any)[0].(map[string]any)
	if d0["size"] != 118272.0 || d0["name"] != "WT201 v1.3" {
		t.Errorf("firmware entry %v: want WT201 v1.3 with a numeric size", d0)
	}
	if code, _ := call(t, g, "GET", "/api/fuota/official/firmware", nil); code != 3 {
		t.Errorf("firmware without model: code %d, want 3", code)
	}

	dl := decode[map[string]any](t, mustOK(t, g, "GET", "/api/fuota/devices?taskId=1&limit=10&offset=0", nil))
	wantDevs := map[string]any{"total": 1.0, "devices": []any{map[string]any{
		"devEui": "24e1247151234568", "name": "wt-1", "profileId": profileIDClassA, "profileName": "ClassA-OTAA",
		"hardwareVersion": "", "firmwareVersion": "", "fragmentSessionStatus": 0.0, "multicastSessionStatus": 0.0,
		"status": 0.0, "productModel": "", "taskId": 1.0,
	}}}
	if d := cmp.Diff(wantDevs, dl); d != "" {
		t.Errorf("task devices (-want +got):\n%s", d)
	}
	for _, u := range []string{"/api/fuota/devices", "/api/fuota/devices?taskId=x"} {
		if code, _ := call(t, g, "GET", u, nil); code != 3 {
			t.Errorf("%s: code %d, want 3", u, code)
		}
	}
	if code, _ := call(t, g, "GET", "/api/fuota/devices?taskId=9", nil); code != 5 {
		t.Errorf("unknown task: code %d, want 5", code)
	}

	addDevice(t, g, "24E1247151234569", "wt-2")
	fd := decode[nsapi.FuotaDeviceList](t, mustOK(t, g, "POST", "/api/fuota/devices/firmware",
		`{"limit":10,"offset":0,"taskId":0,"search":"","officialFirmwareInfo":{"0":true,"id":"1888828394920153090","model":"WT201"}}`))
	var got []string
	for _, d := range fd.Devices {
		got = append(got, fmt.Sprintf("%s %s task %d", d.DevEUI, d.ProductModel, d.TaskID))
	}
	if d := cmp.Diff([]string{"24E1247151234568 WT201 task 1", "24E1247151234569 WT201 task 0"}, got); d != "" {
		t.Errorf("devices for firmware (-want +got):\n%s", d)
	}
	if code, _ := call(t, g, "POST", "/api/fuota/devices/firmware", `{"limit":10}`); code != nsapi.CodeFuotaMissFirmwareInfo {
		t.Errorf("devices for no firmware: code %d, want %d", code, nsapi.CodeFuotaMissFirmwareInfo)
	}
	if w := g.Writes(); w != 3 {
		t.Errorf("Writes() = %d after two device creates, one task create and queries, want 3", w)
	}
}

// The status rule of 6.2 and code 10310014: a task is changed in place only
// while it is pending; a delete is taken in every status (it stops a
// running task).
func TestFuotaStatusRule(t *testing.T) {
	devs := []string{"24E1247151234568"}
	for _, tc := range []struct {
		name      string
		after     time.Duration // from startedAt (an hour after the create)
		fail      bool
		status    int
		updateErr int // 0: accepted
	}{
		{name: "pending", after: -time.Minute, status: nsapi.TaskPending},
		{name: "waiting", after: 10 * time.Second, status: nsapi.TaskWaiting, updateErr: nsapi.CodeFuotaTaskStatus},
		{name: "executing", after: 100 * time.Second, status: nsapi.TaskExecuting, updateErr: nsapi.CodeFuotaTaskStatus},
		{name: "succeeded", after: time.Hour, status: nsapi.TaskSucceeded, updateErr: nsapi.CodeFuotaTaskStatus},
		{name: "failed", after: time.Hour, fail: true, status: nsapi.TaskFailed, updateErr: nsapi.CodeFuotaTaskStatus},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			g := newGateway(t, Options{Now: clk.Now})
			addDevice(t, g, devs[0], "wt-1")
			g.FailFuotaDevice(devs[0], tc.fail)
			t0 := clk.Now().Add(time.Hour)
			mustOK(t, g, "POST", "/api/fuota/task", taskBody("up", t0, devs, nil))
			clk.Add(time.Hour + tc.after)
			if got := viewTask(t, g, 1).Status; got != tc.status {
				t.Fatalf("status %d, want %d", got, tc.status)
			}
			// The same task, one second later: an update in place.
			code, body := call(t, g, "PUT", "/api/fuota/task", taskBody("up", t0.Add(time.Second), devs, func(m map[string]any) { m["id"] = 1 }))
			want := tc.updateErr
			if want == 0 {
				want = 200
			}
			if code != want {
				t.Errorf("update while %s: code %d (%s), want %d", tc.name, code, body, want)
			}
			if code, body := call(t, g, "POST", "/api/fuota/task/delete", `{"ids":[1]}`); code != 200 {
				t.Errorf("delete while %s: code %d (%s), want 200", tc.name, code, body)
			}
			if code, _ := call(t, g, "DELETE", "/api/urdevices/"+devs[0], nil); code != 200 {
				t.Errorf("device delete after the task's delete: code %d, want 200", code)
			}
		})
	}
}

// A start time with a space for the T is refused, as on a gateway.
func TestFuotaStartTimeWithASpace(t *testing.T) {
	g := newGateway(t, Options{})
	addDevice(t, g, "24E1247151234568", "wt-1")
	body := taskBody("t", time.Now().Add(time.Hour), []string{"24E1247151234568"}, func(m map[string]any) { m["startedAt"] = "2026-12-01 02:00:00" })
	if code, _ := call(t, g, "POST", "/api/fuota/task", body); code != nsapi.CodeFuotaStartTime {
		t.Errorf("startedAt with a space: code %d, want %d", code, nsapi.CodeFuotaStartTime)
	}
}

// TestFirmwareDevicesByModel: the devices a firmware fits (6.8) are those
// of its model, known by name (WT201-1 is a WT201, as in the spec's 6.7
// example); a device or firmware whose name gives no model fits all.
func TestFirmwareDevicesByModel(t *testing.T) {
	g := newGateway(t, Options{})
	addDevice(t, g, "24E1247151234568", "WT201-1")
	addDevice(t, g, "24E1247151234569", "wt201-reception")
	addDevice(t, g, "24E124136A456465", "em300-th-01")
	addDevice(t, g, "24E124136A456466", "lamp")
	list := func(body string) []string {
		t.Helper()
		fd := decode[nsapi.FuotaDeviceList](t, mustOK(t, g, "POST", "/api/fuota/devices/firmware", body))
		var got []string
		for _, d := range fd.Devices {
			got = append(got, d.DevEUI+" "+d.ProductModel)
		}
		return got
	}
	for _, c := range []struct {
		name, body string
		want       []string
	}{
		{"official WT201", `{"officialFirmwareInfo":{"id":"1888828394920153090","model":"WT201"}}`,
			[]string{"24E1247151234568 WT201", "24E1247151234569 WT201", "24E124136A456466 WT201"}},
		{"local WT201 file", `{"firmwareName":"WT201-v1.5.bin","fileContent":"` + firmware880 + `"}`,
			[]string{"24E1247151234568 WT201", "24E1247151234569 WT201", "24E124136A456466 WT201"}},
		{"local EM300 file", `{"firmwareName":"em300_v2.bin","fileContent":"` + firmware880 + `"}`,
			[]string{"24E124136A456465 EM300", "24E124136A456466 EM300"}},
		{"local file of no model", `{"firmwareName":"firmware.bin","fileContent":"` + firmware880 + `"}`,
			[]string{"24E1247151234568 WT201", "24E1247151234569 WT201", "24E124136A456465 EM300", "24E124136A456466 "}},
	} {
		if d := cmp.Diff(c.want, list(c.body)); d != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, d)
		}
	}
}
