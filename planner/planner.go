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
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gwsync/gwsync/band"
	"github.com/gwsync/gwsync/internal/reserved"
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
	// ReadFile reads a firmware file; nil means safefile.Read under the
	// firmware cap (a regular file only). It is called
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
	// CodecJSONDigests is, per codec name, the digest (reserved.Digest) of
	// the codecJson gwsync last wrote, as the gateway's own record says
	// (applier.WrittenDigests; nil: none). The gateway never returns
	// codecJson, so this record is the only way to see that the site
	// changed it; a codec without one is never updated for it, and a
	// codecJson the site does not declare is never sent.
	CodecJSONDigests map[string]string
	// FirmwareDigests is, per FUOTA task name, the digest of the firmware
	// file content (base64, as sent) gwsync last wrote: a pending task
	// whose site firmware file differs is updated.
	FirmwareDigests map[string]string
	// WrittenCodecJSON is the codecJson value gwsync last wrote per codec
	// name, where known (a local cache whose digest is the gateway's): a
	// plan shows it as the value before. Without CodecJSONDigests, its
	// digests stand in for them.
	WrittenCodecJSON map[string]string
	// Now, when set, is the clock of the check that a FUOTA task the plan
	// creates (or replaces) starts in the future: a gateway starts a task
	// whose start time has passed at once. Plans against a gateway set it;
	// a snapshot plan leaves it nil, so that it plans the same whenever it
	// runs.
	Now func() time.Time
	// FirmwareDevices, when set, is the gateway's answer to POST
	// /api/fuota/devices/firmware (spec 6.8) for the firmware of a task the
	// plan writes: the devices that firmware fits. Each of the task's
	// devices that is on the gateway must be among them, and each should be
	// able to take the task's class C multicast session (see tasks.go).
	FirmwareDevices func(t *nsapi.FuotaTask) ([]nsapi.FuotaDevice, error)
	// Estimates adds to the plan, for each FUOTA task it writes, a Note
	// with the estimate of its session: fragments, time to send, airtime
	// (EstimateTask). gwsync plan and apply set it.
	Estimates bool
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
		opts.ReadFile = readFirmware
	}
	live = withoutRecords(live)
	// The fingerprint only reads the state: it is taken while the plan is
	// built.
	fingerprint := make(chan string, 1)
	go func() { fingerprint <- live.Fingerprint() }()
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
		StateFingerprint: <-fingerprint,
		SiteFiles:        append([]string(nil), desired.Files...),
		Changes:          b.changes,
		Unmanaged:        b.unmanaged,
		Notes:            b.notes,
	}
	if len(opts.StopTasks) > 0 { // a saved plan carries them to its apply
		p.StopTasks = slices.Sorted(slices.Values(slices.Compact(slices.Sorted(slices.Values(opts.StopTasks)))))
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
	// the site's devices (by upper EUI) and profiles (by name)
	siteDevByEUI   map[string]*site.Device
	siteProfByName map[string]*site.Profile
	replacedDevs   map[string]bool
	// deferred are the live devices (upper-case EUI) prune deletes once no
	// FUOTA task lists them: a later apply.
	deferred map[string]bool
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
	b.siteDevices, b.replacedDevs, b.liveUses, b.deferred = map[string]string{}, map[string]bool{}, map[string]use{}, map[string]bool{}
	for _, d := range b.site.Devices {
		e := strings.ToUpper(d.DevEUI)
		b.siteDevices[e] = cmp.Or(d.Name, e)
	}
	b.siteDevByEUI = byKey(b.site.Devices, func(d *site.Device) string { return strings.ToUpper(d.DevEUI) })
	b.siteProfByName = byKey(b.site.Profiles, func(p *site.Profile) string { return p.Name })
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
	b.noteKind(plan.NoteInfo, address, format, args...)
}

// noteKind adds a note of kind k: a deferred delete, a held change.
func (b *builder) noteKind(k plan.NoteKind, address, format string, args ...any) {
	b.notes = append(b.notes, plan.Note{Address: address, Text: fmt.Sprintf(format, args...), Kind: k})
}

func renameReason(from string) string {
	if from == "" {
		return ""
	}
	return fmt.Sprintf("renamed from %q", from)
}

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

// keysEqual compares two keys, each in clear or as its digest; keys in
// clear compare in lower case, as their digests are taken.
func keysEqual(a, b string) bool {
	if !isDigest(a) && !isDigest(b) {
		return strings.EqualFold(a, b)
	}
	return plan.SecretDigest(a) == plan.SecretDigest(b)
}

func isDigest(v string) bool { return strings.HasPrefix(v, "sha256:") }

// withoutRecords is live without gwsync's own records (codecs with a
// reserved name), which no plan creates, changes or prunes, also when a
// snapshot made by hand still lists them.
func withoutRecords(live *nsapi.State) *nsapi.State {
	for _, c := range live.Codecs {
		if reserved.Codec(c.Name) {
			cp := *live
			cp.Records = slices.Clone(live.Records)
			cp.SplitRecords()
			return &cp
		}
	}
	return live
}
