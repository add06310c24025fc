// FUOTA tasks: what a task's status allows (spec 6.2, 10310014),
// --stop-task, and fragment sizes against the gateway's payload sizes.

package planner

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/gwsync/gwsync/internal/reserved"
	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
	"github.com/gwsync/gwsync/site"
)

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
		if st.FirmwareName != "" {
			// adopted (gwsync export): the gateway's firmware, which it
			// does not give back, is never uploaded from a stand-in
			b.problem(st.Pos, path+".firmwareName", "firmware %q is the one the gateway holds (firmwareName without firmwareFile), and a plan never uploads it; "+
				"%s needs the task sent with its firmware (spec 6.1, 6.3): give firmwareFile, the firmware to upload, or leave the task as the gateway has it",
				st.FirmwareName, b.whyWrite(st))
			return false
		}
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
	if b.live.NoFuota {
		for i := range b.site.FirmwareUpdates {
			st := &b.site.FirmwareUpdates[i]
			b.problem(st.Pos, fmt.Sprintf("firmwareUpdates[%d]", i), "the gateway has no FUOTA: it answers code %d (type or url not supported) to GET /api/fuota/task, "+
				"as a firmware from before FUOTA support (such as 60.0.0.45) does; upgrade the gateway's firmware, or remove firmwareUpdates from the site",
				nsapi.CodeUnsupportedURL)
		}
		return
	}
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
		if b.fragmentFits(st, path, int64(want.TmpMcInfo.DR)) && b.complete(st, path, &want) &&
			b.startsLater(st, path) && b.firmwareFits(st, path, addr, &want) {
			b.add(plan.Change{Address: addr, Kind: plan.KindTask, Name: st.Name, Action: plan.Create,
				After: &plan.Object{Task: &want}})
			b.estimate(addr, &want)
		}
		return
	}
	fwChanged := false
	if !tasksDiffer(&want, lt) && from == "" {
		if fwChanged = b.firmwareChanged(st, lt); !fwChanged {
			return
		}
	}
	if status := int64(lt.Status); taskRunning(status) && !b.stops(lt.Name, st.Name) {
		b.noteKind(plan.NoteHeld, addr, "held: task %s is %s and differs from the site (%s); its change waits until it ends; pass --stop-task %s to stop and replace it now",
			lt.Name, statusName(status), strings.Join(taskDiffFields(&want, lt), ", "), lt.Name)
		return
	}
	if !b.fragmentFits(st, path, int64(want.TmpMcInfo.DR)) || !b.complete(st, path, &want) { // reads the firmware only for a write
		return
	}
	// A replace makes a new task; an update that moves the start moves it.
	newStart := int64(lt.Status) != nsapi.TaskPending || !sameInstant(want.StartedAt, lt.StartedAt)
	if (newStart && !b.startsLater(st, path)) || !b.firmwareFits(st, path, addr, &want) {
		return
	}
	b.estimate(addr, &want)
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
	reason := renameReason(from)
	if fwChanged {
		reason = "the firmware file differs from the one gwsync last wrote (the gateway never returns it; its record on the gateway holds its digest)"
	}
	b.add(plan.Change{Address: addr, Kind: plan.KindTask, Name: st.Name, ID: id, Action: plan.Update,
		Reason: reason, Before: &plan.Object{Task: &before}, After: &plan.Object{Task: &want}})
}

// firmwareChanged says whether the site's firmware file for a task of
// local firmware differs from the one gwsync last wrote to it, by the
// digest on the gateway (Options.FirmwareDigests); unknown is unchanged.
func (b *builder) firmwareChanged(st *site.FirmwareUpdate, lt *nsapi.FuotaTask) bool {
	d, known := b.opts.FirmwareDigests[lt.Name]
	if !known || st.Official != nil || st.FirmwareFile == "" {
		return false
	}
	data, err := b.opts.ReadFile(st.FirmwareFile)
	if err != nil {
		return false // complete reports it when the task is written
	}
	return reserved.Digest(base64.StdEncoding.EncodeToString(data)) != d
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

// taskDiffFields names, in the site's words, what differs between a
// site's task and the gateway's.
func taskDiffFields(want, l *nsapi.FuotaTask) []string {
	var out []string
	add := func(differs bool, name string) {
		if differs {
			out = append(out, name)
		}
	}
	add(want.Description != l.Description, "description")
	add(!sameInstant(want.StartedAt, l.StartedAt), "startAt")
	add(!reflect.DeepEqual(upperSorted(want.DevEUIs), upperSorted(l.DevEUIs)), "devices")
	add(want.FragmentInfo.FragmentSize != l.FragmentInfo.FragmentSize, "fragment.size")
	add(want.FragmentInfo.FragmentInterval != l.FragmentInfo.FragmentInterval, "fragment.intervalMs")
	add(want.FragmentInfo.FragmentRedundancy != l.FragmentInfo.FragmentRedundancy, "fragment.redundancy")
	add(want.TmpMcInfo.DR != l.TmpMcInfo.DR, "multicast.dr")
	add(want.TmpMcInfo.Frequency != l.TmpMcInfo.Frequency, "multicast.frequency")
	add(want.TmpMcInfo.GroupType != l.TmpMcInfo.GroupType, "multicast.groupType")
	if len(out) == 0 {
		out = append(out, "firmware")
	}
	return out
}

// whyWrite says, for a refusal, why the plan writes task st.
func (b *builder) whyWrite(st *site.FirmwareUpdate) string {
	lt := b.liveTasks[st.Name]
	if lt == nil && st.RenamedFrom != "" {
		lt = b.liveTasks[st.RenamedFrom]
	}
	if lt == nil {
		return "creating the task (it is not on the gateway)"
	}
	want := b.desiredTask(st)
	return "changing its " + strings.Join(taskDiffFields(&want, lt), ", ")
}
