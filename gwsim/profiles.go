package gwsim

import (
	"regexp"
	"slices"

	"github.com/gwsync/gwsync/band"
	"github.com/gwsync/gwsync/nsapi"
)

var reProfileName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`)

var macVersions = []string{"1.0.0", "1.0.1", "1.0.2", "1.1.0"}

// profileSettingsOut is a profile's "profile" object in the list, in the
// example's field order.
type profileSettingsOut struct {
	ProfileID            string  `json:"profileID"`
	SupportsClassB       bool    `json:"supportsClassB"`
	ClassBTimeout        int64   `json:"classBTimeout"`
	PingSlotPeriod       int64   `json:"pingSlotPeriod"`
	PingSlotDR           int64   `json:"pingSlotDR"`
	PingSlotFreq         int64   `json:"pingSlotFreq"`
	SupportsClassC       bool    `json:"supportsClassC"`
	ClassCTimeout        int64   `json:"classCTimeout"`
	MacVersion           string  `json:"macVersion"`
	RegParamsRevision    string  `json:"regParamsRevision"`
	RxDROffset1          int64   `json:"rxDROffset1"`
	RxDataRate2          int64   `json:"rxDataRate2"`
	RxFreq2              int64   `json:"rxFreq2"`
	FactoryPresetFreqs   []int64 `json:"factoryPresetFreqs"`
	MaxEIRP              int64   `json:"maxEIRP"`
	MaxDutyCycle         int64   `json:"maxDutyCycle"`
	SupportsJoin         bool    `json:"supportsJoin"`
	RfRegion             string  `json:"rfRegion"`
	Supports32bitFCnt    bool    `json:"supports32bitFCnt"`
	EnableUplinkChannels []int64 `json:"enableUplinkChannels"`
}

type profileOut struct {
	Profile         profileSettingsOut `json:"profile"`
	Name            string             `json:"name"`
	OrganizationID  string             `json:"organizationID"`
	NetworkServerID string             `json:"networkServerID"`
	Using           bool               `json:"using"`
	IsDefault       *bool              `json:"isDefault,omitempty"` // the table's; not in the 2.3 example
}

type profileList struct {
	TotalCount  string       `json:"totalCount"`
	Disable     bool         `json:"disable"`
	Result      []profileOut `json:"result"`
	ChannelPlan string       `json:"channelPlan"`
}

func (g *Gateway) profileUsed(id string) bool {
	for _, d := range g.st.Devices {
		if d.ProfileID == id {
			return true
		}
	}
	return false
}

func (g *Gateway) listProfiles(req *request, _ string) any {
	limit, offset, e := paging(req.query)
	if e != nil {
		return e
	}
	out := profileList{TotalCount: itoa(len(g.st.Profiles)), Result: []profileOut{}, ChannelPlan: g.plan.Name}
	used := map[string]bool{}
	for _, d := range g.st.Devices {
		used[d.ProfileID] = true
	}
	lo, hi := page(len(g.st.Profiles), limit, offset)
	for _, p := range g.st.Profiles[lo:hi] {
		s := p.S
		out.Result = append(out.Result, profileOut{
			Profile: profileSettingsOut{
				ProfileID: p.ID, SupportsClassB: s.SupportsClassB, ClassBTimeout: int64(s.ClassBTimeout),
				PingSlotPeriod: int64(s.PingSlotPeriod), PingSlotDR: int64(s.PingSlotDR), PingSlotFreq: int64(s.PingSlotFreq),
				SupportsClassC: s.SupportsClassC, ClassCTimeout: int64(s.ClassCTimeout), MacVersion: s.MacVersion,
				RegParamsRevision: s.RegParamsRevision, RxDROffset1: int64(s.RxDROffset1), RxDataRate2: int64(s.RxDataRate2),
				RxFreq2: int64(s.RxFreq2), FactoryPresetFreqs: nonNil(s.FactoryPresetFreqs), MaxEIRP: int64(s.MaxEIRP),
				SupportsJoin: s.SupportsJoin, RfRegion: rfRegions[g.plan.Name], Supports32bitFCnt: s.Supports32bitFCnt,
				EnableUplinkChannels: nonNil(s.EnableUplinkChannels),
			},
			Name: p.Name, OrganizationID: "1", NetworkServerID: "1", Using: used[p.ID],
		})
		if !g.examples() {
			isDefault := p.Builtin
			out.Result[len(out.Result)-1].IsDefault = &isDefault
		}
	}
	return out
}

// profileFields are the members of "profile" the PUT table requires.
var profileFields = []string{"maxEIRP", "supportsJoin", "supportsClassB", "supportsClassC", "macVersion",
	"regParamsRevision", "rxDROffset1", "rxDataRate2", "rxFreq2", "factoryPresetFreqs", "enableUplinkChannels",
	"supports32bitFCnt", "pingSlotPeriod", "pingSlotDR", "pingSlotFreq", "classBTimeout", "classCTimeout"}

// readProfile reads and checks a create (put false: defaults apply) or
// update (put true: every field required) body.
func (g *Gateway) readProfile(req *request, put bool) (string, nsapi.ProfileSettings, *apiError) {
	f, e := readBody(req.Body)
	if e != nil {
		return "", nsapi.ProfileSettings{}, e
	}
	f.require("name", "profile")
	name := f.str("name", "")
	if f.failed() == nil && !reProfileName.MatchString(name) {
		f.fail(nsapi.CodeParameter, "name", "want a letter then up to 63 letters, digits, - or _")
	}
	p := f.object("profile")
	if f.failed() != nil {
		return "", nsapi.ProfileSettings{}, f.failed()
	}
	if put {
		p.require(profileFields...)
	}
	d := defaultProfileSettings(g.plan)
	s := nsapi.ProfileSettings{
		MaxEIRP:              nsapi.FlexInt(p.integer("maxEIRP", 0, false)),
		SupportsJoin:         p.boolean("supportsJoin", false),
		SupportsClassB:       p.boolean("supportsClassB", false),
		SupportsClassC:       p.boolean("supportsClassC", false),
		MacVersion:           p.str("macVersion", d.MacVersion),
		RegParamsRevision:    p.str("regParamsRevision", d.RegParamsRevision),
		RxDROffset1:          nsapi.FlexInt(p.integer("rxDROffset1", 0, false)),
		RxDataRate2:          nsapi.FlexInt(p.integer("rxDataRate2", int64(d.RxDataRate2), false)),
		RxFreq2:              nsapi.FlexInt(p.integer("rxFreq2", int64(d.RxFreq2), false)),
		FactoryPresetFreqs:   nonNil(p.ints("factoryPresetFreqs")),
		EnableUplinkChannels: nonNil(p.ints("enableUplinkChannels")),
		Supports32bitFCnt:    p.boolean("supports32bitFCnt", d.Supports32bitFCnt),
		PingSlotPeriod:       nsapi.FlexInt(p.integer("pingSlotPeriod", int64(d.PingSlotPeriod), false)),
		PingSlotDR:           nsapi.FlexInt(p.integer("pingSlotDR", int64(d.PingSlotDR), false)),
		PingSlotFreq:         nsapi.FlexInt(p.integer("pingSlotFreq", int64(d.PingSlotFreq), false)),
		ClassBTimeout:        nsapi.FlexInt(p.integer("classBTimeout", int64(d.ClassBTimeout), false)),
		ClassCTimeout:        nsapi.FlexInt(p.integer("classCTimeout", int64(d.ClassCTimeout), false)),
	}
	if f.failed() != nil {
		return "", s, f.failed()
	}
	p.rangeCheck("maxEIRP", int64(s.MaxEIRP), 0, maxEIRP)
	if !slices.Contains(macVersions, s.MacVersion) {
		p.fail(nsapi.CodeParameter, "macVersion", "want one of 1.0.0, 1.0.1, 1.0.2, 1.1.0")
	}
	if s.RegParamsRevision != "A" && s.RegParamsRevision != "B" {
		p.fail(nsapi.CodeParameter, "regParamsRevision", "want A or B")
	}
	p.rangeCheck("rxDROffset1", int64(s.RxDROffset1), 0, 5)
	g.checkDR(p, "rxDataRate2", int64(s.RxDataRate2))
	g.checkFreq(p, "rxFreq2", int64(s.RxFreq2))
	if !slices.Contains(band.PingSlotPeriods, int64(s.PingSlotPeriod)) {
		p.fail(nsapi.CodeParameter, "pingSlotPeriod", "want one of 32, 64, 128, 256, 512, 1024, 2048, 4096")
	}
	g.checkDR(p, "pingSlotDR", int64(s.PingSlotDR))
	g.checkFreq(p, "pingSlotFreq", int64(s.PingSlotFreq))
	p.rangeCheck("classBTimeout", int64(s.ClassBTimeout), 0, 10)
	p.rangeCheck("classCTimeout", int64(s.ClassCTimeout), 0, 10)
	for _, fr := range s.FactoryPresetFreqs {
		if fr <= 0 || fr > maxFrequency {
			p.fail(nsapi.CodeParameter, "factoryPresetFreqs", "want frequencies in Hz, 1–%d", int64(maxFrequency))
		}
	}
	for _, ch := range s.EnableUplinkChannels {
		if ch < 0 || ch > 95 {
			p.fail(nsapi.CodeParameter, "enableUplinkChannels", "want channel numbers 0–95")
		}
	}
	return name, s, f.failed()
}

func (g *Gateway) checkDR(f *fields, key string, dr int64) {
	if !g.plan.HasDR(dr) {
		f.fail(nsapi.CodeParameter, key, "data rate %d is not offered by %s (%s)", dr, g.plan.Name, g.plan.DataRatesText())
	}
}

func (g *Gateway) checkFreq(f *fields, key string, hz int64) {
	if !g.plan.FreqInRange(hz) {
		f.fail(nsapi.CodeParameter, key, "%d Hz is outside %s's %d–%d", hz, g.plan.Name, g.plan.MinFreq, g.plan.MaxFreq)
	}
}

func (g *Gateway) createProfile(req *request, _ string) any {
	name, s, e := g.readProfile(req, false)
	if e != nil {
		return e
	}
	if g.st.profileByName(name) != nil {
		return errf(nsapi.CodeAlreadyExists, "profile %q", name)
	}
	p := &profRec{ID: newUUID(), Name: name, S: s}
	g.st.Profiles = append(g.st.Profiles, p)
	g.st.idx.prof[p.ID] = p
	g.st.putProfile(p)
	return struct {
		ProfileID string `json:"profileID"`
	}{p.ID}
}

func (g *Gateway) updateProfile(req *request, id string) any {
	p := g.st.profile(id)
	if p == nil {
		return notFound(req, "profile %s", id)
	}
	name, s, e := g.readProfile(req, true)
	if e != nil {
		return e
	}
	next := *p
	next.Name, next.S = name, s
	if e := replace(p, next, g.st.profileByName(name), "profile %q", name); e != nil {
		return e
	}
	g.st.putProfile(p)
	return blankBody
}

func (g *Gateway) deleteProfile(_ *request, id string) any {
	p := g.st.profile(id)
	if p == nil {
		return errf(nsapi.CodeNotFound, "profile %s", id)
	}
	if p.Builtin {
		return errf(nsapi.CodeFailedPrecondition, "profile %s is built in", p.Name)
	}
	if g.profileUsed(id) {
		return errf(nsapi.CodeFailedPrecondition, "profile %s is used by a device", p.Name)
	}
	g.st.Profiles = without(g.st.Profiles, p)
	delete(g.st.idx.prof, p.ID)
	g.st.delProfile(p)
	return blankBody
}

func nonNil(v []int64) []int64 {
	if v == nil {
		return []int64{}
	}
	return v
}
