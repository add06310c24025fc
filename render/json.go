package render

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"

	"github.com/gwsync/gwsync/plan"
)

// JSONFormatVersion is the version of the JSON plan format.
const JSONFormatVersion = "1"

// JSONPlan is the machine-readable plan, modelled on Terraform's.
type JSONPlan struct {
	FormatVersion    string           `json:"format_version"`
	GatewayEUI       string           `json:"gateway_eui,omitempty"`
	ChannelPlan      string           `json:"channel_plan,omitempty"`
	SiteDigest       string           `json:"site_digest,omitempty"`
	StateFingerprint string           `json:"state_fingerprint,omitempty"`
	ResourceChanges  []JSONChange     `json:"resource_changes"`
	Unmanaged        []plan.Unmanaged `json:"unmanaged"`
	Notes            []plan.Note      `json:"notes,omitempty"`
	Summary          JSONSummary      `json:"summary"`
}

// JSONChange is one change: the resource's wire object before and after,
// secrets masked, and which after fields are known only after apply.
type JSONChange struct {
	Address      string          `json:"address"`
	Kind         plan.Kind       `json:"kind"`
	Name         string          `json:"name"`
	Actions      []string        `json:"actions"`
	Before       any             `json:"before"`
	After        any             `json:"after"`
	AfterUnknown map[string]bool `json:"after_unknown,omitempty"`
	Sensitive    []string        `json:"sensitive,omitempty"`
	ActionReason string          `json:"action_reason,omitempty"`
}

// JSONSummary counts the changes (a replace is one add and one destroy).
type JSONSummary struct {
	Add     int `json:"add"`
	Change  int `json:"change"`
	Destroy int `json:"destroy"`
}

// actions is the Terraform-style action list.
func actions(a plan.Action) []string {
	switch a {
	case plan.Replace:
		return []string{"delete", "create"}
	case plan.Create, plan.Update, plan.Delete:
		return []string{string(a)}
	}
	return []string{"no-op"}
}

// JSONOf builds the JSON plan of p with every secret masked.
func JSONOf(p *plan.Plan) JSONPlan {
	m := p.Masked()
	out := JSONPlan{FormatVersion: JSONFormatVersion, GatewayEUI: m.GatewayEUI, ChannelPlan: m.ChannelPlan,
		SiteDigest: m.SiteDigest, StateFingerprint: m.StateFingerprint,
		ResourceChanges: []JSONChange{}, Unmanaged: m.Unmanaged, Notes: m.Notes}
	if out.Unmanaged == nil {
		out.Unmanaged = []plan.Unmanaged{}
	}
	for _, c := range m.Changes {
		for _, o := range []*plan.Object{c.Before, c.After} {
			if o != nil && o.Task != nil && o.Task.FirmwareInfo != nil && o.Task.FirmwareInfo.FileContent != "" {
				n := base64.StdEncoding.DecodedLen(len(o.Task.FirmwareInfo.FileContent))
				o.Task.FirmwareInfo.FileContent = fmt.Sprintf("(base64, about %d bytes)", n)
			}
		}
		jc := JSONChange{Address: c.Address, Kind: c.Kind, Name: c.Name, Actions: actions(c.Action),
			Before: value(c.Before), After: value(c.After), Sensitive: c.Sensitive, ActionReason: c.Reason}
		for _, r := range c.Refs {
			if jc.AfterUnknown == nil {
				jc.AfterUnknown = map[string]bool{}
			}
			jc.AfterUnknown[r.Field] = true
		}
		out.ResourceChanges = append(out.ResourceChanges, jc)
	}
	out.Summary.Add, out.Summary.Change, out.Summary.Destroy = p.Summary()
	return out
}

// JSON writes p as indented JSON (see JSONPlan), secrets masked.
func JSON(w io.Writer, p *plan.Plan) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(JSONOf(p))
}
