package applier

import (
	"context"
	"fmt"
	"strconv"

	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
)

// tasks: FUOTA tasks, found by name, with a numeric server id. Their
// firmware file is write-only (the task list shows fileContent empty), so
// a task of custom firmware cannot be sent again once deleted: such
// deletes run last (steps.go: lastDeletes).
type tasks struct{}

func (tasks) identity(o *plan.Object) string {
	if o.Task == nil {
		return ""
	}
	return o.Task.Name
}

func (tasks) serverID(o *plan.Object) string {
	if o.Task == nil || o.Task.ID == 0 {
		return ""
	}
	return strconv.FormatInt(int64(o.Task.ID), 10)
}

func (tasks) create(ctx context.Context, w Writer, o *plan.Object) (string, error) {
	t := o.Task.Write()
	t.ID = 0
	id, err := w.CreateTask(ctx, t)
	return strconv.FormatInt(id, 10), err
}

func taskID(id string) (int64, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("FUOTA task id %q is not a number", id)
	}
	return n, nil
}

func (tasks) update(ctx context.Context, w Writer, id string, o, _ *plan.Object) error {
	n, err := taskID(id)
	if err != nil {
		return err
	}
	t := o.Task.Write()
	t.ID = nsapi.FlexInt(n)
	return w.UpdateTask(ctx, t)
}

func (tasks) remove(ctx context.Context, w Writer, id string) error {
	n, err := taskID(id)
	if err != nil {
		return err
	}
	return w.DeleteTasks(ctx, []int64{n})
}

func (tasks) find(ctx context.Context, w Writer, name string) (bool, string, *plan.Object, error) {
	l, err := w.ListTasks(ctx, name)
	if err != nil {
		return false, "", nil, err
	}
	for i := range l {
		if l[i].Name == name {
			t := l[i]
			return true, strconv.FormatInt(int64(t.ID), 10), &plan.Object{Task: &t}, nil
		}
	}
	return false, "", nil, nil
}

func (tasks) held(ctx context.Context, r *runner, _ []*effect) (func(*effect) bool, error) {
	n, err := names(ctx, func(ctx context.Context) ([]nsapi.FuotaTask, error) { return r.w.ListTasks(ctx, "") },
		func(t *nsapi.FuotaTask) string { return t.Name })
	if err != nil {
		return nil, err
	}
	return byName(n), nil
}

func (tasks) comparable(o *plan.Object) *nsapi.State {
	s := &nsapi.State{}
	if o.Task != nil {
		t := *o.Task
		t.FirmwareName = "" // the gateway derives it from the firmware
		s.Tasks = []nsapi.FuotaTask{t}
	}
	return s
}

// keepWriteOnly keeps the firmware file the apply sent: the state before
// cannot know the file (the list shows it empty), and sending it empty
// would fail or blank the task's firmware.
func (tasks) keepWriteOnly(r *runner, e *effect, target *plan.Object) {
	if target.Task == nil || e.After == nil || e.After.Task == nil || e.After.Task.FirmwareInfo == nil {
		return
	}
	if target.Task.FirmwareInfo != nil && target.Task.FirmwareInfo.FileContent != "" {
		return
	}
	if fw, ok := r.written.firmware[target.Task.Name]; ok && target.Task.FirmwareInfo != nil {
		fi := *target.Task.FirmwareInfo
		fi.FileContent = fw // what gwsync last wrote: the best knowledge there is
		target.Task.FirmwareInfo = &fi
		return
	}
	fi := *e.After.Task.FirmwareInfo
	if target.Task.FirmwareInfo != nil {
		keep := *target.Task.FirmwareInfo
		keep.FileContent = fi.FileContent
		fi = keep
	}
	target.Task.FirmwareInfo = &fi
	if fi.FileContent != "" {
		r.note("FUOTA task %s: its firmware file cannot be read back from the gateway: the rollback left the file the apply sent", target.Task.Name)
	}
}

// beforeRecreate puts back the firmware file gwsync recorded writing:
// the task list shows it empty, so without the record a task of custom
// firmware cannot be sent again.
func (tasks) beforeRecreate(r *runner, _ *effect, obj *plan.Object) {
	t := obj.Task
	if t == nil || t.IsOfficialFirmware || t.FirmwareInfo == nil || t.FirmwareInfo.FileContent != "" {
		return
	}
	if fw, ok := r.written.firmware[t.Name]; ok {
		fi := *t.FirmwareInfo
		fi.FileContent = fw
		t.FirmwareInfo = &fi
	}
}

func (tasks) recreated(_ context.Context, r *runner, e *effect, newID string) error {
	r.note("FUOTA task %s was re-created with a new id (%s → %s): its progress starts again", e.Name, e.ID, newID)
	return nil
}

func (tasks) recreateFailed(obj *plan.Object, err error) error {
	if t := obj.Task; t != nil && t.FirmwareInfo != nil && t.FirmwareInfo.FileContent == "" {
		return fmt.Errorf("%w (the gateway never returns a task's firmware file and gwsync has no record of it, so it cannot be sent again)", err)
	}
	return err
}

func (tasks) relink(context.Context, *runner, *effect, string) error { return nil }
