package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gwsync/gwsync/applier"
	"github.com/gwsync/gwsync/plan"
)

// JSONUIVersion is the version of apply --json's message stream: the
// minor number grows with additions, the major one with changes that break
// a reader.
const JSONUIVersion = "1.0"

// The exit codes of apply and what they mean, as apply --json's outcome
// message gives them.
var applyOutcomes = map[int]struct{ result, meaning string }{
	ExitOK:      {"applied", "applied and verified: the gateway was re-read and matches the site"},
	ExitError:   {"not_applied", "error before the first write: nothing changed"},
	ExitRolled:  {"rolled_back", "a step failed; every completed change was rolled back and the gateway verified equal to before"},
	ExitPartial: {"incomplete", "not verified either way: the journal is kept; run gwsync rollback SITE (or --abandon)"},
}

// jsonView writes apply's machine-readable stream: one JSON object per
// line, shaped as Terraform's `apply -json` messages (@level, @message,
// @module, @timestamp, type): version, planned_change, apply_start,
// apply_complete, apply_errored, apply_stopped, rollback_start,
// rollback_complete, rollback_errored, rollback_stopped, verify_start, change_summary, diagnostic, and last
// outcome, with the exit code and its meaning. It holds no secret: the
// messages name resources and actions, never attribute values.
type jsonView struct {
	mu       sync.Mutex
	w        io.Writer
	now      func() time.Time
	add      int
	change   int
	remove   int
	planned  bool
	started  bool // the first write was sent
	err      error
	rollback bool
	open     map[string]applier.Event // "apply addr" / "rollback addr" → its start, until it ends
}

func newJSONView(w io.Writer) *jsonView {
	return &jsonView{w: w, now: time.Now, open: map[string]applier.Event{}}
}

// msg writes one message: the common fields, then fields.
func (v *jsonView) msg(level, typ, message string, fields map[string]any) {
	m := map[string]any{
		"@level":     level,
		"@message":   message,
		"@module":    "gwsync.ui",
		"@timestamp": v.now().Format("2006-01-02T15:04:05.000000Z07:00"),
		"type":       typ,
	}
	for k, val := range fields {
		m[k] = val
	}
	b, err := json.Marshal(m)
	if err != nil {
		b, _ = json.Marshal(map[string]any{"@level": "error", "@message": "apply --json: " + err.Error(), "type": "diagnostic"})
	}
	if _, err := v.w.Write(append(b, '\n')); err != nil && v.err == nil {
		v.err = err
	}
}

// resource is Terraform's resource object of a hook: address, type, name.
func resource(addr string) map[string]any {
	typ, name, _ := strings.Cut(addr, ".")
	return map[string]any{"addr": addr, "module": "", "resource": addr, "resource_type": typ, "resource_name": name, "resource_key": nil}
}

// jsonAction is a plan action as Terraform's JSON UI names it.
func jsonAction(a plan.Action) string {
	switch a {
	case plan.Create:
		return "create"
	case plan.Update:
		return "update"
	case plan.Delete:
		return "delete"
	case plan.Replace:
		return "replace"
	}
	return string(a)
}

func ing(a plan.Action, undo bool) string {
	if undo {
		return "Rolling back"
	}
	switch a {
	case plan.Create:
		return "Creating"
	case plan.Update:
		return "Modifying"
	case plan.Delete:
		return "Destroying"
	case plan.Replace:
		return "Replacing"
	}
	return "Applying"
}

// plan writes the planned changes, once, as the apply starts.
func (v *jsonView) plan(p *plan.Plan) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.planned || p == nil {
		return
	}
	v.planned = true
	for _, c := range p.Changes {
		v.msg("info", "planned_change", fmt.Sprintf("%s: Plan to %s", c.Address, jsonAction(c.Action)),
			map[string]any{"change": map[string]any{"resource": resource(c.Address), "action": jsonAction(c.Action)}})
	}
	add, chg, del := p.Summary()
	v.msg("info", "change_summary", fmt.Sprintf("Plan: %d to add, %d to change, %d to destroy.", add, chg, del),
		map[string]any{"changes": map[string]any{"add": add, "change": chg, "import": 0, "remove": del, "operation": "plan"}})
}

// event writes one applier event.
func (v *jsonView) event(ev applier.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	undo := ev.Type == applier.EventUndoStart || ev.Type == applier.EventUndone || ev.Type == applier.EventUndoFailed
	hook := map[string]any{"resource": resource(ev.Address), "action": jsonAction(ev.Action), "done": ev.Done, "total": ev.Total}
	if ev.Type != applier.EventStart && ev.Type != applier.EventUndoStart {
		hook["elapsed_seconds"] = int(ev.Elapsed.Seconds())
		hook["elapsed_ms"] = ev.Elapsed.Milliseconds()
	}
	prefix := "apply"
	if undo {
		prefix = "rollback"
		v.rollback = true
	}
	switch ev.Type {
	case applier.EventStart, applier.EventUndoStart:
		v.started = true
		v.open[prefix+" "+ev.Address] = ev
		v.msg("info", prefix+"_start", fmt.Sprintf("%s: %s...", ev.Address, ing(ev.Action, undo)), map[string]any{"hook": hook})
	case applier.EventDone, applier.EventUndone:
		delete(v.open, prefix+" "+ev.Address)
		if !undo {
			switch ev.Action {
			case plan.Create:
				v.add++
			case plan.Update:
				v.change++
			case plan.Delete:
				v.remove++
			case plan.Replace:
				v.add++
				v.remove++
			}
		}
		v.msg("info", prefix+"_complete", fmt.Sprintf("%s: %s complete after %dms", ev.Address, ing(ev.Action, undo), ev.Elapsed.Milliseconds()), map[string]any{"hook": hook})
	case applier.EventFailed, applier.EventUndoFailed:
		delete(v.open, prefix+" "+ev.Address)
		text := ""
		if ev.Err != nil {
			text = ev.Err.Error()
		}
		hook["error"] = text
		v.msg("error", prefix+"_errored", fmt.Sprintf("%s: %s failed after %dms: %s", ev.Address, ing(ev.Action, undo), ev.Elapsed.Milliseconds(), text), map[string]any{"hook": hook})
	case applier.EventCheck:
		v.msg("info", "verify_start", "Re-reading the gateway to verify the apply", map[string]any{"phase": "apply"})
	case applier.EventVerify:
		v.msg("info", "verify_start", "Re-reading the gateway to verify the rollback", map[string]any{"phase": "rollback"})
	}
}

// finish writes the end of the stream: the change summary after a
// verified apply, a diagnostic for an error, then the outcome.
func (v *jsonView) finish(code int, err error, human string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	var ee *exitError
	if errors.As(err, &ee) {
		err = ee.err
	}
	o, ok := applyOutcomes[code]
	if !ok {
		o.result, o.meaning = "error", "error"
	}
	// A step that started and never ended was stopped before its write was
	// sent, once another step had failed; after a stop at once (exit 4) its
	// write may have been in flight.
	keys := make([]string, 0, len(v.open))
	for k := range v.open {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ev := v.open[k]
		prefix, _, _ := strings.Cut(k, " ")
		sent, msg := "no", "not sent: the apply stopped before this write"
		if code == ExitPartial {
			sent, msg = "unknown", "stopped: this write may or may not have reached the gateway"
		}
		v.msg("warn", prefix+"_stopped", fmt.Sprintf("%s: %s", ev.Address, msg), map[string]any{"hook": map[string]any{
			"resource": resource(ev.Address), "action": jsonAction(ev.Action), "sent": sent}})
	}
	if code == ExitOK {
		msg := fmt.Sprintf("Apply complete! Resources: %d added, %d changed, %d destroyed.", v.add, v.change, v.remove)
		if !v.started {
			msg = "No changes. The gateway matches the site."
			o.result = "no_changes"
		}
		v.msg("info", "change_summary", msg, map[string]any{"changes": map[string]any{"add": v.add, "change": v.change, "import": 0, "remove": v.remove, "operation": "apply"}})
	}
	// What apply says of a failure (the human text's "Error:" and the
	// lines after it) becomes one diagnostic.
	detail := ""
	if i := strings.Index(human, "\nError: "); i >= 0 {
		detail = strings.TrimSpace(human[i:])
	} else if i := strings.Index(human, "Stopped at once"); i >= 0 {
		detail = strings.TrimSpace(human[i:])
	} else if i := strings.Index(human, "Every write was answered"); i >= 0 {
		detail = strings.TrimSpace(human[i:])
	}
	summary := ""
	if err != nil {
		summary = err.Error()
	} else if detail != "" {
		summary, _, _ = strings.Cut(strings.TrimPrefix(detail, "Error: "), "\n")
	}
	if summary != "" {
		v.msg("error", "diagnostic", summary, map[string]any{"diagnostic": map[string]any{"severity": "error", "summary": summary, "detail": detail}})
	}
	v.msg(map[bool]string{true: "info", false: "error"}[code == ExitOK], "outcome", fmt.Sprintf("exit %d: %s", code, o.meaning), map[string]any{
		"outcome": map[string]any{"exit_code": code, "result": o.result, "meaning": o.meaning, "rolled_back": v.rollback},
	})
}

// runJSON is apply --json: the apply as it runs without the flag, its
// human text kept off stdout, and the stream of messages on stdout
// instead. Without a terminal to ask, it needs --auto-approve or a saved
// plan; it takes one site.
func (c *ApplyCmd) runJSON(env *Env) error {
	v := newJSONView(env.Stdout)
	v.msg("info", "version", "gwsync "+VersionString(), map[string]any{"gwsync": VersionString(), "ui": JSONUIVersion})
	var err error
	var human bytes.Buffer
	switch {
	case !c.AutoApprove && !isSavedPlan(c.Target):
		err = withExit(ExitError, errors.New("--json: pass --auto-approve, or apply a saved plan (gwsync plan --out FILE, then gwsync apply FILE --json): there is no prompt to answer"))
	default:
		if _, ok := fleetDir([]string{c.Target}); ok {
			err = withExit(ExitError, errors.New("--json takes one site, not a fleet: apply each site of it (gwsync apply FLEETDIR/SITE --json) or read the fleet's table"))
			break
		}
		e := *env
		e.Stdout, e.IsTerminal = &human, false
		c.view = v
		err = c.Run(&e)
	}
	code := exitCodeOf(err)
	v.finish(code, err, human.String())
	if v.err != nil {
		return withExit(ExitError, fmt.Errorf("--json: %w", v.err))
	}
	if code != ExitOK {
		return withExit(code, nil) // the diagnostic said why
	}
	return nil
}

// onEvent is where apply sends its progress: the JSON stream with --json
// (which also gets the plan, as the writes are about to start), else the
// human progress lines.
func (c *ApplyCmd) onEvent(prog *progress, p *plan.Plan) func(applier.Event) {
	if c.view == nil {
		return prog.event
	}
	c.view.plan(p)
	return c.view.event
}
