package planner_test

import (
	"encoding/base64"

	"github.com/gwsync/gwsync/internal/reserved"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
	"github.com/gwsync/gwsync/planner"
	"github.com/gwsync/gwsync/site"
)

func firmwareLive() *nsapi.State {
	st := factory("EU868")
	st.Devices = []nsapi.Device{{DevEUI: "24E1247151234568", ProfileID: "a", ApplicationID: "1"}}
	st.Tasks = []nsapi.FuotaTask{{ID: 4, Name: "fw", Status: nsapi.TaskPending, StartedAt: "2026-12-01T02:00:00Z",
		FirmwareName: "a.bin", DevEUIs: []string{"24E1247151234568"},
		FragmentInfo: nsapi.FragmentInfo{FragmentSize: 40, FragmentInterval: 2000, FragmentRedundancy: 10},
		TmpMcInfo:    nsapi.TmpMcInfo{DR: 0, Frequency: 869525000}}}
	return st
}

func firmwareSite(description, file, name string) *site.Site {
	return &site.Site{Version: 1, FirmwareUpdates: []site.FirmwareUpdate{{Name: "fw", Description: description, StartAt: "2026-12-01T02:00:00Z",
		Devices: []string{"24E1247151234568"}, FirmwareFile: file, FirmwareName: name,
		Fragment: site.Fragment{Size: 40, IntervalMs: 2000, Redundancy: 10}}}}
}

// TestAdoptedFirmwareNeverUploaded: a task whose site gives its firmware
// by name only (as gwsync export writes a task adopted from the gateway)
// plans nothing while it matches, and a change that would send the task
// again is refused at plan time, naming the way out; no firmware file is
// read, so no stand-in can be uploaded.
func TestAdoptedFirmwareNeverUploaded(t *testing.T) {
	read := func(p string) ([]byte, error) {
		t.Errorf("read %s: an adopted task's firmware is never read", p)
		return nil, nil
	}
	p, err := planner.Plan(firmwareSite("", "", "a.bin"), firmwareLive(), planner.Options{ReadFile: read})
	if err != nil || !p.Empty() {
		t.Fatalf("adopted, unchanged: %v, %v", summary(p), err)
	}
	for _, tc := range []struct {
		name string
		live *nsapi.State
		why  string
	}{
		{"changed", firmwareLive(), "changing its description"},
		{"gone", factory("EU868"), "creating the task (it is not on the gateway)"},
	} {
		if tc.name == "gone" {
			tc.live.Devices = firmwareLive().Devices
		}
		_, err := planner.Plan(firmwareSite("new", "", "a.bin"), tc.live, planner.Options{ReadFile: read})
		if err == nil || !strings.Contains(err.Error(), `firmwareUpdates[0].firmwareName: firmware "a.bin" is the one the gateway holds (firmwareName without firmwareFile), and a plan never uploads it; `+tc.why+` needs the task sent with its firmware (spec 6.1, 6.3): give firmwareFile`) {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
}

// TestFirmwareContentChanged: a firmware file rebuilt under the same name
// updates its task when the record of what was last written says its
// content changed; without a record, or with the same content, nothing.
func TestFirmwareContentChanged(t *testing.T) {
	data := []byte("firmware v2")
	read := func(string) ([]byte, error) { return data, nil }
	s := firmwareSite("", "/fw/a.bin", "")
	for _, tc := range []struct {
		name    string
		digests map[string]string
		want    []string
	}{
		{"no record", nil, nil},
		{"same content", map[string]string{"fw": firmwareDigest(data)}, nil},
		{"rebuilt", map[string]string{"fw": firmwareDigest([]byte("firmware v1"))}, []string{"update fuota_task.fw"}},
	} {
		p, err := planner.Plan(s, firmwareLive(), planner.Options{ReadFile: read, FirmwareDigests: tc.digests})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if d := cmp.Diff(tc.want, summary(p)); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, d)
		}
		for _, c := range p.Changes {
			if c.Action != plan.Update || !strings.Contains(c.Reason, "the firmware file differs from the one gwsync last wrote") || c.After.Task.FirmwareInfo == nil {
				t.Errorf("%s: %+v", tc.name, c)
			}
		}
	}
}

// firmwareDigest is the digest the gateway's record of write-only values
// holds for a firmware file: of its content as sent, in base64.
func firmwareDigest(data []byte) string {
	return reserved.Digest(base64.StdEncoding.EncodeToString(data))
}
