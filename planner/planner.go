// Package planner compares a site's desired state with a gateway's live
// state and makes the ordered plan that takes the gateway there. It is the
// only place that decides what differs: it fills in the spec's defaults for
// the gateway's channel plan, normalises case and number spellings, ignores
// what the server owns or moves on its own, and resolves references by name.
// It does no network I/O (live state comes in as data) and renders nothing.
package planner

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
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
	// StopTasks names FUOTA tasks (by their name on the gateway or in the
	// site) that the plan may stop: a task the gateway is running (waiting
	// or executing) is deleted or replaced only when named here; otherwise
	// its difference is a Note and nothing is planned for it.
	StopTasks []string
	// PayloadSizes is the gateway's answer to GET /api/fuota/task/payloadsize
	// (spec 6.6): the largest FUOTA fragment per data rate. A task written
	// by the plan must fit it. For a data rate it lacks, and when nil (a
	// snapshot), the band tables decide, with the dwell-time limit as the
	// site says.
	PayloadSizes []nsapi.PayloadSize
}

// PayloadSizer reads the gateway's payload-size answer (spec 6.6) for
// Options.PayloadSizes; *nsapi.Client satisfies it. A snapshot has no
// such answer: the band tables stand in.
type PayloadSizer interface {
	PayloadSizes(ctx context.Context) ([]nsapi.PayloadSize, error)
}

// Problem is one reason a plan cannot be made, at its place in a site file.
type Problem struct {
	Pos  site.Pos
	Path string // e.g. devices[2].profile
	Msg  string
}

// String is the problem as FILE:LINE:COL: PATH: MESSAGE, leaving out
// what is not known.
func (p Problem) String() string {
	var b strings.Builder
	if p.Pos.File != "" {
		b.WriteString(p.Pos.File)
		if p.Pos.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Pos.Line)
			if p.Pos.Col > 0 {
				fmt.Fprintf(&b, ":%d", p.Pos.Col)
			}
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

// Error is every problem, one a line.
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
	b.checkStopTasks()
	b.profiles()
	b.codecs()
	b.devices()
	b.groups()
	b.tasks()
	b.prune()
	b.freeNames()
	if len(b.problems) > 0 {
		slices.SortStableFunc(b.problems, func(x, y Problem) int {
			return cmp.Or(strings.Compare(x.Pos.File, y.Pos.File), cmp.Compare(x.Pos.Line, y.Pos.Line))
		})
		// A value from deviceDefaults is at fault once, not once a device.
		seen := map[Problem]bool{}
		b.problems = slices.DeleteFunc(b.problems, func(p Problem) bool {
			dup := seen[p]
			seen[p] = true
			return dup
		})
		return nil, &Error{Problems: b.problems}
	}
	plan.Sort(b.changes)
	slices.SortStableFunc(b.unmanaged, func(x, y plan.Unmanaged) int { return strings.Compare(x.Address, y.Address) })
	slices.SortStableFunc(b.notes, func(x, y plan.Note) int { return strings.Compare(x.Address, y.Address) })
	p := &plan.Plan{
		FormatVersion:    plan.FormatVersion,
		GatewayEUI:       strings.ToUpper(cmp.Or(desired.Gateway.EUI, live.GatewayEUI)),
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
	builtin      map[string]*nsapi.CodecShort
	liveDevices  map[string]*nsapi.Device // by upper EUI
	liveGroups   map[string]*nsapi.MulticastGroupInfo
	liveTasks    map[string]*nsapi.FuotaTask

	// what the site claims of the live state (by live name)
	usedProfiles, usedCodecs, usedGroups, usedTasks map[string]bool

	// the site's profiles and codecs as devices' reference targets, by name
	siteProfiles, siteCodecs map[string]target
	siteDevices              map[string]string // by upper EUI: the device's name
	replacedDevs             map[string]bool
	// liveUses are the gateway's profiles and codecs that the site's
	// devices use without declaring them, by address: the first use.
	liveUses map[string]use
}

// use is where a site refers to something.
type use struct {
	pos  site.Pos
	path string
}

// target is what a device's reference to a profile or codec resolves to.
type target struct {
	name, id string    // id is "" when this plan creates the target
	joins    bool      // profiles: whether the device joins by OTAA
	ref      *plan.Ref // set when this plan creates the target
}

// address is a resource's plan address: `device.24E124136A456465`.
func address(k plan.Kind, key string) string { return string(k) + "." + key }

// inSite reports whether the site declares the device (upper-case EUI).
func (b *builder) inSite(eui string) bool {
	_, ok := b.siteDevices[eui]
	return ok
}

// deviceRef checks a group's or task's reference to a device (upper-case
// EUI): the device must be in the site, or on the gateway and kept there.
func (b *builder) deviceRef(pos site.Pos, path, eui, of string) bool {
	switch {
	case !b.inSite(eui) && b.liveDevices[eui] == nil:
		b.problem(pos, path, "device %s is neither in the site nor on the gateway", eui)
	case !b.inSite(eui) && b.site.Prune.Devices:
		b.problem(pos, path, "device %s is not in the site, and prune deletes it: add it to the site or drop it from the %s", eui, of)
	default:
		return true
	}
	return false
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
	b.band = lp.Dwell(b.site.Gateway.DwellTimeOn())
	if want := b.site.Gateway.ChannelPlan; want != "" {
		sp, err := band.Lookup(want)
		pos := b.site.Gateway.Pos
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
	b.liveProfiles = byKey(l.Profiles, func(p *nsapi.Profile) string { return p.Name })
	b.liveProfByID = byKey(l.Profiles, (*nsapi.Profile).ID)
	b.liveCodecs = byKey(l.Codecs, func(c *nsapi.Codec) string { return c.Name })
	b.builtin = byKey(l.BuiltinCodecs, func(c *nsapi.CodecShort) string { return c.Name })
	b.liveDevices = byKey(l.Devices, func(d *nsapi.Device) string { return strings.ToUpper(d.DevEUI) })
	b.liveGroups = byKey(l.Groups, func(g *nsapi.MulticastGroupInfo) string { return g.Name })
	b.liveTasks = byKey(l.Tasks, func(t *nsapi.FuotaTask) string { return t.Name })
	b.usedProfiles, b.usedCodecs, b.usedGroups, b.usedTasks = map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	b.siteProfiles, b.siteCodecs = map[string]target{}, map[string]target{}
	b.siteDevices, b.replacedDevs, b.liveUses = map[string]string{}, map[string]bool{}, map[string]use{}
	for _, d := range b.site.Devices {
		e := strings.ToUpper(d.DevEUI)
		b.siteDevices[e] = cmp.Or(d.Name, e)
	}
}

// byKey indexes items by key; of items sharing a key, the last wins.
func byKey[T any](items []T, key func(*T) string) map[string]*T {
	m := make(map[string]*T, len(items))
	for i := range items {
		m[key(&items[i])] = &items[i]
	}
	return m
}

// names is the set of names the site's items of one kind have.
func names[T any](items []T, name func(*T) string) map[string]bool {
	set := make(map[string]bool, len(items))
	for i := range items {
		set[name(&items[i])] = true
	}
	return set
}

// claim finds the live resource a site resource stands for: by name, or by
// its renamedFrom when the site does not also declare that name.
func claim[T any](live map[string]*T, used, declared map[string]bool, name, renamedFrom string) (*T, string) {
	if v, ok := live[name]; ok && !used[name] {
		used[name] = true
		return v, ""
	}
	if renamedFrom != "" && !declared[renamedFrom] {
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
	slices.Sort(sens)
	c.Sensitive = slices.Compact(sens)
	b.changes = append(b.changes, c)
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

// sortedInts is a sorted copy of s, never nil.
func sortedInts(s []int64) []int64 {
	out := append([]int64{}, s...)
	slices.Sort(out)
	return out
}

func (b *builder) desiredProfile(sp *site.Profile) nsapi.Profile {
	bp := b.band
	return nsapi.Profile{Name: sp.Name, Profile: nsapi.ProfileSettings{
		SupportsJoin:         deref(sp.SupportsJoin, false),
		SupportsClassB:       deref(sp.SupportsClassB, false),
		SupportsClassC:       deref(sp.SupportsClassC, false),
		MacVersion:           deref(sp.MacVersion, nsapi.DefaultMacVersion),
		RegParamsRevision:    strings.ToUpper(deref(sp.RegParamsRevision, nsapi.DefaultRegParamsRevision)),
		RxDROffset1:          nsapi.FlexInt(deref(sp.RxDROffset1, 0)),
		RxDataRate2:          nsapi.FlexInt(deref(sp.RxDataRate2, bp.RX2DR)),
		RxFreq2:              nsapi.FlexInt(deref(sp.RxFreq2, bp.RX2Freq)),
		FactoryPresetFreqs:   sortedInts(sp.FactoryPresetFreqs),
		EnableUplinkChannels: sortedInts(sp.EnableUplinkChannels),
		MaxEIRP:              nsapi.FlexInt(deref(sp.MaxEIRP, 0)),
		Supports32bitFCnt:    deref(sp.Supports32bitFCnt, nsapi.DefaultSupports32bitFCnt),
		PingSlotPeriod:       nsapi.FlexInt(deref(sp.PingSlotPeriod, nsapi.DefaultPingSlotPeriod)),
		PingSlotDR:           nsapi.FlexInt(deref(sp.PingSlotDR, bp.PingSlotDR)),
		PingSlotFreq:         nsapi.FlexInt(deref(sp.PingSlotFreq, bp.PingSlotFreq)),
		ClassBTimeout:        nsapi.FlexInt(deref(sp.ClassBTimeout, nsapi.DefaultClassTimeout)),
		ClassCTimeout:        nsapi.FlexInt(deref(sp.ClassCTimeout, nsapi.DefaultClassTimeout)),
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
	declared := names(b.site.Profiles, func(p *site.Profile) string { return p.Name })
	for i := range b.site.Profiles {
		sp := &b.site.Profiles[i]
		want := b.desiredProfile(sp)
		addr := address(plan.KindProfile, sp.Name)
		lp, from := claim(b.liveProfiles, b.usedProfiles, declared, sp.Name, sp.RenamedFrom)
		if lp == nil {
			b.siteProfiles[sp.Name] = target{name: sp.Name, joins: want.Profile.SupportsJoin, ref: &plan.Ref{Field: "profileID", Address: addr}}
			b.add(plan.Change{Address: addr, Kind: plan.KindProfile, Name: sp.Name, Action: plan.Create,
				After: &plan.Object{Profile: &want}})
			continue
		}
		want.Profile.ProfileID = lp.ID()
		b.siteProfiles[sp.Name] = target{name: sp.Name, id: lp.ID(), joins: want.Profile.SupportsJoin}
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

// codecKey is what a codec is compared by. codecJson is left out: the
// codec list (spec 5.3) never returns it, so it is write-only — sent on
// create and with every update of the codec, but never a difference by
// itself (comparing it would give a perpetual diff).
func codecKey(c *nsapi.Codec) nsapi.CodecWrite {
	w := c.Write()
	w.EncoderScript, w.DecoderScript, w.CodecJSON = normScript(w.EncoderScript), normScript(w.DecoderScript), ""
	w.Description = strings.TrimSpace(w.Description)
	return w
}

func (b *builder) codecs() {
	declared := names(b.site.Codecs, func(c *site.Codec) string { return c.Name })
	for i := range b.site.Codecs {
		sc := &b.site.Codecs[i]
		want := nsapi.Codec{Name: sc.Name, Description: sc.Description, TemplateID: nsapi.FlexInt(sc.TemplateID),
			EncoderScript: sc.EncoderScript, DecoderScript: sc.DecoderScript, TestEnabled: sc.TestEnabled,
			FPort: nsapi.FlexInt(sc.FPort), CodecJSON: sc.CodecJSON}
		addr := address(plan.KindCodec, sc.Name)
		if _, ok := b.builtin[sc.Name]; ok {
			b.problem(sc.Pos, fmt.Sprintf("codecs[%d].name", i), "%q is a built-in codec of the gateway: give the custom codec another name", sc.Name)
			continue
		}
		lc, from := claim(b.liveCodecs, b.usedCodecs, declared, sc.Name, sc.RenamedFrom)
		if lc == nil {
			b.siteCodecs[sc.Name] = target{name: sc.Name, ref: &plan.Ref{Field: "payloadCodecID", Address: addr}}
			b.add(plan.Change{Address: addr, Kind: plan.KindCodec, Name: sc.Name, Action: plan.Create,
				After: &plan.Object{Codec: &want}})
			continue
		}
		want.ID = lc.ID
		b.siteCodecs[sc.Name] = target{name: sc.Name, id: string(lc.ID)}
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
	joins := want.SupportsJoin
	switchesJoin := ld.SupportsJoin != joins
	differs := ld.Name != want.Name || ld.Description != want.Description || ld.ProfileID != want.ProfileID ||
		codecID(ld.PayloadCodecID) != string(want.PayloadCodecID) || ld.FPort != want.FPort || ld.SkipFCntCheck != want.SkipFCntCheck ||
		ld.MbMode != want.MbMode || ld.MbFramePort != want.MbFramePort || ld.MbTcpPort != want.MbTcpPort ||
		len(refs) > 0 || switchesJoin || (joins && !keysEqual(ld.AppKey, want.AppKey))
	if !joins && !switchesJoin {
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
	want.DevAddr, want.NwkSKey, want.AppSKey = ld.DevAddr, clearOrEmpty(ld.NwkSKey), clearOrEmpty(ld.AppSKey)
	want.FCntUp, want.FCntDown = ld.FCntUp, ld.FCntDown
}

// ---- multicast groups and membership ----

func (b *builder) desiredGroup(sg *site.MulticastGroup) nsapi.MulticastGroup {
	typ := strings.ToUpper(cmp.Or(sg.GroupType, nsapi.DefaultGroupType))
	dr, freq := b.band.RX2DR, b.band.RX2Freq
	if typ == "CLASS_B" {
		dr, freq = b.band.PingSlotDR, b.band.PingSlotFreq
	}
	key := func(s site.Secret) string { return strings.ToLower(cmp.Or(s.Value, nsapi.DefaultKey)) }
	return nsapi.MulticastGroup{
		Name:           sg.Name,
		McAddr:         strings.ToUpper(cmp.Or(sg.McAddr, nsapi.DefaultMcAddr)),
		McNwkSKey:      key(sg.McNwkSKey),
		McAppSKey:      key(sg.McAppSKey),
		FCnt:           nsapi.FlexInt(deref(sg.FCnt, 0)),
		GroupType:      typ,
		DR:             nsapi.FlexInt(deref(sg.DR, dr)),
		Frequency:      nsapi.FlexInt(deref(sg.Frequency, freq)),
		PingSlotPeriod: nsapi.FlexInt(deref(sg.PingSlotPeriod, nsapi.DefaultPingSlotPeriod)),
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
	if n, ok := b.siteDevices[eui]; ok {
		return n
	}
	if d := b.liveDevices[eui]; d != nil {
		return d.Name
	}
	return ""
}

func memberAddress(group, eui string) string { return address(plan.KindMember, group+"."+eui) }

func (b *builder) groups() {
	declared := names(b.site.MulticastGroups, func(g *site.MulticastGroup) string { return g.Name })
	for i := range b.site.MulticastGroups {
		sg := &b.site.MulticastGroups[i]
		path := fmt.Sprintf("multicastGroups[%d]", i)
		want := b.desiredGroup(sg)
		lg, from := claim(b.liveGroups, b.usedGroups, declared, sg.Name, sg.RenamedFrom)
		if lg == nil {
			b.add(plan.Change{Address: address(plan.KindGroup, sg.Name), Kind: plan.KindGroup, Name: sg.Name, Action: plan.Create,
				After: &plan.Object{Group: &nsapi.MulticastGroupInfo{MulticastGroup: want}}})
			b.members(sg, path, "", nil)
			continue
		}
		b.group(sg, lg, want, from)
		live := map[string]bool{}
		for _, m := range lg.Devices {
			if e := strings.ToUpper(m.DevEUI); !b.replacedDevs[e] {
				live[e] = true
			}
		}
		b.members(sg, path, lg.ID, live)
	}
}

// group compares a site's group with the gateway's and adds the update
// that takes the gateway there, if one is needed.
func (b *builder) group(sg *site.MulticastGroup, lg *nsapi.MulticastGroupInfo, want nsapi.MulticastGroup, from string) {
	addr := address(plan.KindGroup, sg.Name)
	if sg.FCnt != nil && lg.FCnt != want.FCnt {
		b.note(addr, "frame counter differs (gateway %d, site %d); it is set when the group is created, so the plan does not change it", lg.FCnt, want.FCnt)
	}
	want.FCnt = lg.FCnt
	if !strings.EqualFold(want.GroupType, "CLASS_B") && slices.Contains(band.PingSlotPeriods, int64(lg.PingSlotPeriod)) {
		want.PingSlotPeriod = lg.PingSlotPeriod // unused by class C: keep what the gateway has
	}
	if !groupsDiffer(&want, &lg.MulticastGroup) && from == "" {
		return
	}
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

// members adds the membership changes that make a group's members (live:
// upper-case EUIs) the site's. groupID is "" when this plan creates the
// group.
func (b *builder) members(sg *site.MulticastGroup, path, groupID string, live map[string]bool) {
	desired := map[string]bool{}
	for j, e := range sg.Devices {
		e = strings.ToUpper(e)
		desired[e] = true
		if !b.deviceRef(sg.Pos, fmt.Sprintf("%s.devices[%d]", path, j), e, "group") || live[e] {
			continue
		}
		c := plan.Change{Address: memberAddress(sg.Name, e), Kind: plan.KindMember, Name: b.deviceName(e),
			Action: plan.Create, After: &plan.Object{Member: &plan.Member{Group: sg.Name, GroupID: groupID, DevEUI: e}}}
		if groupID == "" {
			c.Refs = []plan.Ref{{Field: "group_id", Address: address(plan.KindGroup, sg.Name)}}
		}
		b.add(c)
	}
	for e := range live {
		if !desired[e] {
			b.removeMember(sg.Name, groupID, e, "the site's group does not list this device")
		}
	}
}

// removeMember adds the removal of a device from a live group.
func (b *builder) removeMember(group, groupID, eui, reason string) {
	b.add(plan.Change{Address: memberAddress(group, eui), Kind: plan.KindMember, Name: b.deviceName(eui), ID: groupID,
		Action: plan.Delete, Reason: reason,
		Before: &plan.Object{Member: &plan.Member{Group: group, GroupID: groupID, DevEUI: eui}}})
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
	slices.Sort(out)
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
		t.FirmwareName = cmp.Or(st.FirmwareName, filepath.Base(st.FirmwareFile))
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
	declared := names(b.site.FirmwareUpdates, func(t *site.FirmwareUpdate) string { return t.Name })
	for i := range b.site.FirmwareUpdates {
		st := &b.site.FirmwareUpdates[i]
		path := fmt.Sprintf("firmwareUpdates[%d]", i)
		ok := true
		for j, e := range st.Devices {
			if !b.deviceRef(st.Pos, fmt.Sprintf("%s.devices[%d]", path, j), strings.ToUpper(e), "task") {
				ok = false
			}
		}
		lt, from := claim(b.liveTasks, b.usedTasks, declared, st.Name, st.RenamedFrom) // also when not ok: prune must not delete it
		if ok {
			b.task(st, path, lt, from)
		}
	}
}

// task compares a site's FUOTA task with the gateway's (lt, nil when there
// is none) and adds the change that takes the gateway there, if one is
// needed. A task that has started cannot be updated: it is replaced.
func (b *builder) task(st *site.FirmwareUpdate, path string, lt *nsapi.FuotaTask, from string) {
	addr := address(plan.KindTask, st.Name)
	want := b.desiredTask(st)
	if lt == nil {
		if b.fragmentFits(st, path, int64(want.TmpMcInfo.DR)) && b.complete(st, path, &want) {
			b.add(plan.Change{Address: addr, Kind: plan.KindTask, Name: st.Name, Action: plan.Create,
				After: &plan.Object{Task: &want}})
		}
		return
	}
	if !tasksDiffer(&want, lt) && from == "" {
		return
	}
	if status := int64(lt.Status); taskRunning(status) && !b.stops(lt.Name, st.Name) {
		b.note(addr, "task %s is %s; its change waits; pass --stop-task %s to stop and replace it", lt.Name, statusName(status), lt.Name)
		return
	}
	if !b.fragmentFits(st, path, int64(want.TmpMcInfo.DR)) || !b.complete(st, path, &want) { // reads the firmware only for a write
		return
	}
	before := *lt
	before.DevEUIs = upperSorted(lt.DevEUIs)
	if sameInstant(before.StartedAt, want.StartedAt) {
		before.StartedAt = want.StartedAt
	}
	id := fmt.Sprint(int64(lt.ID))
	status := int64(lt.Status)
	if status != nsapi.TaskPending {
		reason := fmt.Sprintf("the task has %s: the gateway cannot update it in place (code %d); it is deleted and created again", taskStatus[status], nsapi.CodeFuotaTaskStatus)
		if taskRunning(status) {
			reason = fmt.Sprintf("the task is %s and --stop-task names it: it is stopped (deleted, its progress is lost) and created again", statusName(status))
		}
		if from != "" {
			reason = renameReason(from) + "; " + reason
		}
		b.add(plan.Change{Address: addr, Kind: plan.KindTask, Name: st.Name, ID: id, Action: plan.Replace,
			Reason: reason, Before: &plan.Object{Task: &before}, After: &plan.Object{Task: &want}})
		return
	}
	want.ID = lt.ID
	b.add(plan.Change{Address: addr, Kind: plan.KindTask, Name: st.Name, ID: id, Action: plan.Update,
		Reason: renameReason(from), Before: &plan.Object{Task: &before}, After: &plan.Object{Task: &want}})
}

// fragmentFits checks a task's fragment size, before the plan writes the
// task, against the gateway's payload-size answer for its data rate, or
// without one against the band tables.
func (b *builder) fragmentFits(st *site.FirmwareUpdate, path string, dr int64) bool {
	size := st.Fragment.Size
	msg := site.FragmentProblem(b.band, dr, size)
	for _, ps := range b.opts.PayloadSizes { // the gateway's answer, where it has dr, wins
		if int64(ps.DR) == dr {
			msg = site.FragmentProblemMax(b.band, dr, size, int64(ps.MaxPayloadSize), "the gateway's payload-size answer, GET /api/fuota/task/payloadsize")
			break
		}
	}
	if msg == "" {
		return true
	}
	b.problem(st.Pos, path+".fragment.size", "%s", msg)
	return false
}

// taskRunning reports whether the gateway is running a task of this status
// (6.2: 1 waiting, 2 executing): it refuses to change it (10310014), and
// deleting it stops a firmware update under way. A status the spec does not
// list counts as running.
func taskRunning(status int64) bool {
	return status != nsapi.TaskPending && status != nsapi.TaskSucceeded && status != nsapi.TaskFailed
}

func statusName(status int64) string {
	if n, ok := taskStatus[status]; ok {
		return n
	}
	return fmt.Sprintf("in status %d", status)
}

// stops reports whether Options.StopTasks names the task (live or site
// name).
func (b *builder) stops(names ...string) bool {
	for _, n := range names {
		if n != "" && slices.Contains(b.opts.StopTasks, n) {
			return true
		}
	}
	return false
}

// checkStopTasks reports a --stop-task name that neither the gateway nor
// the site has: a mistyped name would otherwise stop nothing, silently.
func (b *builder) checkStopTasks() {
	for _, n := range b.opts.StopTasks {
		if b.liveTasks[n] != nil || slices.ContainsFunc(b.site.FirmwareUpdates, func(t site.FirmwareUpdate) bool { return t.Name == n }) {
			continue
		}
		b.problem(site.Pos{}, "--stop-task", "%q is neither a FUOTA task on the gateway nor one in the site", n)
	}
}

// ---- what the gateway holds and the site does not ----

func (b *builder) prune() {
	pr := b.site.Prune
	l := b.live
	deletedProfiles := map[string]string{}
	for i := range l.Profiles {
		p := &l.Profiles[i]
		if b.usedProfiles[p.Name] || builtinProfile(p) || !b.prunes(pr.Profiles, plan.KindProfile, p.Name, p.Name) || b.inUse(plan.KindProfile, p.Name, "profiles") {
			continue
		}
		deletedProfiles[p.ID()] = p.Name
		before := *p
		b.add(plan.Change{Address: address(plan.KindProfile, p.Name), Kind: plan.KindProfile, Name: p.Name, ID: p.ID(),
			Action: plan.Delete, Reason: "the profile's settings are lost", Before: &plan.Object{Profile: &before}})
	}
	for i := range l.Codecs {
		c := &l.Codecs[i]
		if b.usedCodecs[c.Name] || b.builtinCodec(c) || !b.prunes(pr.Codecs, plan.KindCodec, c.Name, c.Name) || b.inUse(plan.KindCodec, c.Name, "codecs") {
			continue
		}
		before := *c
		b.add(plan.Change{Address: address(plan.KindCodec, c.Name), Kind: plan.KindCodec, Name: c.Name, ID: string(c.ID),
			Action: plan.Delete, Reason: "the codec's scripts are lost; devices using it stop decoding", Before: &plan.Object{Codec: &before}})
	}
	// Tasks first: a device a remaining task lists cannot be deleted.
	deletedTasks := map[string]bool{}
	for i := range l.Tasks {
		t := &l.Tasks[i]
		if b.usedTasks[t.Name] || !b.prunes(pr.FirmwareUpdates, plan.KindTask, t.Name, t.Name) {
			continue
		}
		addr := address(plan.KindTask, t.Name)
		status := int64(t.Status)
		reason := "the task and its progress are lost"
		if taskRunning(status) {
			if !b.stops(t.Name) {
				b.note(addr, "task %s is %s and not in the site; prune waits; pass --stop-task %s to stop and delete it", t.Name, statusName(status), t.Name)
				continue
			}
			reason = fmt.Sprintf("the task is %s and --stop-task names it: its update stops and its progress is lost", statusName(status))
		}
		deletedTasks[t.Name] = true
		before := *t
		before.DevEUIs = upperSorted(t.DevEUIs)
		b.add(plan.Change{Address: addr, Kind: plan.KindTask, Name: t.Name, ID: fmt.Sprint(int64(t.ID)),
			Action: plan.Delete, Reason: reason, Before: &plan.Object{Task: &before}})
	}
	// The tasks that still list a device after the task deletes, which run
	// first (plan.PhaseTaskDelete), by upper-case EUI.
	listedBy := map[string][]string{}
	for i := range l.Tasks {
		t := &l.Tasks[i]
		if deletedTasks[t.Name] {
			continue
		}
		for _, e := range t.DevEUIs {
			e = strings.ToUpper(e)
			listedBy[e] = append(listedBy[e], t.Name)
		}
	}
	for i := range l.Devices {
		d := &l.Devices[i]
		eui := strings.ToUpper(d.DevEUI)
		if b.inSite(eui) {
			continue
		}
		if !b.prunes(pr.Devices, plan.KindDevice, eui, d.Name) {
			if n, ok := deletedProfiles[d.ProfileID]; ok {
				b.problem(pr.Pos, "prune.profiles", "profile %q would be deleted but device %s, not in the site, still uses it", n, eui)
			}
			continue
		}
		if tasks := listedBy[eui]; len(tasks) > 0 {
			slices.Sort(tasks)
			b.note(address(plan.KindDevice, eui), "not deleted: FUOTA task %s still lists it (the gateway refuses, code %d); it is deleted by a plan after the task no longer lists it",
				strings.Join(slices.Compact(tasks), ", "), nsapi.CodeFuotaDeviceInTask)
			if n, ok := deletedProfiles[d.ProfileID]; ok {
				b.problem(pr.Pos, "prune.profiles", "profile %q would be deleted but device %s, which FUOTA task %s keeps, still uses it", n, eui, tasks[0])
			}
			continue
		}
		before := *d
		before.DevEUI = eui
		b.add(plan.Change{Address: address(plan.KindDevice, eui), Kind: plan.KindDevice, Name: d.Name, ID: eui, Action: plan.Delete,
			Reason: "the device loses its session and frame counters", Before: &plan.Object{Device: &before}})
	}
	for i := range l.Groups {
		g := &l.Groups[i]
		if b.usedGroups[g.Name] || !b.prunes(pr.MulticastGroups, plan.KindGroup, g.Name, g.Name) {
			continue
		}
		before := *g
		before.McAddr = strings.ToUpper(before.McAddr)
		b.add(plan.Change{Address: address(plan.KindGroup, g.Name), Kind: plan.KindGroup, Name: g.Name, ID: g.ID, Action: plan.Delete,
			Reason: fmt.Sprintf("the group's keys and frame counter are lost; its members (%d) leave it", len(g.Devices)),
			Before: &plan.Object{Group: &before}})
		for _, m := range g.Devices {
			b.removeMember(g.Name, g.ID, strings.ToUpper(m.DevEUI), "the group is deleted")
		}
	}
}

// builtinProfile reports whether p is one the gateway ships: by name
// (ClassA-OTAA, ClassB-OTAA, ClassC-OTAA), since the spec's profile list
// (2.3) does not carry isDefault, or by isDefault where the list has it.
// Prune never deletes one.
func builtinProfile(p *nsapi.Profile) bool {
	return p.IsDefault || slices.Contains(site.BuiltinProfiles, p.Name)
}

// builtinCodec reports whether a codec of the custom list is one the
// gateway ships (type=default, by name or id): prune never deletes one,
// whatever the custom list carries.
func (b *builder) builtinCodec(c *nsapi.Codec) bool {
	if _, ok := b.builtin[c.Name]; ok {
		return true
	}
	id := strings.TrimSpace(string(c.ID))
	for _, bc := range b.live.BuiltinCodecs {
		if id != "" && strings.TrimSpace(string(bc.ID)) == id {
			return true
		}
	}
	return false
}

// inUse reports, as a problem, that prune would delete a gateway's profile
// or codec that a device of the site uses.
func (b *builder) inUse(k plan.Kind, name, pruneKey string) bool {
	u, ok := b.liveUses[address(k, name)]
	if ok {
		b.problem(u.pos, u.path, "%s %q is on the gateway and not in the site, so prune deletes it, but this device uses it: declare it in the site or set prune.%s to false", k, name, pruneKey)
	}
	return ok
}

// prunes reports whether a live resource the site does not name is deleted
// (prune is on for its kind); when it is not, it is listed as unmanaged.
func (b *builder) prunes(on bool, k plan.Kind, key, name string) bool {
	if !on {
		b.unmanaged = append(b.unmanaged, plan.Unmanaged{Address: address(k, key), Kind: k, Name: name})
	}
	return on
}

// ---- unique names ----

// liveKey is a live key in clear for a write that keeps it: the live value
// when it is in clear, else the site's value when it is the same key.
func liveKey(live, site string) string {
	if !isDigest(live) {
		return live
	}
	if site != "" && keysEqual(live, site) {
		return site
	}
	return ""
}

// tempNamePrefix starts the temporary name a device takes while another
// device takes its name (a swap): gwsync-tmp-<devEUI>.
const tempNamePrefix = "gwsync-tmp-"

// freeNames makes plans that reuse a device name applicable. The gateway
// keeps device names unique ("6 already exists: device name"), so a name
// that a change takes must be free when that change runs: the device that
// holds it on the gateway is deleted first (a replace by a new devEUI with
// the same name), or first moved to a temporary name (a swap of two names),
// both in plan.PhaseFreeNames. A holder the plan leaves in place is a
// problem. Other kinds need nothing: the site claims a live profile, codec,
// group or task by its name first, so no change takes a name that another
// live resource keeps.
func (b *builder) freeNames() {
	holder := make(map[string]string, len(b.live.Devices)) // live name -> upper EUI
	for i := range b.live.Devices {
		d := &b.live.Devices[i]
		holder[d.Name] = strings.ToUpper(d.DevEUI)
	}
	type devChange struct {
		write, del int // indexes in b.changes, -1 when none
	}
	byEUI := map[string]*devChange{}
	at := func(eui string) *devChange {
		if byEUI[eui] == nil {
			byEUI[eui] = &devChange{write: -1, del: -1}
		}
		return byEUI[eui]
	}
	finals := map[string]bool{}
	for i, c := range b.changes {
		if c.Kind != plan.KindDevice {
			continue
		}
		if c.Action == plan.Delete {
			at(c.ID).del = i
			continue
		}
		at(c.After.Device.DevEUI).write = i
		finals[c.After.Device.Name] = true
	}
	var tempRenames []plan.Change
	moved := map[string]bool{}
	euis := make([]string, 0, len(byEUI))
	for e := range byEUI {
		euis = append(euis, e)
	}
	slices.Sort(euis)
	for _, eui := range euis {
		dc := byEUI[eui]
		if dc.write < 0 {
			continue
		}
		c := &b.changes[dc.write]
		name := c.After.Device.Name
		h, held := holder[name]
		if !held || h == eui {
			continue
		}
		hc := byEUI[h]
		switch {
		case hc != nil && hc.del >= 0:
			b.changes[hc.del].FreesName = true
			why := fmt.Sprintf("deleted first: device %s takes its name %q", eui, name)
			if r := b.changes[hc.del].Reason; r != "" {
				why = r + "; " + why
			}
			b.changes[hc.del].Reason = why
		case hc != nil && hc.write >= 0:
			if moved[h] {
				continue
			}
			moved[h] = true
			tmp := tempNamePrefix + h
			if finals[tmp] || holder[tmp] != "" {
				b.problem(site.Pos{}, "devices", "device %s must leave its name %q to device %s, but its temporary name %q is taken", h, name, eui, tmp)
				continue
			}
			hw := &b.changes[hc.write]
			live := b.liveDevices[h]
			before, after := *live, *live
			before.DevEUI, after.DevEUI = h, h
			after.Name = tmp
			w := hw.After.Device
			after.AppKey, after.NwkSKey, after.AppSKey = liveKey(live.AppKey, w.AppKey), liveKey(live.NwkSKey, w.NwkSKey), liveKey(live.AppSKey, w.AppSKey)
			tempRenames = append(tempRenames, plan.Change{Address: hw.Address, Kind: plan.KindDevice, Name: tmp, ID: h, Action: plan.Update,
				Reason: fmt.Sprintf("frees the name %q for device %s; this device takes %q later in this plan", name, eui, hw.After.Device.Name),
				Before: &plan.Object{Device: &before}, After: &plan.Object{Device: &after}, FreesName: true})
			// the gateway holds the temporary name when the change runs,
			// and its undo puts it back there
			hb := *hw.Before.Device
			hb.Name = tmp
			hw.Before = &plan.Object{Device: &hb}
		default:
			pos, path := site.Pos{}, "devices"
			for i := range b.site.Devices {
				if sd := &b.site.Devices[i]; strings.EqualFold(sd.DevEUI, eui) {
					pos, path = fieldAt(sd, fmt.Sprintf("devices[%d].name", i))
				}
			}
			why := "which the site does not declare and prune.devices keeps: add it to the site with another name, or set prune.devices"
			if b.inSite(h) {
				why = "which the site keeps under that name"
			} else if b.site.Prune.Devices {
				why = "which this plan cannot delete (see its note)"
			}
			b.problem(pos, path, "device name %q is held on the gateway by device %s, %s; device names are unique on the gateway", name, h, why)
		}
	}
	for _, c := range tempRenames {
		b.add(c)
	}
}
