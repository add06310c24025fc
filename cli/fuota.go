package cli

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gwsync/gwsync/nsapi"
)

// firmwareDevices asks the gateway which devices a task's firmware fits
// (POST /api/fuota/devices/firmware, spec 6.8), for the planner's check.
func firmwareDevices(ctx context.Context, cl *nsapi.Client) func(t *nsapi.FuotaTask) ([]nsapi.FuotaDevice, error) {
	return func(t *nsapi.FuotaTask) ([]nsapi.FuotaDevice, error) {
		var q nsapi.FirmwareDevicesQuery
		switch {
		case t.IsOfficialFirmware && t.OfficialFirmwareInfo != nil:
			q.OfficialFirmwareInfo = t.OfficialFirmwareInfo
		case t.FirmwareInfo != nil:
			q.FirmwareName, q.FileContent = t.FirmwareInfo.FirmwareName, t.FirmwareInfo.FileContent
		default:
			return nil, fmt.Errorf("task %s: no firmware to ask about", t.Name)
		}
		return cl.FirmwareDevices(ctx, q)
	}
}

// FuotaCmd is `gwsync fuota`: commands on the gateway's FUOTA tasks.
type FuotaCmd struct {
	Retry FuotaRetryCmd `cmd:"" help:"Retry a FUOTA task's failed devices (spec 6.5)."`
}

// FuotaRetryCmd is `gwsync fuota retry TASK`: the gateway runs a failed
// task again for its failed devices.
type FuotaRetryCmd struct {
	Task      string   `arg:"" name:"task" help:"The task's name (or its id on the gateway)."`
	Devices   []string `name:"devices" sep:"," placeholder:"EUI,…" help:"The failed devices to retry: each must be a failed device of the task. The gateway retries a task, not a device (6.5 takes task ids): other failed devices of the task are retried too, and named."`
	Site      string   `name:"site" placeholder:"SITE" help:"Site file or directory for the connection settings (flags and GWSYNC_* variables otherwise)."`
	ConnFlags `embed:""`
}

// Run retries the task.
func (c *FuotaRetryCmd) Run(env *Env) error {
	ctx := context.Background()
	env = inertStdout(env) // task and device names come from the gateway
	cl, closer, err := connectFor(ctx, env, c.Site, c.ConnFlags)
	if err != nil {
		return withExit(ExitError, err)
	}
	defer closer()
	tasks, err := cl.ListTasks(ctx, "")
	if err != nil {
		return withExit(ExitError, taskReadError(err))
	}
	t := findTask(tasks, c.Task)
	if t == nil {
		return withExit(ExitError, fmt.Errorf("FUOTA task %q: not on the gateway (it has %s)", c.Task, taskNames(tasks)))
	}
	devs, err := cl.TaskDevices(ctx, int64(t.ID), "")
	if err != nil {
		return withExit(ExitError, fmt.Errorf("task %s: reading its devices: %w", t.Name, err))
	}
	var failed []string
	for _, d := range devs {
		if deviceFailed(&d) {
			failed = append(failed, strings.ToUpper(d.DevEUI))
		}
	}
	status := int64(t.Status)
	if status != nsapi.TaskFailed {
		return withExit(ExitError, fmt.Errorf("task %s is %s: the gateway retries a task once it has failed (status 4), and refuses others (code %d)",
			t.Name, taskStatusName(status), nsapi.CodeFuotaTaskStatus))
	}
	if len(failed) == 0 {
		return withExit(ExitError, fmt.Errorf("task %s failed but lists no failed device: nothing to retry", t.Name))
	}
	var others []string
	for _, e := range c.Devices {
		eui := strings.ToUpper(strings.TrimSpace(e))
		if !slices.ContainsFunc(devs, func(d nsapi.FuotaDevice) bool { return strings.EqualFold(d.DevEUI, eui) }) {
			return withExit(ExitError, fmt.Errorf("--devices %s: not a device of task %s", eui, t.Name))
		}
		if !slices.Contains(failed, eui) {
			return withExit(ExitError, fmt.Errorf("--devices %s: the device has not failed in task %s (failed: %s)", eui, t.Name, strings.Join(failed, ", ")))
		}
	}
	if len(c.Devices) > 0 {
		for _, e := range failed {
			if !slices.ContainsFunc(c.Devices, func(n string) bool { return strings.EqualFold(strings.TrimSpace(n), e) }) {
				others = append(others, e)
			}
		}
	}
	if err := cl.RetryTasks(ctx, []int64{int64(t.ID)}); err != nil {
		return withExit(ExitError, fmt.Errorf("task %s: retry: %w", t.Name, err))
	}
	fmt.Fprintf(env.Stdout, "Retrying task %s (id %d) for %s: %s.\n", t.Name, int64(t.ID), count(len(failed), "failed device"), strings.Join(failed, ", "))
	if len(others) > 0 {
		fmt.Fprintf(env.Stdout, "The gateway retries every failed device of a task: %s too, though --devices does not name them.\n", strings.Join(others, ", "))
	}
	fmt.Fprintf(env.Stdout, "Follow it with: gwsync status %s --watch\n", cmpOr(c.Site, "SITE"))
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// findTask finds a task by name, else by id.
func findTask(tasks []nsapi.FuotaTask, key string) *nsapi.FuotaTask {
	for i := range tasks {
		if tasks[i].Name == key {
			return &tasks[i]
		}
	}
	if id, err := strconv.ParseInt(key, 10, 64); err == nil {
		for i := range tasks {
			if int64(tasks[i].ID) == id {
				return &tasks[i]
			}
		}
	}
	return nil
}

func taskNames(tasks []nsapi.FuotaTask) string {
	if len(tasks) == 0 {
		return "no task"
	}
	var n []string
	for _, t := range tasks {
		n = append(n, t.Name)
	}
	slices.Sort(n)
	return strings.Join(n, ", ")
}
