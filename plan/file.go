package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"

	"github.com/gwsync/gwsync/nsapi"
)

// Masked is what outputs show in place of a secret (the same text as
// site.Masked; plan does not import site).
const Masked = "(sensitive value)"

// KnownAfterApply is what outputs show for a value that a change of the same
// plan creates (a Ref).
const KnownAfterApply = "(known after apply)"

// SecretDigest digests a secret for saved plans and comparisons: it is
// nsapi.SecretDigest ("sha256:" and the hex SHA-256 of the lower-cased
// value; empty values and digests are returned as they are), so a plan
// compares keys with masked snapshots.
func SecretDigest(v string) string { return nsapi.SecretDigest(v) }

// SecretFields returns pointers to the secret fields of o by JSON name
// (appKey, nwkSKey, appSKey of a device; mcNwkSKey, mcAppSKey of a group).
// It returns nil for kinds without secrets.
func (o *Object) SecretFields() map[string]*string {
	if o == nil {
		return nil
	}
	switch {
	case o.Device != nil:
		return map[string]*string{"appKey": &o.Device.AppKey, "nwkSKey": &o.Device.NwkSKey, "appSKey": &o.Device.AppSKey}
	case o.Group != nil:
		return map[string]*string{"mcNwkSKey": &o.Group.McNwkSKey, "mcAppSKey": &o.Group.McAppSKey}
	}
	return nil
}

// Clone returns a deep copy of p.
func (p *Plan) Clone() *Plan {
	if p == nil {
		return nil
	}
	q := *p
	q.SiteFiles = append([]string(nil), p.SiteFiles...)
	q.Unmanaged = append([]Unmanaged(nil), p.Unmanaged...)
	q.Notes = append([]Note(nil), p.Notes...)
	q.Changes = make([]Change, len(p.Changes))
	for i, c := range p.Changes {
		c.Before, c.After = c.Before.Clone(), c.After.Clone()
		c.Refs = append([]Ref(nil), c.Refs...)
		c.Sensitive = append([]string(nil), c.Sensitive...)
		q.Changes[i] = c
	}
	return &q
}

// Clone returns a deep copy of o.
func (o *Object) Clone() *Object {
	if o == nil {
		return nil
	}
	var c Object
	if o.Profile != nil {
		v := *o.Profile
		v.Profile.FactoryPresetFreqs = cloneInts(v.Profile.FactoryPresetFreqs)
		v.Profile.EnableUplinkChannels = cloneInts(v.Profile.EnableUplinkChannels)
		c.Profile = &v
	}
	if o.Device != nil {
		v := *o.Device
		c.Device = &v
	}
	if o.Codec != nil {
		v := *o.Codec
		c.Codec = &v
	}
	if o.Group != nil {
		v := *o.Group
		if v.Devices != nil {
			v.Devices = append([]nsapi.GroupMember{}, v.Devices...)
		}
		c.Group = &v
	}
	if o.Member != nil {
		v := *o.Member
		c.Member = &v
	}
	if o.Task != nil {
		v := *o.Task
		if v.DevEUIs != nil {
			v.DevEUIs = append([]string{}, v.DevEUIs...)
		}
		if v.FirmwareInfo != nil {
			f := *v.FirmwareInfo
			v.FirmwareInfo = &f
		}
		if v.OfficialFirmwareInfo != nil {
			f := *v.OfficialFirmwareInfo
			f.FrequencyBands = append([]string(nil), f.FrequencyBands...)
			v.OfficialFirmwareInfo = &f
		}
		c.Task = &v
	}
	return &c
}

func cloneInts(s []int64) []int64 {
	if s == nil {
		return nil
	}
	return append([]int64{}, s...)
}

// mapSecrets returns a deep copy of p with every non-empty secret field of
// every Before and After replaced by f(value).
func (p *Plan) mapSecrets(f func(string) string) *Plan {
	q := p.Clone()
	for i := range q.Changes {
		for _, o := range []*Object{q.Changes[i].Before, q.Changes[i].After} {
			for _, v := range o.SecretFields() {
				if *v != "" {
					*v = f(*v)
				}
			}
		}
	}
	return q
}

// Masked returns a deep copy of p with every secret replaced by
// "(sensitive value)", for renderers.
func (p *Plan) Masked() *Plan {
	return p.mapSecrets(func(string) string { return Masked })
}

// Digested returns a deep copy of p with every secret replaced by its
// SecretDigest: the form a plan is saved in.
func (p *Plan) Digested() *Plan { return p.mapSecrets(SecretDigest) }

// Digest is a digest of what the plan does: the gateway and channel plan,
// and for every change its address, action, reason, references and After
// (secrets digested; frame counters, which move on their own and are not
// updated, left out), plus the unmanaged list. A saved plan and a fresh plan
// of the same site against the same gateway have equal digests.
func (p *Plan) Digest() string {
	d := p.Digested()
	type change struct {
		Address   string   `json:"address"`
		Kind      Kind     `json:"kind"`
		ID        string   `json:"id,omitempty"`
		Action    Action   `json:"action"`
		Reason    string   `json:"reason,omitempty"`
		After     *Object  `json:"after,omitempty"`
		Refs      []Ref    `json:"refs,omitempty"`
		Sensitive []string `json:"sensitive,omitempty"`
		FreesName bool     `json:"frees_name,omitempty"`
	}
	body := struct {
		FormatVersion int         `json:"format_version"`
		GatewayEUI    string      `json:"gateway_eui"`
		ChannelPlan   string      `json:"channel_plan"`
		Changes       []change    `json:"changes"`
		Unmanaged     []Unmanaged `json:"unmanaged"`
	}{FormatVersion: d.FormatVersion, GatewayEUI: d.GatewayEUI, ChannelPlan: d.ChannelPlan, Unmanaged: d.Unmanaged}
	for _, c := range d.Changes {
		if c.Action != Create && c.After != nil {
			if a := c.After.Device; a != nil {
				a.FCntUp, a.FCntDown = 0, 0
				if b := c.Before; c.Action == Update && b != nil && b.Device != nil && b.Device.SupportsJoin == a.SupportsJoin {
					// the running session, carried over as the gateway has it
					a.DevAddr, a.NwkSKey, a.AppSKey = "", "", ""
				}
			}
			if c.After.Group != nil {
				c.After.Group.FCnt = 0
			}
		}
		body.Changes = append(body.Changes, change{c.Address, c.Kind, c.ID, c.Action, c.Reason, c.After, c.Refs, c.Sensitive, c.FreesName})
	}
	b, err := json.Marshal(body)
	if err != nil { // cannot happen: a plan is plain data
		return "undigestable"
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Save writes p as an indented JSON saved plan, every secret replaced by its
// SecretDigest: a saved plan never holds a key in clear.
func Save(w io.Writer, p *Plan) error {
	d := p.Digested()
	if d.FormatVersion == 0 {
		d.FormatVersion = FormatVersion
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return fmt.Errorf("plan: save: %w", err)
	}
	b = append(b, '\n')
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("plan: save: %w", err)
	}
	return nil
}

// FormatError is the error of Load for a file that is not a saved plan of a
// format this version reads.
type FormatError struct {
	Version int    // the file's format_version (0 when absent)
	Msg     string // what is wrong
}

func (e *FormatError) Error() string { return "saved plan: " + e.Msg }

// Load reads a saved plan written by Save.
func Load(r io.Reader) (*Plan, error) {
	dec := json.NewDecoder(r)
	var p Plan
	if err := dec.Decode(&p); err != nil {
		return nil, &FormatError{Msg: fmt.Sprintf("not a saved plan: %v", err)}
	}
	if p.FormatVersion != FormatVersion {
		return nil, &FormatError{Version: p.FormatVersion, Msg: fmt.Sprintf("format_version %d is not %d", p.FormatVersion, FormatVersion)}
	}
	for i, c := range p.Changes {
		if c.Address == "" {
			return nil, &FormatError{Version: p.FormatVersion, Msg: fmt.Sprintf("change %d has no address", i)}
		}
		switch c.Action {
		case Create, Update, Delete, Replace:
		default:
			return nil, &FormatError{Version: p.FormatVersion, Msg: fmt.Sprintf("%s: unknown action %q", c.Address, c.Action)}
		}
		if c.Action != Delete && c.After == nil {
			return nil, &FormatError{Version: p.FormatVersion, Msg: fmt.Sprintf("%s: %s without after", c.Address, c.Action)}
		}
		if c.Action != Create && c.Before == nil {
			return nil, &FormatError{Version: p.FormatVersion, Msg: fmt.Sprintf("%s: %s without before", c.Address, c.Action)}
		}
	}
	return &p, nil
}
