// Device profiles: the desired profile with the channel plan's defaults,
// how a live profile is compared, and which profiles the gateway ships.

package planner

import (
	"reflect"
	"slices"
	"strings"

	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
	"github.com/gwsync/gwsync/site"
)

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

// builtinProfile reports whether p is one the gateway ships: by name
// (ClassA-OTAA, ClassB-OTAA, ClassC-OTAA), since the spec's profile list
// (2.3) does not carry isDefault, or by isDefault where the list has it.
// Prune never deletes one.
func builtinProfile(p *nsapi.Profile) bool {
	return p.IsDefault || slices.Contains(site.BuiltinProfiles, p.Name)
}
