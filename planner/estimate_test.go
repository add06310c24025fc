package planner_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gwsync/gwsync/band"
	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/planner"
)

// TestEstimateTask checks the session estimate against hand-worked
// numbers: LoRa time on air by Semtech AN1200.13 (the values the common
// airtime calculators give for a 64-byte PHY payload: SF12 2793.5 ms, SF7
// 118.0 ms at 125 kHz; SF12 at 500 kHz without low data rate
// optimisation, 616.4 ms) and fragment counts with the redundancy rounded up.
func TestEstimateTask(t *testing.T) {
	eu, err := band.Lookup("EU868")
	if err != nil {
		t.Fatal(err)
	}
	us, err := band.Lookup("US915")
	if err != nil {
		t.Fatal(err)
	}
	task := func(size, intv, red, dr int64) *nsapi.FuotaTask {
		return &nsapi.FuotaTask{
			FragmentInfo: nsapi.FragmentInfo{FragmentSize: nsapi.FlexInt(size), FragmentInterval: nsapi.FlexInt(intv), FragmentRedundancy: nsapi.FlexInt(red)},
			TmpMcInfo:    nsapi.TmpMcInfo{DR: nsapi.FlexInt(dr)},
		}
	}
	for _, c := range []struct {
		name       string
		p          *band.Plan
		t          *nsapi.FuotaTask
		fw         int64
		frags      int64
		sent       int64
		each       time.Duration
		sendFor    time.Duration
		sf, bwKHz  int
		wantAbsent bool
	}{
		// 46 + 5 header + 13 frame = 64 bytes on air at SF12.
		{name: "EU868 DR0", p: eu, t: task(46, 10000, 0, 0), fw: 460, frags: 10, sent: 10, each: 2793472 * time.Microsecond,
			sendFor: 100 * time.Second, sf: 12, bwKHz: 125},
		{name: "EU868 DR5, redundancy rounded up", p: eu, t: task(46, 1000, 30, 5), fw: 461, frags: 11, sent: 15, each: 118016 * time.Microsecond,
			sendFor: 15 * time.Second, sf: 7, bwKHz: 125},
		{name: "US915 DR8 is SF12 at 500 kHz", p: us, t: task(46, 1000, 0, 8), fw: 46, frags: 1, sent: 1, each: 616448 * time.Microsecond,
			sendFor: time.Second, sf: 12, bwKHz: 500},
		{name: "unknown size", p: eu, t: task(46, 1000, 0, 0), fw: 0, wantAbsent: true},
		{name: "data rate the plan does not list", p: us, t: task(46, 1000, 0, 7), fw: 100, wantAbsent: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, ok := planner.EstimateTask(c.p, c.t, c.fw)
			if ok == c.wantAbsent {
				t.Fatalf("ok = %v, want %v", ok, !c.wantAbsent)
			}
			if c.wantAbsent {
				return
			}
			if e.Fragments != c.frags || e.Sent != c.sent || e.SF != c.sf || e.BW != c.bwKHz*1000 {
				t.Errorf("fragments %d sent %d SF%d %d Hz, want %d %d SF%d %d kHz", e.Fragments, e.Sent, e.SF, e.BW, c.frags, c.sent, c.sf, c.bwKHz)
			}
			if d := e.Each - c.each; d < -time.Microsecond || d > time.Microsecond {
				t.Errorf("time on air %v, want %v", e.Each, c.each)
			}
			if e.Duration != c.sendFor || e.Airtime != time.Duration(e.Sent)*e.Each {
				t.Errorf("duration %v airtime %v, want %v and sent × each", e.Duration, e.Airtime, c.sendFor)
			}
		})
	}
}

// TestDutyCycleNote: an estimate's airtime share is compared with the
// duty-cycle limit of the sub-band of the task's downlink frequency (EU868:
// ETSI EN 300 220-2), and said to be unchecked where no limit is known.
func TestDutyCycleNote(t *testing.T) {
	eu, err := band.Lookup("EU868")
	if err != nil {
		t.Fatal(err)
	}
	// The README's example: 52.6 % of the time at 869.525 MHz (band P, 10 %).
	e := planner.Estimate{Duration: 100 * time.Second, Airtime: 52600 * time.Millisecond}
	if got, want := planner.DutyCycleNote(eu, 869525000, e), "warning: duty cycle: the fragments are on air 52.6% of the time, over the 10% limit at 869525000 Hz (ETSI EN 300 220-2 V3.2.1, band P, 869.4-869.65 MHz)"; !strings.HasPrefix(got, want) {
		t.Errorf("over: %q, want it to start %q", got, want)
	}
	e.Airtime = 9 * time.Second
	if got, want := planner.DutyCycleNote(eu, 869525000, e), "duty cycle: the fragments are on air 9.0% of the time, within the 10% limit at 869525000 Hz (ETSI EN 300 220-2 V3.2.1, band P, 869.4-869.65 MHz)"; got != want {
		t.Errorf("within: %q, want %q", got, want)
	}
	// 868.1 MHz is band M, 1 %: 9 % is over it.
	if got := planner.DutyCycleNote(eu, 868100000, e); !strings.HasPrefix(got, "warning: duty cycle") || !strings.Contains(got, "1% limit") {
		t.Errorf("band M: %q", got)
	}
	// Between the bands (869.3 MHz) and in a plan without sub-bands: unchecked.
	if got := planner.DutyCycleNote(eu, 869300000, e); !strings.Contains(got, "not checked") {
		t.Errorf("between bands: %q", got)
	}
	us, err := band.Lookup("US915")
	if err != nil {
		t.Fatal(err)
	}
	if got := planner.DutyCycleNote(us, 923300000, e); !strings.Contains(got, "knows no duty-cycle limit for US915") {
		t.Errorf("US915: %q", got)
	}
}
