// Package plan is the plan as plain data: the ordered changes that take a
// gateway from its live state to a site's desired state, and their saving and
// loading. It does no network I/O; the planner makes plans, render shows them
// and the applier runs them.
package plan

import "github.com/gwsync/gwsync/nsapi"

// FormatVersion is the version of the saved plan and JSON plan formats.
const FormatVersion = 1

// Action is what a change does to its resource.
type Action string

// The actions, with their text symbols.
const (
	Create  Action = "create"  // +
	Update  Action = "update"  // ~
	Delete  Action = "delete"  // -
	Replace Action = "replace" // -/+ : delete then create, the API cannot do it in place
)

// Symbol is the action's text-plan symbol.
func (a Action) Symbol() string {
	switch a {
	case Create:
		return "+"
	case Update:
		return "~"
	case Delete:
		return "-"
	case Replace:
		return "-/+"
	}
	return "?"
}

// String returns the action's name.
func (a Action) String() string { return string(a) }

// Kind is a resource kind.
type Kind string

// The kinds, named as in addresses: `device.24E124136A456465`,
// `multicast_member.street-lights.24E124136A456465`.
const (
	KindCodec   Kind = "codec"
	KindProfile Kind = "profile"
	KindDevice  Kind = "device"
	KindGroup   Kind = "multicast_group"
	KindMember  Kind = "multicast_member"
	KindTask    Kind = "fuota_task"
)

// String returns the kind's name.
func (k Kind) String() string { return string(k) }

// Object is one resource's full value, as the gateway holds it (Before) or
// will hold it (After). Exactly one field is set, the one of its Kind.
// Values are in wire form, normalised by the planner (EUIs upper case, hex
// lower case, defaults filled in), so that Before/After are directly what is
// PUT or POSTed, and what rollback restores.
type Object struct {
	Profile *nsapi.Profile            `json:"profile,omitempty"`
	Device  *nsapi.Device             `json:"device,omitempty"`
	Codec   *nsapi.Codec              `json:"codec,omitempty"`
	Group   *nsapi.MulticastGroupInfo `json:"multicast_group,omitempty"`
	Member  *Member                   `json:"multicast_member,omitempty"`
	Task    *nsapi.FuotaTask          `json:"fuota_task,omitempty"`
}

// Member is one device's membership of a multicast group.
type Member struct {
	Group   string `json:"group"`    // group name
	GroupID string `json:"group_id"` // server id; "" when the group is created by the same plan
	DevEUI  string `json:"devEUI"`
}

// Ref says that a field of After takes a value known only after an earlier
// change of the same plan has run: a new profile's id in a device, a new
// group's id in a membership. Shown as "(known after apply)".
type Ref struct {
	Field   string `json:"field"`   // e.g. "profileID", "payloadCodecID", "group_id", "deveui"
	Address string `json:"address"` // the change that creates the value
}

// Change is one step of a plan.
type Change struct {
	Address string `json:"address"`
	Kind    Kind   `json:"kind"`
	Name    string `json:"name"`         // display name (device name, group name…)
	ID      string `json:"id,omitempty"` // server id of the live resource ("" for a create)
	Action  Action `json:"action"`
	// Reason says why: a replace's cause, what a delete loses, a rename.
	Reason string  `json:"reason,omitempty"`
	Before *Object `json:"before,omitempty"` // nil for a create
	After  *Object `json:"after,omitempty"`  // nil for a delete
	Refs   []Ref   `json:"refs,omitempty"`
	// Sensitive lists the fields of After/Before that are secrets (JSON
	// names, e.g. "appKey"); every output masks them.
	Sensitive []string `json:"sensitive,omitempty"`
	// FreesName marks a delete or update that frees a unique name another
	// change of the plan takes: it runs early, in PhaseFreeNames.
	FreesName bool `json:"frees_name,omitempty"`
}

// Unmanaged is a resource the gateway holds and the site does not name,
// left alone because prune is off for its kind.
type Unmanaged struct {
	Address string `json:"address"`
	Kind    Kind   `json:"kind"`
	Name    string `json:"name"`
}

// Plan is an ordered list of changes and what it was planned against.
type Plan struct {
	FormatVersion int    `json:"format_version"`
	GatewayEUI    string `json:"gateway_eui,omitempty"`
	ChannelPlan   string `json:"channel_plan"`
	// SiteDigest is a digest of the site's files; StateFingerprint a
	// fingerprint of the live state (without moving fields) planned against.
	SiteDigest       string      `json:"site_digest"`
	StateFingerprint string      `json:"state_fingerprint"`
	SiteFiles        []string    `json:"site_files,omitempty"`
	Changes          []Change    `json:"changes"`
	Unmanaged        []Unmanaged `json:"unmanaged,omitempty"`
	// Notes are differences the plan does not act on (frame counters and
	// ABP session keys are set at create only), sorted by address.
	Notes []Note `json:"notes,omitempty"`
	// StopTasks are the FUOTA tasks the plan was allowed to stop
	// (--stop-task): applying a saved plan takes them from it.
	StopTasks []string `json:"stop_tasks,omitempty"`
	// StateDigests digest each resource of the live state planned against
	// (by address; by kind, "device.*", on a large gateway), so that a
	// stale saved plan can say what moved.
	StateDigests map[string]string `json:"state_digests,omitempty"`
}

// Note is a difference that the plan reports and does not change.
type Note struct {
	Address string   `json:"address"`
	Text    string   `json:"text"`
	Kind    NoteKind `json:"kind,omitempty"`
}

// NoteKind says what a Note reports.
type NoteKind string

const (
	// NoteInfo is a difference or an estimate the plan does not act on.
	NoteInfo NoteKind = ""
	// NoteDeferred is a delete the plan cannot make yet (a FUOTA task
	// lists the device): a later apply makes it. Verification after an
	// apply expects it.
	NoteDeferred NoteKind = "deferred"
	// NoteHeld is a change the plan holds back (a running FUOTA task
	// differs from the site): the gateway does not match the site, and
	// plan --detailed-exitcode says so.
	NoteHeld NoteKind = "held"
)

// String is the kind's name ("info" for NoteInfo).
func (k NoteKind) String() string {
	switch k {
	case NoteInfo:
		return "info"
	case NoteDeferred, NoteHeld:
		return string(k)
	}
	return "unknown(" + string(k) + ")"
}

// NotesOf are the plan's notes of kind k.
func (p *Plan) NotesOf(k NoteKind) []Note {
	var out []Note
	for _, n := range p.Notes {
		if n.Kind == k {
			out = append(out, n)
		}
	}
	return out
}

// Summary counts the changes as Terraform does: a replace is one add and
// one destroy.
func (p *Plan) Summary() (add, change, destroy int) {
	for _, c := range p.Changes {
		switch c.Action {
		case Create:
			add++
		case Update:
			change++
		case Delete:
			destroy++
		case Replace:
			add++
			destroy++
		}
	}
	return add, change, destroy
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool { return len(p.Changes) == 0 }
