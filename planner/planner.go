// Package planner compares a site's desired state with a gateway's live
// state and makes the ordered plan that takes the gateway there. It is the
// only place that decides what differs: it fills in the spec's defaults for
// the gateway's channel plan, normalises case and number spellings, ignores
// what the server owns or moves on its own, and resolves references by name.
// It does no network I/O (live state comes in as data) and renders nothing.
package planner

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/gwsync/gwsync/band"
	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
	"github.com/gwsync/gwsync/site"
)

// Reader reads a gateway's live state; *nsapi.Client satisfies it.
type Reader interface {
	ReadState(ctx context.Context) (*nsapi.State, error)
}

// Options tune Plan.
type Options struct {
	// ReadFile reads a firmware file; nil means os.ReadFile. It is called
	// only for FUOTA tasks that are created, updated or replaced.
	ReadFile func(path string) ([]byte, error)
	// OfficialFirmware, when set, completes an official firmware reference
	// (model, version and optional id) with the catalogue entry the task
	// body needs. When nil, the task carries model, version and id only.
	OfficialFirmware func(model, version, id string) (*nsapi.OfficialFirmware, error)
}

// Defaults the spec gives for fields a site leaves out (beyond the channel
// plan's RX2 and ping-slot defaults, which come from band).
const (
	DefaultProfile           = "ClassA-OTAA"
	DefaultMacVersion        = "1.0.2"
	DefaultRegParamsRevision = "B"
	DefaultClassTimeout      = 10
	DefaultPingSlotPeriod    = 128
	DefaultFPort             = 1
	DefaultMcAddr            = "11111111"
	DefaultGroupType         = "CLASS_C"
	// DefaultKey is the spec's published default key, which the gateway
	// uses for a multicast key the site leaves out.
	DefaultKey = "5572404c696e6b4c6f52613230313823"
)

// Problem is one reason a plan cannot be made, at its place in a site file.
type Problem struct {
	Pos  site.Pos
	Path string // e.g. devices[2].profile
	Msg  string
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Pos.File != "" {
		b.WriteString(p.Pos.File)
		if p.Pos.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Pos.Line)
		}
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error is every problem that kept Plan from making a plan.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Plan compares desired against live and returns the ordered plan. It is
// pure apart from reading firmware files. Errors come all at once in an
// *Error: a gateway.channelPlan that differs from the gateway's, a reference
// that resolves neither in the site nor on the gateway, a device lacking the
// keys its profile's join type needs.
func Plan(desired *site.Site, live *nsapi.State, opts Options) (*plan.Plan, error) {
	if desired == nil || live == nil {
		return nil, fmt.Errorf("plan: no site or no live state")
	}
	if opts.ReadFile == nil {
		opts.ReadFile = os.ReadFile
	}
	b := &builder{site: desired, live: live, opts: opts}
	if !b.channelPlan() {
		return nil, &Error{Problems: b.problems}
	}
	b.index()
	b.profiles()
	b.codecs()
	b.devices()
	b.groups()
	b.tasks()
	b.prune()
	if len(b.problems) > 0 {
		sort.SliceStable(b.problems, func(i, j int) bool {
			pi, pj := b.problems[i].Pos, b.problems[j].Pos
			if pi.File != pj.File {
				return pi.File < pj.File
			}
			return pi.Line < pj.Line
		})
		return nil, &Error{Problems: b.problems}
	}
	plan.Sort(b.changes)
	sort.Slice(b.unmanaged, func(i, j int) bool { return b.unmanaged[i].Address < b.unmanaged[j].Address })
	sort.SliceStable(b.notes, func(i, j int) bool { return b.notes[i].Address < b.notes[j].Address })
	p := &plan.Plan{
		FormatVersion:    plan.FormatVersion,
		GatewayEUI:       strings.ToUpper(firstNonEmpty(desired.Gateway.EUI, live.GatewayEUI)),
		ChannelPlan:      b.band.Name,
		StateFingerprint: live.Fingerprint(),
		SiteFiles:        append([]string(nil), desired.Files...),
		Changes:          b.changes,
		Unmanaged:        b.unmanaged,
		Notes:            b.notes,
	}
	if p.Changes == nil {
		p.Changes = []plan.Change{}
	}
	return p, nil
}

type builder struct {
	site *site.Site
	live *nsapi.State
	opts Options
	band *band.Plan

	problems  []Problem
	changes   []plan.Change
	unmanaged []plan.Unmanaged
	notes     []plan.Note

	// live indexes
	liveProfiles map[string]*nsapi.Profile // by name
	liveProfByID map[string]*nsapi.Profile
	liveCodecs   map[string]*nsapi.Codec // custom, by name
	builtin      map[string]nsapi.CodecShort
	liveDevices  map[string]*nsapi.Device // by upper EUI
	liveGroups   map[string]*nsapi.MulticastGroupInfo
	liveTasks    map[string]*nsapi.FuotaTask

	// what the site claims of the live state (by live name or EUI)
	usedProfiles, usedCodecs, usedGroups, usedTasks map[string]bool

	// desired resources by name, and their ids ("" when the plan creates them)
	siteProfiles map[string]*desiredRef // by site name
	siteCodecs   map[string]*desiredRef
	siteDevices  map[string]bool // by upper EUI
	siteDevNames map[string]string
	replacedDevs map[string]bool
	deletedDevs  map[string]bool
}

// desiredRef is a site resource as a reference target.
type desiredRef struct {
	id           string // live server id; "" when created by this plan
	address      string
	supportsJoin bool
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func (b *builder) problem(pos site.Pos, path, format string, args ...any) {
	b.problems = append(b.problems, Problem{Pos: pos, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (b *builder) channelPlan() bool {
	liveName := b.live.ChannelPlan
	if liveName == "" {
		liveName = b.site.Gateway.ChannelPlan
	}
	if liveName == "" {
		b.problem(site.Pos{}, "gateway.channelPlan", "the gateway reports no channel plan and the site names none")
		return false
	}
	lp, err := band.Lookup(liveName)
	if err != nil {
		b.problem(site.Pos{}, "channelPlan", "gateway: %v", err)
		return false
	}
	b.band = lp
	if want := b.site.Gateway.ChannelPlan; want != "" {
		sp, err := band.Lookup(want)
		pos := site.Pos{}
		if len(b.site.Files) > 0 {
			pos.File = b.site.Files[0]
		}
		if err != nil {
			b.problem(pos, "gateway.channelPlan", "%v", err)
			return false
		}
		if sp.Name != lp.Name {
			b.problem(pos, "gateway.channelPlan", "the site is for %s but the gateway runs %s", sp.Name, lp.Name)
			return false
		}
	}
	return true
}

func (b *builder) index() {
	l := b.live
	b.liveProfiles = map[string]*nsapi.Profile{}
	b.liveProfByID = map[string]*nsapi.Profile{}
	for i := range l.Profiles {
		p := &l.Profiles[i]
		b.liveProfiles[p.Name] = p
		b.liveProfByID[p.ID()] = p
	}
	b.liveCodecs = map[string]*nsapi.Codec{}
	for i := range l.Codecs {
		b.liveCodecs[l.Codecs[i].Name] = &l.Codecs[i]
	}
	b.builtin = map[string]nsapi.CodecShort{}
	for _, c := range l.BuiltinCodecs {
		b.builtin[c.Name] = c
	}
	b.liveDevices = map[string]*nsapi.Device{}
	for i := range l.Devices {
		b.liveDevices[strings.ToUpper(l.Devices[i].DevEUI)] = &l.Devices[i]
	}
	b.liveGroups = map[string]*nsapi.MulticastGroupInfo{}
	for i := range l.Groups {
		b.liveGroups[l.Groups[i].Name] = &l.Groups[i]
	}
	b.liveTasks = map[string]*nsapi.FuotaTask{}
	for i := range l.Tasks {
		b.liveTasks[l.Tasks[i].Name] = &l.Tasks[i]
	}
	b.usedProfiles, b.usedCodecs, b.usedGroups, b.usedTasks = map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	b.siteProfiles, b.siteCodecs = map[string]*desiredRef{}, map[string]*desiredRef{}
	b.siteDevices, b.replacedDevs, b.deletedDevs = map[string]bool{}, map[string]bool{}, map[string]bool{}
	b.siteDevNames = map[string]string{}
	for _, d := range b.site.Devices {
		e := strings.ToUpper(d.DevEUI)
		b.siteDevices[e] = true
		b.siteDevNames[e] = firstNonEmpty(d.Name, e)
	}
}

// claim finds the live resource a site resource stands for: by name, or by
// its renamedFrom when the site does not also declare that name.
func claim[T any](live map[string]*T, used map[string]bool, declared func(string) bool, name, renamedFrom string) (*T, string) {
	if v, ok := live[name]; ok && !used[name] {
		used[name] = true
		return v, ""
	}
	if renamedFrom != "" && !declared(renamedFrom) {
		if v, ok := live[renamedFrom]; ok && !used[renamedFrom] {
			used[renamedFrom] = true
			return v, renamedFrom
		}
	}
	return nil, ""
}

func (b *builder) add(c plan.Change) {
	var sens []string
	for _, o := range []*plan.Object{c.Before, c.After} {
		for k, v := range o.SecretFields() {
			if *v != "" {
				sens = append(sens, k)
			}
		}
	}
	sort.Strings(sens)
	c.Sensitive = dedupe(sens)
	b.changes = append(b.changes, c)
}

func dedupe(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	out := s[:1]
	for _, v := range s[1:] {
		if v != out[len(out)-1] {
			out = append(out, v)
		}
	}
	return out
}

func (b *builder) note(address, format string, args ...any) {
	b.notes = append(b.notes, plan.Note{Address: address, Text: fmt.Sprintf(format, args...)})
}

func renameReason(from string) string {
	if from == "" {
		return ""
	}
	return fmt.Sprintf("renamed from %q", from)
}

// ---- profiles ----

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

func sortedInts(s []int64) []int64 {
	out := append([]int64{}, s...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func (b *builder) desiredProfile(sp *site.Profile) nsapi.Profile {
	bp := b.band
	return nsapi.Profile{Name: sp.Name, Profile: nsapi.ProfileSettings{
		SupportsJoin:         deref(sp.SupportsJoin, false),
		SupportsClassB:       deref(sp.SupportsClassB, false),
		SupportsClassC:       deref(sp.SupportsClassC, false),
		MacVersion:           deref(sp.MacVersion, DefaultMacVersion),
		RegParamsRevision:    strings.ToUpper(deref(sp.RegParamsRevision, DefaultRegParamsRevision)),
		RxDROffset1:          nsapi.FlexInt(deref(sp.RxDROffset1, 0)),
		RxDataRate2:          nsapi.FlexInt(deref(sp.RxDataRate2, bp.RX2DR)),
		RxFreq2:              nsapi.FlexInt(deref(sp.RxFreq2, bp.RX2Freq)),
		FactoryPresetFreqs:   sortedInts(sp.FactoryPresetFreqs),
		EnableUplinkChannels: sortedInts(sp.EnableUplinkChannels),
		MaxEIRP:              nsapi.FlexInt(deref(sp.MaxEIRP, 0)),
		Supports32bitFCnt:    deref(sp.Supports32bitFCnt, false),
		PingSlotPeriod:       nsapi.FlexInt(deref(sp.PingSlotPeriod, DefaultPingSlotPeriod)),
		PingSlotDR:           nsapi.FlexInt(deref(sp.PingSlotDR, bp.PingSlotDR)),
		PingSlotFreq:         nsapi.FlexInt(deref(sp.PingSlotFreq, bp.PingSlotFreq)),
		ClassBTimeout:        nsapi.FlexInt(deref(sp.ClassBTimeout, DefaultClassTimeout)),
		ClassCTimeout:        nsapi.FlexInt(deref(sp.ClassCTimeout, DefaultClassTimeout)),
	}}
}

// profileKey is the comparable form of a profile: its write body with
// arrays sorted and spellings normalised.
func profileKey(p *nsapi.Profile) nsapi.ProfileWrite {
	w := p.Write()
	w.Profile.MacVersion = strings.TrimSpace(w.Profile.MacVersion)
	w.Profile.RegParamsRevision = strings.ToUpper(strings.TrimSpace(w.Profile.RegParamsRevision))
	w.Profile.FactoryPresetFreqs = sortedInts(w.Profile.FactoryPresetFreqs)
	w.Profile.EnableUplinkChannels = sortedInts(w.Profile.EnableUplinkChannels)
	return w
}

func (b *builder) profiles() {
	declared := map[string]bool{}
	for _, p := range b.site.Profiles {
		declared[p.Name] = true
	}
	isDeclared := func(n string) bool { return declared[n] }
	for i := range b.site.Profiles {
		sp := &b.site.Profiles[i]
		want := b.desiredProfile(sp)
		addr := "profile." + sp.Name
		lp, from := claim(b.liveProfiles, b.usedProfiles, isDeclared, sp.Name, sp.RenamedFrom)
		if lp == nil {
			b.siteProfiles[sp.Name] = &desiredRef{address: addr, supportsJoin: want.Profile.SupportsJoin}
			b.add(plan.Change{Address: addr, Kind: plan.KindProfile, Name: sp.Name, Action: plan.Create,
				After: &plan.Object{Profile: &want}})
			continue
		}
		want.Profile.ProfileID = lp.ID()
		b.siteProfiles[sp.Name] = &desiredRef{id: lp.ID(), address: addr, supportsJoin: want.Profile.SupportsJoin}
		if from == "" && reflect.DeepEqual(profileKey(&want), profileKey(lp)) {
			continue
		}
		before := *lp
		b.add(plan.Change{Address: addr, Kind: plan.KindProfile, Name: sp.Name, ID: lp.ID(), Action: plan.Update,
			Reason: renameReason(from), Before: &plan.Object{Profile: &before}, After: &plan.Object{Profile: &want}})
	}
}

// ---- codecs ----

func normScript(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.TrimRight(s, " \t\n")
}

func codecKey(c *nsapi.Codec) nsapi.CodecWrite {
	w := c.Write()
	w.EncoderScript, w.DecoderScript, w.CodecJSON = normScript(w.EncoderScript), normScript(w.DecoderScript), normScript(w.CodecJSON)
	w.Description = strings.TrimSpace(w.Description)
	return w
}

func (b *builder) codecs() {
	declared := map[string]bool{}
	for _, c := range b.site.Codecs {
		declared[c.Name] = true
	}
	isDeclared := func(n string) bool { return declared[n] }
	for i := range b.site.Codecs {
		sc := &b.site.Codecs[i]
		want := nsapi.Codec{Name: sc.Name, Description: sc.Description, TemplateID: nsapi.FlexInt(sc.TemplateID),
			EncoderScript: sc.EncoderScript, DecoderScript: sc.DecoderScript, TestEnabled: sc.TestEnabled,
			FPort: nsapi.FlexInt(sc.FPort), CodecJSON: sc.CodecJSON}
		addr := "codec." + sc.Name
		if _, ok := b.builtin[sc.Name]; ok {
			b.problem(sc.Pos, fmt.Sprintf("codecs[%d].name", i), "%q is a built-in codec of the gateway: give the custom codec another name", sc.Name)
			continue
		}
		lc, from := claim(b.liveCodecs, b.usedCodecs, isDeclared, sc.Name, sc.RenamedFrom)
		if lc == nil {
			b.siteCodecs[sc.Name] = &desiredRef{address: addr}
			b.add(plan.Change{Address: addr, Kind: plan.KindCodec, Name: sc.Name, Action: plan.Create,
				After: &plan.Object{Codec: &want}})
			continue
		}
		want.ID = lc.ID
		b.siteCodecs[sc.Name] = &desiredRef{id: string(lc.ID), address: addr}
		if from == "" && codecKey(&want) == codecKey(lc) {
			continue
		}
		before := *lc
		b.add(plan.Change{Address: addr, Kind: plan.KindCodec, Name: sc.Name, ID: string(lc.ID), Action: plan.Update,
			Reason: renameReason(from), Before: &plan.Object{Codec: &before}, After: &plan.Object{Codec: &want}})
	}
}

// ---- devices ----

func keysEqual(a, b string) bool { return plan.SecretDigest(a) == plan.SecretDigest(b) }

func isDigest(v string) bool { return strings.HasPrefix(v, "sha256:") }

// clearOrEmpty keeps a live key for a write body only when it is in clear.
func clearOrEmpty(v string) string {
	if isDigest(v) {
		return ""
	}
	return v
}

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
	names := make([]string, 0, len(apps))
	for _, a := range apps {
		names = append(names, fmt.Sprintf("%s (id %s)", a.AppName, a.ApplicationID))
	}
	sort.Strings(names)
	b.problem(sd.Pos, path, "application %q is not on the gateway (it has: %s); applications are made in the gateway's web UI",
		sd.Application, strings.Join(names, ", "))
	return "", false
}

func (b *builder) devices() {
	for i := range b.site.Devices {
		sd := &b.site.Devices[i]
		path := fmt.Sprintf("devices[%d]", i)
		eui := strings.ToUpper(sd.DevEUI)
		addr := "device." + eui
		ok := true
		appID, okApp := b.application(sd, path+".application")
		ok = ok && okApp

		var refs []plan.Ref
		profName := firstNonEmpty(sd.Profile, DefaultProfile)
		var profID string
		var joins bool
		if r, found := b.siteProfiles[profName]; found {
			profID, joins = r.id, r.supportsJoin
			if r.id == "" {
				refs = append(refs, plan.Ref{Field: "profileID", Address: r.address})
			}
		} else if lp, found := b.liveProfiles[profName]; found {
			profID, joins = lp.ID(), lp.Profile.SupportsJoin
			if b.usedProfiles[profName] { // renamed away by the site
				b.problem(sd.Pos, path+".profile", "profile %q is renamed by the site: refer to its new name", profName)
				ok = false
			}
		} else if lp, found := b.liveProfByID[profName]; found {
			profID, joins, profName = lp.ID(), lp.Profile.SupportsJoin, lp.Name
		} else {
			b.problem(sd.Pos, path+".profile", "profile %q is neither in the site nor on the gateway", profName)
			ok = false
		}

		var payloadID, payloadName string
		if sd.Codec != "" {
			payloadName = sd.Codec
			if r, found := b.siteCodecs[sd.Codec]; found {
				payloadID = r.id
				if r.id == "" {
					refs = append(refs, plan.Ref{Field: "payloadCodecID", Address: r.address})
				}
			} else if lc, found := b.liveCodecs[sd.Codec]; found && !b.usedCodecs[sd.Codec] {
				payloadID = string(lc.ID)
			} else if bc, found := b.builtin[sd.Codec]; found {
				payloadID = string(bc.ID)
			} else {
				b.problem(sd.Pos, path+".codec", "codec %q is neither in the site nor on the gateway (custom or built-in)", sd.Codec)
				ok = false
			}
		}

		if ok && joins && !sd.AppKey.IsSet() {
			b.problem(sd.Pos, path+".appKey", "profile %q joins by OTAA: the device needs an appKey", profName)
			ok = false
		}
		if ok && !joins {
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
				b.problem(sd.Pos, path, "profile %q is ABP (supportsJoin false): the device needs %s", profName, strings.Join(missing, ", "))
				ok = false
			}
		}
		if !ok {
			continue
		}

		want := nsapi.Device{
			DevEUI:         eui,
			Name:           firstNonEmpty(sd.Name, eui),
			ApplicationID:  appID,
			Description:    deref(sd.Description, eui),
			ProfileID:      profID,
			ProfileName:    profName,
			PayloadCodecID: nsapi.FlexString(payloadID),
			PayloadName:    payloadName,
			FPort:          nsapi.FlexInt(deref(sd.FPort, DefaultFPort)),
			SkipFCntCheck:  deref(sd.SkipFCntCheck, false),
			SupportsJoin:   joins,
			MbMode:         sd.MbMode,
			MbFramePort:    nsapi.FlexInt(deref(sd.MbFramePort, 0)),
			MbTcpPort:      nsapi.FlexInt(deref(sd.MbTcpPort, 0)),
		}
		if joins {
			want.AppKey = strings.ToLower(sd.AppKey.Value)
		} else {
			want.DevAddr = strings.ToUpper(sd.DevAddr)
			want.NwkSKey, want.AppSKey = strings.ToLower(sd.NwkSKey.Value), strings.ToLower(sd.AppSKey.Value)
			want.FCntUp, want.FCntDown = nsapi.FlexInt(deref(sd.FCntUp, 0)), nsapi.FlexInt(deref(sd.FCntDown, 0))
		}
		ld := b.liveDevices[eui]
		if ld == nil {
			b.add(plan.Change{Address: addr, Kind: plan.KindDevice, Name: want.Name, Action: plan.Create,
				After: &plan.Object{Device: &want}, Refs: refs})
			continue
		}
		if sd.Description == nil && strings.EqualFold(ld.Description, eui) {
			want.Description = ld.Description // the gateway's default, in whatever case it wrote it
		}
		before := *ld
		before.DevEUI = eui
		if strings.TrimSpace(string(ld.ApplicationID)) != strings.TrimSpace(string(appID)) {
			b.replacedDevs[eui] = true
			b.add(plan.Change{Address: addr, Kind: plan.KindDevice, Name: want.Name, ID: eui, Action: plan.Replace,
				Reason: fmt.Sprintf("the gateway cannot move a device to another application in place (application %s -> %s); the device loses its session and frame counters", ld.ApplicationID, appID),
				Before: &plan.Object{Device: &before}, After: &plan.Object{Device: &want}, Refs: refs})
			continue
		}
		differs := ld.Name != want.Name || ld.Description != want.Description || ld.ProfileID != want.ProfileID ||
			codecID(ld.PayloadCodecID) != payloadID || ld.FPort != want.FPort || ld.SkipFCntCheck != want.SkipFCntCheck ||
			ld.MbMode != want.MbMode || ld.MbFramePort != want.MbFramePort || ld.MbTcpPort != want.MbTcpPort ||
			len(refs) > 0
		switchesJoin := ld.SupportsJoin != joins
		if joins && !keysEqual(ld.AppKey, want.AppKey) {
			differs = true
		}
		if switchesJoin {
			differs = true
		}
		// Session state is set at create: a later difference is reported,
		// not written (unless the device changes its join type).
		if !joins && !switchesJoin {
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
			if sd.FCntUp != nil && ld.FCntUp != want.FCntUp {
				diff = append(diff, fmt.Sprintf("fCntUp (gateway %d, site %d)", ld.FCntUp, want.FCntUp))
			}
			if sd.FCntDown != nil && ld.FCntDown != want.FCntDown {
				diff = append(diff, fmt.Sprintf("fCntDown (gateway %d, site %d)", ld.FCntDown, want.FCntDown))
			}
			if len(diff) > 0 {
				b.note(addr, "ABP session differs from the site: %s; session state is set when the device is created, so the plan does not change it (delete and re-create the device to reset it)", strings.Join(diff, ", "))
			}
			// keep the running session as it is
			want.DevAddr, want.NwkSKey, want.AppSKey = ld.DevAddr, clearOrEmpty(ld.NwkSKey), clearOrEmpty(ld.AppSKey)
			want.FCntUp, want.FCntDown = ld.FCntUp, ld.FCntDown
		}
		if joins && !switchesJoin {
			if keysEqual(ld.AppKey, want.AppKey) && isDigest(ld.AppKey) {
				want.AppKey = strings.ToLower(sd.AppKey.Value)
			}
		}
		if !differs {
			continue
		}
		b.add(plan.Change{Address: addr, Kind: plan.KindDevice, Name: want.Name, ID: eui, Action: plan.Update,
			Before: &plan.Object{Device: &before}, After: &plan.Object{Device: &want}, Refs: refs})
	}
}

// ---- multicast groups and membership ----

func (b *builder) desiredGroup(sg *site.MulticastGroup) nsapi.MulticastGroup {
	typ := strings.ToUpper(firstNonEmpty(sg.GroupType, DefaultGroupType))
	dr, freq := b.band.RX2DR, b.band.RX2Freq
	if typ == "CLASS_B" {
		dr, freq = b.band.PingSlotDR, b.band.PingSlotFreq
	}
	key := func(s site.Secret) string { return strings.ToLower(firstNonEmpty(s.Value, DefaultKey)) }
	return nsapi.MulticastGroup{
		Name:           sg.Name,
		McAddr:         strings.ToUpper(firstNonEmpty(sg.McAddr, DefaultMcAddr)),
		McNwkSKey:      key(sg.McNwkSKey),
		McAppSKey:      key(sg.McAppSKey),
		FCnt:           nsapi.FlexInt(deref(sg.FCnt, 0)),
		GroupType:      typ,
		DR:             nsapi.FlexInt(deref(sg.DR, dr)),
		Frequency:      nsapi.FlexInt(deref(sg.Frequency, freq)),
		PingSlotPeriod: nsapi.FlexInt(deref(sg.PingSlotPeriod, DefaultPingSlotPeriod)),
	}
}

func groupsDiffer(a, l *nsapi.MulticastGroup) bool {
	if a.Name != l.Name || !strings.EqualFold(a.McAddr, l.McAddr) || !keysEqual(a.McNwkSKey, l.McNwkSKey) ||
		!keysEqual(a.McAppSKey, l.McAppSKey) || !strings.EqualFold(a.GroupType, l.GroupType) || a.DR != l.DR ||
		a.Frequency != l.Frequency {
		return true
	}
	// the ping-slot period means something to class B groups only
	return strings.EqualFold(a.GroupType, "CLASS_B") && a.PingSlotPeriod != l.PingSlotPeriod
}

// deviceName is the name a device has in the site, or else on the gateway.
func (b *builder) deviceName(eui string) string {
	if n, ok := b.siteDevNames[eui]; ok {
		return n
	}
	if d := b.liveDevices[eui]; d != nil {
		return d.Name
	}
	return ""
}

func validPeriod(p int64) bool {
	for _, v := range band.PingSlotPeriods {
		if v == p {
			return true
		}
	}
	return false
}

func memberAddress(group, eui string) string { return "multicast_member." + group + "." + eui }

func (b *builder) groups() {
	declared := map[string]bool{}
	for _, g := range b.site.MulticastGroups {
		declared[g.Name] = true
	}
	isDeclared := func(n string) bool { return declared[n] }
	for i := range b.site.MulticastGroups {
		sg := &b.site.MulticastGroups[i]
		path := fmt.Sprintf("multicastGroups[%d]", i)
		want := b.desiredGroup(sg)
		addr := "multicast_group." + sg.Name
		lg, from := claim(b.liveGroups, b.usedGroups, isDeclared, sg.Name, sg.RenamedFrom)
		groupID := ""
		liveMembers := map[string]bool{}
		if lg == nil {
			b.add(plan.Change{Address: addr, Kind: plan.KindGroup, Name: sg.Name, Action: plan.Create,
				After: &plan.Object{Group: &nsapi.MulticastGroupInfo{MulticastGroup: want}}})
		} else {
			groupID = lg.ID
			for _, m := range lg.Devices {
				e := strings.ToUpper(m.DevEUI)
				if !b.replacedDevs[e] {
					liveMembers[e] = true
				}
			}
			if sg.FCnt != nil && lg.FCnt != want.FCnt {
				b.note(addr, "frame counter differs (gateway %d, site %d); it is set when the group is created, so the plan does not change it", lg.FCnt, want.FCnt)
			}
			want.FCnt = lg.FCnt
			if !strings.EqualFold(want.GroupType, "CLASS_B") && validPeriod(int64(lg.PingSlotPeriod)) {
				want.PingSlotPeriod = lg.PingSlotPeriod // unused by class C: keep what the gateway has
			}
			if groupsDiffer(&want, &lg.MulticastGroup) || from != "" {
				before := *lg
				before.McAddr = strings.ToUpper(before.McAddr)
				before.Devices = append([]nsapi.GroupMember(nil), lg.Devices...)
				for k := range before.Devices {
					before.Devices[k].DevEUI = strings.ToUpper(before.Devices[k].DevEUI)
				}
				after := nsapi.MulticastGroupInfo{ID: lg.ID, MulticastGroup: want}
				if isDigest(lg.McNwkSKey) && keysEqual(lg.McNwkSKey, want.McNwkSKey) {
					after.McNwkSKey = want.McNwkSKey
				}
				b.add(plan.Change{Address: addr, Kind: plan.KindGroup, Name: sg.Name, ID: lg.ID, Action: plan.Update,
					Reason: renameReason(from), Before: &plan.Object{Group: &before}, After: &plan.Object{Group: &after}})
			}
		}
		desired := map[string]bool{}
		for j, e := range sg.Devices {
			e = strings.ToUpper(e)
			desired[e] = true
			if !b.siteDevices[e] && b.liveDevices[e] == nil {
				b.problem(sg.Pos, fmt.Sprintf("%s.devices[%d]", path, j), "device %s is neither in the site nor on the gateway", e)
				continue
			}
			if !b.siteDevices[e] && b.site.Prune.Devices {
				b.problem(sg.Pos, fmt.Sprintf("%s.devices[%d]", path, j), "device %s is not in the site, and prune deletes it: add it to the site or drop it from the group", e)
				continue
			}
			if liveMembers[e] {
				continue
			}
			m := &plan.Member{Group: sg.Name, GroupID: groupID, DevEUI: e}
			c := plan.Change{Address: memberAddress(sg.Name, e), Kind: plan.KindMember, Name: b.deviceName(e),
				Action: plan.Create, After: &plan.Object{Member: m}}
			if groupID == "" {
				c.Refs = []plan.Ref{{Field: "group_id", Address: addr}}
			}
			b.add(c)
		}
		for e := range liveMembers {
			if desired[e] {
				continue
			}
			b.add(plan.Change{Address: memberAddress(sg.Name, e), Kind: plan.KindMember, Name: b.deviceName(e),
				ID: groupID, Action: plan.Delete, Reason: "the site's group does not list this device",
				Before: &plan.Object{Member: &plan.Member{Group: sg.Name, GroupID: groupID, DevEUI: e}}})
		}
	}
}

// ---- FUOTA tasks ----

var taskStatus = map[int64]string{
	nsapi.TaskPending: "pending", nsapi.TaskWaiting: "waiting", nsapi.TaskExecuting: "executing",
	nsapi.TaskSucceeded: "succeeded", nsapi.TaskFailed: "failed",
}

func sameInstant(a, b string) bool {
	if a == b {
		return true
	}
	ta, err1 := time.Parse(time.RFC3339, a)
	tb, err2 := time.Parse(time.RFC3339, b)
	return err1 == nil && err2 == nil && ta.Equal(tb)
}

func upperSorted(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strings.ToUpper(v)
	}
	sort.Strings(out)
	return out
}

func liveFirmwareName(t *nsapi.FuotaTask) string {
	if t.FirmwareName != "" {
		return t.FirmwareName
	}
	if t.FirmwareInfo != nil {
		return t.FirmwareInfo.FirmwareName
	}
	return ""
}

func tasksDiffer(want, l *nsapi.FuotaTask) bool {
	if want.Description != l.Description || !sameInstant(want.StartedAt, l.StartedAt) ||
		!reflect.DeepEqual(upperSorted(want.DevEUIs), upperSorted(l.DevEUIs)) ||
		want.FragmentInfo != l.FragmentInfo || want.TmpMcInfo.GroupType != l.TmpMcInfo.GroupType ||
		want.TmpMcInfo.DR != l.TmpMcInfo.DR || want.TmpMcInfo.Frequency != l.TmpMcInfo.Frequency ||
		want.IsOfficialFirmware != l.IsOfficialFirmware {
		return true
	}
	if want.IsOfficialFirmware {
		w, o := want.OfficialFirmwareInfo, l.OfficialFirmwareInfo
		if o == nil || w == nil {
			return o != w
		}
		if !strings.EqualFold(w.Model, o.Model) || w.FirmwareVersion != o.FirmwareVersion {
			return true
		}
		return w.ID != "" && o.ID != "" && w.ID != o.ID
	}
	return want.FirmwareName != liveFirmwareName(l)
}

func (b *builder) desiredTask(st *site.FirmwareUpdate) nsapi.FuotaTask {
	t := nsapi.FuotaTask{
		Name:        st.Name,
		Description: st.Description,
		StartedAt:   st.StartAt,
		DevEUIs:     upperSorted(st.Devices),
		FragmentInfo: nsapi.FragmentInfo{FragmentSize: nsapi.FlexInt(st.Fragment.Size),
			FragmentInterval: nsapi.FlexInt(st.Fragment.IntervalMs), FragmentRedundancy: nsapi.FlexInt(st.Fragment.Redundancy)},
		TmpMcInfo: nsapi.TmpMcInfo{GroupType: 0, DR: nsapi.FlexInt(deref(st.Multicast.DR, b.band.RX2DR)),
			Frequency: nsapi.FlexInt(deref(st.Multicast.Frequency, b.band.RX2Freq))},
	}
	if st.Official != nil {
		t.IsOfficialFirmware = true
		t.OfficialFirmwareInfo = &nsapi.OfficialFirmware{ID: nsapi.FlexString(st.Official.ID), Model: st.Official.Model,
			FirmwareVersion: st.Official.Version}
	} else {
		t.FirmwareName = firstNonEmpty(st.FirmwareName, filepath.Base(st.FirmwareFile))
	}
	return t
}

// complete reads the firmware a written task carries.
func (b *builder) complete(st *site.FirmwareUpdate, path string, t *nsapi.FuotaTask) bool {
	if t.IsOfficialFirmware {
		if b.opts.OfficialFirmware != nil {
			o, err := b.opts.OfficialFirmware(st.Official.Model, st.Official.Version, st.Official.ID)
			if err != nil {
				b.problem(st.Pos, path+".official", "%v", err)
				return false
			}
			t.OfficialFirmwareInfo = o
		}
		return true
	}
	if st.FirmwareFile == "" {
		b.problem(st.Pos, path, "neither firmwareFile nor official is given")
		return false
	}
	data, err := b.opts.ReadFile(st.FirmwareFile)
	if err != nil {
		b.problem(st.Pos, path+".firmwareFile", "%v", err)
		return false
	}
	t.FirmwareInfo = &nsapi.FirmwareInfo{FirmwareName: t.FirmwareName, FileContent: base64.StdEncoding.EncodeToString(data)}
	return true
}

func (b *builder) tasks() {
	declared := map[string]bool{}
	for _, t := range b.site.FirmwareUpdates {
		declared[t.Name] = true
	}
	isDeclared := func(n string) bool { return declared[n] }
	for i := range b.site.FirmwareUpdates {
		st := &b.site.FirmwareUpdates[i]
		path := fmt.Sprintf("firmwareUpdates[%d]", i)
		addr := "fuota_task." + st.Name
		ok := true
		for j, e := range st.Devices {
			e = strings.ToUpper(e)
			if !b.siteDevices[e] && b.liveDevices[e] == nil {
				b.problem(st.Pos, fmt.Sprintf("%s.devices[%d]", path, j), "device %s is neither in the site nor on the gateway", e)
				ok = false
			}
		}
		want := b.desiredTask(st)
		lt, from := claim(b.liveTasks, b.usedTasks, isDeclared, st.Name, st.RenamedFrom)
		if !ok {
			continue
		}
		if lt == nil {
			if b.complete(st, path, &want) {
				b.add(plan.Change{Address: addr, Kind: plan.KindTask, Name: st.Name, Action: plan.Create,
					After: &plan.Object{Task: &want}})
			}
			continue
		}
		if !tasksDiffer(&want, lt) && from == "" {
			continue
		}
		if !b.complete(st, path, &want) {
			continue
		}
		before := *lt
		before.DevEUIs = upperSorted(lt.DevEUIs)
		if sameInstant(before.StartedAt, want.StartedAt) {
			before.StartedAt = want.StartedAt
		}
		id := fmt.Sprint(int64(lt.ID))
		status := int64(lt.Status)
		if status == nsapi.TaskExecuting || status == nsapi.TaskSucceeded || status == nsapi.TaskFailed {
			reason := fmt.Sprintf("the task is %s: the gateway cannot update it in place (code %d); it is deleted and created again", taskStatus[status], nsapi.CodeFuotaTaskStatus)
			if from != "" {
				reason = renameReason(from) + "; " + reason
			}
			b.add(plan.Change{Address: addr, Kind: plan.KindTask, Name: st.Name, ID: id, Action: plan.Replace,
				Reason: reason, Before: &plan.Object{Task: &before}, After: &plan.Object{Task: &want}})
			continue
		}
		want.ID = lt.ID
		b.add(plan.Change{Address: addr, Kind: plan.KindTask, Name: st.Name, ID: id, Action: plan.Update,
			Reason: renameReason(from), Before: &plan.Object{Task: &before}, After: &plan.Object{Task: &want}})
	}
}

// ---- what the gateway holds and the site does not ----

func (b *builder) prune() {
	pr := b.site.Prune
	l := b.live
	deletedProfiles := map[string]string{}
	for i := range l.Profiles {
		p := &l.Profiles[i]
		if b.usedProfiles[p.Name] || p.IsDefault {
			continue
		}
		addr := "profile." + p.Name
		if !pr.Profiles {
			b.unmanaged = append(b.unmanaged, plan.Unmanaged{Address: addr, Kind: plan.KindProfile, Name: p.Name})
			continue
		}
		deletedProfiles[p.ID()] = p.Name
		before := *p
		b.add(plan.Change{Address: addr, Kind: plan.KindProfile, Name: p.Name, ID: p.ID(), Action: plan.Delete,
			Reason: "the profile's settings are lost", Before: &plan.Object{Profile: &before}})
	}
	for i := range l.Codecs {
		c := &l.Codecs[i]
		if b.usedCodecs[c.Name] {
			continue
		}
		addr := "codec." + c.Name
		if !pr.Codecs {
			b.unmanaged = append(b.unmanaged, plan.Unmanaged{Address: addr, Kind: plan.KindCodec, Name: c.Name})
			continue
		}
		before := *c
		b.add(plan.Change{Address: addr, Kind: plan.KindCodec, Name: c.Name, ID: string(c.ID), Action: plan.Delete,
			Reason: "the codec's scripts are lost; devices using it stop decoding", Before: &plan.Object{Codec: &before}})
	}
	for i := range l.Devices {
		d := &l.Devices[i]
		eui := strings.ToUpper(d.DevEUI)
		if b.siteDevices[eui] {
			continue
		}
		addr := "device." + eui
		if !pr.Devices {
			b.unmanaged = append(b.unmanaged, plan.Unmanaged{Address: addr, Kind: plan.KindDevice, Name: d.Name})
			if n, ok := deletedProfiles[d.ProfileID]; ok {
				b.problem(site.Pos{}, "prune.profiles", "profile %q would be deleted but device %s, not in the site, still uses it", n, eui)
			}
			continue
		}
		b.deletedDevs[eui] = true
		before := *d
		before.DevEUI = eui
		b.add(plan.Change{Address: addr, Kind: plan.KindDevice, Name: d.Name, ID: eui, Action: plan.Delete,
			Reason: "the device loses its session and frame counters", Before: &plan.Object{Device: &before}})
	}
	for i := range l.Groups {
		g := &l.Groups[i]
		if b.usedGroups[g.Name] {
			continue
		}
		addr := "multicast_group." + g.Name
		if !pr.MulticastGroups {
			b.unmanaged = append(b.unmanaged, plan.Unmanaged{Address: addr, Kind: plan.KindGroup, Name: g.Name})
			continue
		}
		before := *g
		before.McAddr = strings.ToUpper(before.McAddr)
		b.add(plan.Change{Address: addr, Kind: plan.KindGroup, Name: g.Name, ID: g.ID, Action: plan.Delete,
			Reason: fmt.Sprintf("the group's keys and frame counter are lost; its members (%d) leave it", len(g.Devices)),
			Before: &plan.Object{Group: &before}})
		for _, m := range g.Devices {
			e := strings.ToUpper(m.DevEUI)
			b.add(plan.Change{Address: memberAddress(g.Name, e), Kind: plan.KindMember, Name: b.deviceName(e), ID: g.ID,
				Action: plan.Delete, Reason: "the group is deleted",
				Before: &plan.Object{Member: &plan.Member{Group: g.Name, GroupID: g.ID, DevEUI: e}}})
		}
	}
	for i := range l.Tasks {
		t := &l.Tasks[i]
		if b.usedTasks[t.Name] {
			continue
		}
		addr := "fuota_task." + t.Name
		if !pr.FirmwareUpdates {
			b.unmanaged = append(b.unmanaged, plan.Unmanaged{Address: addr, Kind: plan.KindTask, Name: t.Name})
			continue
		}
		before := *t
		before.DevEUIs = upperSorted(t.DevEUIs)
		reason := "the task and its progress are lost"
		if int64(t.Status) == nsapi.TaskExecuting {
			reason = "the task is executing: its update stops and its progress is lost"
		}
		b.add(plan.Change{Address: addr, Kind: plan.KindTask, Name: t.Name, ID: fmt.Sprint(int64(t.ID)), Action: plan.Delete,
			Reason: reason, Before: &plan.Object{Task: &before}})
	}
}
