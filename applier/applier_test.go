package applier_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gwsync/gwsync/applier"
	"github.com/gwsync/gwsync/gwsim"
	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
)

// Device EUIs of the fixture.
const (
	d1 = "24E124136A000001"
	d2 = "24E124136A000002"
	d3 = "24E124136A000003"
	d4 = "24E124136A000004"
)

// Keys of the fixture (never the spec's public default).
const (
	key1 = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
	key2 = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
	key3 = "11223344556677889900aabbccddeeff"
	key4 = "ffeeddccbbaa00998877665544332211"
)

type fixture struct {
	g    *gwsim.Gateway
	c    *nsapi.Client
	live *nsapi.State
}

func newFixture(t testing.TB, opts gwsim.Options) *fixture {
	t.Helper()
	g, err := gwsim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	c, err := nsapi.New(context.Background(), g.Transport(), nsapi.Config{
		GatewayEUI:     g.EUI(),
		RequestTimeout: 1500 * time.Millisecond,
		Window:         8,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &fixture{g: g, c: c}
}

// must returns v, failing the test on err: must(f())(t).
func must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func firmware() *nsapi.FirmwareInfo {
	return &nsapi.FirmwareInfo{FirmwareName: "wt201-v1.4.bin", FileContent: base64.StdEncoding.EncodeToString([]byte("firmware image v1.4"))}
}

func task(name string, devs ...string) nsapi.FuotaTask {
	return nsapi.FuotaTask{
		Name:         name,
		Description:  name,
		StartedAt:    "2035-01-01T02:00:00Z",
		DevEUIs:      devs,
		FirmwareInfo: firmware(),
		FragmentInfo: nsapi.FragmentInfo{FragmentSize: 40, FragmentInterval: 5000, FragmentRedundancy: 20},
		TmpMcInfo:    nsapi.TmpMcInfo{DR: 0, Frequency: 869525000},
	}
}

func officialTask(name string, devs ...string) nsapi.FuotaTask {
	t := task(name, devs...)
	t.FirmwareInfo = nil
	t.IsOfficialFirmware = true
	t.OfficialFirmwareInfo = &nsapi.OfficialFirmware{ID: "1888828394920153089", Model: "CT303", Name: "CT303 v1.4", FirmwareVersion: "v1.4"}
	return t
}

// seed gives the gateway what the plans below change: two profiles, two
// codecs, three devices, two groups with members and two FUOTA tasks.
func (f *fixture) seed(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	c := f.c
	st := must(c.ReadState(ctx))(t)
	var tmpl nsapi.ProfileSettings
	for _, p := range st.Profiles {
		if p.Name == "ClassA-OTAA" {
			tmpl = p.Profile
		}
	}
	tmpl.ProfileID = ""
	baseProfile := must(c.CreateProfile(ctx, nsapi.ProfileWrite{Name: "base-profile", Profile: tmpl}))(t)
	oldProfile := must(c.CreateProfile(ctx, nsapi.ProfileWrite{Name: "old-profile", Profile: tmpl}))(t)
	baseCodec := must(c.CreateCodec(ctx, nsapi.CodecWrite{Name: "base-codec", DecoderScript: "function Decode(p, b) { return {a: 1}; }", FPort: 85}))(t)
	oldCodec := must(c.CreateCodec(ctx, nsapi.CodecWrite{Name: "old-codec", DecoderScript: "function Decode(p, b) { return {b: 2}; }", FPort: 85}))(t)
	for _, d := range []nsapi.DeviceWrite{
		{DevEUI: d1, Name: "em300-th-01", Description: "north gate", ApplicationID: "1", ProfileID: baseProfile, FPort: 85, AppKey: key1},
		{DevEUI: d2, Name: "em300-th-02", ApplicationID: "1", ProfileID: baseProfile, PayloadCodecID: baseCodec, FPort: 85, AppKey: key2},
		{DevEUI: d3, Name: "em300-th-03", ApplicationID: "1", ProfileID: oldProfile, PayloadCodecID: oldCodec, FPort: 85, AppKey: key3},
	} {
		if err := c.CreateDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	baseGroup := must(c.CreateGroup(ctx, nsapi.MulticastGroup{Name: "base-group", McAddr: "01AB23CD", McNwkSKey: key1, McAppSKey: key2, GroupType: "CLASS_C", DR: 0, Frequency: 869525000, PingSlotPeriod: 128}))(t)
	oldGroup := must(c.CreateGroup(ctx, nsapi.MulticastGroup{Name: "old-group", McAddr: "01AB23CE", McNwkSKey: key3, McAppSKey: key4, GroupType: "CLASS_C", DR: 0, Frequency: 869525000, PingSlotPeriod: 128}))(t)
	if err := c.AddGroupDevices(ctx, baseGroup, []string{d1}); err != nil {
		t.Fatal(err)
	}
	if err := c.AddGroupDevices(ctx, oldGroup, []string{d3}); err != nil {
		t.Fatal(err)
	}
	must(c.CreateTask(ctx, officialTask("base-task", d2)))(t)
	// Official firmware (base-task too): the gateway never returns a custom
	// firmware file, so only a task of official firmware can be re-created
	// by a rollback (TestCustomFirmwareTaskDeleteRunsLast covers the other
	// kind).
	must(c.CreateTask(ctx, officialTask("old-task", d3)))(t)
	f.live = must(c.ReadState(ctx))(t)
}

func (f *fixture) profile(t testing.TB, name string) *nsapi.Profile {
	for i := range f.live.Profiles {
		if f.live.Profiles[i].Name == name {
			p := f.live.Profiles[i]
			return &p
		}
	}
	t.Fatalf("no profile %s", name)
	return nil
}

func (f *fixture) codec(t testing.TB, name string) *nsapi.Codec {
	for i := range f.live.Codecs {
		if f.live.Codecs[i].Name == name {
			k := f.live.Codecs[i]
			return &k
		}
	}
	t.Fatalf("no codec %s", name)
	return nil
}

func (f *fixture) device(t testing.TB, eui string) *nsapi.Device {
	for i := range f.live.Devices {
		if strings.EqualFold(f.live.Devices[i].DevEUI, eui) {
			d := f.live.Devices[i]
			return &d
		}
	}
	t.Fatalf("no device %s", eui)
	return nil
}

func (f *fixture) group(t testing.TB, name string) *nsapi.MulticastGroupInfo {
	for i := range f.live.Groups {
		if f.live.Groups[i].Name == name {
			g := f.live.Groups[i]
			return &g
		}
	}
	t.Fatalf("no group %s", name)
	return nil
}

func (f *fixture) task(t testing.TB, name string) *nsapi.FuotaTask {
	for i := range f.live.Tasks {
		if f.live.Tasks[i].Name == name {
			k := f.live.Tasks[i]
			return &k
		}
	}
	t.Fatalf("no task %s", name)
	return nil
}

// fullPlan changes every kind with every action, in the phase order of
// DESIGN.md, as the planner would: Before is what the gateway holds.
func (f *fixture) fullPlan(t testing.TB) *plan.Plan {
	t.Helper()
	var ch []plan.Change
	add := func(c plan.Change) { ch = append(ch, c) }

	oldTask := f.task(t, "old-task")
	add(plan.Change{Address: "fuota_task.old-task", Kind: plan.KindTask, Name: "old-task", ID: fmt.Sprint(oldTask.ID), Action: plan.Delete, Before: &plan.Object{Task: oldTask}})

	bg := f.group(t, "base-group")
	add(plan.Change{Address: "multicast_member.base-group." + d1, Kind: plan.KindMember, Name: d1, ID: bg.ID, Action: plan.Delete,
		Before: &plan.Object{Member: &plan.Member{Group: "base-group", GroupID: bg.ID, DevEUI: d1}}})

	og := f.group(t, "old-group")
	add(plan.Change{Address: "multicast_group.old-group", Kind: plan.KindGroup, Name: "old-group", ID: og.ID, Action: plan.Delete, Before: &plan.Object{Group: og}, Sensitive: []string{"mcNwkSKey", "mcAppSKey"}})

	add(plan.Change{Address: "codec.new-codec", Kind: plan.KindCodec, Name: "new-codec", Action: plan.Create,
		After: &plan.Object{Codec: &nsapi.Codec{Name: "new-codec", DecoderScript: "function Decode(p, b) { return {c: 3}; }", FPort: 85}}})
	bc := f.codec(t, "base-codec")
	bc2 := *bc
	bc2.Description = "decodes EM300-TH uplinks"
	add(plan.Change{Address: "codec.base-codec", Kind: plan.KindCodec, Name: "base-codec", ID: string(bc.ID), Action: plan.Update, Before: &plan.Object{Codec: bc}, After: &plan.Object{Codec: &bc2}})

	bp := f.profile(t, "base-profile")
	np := nsapi.Profile{Name: "new-profile", Profile: bp.Profile}
	np.Profile.ProfileID = ""
	np.Profile.SupportsClassC = true
	add(plan.Change{Address: "profile.new-profile", Kind: plan.KindProfile, Name: "new-profile", Action: plan.Create, After: &plan.Object{Profile: &np}})
	bp2 := *bp
	bp2.Profile.ClassBTimeout = 5
	add(plan.Change{Address: "profile.base-profile", Kind: plan.KindProfile, Name: "base-profile", ID: bp.Profile.ProfileID, Action: plan.Update, Before: &plan.Object{Profile: bp}, After: &plan.Object{Profile: &bp2}})

	add(plan.Change{Address: "device." + d4, Kind: plan.KindDevice, Name: "em300-th-04", Action: plan.Create,
		After:     &plan.Object{Device: &nsapi.Device{DevEUI: d4, Name: "em300-th-04", ApplicationID: "1", Description: d4, FPort: 85, AppKey: key4, SupportsJoin: true}},
		Refs:      []plan.Ref{{Field: "profileID", Address: "profile.new-profile"}, {Field: "payloadCodecID", Address: "codec.new-codec"}},
		Sensitive: []string{"appKey"}})
	dev2 := f.device(t, d2)
	dev2b := *dev2
	dev2b.Description = "office, second floor"
	add(plan.Change{Address: "device." + d2, Kind: plan.KindDevice, Name: "em300-th-02", ID: d2, Action: plan.Update, Before: &plan.Object{Device: dev2}, After: &plan.Object{Device: &dev2b}, Sensitive: []string{"appKey"}})

	add(plan.Change{Address: "device." + d3, Kind: plan.KindDevice, Name: "em300-th-03", ID: d3, Action: plan.Delete, Before: &plan.Object{Device: f.device(t, d3)}, Reason: "loses its session and frame counters"})
	op := f.profile(t, "old-profile")
	add(plan.Change{Address: "profile.old-profile", Kind: plan.KindProfile, Name: "old-profile", ID: op.Profile.ProfileID, Action: plan.Delete, Before: &plan.Object{Profile: op}})
	oc := f.codec(t, "old-codec")
	add(plan.Change{Address: "codec.old-codec", Kind: plan.KindCodec, Name: "old-codec", ID: string(oc.ID), Action: plan.Delete, Before: &plan.Object{Codec: oc}})

	add(plan.Change{Address: "multicast_group.new-group", Kind: plan.KindGroup, Name: "new-group", Action: plan.Create,
		After: &plan.Object{Group: &nsapi.MulticastGroupInfo{MulticastGroup: nsapi.MulticastGroup{Name: "new-group", McAddr: "01AB23CF", McNwkSKey: key2, McAppSKey: key3, GroupType: "CLASS_C", DR: 0, Frequency: 869525000, PingSlotPeriod: 128}}}})
	bg2 := *bg
	bg2.PingSlotPeriod = 256
	add(plan.Change{Address: "multicast_group.base-group", Kind: plan.KindGroup, Name: "base-group", ID: bg.ID, Action: plan.Update, Before: &plan.Object{Group: bg}, After: &plan.Object{Group: &bg2}})

	for _, eui := range []string{d1, d4} {
		add(plan.Change{Address: "multicast_member.new-group." + eui, Kind: plan.KindMember, Name: eui, Action: plan.Create,
			After: &plan.Object{Member: &plan.Member{Group: "new-group", DevEUI: eui}}, Refs: []plan.Ref{{Field: "group_id", Address: "multicast_group.new-group"}}})
	}
	add(plan.Change{Address: "multicast_member.base-group." + d2, Kind: plan.KindMember, Name: d2, Action: plan.Create,
		After: &plan.Object{Member: &plan.Member{Group: "base-group", GroupID: bg.ID, DevEUI: d2}}})

	nt := task("new-task", d4)
	add(plan.Change{Address: "fuota_task.new-task", Kind: plan.KindTask, Name: "new-task", Action: plan.Create, After: &plan.Object{Task: &nt}})
	bt := f.task(t, "base-task")
	bt2 := *bt
	bt2.Description = "WT201 firmware 1.4, night rollout"
	add(plan.Change{Address: "fuota_task.base-task", Kind: plan.KindTask, Name: "base-task", ID: fmt.Sprint(bt.ID), Action: plan.Update, Before: &plan.Object{Task: bt}, After: &plan.Object{Task: &bt2}})

	return &plan.Plan{FormatVersion: plan.FormatVersion, GatewayEUI: f.g.EUI(), ChannelPlan: "EU868", StateFingerprint: f.live.Fingerprint(), Changes: ch}
}

// summary is what a user checks after an apply of fullPlan.
type summary struct {
	Profiles, Codecs, Tasks []string
	Devices                 map[string]string // EUI → profile name / codec name / description
	Groups                  map[string]string // name → sorted members, ping slot period
}

func summarize(s *nsapi.State) summary {
	c := s.Canonical()
	out := summary{Devices: map[string]string{}, Groups: map[string]string{}}
	for _, p := range c.Profiles {
		out.Profiles = append(out.Profiles, fmt.Sprintf("%s classB=%d classC=%v", p.Name, p.Profile.ClassBTimeout, p.Profile.SupportsClassC))
	}
	for _, k := range c.Codecs {
		out.Codecs = append(out.Codecs, k.Name+": "+k.Description)
	}
	for _, t := range c.Tasks {
		out.Tasks = append(out.Tasks, fmt.Sprintf("%s: %s %v", t.Name, t.Description, t.DevEUIs))
	}
	for _, d := range c.Devices {
		out.Devices[d.DevEUI] = d.ProfileName + "/" + d.PayloadName + "/" + d.Description
	}
	for _, g := range c.Groups {
		var m []string
		for _, d := range g.Devices {
			m = append(m, d.DevEUI)
		}
		out.Groups[g.Name] = fmt.Sprintf("%v ping=%d", m, g.PingSlotPeriod)
	}
	return out
}

var wantApplied = summary{
	Profiles: []string{"ClassA-OTAA classB=10 classC=false", "ClassB-OTAA classB=10 classC=false", "ClassC-OTAA classB=10 classC=true", "base-profile classB=5 classC=false", "new-profile classB=10 classC=true"},
	Codecs:   []string{"base-codec: decodes EM300-TH uplinks", "new-codec: "},
	Tasks:    []string{"base-task: WT201 firmware 1.4, night rollout [" + d2 + "]", "new-task: new-task [" + d4 + "]"},
	Devices: map[string]string{
		d1: "base-profile//north gate",
		d2: "base-profile/base-codec/office, second floor",
		d4: "new-profile/new-codec/" + d4,
	},
	Groups: map[string]string{
		"base-group": "[" + d2 + "] ping=256",
		"new-group":  "[" + d1 + " " + d4 + "] ping=128",
	},
}

func canonDiff(want, got *nsapi.State) string {
	return cmp.Diff(want.Canonical(), got.Canonical(), cmpopts.EquateEmpty())
}

func TestApplyFullPlan(t *testing.T) {
	for _, par := range []int{1, applier.DefaultParallelism} {
		t.Run(fmt.Sprintf("parallelism=%d", par), func(t *testing.T) {
			f := newFixture(t, gwsim.Options{})
			f.seed(t)
			p := f.fullPlan(t)
			dir := filepath.Join(t.TempDir(), ".gwsync")
			var mu sync.Mutex
			var events []applier.Event
			res, err := applier.Apply(context.Background(), f.c, p, applier.Options{Parallelism: par, JournalDir: dir,
				Progress: func(e applier.Event) { mu.Lock(); events = append(events, e); mu.Unlock() }})
			if err != nil {
				t.Fatalf("apply: %v", err)
			}
			after := must(f.c.ReadState(context.Background()))(t)
			wantSummary := wantApplied
			// The summary's built-in profile line depends on gwsim's defaults: take them as read.
			got := summarize(after)
			wantSummary.Profiles = append(builtinProfiles(got), wantApplied.Profiles[3:]...)
			if d := cmp.Diff(wantSummary, got); d != "" {
				t.Errorf("gateway after apply (-want +got):\n%s", d)
			}
			add, chg, del := res.Summary()
			if d := cmp.Diff([3]int{8, 5, 6}, [3]int{add, chg, del}); d != "" {
				t.Errorf("summary added/changed/destroyed (-want +got):\n%s", d)
			}
			if res.RolledBack || res.Failed != nil {
				t.Errorf("result: rolled back %v, failed %v", res.RolledBack, res.Failed)
			}
			// What stays is the record of the codecJson written (and the
			// .gitignore that keeps it out of git); the journal is gone.
			ents, _ := os.ReadDir(dir)
			var left []string
			for _, e := range ents {
				left = append(left, e.Name())
			}
			if d := cmp.Diff([]string{".gitignore", applier.WrittenFile}, left); d != "" {
				t.Errorf("journal dir %s after a complete apply (-want +got):\n%s", dir, d)
			}
			done := 0
			for _, e := range events {
				if e.Type == applier.EventDone {
					done++
					if e.Total != 18 {
						t.Errorf("event %s: total %d, want 18 steps", e.Address, e.Total)
					}
				}
			}
			// 19 changes; the two memberships added to new-group are one step.
			if done != 18 {
				t.Errorf("%d steps done, want 18", done)
			}
		})
	}
}

func builtinProfiles(s summary) []string {
	var out []string
	for _, p := range s.Profiles {
		if strings.HasPrefix(p, "Class") {
			out = append(out, p)
		}
	}
	return out
}

// faultOnNth is a Writer that arms a gwsim fault just before the nth write
// of one kind, so that exactly that write fails on the gateway.
type faultOnNth struct {
	applier.Writer
	g     *gwsim.Gateway
	kind  plan.Kind
	nth   int
	fault gwsim.Fault

	mu   sync.Mutex
	seen int
}

func (w *faultOnNth) hit(k plan.Kind) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if k != w.kind {
		return
	}
	w.seen++
	if w.seen == w.nth {
		w.g.Faults().Add(w.fault)
	}
}

func (w *faultOnNth) CreateProfile(ctx context.Context, p nsapi.ProfileWrite) (string, error) {
	w.hit(plan.KindProfile)
	return w.Writer.CreateProfile(ctx, p)
}
func (w *faultOnNth) UpdateProfile(ctx context.Context, id string, p nsapi.ProfileWrite) error {
	w.hit(plan.KindProfile)
	return w.Writer.UpdateProfile(ctx, id, p)
}
func (w *faultOnNth) DeleteProfile(ctx context.Context, id string) error {
	w.hit(plan.KindProfile)
	return w.Writer.DeleteProfile(ctx, id)
}
func (w *faultOnNth) CreateDevice(ctx context.Context, d nsapi.DeviceWrite) error {
	w.hit(plan.KindDevice)
	return w.Writer.CreateDevice(ctx, d)
}
func (w *faultOnNth) UpdateDevice(ctx context.Context, eui string, d nsapi.DeviceWrite) error {
	w.hit(plan.KindDevice)
	return w.Writer.UpdateDevice(ctx, eui, d)
}
func (w *faultOnNth) DeleteDevice(ctx context.Context, eui string) error {
	w.hit(plan.KindDevice)
	return w.Writer.DeleteDevice(ctx, eui)
}
func (w *faultOnNth) CreateCodec(ctx context.Context, c nsapi.CodecWrite) (string, error) {
	w.hit(plan.KindCodec)
	return w.Writer.CreateCodec(ctx, c)
}
func (w *faultOnNth) UpdateCodec(ctx context.Context, id string, c nsapi.CodecWrite) error {
	w.hit(plan.KindCodec)
	return w.Writer.UpdateCodec(ctx, id, c)
}
func (w *faultOnNth) DeleteCodec(ctx context.Context, id string) error {
	w.hit(plan.KindCodec)
	return w.Writer.DeleteCodec(ctx, id)
}
func (w *faultOnNth) CreateGroup(ctx context.Context, g nsapi.MulticastGroup) (string, error) {
	w.hit(plan.KindGroup)
	return w.Writer.CreateGroup(ctx, g)
}
func (w *faultOnNth) UpdateGroup(ctx context.Context, id string, g nsapi.MulticastGroup) error {
	w.hit(plan.KindGroup)
	return w.Writer.UpdateGroup(ctx, id, g)
}
func (w *faultOnNth) DeleteGroup(ctx context.Context, id string) error {
	w.hit(plan.KindGroup)
	return w.Writer.DeleteGroup(ctx, id)
}
func (w *faultOnNth) AddGroupDevices(ctx context.Context, id string, euis []string) error {
	w.hit(plan.KindMember)
	return w.Writer.AddGroupDevices(ctx, id, euis)
}
func (w *faultOnNth) RemoveGroupDevices(ctx context.Context, id string, euis []string) error {
	w.hit(plan.KindMember)
	return w.Writer.RemoveGroupDevices(ctx, id, euis)
}
func (w *faultOnNth) CreateTask(ctx context.Context, t nsapi.FuotaTask) (int64, error) {
	w.hit(plan.KindTask)
	return w.Writer.CreateTask(ctx, t)
}
func (w *faultOnNth) UpdateTask(ctx context.Context, t nsapi.FuotaTask) error {
	w.hit(plan.KindTask)
	return w.Writer.UpdateTask(ctx, t)
}
func (w *faultOnNth) DeleteTasks(ctx context.Context, ids []int64) error {
	w.hit(plan.KindTask)
	return w.Writer.DeleteTasks(ctx, ids)
}

// TestRollbackEveryKind fails the first, a middle and the last write of
// each kind of fullPlan with an ns-api error, and checks that the apply
// ends rolled back with the gateway equal to its state before. The plan's
// first step is a task delete and its last a task update, so the first and
// last steps of the whole plan are covered too.
func TestRollbackEveryKind(t *testing.T) {
	kinds := []plan.Kind{plan.KindProfile, plan.KindCodec, plan.KindDevice, plan.KindGroup, plan.KindMember, plan.KindTask}
	for _, kind := range kinds {
		for _, pos := range []struct {
			name string
			nth  int
		}{{"first", 1}, {"middle", 2}, {"last", 3}} {
			t.Run(fmt.Sprintf("%s/%s", kind, pos.name), func(t *testing.T) {
				f := newFixture(t, gwsim.Options{})
				f.seed(t)
				before := f.live
				p := f.fullPlan(t)
				w := &faultOnNth{Writer: f.c, g: f.g, kind: kind, nth: pos.nth, fault: gwsim.Fault{Code: nsapi.CodeParameter}}
				dir := filepath.Join(t.TempDir(), ".gwsync")
				res, err := applier.Apply(context.Background(), w, p, applier.Options{Parallelism: 1, JournalDir: dir})
				var se *applier.StepError
				if !errors.As(err, &se) {
					t.Fatalf("apply error %v, want a *StepError", err)
				}
				if se.Change.Kind != kind || !nsapi.IsCode(err, nsapi.CodeParameter) {
					t.Errorf("failed step %s (%v), want a %s failing with code 3", se.Change.Address, err, kind)
				}
				if !res.RolledBack || !res.Restored {
					t.Fatalf("rolled back %v, restored %v; remaining:\n%s\nundone: %v", res.RolledBack, res.Restored, res.Remaining, res.Undone)
				}
				after := must(f.c.ReadState(context.Background()))(t)
				if d := canonDiff(before, after); d != "" {
					t.Errorf("gateway after rollback differs from before (-before +after):\n%s", d)
				}
				if _, err := os.Stat(dir); !os.IsNotExist(err) {
					t.Errorf("journal dir still there after a verified rollback (%v)", err)
				}
				for _, u := range res.Undone {
					if u.Err != nil {
						t.Errorf("undo %s: %v", u.Address, u.Err)
					}
				}
			})
		}
	}
}

func TestRollbackParallel(t *testing.T) {
	// A failure in the device phase with several device steps in flight.
	f := newFixture(t, gwsim.Options{})
	f.seed(t)
	p := f.fullPlan(t)
	f.g.Faults().Add(gwsim.Fault{Method: "PUT", URLContains: "/api/urdevices/", Code: nsapi.CodeParameter})
	res, err := applier.Apply(context.Background(), f.c, p, applier.Options{Parallelism: 6, JournalDir: t.TempDir()})
	if !nsapi.IsCode(err, nsapi.CodeParameter) {
		t.Fatalf("apply error %v, want code 3", err)
	}
	if !res.Restored {
		t.Fatalf("not restored:\n%s", res.Remaining)
	}
	if d := canonDiff(f.live, must(f.c.ReadState(context.Background()))(t)); d != "" {
		t.Errorf("(-before +after):\n%s", d)
	}
	if len(res.Notes) == 0 {
		t.Errorf("no notes, want the re-created resources named")
	}
	for _, n := range res.Notes {
		for _, k := range []string{key1, key2, key3, key4} {
			if strings.Contains(strings.ToLower(n), k) {
				t.Errorf("note %q holds a key", n)
			}
		}
	}
}

// TestUnknownOutcome drops a write's answer (the write happens) or the
// write itself (it does not): the re-read decides; a write it proves lost
// is sent again, and nothing is performed twice.
func TestUnknownOutcome(t *testing.T) {
	ref := newFixture(t, gwsim.Options{})
	ref.seed(t)
	base := ref.g.Writes()
	if _, err := applier.Apply(context.Background(), ref.c, ref.fullPlan(t), applier.Options{}); err != nil {
		t.Fatal(err)
	}
	planWrites := ref.g.Writes() - base
	for _, tc := range []struct {
		name  string
		fault gwsim.Fault
		done  bool // the write happened: the apply completes
	}{
		{"create answer lost", gwsim.Fault{Method: "POST", URLContains: "/api/urdevices", DropResponse: true}, true},
		{"update answer lost", gwsim.Fault{Method: "PUT", URLContains: "/api/urprofiles", DropResponse: true}, true},
		{"delete answer lost", gwsim.Fault{Method: "DELETE", URLContains: "/api/payloadcodecs", DropResponse: true}, true},
		{"membership answer lost", gwsim.Fault{Method: "POST", URLContains: "/devices", DropResponse: true}, true},
		{"create request lost", gwsim.Fault{Method: "POST", URLContains: "/api/multicast-groups", DropRequest: true}, true},
		{"update request lost", gwsim.Fault{Method: "PUT", URLContains: "/api/urdevices", DropRequest: true}, true},
		{"delete request lost", gwsim.Fault{Method: "DELETE", URLContains: "/api/urprofiles", DropRequest: true}, true},
		{"broker disconnect", gwsim.Fault{Nth: 7, Disconnect: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, gwsim.Options{})
			f.seed(t)
			base := f.g.Writes()
			f.g.Faults().Add(tc.fault)
			res, err := applier.Apply(context.Background(), f.c, f.fullPlan(t), applier.Options{Parallelism: 1, JournalDir: t.TempDir()})
			after := must(f.c.ReadState(context.Background()))(t)
			if tc.done {
				if err != nil {
					t.Fatalf("apply: %v", err)
				}
				got := summarize(after)
				want := wantApplied
				want.Profiles = append(builtinProfiles(got), wantApplied.Profiles[3:]...)
				if d := cmp.Diff(want, got); d != "" {
					t.Errorf("gateway after apply (-want +got):\n%s", d)
				}
				if n := f.g.Writes() - base; n != planWrites {
					t.Errorf("%d writes performed, want %d (nothing sent twice)", n, planWrites)
				}
				return
			}
			if !errors.Is(err, nsapi.ErrUnknownOutcome) {
				t.Errorf("apply error %v, want an unknown outcome", err)
			}
			if !res.Restored {
				t.Fatalf("not restored:\n%s", res.Remaining)
			}
			if d := canonDiff(f.live, after); d != "" {
				t.Errorf("(-before +after):\n%s", d)
			}
		})
	}
}

func TestNoRollbackKeepsSteps(t *testing.T) {
	f := newFixture(t, gwsim.Options{})
	f.seed(t)
	f.g.Faults().Add(gwsim.Fault{Method: "POST", URLContains: "/api/urdevices", Code: nsapi.CodeAlreadyExists})
	dir := filepath.Join(t.TempDir(), ".gwsync")
	res, err := applier.Apply(context.Background(), f.c, f.fullPlan(t), applier.Options{Parallelism: 1, NoRollback: true, JournalDir: dir})
	if !nsapi.IsCode(err, nsapi.CodeAlreadyExists) {
		t.Fatalf("apply error %v, want code 6", err)
	}
	if !res.Kept || res.RolledBack {
		t.Errorf("kept %v rolled back %v, want kept and not rolled back", res.Kept, res.RolledBack)
	}
	after := summarize(must(f.c.ReadState(context.Background()))(t))
	if _, ok := after.Groups["old-group"]; ok {
		t.Errorf("old-group is back; the completed delete should be kept")
	}
	if got := after.Codecs; !cmp.Equal(got, []string{"base-codec: decodes EM300-TH uplinks", "new-codec: ", "old-codec: "}) {
		t.Errorf("codecs %v: the completed codec steps should be kept", got)
	}
	if applier.HasJournal(dir) {
		t.Errorf("journal kept after --no-rollback")
	}
}

func TestRefusals(t *testing.T) {
	f := newFixture(t, gwsim.Options{})
	f.seed(t)
	p := f.fullPlan(t)
	t.Run("digest as key", func(t *testing.T) {
		q := *p
		q.Changes = append([]plan.Change(nil), p.Changes...)
		for i, c := range q.Changes {
			if c.Kind == plan.KindDevice && c.Action == plan.Create {
				d := *c.After.Device
				d.AppKey = nsapi.SecretDigest(d.AppKey)
				q.Changes[i].After = &plan.Object{Device: &d}
			}
		}
		w := f.g.Writes()
		_, err := applier.Apply(context.Background(), f.c, &q, applier.Options{})
		var pe *applier.PlanError
		if !errors.As(err, &pe) || pe.Address != "device."+d4 {
			t.Fatalf("error %v, want a PlanError on device.%s", err, d4)
		}
		if f.g.Writes() != w {
			t.Errorf("a refused plan wrote to the gateway")
		}
	})
	t.Run("unfinished journal", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, applier.JournalFile), []byte("{}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		w := f.g.Writes()
		_, err := applier.Apply(context.Background(), f.c, p, applier.Options{JournalDir: dir})
		var je *applier.JournalExistsError
		if !errors.As(err, &je) || !strings.Contains(err.Error(), "gwsync rollback") {
			t.Fatalf("error %v, want a JournalExistsError saying to run gwsync rollback", err)
		}
		if f.g.Writes() != w {
			t.Errorf("apply wrote despite an unfinished journal")
		}
	})
}

// crashWriter simulates a kill -9 at the nth write: it copies the journal
// directory as it stands at that moment (after or before the write
// reached the gateway) and from then on fails every call without
// reaching the gateway, so the gateway stays as the crash left it.
type crashWriter struct {
	applier.Writer
	dir, copyTo string
	nth         int
	afterWrite  bool

	// silence, when set, is what every call fails with from the nth write
	// on (a gateway that stopped answering), instead of errDead.
	silence error

	mu     sync.Mutex
	n      int
	dead   bool
	t      testing.TB
	wrote  bool
	called int // calls made after the nth write
}

var errDead = errors.New("process killed")

func (w *crashWriter) deadErr() error {
	w.called++
	if w.silence != nil {
		return w.silence
	}
	return errDead
}

func (w *crashWriter) write(call func() error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.dead {
		return w.deadErr()
	}
	w.n++
	if w.n != w.nth {
		return call()
	}
	var err error
	if w.afterWrite {
		err = call()
		w.wrote = err == nil
	}
	copyDir(w.t, w.dir, w.copyTo)
	w.dead = true
	return errors.Join(w.deadErr(), err)
}

func (w *crashWriter) read(call func() error) error {
	w.mu.Lock()
	if w.dead {
		defer w.mu.Unlock()
		return w.deadErr()
	}
	w.mu.Unlock()
	return call()
}

func copyDir(t testing.TB, from, to string) {
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Error(err)
		return
	}
	ents, err := os.ReadDir(from)
	if err != nil {
		t.Error(err)
		return
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Error(err)
			continue
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			t.Error(err)
		}
	}
}

func (w *crashWriter) ReadState(ctx context.Context) (s *nsapi.State, err error) {
	err = w.read(func() error { s, err = w.Writer.ReadState(ctx); return err })
	return s, err
}
func (w *crashWriter) GetDevice(ctx context.Context, eui string) (d *nsapi.Device, err error) {
	err = w.read(func() error { d, err = w.Writer.GetDevice(ctx, eui); return err })
	return d, err
}
func (w *crashWriter) ListProfiles(ctx context.Context) (l *nsapi.ProfileList, err error) {
	err = w.read(func() error { l, err = w.Writer.ListProfiles(ctx); return err })
	return l, err
}
func (w *crashWriter) ListGroups(ctx context.Context, s string) (l []nsapi.MulticastGroupInfo, err error) {
	err = w.read(func() error { l, err = w.Writer.ListGroups(ctx, s); return err })
	return l, err
}
func (w *crashWriter) ListDevices(ctx context.Context, q nsapi.DeviceQuery) (l *nsapi.DeviceList, err error) {
	err = w.read(func() error { l, err = w.Writer.ListDevices(ctx, q); return err })
	return l, err
}
func (w *crashWriter) ListCodecs(ctx context.Context, typ, s string) (l []nsapi.Codec, err error) {
	err = w.read(func() error { l, err = w.Writer.ListCodecs(ctx, typ, s); return err })
	return l, err
}
func (w *crashWriter) ListCodecsShort(ctx context.Context, typ, s string) (l []nsapi.CodecShort, err error) {
	err = w.read(func() error { l, err = w.Writer.ListCodecsShort(ctx, typ, s); return err })
	return l, err
}
func (w *crashWriter) ListTasks(ctx context.Context, s string) (l []nsapi.FuotaTask, err error) {
	err = w.read(func() error { l, err = w.Writer.ListTasks(ctx, s); return err })
	return l, err
}
func (w *crashWriter) CreateProfile(ctx context.Context, p nsapi.ProfileWrite) (id string, err error) {
	err = w.write(func() error { id, err = w.Writer.CreateProfile(ctx, p); return err })
	return id, err
}
func (w *crashWriter) UpdateProfile(ctx context.Context, id string, p nsapi.ProfileWrite) error {
	return w.write(func() error { return w.Writer.UpdateProfile(ctx, id, p) })
}
func (w *crashWriter) DeleteProfile(ctx context.Context, id string) error {
	return w.write(func() error { return w.Writer.DeleteProfile(ctx, id) })
}
func (w *crashWriter) CreateDevice(ctx context.Context, d nsapi.DeviceWrite) error {
	return w.write(func() error { return w.Writer.CreateDevice(ctx, d) })
}
func (w *crashWriter) UpdateDevice(ctx context.Context, eui string, d nsapi.DeviceWrite) error {
	return w.write(func() error { return w.Writer.UpdateDevice(ctx, eui, d) })
}
func (w *crashWriter) DeleteDevice(ctx context.Context, eui string) error {
	return w.write(func() error { return w.Writer.DeleteDevice(ctx, eui) })
}
func (w *crashWriter) CreateCodec(ctx context.Context, c nsapi.CodecWrite) (id string, err error) {
	err = w.write(func() error { id, err = w.Writer.CreateCodec(ctx, c); return err })
	return id, err
}
func (w *crashWriter) UpdateCodec(ctx context.Context, id string, c nsapi.CodecWrite) error {
	return w.write(func() error { return w.Writer.UpdateCodec(ctx, id, c) })
}
func (w *crashWriter) DeleteCodec(ctx context.Context, id string) error {
	return w.write(func() error { return w.Writer.DeleteCodec(ctx, id) })
}
func (w *crashWriter) CreateGroup(ctx context.Context, g nsapi.MulticastGroup) (id string, err error) {
	err = w.write(func() error { id, err = w.Writer.CreateGroup(ctx, g); return err })
	return id, err
}
func (w *crashWriter) UpdateGroup(ctx context.Context, id string, g nsapi.MulticastGroup) error {
	return w.write(func() error { return w.Writer.UpdateGroup(ctx, id, g) })
}
func (w *crashWriter) DeleteGroup(ctx context.Context, id string) error {
	return w.write(func() error { return w.Writer.DeleteGroup(ctx, id) })
}
func (w *crashWriter) AddGroupDevices(ctx context.Context, id string, e []string) error {
	return w.write(func() error { return w.Writer.AddGroupDevices(ctx, id, e) })
}
func (w *crashWriter) RemoveGroupDevices(ctx context.Context, id string, e []string) error {
	return w.write(func() error { return w.Writer.RemoveGroupDevices(ctx, id, e) })
}
func (w *crashWriter) CreateTask(ctx context.Context, tk nsapi.FuotaTask) (id int64, err error) {
	err = w.write(func() error { id, err = w.Writer.CreateTask(ctx, tk); return err })
	return id, err
}
func (w *crashWriter) UpdateTask(ctx context.Context, tk nsapi.FuotaTask) error {
	return w.write(func() error { return w.Writer.UpdateTask(ctx, tk) })
}
func (w *crashWriter) DeleteTasks(ctx context.Context, ids []int64) error {
	return w.write(func() error { return w.Writer.DeleteTasks(ctx, ids) })
}

// TestRollbackFromJournal kills the apply at several writes (before and
// after the write reached the gateway) and rolls back from the journal as
// it stood at that moment.
func TestRollbackFromJournal(t *testing.T) {
	for _, nth := range []int{1, 6, 11, 17} {
		for _, afterWrite := range []bool{false, true} {
			t.Run(fmt.Sprintf("write %d, sent=%v", nth, afterWrite), func(t *testing.T) {
				f := newFixture(t, gwsim.Options{})
				f.seed(t)
				dir := filepath.Join(t.TempDir(), ".gwsync")
				crashed := filepath.Join(t.TempDir(), "crashed")
				w := &crashWriter{Writer: f.c, dir: dir, copyTo: crashed, nth: nth, afterWrite: afterWrite, t: t}
				_, err := applier.Apply(context.Background(), w, f.fullPlan(t), applier.Options{Parallelism: 1, JournalDir: dir})
				if err == nil {
					t.Fatal("apply succeeded through a crash")
				}
				assertJournalSealed(t, crashed)
				res, err := applier.Rollback(context.Background(), f.c, crashed, applier.Options{})
				if err != nil {
					t.Fatalf("rollback: %v\n%s", err, res.Remaining)
				}
				if d := canonDiff(f.live, must(f.c.ReadState(context.Background()))(t)); d != "" {
					t.Errorf("(-before +after):\n%s", d)
				}
				if applier.HasJournal(crashed) {
					t.Errorf("journal still there after a complete rollback")
				}
				if _, err := applier.Rollback(context.Background(), f.c, crashed, applier.Options{}); !errors.Is(err, applier.ErrNoJournal) {
					t.Errorf("second rollback: %v, want ErrNoJournal", err)
				}
			})
		}
	}
}

// TestRollbackStopsWhenTheGatewayGoesSilent: a gateway that stops
// answering half-way (switched off, broker gone) ends the apply's rollback
// after the first undos that get no answer, instead of waiting out a
// timeout for every completed step; the journal keeps every write, and a
// later rollback, once the gateway answers again, restores it all.
func TestRollbackStopsWhenTheGatewayGoesSilent(t *testing.T) {
	f := newFixture(t, gwsim.Options{})
	f.seed(t)
	dir := filepath.Join(t.TempDir(), ".gwsync")
	silence := &nsapi.OutcomeError{Method: "GET", URL: "/api/urprofiles", Cause: errors.New("timeout after 10s")}
	w := &crashWriter{Writer: f.c, dir: dir, copyTo: t.TempDir(), nth: 17, silence: silence, t: t}
	res, err := applier.Apply(context.Background(), w, f.fullPlan(t), applier.Options{Parallelism: 1, JournalDir: dir})
	if !errors.Is(err, nsapi.ErrUnknownOutcome) {
		t.Fatalf("apply error %v, want an unknown outcome", err)
	}
	if len(res.Applied) < 10 {
		t.Fatalf("%d steps applied before the gateway went silent, want at least 10: the test proves nothing", len(res.Applied))
	}
	if res.Restored || !res.JournalKept || !applier.HasJournal(dir) {
		t.Fatalf("restored=%v journalKept=%v: want an incomplete rollback with the journal kept", res.Restored, res.JournalKept)
	}
	if len(res.Undone) > 3 {
		t.Errorf("%d undos tried on a silent gateway, want at most 3 (it stops at the second unanswered one)", len(res.Undone))
	}
	// Two undos and their re-reads, each read tried readAttempts times.
	if w.called > 16 {
		t.Errorf("%d calls on a silent gateway, want at most 16", w.called)
	}
	if !strings.Contains(res.Remaining, "stopped answering") {
		t.Errorf("Remaining does not say the gateway stopped answering:\n%s", res.Remaining)
	}
	// The gateway answers again: every completed step is undone.
	res, err = applier.Rollback(context.Background(), f.c, dir, applier.Options{})
	if err != nil {
		t.Fatalf("rollback: %v\n%s", err, res.Remaining)
	}
	if d := canonDiff(f.live, must(f.c.ReadState(context.Background()))(t)); d != "" {
		t.Errorf("(-before +after):\n%s", d)
	}
}

// assertJournalSealed checks that no key of the fixture is in clear in the
// journal files and that they are private.
func assertJournalSealed(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", e.Name(), fi.Mode().Perm())
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{key1, key2, key3, key4} {
			if strings.Contains(strings.ToLower(string(b)), k) {
				t.Errorf("%s holds a key in clear", e.Name())
			}
		}
	}
	// A copy taken while the apply runs has its run.lock too.
	names = slices.DeleteFunc(names, func(n string) bool { return n == applier.RunFile })
	sort.Strings(names)
	if d := cmp.Diff([]string{".gitignore", applier.BeforeFile, applier.JournalFile, applier.KeyFile}, names); d != "" {
		t.Errorf("journal files (-want +got):\n%s", d)
	}
	// git must ignore the whole directory: it holds sealed keys next to
	// the key that unseals them.
	if b, err := os.ReadFile(filepath.Join(dir, ".gitignore")); err != nil || !strings.Contains("\n"+string(b), "\n*\n") {
		t.Errorf(".gitignore does not ignore everything: %q, %v", b, err)
	}
}

// TestRollbackIncompleteThenFinish makes an undo fail too: the apply ends
// with the journal kept and the difference named; a later Rollback from
// the journal finishes the job.
func TestRollbackIncompleteThenFinish(t *testing.T) {
	f := newFixture(t, gwsim.Options{})
	f.seed(t)
	dir := filepath.Join(t.TempDir(), ".gwsync")
	f.g.Faults().Add(gwsim.Fault{Method: "POST", URLContains: "/api/urdevices", Code: nsapi.CodeParameter})
	f.g.Faults().Add(gwsim.Fault{Method: "DELETE", URLContains: "/api/urprofiles/", Code: nsapi.CodeInternal})
	res, err := applier.Apply(context.Background(), f.c, f.fullPlan(t), applier.Options{Parallelism: 1, JournalDir: dir})
	if !nsapi.IsCode(err, nsapi.CodeParameter) {
		t.Fatalf("apply error %v, want code 3", err)
	}
	if res.Restored || !res.JournalKept || !applier.HasJournal(dir) {
		t.Fatalf("restored %v, journal kept %v (exists %v); want not restored, journal kept", res.Restored, res.JournalKept, applier.HasJournal(dir))
	}
	if !strings.Contains(res.Remaining, "new-profile") {
		t.Errorf("remaining difference does not name new-profile:\n%s", res.Remaining)
	}
	var failed []string
	for _, u := range res.Undone {
		if u.Err != nil {
			failed = append(failed, u.Address)
		}
	}
	if d := cmp.Diff([]string{"profile.new-profile"}, failed); d != "" {
		t.Errorf("failed undos (-want +got):\n%s", d)
	}
	assertJournalSealed(t, dir)

	res, err = applier.Rollback(context.Background(), f.c, dir, applier.Options{})
	if err != nil {
		t.Fatalf("rollback: %v\n%s", err, res.Remaining)
	}
	if d := canonDiff(f.live, must(f.c.ReadState(context.Background()))(t)); d != "" {
		t.Errorf("(-before +after):\n%s", d)
	}
	if applier.HasJournal(dir) {
		t.Errorf("journal kept after a complete rollback")
	}
}

// TestReplace runs a replace (delete then create, one step) and, when its
// create half fails, puts the deleted resource back.
func TestReplace(t *testing.T) {
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprintf("create fails=%v", fail), func(t *testing.T) {
			f := newFixture(t, gwsim.Options{})
			f.seed(t)
			bt := f.task(t, "base-task")
			nt := *bt
			nt.ID = 0
			nt.DevEUIs = []string{d1, d2}
			nt.FirmwareInfo = firmware()
			p := &plan.Plan{FormatVersion: plan.FormatVersion, Changes: []plan.Change{{
				Address: "fuota_task.base-task", Kind: plan.KindTask, Name: "base-task", ID: fmt.Sprint(bt.ID), Action: plan.Replace,
				Reason: "a started task cannot be updated in place", Before: &plan.Object{Task: bt}, After: &plan.Object{Task: &nt},
			}}}
			if fail {
				f.g.Faults().Add(gwsim.Fault{Method: "POST", URLContains: "/api/fuota/task", Code: nsapi.CodeFuotaTooManyTasks})
			}
			res, err := applier.Apply(context.Background(), f.c, p, applier.Options{JournalDir: t.TempDir()})
			after := must(f.c.ReadState(context.Background()))(t)
			if !fail {
				if err != nil {
					t.Fatal(err)
				}
				got := summarize(after).Tasks
				want := []string{"base-task: base-task [" + d1 + " " + d2 + "]", "old-task: old-task [" + d3 + "]"}
				if d := cmp.Diff(want, got); d != "" {
					t.Errorf("tasks (-want +got):\n%s", d)
				}
				if add, _, del := res.Summary(); add != 1 || del != 1 {
					t.Errorf("summary: %d added %d destroyed, want 1 and 1", add, del)
				}
				return
			}
			if !nsapi.IsCode(err, nsapi.CodeFuotaTooManyTasks) || !res.Restored {
				t.Fatalf("error %v restored %v, want code 10310013 and restored", err, res.Restored)
			}
			if d := canonDiff(f.live, after); d != "" {
				t.Errorf("(-before +after):\n%s", d)
			}
		})
	}
}

// TestInterrupt cancels the apply half-way (Ctrl-C): no new step starts,
// and what was done is rolled back.
func TestInterrupt(t *testing.T) {
	f := newFixture(t, gwsim.Options{})
	f.seed(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := applier.Apply(ctx, f.c, f.fullPlan(t), applier.Options{Parallelism: 1, JournalDir: t.TempDir(),
		Progress: func(e applier.Event) {
			if e.Type == applier.EventDone && e.Done == 8 {
				cancel()
			}
		}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want the cancellation", err)
	}
	if len(res.Applied) != 8 || !res.Restored {
		t.Fatalf("%d applied, restored %v; want 8 applied then restored:\n%s", len(res.Applied), res.Restored, res.Remaining)
	}
	if d := canonDiff(f.live, must(f.c.ReadState(context.Background()))(t)); d != "" {
		t.Errorf("(-before +after):\n%s", d)
	}
}

// TestRollbackRemapsIDs moves a device off a profile that is then deleted;
// a later failure re-creates the profile (new id) and moves the device
// back onto the new id.
func TestRollbackRemapsIDs(t *testing.T) {
	f := newFixture(t, gwsim.Options{})
	f.seed(t)
	dev := f.device(t, d3)
	moved := *dev
	moved.ProfileID = f.profile(t, "base-profile").Profile.ProfileID
	moved.PayloadCodecID = ""
	op, oc := f.profile(t, "old-profile"), f.codec(t, "old-codec")
	ot := f.task(t, "old-task")
	p := &plan.Plan{FormatVersion: plan.FormatVersion, Changes: []plan.Change{
		{Address: "fuota_task.old-task", Kind: plan.KindTask, Name: "old-task", ID: fmt.Sprint(ot.ID), Action: plan.Delete, Before: &plan.Object{Task: ot}},
		{Address: "device." + d3, Kind: plan.KindDevice, Name: "em300-th-03", ID: d3, Action: plan.Update, Before: &plan.Object{Device: dev}, After: &plan.Object{Device: &moved}},
		{Address: "profile.old-profile", Kind: plan.KindProfile, Name: "old-profile", ID: op.Profile.ProfileID, Action: plan.Delete, Before: &plan.Object{Profile: op}},
		{Address: "codec.old-codec", Kind: plan.KindCodec, Name: "old-codec", ID: string(oc.ID), Action: plan.Delete, Before: &plan.Object{Codec: oc}},
	}}
	f.g.Faults().Add(gwsim.Fault{Method: "DELETE", URLContains: "/api/payloadcodecs/", Code: nsapi.CodeFailedPrecondition})
	res, err := applier.Apply(context.Background(), f.c, p, applier.Options{JournalDir: t.TempDir()})
	if !nsapi.IsCode(err, nsapi.CodeFailedPrecondition) || !res.Restored {
		t.Fatalf("error %v, restored %v, want code 9 and restored:\n%s", err, res.Restored, res.Remaining)
	}
	after := must(f.c.ReadState(context.Background()))(t)
	if d := canonDiff(f.live, after); d != "" {
		t.Errorf("(-before +after):\n%s", d)
	}
	var newID string
	for _, p := range after.Profiles {
		if p.Name == "old-profile" {
			newID = p.Profile.ProfileID
		}
	}
	for _, d := range after.Devices {
		if d.DevEUI == d3 && (d.ProfileID != newID || newID == op.Profile.ProfileID) {
			t.Errorf("device %s on profile %s, want the re-created old-profile %s (was %s)", d3, d.ProfileID, newID, op.Profile.ProfileID)
		}
	}
	want := fmt.Sprintf("profile old-profile was re-created with a new id (%s → %s)", op.Profile.ProfileID, newID)
	if !slicesContains(res.Notes, want) {
		t.Errorf("notes %q, want %q", res.Notes, want)
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// liar answers success for one device create without sending it: a
// gateway that says 200 and stores nothing.
type liar struct {
	applier.Writer
	eui string
}

func (l *liar) CreateDevice(ctx context.Context, d nsapi.DeviceWrite) error {
	if d.DevEUI == l.eui {
		return nil
	}
	return l.Writer.CreateDevice(ctx, d)
}

func (l *liar) CreateCodec(ctx context.Context, c nsapi.CodecWrite) (string, error) {
	if c.Name == l.eui {
		return "999", nil
	}
	return l.Writer.CreateCodec(ctx, c)
}

// TestConfirmCreates catches a create the gateway acknowledged but did
// not store, with one list read per kind after the phase, and rolls back.
func TestConfirmCreates(t *testing.T) {
	for _, tc := range []struct {
		name, lie string
		devices   int
	}{
		{"one of five devices (paged list)", "24E1241300000003", 5},
		{"one of two devices (searched reads)", "24E1241300000001", 2},
		{"a codec", "ghost-codec", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, gwsim.Options{})
			f.seed(t)
			p := createPlan(f.live, tc.devices)
			p.Changes = append([]plan.Change{{Address: "codec.ghost-codec", Kind: plan.KindCodec, Name: "ghost-codec", Action: plan.Create,
				After: &plan.Object{Codec: &nsapi.Codec{Name: "ghost-codec", DecoderScript: "x", FPort: 85}}}}, p.Changes...)
			res, err := applier.Apply(context.Background(), &liar{Writer: f.c, eui: tc.lie}, p, applier.Options{JournalDir: t.TempDir()})
			var se *applier.StepError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), "answered success but a re-read does not show the create") {
				t.Fatalf("error %v, want a StepError saying the create is not there", err)
			}
			if !strings.Contains(se.Change.Address, tc.lie) {
				t.Errorf("failed step %s, want the one with %s", se.Change.Address, tc.lie)
			}
			if !res.Restored {
				t.Fatalf("not restored:\n%s", res.Remaining)
			}
			if d := canonDiff(f.live, must(f.c.ReadState(context.Background()))(t)); d != "" {
				t.Errorf("(-before +after):\n%s", d)
			}
		})
	}
}

// TestRequestsPerCreate counts the requests of 50 device creates: the
// state read before the first write, one POST per device and a single
// list read to confirm them all.
func TestRequestsPerCreate(t *testing.T) {
	f := newFixture(t, gwsim.Options{})
	f.seed(t)
	r0 := f.c.Requests()
	must(f.c.ReadState(context.Background()))(t)
	read := f.c.Requests() - r0
	r1 := f.c.Requests()
	if _, err := applier.Apply(context.Background(), f.c, createPlan(f.live, 50), applier.Options{JournalDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if got, want := f.c.Requests()-r1, read+50+1; got != want {
		t.Errorf("%d requests, want %d (state read %d + 50 creates + 1 confirming list)", got, want, read)
	}
}

// inFlight counts the device creates in flight and keeps the most seen.
type inFlight struct {
	*nsapi.Client
	now, most atomic.Int32
}

func (w *inFlight) CreateDevice(ctx context.Context, d nsapi.DeviceWrite) error {
	n := w.now.Add(1)
	for m := w.most.Load(); n > m && !w.most.CompareAndSwap(m, n); m = w.most.Load() {
	}
	defer w.now.Add(-1)
	time.Sleep(2 * time.Millisecond)
	return w.Client.CreateDevice(ctx, d)
}

// TestWritesInFlightStayWithinParallelism: steps beyond --parallelism
// journal their intents ahead, but never more writes than it allows are
// in flight, and all of them are done.
func TestWritesInFlightStayWithinParallelism(t *testing.T) {
	for _, par := range []int{1, 3} {
		t.Run(fmt.Sprint(par), func(t *testing.T) {
			f := newFixture(t, gwsim.Options{})
			live := must(f.c.ReadState(context.Background()))(t)
			w := &inFlight{Client: f.c}
			res, err := applier.Apply(context.Background(), w, createPlan(live, 24), applier.Options{Parallelism: par, JournalDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			if got := w.most.Load(); got != int32(par) {
				t.Errorf("at most %d creates in flight, want %d", got, par)
			}
			if len(res.Applied) != 24 || len(must(f.c.ReadState(context.Background()))(t).Devices) != 24 {
				t.Errorf("%d steps applied, want 24", len(res.Applied))
			}
		})
	}
}
