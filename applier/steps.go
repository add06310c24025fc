package applier

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/gwsync/gwsync/plan"
)

// A plan's changes become steps, grouped by phase: the applier runs the
// phases in order and the steps of one phase side by side.

// phaseLast runs after every phase of the plan: the deletes that no
// rollback could undo go there when nothing waits for them.
const phaseLast = plan.NumPhases

// lastDeletes names the deletes of FUOTA tasks that a rollback could not
// bring back (custom firmware: the gateway never returns the file) and that
// no other change of the plan waits for (a device delete of a device the
// task lists). They run last, so that a failure anywhere else never needs
// them undone.
func lastDeletes(p *plan.Plan) map[string]bool {
	deleted := map[string]bool{}
	for _, c := range p.Changes {
		if c.Kind == plan.KindDevice && (c.Action == plan.Delete || c.Action == plan.Replace) && c.Before != nil && c.Before.Device != nil {
			deleted[strings.ToUpper(c.Before.Device.DevEUI)] = true
		}
	}
	out := map[string]bool{}
	for _, c := range p.Changes {
		if c.Kind != plan.KindTask || c.Action != plan.Delete || c.Before == nil || c.Before.Task == nil {
			continue
		}
		t := c.Before.Task
		if t.IsOfficialFirmware || (t.FirmwareInfo != nil && t.FirmwareInfo.FileContent != "") {
			continue // it can be sent again
		}
		waited := false
		for _, e := range t.DevEUIs {
			waited = waited || deleted[strings.ToUpper(e)]
		}
		if !waited {
			out[c.Address] = true
		}
	}
	return out
}

// phaseOf places a change in its phase (plan.Phase). A replace runs where
// its create goes: delete then create, one step.
func phaseOf(c plan.Change) int {
	if ph := plan.Phase(c); ph < plan.NumPhases {
		return ph
	}
	return -1
}

// checkChange refuses, before anything is written, a change the applier
// cannot run exactly.
func checkChange(c plan.Change) error {
	perr := func(format string, args ...any) error {
		return &PlanError{Address: c.Address, Msg: fmt.Sprintf(format, args...)}
	}
	if phaseOf(c) < 0 {
		return perr("unknown kind %q", c.Kind)
	}
	switch c.Action {
	case plan.Create:
		if c.After == nil {
			return perr("a create without After")
		}
	case plan.Update, plan.Replace:
		if c.After == nil || c.Before == nil {
			return perr("an %s needs Before and After", c.Action)
		}
	case plan.Delete:
		if c.Before == nil {
			return perr("a delete without Before")
		}
	default:
		return perr("unknown action %q", c.Action)
	}
	if c.Kind == plan.KindMember && c.Action != plan.Create && c.Action != plan.Delete {
		return perr("a membership can only be added or removed")
	}
	for _, o := range []*plan.Object{c.Before, c.After} {
		if o != nil && identity(c.Kind, o) == "" {
			return perr("the %s object is missing or has no name", c.Kind)
		}
	}
	for _, p := range secretFields(withoutKeptSession(c)) {
		if strings.HasPrefix(*p, "sha256:") || strings.HasPrefix(*p, sealedPrefix) {
			return perr("a key is a digest, not a value (a saved plan's secrets must come from the site): re-plan from the site")
		}
	}
	if c.Action != plan.Create && c.Kind != plan.KindMember && c.Kind != plan.KindDevice && existingID(c) == "" {
		return perr("no server id for the live %s", c.Kind)
	}
	return nil
}

// buildSteps turns the plan's changes into steps grouped by phase, in plan
// order inside a phase; the memberships of one group added (or removed) in
// the same phase become one step.
func buildSteps(p *plan.Plan) ([][]*step, error) {
	var errs []error
	last := lastDeletes(p)
	byPhase := map[int][]*step{}
	memberStep := map[string]*step{}
	seq := 0
	for _, c := range p.Changes {
		if err := checkChange(c); err != nil {
			errs = append(errs, err)
			continue
		}
		ph := phaseOf(c)
		if c.Kind == plan.KindMember {
			m := c.After
			if c.Action == plan.Delete {
				m = c.Before
			}
			key := fmt.Sprintf("%d/%s", ph, m.Member.Group)
			if s, ok := memberStep[key]; ok {
				s.changes = append(s.changes, c)
				s.address = fmt.Sprintf("%s.%s (%d devices)", plan.KindMember, m.Member.Group, len(s.changes))
				continue
			}
			seq++
			s := &step{seq: seq, phase: ph, changes: []plan.Change{c}, address: c.Address}
			memberStep[key] = s
			byPhase[ph] = append(byPhase[ph], s)
			continue
		}
		if last[c.Address] {
			ph = phaseLast
		}
		seq++
		byPhase[ph] = append(byPhase[ph], &step{seq: seq, phase: ph, changes: []plan.Change{c}, address: c.Address})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	phases := make([]int, 0, len(byPhase))
	for ph := range byPhase {
		phases = append(phases, ph)
	}
	sort.Ints(phases)
	out := make([][]*step, 0, len(phases))
	for _, ph := range phases {
		out = append(out, byPhase[ph])
	}
	return out, nil
}
