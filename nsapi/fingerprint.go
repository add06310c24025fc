package nsapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash"
	"io"
	"sort"
	"strings"
)

// Canonical returns the state with everything that a gateway owns or moves on
// its own taken out, server ids replaced by the names they point at, EUIs upper
// case, hex lower case and keys replaced by digests. Two gateways with the same
// Canonical form hold the same configuration, whatever ids they assigned: a
// rollback that re-creates a deleted profile gets a new id and still compares
// equal. Fingerprint hashes it.
func (s *State) Canonical() *State {
	c := &State{FormatVersion: s.FormatVersion, ChannelPlan: strings.ToUpper(s.ChannelPlan)}
	profileName := map[string]string{}
	for _, p := range s.Profiles {
		profileName[p.Profile.ProfileID] = p.Name
	}
	codecName := map[string]string{}
	for _, k := range s.Codecs {
		codecName[string(k.ID)] = k.Name
	}
	for _, k := range s.BuiltinCodecs {
		codecName[string(k.ID)] = k.Name
		c.BuiltinCodecs = append(c.BuiltinCodecs, CodecShort{Name: k.Name})
	}
	c.Applications = append(c.Applications, s.Applications...)
	for _, p := range s.Profiles {
		q := Profile{Name: p.Name, Profile: p.Profile}
		q.Profile.ProfileID, q.Profile.RfRegion, q.Profile.MaxDutyCycle = "", "", 0
		c.Profiles = append(c.Profiles, q)
	}
	for i := range s.Devices {
		d := &s.Devices[i]
		c.Devices = append(c.Devices, canonicalDevice(d, strings.ToUpper(d.DevEUI), profileName, codecName))
	}
	for _, k := range s.Codecs {
		k.ID, k.DevEUIPrefix = "", ""
		c.Codecs = append(c.Codecs, k)
	}
	for i := range s.Groups {
		c.Groups = append(c.Groups, canonicalGroup(&s.Groups[i]))
	}
	for i := range s.Tasks {
		c.Tasks = append(c.Tasks, canonicalTask(&s.Tasks[i]))
	}
	sort.Slice(c.Applications, func(i, j int) bool { return c.Applications[i].ApplicationID < c.Applications[j].ApplicationID })
	sort.Slice(c.Profiles, func(i, j int) bool { return c.Profiles[i].Name < c.Profiles[j].Name })
	sort.Slice(c.Devices, func(i, j int) bool { return c.Devices[i].DevEUI < c.Devices[j].DevEUI })
	sort.Slice(c.Codecs, func(i, j int) bool { return c.Codecs[i].Name < c.Codecs[j].Name })
	sort.Slice(c.BuiltinCodecs, func(i, j int) bool { return c.BuiltinCodecs[i].Name < c.BuiltinCodecs[j].Name })
	sort.Slice(c.Groups, func(i, j int) bool { return c.Groups[i].Name < c.Groups[j].Name })
	sort.Slice(c.Tasks, func(i, j int) bool { return c.Tasks[i].Name < c.Tasks[j].Name })
	return c
}

// Fingerprint is a digest of the state's Canonical form: equal fingerprints
// mean equal configurations. Saved plans carry it to detect a gateway that
// moved since the plan was made.
//
// It hashes the bytes json.Marshal(s.Canonical()) would give, written one
// element at a time: no canonical copy of the state and no document in
// memory (it was 28% of a plan's allocations at 10,000 devices).
func (s *State) Fingerprint() string {
	f := newFingerprinter()
	profileName := map[string]string{}
	for _, p := range s.Profiles {
		profileName[p.Profile.ProfileID] = p.Name
	}
	codecName := map[string]string{}
	for _, k := range s.Codecs {
		codecName[string(k.ID)] = k.Name
	}
	for _, k := range s.BuiltinCodecs {
		codecName[string(k.ID)] = k.Name
	}

	f.raw(`{"format_version":`)
	f.value(s.FormatVersion)
	f.raw(`,"channelPlan":`)
	f.value(strings.ToUpper(s.ChannelPlan))

	f.raw(`,"applications":`)
	f.list(len(s.Applications), func(i, j int) bool {
		return s.Applications[i].ApplicationID < s.Applications[j].ApplicationID
	}, func(i int) { f.value(&s.Applications[i]) })

	f.raw(`,"profiles":`)
	q := new(Profile)
	f.list(len(s.Profiles), func(i, j int) bool { return s.Profiles[i].Name < s.Profiles[j].Name }, func(i int) {
		p := &s.Profiles[i]
		*q = Profile{Name: p.Name, Profile: p.Profile}
		q.Profile.ProfileID, q.Profile.RfRegion, q.Profile.MaxDutyCycle = "", "", 0
		f.value(q)
	})

	f.raw(`,"devices":`)
	euis := make([]string, len(s.Devices))
	for i := range s.Devices {
		euis[i] = strings.ToUpper(s.Devices[i].DevEUI)
	}
	e := new(Device)
	f.list(len(s.Devices), func(i, j int) bool { return euis[i] < euis[j] }, func(i int) {
		*e = canonicalDevice(&s.Devices[i], euis[i], profileName, codecName)
		f.value(e)
	})

	f.raw(`,"codecs":`)
	k := new(Codec)
	f.list(len(s.Codecs), func(i, j int) bool { return s.Codecs[i].Name < s.Codecs[j].Name }, func(i int) {
		*k = s.Codecs[i]
		k.ID, k.DevEUIPrefix = "", ""
		f.value(k)
	})

	f.raw(`,"builtinCodecs":`)
	b := new(CodecShort)
	f.list(len(s.BuiltinCodecs), func(i, j int) bool { return s.BuiltinCodecs[i].Name < s.BuiltinCodecs[j].Name }, func(i int) {
		*b = CodecShort{Name: s.BuiltinCodecs[i].Name}
		f.value(b)
	})

	f.raw(`,"multicastGroups":`)
	h := new(MulticastGroupInfo)
	f.list(len(s.Groups), func(i, j int) bool { return s.Groups[i].Name < s.Groups[j].Name }, func(i int) {
		*h = canonicalGroup(&s.Groups[i])
		f.value(h)
	})

	f.raw(`,"fuotaTasks":`)
	u := new(FuotaTask)
	f.list(len(s.Tasks), func(i, j int) bool { return s.Tasks[i].Name < s.Tasks[j].Name }, func(i int) {
		*u = canonicalTask(&s.Tasks[i])
		f.value(u)
	})
	f.raw("}")
	if f.err != nil { // cannot happen: the state is plain data
		return "unfingerprintable"
	}
	return "sha256:" + hex.EncodeToString(f.h.Sum(nil))
}

// fingerprinter hashes a JSON document as it is written.
type fingerprinter struct {
	h   hash.Hash
	buf bytes.Buffer
	enc *json.Encoder
	err error
}

func newFingerprinter() *fingerprinter {
	f := &fingerprinter{h: sha256.New()}
	f.enc = json.NewEncoder(&f.buf) // escapes HTML, as json.Marshal does
	return f
}

func (f *fingerprinter) raw(s string) { _, _ = io.WriteString(f.h, s) }

// value writes v as json.Marshal does.
func (f *fingerprinter) value(v any) {
	f.buf.Reset()
	if err := f.enc.Encode(v); err != nil {
		f.err = err
		return
	}
	_, _ = f.h.Write(bytes.TrimSuffix(f.buf.Bytes(), []byte("\n")))
}

// list writes n elements as a JSON array (null when there are none, as a
// nil slice marshals), in the order sort.Slice gives with less: sorting
// their indexes makes the same comparisons and swaps as sorting a copy.
func (f *fingerprinter) list(n int, less func(i, j int) bool, each func(i int)) {
	if n == 0 {
		f.raw("null")
		return
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return less(order[a], order[b]) })
	f.raw("[")
	for x, i := range order {
		if x > 0 {
			f.raw(",")
		}
		each(i)
	}
	f.raw("]")
}

// canonicalDevice is d in Canonical form; eui is d.DevEUI upper case.
func canonicalDevice(d *Device, eui string, profileName, codecName map[string]string) Device {
	e := Device{
		DevEUI:        eui,
		Name:          d.Name,
		ApplicationID: d.ApplicationID,
		Description:   d.Description,
		ProfileName:   nameOr(profileName, d.ProfileID, d.ProfileName),
		SkipFCntCheck: d.SkipFCntCheck,
		AppKey:        secretDigest(d.AppKey),
		DevAddr:       strings.ToUpper(d.DevAddr),
		AppSKey:       secretDigest(d.AppSKey),
		NwkSKey:       secretDigest(d.NwkSKey),
		SupportsJoin:  d.SupportsJoin,
		MbMode:        d.MbMode,
		MbFramePort:   d.MbFramePort,
		MbTcpPort:     d.MbTcpPort,
		FPort:         d.FPort,
	}
	if id := string(d.PayloadCodecID); id != "" && id != "0" {
		e.PayloadName = nameOr(codecName, id, d.PayloadName)
	}
	if d.SupportsJoin {
		// an OTAA device's session is the gateway's: it changes at every
		// join, which no site sets
		e.DevAddr, e.AppSKey, e.NwkSKey = "", "", ""
	}
	return e
}

// canonicalGroup is g in Canonical form. Its frame counter is left out:
// the gateway moves it with every multicast downlink (spec 4.5), so it
// says nothing about the configuration.
func canonicalGroup(g *MulticastGroupInfo) MulticastGroupInfo {
	h := MulticastGroupInfo{MulticastGroup: g.MulticastGroup}
	h.FCnt = 0
	h.McAddr = strings.ToUpper(h.McAddr)
	h.McNwkSKey, h.McAppSKey = secretDigest(h.McNwkSKey), secretDigest(h.McAppSKey)
	for _, m := range g.Devices {
		h.Devices = append(h.Devices, GroupMember{DevEUI: strings.ToUpper(m.DevEUI)})
	}
	sort.Slice(h.Devices, func(i, j int) bool { return h.Devices[i].DevEUI < h.Devices[j].DevEUI })
	return h
}

// canonicalTask is t in Canonical form.
func canonicalTask(t *FuotaTask) FuotaTask {
	u := FuotaTask{
		Name:               t.Name,
		Description:        t.Description,
		StartedAt:          t.StartedAt,
		FirmwareName:       t.FirmwareName,
		FragmentInfo:       t.FragmentInfo,
		TmpMcInfo:          TmpMcInfo{GroupType: t.TmpMcInfo.GroupType, DR: t.TmpMcInfo.DR, Frequency: t.TmpMcInfo.Frequency},
		IsOfficialFirmware: t.IsOfficialFirmware,
	}
	for _, e := range t.DevEUIs {
		u.DevEUIs = append(u.DevEUIs, strings.ToUpper(e))
	}
	sort.Strings(u.DevEUIs)
	if t.OfficialFirmwareInfo != nil {
		o := *t.OfficialFirmwareInfo
		u.OfficialFirmwareInfo = &o
	}
	return u
}

func nameOr(m map[string]string, id, fallback string) string {
	if n, ok := m[id]; ok {
		return n
	}
	if fallback != "" {
		return fallback
	}
	return "id:" + id
}

// secretDigest digests a key for comparison; a value that is already a
// digest (a masked snapshot) stays as it is, so masked and clear states of
// the same gateway compare equal.
func secretDigest(v string) string {
	if v == "" || strings.HasPrefix(v, "sha256:") {
		return v
	}
	sum := sha256.Sum256([]byte(strings.ToLower(v)))
	return "sha256:" + hex.EncodeToString(sum[:])
}
