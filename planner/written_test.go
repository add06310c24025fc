package planner_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gwsync/gwsync/internal/reserved"
	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/planner"
	"github.com/gwsync/gwsync/site"
)

// TestReservedCodecsNeverPlanned: gwsync's own records, also in a state
// that still lists them among the codecs (a snapshot made by hand), are
// neither pruned nor shown as unmanaged.
func TestReservedCodecsNeverPlanned(t *testing.T) {
	live := factory("EU868")
	live.Codecs = []nsapi.Codec{{ID: "7", Name: reserved.LockCodec}, {ID: "8", Name: reserved.StateCodec}, {ID: "9", Name: "old-codec"}}
	p, err := planner.Plan(&site.Site{Version: 1, Prune: site.Prune{Codecs: true}}, live, planner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"delete codec.old-codec", "unmanaged profile.Legacy"}, summaryOf(p, true)); d != "" {
		t.Errorf("plan (-want +got):\n%s", d)
	}
	if len(live.Codecs) != 3 {
		t.Errorf("Plan changed the state it was given: %d codecs", len(live.Codecs))
	}
}

// TestCodecJSONDigests: the gateway's digest of the codecJson gwsync last
// wrote decides, without any local value; an undeclared codecJson is never
// a change and never sent.
func TestCodecJSONDigests(t *testing.T) {
	live := factory("EU868")
	live.Codecs = []nsapi.Codec{{ID: "285", Name: "em300", DecoderScript: "x", FPort: 85}}
	sc := site.Codec{Name: "em300", DecoderScript: "x", FPort: 85, CodecJSON: `{"t":"a"}`}
	for _, tc := range []struct {
		name    string
		json    string
		digests map[string]string
		want    []string
	}{
		{"same digest", `{"t":"a"}`, map[string]string{"em300": reserved.Digest(`{"t":"a"}`)}, nil},
		{"another digest", `{"t":"b"}`, map[string]string{"em300": reserved.Digest(`{"t":"a"}`)}, []string{"update codec.em300"}},
		{"no record of this codec", `{"t":"b"}`, map[string]string{}, nil},
		{"undeclared", "", map[string]string{"em300": reserved.Digest(`{"t":"a"}`)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := sc
			c.CodecJSON = tc.json
			p, err := planner.Plan(&site.Site{Version: 1, Codecs: []site.Codec{c}}, live, planner.Options{CodecJSONDigests: tc.digests})
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, summary(p)); d != "" {
				t.Errorf("plan (-want +got):\n%s", d)
			}
		})
	}
	// A script change without a declared codecJson sends none.
	c := sc
	c.CodecJSON, c.DecoderScript = "", "y"
	p, err := planner.Plan(&site.Site{Version: 1, Codecs: []site.Codec{c}}, live, planner.Options{CodecJSONDigests: map[string]string{"em300": "sha256:00"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Changes) != 1 || p.Changes[0].After.Codec.Write().CodecJSON != "" || p.Changes[0].Before.Codec.CodecJSON != "" {
		t.Fatalf("script change: %+v", p.Changes)
	}
}

// TestFirmwareDigests: a pending task whose firmware file content changed,
// by the gateway's digest of the one gwsync last wrote, is updated; the
// same content, or no record, is no change.
func TestFirmwareDigests(t *testing.T) {
	live := factory("EU868")
	live.Devices = []nsapi.Device{{DevEUI: "24E1247151234568", ProfileID: "a", ApplicationID: "1"}}
	live.Tasks = []nsapi.FuotaTask{{ID: 4, Name: "fw", Status: nsapi.FlexInt(nsapi.TaskPending), StartedAt: "2026-12-01T03:00:00+01:00",
		FirmwareName: "a.bin", DevEUIs: []string{"24e1247151234568"},
		FragmentInfo: nsapi.FragmentInfo{FragmentSize: 40, FragmentInterval: 2000, FragmentRedundancy: 10},
		TmpMcInfo:    nsapi.TmpMcInfo{DR: 0, Frequency: 869525000, SessionTimeOut: 99}}}
	s := &site.Site{Version: 1, FirmwareUpdates: []site.FirmwareUpdate{{Name: "fw", StartAt: "2026-12-01T02:00:00Z",
		Devices: []string{"24E1247151234568"}, FirmwareFile: "/firmware/a.bin",
		Fragment: site.Fragment{Size: 40, IntervalMs: 2000, Redundancy: 10}}}}
	read := func(string) ([]byte, error) { return []byte{1, 2, 3}, nil } // base64 "AQID"
	for _, tc := range []struct {
		name    string
		digests map[string]string
		want    []string
	}{
		{"no record", nil, nil},
		{"same file", map[string]string{"fw": reserved.Digest("AQID")}, nil},
		{"another file", map[string]string{"fw": reserved.Digest("AQIE")}, []string{"update fuota_task.fw"}},
	} {
		p, err := planner.Plan(s, live, planner.Options{ReadFile: read, FirmwareDigests: tc.digests})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if d := cmp.Diff(tc.want, summary(p)); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, d)
		}
		for _, c := range p.Changes {
			if c.After.Task.FirmwareInfo == nil || c.After.Task.FirmwareInfo.FileContent != "AQID" {
				t.Errorf("%s: the update does not carry the site's firmware", tc.name)
			}
		}
	}
}
