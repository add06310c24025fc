package applier

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gwsync/gwsync/nsapi"
)

// TestDescribeDiff: what an incomplete rollback leaves is told one line
// per resource, by name, with no key in clear.
func TestDescribeDiff(t *testing.T) {
	const key = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
	before := &nsapi.State{
		Profiles: []nsapi.Profile{{Name: "street-c", Profile: nsapi.ProfileSettings{ProfileID: "p1"}}},
		Devices:  []nsapi.Device{{DevEUI: "24E124136A000001", Name: "lamp-01", ProfileID: "p1", AppKey: key}},
		Groups: []nsapi.MulticastGroupInfo{{MulticastGroup: nsapi.MulticastGroup{Name: "lights", McNwkSKey: key},
			Devices: []nsapi.GroupMember{{DevEUI: "24E124136A000001"}, {DevEUI: "24E124136A000002"}}}},
		Tasks: []nsapi.FuotaTask{{Name: "v1.4"}},
	}
	after := &nsapi.State{
		Profiles: []nsapi.Profile{{Name: "street-c", Profile: nsapi.ProfileSettings{ProfileID: "p1"}}, {Name: "street-d", Profile: nsapi.ProfileSettings{ProfileID: "p2"}}},
		Devices:  []nsapi.Device{{DevEUI: "24e124136a000001", Name: "lamp-01", Description: "moved", ProfileID: "p1", AppKey: "ffeeddccbbaa00998877665544332211"}},
		Groups: []nsapi.MulticastGroupInfo{{MulticastGroup: nsapi.MulticastGroup{Name: "lights", McNwkSKey: key},
			Devices: []nsapi.GroupMember{{DevEUI: "24E124136A000001"}}}},
	}
	got := describeDiff(before, after)
	want := strings.Join([]string{
		`+ profile "street-d": is there, was not before the apply`,
		`~ device "24E124136A000001": appKey differs; description differs`,
		`~ multicast_group "lights": members gone: 24E124136A000002`,
		`- fuota_task "v1.4": was there before the apply, is gone`,
	}, "\n")
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("describeDiff (-want +got):\n%s", d)
	}
	if strings.Contains(strings.ToLower(got), key) {
		t.Errorf("a key in clear:\n%s", got)
	}
	if d := describeDiff(before, before); d != "" {
		t.Errorf("describeDiff of equal states: %q, want none", d)
	}
}
