package band

import "testing"

func TestAppendixDefaults(t *testing.T) {
	tests := []struct {
		plan             string
		rx2, rx2dr       int64
		ping, pingdr     int64
		min, max         int64
		drText           string
		maxFragmentAtDR3 int64
	}{
		{"CN470", 505300000, 0, 508300000, 2, 470400000, 509700000, "0–6", 110},
		{"EU868", 869525000, 0, 869525000, 3, 863000000, 870000000, "0–6", 110},
		{"IN865", 866550000, 2, 866550000, 4, 863000000, 870000000, "0–5", 110},
		{"RU864", 869100000, 0, 868900000, 3, 864000000, 870000000, "0–6", 110},
		{"KR920", 921900000, 0, 923100000, 3, 920900000, 923300000, "0–5", 110},
		{"US915", 923300000, 8, 923300000, 8, 923300000, 927500000, "0–4, 8–13", 237},
		{"AU915", 923300000, 8, 923300000, 8, 923300000, 927500000, "0–4, 8–13", 110},
		{"AS923-1", 923200000, 2, 923400000, 3, 915000000, 928000000, "0–6", 110},
		{"AS923-2", 921400000, 2, 921600000, 2, 915000000, 928000000, "0–6", 110},
		{"AS923-3", 916600000, 2, 916800000, 2, 915000000, 928000000, "0–6", 110},
		{"AS923-4", 917300000, 2, 917500000, 2, 915000000, 928000000, "0–6", 110},
	}
	for _, tt := range tests {
		p, err := Lookup(tt.plan)
		if err != nil {
			t.Fatal(err)
		}
		if p.RX2Freq != tt.rx2 || p.RX2DR != tt.rx2dr || p.PingSlotFreq != tt.ping || p.PingSlotDR != tt.pingdr {
			t.Errorf("%s defaults = %d/%d %d/%d", tt.plan, p.RX2Freq, p.RX2DR, p.PingSlotFreq, p.PingSlotDR)
		}
		if p.MinFreq != tt.min || p.MaxFreq != tt.max {
			t.Errorf("%s range = %d–%d", tt.plan, p.MinFreq, p.MaxFreq)
		}
		if got := p.DataRatesText(); got != tt.drText {
			t.Errorf("%s data rates = %q, want %q", tt.plan, got, tt.drText)
		}
		if got := p.MaxFragment(3); got != tt.maxFragmentAtDR3 {
			t.Errorf("%s max fragment at DR3 = %d, want %d", tt.plan, got, tt.maxFragmentAtDR3)
		}
		if !p.FreqInRange(p.RX2Freq) || !p.HasDR(p.RX2DR) || !p.HasDR(p.PingSlotDR) {
			t.Errorf("%s: its own defaults are out of range", tt.plan)
		}
	}
}

func TestCN470PayloadSizesMatchSpecExample(t *testing.T) {
	// Spec 6.6 on a CN470 gateway: 46, 46, 46, 110, 237, 237 for DR0–5.
	p, _ := Lookup("cn470")
	want := []int64{46, 46, 46, 110, 237, 237}
	for dr, w := range want {
		if got := p.MaxFragment(int64(dr)); got != w {
			t.Errorf("DR%d: %d, want %d", dr, got, w)
		}
	}
}

func TestLookupAliasesAndUnknown(t *testing.T) {
	for in, want := range map[string]string{"China470": "CN470", "as923": "AS923-1", " eu868 ": "EU868"} {
		p, err := Lookup(in)
		if err != nil || p.Name != want {
			t.Errorf("Lookup(%q) = %v, %v; want %s", in, p, err, want)
		}
	}
	if _, err := Lookup("EU433"); err == nil {
		t.Error("EU433 accepted")
	}
	p, _ := Lookup("US915")
	if p.HasDR(5) || p.MaxFragment(5) != 0 {
		t.Error("US915 offers DR5")
	}
}

// TestAS923DwellTime: under the 400 ms dwell-time limit (Regional
// Parameters, AS923 DownlinkDwellTime = 1) fragments are 2-4x smaller, and
// DR0-1 carry none; other plans have no such table.
func TestAS923DwellTime(t *testing.T) {
	for _, n := range []string{"AS923-1", "AS923-2", "AS923-3", "AS923-4"} {
		p, err := Lookup(n)
		if err != nil {
			t.Fatal(err)
		}
		if !p.HasDwellTime() {
			t.Fatalf("%s has no dwell-time table", n)
		}
		d := p.Dwell(true)
		want := map[int64]int64{0: 0, 1: 0, 2: 6, 3: 48, 4: 120, 5: 237, 6: 237}
		for dr, w := range want {
			if got := d.MaxFragment(dr); got != w {
				t.Errorf("%s dwell time on, DR%d: max fragment %d, want %d", n, dr, got, w)
			}
		}
		if got := d.Dwell(false).MaxFragment(2); got != 46 {
			t.Errorf("%s dwell time off again, DR2: max fragment %d, want 46", n, got)
		}
		if got := p.MaxFragment(2); got != 46 {
			t.Errorf("%s: Dwell changed the plan Lookup returns (DR2 %d)", n, got)
		}
	}
	eu, _ := Lookup("EU868")
	if eu.HasDwellTime() || eu.Dwell(true) != eu {
		t.Error("EU868 has a dwell-time limit")
	}
}
