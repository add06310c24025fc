package site

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/gwsync/gwsync/band"
	"github.com/gwsync/gwsync/internal/reserved"
	"github.com/gwsync/gwsync/internal/safefile"
	"github.com/gwsync/gwsync/schema"
)

// BuiltinProfiles are the profiles every gateway holds; all three are OTAA.
var BuiltinProfiles = []string{"ClassA-OTAA", "ClassB-OTAA", "ClassC-OTAA"}

// DefaultKey is the key the spec publishes as the gateway's default: public,
// so never a secret.
const DefaultKey = "5572404c696e6b4c6f52613230313823"

// MaxFragments bounds a FUOTA session's fragments, redundancy included
// (LoRaWAN TS004: a 14-bit fragment index).
const MaxFragments = 16383

// parseRef splits a whole ${env:NAME} or ${file:PATH} reference into its
// kind ("env" or "file") and argument (no "}" in it); ok is false for
// anything else.
func parseRef(s string) (kind, arg string, ok bool) {
	rest, ok := strings.CutPrefix(s, "${")
	if !ok || !strings.HasSuffix(rest, "}") {
		return "", "", false
	}
	kind, arg, ok = strings.Cut(rest[:len(rest)-1], ":")
	if !ok || (kind != "env" && kind != "file") || arg == "" || strings.Contains(arg, "}") {
		return "", "", false
	}
	return kind, arg, true
}

// isRef reports whether s is a whole ${env:NAME} or ${file:PATH} reference.
func isRef(s string) bool { _, _, ok := parseRef(s); return ok }

// isHex32 reports whether s is 32 hex digits (a key).
func isHex32(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

// finish runs everything that needs the whole site: version, defaults,
// secrets, semantic checks and the security lint.
func (l *loader) finish() {
	if len(l.files) > 0 && !l.unparsed {
		if _, ok := l.single["version"]; !ok {
			l.add(Pos{File: l.firstYAML(), Line: 1, Col: 1}, "version", "missing required field \"version\" (write version: 1)")
		}
	}
	l.applyDefaults()
	l.fieldPositions()
	l.resolveSecrets()
	plan := l.channelPlan()
	l.checkProfiles(plan)
	l.checkCodecs()
	l.checkDevices()
	l.checkGroups(plan)
	l.checkTasks(plan)
	l.lintKeys()
	sort.SliceStable(l.site.External, func(i, j int) bool {
		a, b := l.site.External[i], l.site.External[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Name < b.Name
	})
}

func (l *loader) firstYAML() string {
	for _, f := range l.files {
		ext := strings.ToLower(filepath.Ext(f))
		if ext == ".yaml" || ext == ".yml" {
			return f
		}
	}
	return l.files[0]
}

// channelPlan returns the plan ranges are checked against, or nil.
func (l *loader) channelPlan() *band.Plan {
	gw := &l.site.Gateway
	var p *band.Plan
	switch {
	case gw.ChannelPlan != "":
		var err error
		if p, err = band.Lookup(gw.ChannelPlan); err != nil {
			return nil // the schema reported it
		}
		gw.ChannelPlan = p.Name
	case l.opts.ChannelPlan != "":
		var err error
		if p, err = band.Lookup(l.opts.ChannelPlan); err != nil {
			l.add(Pos{}, "", "%v", err)
			return nil
		}
	default:
		return nil
	}
	if gw.DwellTime != nil && !p.HasDwellTime() {
		l.warn(gw.DwellTimePos, "gateway.dwellTime", "%s has no dwell-time limit: dwellTime applies to AS923 only", p.Name)
	}
	return p.Dwell(gw.DwellTimeOn())
}

// ---- secrets ----

// secretSite is one secret field of the site, for resolution and the lint.
type secretSite struct {
	s     *Secret
	from  string // the file that holds it, for ${file:…}
	path  string
	owner string // "device em300-th-01", "multicast group lights", "connection"
	field string
	key   bool // a LoRaWAN key (32 hex digits), not a password
}

func (l *loader) secretSites() []secretSite {
	var out []secretSite
	if l.site.Connection.Password.Value != "" {
		out = append(out, secretSite{s: &l.site.Connection.Password, from: l.site.Connection.Password.Pos.File,
			path: "connection.password", owner: "connection", field: "password"})
	}
	for _, d := range l.devices {
		dev := &l.site.Devices[d.idx]
		owner := "device " + deviceLabel(dev)
		for _, f := range []struct {
			name string
			s    *Secret
		}{{"appKey", &dev.AppKey}, {"nwkSKey", &dev.NwkSKey}, {"appSKey", &dev.AppSKey}} {
			if f.s.Value == "" {
				continue
			}
			_, path := l.devAt(d, f.name)
			out = append(out, secretSite{s: f.s, from: d.file(), path: path, owner: owner, field: f.name, key: true})
		}
	}
	for _, g := range l.groups {
		grp := &l.site.MulticastGroups[g.idx]
		for _, f := range []struct {
			name string
			s    *Secret
		}{{"mcNwkSKey", &grp.McNwkSKey}, {"mcAppSKey", &grp.McAppSKey}} {
			if f.s.Value == "" {
				continue
			}
			out = append(out, secretSite{s: f.s, from: g.m.file, path: g.m.sub(f.name),
				owner: "multicast group " + grp.Name, field: f.name, key: true})
		}
	}
	return out
}

func deviceLabel(d *Device) string {
	if d.Name != "" {
		return d.Name
	}
	return d.DevEUI
}

// resolveSecrets replaces ${env:…} and ${file:…} references with their
// values. A value never appears in a message. Offline, a reference that
// cannot be resolved is a warning and its secret is marked Unset.
func (l *loader) resolveSecrets() {
	sites := l.secretSites()
	var files []ref
	for _, ss := range sites {
		if kind, arg, ok := parseRef(ss.s.Ref); ok && kind == "file" {
			if p, root, err := l.refPath(ss.from, arg); err == nil && root != nil {
				files = append(files, ref{p, root})
			}
		}
	}
	l.prefetch(files)
	for _, ss := range sites {
		sec := ss.s
		if sec.Ref == "" {
			if ss.key {
				sec.Value = strings.ToLower(sec.Value)
			}
			continue
		}
		if ss.field == "password" && ss.owner == "connection" && l.opts.PasswordGiven {
			sec.Value, sec.Unset = "", true
			continue
		}
		unresolved := func(format string, args ...any) {
			sec.Value = ""
			if l.opts.Offline {
				sec.Unset = true
				l.warn(sec.Pos, ss.path, format+": needed by plan and apply", args...)
				return
			}
			l.add(sec.Pos, ss.path, format, args...)
		}
		kind, arg, _ := parseRef(sec.Ref)
		var val string
		switch kind {
		case "env":
			v, ok := l.opts.LookupEnv(arg)
			if !ok || v == "" {
				unresolved("%s is not set", sec.Ref)
				continue
			}
			val = v
		case "file":
			b, p, err := l.readRef(ss.from, arg, safefile.Key)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					unresolved("%s: cannot read %s: %v", sec.Ref, p, err)
				} else {
					l.add(sec.Pos, ss.path, "%s: cannot read %s: %v", sec.Ref, p, err)
					sec.Value = ""
				}
				continue
			}
			val = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
			if val == "" {
				l.add(sec.Pos, ss.path, "%s: %s is empty", sec.Ref, p)
				sec.Value = ""
				continue
			}
		}
		if ss.key {
			if !isHex32(val) {
				l.add(sec.Pos, ss.path, "%s is not 32 hex digits", sec.Ref)
				sec.Value = ""
				continue
			}
			val = strings.ToLower(val)
		}
		sec.Value = val
	}
}

// ---- names ----

// named is one object with a name, for uniqueness and renamedFrom checks.
type named struct {
	name, renamedFrom string
	namePos, fromPos  Pos
	namePath, fromPth string
}

func (l *loader) checkNames(kind string, objs []named) {
	first := map[string]Pos{}
	for _, o := range objs {
		if o.name == "" {
			continue
		}
		if p, dup := first[o.name]; dup {
			l.add(o.namePos, o.namePath, "duplicate %s name %q (first at %s)", kind, o.name, posText(p))
			continue
		}
		first[o.name] = o.namePos
	}
	from := map[string]Pos{}
	for _, o := range objs {
		if o.renamedFrom == "" {
			continue
		}
		switch p, dup := from[o.renamedFrom]; {
		case o.renamedFrom == o.name:
			l.add(o.fromPos, o.fromPth, "renamedFrom is the %s's own name", kind)
		case dup:
			l.add(o.fromPos, o.fromPth, "%s %q is renamed twice (first at %s)", kind, o.renamedFrom, posText(p))
		default:
			if p, ok := first[o.renamedFrom]; ok {
				l.add(o.fromPos, o.fromPth, "renamedFrom names %s %q, which the site also declares (at %s)", kind, o.renamedFrom, posText(p))
			}
		}
		from[o.renamedFrom] = o.fromPos
	}
}

func posText(p Pos) string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

func (it *item) named(name, from string) named {
	return named{name: name, renamedFrom: from, namePos: it.m.pos("name"), fromPos: it.m.pos("renamedFrom"),
		namePath: it.m.sub("name"), fromPth: it.m.sub("renamedFrom")}
}

// ---- resources ----

func (l *loader) checkProfiles(plan *band.Plan) {
	objs := make([]named, len(l.profiles))
	for i, it := range l.profiles {
		p := &l.site.Profiles[it.idx]
		objs[i] = it.named(p.Name, p.RenamedFrom)
		for _, b := range BuiltinProfiles {
			if p.Name == b {
				l.warn(it.m.pos("name"), it.m.sub("name"), "%q is a built-in profile of the gateway: this changes it, and fields left out take their defaults; give your profile a name of its own", b)
			}
		}
		if plan == nil {
			continue
		}
		l.checkFreq(plan, p.RxFreq2, it.m, "rxFreq2")
		l.checkDR(plan, p.RxDataRate2, it.m, "rxDataRate2")
		l.checkFreq(plan, p.PingSlotFreq, it.m, "pingSlotFreq")
		l.checkDR(plan, p.PingSlotDR, it.m, "pingSlotDR")
	}
	l.checkNames("profile", objs)
}

func (l *loader) checkFreq(plan *band.Plan, f *int64, m *mapping, field string) {
	if f == nil || plan.FreqInRange(*f) {
		return
	}
	l.add(m.pos(field), m.sub(field), "%d Hz is outside %s's range %d-%d Hz", *f, plan.Name, plan.MinFreq, plan.MaxFreq)
}

func (l *loader) checkDR(plan *band.Plan, dr *int64, m *mapping, field string) {
	if dr == nil || plan.HasDR(*dr) {
		return
	}
	l.add(m.pos(field), m.sub(field), "data rate %d is not one %s offers (%s)", *dr, plan.Name, plan.DataRatesText())
}

func (l *loader) checkCodecs() {
	objs := make([]named, len(l.codecs))
	for i, it := range l.codecs {
		c := &l.site.Codecs[it.idx]
		objs[i] = it.named(c.Name, c.RenamedFrom)
		for _, n := range []struct{ name, field string }{{c.Name, "name"}, {c.RenamedFrom, "renamedFrom"}} {
			if reserved.Codec(n.name) {
				l.add(it.m.pos(n.field), it.m.sub(n.field), "codec name %q is reserved: gwsync keeps its own records on the gateway under it (the lock, the digests of write-only values); give the codec another name", n.name)
			}
		}
	}
	l.checkNames("codec", objs)
}

// external records a reference the site cannot resolve itself, for the
// planner; it reports whether it is the first to that name.
func (l *loader) external(kind, name string, p Pos, path string, seen map[string]bool) bool {
	k := kind + "\x00" + name
	if seen[k] {
		return false
	}
	seen[k] = true
	l.site.External = append(l.site.External, Ref{Kind: kind, Name: name, Pos: p, Path: path})
	return true
}

// didYouMean warns of a reference to a name that is neither in the site
// nor built in but close to one that is: likely a typo. It is a warning,
// not an error: the gateway may hold the name (plan checks that).
func (l *loader) didYouMean(kind, name string, p Pos, path string, candidates []string) {
	if s := closeName(name, candidates); s != "" {
		l.warn(p, path, "%s %q is neither in the site nor built in: did you mean %q? (plan checks whether the gateway has %q)", kind, name, s, name)
	}
}

// closeName is the candidate name is a likely typo of: the same but for
// case or "-"/"_", or one edit away (two for names over 10 characters).
func closeName(name string, candidates []string) string {
	norm := func(s string) string { return strings.NewReplacer("_", "-", " ", "-").Replace(strings.ToLower(s)) }
	limit := 1
	if len(name) > 10 {
		limit = 2
	}
	best, bestD := "", limit+1
	for _, c := range candidates {
		if c == name {
			return ""
		}
		if d := schema.EditDistance(norm(name), norm(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func mapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (l *loader) checkDevices() {
	profiles := map[string]*Profile{}
	for i := range l.site.Profiles {
		profiles[l.site.Profiles[i].Name] = &l.site.Profiles[i]
	}
	codecs := map[string]bool{}
	for _, c := range l.site.Codecs {
		codecs[c.Name] = true
	}
	builtin := map[string]bool{}
	for _, b := range BuiltinProfiles {
		builtin[b] = true
	}
	seenExt := map[string]bool{}
	euis := map[string]Pos{}
	names := map[string]Pos{}
	for _, d := range l.devices {
		dev := &l.site.Devices[d.idx]
		self, selfPath := l.devSelf(d)
		if dev.DevEUI != "" {
			p, path := l.devAt(d, "devEUI")
			if first, dup := euis[dev.DevEUI]; dup {
				l.add(p, path, "duplicate devEUI %s (first at %s)", dev.DevEUI, posText(first))
			} else {
				euis[dev.DevEUI] = p
			}
		}
		if dev.Name != "" {
			p, path := l.devAt(d, "name")
			if first, dup := names[dev.Name]; dup {
				l.add(p, path, "duplicate device name %q (first at %s)", dev.Name, posText(first))
			} else {
				names[dev.Name] = p
			}
		}
		if dev.Application == "" {
			l.add(self, selfPath, "missing application (give it here or in deviceDefaults)")
		} else {
			p, path := l.devAt(d, "application")
			l.external("application", dev.Application, p, path, seenExt)
		}
		profile := dev.Profile
		if profile == "" {
			profile = BuiltinProfiles[0]
		}
		var otaa, known bool
		abpWhy := "does not support join (ABP)"
		if p, ok := profiles[profile]; ok {
			known, otaa = true, p.SupportsJoin != nil && *p.SupportsJoin
			if p.SupportsJoin == nil {
				abpWhy = "leaves supportsJoin out, so it is ABP (supportsJoin defaults to false)"
			}
		} else if builtin[profile] {
			known, otaa = true, true
		} else {
			p, path := l.devAt(d, "profile")
			if l.external("profile", profile, p, path, seenExt) {
				l.didYouMean("profile", profile, p, path, append(mapKeys(profiles), BuiltinProfiles...))
			}
		}
		if dev.Codec != "" && !codecs[dev.Codec] {
			p, path := l.devAt(d, "codec")
			if l.external("codec", dev.Codec, p, path, seenExt) {
				l.didYouMean("codec", dev.Codec, p, path, mapKeys(codecs))
			}
		}
		if known && otaa && !dev.AppKey.IsSet() && dev.AppKey.Ref == "" {
			l.add(self, selfPath, "missing appKey: profile %s supports join (OTAA)", profile)
		}
		if known && !otaa {
			var missing []string
			if dev.DevAddr == "" {
				missing = append(missing, "devAddr")
			}
			if !dev.NwkSKey.IsSet() && dev.NwkSKey.Ref == "" {
				missing = append(missing, "nwkSKey")
			}
			if !dev.AppSKey.IsSet() && dev.AppSKey.Ref == "" {
				missing = append(missing, "appSKey")
			}
			if len(missing) > 0 {
				l.add(self, selfPath, "missing %s: profile %s %s", strings.Join(missing, ", "), profile, abpWhy)
			}
		}
	}
	l.deviceEUIs = euis
}

// members checks a group's or task's device list: no EUI twice, and a
// warning for EUIs the site does not declare (they must be on the gateway).
func (l *loader) members(m *mapping, devs []string, what string) {
	_, pos := m.strs("devices")
	seen := map[string]int{}
	for i, eui := range devs {
		if i >= len(pos) {
			break
		}
		path := fmt.Sprintf("%s[%d]", m.sub("devices"), i)
		if j, dup := seen[eui]; dup {
			l.add(pos[i], path, "%s is listed twice (also devices[%d])", eui, j)
			continue
		}
		seen[eui] = i
		if _, ok := l.deviceEUIs[eui]; !ok && len(eui) == 16 {
			l.warn(pos[i], path, "%s is not a device of this site; the gateway must already hold it to %s", eui, what)
		}
	}
}

func (l *loader) checkGroups(plan *band.Plan) {
	objs := make([]named, len(l.groups))
	for i, it := range l.groups {
		g := &l.site.MulticastGroups[it.idx]
		objs[i] = it.named(g.Name, g.RenamedFrom)
		l.members(it.m, g.Devices, "join the group")
		if g.PingSlotPeriod != nil && g.GroupType != "CLASS_B" {
			l.warn(it.m.pos("pingSlotPeriod"), it.m.sub("pingSlotPeriod"), "pingSlotPeriod applies to CLASS_B groups only")
		}
		if plan != nil {
			l.checkFreq(plan, g.Frequency, it.m, "frequency")
			l.checkDR(plan, g.DR, it.m, "dr")
		}
	}
	l.checkNames("multicast group", objs)
}

func (l *loader) checkTasks(plan *band.Plan) {
	objs := make([]named, len(l.tasks))
	for i, it := range l.tasks {
		t := &l.site.FirmwareUpdates[it.idx]
		m := it.m
		objs[i] = it.named(t.Name, t.RenamedFrom)
		l.members(m, t.Devices, "be updated")
		if t.StartAt != "" && m.has("startAt") {
			if !rfc3339Shape.MatchString(t.StartAt) {
				// the schema's message, so that the two report it once
				l.add(m.pos("startAt"), m.sub("startAt"), "%q is not an RFC 3339 time (2026-12-01T02:00:00Z)", t.StartAt)
			} else if at, err := time.Parse(time.RFC3339Nano, t.StartAt); err != nil {
				l.add(m.pos("startAt"), m.sub("startAt"), "%q is not an RFC 3339 time: %s", t.StartAt, timeReason(err))
			} else if at.Nanosecond() != 0 {
				l.add(m.pos("startAt"), m.sub("startAt"), "%q has fractional seconds (%s, from character %d): the gateway keeps whole seconds, so the task would never match the site; write %s or %s",
					t.StartAt, fraction(t.StartAt), strings.IndexByte(t.StartAt, '.')+1,
					at.Truncate(time.Second).UTC().Format(WireTime), at.Truncate(time.Second).Add(time.Second).UTC().Format(WireTime))
			} else {
				t.StartAt = at.UTC().Format(WireTime)
			}
		}
		hasFile, hasOfficial := m.has("firmwareFile"), m.has("official")
		switch {
		case hasFile && hasOfficial:
			l.add(m.pos("official"), m.sub("official"), "give firmwareFile or official, not both")
		case !hasFile && !hasOfficial && !m.has("firmwareName"):
			l.add(m.self(), m.path, "missing firmware: give firmwareFile or official (or firmwareName alone, for the firmware the gateway holds)")
		case hasOfficial && m.has("firmwareName"):
			l.add(m.pos("firmwareName"), m.sub("firmwareName"), "firmwareName applies to firmwareFile only")
		}
		var size int64 = -1
		if hasFile && t.FirmwareFile != "" {
			b, _, err := l.readRef(m.file, m.s("firmwareFile"), safefile.Firmware)
			var te *safefile.TypeError
			switch {
			case errors.As(err, &te) && te.Mode.IsDir():
				l.add(m.pos("firmwareFile"), m.sub("firmwareFile"), "%s is a directory", t.FirmwareFile)
			case err != nil:
				l.add(m.pos("firmwareFile"), m.sub("firmwareFile"), "cannot read %s: %v", t.FirmwareFile, err)
			case len(b) == 0:
				l.add(m.pos("firmwareFile"), m.sub("firmwareFile"), "%s is empty", t.FirmwareFile)
			default:
				size = int64(len(b))
			}
		}
		frag := m.child("fragment")
		mc := m.child("multicast")
		if plan != nil && mc != nil {
			l.checkFreq(plan, t.Multicast.Frequency, mc, "frequency")
			l.checkDR(plan, t.Multicast.DR, mc, "dr")
		}
		if frag == nil || t.Fragment.Size < 1 || t.Fragment.Size > 250 {
			continue
		}
		if plan != nil {
			dr := plan.RX2DR
			if t.Multicast.DR != nil {
				dr = *t.Multicast.DR
			}
			if msg := FragmentProblem(plan, dr, t.Fragment.Size); msg != "" {
				l.add(frag.pos("size"), frag.sub("size"), "%s", msg)
			}
		}
		if size > 0 && t.Fragment.Redundancy >= 0 && t.Fragment.Redundancy <= 100 {
			n := (size + t.Fragment.Size - 1) / t.Fragment.Size
			total := n + (n*t.Fragment.Redundancy+99)/100
			if total > MaxFragments {
				l.add(frag.pos("size"), frag.sub("size"), "%s (%d bytes) makes %d fragments with %d%% redundancy, more than %d; use larger fragments or less redundancy",
					filepath.Base(t.FirmwareFile), size, total, t.Fragment.Redundancy, MaxFragments)
			}
		}
	}
	l.checkNames("FUOTA task", objs)
}

// FragmentProblem is what is wrong with a FUOTA fragment of size bytes at
// data rate dr on plan p (band tables, with p's dwell-time setting), or ""
// when it fits. A data rate p lacks is reported elsewhere.
func FragmentProblem(p *band.Plan, dr, size int64) string {
	return FragmentProblemMax(p, dr, size, p.MaxFragment(dr), "")
}

// FragmentProblemMax is FragmentProblem against max, the largest fragment
// for dr; from names where max comes from when it is not p's table
// ("the gateway's payload-size answer").
func FragmentProblemMax(p *band.Plan, dr, size, max int64, from string) string {
	if !p.HasDR(dr) || size <= max {
		return ""
	}
	if from != "" {
		return fmt.Sprintf("%d bytes is more than data rate %d carries on %s: at most %d (%s)", size, dr, p.Name, max, from)
	}
	dwell := ""
	if p.DwellTime {
		dwell = " with the 400 ms dwell-time limit (gateway.dwellTime: false lifts it)"
	}
	if max <= 0 {
		return fmt.Sprintf("data rate %d carries no FUOTA fragment on %s%s: use a faster data rate", dr, p.Name, dwell)
	}
	return fmt.Sprintf("%d bytes is more than data rate %d carries on %s%s: at most %d (maximum payload %d less the %d-byte fragment header)",
		size, dr, p.Name, dwell, max, max+band.FragmentHeader, band.FragmentHeader)
}

// rfc3339Shape is the schema's startAt pattern: RFC 3339 as the spec's
// examples write it (6.1, 6.3: "2025-04-15T00:50:00.000Z",
// "2025-04-15T01:13:00+01:00"). The gateway answers 10310004 to other forms,
// such as a space for the T. Times of this shape that time.Parse refuses
// (month 13) are reported too.
var rfc3339Shape = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$`)

// WireTime is the form the spec's request examples write times in (6.1,
// 6.3: "2025-04-15T00:50:00.000Z"): UTC, whole seconds, milliseconds
// written. A site's startAt is normalised to it at load, so that what the
// plan shows is what goes on the wire.
const WireTime = "2006-01-02T15:04:05.000Z"

// fraction is the fractional seconds of an RFC 3339 time: ".5".
func fraction(s string) string {
	i := strings.IndexByte(s, '.')
	if i < 0 {
		return ""
	}
	j := i + 1
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	return s[i:j]
}

func timeReason(err error) string {
	if pe, ok := err.(*time.ParseError); ok && pe.Message != "" {
		return strings.TrimPrefix(pe.Message, ": ")
	}
	return "not a valid date and time"
}

// ---- security lint ----

// lintKeys warns about keys that are public, weak, shared or written in
// clear. Messages name the fields, never the values.
func (l *loader) lintKeys() {
	sites := l.secretSites()
	byValue := map[string][]secretSite{}
	for _, ss := range sites {
		sec := ss.s
		if sec.Value == "" || (ss.key && !isHex32(sec.Value)) {
			continue // reported already
		}
		if sec.Ref == "" {
			if ss.key {
				l.secWarn(sec.Pos, ss.path, "key written in clear in the site file; use ${env:NAME} or ${file:PATH}")
			} else {
				l.secWarn(sec.Pos, ss.path, "password written in clear in the site file; use ${env:NAME} or ${file:PATH}")
			}
		}
		if !ss.key {
			continue
		}
		switch {
		case strings.EqualFold(sec.Value, DefaultKey):
			l.secWarn(sec.Pos, ss.path, "is the spec's published default key: anyone can use it; set a key of your own")
		case strings.Trim(sec.Value, "0") == "":
			l.secWarn(sec.Pos, ss.path, "is an all-zero key; set a random key")
		}
		byValue[sec.Value] = append(byValue[sec.Value], ss)
	}
	for _, users := range byValue {
		if len(users) < 2 {
			continue
		}
		// Each user names at most three others, the first ones other than
		// itself: the lint stays linear however many share a key.
		label := make([]string, min(len(users), 4))
		for j := range label {
			label[j] = fmt.Sprintf("%s (%s)", users[j].owner, users[j].field)
		}
		for i, u := range users {
			others := make([]string, 0, 3)
			for j := 0; j < len(label) && len(others) < 3; j++ {
				if j != i {
					others = append(others, label[j])
				}
			}
			more := ""
			if n := len(users) - 1; n > 3 {
				more = fmt.Sprintf(" and %d more", n-3)
			}
			l.secWarn(u.s.Pos, u.path, "same key as %s%s; give every device and group its own key", strings.Join(others, ", "), more)
		}
	}
	for _, it := range l.groups {
		g := &l.site.MulticastGroups[it.idx]
		for _, f := range []struct {
			name string
			s    Secret
		}{{"mcNwkSKey", g.McNwkSKey}, {"mcAppSKey", g.McAppSKey}} {
			if !it.m.has(f.name) {
				l.secWarn(it.m.self(), it.m.path, "%s left out: the gateway uses the spec's published default key; set a key of your own", f.name)
			}
		}
	}
}
