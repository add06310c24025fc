// Unique names: plans that reuse a device name are staged so they apply.

package planner

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gwsync/gwsync/plan"
	"github.com/gwsync/gwsync/site"
)

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
			tmp, ok := b.tempName(h, name, eui, moved, finals, holder)
			if !ok {
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
		case b.deferred[h]:
			// prune deletes the holder once no FUOTA task lists it; until
			// then it leaves the name under a temporary one.
			tmp, ok := b.tempName(h, name, eui, moved, finals, holder)
			if !ok {
				continue
			}
			live := b.liveDevices[h]
			before, after := *live, *live
			before.DevEUI, after.DevEUI = h, h
			after.Name = tmp
			after.AppKey, after.NwkSKey, after.AppSKey = liveKey(live.AppKey, ""), liveKey(live.NwkSKey, ""), liveKey(live.AppSKey, "")
			tempRenames = append(tempRenames, plan.Change{Address: address(plan.KindDevice, h), Kind: plan.KindDevice, Name: tmp, ID: h, Action: plan.Update,
				Reason: fmt.Sprintf("frees the name %q for device %s; this device's delete is deferred (see its note), and it keeps the temporary name until then", name, eui),
				Before: &plan.Object{Device: &before}, After: &plan.Object{Device: &after}, FreesName: true})
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
				why = "which this plan cannot delete"
			}
			b.problem(pos, path, "device name %q is held on the gateway by device %s, %s; device names are unique on the gateway", name, h, why)
		}
	}
	for _, c := range tempRenames {
		b.add(c)
	}
}

// tempName is the temporary name device h leaves name under for device
// eui, the first time it is asked for h (false after that, or when that
// name is taken: a problem of the plan).
func (b *builder) tempName(h, name, eui string, moved, finals map[string]bool, holder map[string]string) (string, bool) {
	if moved[h] {
		return "", false
	}
	moved[h] = true
	tmp := tempNamePrefix + h
	if finals[tmp] || holder[tmp] != "" {
		b.problem(site.Pos{}, "devices", "device %s must leave its name %q to device %s, but its temporary name %q is taken", h, name, eui, tmp)
		return "", false
	}
	return tmp, true
}
