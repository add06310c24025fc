package planner_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/planner"
	"github.com/gwsync/gwsync/site"
)

func ptr[T any](v T) *T { return &v }

// bigCase is a site of 10,000 devices, 200 profiles and 100 groups of 100
// members, and a live state holding it with every 10th device drifted.
func bigCase() (*site.Site, *nsapi.State) {
	s := &site.Site{Version: 1, Gateway: site.Gateway{ChannelPlan: "EU868"}}
	st := &nsapi.State{FormatVersion: 1, ChannelPlan: "EU868",
		Applications: []nsapi.Application{{ApplicationID: "1", AppName: "cloud"}}}
	for i := 0; i < 200; i++ {
		name := fmt.Sprintf("profile-%03d", i)
		s.Profiles = append(s.Profiles, site.Profile{Name: name, SupportsJoin: ptr(true), SupportsClassC: ptr(i%2 == 0)})
		st.Profiles = append(st.Profiles, nsapi.Profile{Name: name, Profile: nsapi.ProfileSettings{
			ProfileID: fmt.Sprintf("id-%03d", i), SupportsJoin: true, SupportsClassC: i%2 == 0, MacVersion: "1.0.2",
			RegParamsRevision: "B", RxFreq2: 869525000, PingSlotDR: 3, PingSlotFreq: 869525000, PingSlotPeriod: 128,
			ClassBTimeout: 10, ClassCTimeout: 10, Supports32bitFCnt: true}})
	}
	for i := 0; i < 10000; i++ {
		eui := fmt.Sprintf("24E12413%08X", i)
		key := fmt.Sprintf("%032x", i+1)
		s.Devices = append(s.Devices, site.Device{DevEUI: eui, Name: "dev-" + eui, Application: "cloud",
			Profile: fmt.Sprintf("profile-%03d", i%200), AppKey: site.Secret{Value: key}})
		name := "dev-" + eui
		if i%10 == 0 {
			name = "drifted"
		}
		st.Devices = append(st.Devices, nsapi.Device{DevEUI: eui, Name: name, ApplicationID: "1", Description: eui,
			ProfileID: fmt.Sprintf("id-%03d", i%200), AppKey: key, SupportsJoin: true, FPort: 1, PayloadCodecID: "0"})
	}
	for g := 0; g < 100; g++ {
		name := fmt.Sprintf("group-%03d", g)
		sg := site.MulticastGroup{Name: name, McAddr: fmt.Sprintf("%08X", g+1)}
		lg := nsapi.MulticastGroupInfo{ID: fmt.Sprintf("gid-%03d", g), MulticastGroup: nsapi.MulticastGroup{Name: name,
			McAddr: fmt.Sprintf("%08X", g+1), McNwkSKey: nsapi.DefaultKey, McAppSKey: nsapi.DefaultKey, GroupType: "CLASS_C",
			Frequency: 869525000, PingSlotPeriod: 128}}
		for m := 0; m < 100; m++ {
			eui := fmt.Sprintf("24E12413%08X", g*100+m)
			sg.Devices = append(sg.Devices, eui)
			if m != 0 {
				lg.Devices = append(lg.Devices, nsapi.GroupMember{DevEUI: eui})
			}
		}
		s.MulticastGroups = append(s.MulticastGroups, sg)
		st.Groups = append(st.Groups, lg)
	}
	return s, st
}

// BenchmarkPlan10k plans 10,000 devices, 200 profiles and 100 groups from
// a snapshot; it reports the peak heap in use during the run.
func BenchmarkPlan10k(b *testing.B) {
	s, st := bigCase()
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p, err := planner.Plan(s, st, planner.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if got := len(p.Changes); got != 1000+100 {
			b.Fatalf("%d changes, want 1,100 (1,000 drifted devices, 100 new members)", got)
		}
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
}

// BenchmarkPlan10kFromEmpty plans the same site for a gateway that holds
// none of it (a first apply): every device, profile, group and member is
// a create, and each member's class is checked against its profile.
func BenchmarkPlan10kFromEmpty(b *testing.B) {
	s, full := bigCase()
	st := &nsapi.State{FormatVersion: 1, ChannelPlan: full.ChannelPlan, Applications: full.Applications}
	b.ReportAllocs()
	for b.Loop() {
		p, err := planner.Plan(s, st, planner.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Changes) < 10000 {
			b.Fatalf("%d changes, want every device created", len(p.Changes))
		}
	}
}

// TestLivePlanRequests plans 2,000 devices against the simulated gateway:
// the read must take a handful of paged list requests, not one per device.
func TestLivePlanRequests(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 2,000 devices")
	}
	_, cl := newSim(t)
	ctx := context.Background()
	live, err := cl.ReadState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var classA string
	for _, p := range live.Profiles {
		if p.Name == "ClassA-OTAA" {
			classA = p.ID()
		}
	}
	s := &site.Site{Version: 1}
	for i := 0; i < 2000; i++ {
		eui := fmt.Sprintf("24E12413%08X", i)
		key := fmt.Sprintf("%032x", i+1)
		if err := cl.CreateDevice(ctx, nsapi.DeviceWrite{DevEUI: eui, Name: "d" + eui, Description: eui, ApplicationID: "1", ProfileID: classA, AppKey: key, FPort: 1}); err != nil {
			t.Fatal(err)
		}
		s.Devices = append(s.Devices, site.Device{DevEUI: eui, Name: "d" + eui, Application: "cloud", AppKey: site.Secret{Value: key}})
	}
	before := cl.Requests()
	live, err = cl.ReadState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	requests := cl.Requests() - before
	p, err := planner.Plan(s, live, planner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Empty() {
		t.Errorf("plan of what the gateway holds has %d changes, first %s", len(p.Changes), p.Changes[0].Address)
	}
	t.Logf("read 2,000 devices in %d requests", requests)
	if requests > 20 {
		t.Errorf("reading the state took %d requests, want a handful of pages", requests)
	}
}
