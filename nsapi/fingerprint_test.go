package nsapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
)

// refFingerprint is the fingerprint as it was first defined: the digest
// of json.Marshal(s.Canonical()). Saved plans and golden files carry it.
func refFingerprint(s *State) string {
	b, err := json.Marshal(s.Canonical())
	if err != nil {
		return "unfingerprintable"
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// randomState is a state with n devices drawn from r: names that repeat,
// characters JSON escapes (<, &, quotes, non-ASCII), ids of other kinds,
// empty lists and members in any case.
func randomState(r *rand.Rand, n int) *State {
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	name := func() string { return pick("a", "b", "<b>", "x&y", `q"t`, "é", "Z", "a") }
	s := &State{FormatVersion: 1, ChannelPlan: pick("eu868", "US915", "")}
	for range r.IntN(3) {
		s.Applications = append(s.Applications, Application{ApplicationID: FlexString(pick("1", "2", "10")), AppName: name()})
	}
	for i := range r.IntN(4) {
		s.Profiles = append(s.Profiles, Profile{Name: name(), Profile: ProfileSettings{ProfileID: fmt.Sprint("p", i), RfRegion: "EU", MaxEIRP: FlexInt(r.IntN(20)), SupportsJoin: r.IntN(2) == 0}})
	}
	for i := range r.IntN(3) {
		s.Codecs = append(s.Codecs, Codec{ID: FlexString(fmt.Sprint(100 + i)), Name: name(), DecoderScript: "<script>&", DevEUIPrefix: "24E1"})
	}
	for i := range r.IntN(3) {
		s.BuiltinCodecs = append(s.BuiltinCodecs, CodecShort{ID: FlexString(fmt.Sprint(i + 1)), Name: name()})
	}
	for i := range n {
		s.Devices = append(s.Devices, Device{
			DevEUI: pick(fmt.Sprintf("24e124%010x", r.IntN(n*2+1)), fmt.Sprintf("24E124%010X", i)), Name: name(),
			ApplicationID: "1", ProfileID: pick("p0", "p1", "gone", ""), ProfileName: pick("", "named"),
			PayloadCodecID: FlexString(pick("", "0", "100", "1", "999")), PayloadName: pick("", "pn"),
			AppKey: pick("", "00112233445566778899AABBCCDDEEFF", "sha256:abc"), DevAddr: pick("", "01ab23cd"),
			FCntUp: FlexInt(r.IntN(9)), FPort: FlexInt(r.IntN(200)), MbMode: pick("", "rtu"), LastSeenAt: "now",
		})
	}
	for range r.IntN(3) {
		g := MulticastGroupInfo{MulticastGroup: MulticastGroup{Name: name(), McAddr: "01ab23cd", McNwkSKey: "AA", McAppSKey: ""}}
		for range r.IntN(5) {
			g.Devices = append(g.Devices, GroupMember{DevEUI: pick("24e1240000000001", "24E1240000000002", "24e1240000000000")})
		}
		s.Groups = append(s.Groups, g)
	}
	for i := range r.IntN(3) {
		t := FuotaTask{ID: FlexInt(i + 1), Name: name(), DevEUIs: []string{"24e1240000000002", "24E1240000000001"}, Status: FlexInt(r.IntN(5))}
		if r.IntN(2) == 0 {
			t.IsOfficialFirmware = true
			t.OfficialFirmwareInfo = &OfficialFirmware{}
		}
		s.Tasks = append(s.Tasks, t)
	}
	return s
}

// TestFingerprintUnchanged: the fingerprint written element by element is
// the digest of the whole canonical document, byte for byte, on states of
// every shape (saved plans made before still apply).
func TestFingerprintUnchanged(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 400 {
		s := randomState(r, r.IntN(60))
		if got, want := s.Fingerprint(), refFingerprint(s); got != want {
			b, _ := json.Marshal(s)
			t.Fatalf("state %d: fingerprint %s, want %s\n%s", i, got, want, b)
		}
	}
	empty := &State{}
	if got, want := empty.Fingerprint(), refFingerprint(empty); got != want {
		t.Errorf("empty state: %s, want %s", got, want)
	}
}
