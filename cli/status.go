package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/render"
	"github.com/gwsync/gwsync/site"
)

// StatusCmd is `gwsync status SITE`: the gateway's FUOTA tasks and each of
// their devices, with the status names of the spec (6.2, 6.11).
type StatusCmd struct {
	Site         string        `arg:"" optional:"" name:"site" help:"Site file or directory: the connection settings and gateway EUI (flags and GWSYNC_* variables otherwise)."`
	Task         []string      `name:"task" sep:"none" placeholder:"NAME" help:"Show only this task (name or id; repeatable)."`
	Watch        bool          `name:"watch" help:"Read again every --interval until every task shown has ended (upgrade success or failed)."`
	Interval     time.Duration `name:"interval" default:"5s" help:"With --watch: time between two reads."`
	WatchTimeout time.Duration `name:"watch-timeout" default:"12h" help:"With --watch: give up after this long (exit 1)."`
	Format       string        `name:"format" enum:"text,json" default:"text" help:"Output format: text, or json (with --watch, one document a line for each change)."`
	NoColor      bool          `name:"no-color" help:"No progress bars or colours, even on a terminal."`
	ConnFlags    `embed:""`
}

// ---- status names (spec 6.2 task status, 6.11 session status tables) ----

var taskStatusNames = map[int64]string{
	nsapi.TaskPending: "pending", nsapi.TaskWaiting: "waiting", nsapi.TaskExecuting: "executing",
	nsapi.TaskSucceeded: "upgrade success", nsapi.TaskFailed: "upgrade failed",
}

// taskStatusName is the 6.2 name of a task status. A device's status (6.7)
// has no table of its own in the spec; gwsync reads it with this one.
func taskStatusName(s int64) string {
	if n, ok := taskStatusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("unknown status %d", s)
}

// multicastSessionNames is the Multicast Session Status table of 6.11.
var multicastSessionNames = []string{
	0:  "not started",
	1:  "setting up the temporary multicast group",
	2:  "multicast group confirmed",
	3:  "session ready",
	4:  "session processing",
	5:  "session complete",
	6:  "group set-up timeout: the device did not answer",
	7:  "multicast ID does not match",
	8:  "session request timeout: the device did not answer",
	9:  "multicast ID not defined",
	10: "frequency not supported by the device",
	11: "data rate not supported by the device",
	12: "multicast ID does not match",
	13: "unknown error",
}

// fragmentSessionNames is the Fragment Session Status table of 6.11.
var fragmentSessionNames = []string{
	0:  "not started",
	1:  "setting up the fragment session",
	2:  "session ready",
	3:  "sending fragments",
	4:  "set-up timeout: the device did not answer",
	5:  "fragment descriptor mismatch",
	6:  "fragment session search not supported",
	7:  "low device memory",
	8:  "fragment coding not supported",
	9:  "lack of fragments",
	10: "upgrade failed",
	11: "fragment session error",
	12: "fragment session complete",
	13: "upgrade complete",
	14: "upgrade timeout",
	15: "status report timeout",
	16: "unknown error",
}

func tableName(table []string, code int64) string {
	if code >= 0 && code < int64(len(table)) {
		return table[code]
	}
	return fmt.Sprintf("unknown status %d", code)
}

// multicastFailed and fragmentFailed are the failure codes of 6.11's tables.
func multicastFailed(c int64) bool { return c >= 6 }
func fragmentFailed(c int64) bool  { return (c >= 4 && c <= 11) || c >= 14 }

// deviceFailed reports whether a device of a task has failed: its status
// says so (4), or one of its sessions ended in a failure code.
func deviceFailed(d *nsapi.FuotaDevice) bool {
	return int64(d.Status) == nsapi.TaskFailed || multicastFailed(int64(d.MulticastSessionStatus)) ||
		fragmentFailed(int64(d.FragmentSessionStatus))
}

// deviceProgress is how far a device is, 0 to 1, from its sessions: the
// multicast set-up is the first tenth, the fragment set-up the next, the
// fragments the bulk; a device that has ended (done or failed) is at 1.
func deviceProgress(d *nsapi.FuotaDevice) float64 {
	mc, frag, st := int64(d.MulticastSessionStatus), int64(d.FragmentSessionStatus), int64(d.Status)
	switch {
	case deviceFailed(d) || st == nsapi.TaskSucceeded || frag == 13:
		return 1
	case frag == 12:
		return 0.9
	case frag == 3:
		return 0.5
	case frag == 2:
		return 0.3
	case frag == 1:
		return 0.2
	case mc >= 3:
		return 0.15
	case mc == 2:
		return 0.1
	case mc == 1:
		return 0.05
	}
	return 0
}

// ---- the status document ----

// StatusDevice is one device of a task as status shows it: each status as
// its code and its name.
type StatusDevice struct {
	DevEUI                     string  `json:"devEUI"`
	Name                       string  `json:"name"`
	ProfileName                string  `json:"profileName,omitempty"`
	ProductModel               string  `json:"productModel,omitempty"`
	Status                     int64   `json:"status"`
	StatusName                 string  `json:"statusName"`
	MulticastSessionStatus     int64   `json:"multicastSessionStatus"`
	MulticastSessionStatusName string  `json:"multicastSessionStatusName"`
	FragmentSessionStatus      int64   `json:"fragmentSessionStatus"`
	FragmentSessionStatusName  string  `json:"fragmentSessionStatusName"`
	Failed                     bool    `json:"failed"`
	Progress                   float64 `json:"progress"`
}

// StatusTask is one FUOTA task as status shows it.
type StatusTask struct {
	ID           int64          `json:"id"`
	Name         string         `json:"name"`
	Status       int64          `json:"status"`
	StatusName   string         `json:"statusName"`
	Ended        bool           `json:"ended"`
	Firmware     string         `json:"firmware"`
	StartedAt    string         `json:"startedAt"`
	StoppedAt    string         `json:"stoppedAt,omitempty"`
	DoneDevices  int64          `json:"doneDevices"`
	TotalDevices int64          `json:"totalDevices"`
	FailedCount  int            `json:"failedDevices"`
	Progress     float64        `json:"progress"`
	Devices      []StatusDevice `json:"devices"`
}

// StatusDoc is what gwsync status shows: every task, whether all have
// ended, and whether a device failed.
type StatusDoc struct {
	GatewayEUI string       `json:"gatewayEUI,omitempty"`
	Tasks      []StatusTask `json:"tasks"`
	Ended      bool         `json:"ended"`
	Failed     bool         `json:"failed"`
}

// readStatus reads the tasks (6.2) and each one's devices (6.7).
func readStatus(ctx context.Context, cl *nsapi.Client, only []string) (*StatusDoc, error) {
	tasks, err := cl.ListTasks(ctx, "")
	if err != nil {
		return nil, taskReadError(err)
	}
	for _, n := range only {
		if findTask(tasks, n) == nil {
			return nil, fmt.Errorf("--task %s: not on the gateway (it has %s)", n, taskNames(tasks))
		}
	}
	doc := &StatusDoc{Tasks: []StatusTask{}, Ended: true}
	for i := range tasks {
		t := &tasks[i]
		if len(only) > 0 && !containsTask(only, t) {
			continue
		}
		devs, err := cl.TaskDevices(ctx, int64(t.ID), "")
		if err != nil {
			return nil, fmt.Errorf("task %s: reading its devices: %w", t.Name, err)
		}
		st := int64(t.Status)
		ts := StatusTask{ID: int64(t.ID), Name: t.Name, Status: st, StatusName: taskStatusName(st),
			Ended: st == nsapi.TaskSucceeded || st == nsapi.TaskFailed, Firmware: firmwareLabel(t),
			StartedAt: t.StartedAt, StoppedAt: t.StoppedAt, DoneDevices: int64(t.DoneDevices),
			TotalDevices: max(int64(t.TotalDevices), int64(len(devs))), Devices: []StatusDevice{}}
		for j := range devs {
			d := &devs[j]
			sd := StatusDevice{DevEUI: strings.ToUpper(d.DevEUI), Name: d.Name, ProfileName: d.ProfileName, ProductModel: d.ProductModel,
				Status: int64(d.Status), StatusName: taskStatusName(int64(d.Status)),
				MulticastSessionStatus: int64(d.MulticastSessionStatus), MulticastSessionStatusName: tableName(multicastSessionNames, int64(d.MulticastSessionStatus)),
				FragmentSessionStatus: int64(d.FragmentSessionStatus), FragmentSessionStatusName: tableName(fragmentSessionNames, int64(d.FragmentSessionStatus)),
				Failed: deviceFailed(d), Progress: deviceProgress(d)}
			if sd.Failed {
				ts.FailedCount++
			}
			ts.Progress += sd.Progress
			ts.Devices = append(ts.Devices, sd)
		}
		if len(ts.Devices) > 0 {
			ts.Progress /= float64(len(ts.Devices))
		}
		if ts.Ended {
			ts.Progress = 1
		}
		ts.Progress = float64(int(ts.Progress*1000+0.5)) / 1000
		doc.Ended = doc.Ended && ts.Ended
		doc.Failed = doc.Failed || ts.FailedCount > 0 || st == nsapi.TaskFailed
		doc.Tasks = append(doc.Tasks, ts)
	}
	return doc, nil
}

func containsTask(keys []string, t *nsapi.FuotaTask) bool {
	for _, k := range keys {
		if k == t.Name || k == fmt.Sprint(int64(t.ID)) {
			return true
		}
	}
	return false
}

// firmwareLabel names a listed task's firmware.
func firmwareLabel(t *nsapi.FuotaTask) string {
	if t.FirmwareName != "" {
		return t.FirmwareName
	}
	if t.OfficialFirmwareInfo != nil && t.OfficialFirmwareInfo.Name != "" {
		return t.OfficialFirmwareInfo.Name
	}
	if t.FirmwareInfo != nil {
		return t.FirmwareInfo.FirmwareName
	}
	return ""
}

// ---- rendering ----

// bar is a progress bar of width cells.
func bar(p float64, width int) string {
	n := int(p*float64(width) + 0.5)
	n = min(max(n, 0), width)
	return "[" + strings.Repeat("█", n) + strings.Repeat("░", width-n) + "]"
}

// writeStatusText writes doc for a reader; bars adds progress bars.
func writeStatusText(b *bytes.Buffer, doc *StatusDoc, bars bool) {
	gw := ""
	if doc.GatewayEUI != "" {
		gw = "Gateway " + render.Inert(doc.GatewayEUI) + ": "
	}
	fmt.Fprintf(b, "%s%s.\n", gw, count(len(doc.Tasks), "FUOTA task"))
	for _, t := range doc.Tasks {
		fmt.Fprintf(b, "\nTask %s (id %d): %s, %d of %d devices done", render.Inert(t.Name), t.ID, t.StatusName, t.DoneDevices, t.TotalDevices)
		if t.FailedCount > 0 {
			fmt.Fprintf(b, ", %d failed", t.FailedCount)
		}
		fmt.Fprintf(b, "\n  firmware %s, starts %s", render.Inert(t.Firmware), render.Inert(t.StartedAt))
		if t.StoppedAt != "" {
			fmt.Fprintf(b, ", stopped %s", render.Inert(t.StoppedAt))
		}
		b.WriteString("\n")
		if bars {
			fmt.Fprintf(b, "  %s %3.0f%%\n", bar(t.Progress, 30), 100*t.Progress)
		}
		if len(t.Devices) > 0 {
			tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "  DEVICE\tNAME\tSTATUS\tMULTICAST SESSION\tFRAGMENT SESSION")
			for _, d := range t.Devices {
				mark := ""
				if d.Failed {
					mark = "  ← failed"
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s%s\n", render.Inert(d.DevEUI), render.Inert(d.Name), d.StatusName, d.MulticastSessionStatusName, d.FragmentSessionStatusName, mark)
			}
			_ = tw.Flush()
		}
	}
	var retry []string
	for _, t := range doc.Tasks {
		switch {
		case t.Status == nsapi.TaskFailed:
			retry = append(retry, fmt.Sprintf("Task %s failed: retry its failed devices with gwsync fuota retry %s", render.Inert(t.Name), render.Inert(t.Name)))
		case t.FailedCount > 0:
			retry = append(retry, fmt.Sprintf("Task %s has %s and still runs: retry them once it has ended", render.Inert(t.Name), count(t.FailedCount, "failed device")))
		}
	}
	if len(retry) > 0 {
		b.WriteString("\n" + strings.Join(retry, "\n") + "\n")
	}
}

// ---- the command ----

// connectFor connects with the settings of the site at sitePath ("": none,
// flags and GWSYNC_* only). Keys the site references need not be set: only
// its connection block is used.
func connectFor(ctx context.Context, env *Env, sitePath string, flags ConnFlags) (*nsapi.Client, func() error, error) {
	var conn *site.Connection
	var gw site.Gateway
	if sitePath != "" {
		paths, err := sitePaths([]string{sitePath})
		if err != nil {
			return nil, nil, withExit(ExitError, err)
		}
		s, problems := site.Load(site.Options{Offline: true, PasswordGiven: env.Getenv("GWSYNC_PASSWORD") != "",
			LookupEnv: func(k string) (string, bool) {
				v := env.Getenv(k)
				return v, v != ""
			}}, paths...)
		if errs := problems.Errors(); s == nil || len(errs) > 0 {
			for _, p := range errs {
				fmt.Fprintln(env.Stderr, p.Error())
			}
			return nil, nil, fmt.Errorf("site %s: %s; nothing was read from the gateway", sitePath, count(len(errs), "error"))
		}
		conn, gw = &s.Connection, s.Gateway
	}
	return connect(ctx, env, flags, conn, gw)
}

// Run shows the tasks once, or with --watch until they end.
func (c *StatusCmd) Run(env *Env) error {
	if c.Watch && c.Interval <= 0 {
		return withExit(ExitError, fmt.Errorf("--interval %v: want a positive duration", c.Interval))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cl, closer, err := connectFor(ctx, env, c.Site, c.ConnFlags)
	if err != nil {
		return withExit(ExitError, err)
	}
	defer closer()
	return c.run(ctx, env, cl)
}

func (c *StatusCmd) run(ctx context.Context, env *Env, cl *nsapi.Client) error {
	term := env.IsTerminal && !c.NoColor && env.Getenv("NO_COLOR") == ""
	deadline := time.Now().Add(c.WatchTimeout)
	var last []byte
	for {
		doc, err := readStatus(ctx, cl, c.Task)
		if err != nil {
			return withExit(ExitError, err)
		}
		doc.GatewayEUI = cl.GatewayEUI()
		var out bytes.Buffer
		if c.Format == "json" {
			var js []byte
			if c.Watch {
				js, err = json.Marshal(doc)
			} else {
				js, err = json.MarshalIndent(doc, "", "  ")
			}
			if err != nil {
				return withExit(ExitError, err)
			}
			out.Write(js)
			out.WriteString("\n")
		} else {
			if c.Watch && term {
				out.WriteString("\x1b[H\x1b[2J") // redraw in place
			}
			writeStatusText(&out, doc, term)
		}
		if !c.Watch || term || !bytes.Equal(out.Bytes(), last) {
			if c.Watch && !term && c.Format == "text" && last != nil {
				fmt.Fprintf(env.Stdout, "\n--- %s ---\n", time.Now().UTC().Format(time.RFC3339))
			}
			if _, err := env.Stdout.Write(out.Bytes()); err != nil {
				return withExit(ExitError, err)
			}
			last = out.Bytes()
		}
		if !c.Watch || doc.Ended {
			if doc.Failed {
				return withExit(ExitError, nil)
			}
			return nil
		}
		if time.Now().Add(c.Interval).After(deadline) {
			return withExit(ExitError, fmt.Errorf("--watch-timeout %v: the tasks have not ended", c.WatchTimeout))
		}
		select {
		case <-ctx.Done():
			return withExit(ExitError, errors.New("interrupted; the tasks have not ended"))
		case <-time.After(c.Interval):
		}
	}
}
