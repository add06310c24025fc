// What the gateway holds and the site does not: deleted when prune is on
// for its kind, listed as unmanaged when it is off; built-ins never deleted.

package planner

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
)

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
				b.noteKind(plan.NoteHeld, addr, "held: task %s is %s and not in the site; prune waits until it ends; pass --stop-task %s to stop and delete it now", t.Name, statusName(status), t.Name)
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
			tasks = slices.Compact(tasks)
			b.deferred[eui] = true
			if b.dropsFromTasks(eui, tasks) {
				b.noteKind(plan.NoteDeferred, address(plan.KindDevice, eui), "delete deferred to the next apply: FUOTA task %s lists the device until this plan's update of the task, "+
					"which runs after the device deletes, and the gateway refuses to delete a device a task lists (code %d); once this apply is done, run apply again to delete it",
					strings.Join(tasks, ", "), nsapi.CodeFuotaDeviceInTask)
			} else {
				b.noteKind(plan.NoteDeferred, address(plan.KindDevice, eui), "delete deferred: FUOTA task %s still lists the device, and the gateway refuses to delete a device a task lists (code %d); "+
					"it is deleted by the first apply after no task lists it", strings.Join(tasks, ", "), nsapi.CodeFuotaDeviceInTask)
			}
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

// dropsFromTasks reports whether this plan rewrites every one of tasks
// (live names) so that it no longer lists device eui.
func (b *builder) dropsFromTasks(eui string, tasks []string) bool {
	for _, name := range tasks {
		dropped := false
		for _, c := range b.changes {
			if c.Kind != plan.KindTask || c.Before == nil || c.Before.Task == nil || c.Before.Task.Name != name || c.After == nil || c.After.Task == nil {
				continue
			}
			dropped = !slices.ContainsFunc(c.After.Task.DevEUIs, func(e string) bool { return strings.EqualFold(e, eui) })
		}
		if !dropped {
			return false
		}
	}
	return true
}
