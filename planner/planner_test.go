package planner_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
	"github.com/gwsync/gwsync/planner"
	"github.com/gwsync/gwsync/site"
)

const key1 = "2b7e151628aed2a6abf7158809cf4f3c"

func factory(channelPlan string) *nsapi.State {
	return &nsapi.State{FormatVersion: 1, ChannelPlan: channelPlan,
		Applications: []nsapi.Application{{ApplicationID: "1", AppName: "cloud"}},
		Profiles: []nsapi.Profile{{Name: "ClassA-OTAA", IsDefault: true, Profile: nsapi.ProfileSettings{ProfileID: "a", SupportsJoin: true}},
			{Name: "Legacy", Profile: nsapi.ProfileSettings{ProfileID: "l", SupportsJoin: false}}}}
}

func summary(p *plan.Plan) []string { return summaryOf(p, false) }

func summaryOf(p *plan.Plan, unmanaged bool) []string {
	var out []string
	for _, c := range p.Changes {
		out = append(out, string(c.Action)+" "+c.Address)
	}
	for _, n := range p.Notes {
		out = append(out, "note "+n.Address)
	}
	for _, u := range p.Unmanaged {
		if unmanaged {
			out = append(out, "unmanaged "+u.Address)
		}
	}
	return out
}

// TestDefaultsFollowTheChannelPlan checks that fields left out take the
// spec's defaults for the gateway's channel plan.
func TestDefaultsFollowTheChannelPlan(t *testing.T) {
	s := &site.Site{Version: 1,
		Profiles:        []site.Profile{{Name: "P"}},
		MulticastGroups: []site.MulticastGroup{{Name: "b", GroupType: "CLASS_B"}, {Name: "c"}},
		FirmwareUpdates: []site.FirmwareUpdate{{Name: "t", Official: &site.OfficialFirmwareRef{Model: "WT201", Version: "v1"}}},
	}
	p, err := planner.Plan(s, factory("US915"), planner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		RxFreq2, RxDR2, PingDR, PingFreq, PingPeriod, ClassB, ClassC int64
		Mac, Rev                                                     string
		FCnt32                                                       bool
		BDR, BFreq, CDR, CFreq                                       int64
		CAddr, CType, CKey                                           string
		TaskDR, TaskFreq                                             int64
	}
	var g got
	for _, c := range p.Changes {
		switch {
		case c.After.Profile != nil:
			ps := c.After.Profile.Profile
			g.RxFreq2, g.RxDR2, g.PingDR, g.PingFreq = int64(ps.RxFreq2), int64(ps.RxDataRate2), int64(ps.PingSlotDR), int64(ps.PingSlotFreq)
			g.PingPeriod, g.ClassB, g.ClassC, g.Mac, g.Rev = int64(ps.PingSlotPeriod), int64(ps.ClassBTimeout), int64(ps.ClassCTimeout), ps.MacVersion, ps.RegParamsRevision
			g.FCnt32 = ps.Supports32bitFCnt
		case c.After.Group != nil && c.Name == "b":
			g.BDR, g.BFreq = int64(c.After.Group.DR), int64(c.After.Group.Frequency)
		case c.After.Group != nil:
			g.CDR, g.CFreq, g.CAddr, g.CType, g.CKey = int64(c.After.Group.DR), int64(c.After.Group.Frequency), c.After.Group.McAddr, c.After.Group.GroupType, c.After.Group.McNwkSKey
		case c.After.Task != nil:
			g.TaskDR, g.TaskFreq = int64(c.After.Task.TmpMcInfo.DR), int64(c.After.Task.TmpMcInfo.Frequency)
		}
	}
	want := got{RxFreq2: 923300000, RxDR2: 8, PingDR: 8, PingFreq: 923300000, PingPeriod: 128, ClassB: 10, ClassC: 10, Mac: "1.0.2", Rev: "B", FCnt32: true,
		BDR: 8, BFreq: 923300000, CDR: 8, CFreq: 923300000, CAddr: "11111111", CType: "CLASS_C", CKey: nsapi.DefaultKey,
		TaskDR: 8, TaskFreq: 923300000}
	if diff := cmp.Diff(want, g); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func otaa(eui, k string) site.Device {
	return site.Device{DevEUI: eui, Application: "cloud", AppKey: site.Secret{Value: k}}
}

// TestNormalisation checks spellings that are not differences, and ones
// that are.
func TestNormalisation(t *testing.T) {
	liveDev := func(edit func(d *nsapi.Device)) *nsapi.State {
		st := factory("EU868")
		d := nsapi.Device{DevEUI: "24e124136a456465", Name: "24E124136A456465", ApplicationID: "1", Description: "24e124136a456465",
			ProfileID: "a", AppKey: strings.ToUpper(key1), SupportsJoin: true, FPort: 1, PayloadCodecID: "0",
			DevAddr: "01020304", NwkSKey: "ffffffffffffffffffffffffffffffff", FCntUp: 77, LastSeenAt: "2026-11-25T08:00:00Z", Active: true}
		edit(&d)
		st.Devices = append(st.Devices, d)
		return st
	}
	abp := site.Device{DevEUI: "24E124136A456465", Application: "1", Profile: "Legacy", DevAddr: "01020304",
		NwkSKey: site.Secret{Value: key1}, AppSKey: site.Secret{Value: key1}}
	for _, tc := range []struct {
		name string
		dev  site.Device
		live *nsapi.State
		want []string
	}{
		{"case, defaults, ids as numbers", otaa("24E124136A456465", key1), liveDev(func(*nsapi.Device) {}), nil},
		{"key as a digest", otaa("24E124136A456465", key1), liveDev(func(d *nsapi.Device) { d.AppKey = plan.SecretDigest(key1) }), nil},
		{"other key as a digest", otaa("24E124136A456465", key1),
			liveDev(func(d *nsapi.Device) { d.AppKey = plan.SecretDigest("00000000000000000000000000000001") }),
			[]string{"update device.24E124136A456465"}},
		{"fPort drift", otaa("24E124136A456465", key1), liveDev(func(d *nsapi.Device) { d.FPort = 2 }), []string{"update device.24E124136A456465"}},
		{"ABP session is left alone", abp, liveDev(func(d *nsapi.Device) {
			d.SupportsJoin, d.ProfileID, d.AppKey = false, "l", ""
			d.NwkSKey, d.AppSKey = plan.SecretDigest(key1), strings.ToUpper(key1)
		}), nil},
		{"ABP session differs: a note", abp, liveDev(func(d *nsapi.Device) {
			d.SupportsJoin, d.ProfileID, d.AppKey, d.DevAddr = false, "l", "", "0A0B0C0D"
			d.NwkSKey, d.AppSKey = key1, key1
		}), []string{"note device.24E124136A456465"}},
		{"ABP frame counters moved on with traffic: no note", abpCounters(0, 0), liveDev(func(d *nsapi.Device) {
			d.SupportsJoin, d.ProfileID, d.AppKey = false, "l", ""
			d.NwkSKey, d.AppSKey, d.FCntUp, d.FCntDown = key1, key1, 5120, 12
		}), nil},
		{"ABP frame counter behind the site: a note", abpCounters(100, 0), liveDev(func(d *nsapi.Device) {
			d.SupportsJoin, d.ProfileID, d.AppKey = false, "l", ""
			d.NwkSKey, d.AppSKey, d.FCntUp = key1, key1, 3
		}), []string{"note device.24E124136A456465"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &site.Site{Version: 1, Devices: []site.Device{tc.dev}}
			p, err := planner.Plan(s, tc.live, planner.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, summary(p)); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
			for _, c := range p.Changes {
				if c.Action == plan.Update && !strings.Contains(strings.Join(c.Sensitive, ","), "appKey") {
					t.Errorf("%s: Sensitive = %v, want appKey listed", c.Address, c.Sensitive)
				}
			}
		})
	}
}

// TestCodecNormalisation checks that a codec read back from the gateway,
// which never returns codecJson (spec 5.3) and may carry CRLF line ends,
// plans empty, and that a real script change is an update that sends the
// site's codecJson along.
func TestCodecNormalisation(t *testing.T) {
	sc := site.Codec{Name: "em300", DecoderScript: "function Decode() {\n  return {};\n}\n", FPort: 85, CodecJSON: `{"temperature":"t"}`}
	live := func(script string) *nsapi.State {
		st := factory("EU868")
		st.Codecs = []nsapi.Codec{{ID: "285", Name: "em300", DecoderScript: script, FPort: 85}}
		return st
	}
	same := "function Decode() {\r\n  return {};\r\n}"
	for _, tc := range []struct {
		name, script string
		written      map[string]string // gwsync's record of the codecJson it wrote
		want         []string
	}{
		{"codecJson is write-only, CRLF is no difference", same, nil, nil},
		{"script changed", "function Decode() { return 1; }", nil, []string{"update codec.em300"}},
		{"codecJson as last written", same, map[string]string{"em300": sc.CodecJSON}, nil},
		{"codecJson changed since last written", same, map[string]string{"em300": `{"temperature":"old"}`}, []string{"update codec.em300"}},
		{"no record of this codec", same, map[string]string{"other": "{}"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := planner.Plan(&site.Site{Version: 1, Codecs: []site.Codec{sc}}, live(tc.script), planner.Options{WrittenCodecJSON: tc.written})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, summary(p)); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
			for _, c := range p.Changes {
				if got := c.After.Codec.Write().CodecJSON; got != sc.CodecJSON {
					t.Errorf("%s sends codecJson %q, want %q", c.Address, got, sc.CodecJSON)
				}
			}
		})
	}
}

// TestPrune checks what prune deletes and what it never deletes.
func TestPrune(t *testing.T) {
	live := factory("EU868")
	live.Devices = []nsapi.Device{{DevEUI: "24E1240000000001", Name: "old", ProfileID: "l", ApplicationID: "1"}}
	live.Codecs = []nsapi.Codec{{ID: "9", Name: "old-codec"}}
	live.BuiltinCodecs = []nsapi.CodecShort{{ID: "1", Name: "Milesight EM300"}}
	for _, tc := range []struct {
		prune site.Prune
		want  []string
	}{
		{site.Prune{}, []string{"unmanaged codec.old-codec", "unmanaged device.24E1240000000001", "unmanaged profile.Legacy"}},
		{site.Prune{Devices: true}, []string{"delete device.24E1240000000001", "unmanaged codec.old-codec", "unmanaged profile.Legacy"}},
		{site.Prune{Devices: true, Profiles: true, Codecs: true, MulticastGroups: true, FirmwareUpdates: true},
			[]string{"delete device.24E1240000000001", "delete profile.Legacy", "delete codec.old-codec"}},
	} {
		p, err := planner.Plan(&site.Site{Version: 1, Prune: tc.prune}, live, planner.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, summaryOf(p, true)); diff != "" {
			t.Errorf("prune %+v (-want +got):\n%s", tc.prune, diff)
		}
		for _, c := range p.Changes {
			if c.Kind == plan.KindDevice && c.Reason != "the device loses its session and frame counters" {
				t.Errorf("device delete reason = %q", c.Reason)
			}
		}
	}
	// a profile still used by a device that stays cannot be pruned
	_, err := planner.Plan(&site.Site{Version: 1, Prune: site.Prune{Profiles: true}}, live, planner.Options{})
	var pe *planner.Error
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), `profile "Legacy" would be deleted but device 24E1240000000001`) {
		t.Errorf("err = %v, want the profile still in use", err)
	}
}

// TestPruneKeepsBuiltins: prune never deletes what the gateway ships,
// whatever its lists carry: the built-in profiles by name (the spec's
// profile list, 2.3, has no isDefault) and the built-in codecs even when
// the custom list returns them.
func TestPruneKeepsBuiltins(t *testing.T) {
	live := factory("EU868")
	live.Profiles = nil
	for i, n := range site.BuiltinProfiles {
		live.Profiles = append(live.Profiles, nsapi.Profile{Name: n, Profile: nsapi.ProfileSettings{ProfileID: fmt.Sprint(i), SupportsJoin: true}})
	}
	live.Profiles = append(live.Profiles, nsapi.Profile{Name: "Custom", Profile: nsapi.ProfileSettings{ProfileID: "c"}})
	live.BuiltinCodecs = []nsapi.CodecShort{{ID: "1", Name: "Milesight EM300"}, {ID: "2", Name: "Milesight WT201"}}
	live.Codecs = []nsapi.Codec{{ID: "1", Name: "Milesight EM300"}, {ID: "2", Name: "WT201 (renamed by hand)"}, {ID: "9", Name: "mine"}}
	all := site.Prune{Devices: true, Profiles: true, Codecs: true, MulticastGroups: true, FirmwareUpdates: true}
	p, err := planner.Plan(&site.Site{Version: 1, Prune: all}, live, planner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"delete profile.Custom", "delete codec.mine"}
	if diff := cmp.Diff(want, summaryOf(p, true)); diff != "" {
		t.Errorf("prune everything (-want +got):\n%s", diff)
	}
}

// TestTasks checks FUOTA tasks: compared by firmware name, and replaced
// when the gateway cannot update them in place.
func TestTasks(t *testing.T) {
	task := func(status int64, fw string) *nsapi.State {
		st := factory("EU868")
		st.Devices = []nsapi.Device{{DevEUI: "24E1247151234568", ProfileID: "a", ApplicationID: "1"}}
		st.Tasks = []nsapi.FuotaTask{{ID: 4, Name: "fw", Status: nsapi.FlexInt(status), StartedAt: "2026-12-01T03:00:00+01:00",
			FirmwareName: fw, DevEUIs: []string{"24e1247151234568"},
			FragmentInfo: nsapi.FragmentInfo{FragmentSize: 40, FragmentInterval: 2000, FragmentRedundancy: 10},
			TmpMcInfo:    nsapi.TmpMcInfo{DR: 0, Frequency: 869525000, SessionTimeOut: 99}}}
		return st
	}
	s := &site.Site{Version: 1, FirmwareUpdates: []site.FirmwareUpdate{{Name: "fw", StartAt: "2026-12-01T02:00:00Z",
		Devices: []string{"24E1247151234568"}, FirmwareFile: "/firmware/a.bin",
		Fragment: site.Fragment{Size: 40, IntervalMs: 2000, Redundancy: 10}}}}
	reads := 0
	read := func(string) ([]byte, error) { reads++; return []byte{1, 2, 3}, nil }
	for _, tc := range []struct {
		name  string
		live  *nsapi.State
		stop  []string
		want  []string
		reads int
	}{
		{"same", task(nsapi.TaskExecuting, "a.bin"), nil, nil, 0},
		{"pending, other firmware", task(nsapi.TaskPending, "b.bin"), nil, []string{"update fuota_task.fw"}, 1},
		// running: never touched unless --stop-task names it (6.2, 10310014)
		{"waiting, other firmware", task(nsapi.TaskWaiting, "b.bin"), nil, []string{"note fuota_task.fw"}, 0},
		{"executing, other firmware", task(nsapi.TaskExecuting, "b.bin"), nil, []string{"note fuota_task.fw"}, 0},
		{"waiting, stopped", task(nsapi.TaskWaiting, "b.bin"), []string{"fw"}, []string{"replace fuota_task.fw"}, 1},
		{"executing, stopped", task(nsapi.TaskExecuting, "b.bin"), []string{"fw"}, []string{"replace fuota_task.fw"}, 1},
		{"succeeded, other firmware", task(nsapi.TaskSucceeded, "b.bin"), nil, []string{"replace fuota_task.fw"}, 1},
		{"failed, other firmware", task(nsapi.TaskFailed, "b.bin"), nil, []string{"replace fuota_task.fw"}, 1},
	} {
		reads = 0
		p, err := planner.Plan(s, tc.live, planner.Options{ReadFile: read, StopTasks: tc.stop})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if diff := cmp.Diff(tc.want, summary(p)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
		if reads != tc.reads {
			t.Errorf("%s: read the firmware %d times, want %d", tc.name, reads, tc.reads)
		}
		for _, c := range p.Changes {
			if c.Action == plan.Replace && tc.stop == nil && !strings.Contains(c.Reason, "10310014") {
				t.Errorf("%s: replace reason %q does not name code 10310014", tc.name, c.Reason)
			}
			if c.Action == plan.Replace && tc.stop != nil && !strings.Contains(c.Reason, "--stop-task names it") {
				t.Errorf("%s: replace reason %q does not say --stop-task asked for it", tc.name, c.Reason)
			}
			if got := c.After.Task.FirmwareInfo.FileContent; got != "AQID" {
				t.Errorf("%s: fileContent = %q", tc.name, got)
			}
		}
	}
}

// TestPruneRunningTasks: prune deletes a running task only when
// --stop-task names it; a finished or pending one it deletes.
func TestPruneRunningTasks(t *testing.T) {
	live := factory("EU868")
	for i, st := range []int64{nsapi.TaskPending, nsapi.TaskWaiting, nsapi.TaskExecuting, nsapi.TaskSucceeded, nsapi.TaskFailed} {
		live.Tasks = append(live.Tasks, nsapi.FuotaTask{ID: nsapi.FlexInt(i + 1), Name: fmt.Sprintf("t%d", st), Status: nsapi.FlexInt(st)})
	}
	s := &site.Site{Version: 1, Prune: site.Prune{FirmwareUpdates: true}}
	p, err := planner.Plan(s, live, planner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"delete fuota_task.t0", "delete fuota_task.t3", "delete fuota_task.t4", "note fuota_task.t1", "note fuota_task.t2"}
	if diff := cmp.Diff(want, summary(p)); diff != "" {
		t.Errorf("prune (-want +got):\n%s", diff)
	}
	if len(p.Notes) == 2 && !strings.Contains(p.Notes[1].Text, "pass --stop-task t2") {
		t.Errorf("note %q does not say how to stop the task", p.Notes[1].Text)
	}
	p, err = planner.Plan(s, live, planner.Options{StopTasks: []string{"t2"}})
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"delete fuota_task.t0", "delete fuota_task.t2", "delete fuota_task.t3", "delete fuota_task.t4", "note fuota_task.t1"}
	if diff := cmp.Diff(want, summary(p)); diff != "" {
		t.Errorf("prune with --stop-task t2 (-want +got):\n%s", diff)
	}
	_, err = planner.Plan(s, live, planner.Options{StopTasks: []string{"t9"}})
	if err == nil || !strings.Contains(err.Error(), `--stop-task: "t9" is neither a FUOTA task on the gateway nor one in the site`) {
		t.Errorf("a mistyped --stop-task: err = %v", err)
	}
}

// TestPruneKeepsDevicesOfTasks: prune does not delete a device that a FUOTA
// task still lists (the gateway answers 10310001), unless that task is
// deleted first in the same plan.
func TestPruneKeepsDevicesOfTasks(t *testing.T) {
	live := factory("EU868")
	live.Devices = []nsapi.Device{{DevEUI: "24E1240000000001", Name: "a", ProfileID: "a", ApplicationID: "1"},
		{DevEUI: "24E1240000000002", Name: "b", ProfileID: "a", ApplicationID: "1"}}
	live.Tasks = []nsapi.FuotaTask{{ID: 1, Name: "old", Status: nsapi.TaskSucceeded, DevEUIs: []string{"24e1240000000001"}},
		{ID: 2, Name: "busy", Status: nsapi.TaskExecuting, DevEUIs: []string{"24e1240000000002"}}}
	for _, tc := range []struct {
		name  string
		prune site.Prune
		stop  []string
		want  []string
	}{
		{"tasks unmanaged", site.Prune{Devices: true}, nil, []string{"note device.24E1240000000001", "note device.24E1240000000002"}},
		{"running task kept", site.Prune{Devices: true, FirmwareUpdates: true}, nil,
			[]string{"delete fuota_task.old", "delete device.24E1240000000001", "note device.24E1240000000002", "note fuota_task.busy"}},
		{"running task stopped", site.Prune{Devices: true, FirmwareUpdates: true}, []string{"busy"},
			[]string{"delete fuota_task.busy", "delete fuota_task.old", "delete device.24E1240000000001", "delete device.24E1240000000002"}},
	} {
		p, err := planner.Plan(&site.Site{Version: 1, Prune: tc.prune}, live, planner.Options{StopTasks: tc.stop})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if diff := cmp.Diff(tc.want, summary(p)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
		for _, n := range p.Notes {
			if strings.HasPrefix(n.Address, "device.") && !strings.Contains(n.Text, "FUOTA task") {
				t.Errorf("%s: note %q does not name the task", tc.name, n.Text)
			}
		}
	}
}

// TestProblemsAllAtOnce checks that every problem is reported in one error.
func TestProblemsAllAtOnce(t *testing.T) {
	pos := site.Pos{File: "site.yaml", Line: 7, Col: 5}
	s := &site.Site{Version: 1, Gateway: site.Gateway{}, Devices: []site.Device{
		{Pos: pos, DevEUI: "24E1240000000001", Application: "nowhere", AppKey: site.Secret{Value: key1}},
		{Pos: pos, DevEUI: "24E1240000000002", Application: "cloud", Profile: "Missing", AppKey: site.Secret{Value: key1}},
		{Pos: pos, DevEUI: "24E1240000000003", Application: "cloud", Codec: "nope", AppKey: site.Secret{Value: key1}},
		{Pos: pos, DevEUI: "24E1240000000004", Application: "cloud"},
		{Pos: pos, DevEUI: "24E1240000000005", Application: "cloud", Profile: "Legacy"},
	}, MulticastGroups: []site.MulticastGroup{{Pos: pos, Name: "g", Devices: []string{"24E12400000000FF"}}}}
	_, err := planner.Plan(s, factory("EU868"), planner.Options{})
	var pe *planner.Error
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v", err)
	}
	var got []string
	for _, p := range pe.Problems {
		got = append(got, p.Path)
	}
	want := []string{"devices[0].application", "devices[1].profile", "devices[2].codec", "devices[3].appKey", "devices[4]", "multicastGroups[0].devices[0]"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problem paths (-want +got):\n%s\n%v", diff, err)
	}
	if !strings.HasPrefix(err.Error(), "site.yaml:7:5: devices[0].application: ") {
		t.Errorf("error does not start with file:line:col: path: %q", err)
	}
	s.Gateway.ChannelPlan = "AS923"
	if _, err := planner.Plan(s, factory("EU868"), planner.Options{}); err == nil || !strings.Contains(err.Error(), "the site is for AS923-1 but the gateway runs EU868") {
		t.Errorf("channel plan mismatch: err = %v", err)
	}
}

// TestProblemPositions checks that problems name the file, line and column
// of the value at fault: the gateway block (also in a directory site where
// it is not in the first file), the prune block, and references to what
// prune would delete.
func TestProblemPositions(t *testing.T) {
	withLegacyDevice := factory("EU868")
	withLegacyDevice.Devices = []nsapi.Device{{DevEUI: "24E1240000000001", Name: "old", ProfileID: "l", ApplicationID: "1"}}
	withCodec := factory("EU868")
	withCodec.Codecs = []nsapi.Codec{{ID: "9", Name: "old-codec"}}
	for _, tc := range []struct {
		name  string
		files map[string]string
		live  *nsapi.State
		want  string
	}{
		{"channel plan, gateway block in the second file",
			map[string]string{
				"a-devices.yaml": "version: 1\ndevices:\n  - devEUI: 24E124136A456465\n    application: cloud\n    appKey: " + key1 + "\n",
				"b-gateway.yaml": "gateway:\n  eui: 24E124FFFEF5A6A8\n  channelPlan: US915\n",
			},
			factory("EU868"),
			"b-gateway.yaml:3:16: gateway.channelPlan: the site is for US915 but the gateway runs EU868"},
		{"channel plan, flow style",
			map[string]string{"site.yaml": "version: 1\ngateway: {eui: 24E124FFFEF5A6A8, channelPlan: US915}\n"},
			factory("EU868"),
			"site.yaml:2:47: gateway.channelPlan: the site is for US915 but the gateway runs EU868"},
		{"prune of a profile still in use",
			map[string]string{"site.yaml": "version: 1\nprune:\n  profiles: true\n"},
			withLegacyDevice,
			`site.yaml:3:3: prune.profiles: profile "Legacy" would be deleted but device 24E1240000000001, not in the site, still uses it`},
		{"prune of a device a task of the site updates",
			map[string]string{"site.yaml": "version: 1\nprune: {devices: true}\nfirmwareUpdates:\n" +
				"  - name: fw\n    startAt: 2026-12-01T02:00:00Z\n    devices: [24E1240000000001]\n" +
				"    official: {model: WT201, version: v1.4}\n    fragment: {size: 88, intervalMs: 5000, redundancy: 30}\n"},
			withLegacyDevice,
			`site.yaml:4:5: firmwareUpdates[0].devices[0]: device 24E1240000000001 is not in the site, and prune deletes it: add it to the site or drop it from the task`},
		{"prune of a profile and a codec the site's device uses",
			map[string]string{"site.yaml": "version: 1\nprune: {profiles: true, codecs: true}\ndevices:\n" +
				"  - devEUI: 24E1240000000002\n    application: cloud\n    profile: Legacy\n    codec: old-codec\n" +
				"    devAddr: 01020304\n    nwkSKey: " + key1 + "\n    appSKey: " + key1 + "\n"},
			withCodec,
			`site.yaml:6:14: devices[0].profile: profile "Legacy" is on the gateway and not in the site, so prune deletes it, but this device uses it: declare it in the site or set prune.profiles to false` + "\n" +
				`site.yaml:7:12: devices[0].codec: codec "old-codec" is on the gateway and not in the site, so prune deletes it, but this device uses it: declare it in the site or set prune.codecs to false`},
		{"references the gateway lacks, at the field",
			map[string]string{"site.yaml": "version: 1\ndevices:\n" +
				"  - devEUI: 24E1240000000002\n    application: cloud\n    profile: Nope\n    codec: nope-codec\n    appKey: " + key1 + "\n"},
			factory("EU868"),
			`site.yaml:5:14: devices[0].profile: profile "Nope" is neither in the site nor on the gateway` + "\n" +
				`site.yaml:6:12: devices[0].codec: codec "nope-codec" is neither in the site nor on the gateway (custom or built-in)`},
		{"an application from deviceDefaults, said once",
			map[string]string{"site.yaml": "version: 1\ndeviceDefaults:\n  application: building-b\ndevices:\n" +
				"  - devEUI: 24E1240000000002\n    appKey: " + key1 + "\n" +
				"  - devEUI: 24E1240000000003\n    appKey: 3b7e151628aed2a6abf7158809cf4f3c\n"},
			factory("EU868"),
			`site.yaml:3:16: deviceDefaults.application: application "building-b" is not on the gateway (it has: cloud (id 1)); applications are made in the gateway's web UI`},
		{"a codec in a CSV row, at its cell",
			map[string]string{"site.yaml": "version: 1\ndeviceDefaults: {application: cloud}\ndevicesFrom: devices.csv\n",
				"devices.csv": "devEUI,codec,appKey\n24E1240000000002,WT201," + key1 + "\n"},
			factory("EU868"),
			`devices.csv:2:18: codec: codec "WT201" is neither in the site nor on the gateway (custom or built-in)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, text := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			s, problems := site.Load(site.Options{LookupEnv: noEnv}, dir)
			if s == nil || len(problems.Errors()) > 0 {
				t.Fatalf("site.Load: %v", problems)
			}
			_, err := planner.Plan(s, tc.live, planner.Options{})
			var pe *planner.Error
			if !errors.As(err, &pe) {
				t.Fatalf("Plan error = %v, want a *planner.Error", err)
			}
			if diff := cmp.Diff(tc.want, strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

// abpCounters is an ABP device whose site gives its frame counters.
func abpCounters(up, down int64) site.Device {
	return site.Device{DevEUI: "24E124136A456465", Application: "1", Profile: "Legacy", DevAddr: "01020304",
		NwkSKey: site.Secret{Value: key1}, AppSKey: site.Secret{Value: key1}, FCntUp: &up, FCntDown: &down}
}

// TestNameHeldByUnmanagedDevice: a device name that a device the plan
// leaves in place holds is a problem at plan time, not a failed apply.
func TestNameHeldByUnmanagedDevice(t *testing.T) {
	live := factory("EU868")
	live.Devices = []nsapi.Device{{DevEUI: "24E1240000000001", Name: "boiler", ProfileID: "a", ApplicationID: "1"}}
	d := otaa("24E1240000000002", key1)
	d.Name = "boiler"
	_, err := planner.Plan(&site.Site{Version: 1, Devices: []site.Device{d}}, live, planner.Options{})
	if err == nil || !strings.Contains(err.Error(), `device name "boiler" is held on the gateway by device 24E1240000000001, which the site does not declare and prune.devices keeps`) {
		t.Errorf("err = %v, want the name held by an unmanaged device", err)
	}
	p, err := planner.Plan(&site.Site{Version: 1, Devices: []site.Device{d}, Prune: site.Prune{Devices: true}}, live, planner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range p.Changes {
		if c.Action == plan.Delete && !c.FreesName {
			t.Errorf("the delete of the name's holder does not run first: %+v", c)
		}
	}
}

// TestFragmentSizeAtPlanTime: a task the plan writes must fit the
// gateway's payload-size answer (6.6) for its data rate; without one (a
// snapshot) the band tables decide, AS923 with the dwell-time limit unless
// the site lifts it.
func TestFragmentSizeAtPlanTime(t *testing.T) {
	task := func(size int64) *site.Site {
		return &site.Site{Version: 1, FirmwareUpdates: []site.FirmwareUpdate{{Name: "fw", StartAt: "2026-12-01T02:00:00Z",
			Official: &site.OfficialFirmwareRef{Model: "WT201", Version: "v1"}, Fragment: site.Fragment{Size: size, IntervalMs: 2000, Redundancy: 10}}}}
	}
	off := false
	noDwell := task(40)
	noDwell.Gateway.DwellTime = &off
	sizes := []nsapi.PayloadSize{{DR: 0, MaxPayloadSize: 30}, {DR: 2, MaxPayloadSize: 30}}
	for _, tc := range []struct {
		name  string
		s     *site.Site
		plan  string
		sizes []nsapi.PayloadSize
		want  string // "" plans
	}{
		{"EU868 table", task(46), "EU868", nil, ""},
		{"EU868 table, too large", task(47), "EU868", nil, "firmwareUpdates[0].fragment.size: 47 bytes is more than data rate 0 carries on EU868: at most 46"},
		{"gateway's answer", task(30), "EU868", sizes, ""},
		{"gateway's answer, too large", task(40), "EU868", sizes,
			"firmwareUpdates[0].fragment.size: 40 bytes is more than data rate 0 carries on EU868: at most 30 (the gateway's payload-size answer"},
		{"AS923 dwell time", task(40), "AS923-1", nil,
			"40 bytes is more than data rate 2 carries on AS923-1 with the 400 ms dwell-time limit (gateway.dwellTime: false lifts it): at most 6"},
		{"AS923 without dwell time", noDwell, "AS923-1", nil, ""},
		{"AS923 gateway's answer", task(30), "AS923-1", sizes, ""},
	} {
		_, err := planner.Plan(tc.s, factory(tc.plan), planner.Options{PayloadSizes: tc.sizes})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestGroupMemberClass: a device the plan adds to a multicast group whose
// profile does not support the group's class is noted on the group; one
// whose profile does is not.
func TestGroupMemberClass(t *testing.T) {
	yes, no := true, false
	profiles := []site.Profile{{Name: "B", SupportsJoin: &yes, SupportsClassB: &yes, SupportsClassC: &no},
		{Name: "C", SupportsJoin: &yes, SupportsClassC: &yes}, {Name: "A", SupportsJoin: &yes}}
	for _, tc := range []struct {
		groupType, profile string
		want               string // the class noted, "" for none
	}{
		{"CLASS_B", "B", ""}, {"CLASS_B", "C", "B"}, {"CLASS_B", "A", "B"},
		{"CLASS_C", "C", ""}, {"CLASS_C", "B", "C"}, {"", "A", "C"}, {"", "C", ""},
	} {
		d := otaa("24E124136A456465", key1)
		d.Profile = tc.profile
		s := &site.Site{Version: 1, Profiles: profiles, Devices: []site.Device{d},
			MulticastGroups: []site.MulticastGroup{{Name: "g", GroupType: tc.groupType, Devices: []string{"24E124136A456465"}}}}
		p, err := planner.Plan(s, factory("EU868"), planner.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, n := range p.Notes {
			if n.Address == "multicast_group.g" {
				got = append(got, n.Text)
			}
		}
		switch {
		case tc.want == "" && len(got) > 0:
			t.Errorf("%s group, profile %s: notes %q, want none", tc.groupType, tc.profile, got)
		case tc.want != "" && (len(got) != 1 || !strings.Contains(got[0], "has profile "+tc.profile+", which does not support class "+tc.want)):
			t.Errorf("%s group, profile %s: notes %q, want one on class %s", tc.groupType, tc.profile, got, tc.want)
		}
	}
}
