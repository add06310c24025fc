package applier_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/gwsync/gwsync/applier"
	"github.com/gwsync/gwsync/gwsim"
	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
)

// trafficWriter moves the gateway's counters, as radio traffic would,
// just before the create of task new-task, which it then refuses: the
// apply rolls back after the counters moved past those read before it.
type trafficWriter struct {
	applier.Writer
	g *gwsim.Gateway
}

func (w trafficWriter) CreateTask(ctx context.Context, t nsapi.FuotaTask) (int64, error) {
	if t.Name != "new-task" {
		return w.Writer.CreateTask(ctx, t)
	}
	if err := w.g.Traffic(d1, 7, 3); err != nil {
		return 0, err
	}
	if err := w.g.MulticastTraffic("base-group", 11); err != nil {
		return 0, err
	}
	return 0, remote(nsapi.CodeFuotaTooManyTasks)
}

// TestUndoKeepsCounters: the undo of a device update and of a group
// update, after traffic moved the counters during the apply, restores
// the settings and leaves the counters and the joined session as the
// gateway has them, whether a PUT patches or replaces the object.
func TestUndoKeepsCounters(t *testing.T) {
	for _, replaces := range []bool{false, true} {
		t.Run(fmt.Sprintf("PutReplaces=%v", replaces), func(t *testing.T) {
			f := newFixture(t, gwsim.Options{PutReplaces: replaces})
			f.seed(t)
			if err := f.g.Traffic(d1, 30, 10); err != nil { // d1 joins
				t.Fatal(err)
			}
			if err := f.g.MulticastTraffic("base-group", 40); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			f.live = must(f.c.ReadState(ctx))(t)
			dev, grp := f.device(t, d1), f.group(t, "base-group")
			dev2, grp2 := *dev, *grp
			dev2.Description, grp2.DR = "moved", 3
			nt := task("new-task", d1)
			p := &plan.Plan{FormatVersion: plan.FormatVersion, GatewayEUI: f.g.EUI(), ChannelPlan: "EU868", StateFingerprint: f.live.Fingerprint(),
				Changes: []plan.Change{
					{Address: "device." + d1, Kind: plan.KindDevice, Name: dev.Name, ID: d1, Action: plan.Update, Before: &plan.Object{Device: dev}, After: &plan.Object{Device: &dev2}},
					{Address: "multicast_group.base-group", Kind: plan.KindGroup, Name: "base-group", ID: grp.ID, Action: plan.Update, Before: &plan.Object{Group: grp}, After: &plan.Object{Group: &grp2}},
					{Address: "fuota_task.new-task", Kind: plan.KindTask, Name: "new-task", Action: plan.Create, After: &plan.Object{Task: &nt}},
				}}
			plan.Sort(p.Changes)
			res, err := applier.Apply(ctx, trafficWriter{f.c, f.g}, p, applier.Options{JournalDir: t.TempDir()})
			if err == nil || res == nil || !res.RolledBack {
				t.Fatalf("want a rollback, got %v (%+v)", err, res)
			}
			now := must(f.c.ReadState(ctx))(t)
			f.live = now
			d, g := f.device(t, d1), f.group(t, "base-group")
			if d.Description != dev.Description || g.DR != grp.DR {
				t.Errorf("settings not restored: description %q, dr %d", d.Description, g.DR)
			}
			if d.FCntUp != dev.FCntUp+7 || d.FCntDown != dev.FCntDown+3 {
				t.Errorf("device counters %d/%d after the undo, the gateway had %d/%d", d.FCntUp, d.FCntDown, dev.FCntUp+7, dev.FCntDown+3)
			}
			if d.DevAddr == "" || d.DevAddr != dev.DevAddr || d.AppSKey != dev.AppSKey || d.NwkSKey != dev.NwkSKey {
				t.Errorf("joined session lost: devAddr %q, was %q", d.DevAddr, dev.DevAddr)
			}
			if g.FCnt != grp.FCnt+11 {
				t.Errorf("group fCnt %d after the undo, the gateway had %d", g.FCnt, grp.FCnt+11)
			}
		})
	}
}

// noSearchWriter is a gateway whose device search does not match EUIs.
type noSearchWriter struct{ applier.Writer }

func (noSearchWriter) GetDevice(ctx context.Context, eui string) (*nsapi.Device, error) {
	return nil, remote(nsapi.CodeNotFound)
}

// TestUpdateReadsTheListWhenSearchMissesEUIs: the read before a device
// update falls back to the device list when a search by EUI finds
// nothing, and the update keeps the counters it finds there.
func TestUpdateReadsTheListWhenSearchMissesEUIs(t *testing.T) {
	f := newFixture(t, gwsim.Options{PutReplaces: true})
	f.seed(t)
	if err := f.g.Traffic(d1, 12, 4); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	f.live = must(f.c.ReadState(ctx))(t)
	dev := f.device(t, d1)
	dev2 := *dev
	dev2.Description = "moved"
	p := &plan.Plan{FormatVersion: plan.FormatVersion, GatewayEUI: f.g.EUI(), ChannelPlan: "EU868", StateFingerprint: f.live.Fingerprint(),
		Changes: []plan.Change{{Address: "device." + d1, Kind: plan.KindDevice, Name: dev.Name, ID: d1, Action: plan.Update,
			Before: &plan.Object{Device: dev}, After: &plan.Object{Device: &dev2}}}}
	if _, err := applier.Apply(ctx, noSearchWriter{f.c}, p, applier.Options{JournalDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	f.live = must(f.c.ReadState(ctx))(t)
	if d := f.device(t, d1); d.Description != "moved" || d.FCntUp != dev.FCntUp || d.FCntDown != dev.FCntDown || d.DevAddr != dev.DevAddr {
		t.Errorf("after the update: description %q, counters %d/%d (want %d/%d), devAddr %q (want %q)",
			d.Description, d.FCntUp, d.FCntDown, dev.FCntUp, dev.FCntDown, d.DevAddr, dev.DevAddr)
	}
}
