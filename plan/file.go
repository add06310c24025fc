package plan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"strings"

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
	q.StopTasks = append([]string(nil), p.StopTasks...)
	q.StateDigests = maps.Clone(p.StateDigests)
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
// SecretDigest and every firmware file's content by the digest of its
// base64 text: the form a plan is saved in.
func (p *Plan) Digested() *Plan {
	q := p.mapSecrets(SecretDigest)
	for i := range q.Changes {
		for _, o := range []*Object{q.Changes[i].Before, q.Changes[i].After} {
			if o != nil && o.Task != nil && o.Task.FirmwareInfo != nil {
				o.Task.FirmwareInfo.FileContent = contentDigest(o.Task.FirmwareInfo.FileContent)
			}
		}
	}
	return q
}

// contentDigest digests a firmware file's base64 content ("" and digests
// are returned as they are).
func contentDigest(v string) string {
	if v == "" || strings.HasPrefix(v, "sha256:") {
		return v
	}
	sum := sha256.Sum256([]byte(v))
	return "sha256:" + hex.EncodeToString(sum[:])
}

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
	}{FormatVersion: d.FormatVersion, GatewayEUI: d.GatewayEUI, ChannelPlan: d.ChannelPlan}
	if len(d.Unmanaged) > 0 {
		body.Unmanaged = d.Unmanaged
	}
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

// DocumentFormatVersion is the format_version of the plan document: the
// version of Terraform's JSON plan format whose fields it fills, so that
// tools reading Terraform plans (hashicorp/terraform-json, policy engines)
// read it unchanged. gwsync's own fields are added beside Terraform's.
const DocumentFormatVersion = "1.2"

// Document is the one JSON form of a plan: what gwsync plan --out saves,
// what gwsync plan --format json and gwsync show --json print, and what
// gwsync apply PLANFILE reads back. It follows Terraform's JSON plan
// format (format_version, resource_changes[].change with actions,
// before/after, after_unknown, before_sensitive/after_sensitive). A secret
// is never in it in clear: before and after hold its digest
// (SecretDigest), so a key rotation shows as a changed digest of a field
// marked sensitive.
type Document struct {
	FormatVersion string `json:"format_version"`
	// Applyable, Complete and Errored are Terraform's plan flags.
	Applyable        bool              `json:"applyable"`
	Complete         bool              `json:"complete"`
	Errored          bool              `json:"errored"`
	GatewayEUI       string            `json:"gateway_eui,omitempty"`
	ChannelPlan      string            `json:"channel_plan,omitempty"`
	SiteDigest       string            `json:"site_digest,omitempty"`
	StateFingerprint string            `json:"state_fingerprint,omitempty"`
	SiteFiles        []string          `json:"site_files,omitempty"`
	PlanDigest       string            `json:"plan_digest"`
	ResourceChanges  []ResourceChange  `json:"resource_changes"`
	Unmanaged        []Unmanaged       `json:"unmanaged"`
	Notes            []Note            `json:"notes,omitempty"`
	StopTasks        []string          `json:"stop_tasks,omitempty"`
	StateDigests     map[string]string `json:"state_digests,omitempty"`
	Summary          DocumentSummary   `json:"summary"`
}

// DocumentSummary counts the changes (a replace is one add and one destroy).
type DocumentSummary struct {
	Add     int `json:"add"`
	Change  int `json:"change"`
	Destroy int `json:"destroy"`
}

// ResourceChange is one change in Terraform's shape: the address split into
// type (the kind) and name, and the change itself; gwsync's own fields
// (display_name, id, reason, refs, sensitive, frees_name) follow.
type ResourceChange struct {
	Address      string       `json:"address"`
	Mode         string       `json:"mode"`
	Type         Kind         `json:"type"`
	Name         string       `json:"name"`
	ProviderName string       `json:"provider_name"`
	Change       ChangeValues `json:"change"`
	// ActionReason is Terraform's reason code for a replace.
	ActionReason string `json:"action_reason,omitempty"`

	DisplayName string   `json:"display_name,omitempty"`
	ID          string   `json:"id,omitempty"`
	Reason      string   `json:"reason,omitempty"`
	Refs        []Ref    `json:"refs,omitempty"`
	Sensitive   []string `json:"sensitive,omitempty"`
	FreesName   bool     `json:"frees_name,omitempty"`
	// SiteFields maps the wire fields of before and after that the site
	// writes under another name to the site's name (startedAt: startAt),
	// the names text and markdown plans show.
	SiteFields map[string]string `json:"site_fields,omitempty"`
}

// ChangeValues is Terraform's change object. Before and After are the
// resource's wire object (null for a create's before and a delete's after);
// AfterUnknown marks the fields known only after apply; the sensitive maps
// mark the secret fields of before and after (false when there is none).
type ChangeValues struct {
	Actions         []string        `json:"actions"`
	Before          json.RawMessage `json:"before"`
	After           json.RawMessage `json:"after"`
	AfterUnknown    any             `json:"after_unknown"`
	BeforeSensitive any             `json:"before_sensitive"`
	AfterSensitive  any             `json:"after_sensitive"`
}

// ProviderName is the provider_name of every resource change.
const ProviderName = "gwsync"

// Actions is the Terraform action list of a: ["create"], ["update"],
// ["delete"], and ["delete","create"] for a replace (gwsync deletes first).
func Actions(a Action) []string {
	switch a {
	case Replace:
		return []string{"delete", "create"}
	case Create, Update, Delete:
		return []string{string(a)}
	}
	return []string{"no-op"}
}

// actionOf is the inverse of Actions.
func actionOf(actions []string) (Action, bool) {
	switch strings.Join(actions, ",") {
	case "create":
		return Create, true
	case "update":
		return Update, true
	case "delete":
		return Delete, true
	case "delete,create", "create,delete":
		return Replace, true
	}
	return "", false
}

// value is the wire object o holds, as JSON ("null" for nil).
func value(o *Object) (json.RawMessage, error) {
	var v any
	switch {
	case o == nil:
	case o.Profile != nil:
		v = o.Profile
	case o.Device != nil:
		v = o.Device
	case o.Codec != nil:
		v = o.Codec
	case o.Group != nil:
		v = o.Group
	case o.Member != nil:
		v = o.Member
	case o.Task != nil:
		v = o.Task
	}
	return marshal(v)
}

func marshal(v any) (json.RawMessage, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// objectOf decodes a wire object of kind k.
func objectOf(k Kind, raw json.RawMessage) (*Object, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var o Object
	var dst any
	switch k {
	case KindProfile:
		o.Profile = new(nsapi.Profile)
		dst = o.Profile
	case KindDevice:
		o.Device = new(nsapi.Device)
		dst = o.Device
	case KindCodec:
		o.Codec = new(nsapi.Codec)
		dst = o.Codec
	case KindGroup:
		o.Group = new(nsapi.MulticastGroupInfo)
		dst = o.Group
	case KindMember:
		o.Member = new(Member)
		dst = o.Member
	case KindTask:
		o.Task = new(nsapi.FuotaTask)
		dst = o.Task
	default:
		return nil, fmt.Errorf("unknown type %q", k)
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return nil, err
	}
	return &o, nil
}

// sensitiveMap marks o's secret fields, Terraform's way: false when o is
// nil, else an object with true for each secret field of its kind.
func sensitiveMap(o *Object) any {
	if o == nil {
		return false
	}
	m := map[string]bool{}
	for k := range o.SecretFields() {
		m[k] = true
	}
	return m
}

// DocumentOf builds the plan document of p: every secret and firmware file
// as its digest, and the plan's Digest, which apply PLANFILE and a review
// comment compare.
func DocumentOf(p *Plan) (*Document, error) {
	d := p.Digested()
	doc := &Document{FormatVersion: DocumentFormatVersion, Applyable: !p.Empty(), Complete: true,
		GatewayEUI: d.GatewayEUI, ChannelPlan: d.ChannelPlan, SiteDigest: d.SiteDigest,
		StateFingerprint: d.StateFingerprint, SiteFiles: d.SiteFiles, PlanDigest: p.Digest(),
		ResourceChanges: []ResourceChange{}, Unmanaged: d.Unmanaged, Notes: d.Notes,
		StopTasks: p.StopTasks, StateDigests: p.StateDigests}
	if doc.Unmanaged == nil {
		doc.Unmanaged = []Unmanaged{}
	}
	doc.Summary.Add, doc.Summary.Change, doc.Summary.Destroy = p.Summary()
	for _, c := range d.Changes {
		rc := ResourceChange{Address: c.Address, Mode: "managed", Type: c.Kind,
			Name: strings.TrimPrefix(c.Address, string(c.Kind)+"."), ProviderName: ProviderName,
			DisplayName: c.Name, ID: c.ID, Reason: c.Reason, Refs: c.Refs, Sensitive: c.Sensitive, FreesName: c.FreesName,
			SiteFields: SiteFields(c.Kind)}
		if c.Action == Replace {
			rc.ActionReason = "replace_because_cannot_update"
		}
		var err error
		rc.Change.Actions = Actions(c.Action)
		if rc.Change.Before, err = value(c.Before); err != nil {
			return nil, fmt.Errorf("plan: %s: %w", c.Address, err)
		}
		if rc.Change.After, err = value(c.After); err != nil {
			return nil, fmt.Errorf("plan: %s: %w", c.Address, err)
		}
		unknown := map[string]bool{}
		for _, r := range c.Refs {
			unknown[r.Field] = true
		}
		rc.Change.AfterUnknown = unknown
		rc.Change.BeforeSensitive, rc.Change.AfterSensitive = sensitiveMap(c.Before), sensitiveMap(c.After)
		doc.ResourceChanges = append(doc.ResourceChanges, rc)
	}
	return doc, nil
}

// Save writes p as its plan document (see Document), indented: a saved
// plan never holds a key in clear.
func Save(w io.Writer, p *Plan) error {
	doc, err := DocumentOf(p)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("plan: save: %w", err)
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("plan: save: %w", err)
	}
	return nil
}

// FormatError is the error of Load for a file that is not a plan document
// of a format this version reads.
type FormatError struct {
	Version string // the file's format_version ("" when absent)
	Msg     string // what is wrong
}

func (e *FormatError) Error() string { return "saved plan: " + e.Msg }

// Load reads a plan document written by Save (or printed by
// gwsync plan --format json). Its secrets are digests.
func Load(r io.Reader) (*Plan, error) {
	var probe struct {
		FormatVersion json.RawMessage `json:"format_version"`
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("saved plan: %w", err)
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, &FormatError{Msg: fmt.Sprintf("not a saved plan: %v", err)}
	}
	var version string
	if err := json.Unmarshal(probe.FormatVersion, &version); err != nil || version != DocumentFormatVersion {
		v := strings.Trim(string(probe.FormatVersion), `"`)
		if v == "1" {
			return nil, &FormatError{Version: v, Msg: "written by an older gwsync (format_version 1): run gwsync plan --out again"}
		}
		if v == "" {
			return nil, &FormatError{Msg: "not a saved plan: no format_version"}
		}
		return nil, &FormatError{Version: v, Msg: fmt.Sprintf("format_version %s is not %s", v, DocumentFormatVersion)}
	}
	var doc Document
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, &FormatError{Version: version, Msg: fmt.Sprintf("not a saved plan: %v", err)}
	}
	p := &Plan{FormatVersion: FormatVersion, GatewayEUI: doc.GatewayEUI, ChannelPlan: doc.ChannelPlan,
		SiteDigest: doc.SiteDigest, StateFingerprint: doc.StateFingerprint, SiteFiles: doc.SiteFiles,
		Unmanaged: doc.Unmanaged, Notes: doc.Notes, Changes: []Change{},
		StopTasks: doc.StopTasks, StateDigests: doc.StateDigests}
	if len(p.Unmanaged) == 0 {
		p.Unmanaged = nil
	}
	for i, rc := range doc.ResourceChanges {
		if rc.Address == "" {
			return nil, &FormatError{Version: version, Msg: fmt.Sprintf("resource change %d has no address", i)}
		}
		a, ok := actionOf(rc.Change.Actions)
		if !ok {
			return nil, &FormatError{Version: version, Msg: fmt.Sprintf("%s: unknown actions %q", rc.Address, rc.Change.Actions)}
		}
		c := Change{Address: rc.Address, Kind: rc.Type, Name: rc.DisplayName, ID: rc.ID, Action: a,
			Reason: rc.Reason, Refs: rc.Refs, Sensitive: rc.Sensitive, FreesName: rc.FreesName}
		if c.Before, err = objectOf(rc.Type, rc.Change.Before); err != nil {
			return nil, &FormatError{Version: version, Msg: fmt.Sprintf("%s: before: %v", rc.Address, err)}
		}
		if c.After, err = objectOf(rc.Type, rc.Change.After); err != nil {
			return nil, &FormatError{Version: version, Msg: fmt.Sprintf("%s: after: %v", rc.Address, err)}
		}
		if c.Action != Delete && c.After == nil {
			return nil, &FormatError{Version: version, Msg: fmt.Sprintf("%s: %s without after", c.Address, c.Action)}
		}
		if c.Action != Create && c.Before == nil {
			return nil, &FormatError{Version: version, Msg: fmt.Sprintf("%s: %s without before", c.Address, c.Action)}
		}
		p.Changes = append(p.Changes, c)
	}
	if doc.PlanDigest != "" && doc.PlanDigest != p.Digest() {
		return nil, &FormatError{Version: version, Msg: "plan_digest does not match the plan: the file was edited"}
	}
	return p, nil
}
