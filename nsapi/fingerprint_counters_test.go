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
