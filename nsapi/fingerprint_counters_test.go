package nsapi

import (
	"math/rand/v2"
	"testing"
)

// TestFingerprintIgnoresCounters: frame counters move with traffic, on
// their own: a multicast group's fCnt, a device's fCntUp and fCntDown
// never change the fingerprint, so a saved plan is not made stale by a
// downlink.
func TestFingerprintIgnoresCounters(t *testing.T) {
	seed := rand.Uint64()
	r := rand.New(rand.NewPCG(seed, 1))
	for range 50 {
		s := randomState(r, 1+r.IntN(5))
		s.Groups = append(s.Groups, MulticastGroupInfo{MulticastGroup: MulticastGroup{Name: "g", FCnt: FlexInt(r.IntN(100))}})
		before := s.Fingerprint()
		for i := range s.Groups {
			s.Groups[i].FCnt += FlexInt(1 + r.IntN(1000))
		}
		for i := range s.Devices {
			s.Devices[i].FCntUp += FlexInt(1 + r.IntN(1000))
			s.Devices[i].FCntDown += FlexInt(r.IntN(1000))
		}
		if after := s.Fingerprint(); after != before {
			t.Fatalf("seed %d: counters moved the fingerprint: %s -> %s", seed, before, after)
		}
		if got, want := s.Fingerprint(), refFingerprint(s); got != want {
			t.Fatalf("seed %d: Fingerprint %s, Canonical digest %s", seed, got, want)
		}
	}
}

// TestFingerprintIgnoresJoins: an OTAA device that joins again gets a new
// session from the gateway; an ABP device's session is the site's, and a
// change of it moves the fingerprint.
func TestFingerprintIgnoresJoins(t *testing.T) {
	s := &State{FormatVersion: 1, Devices: []Device{
		{DevEUI: "24E124136A000001", SupportsJoin: true, AppKey: "0f1e2d3c4b5a69788796a5b4c3d2e1f0", DevAddr: "01020304", AppSKey: "a1b2c3d4e5f60718293a4b5c6d7e8f90"},
		{DevEUI: "24E124136A000002", DevAddr: "05060708", AppSKey: "11223344556677889900aabbccddeeff", NwkSKey: "ffeeddccbbaa00998877665544332211"},
	}}
	before := s.Fingerprint()
	s.Devices[0].DevAddr, s.Devices[0].AppSKey, s.Devices[0].NwkSKey = "0A0B0C0D", "00112233445566778899aabbccddeeff", "ffeeddccbbaa00998877665544332211"
	if got := s.Fingerprint(); got != before {
		t.Errorf("an OTAA join moved the fingerprint")
	}
	s.Devices[1].DevAddr = "05060709"
	if got := s.Fingerprint(); got == before {
		t.Errorf("an ABP device's new devAddr did not move the fingerprint")
	}
	if got, want := s.Fingerprint(), refFingerprint(s); got != want {
		t.Errorf("Fingerprint %s, Canonical digest %s", got, want)
	}
}
