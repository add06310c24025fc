// Multicast groups and their membership.

package planner

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/gwsync/gwsync/band"
	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
	"github.com/gwsync/gwsync/site"
)

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
		if !b.deviceRef(sg.Pos, fmt.Sprintf("%s.devices[%d]", path, j), e, "group") {
			continue
		}
		if live[e] {
			continue
		}
		b.memberClass(sg, e)
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

// memberClass notes a member the plan adds whose profile (once the plan is applied) does
// not support the group's class: a class A device does not listen when a
// class B or C multicast downlink comes, so it never receives the group's
// traffic. A note, not a refusal: the device's firmware may switch class on
// its own.
func (b *builder) memberClass(sg *site.MulticastGroup, eui string) {
	prof, known, classB, classC := b.deviceClasses(eui)
	typ := strings.ToUpper(cmp.Or(sg.GroupType, nsapi.DefaultGroupType))
	if !known || (typ == "CLASS_B" && classB) || (typ != "CLASS_B" && classC) {
		return
	}
	class, field := "C", "supportsClassC"
	if typ == "CLASS_B" {
		class, field = "B", "supportsClassB"
	}
	b.note(address(plan.KindGroup, sg.Name), "device %s (%s) has profile %s, which does not support class %s: it may not receive the group's class %s downlinks (give it a profile with %s: true)",
		eui, b.devLabel(eui), prof, class, class, field)
}
