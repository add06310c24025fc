package plan_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
)

const appKey = "2b7e151628aed2a6abf7158809cf4f3c"

func change(kind plan.Kind, action plan.Action, name string) plan.Change {
	return plan.Change{Address: string(kind) + "." + name, Kind: kind, Action: action}
}

// TestSortOrdersByPhase checks DESIGN.md's one-pass order, ties by address,
// and that a replace sits where its create goes.
func TestSortOrdersByPhase(t *testing.T) {
	in := []plan.Change{
		change(plan.KindTask, plan.Create, "t2"),
		change(plan.KindMember, plan.Create, "g.B"),
		change(plan.KindGroup, plan.Update, "g"),
		change(plan.KindCodec, plan.Delete, "c-old"),
		change(plan.KindProfile, plan.Delete, "p-old"),
		change(plan.KindDevice, plan.Delete, "D2"),
		change(plan.KindDevice, plan.Replace, "D3"),
		change(plan.KindDevice, plan.Create, "D1"),
		change(plan.KindProfile, plan.Create, "p"),
		change(plan.KindCodec, plan.Update, "c"),
		change(plan.KindGroup, plan.Delete, "g-old"),
		change(plan.KindMember, plan.Delete, "g.A"),
		change(plan.KindTask, plan.Replace, "t1"),
		change(plan.KindTask, plan.Delete, "t0"),
	}
	frees := func(c plan.Change) plan.Change { c.FreesName = true; return c }
	// a device's name freed for another: its delete, or a move to a
	// temporary name, runs before every create and update
	in = append(in, frees(change(plan.KindDevice, plan.Delete, "D4")), frees(change(plan.KindDevice, plan.Update, "D5")))
	plan.Sort(in)
	var got []string
	for _, c := range in {
		got = append(got, string(c.Action)+" "+c.Address)
	}
	want := []string{
		"delete fuota_task.t0",
		"delete multicast_member.g.A",
		"delete multicast_group.g-old",
		"delete device.D4",
		"update device.D5",
		"update codec.c",
		"create profile.p",
		"create device.D1",
		"replace device.D3",
		"delete device.D2",
		"delete profile.p-old",
		"delete codec.c-old",
		"update multicast_group.g",
		"create multicast_member.g.B",
		"replace fuota_task.t1",
		"create fuota_task.t2",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	for i := 1; i < len(in); i++ {
		if plan.Phase(in[i]) < plan.Phase(in[i-1]) {
			t.Errorf("%s (phase %d) after %s (phase %d)", in[i].Address, plan.Phase(in[i]), in[i-1].Address, plan.Phase(in[i-1]))
		}
	}
}

func samplePlan() *plan.Plan {
	return &plan.Plan{
		FormatVersion: plan.FormatVersion, ChannelPlan: "EU868", SiteDigest: "s", StateFingerprint: "f",
		Changes: []plan.Change{
			{Address: "device.24E124136A456465", Kind: plan.KindDevice, Name: "em300", ID: "24E124136A456465", Action: plan.Update,
				Before:    &plan.Object{Device: &nsapi.Device{DevEUI: "24E124136A456465", AppKey: strings.ToUpper(appKey), FCntUp: 100}},
				After:     &plan.Object{Device: &nsapi.Device{DevEUI: "24E124136A456465", Name: "em300", AppKey: appKey, FCntUp: 100}},
				Sensitive: []string{"appKey"}},
			{Address: "multicast_group.g", Kind: plan.KindGroup, Name: "g", Action: plan.Create,
				After: &plan.Object{Group: &nsapi.MulticastGroupInfo{MulticastGroup: nsapi.MulticastGroup{Name: "g", McNwkSKey: appKey, McAppSKey: "00112233445566778899aabbccddeeff"}}}},
		},
	}
}

// TestSaveLoad checks that a saved plan holds no key in clear, loads back
// with digests in place of keys, and keeps its Digest.
func TestSaveLoad(t *testing.T) {
	p := samplePlan()
	var buf bytes.Buffer
	if err := plan.Save(&buf, p); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{appKey, "00112233445566778899aabbccddeeff"} {
		if strings.Contains(strings.ToLower(buf.String()), k) {
			t.Fatalf("saved plan holds key %s… in clear", k[:4])
		}
	}
	q, err := plan.Load(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := q.Changes[0].After.Device.AppKey, plan.SecretDigest(appKey); got != want {
		t.Errorf("loaded appKey = %q, want digest %q", got, want)
	}
	if got, want := q.Changes[0].Before.Device.AppKey, plan.SecretDigest(appKey); got != want {
		t.Errorf("loaded before appKey = %q, want the digest of the same key in another case %q", got, want)
	}
	if q.Digest() != p.Digest() {
		t.Errorf("digest changed by save and load: %s != %s", q.Digest(), p.Digest())
	}
	if p.Changes[0].After.Device.AppKey != appKey {
		t.Error("Save changed the plan it saved")
	}
}

// TestDigest checks what the digest covers: what the plan does, not
// counters that move on their own.
func TestDigest(t *testing.T) {
	base := samplePlan().Digest()
	moved := samplePlan()
	moved.Changes[0].After.Device.FCntUp = 5000
	moved.Changes[0].Before.Device.FCntUp = 5000
	if moved.Digest() != base {
		t.Error("a moved frame counter changed the digest")
	}
	for name, edit := range map[string]func(p *plan.Plan){
		"name":   func(p *plan.Plan) { p.Changes[0].After.Device.Name = "other" },
		"key":    func(p *plan.Plan) { p.Changes[0].After.Device.AppKey = "ffffffffffffffffffffffffffffffff" },
		"action": func(p *plan.Plan) { p.Changes[1].Action = plan.Replace },
		"change": func(p *plan.Plan) { p.Changes = p.Changes[:1] },
		"unmanaged": func(p *plan.Plan) {
			p.Unmanaged = append(p.Unmanaged, plan.Unmanaged{Address: "device.X", Kind: plan.KindDevice})
		},
	} {
		p := samplePlan()
		edit(p)
		if p.Digest() == base {
			t.Errorf("%s: a different plan has the same digest", name)
		}
	}
}

// TestMasked checks that Masked hides every secret and leaves p alone.
func TestMasked(t *testing.T) {
	p := samplePlan()
	m := p.Masked()
	if got := m.Changes[1].After.Group.McNwkSKey; got != plan.Masked {
		t.Errorf("masked mcNwkSKey = %q", got)
	}
	if got := m.Changes[0].Before.Device.AppKey; got != plan.Masked {
		t.Errorf("masked before appKey = %q", got)
	}
	if p.Changes[1].After.Group.McNwkSKey != appKey {
		t.Error("Masked changed the original plan")
	}
}

// TestLoadRejects checks Load's errors for files that are not saved plans.
func TestLoadRejects(t *testing.T) {
	for name, in := range map[string]string{
		"not json":      "plan",
		"wrong version": `{"format_version": "9.0", "resource_changes": []}`,
		"older gwsync":  `{"format_version": 1, "changes": []}`,
		"no version":    `{"resource_changes": []}`,
		"bad action":    `{"format_version": "1.2", "resource_changes": [{"address": "device.X", "type": "device", "change": {"actions": ["explode"]}}]}`,
		"no after":      `{"format_version": "1.2", "resource_changes": [{"address": "device.X", "type": "device", "change": {"actions": ["create"]}}]}`,
		"no before":     `{"format_version": "1.2", "resource_changes": [{"address": "device.X", "type": "device", "change": {"actions": ["delete"]}}]}`,
		"unknown type":  `{"format_version": "1.2", "resource_changes": [{"address": "x.X", "type": "x", "change": {"actions": ["create"], "after": {}}}]}`,
		"edited":        `{"format_version": "1.2", "plan_digest": "sha256:00", "resource_changes": []}`,
	} {
		_, err := plan.Load(strings.NewReader(in))
		var fe *plan.FormatError
		if !errors.As(err, &fe) {
			t.Errorf("%s: err = %v, want a *plan.FormatError", name, err)
		}
	}
}

// TestSummary counts a replace as one add and one destroy.
func TestSummary(t *testing.T) {
	p := &plan.Plan{Changes: []plan.Change{
		change(plan.KindDevice, plan.Create, "a"), change(plan.KindDevice, plan.Update, "b"),
		change(plan.KindDevice, plan.Delete, "c"), change(plan.KindTask, plan.Replace, "d"),
	}}
	a, c, d := p.Summary()
	if diff := cmp.Diff([]int{2, 1, 2}, []int{a, c, d}); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
}

// TestDigestIgnoresCarriedSession checks that a plan made from a masked
// snapshot and one made from the live gateway (keys in clear) agree: the
// running ABP session an update carries over is not part of the digest.
func TestDigestIgnoresCarriedSession(t *testing.T) {
	mk := func(nwk string) *plan.Plan {
		return &plan.Plan{FormatVersion: 1, Changes: []plan.Change{{Address: "device.X", Kind: plan.KindDevice, Action: plan.Update,
			Before: &plan.Object{Device: &nsapi.Device{DevEUI: "X", NwkSKey: nwk}},
			After:  &plan.Object{Device: &nsapi.Device{DevEUI: "X", Name: "n", NwkSKey: nwk, DevAddr: "01020304"}}}}}
	}
	if mk("").Digest() != mk(appKey).Digest() {
		t.Error("the carried session key changed the digest")
	}
	if plan.SecretDigest(appKey) != nsapi.SecretDigest(appKey) {
		t.Error("plan and nsapi digest keys differently")
	}
}
