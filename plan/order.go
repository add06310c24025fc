package plan

import "sort"

// Phases of a plan, in the order they run (DESIGN.md "Ordering"). Deletes run
// in the reverse order of creates: dependents go first, dependencies last.
// A replace is one change placed in the phase of its create; the applier
// deletes the old resource and then creates the new one in that phase.
//
// Names that the gateway keeps unique (device names) are freed before they
// are taken: a delete of a resource whose name another change takes, and an
// update that moves a resource to a temporary name (a swap of two names),
// run in PhaseFreeNames, before every create and update.
const (
	PhaseTaskDelete    = iota // FUOTA task deletes
	PhaseMemberRemove         // membership removals
	PhaseGroupDelete          // multicast group deletes
	PhaseFreeNames            // changes that free a unique name another change takes (Change.FreesName)
	PhaseCodecWrite           // codec creates/updates
	PhaseProfileWrite         // profile creates/updates
	PhaseDeviceWrite          // device creates/updates (moves devices off old profiles)
	PhaseDeviceDelete         // device deletes
	PhaseProfileDelete        // profile deletes
	PhaseCodecDelete          // codec deletes
	PhaseGroupWrite           // multicast group creates/updates
	PhaseMemberAdd            // membership adds
	PhaseTaskWrite            // FUOTA task creates/updates/replaces
	NumPhases                 // how many phases there are
)

// Phase is the phase a change runs in; changes of a lower phase run first.
// Changes of one phase do not depend on each other.
func Phase(c Change) int {
	if c.FreesName && (c.Action == Delete || c.Action == Update) {
		return PhaseFreeNames
	}
	del := c.Action == Delete
	switch c.Kind {
	case KindTask:
		if del {
			return PhaseTaskDelete
		}
		return PhaseTaskWrite
	case KindMember:
		if del {
			return PhaseMemberRemove
		}
		return PhaseMemberAdd
	case KindGroup:
		if del {
			return PhaseGroupDelete
		}
		return PhaseGroupWrite
	case KindCodec:
		if del {
			return PhaseCodecDelete
		}
		return PhaseCodecWrite
	case KindProfile:
		if del {
			return PhaseProfileDelete
		}
		return PhaseProfileWrite
	case KindDevice:
		if del {
			return PhaseDeviceDelete
		}
		return PhaseDeviceWrite
	}
	return NumPhases
}

// Sort orders changes by phase, ties broken by address, so that a plan can
// be applied top to bottom and the same input always gives the same order.
func Sort(cs []Change) {
	sort.SliceStable(cs, func(i, j int) bool {
		pi, pj := Phase(cs[i]), Phase(cs[j])
		if pi != pj {
			return pi < pj
		}
		return cs[i].Address < cs[j].Address
	})
}
