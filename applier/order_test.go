package applier_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gwsync/gwsync/applier"
	"github.com/gwsync/gwsync/gwsim"
	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
)

// orderWriter records the devices updated, in the order the writes reach
// the gateway.
type orderWriter struct {
	applier.Writer
	mu    sync.Mutex
	order []string
}

func (w *orderWriter) UpdateDevice(ctx context.Context, eui string, d nsapi.DeviceWrite) error {
	w.mu.Lock()
	w.order = append(w.order, eui)
	w.mu.Unlock()
	return w.Writer.UpdateDevice(ctx, eui, d)
}

// TestParallelismOneKeepsPlanOrder: with --parallelism 1 the writes reach
// the gateway in plan order, although the steps after the one in flight
// journal their intents ahead.
func TestParallelismOneKeepsPlanOrder(t *testing.T) {
	f := newFixture(t, gwsim.Options{Latency: 2 * time.Millisecond})
	ctx := context.Background()
	st := must(f.c.ReadState(ctx))(t)
	var profileID string
	for _, p := range st.Profiles {
		if p.Name == "ClassA-OTAA" {
			profileID = p.Profile.ProfileID
		}
	}
	const n = 16
	var want []string
	for i := 1; i <= n; i++ {
		eui := fmt.Sprintf("24E124136A1000%02X", i)
		if err := f.c.CreateDevice(ctx, nsapi.DeviceWrite{DevEUI: eui, Name: fmt.Sprintf("t%02d", i), ApplicationID: "1", ProfileID: profileID, FPort: 85, AppKey: key1}); err != nil {
			t.Fatal(err)
		}
		want = append(want, eui)
	}
	live := must(f.c.ReadState(ctx))(t)
	var changes []plan.Change
	for _, eui := range want {
		var d nsapi.Device
		for _, x := range live.Devices {
			if x.DevEUI == eui {
				d = x
			}
		}
		d2 := d
		d2.Description = "moved"
		changes = append(changes, plan.Change{Address: "device." + eui, Kind: plan.KindDevice, Name: d.Name, ID: eui, Action: plan.Update,
			Before: &plan.Object{Device: &d}, After: &plan.Object{Device: &d2}, Sensitive: []string{"appKey"}})
	}
	p := &plan.Plan{FormatVersion: plan.FormatVersion, GatewayEUI: f.g.EUI(), ChannelPlan: "EU868", StateFingerprint: live.Fingerprint(), Changes: changes}
	for run := 0; run < 3; run++ {
		w := &orderWriter{Writer: f.c}
		if run > 0 {
			// Back and forth: the second run restores, the third moves again.
			for i := range p.Changes {
				c := &p.Changes[i]
				c.Before, c.After = c.After, c.Before
			}
		}
		if _, err := applier.Apply(ctx, w, p, applier.Options{Parallelism: 1, JournalDir: filepath.Join(t.TempDir(), ".gwsync")}); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, w.order); d != "" {
			t.Fatalf("run %d: writes out of plan order (-plan +gateway):\n%s", run, d)
		}
	}
}
