package applier_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gwsync/gwsync/applier"
	"github.com/gwsync/gwsync/gwsim"
	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
)

// createPlan is n device creates on the built-in ClassA-OTAA profile.
func createPlan(live *nsapi.State, n int) *plan.Plan {
	var profileID string
	for _, p := range live.Profiles {
		if p.Name == "ClassA-OTAA" {
			profileID = p.Profile.ProfileID
		}
	}
	p := &plan.Plan{FormatVersion: plan.FormatVersion, ChannelPlan: live.ChannelPlan}
	for i := 0; i < n; i++ {
		eui := fmt.Sprintf("24E12413%08X", i)
		p.Changes = append(p.Changes, plan.Change{
			Address: "device." + eui, Kind: plan.KindDevice, Name: eui, Action: plan.Create,
			After: &plan.Object{Device: &nsapi.Device{DevEUI: eui, Name: eui, Description: eui, ApplicationID: "1", ProfileID: profileID,
				FPort: 85, SupportsJoin: true, AppKey: fmt.Sprintf("%032x", i+1)}},
			Sensitive: []string{"appKey"},
		})
	}
	return p
}

// peakHeap samples HeapInuse until stop is closed.
func peakHeap(stop <-chan struct{}) *atomic.Uint64 {
	var peak atomic.Uint64
	go func() {
		var ms runtime.MemStats
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return &peak
}

// BenchmarkApply2000 applies 2,000 device creates to a gateway that
// answers in 20 ms, at several parallelisms. Run with -benchtime=1x: one
// iteration at parallelism 1 takes over 40 s.
func BenchmarkApply2000(b *testing.B) {
	const devices = 2000
	for _, par := range []int{1, 3, 4, 6} {
		b.Run(fmt.Sprintf("parallelism=%d", par), func(b *testing.B) {
			var requests int64
			var peak uint64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				g, err := gwsim.New(gwsim.Options{})
				if err != nil {
					b.Fatal(err)
				}
				c, err := nsapi.New(context.Background(), g.Transport(), nsapi.Config{GatewayEUI: g.EUI(), Window: max(par, nsapi.DefaultWindow)})
				if err != nil {
					b.Fatal(err)
				}
				live, err := c.ReadState(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				p := createPlan(live, devices)
				g.Faults().SetDelay(20*time.Millisecond, 0)
				dir := b.TempDir()
				start := c.Requests()
				runtime.GC()
				stop := make(chan struct{})
				pk := peakHeap(stop)
				b.StartTimer()
				res, err := applier.Apply(context.Background(), c, p, applier.Options{Parallelism: par, JournalDir: dir})
				b.StopTimer()
				close(stop)
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Applied) != devices {
					b.Fatalf("%d applied, want %d", len(res.Applied), devices)
				}
				requests += c.Requests() - start
				peak = max(peak, pk.Load())
				c.Close()
				g.Close()
			}
			b.ReportMetric(float64(requests)/float64(b.N)/devices, "req/device")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
		})
	}
}
