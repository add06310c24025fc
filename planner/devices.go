// Devices: references to profiles, codecs and applications resolved,
// keys checked against the join type, ABP sessions kept as they run.

package planner

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
	"github.com/gwsync/gwsync/site"
)

func codecID(s nsapi.FlexString) string {
	v := strings.TrimSpace(string(s))
	if v == "0" {
		return ""
	}
	return v
}

func (b *builder) application(sd *site.Device, path string) (nsapi.FlexString, bool) {
	apps := b.live.Applications
	if sd.Application == "" {
		if len(apps) == 1 {
			return apps[0].ApplicationID, true
		}
		b.problem(sd.Pos, path, "no application given and the gateway has %d applications: name one", len(apps))
		return "", false
	}
	for _, a := range apps {
		if a.AppName == sd.Application {
			return a.ApplicationID, true
		}
	}
	for _, a := range apps {
		if strings.TrimSpace(string(a.ApplicationID)) == sd.Application {
			return a.ApplicationID, true
		}
	}
	have := make([]string, 0, len(apps))
	for _, a := range apps {
		have = append(have, fmt.Sprintf("%s (id %s)", a.AppName, a.ApplicationID))
	}
	slices.Sort(have)
	b.devProblem(sd, path, "application %q is not on the gateway (it has: %s); applications are made in the gateway's web UI",
		sd.Application, strings.Join(have, ", "))
	return "", false
}

func (b *builder) devices() {
	for i := range b.site.Devices {
		sd := &b.site.Devices[i]
		if want, refs, ok := b.desiredDevice(sd, fmt.Sprintf("devices[%d]", i)); ok {
			b.device(sd, want, refs)
		}
	}
}

// deviceProfile resolves a device's profile: by name in the site or on the
// gateway, or by id on the gateway.
func (b *builder) deviceProfile(sd *site.Device, path string) (target, bool) {
	name := cmp.Or(sd.Profile, nsapi.DefaultProfile)
	if t, ok := b.siteProfiles[name]; ok {
		return t, true
	}
	if lp, ok := b.liveProfiles[name]; ok {
		if b.usedProfiles[name] { // renamed away by the site
			b.devProblem(sd, path, "profile %q is renamed by the site: refer to its new name", name)
			return target{}, false
		}
		b.uses(plan.KindProfile, lp.Name, sd, path)
		return target{name: name, id: lp.ID(), joins: lp.Profile.SupportsJoin}, true
	}
	if lp, ok := b.liveProfByID[name]; ok {
		b.uses(plan.KindProfile, lp.Name, sd, path)
		return target{name: lp.Name, id: lp.ID(), joins: lp.Profile.SupportsJoin}, true
	}
	b.devProblem(sd, path, "profile %q is neither in the site nor on the gateway", name)
	return target{}, false
}

// uses records the first use of a gateway's profile or codec that the site
// does not declare.
func (b *builder) uses(k plan.Kind, name string, sd *site.Device, path string) {
	if a := address(k, name); b.liveUses[a] == (use{}) {
		pos, path := fieldAt(sd, path)
		b.liveUses[a] = use{pos: pos, path: path}
	}
}

// fieldAt is where the device field that path names (devices[2].codec)
// stands, and its path as the site names it: in the device, its CSV row or
// deviceDefaults. A field the device leaves out stands at the device.
func fieldAt(sd *site.Device, path string) (site.Pos, string) {
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		if f, ok := sd.At(path[i+1:]); ok {
			return f.Pos, f.Path
		}
	}
	return sd.Pos, path
}

// devProblem records a problem with a device's field (path names it).
func (b *builder) devProblem(sd *site.Device, path, format string, args ...any) {
	pos, path := fieldAt(sd, path)
	b.problem(pos, path, format, args...)
}

// deviceCodec resolves a device's codec by name: custom in the site or on
// the gateway, or built-in. No codec resolves to the zero target.
func (b *builder) deviceCodec(sd *site.Device, path string) (target, bool) {
	name := sd.Codec
	if name == "" {
		return target{}, true
	}
	if t, ok := b.siteCodecs[name]; ok {
		return t, true
	}
	if lc, ok := b.liveCodecs[name]; ok && !b.usedCodecs[name] {
		b.uses(plan.KindCodec, name, sd, path)
		return target{name: name, id: string(lc.ID)}, true
	}
	if bc, ok := b.builtin[name]; ok {
		return target{name: name, id: string(bc.ID)}, true
	}
	b.devProblem(sd, path, "codec %q is neither in the site nor on the gateway (custom or built-in)", name)
	return target{}, false
}

// deviceKeys checks that a device has the keys its profile's join type
// needs.
func (b *builder) deviceKeys(sd *site.Device, path string, prof target) bool {
	if prof.joins {
		if !sd.AppKey.IsSet() {
			b.problem(sd.Pos, path+".appKey", "profile %q joins by OTAA: the device needs an appKey", prof.name)
			return false
		}
		return true
	}
	var missing []string
	if sd.DevAddr == "" {
		missing = append(missing, "devAddr")
	}
	if !sd.NwkSKey.IsSet() {
		missing = append(missing, "nwkSKey")
	}
	if !sd.AppSKey.IsSet() {
		missing = append(missing, "appSKey")
	}
	if len(missing) > 0 {
		b.problem(sd.Pos, path, "profile %q is ABP (supportsJoin false): the device needs %s", prof.name, strings.Join(missing, ", "))
		return false
	}
	return true
}

// desiredDevice is the device the site declares, with its references
// resolved, and the references this plan's creates fill in.
func (b *builder) desiredDevice(sd *site.Device, path string) (nsapi.Device, []plan.Ref, bool) {
	appID, okApp := b.application(sd, path+".application")
	prof, okProf := b.deviceProfile(sd, path+".profile")
	codec, okCodec := b.deviceCodec(sd, path+".codec")
	if !okApp || !okProf || !okCodec || !b.deviceKeys(sd, path, prof) {
		return nsapi.Device{}, nil, false
	}
	var refs []plan.Ref
	for _, r := range []*plan.Ref{prof.ref, codec.ref} {
		if r != nil {
			refs = append(refs, *r)
		}
	}
	eui := strings.ToUpper(sd.DevEUI)
	want := nsapi.Device{
		DevEUI:         eui,
		Name:           cmp.Or(sd.Name, eui),
		ApplicationID:  appID,
		Description:    deref(sd.Description, eui),
		ProfileID:      prof.id,
		ProfileName:    prof.name,
		PayloadCodecID: nsapi.FlexString(codec.id),
		PayloadName:    codec.name,
		FPort:          nsapi.FlexInt(deref(sd.FPort, nsapi.DefaultFPort)),
		SkipFCntCheck:  deref(sd.SkipFCntCheck, false),
		SupportsJoin:   prof.joins,
		MbMode:         sd.MbMode,
		MbFramePort:    nsapi.FlexInt(deref(sd.MbFramePort, 0)),
		MbTcpPort:      nsapi.FlexInt(deref(sd.MbTcpPort, 0)),
	}
	if prof.joins {
		want.AppKey = strings.ToLower(sd.AppKey.Value)
	} else {
		want.DevAddr = strings.ToUpper(sd.DevAddr)
		want.NwkSKey, want.AppSKey = strings.ToLower(sd.NwkSKey.Value), strings.ToLower(sd.AppSKey.Value)
		want.FCntUp, want.FCntDown = nsapi.FlexInt(deref(sd.FCntUp, 0)), nsapi.FlexInt(deref(sd.FCntDown, 0))
	}
	return want, refs, true
}

// device compares a desired device with the gateway's and adds the change
// that takes the gateway there, if one is needed.
func (b *builder) device(sd *site.Device, want nsapi.Device, refs []plan.Ref) {
	eui := want.DevEUI
	addr := address(plan.KindDevice, eui)
	ld := b.liveDevices[eui]
	if ld == nil {
		b.add(plan.Change{Address: addr, Kind: plan.KindDevice, Name: want.Name, Action: plan.Create,
			After: &plan.Object{Device: &want}, Refs: refs})
		return
	}
	if sd.Description == nil && strings.EqualFold(ld.Description, eui) {
		want.Description = ld.Description // the gateway's default, in whatever case it wrote it
	}
	before := *ld
	before.DevEUI = eui
	if strings.TrimSpace(string(ld.ApplicationID)) != strings.TrimSpace(string(want.ApplicationID)) {
		b.replacedDevs[eui] = true
		b.add(plan.Change{Address: addr, Kind: plan.KindDevice, Name: want.Name, ID: eui, Action: plan.Replace,
			Reason: fmt.Sprintf("the gateway cannot move a device to another application in place (application %s -> %s); the device loses its session and frame counters", ld.ApplicationID, want.ApplicationID),
			Before: &plan.Object{Device: &before}, After: &plan.Object{Device: &want}, Refs: refs})
		return
	}
	if codecID(ld.PayloadCodecID) == string(want.PayloadCodecID) {
		// The same codec, or none, in the gateway's spelling ("0" for
		// none): the same on the wire, and no change to show in review.
		want.PayloadCodecID = ld.PayloadCodecID
		if codecID(ld.PayloadCodecID) == "" {
			want.PayloadName = ld.PayloadName
		}
	}
	joins := want.SupportsJoin
	switchesJoin := ld.SupportsJoin != joins
	differs := ld.Name != want.Name || ld.Description != want.Description || ld.ProfileID != want.ProfileID ||
		codecID(ld.PayloadCodecID) != codecID(want.PayloadCodecID) || ld.FPort != want.FPort || ld.SkipFCntCheck != want.SkipFCntCheck ||
		ld.MbMode != want.MbMode || ld.MbFramePort != want.MbFramePort || ld.MbTcpPort != want.MbTcpPort ||
		len(refs) > 0 || switchesJoin || (joins && !keysEqual(ld.AppKey, want.AppKey))
	switch {
	case switchesJoin:
	case joins:
		// A joined OTAA device's session and counters are the gateway's:
		// the update carries them as they are, never blanks them.
		want.DevAddr, want.NwkSKey, want.AppSKey = ld.DevAddr, ld.NwkSKey, ld.AppSKey
		want.FCntUp, want.FCntDown = ld.FCntUp, ld.FCntDown
	default:
		b.keepSession(addr, sd, ld, &want)
	}
	if !differs {
		return
	}
	b.add(plan.Change{Address: addr, Kind: plan.KindDevice, Name: want.Name, ID: eui, Action: plan.Update,
		Before: &plan.Object{Device: &before}, After: &plan.Object{Device: &want}, Refs: refs})
}

// keepSession keeps an ABP device's running session in want, noting where
// the site's differs. Session state is set at create: a later difference is
// reported, not written.
func (b *builder) keepSession(addr string, sd *site.Device, ld, want *nsapi.Device) {
	var diff []string
	if !strings.EqualFold(ld.DevAddr, want.DevAddr) {
		diff = append(diff, "devAddr")
	}
	if !keysEqual(ld.NwkSKey, want.NwkSKey) {
		diff = append(diff, "nwkSKey")
	}
	if !keysEqual(ld.AppSKey, want.AppSKey) {
		diff = append(diff, "appSKey")
	}
	// Frame counters the site gives are where the session starts: traffic
	// moves them on, so only a gateway counter behind the site's is noted.
	if sd.FCntUp != nil && ld.FCntUp < want.FCntUp {
		diff = append(diff, fmt.Sprintf("fCntUp (gateway %d, site %d)", ld.FCntUp, want.FCntUp))
	}
	if sd.FCntDown != nil && ld.FCntDown < want.FCntDown {
		diff = append(diff, fmt.Sprintf("fCntDown (gateway %d, site %d)", ld.FCntDown, want.FCntDown))
	}
	if len(diff) > 0 {
		b.note(addr, "ABP session differs from the site: %s; session state is set when the device is created, so the plan does not change it (delete and re-create the device to reset it)", strings.Join(diff, ", "))
	}
	// Kept as the gateway holds them, digests too (a snapshot's): the
	// update sends the session as read just before it, never as planned,
	// and a plan shows no key change that no write makes.
	want.DevAddr, want.NwkSKey, want.AppSKey = ld.DevAddr, ld.NwkSKey, ld.AppSKey
	want.FCntUp, want.FCntDown = ld.FCntUp, ld.FCntDown
}
