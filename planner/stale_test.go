package planner

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
)

func staleState() *nsapi.State {
	return &nsapi.State{FormatVersion: 1, ChannelPlan: "EU868",
		Profiles: []nsapi.Profile{{Name: "p", Profile: nsapi.ProfileSettings{ProfileID: "pid", SupportsJoin: true}}},
		Devices: []nsapi.Device{
			{DevEUI: "24E124136A000001", Name: "a", ProfileID: "pid", AppKey: "0f1e2d3c4b5a69788796a5b4c3d2e1f0", FPort: 1},
			{DevEUI: "24E124136A000002", Name: "b", ProfileID: "pid", AppKey: "a1b2c3d4e5f60718293a4b5c6d7e8f90", FPort: 1},
		},
		Groups: []nsapi.MulticastGroupInfo{{ID: "g1", MulticastGroup: nsapi.MulticastGroup{Name: "street", McAddr: "01AB23CD", DR: 0}}},
	}
}

// TestStaleReasons: a STALE refusal names each resource that moved, the
// fields that changed where the plan holds the earlier value, never a
// key's value; and traffic (frame counters) is not a move.
func TestStaleReasons(t *testing.T) {
	then := staleState()
	saved := &plan.Plan{StateDigests: StateDigests(then), Changes: []plan.Change{{
		Address: "device.24E124136A000001", Kind: plan.KindDevice, Action: plan.Update,
		Before: &plan.Object{Device: &then.Devices[0]}, After: &plan.Object{Device: &then.Devices[0]}}}}
	now := staleState()
	now.Devices[0].Description, now.Devices[0].AppKey = "moved", "ffeeddccbbaa00998877665544332211"
	now.Devices[0].FCntUp, now.Groups[0].FCnt = 99, 1234 // traffic
	now.Devices[1].Name = "b2"
	now.Groups[0].DR = 3
	now.Devices = append(now.Devices, nsapi.Device{DevEUI: "24E124136A000003", Name: "c", ProfileID: "pid"})
	now.Profiles = append(now.Profiles, nsapi.Profile{Name: "q"})
	got := StaleReasons(saved, now)
	want := []string{
		"device.24E124136A000001 changed (appKey, description)",
		"device.24E124136A000002 changed",
		"device.24E124136A000003 was added",
		"multicast_group.street changed",
		"profile.q was added",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("StaleReasons (-want +got):\n%s", d)
	}
	for _, r := range got {
		if strings.Contains(r, "ffeedd") || strings.Contains(r, "0f1e2d") {
			t.Errorf("a key in clear: %s", r)
		}
	}
	if r := StaleReasons(&plan.Plan{StateDigests: StateDigests(then)}, staleState()); r != nil {
		t.Errorf("no move, yet %q", r)
	}
}

// TestStaleReasonsByKind: a gateway too large to digest one resource at a
// time is digested by kind, and a move is named by its kind.
func TestStaleReasonsByKind(t *testing.T) {
	seed := rand.Uint64()
	r := rand.New(rand.NewPCG(seed, 2))
	s := staleState()
	for i := range MaxStateDigests {
		s.Devices = append(s.Devices, nsapi.Device{DevEUI: fmt.Sprintf("24E1240000%06X", i), Name: fmt.Sprint("d", i), ProfileID: "pid"})
	}
	d := StateDigests(s)
	if len(d) > 10 || d["device.*"] == "" {
		t.Fatalf("seed %d: %d digests, want a few by kind", seed, len(d))
	}
	saved := &plan.Plan{StateDigests: d}
	i := r.IntN(len(s.Devices))
	s.Devices[i].Description = "moved"
	if got := StaleReasons(saved, s); !slices.Equal(got, []string{"a device changed"}) {
		t.Errorf("seed %d: device %d moved: %q", seed, i, got)
	}
}
