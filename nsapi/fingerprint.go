package nsapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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
	for _, a := range s.Applications {
		c.Applications = append(c.Applications, a)
	}
	for _, p := range s.Profiles {
		q := Profile{Name: p.Name, Profile: p.Profile}
		q.Profile.ProfileID, q.Profile.RfRegion, q.Profile.MaxDutyCycle = "", "", 0
		c.Profiles = append(c.Profiles, q)
	}
	for _, d := range s.Devices {
		e := Device{
			DevEUI:        strings.ToUpper(d.DevEUI),
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
		c.Devices = append(c.Devices, e)
	}
	for _, k := range s.Codecs {
		k.ID, k.DevEUIPrefix = "", ""
		c.Codecs = append(c.Codecs, k)
	}
	for _, g := range s.Groups {
		h := MulticastGroupInfo{MulticastGroup: g.MulticastGroup}
		h.McAddr = strings.ToUpper(h.McAddr)
		h.McNwkSKey, h.McAppSKey = secretDigest(h.McNwkSKey), secretDigest(h.McAppSKey)
		for _, m := range g.Devices {
			h.Devices = append(h.Devices, GroupMember{DevEUI: strings.ToUpper(m.DevEUI)})
		}
		sort.Slice(h.Devices, func(i, j int) bool { return h.Devices[i].DevEUI < h.Devices[j].DevEUI })
		c.Groups = append(c.Groups, h)
	}
	for _, t := range s.Tasks {
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
		c.Tasks = append(c.Tasks, u)
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
func (s *State) Fingerprint() string {
	b, err := json.Marshal(s.Canonical())
	if err != nil { // cannot happen: the state is plain data
		return "unfingerprintable"
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
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
