package faultcampaign

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/gwsync/gwsync/internal/reserved"
)

// State is a simulated gateway's state file, normalised: resources by
// kind and identity (name, or devEUI), server ids replaced by the names
// they point to, moving fields dropped, keys replaced by digests.
type State map[string]map[string]map[string]any

// keyFields are the fields that hold keys: compared as digests, never
// shown in clear.
var keyFields = map[string]bool{"appKey": true, "nwkSKey": true, "appSKey": true, "mcNwkSKey": true, "mcAppSKey": true}

// moving are fields that change on their own or carry write times.
var moving = map[string]bool{
	"createdAt": true, "updatedAt": true, "runFrom": true, "lastSeenAt": true, "lastSeen": true,
	"status": true, "progress": true, "stoppedAt": true,
}

// ReadState reads and normalises the state file at path.
func ReadState(path string) (State, error) {
	// gwsim appends writes to PATH.log and folds them into the state file
	// when it closes: a log still there means the file is not the state.
	if _, err := os.Stat(path + ".log"); err == nil {
		return nil, fmt.Errorf("state file %s: its write log %s.log is not folded in (gateway not closed)", path, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("state file: %w", err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	return Normalise(raw), nil
}

func list(raw map[string]any, key string) []map[string]any {
	xs, _ := raw[key].([]any)
	var out []map[string]any
	for _, x := range xs {
		if m, ok := x.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return fmt.Sprintf("%v", x)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// Digest is how a key appears in a normalised state: enough to compare,
// nothing to recover it from.
func Digest(v string) string {
	if v == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(strings.ToLower(v)))
	return "key:" + hex.EncodeToString(sum[:4])
}

// Normalise turns a raw state file into a State.
func Normalise(raw map[string]any) State {
	names := func(key, idField string) map[string]string {
		out := map[string]string{}
		for _, r := range list(raw, key) {
			out[str(r[idField])] = str(r["name"])
		}
		return out
	}
	apps := names("applications", "id")
	profiles := names("profiles", "id")
	codecs := names("codecs", "id")
	ref := func(m map[string]string, id string) string {
		if id == "" || id == "0" {
			return ""
		}
		if n, ok := m[id]; ok {
			return n
		}
		return "unknown id " + id
	}

	st := State{"gateway": {"": {"gatewayEUI": strings.ToUpper(str(raw["gatewayEUI"])), "channelPlan": raw["channelPlan"],
		"failFuotaDevices": raw["failFuotaDevices"]}}}
	add := func(kind, ident string, rec map[string]any) {
		if st[kind] == nil {
			st[kind] = map[string]map[string]any{}
		}
		key := ident
		for i := 2; st[kind][key] != nil; i++ {
			key = fmt.Sprintf("%s (#%d)", ident, i) // a duplicate is a difference
		}
		st[kind][key] = rec
	}
	clean := func(r map[string]any, drop ...string) map[string]any {
		out := map[string]any{}
		for k, v := range r {
			if moving[k] || slices.Contains(drop, k) {
				continue
			}
			if keyFields[k] {
				v = Digest(str(v))
			}
			out[k] = v
		}
		return out
	}
	for _, r := range list(raw, "applications") {
		add("applications", str(r["name"]), clean(r, "id"))
	}
	for _, r := range list(raw, "profiles") {
		add("profiles", str(r["name"]), clean(r, "id"))
	}
	for _, r := range list(raw, "codecs") {
		if reserved.Codec(str(r["name"])) {
			continue // gwsync's own records (the lock, the digests of write-only values)
		}
		add("codecs", str(r["name"]), clean(r, "id"))
	}
	for _, r := range list(raw, "devices") {
		rec := clean(r)
		rec["devEUI"] = strings.ToUpper(str(r["devEUI"]))
		rec["devAddr"] = strings.ToUpper(str(r["devAddr"]))
		rec["applicationID"] = ref(apps, str(r["applicationID"]))
		rec["profileID"] = ref(profiles, str(r["profileID"]))
		rec["payloadCodecID"] = ref(codecs, str(r["payloadCodecID"]))
		add("devices", rec["devEUI"].(string), rec)
	}
	for _, r := range list(raw, "multicastGroups") {
		rec := clean(r, "id")
		rec["mcAddr"] = strings.ToUpper(str(r["mcAddr"]))
		rec["devices"] = euiSet(r["devices"])
		add("multicastGroups", str(r["name"]), rec)
	}
	for _, r := range list(raw, "fuotaTasks") {
		rec := clean(r, "id")
		rec["deveui"] = euiSet(r["deveui"])
		add("fuotaTasks", str(r["name"]), rec)
	}
	return st
}

func euiSet(v any) []any {
	xs, _ := v.([]any)
	var out []string
	for _, x := range xs {
		out = append(out, strings.ToUpper(str(x)))
	}
	slices.Sort(out)
	res := make([]any, len(out))
	for i, s := range out {
		res[i] = s
	}
	return res
}

// Diff lists what differs between want and got, one line a field, at most
// limit lines (keys appear as digests only).
func Diff(want, got State, limit int) []string {
	var out []string
	kinds := keysOf(want, got)
	for _, kind := range kinds {
		for _, id := range keysOf(want[kind], got[kind]) {
			w, g := want[kind][id], got[kind][id]
			switch {
			case w == nil:
				out = append(out, fmt.Sprintf("%s[%s]: not wanted, present", kind, id))
			case g == nil:
				out = append(out, fmt.Sprintf("%s[%s]: wanted, missing", kind, id))
			default:
				for _, f := range keysOf(w, g) {
					wj, _ := json.Marshal(w[f])
					gj, _ := json.Marshal(g[f])
					if string(wj) != string(gj) {
						out = append(out, fmt.Sprintf("%s[%s].%s: want %s, got %s", kind, id, f, wj, gj))
					}
				}
			}
		}
	}
	if len(out) > limit {
		out = append(out[:limit], fmt.Sprintf("… and %d more", len(out)-limit))
	}
	return out
}

func keysOf[V any](a, b map[string]V) []string {
	var out []string
	for k := range a {
		out = append(out, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// CheckModel lists where a normalised state differs from the model on
// the fields the generator set: names, devEUIs, references, keys,
// Modbus settings and membership sets.
func CheckModel(m *Model, st State) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	custom := func(kind string) []string {
		var names []string
		for id, r := range st[kind] {
			if b, _ := r["builtin"].(bool); !b {
				names = append(names, id)
			}
		}
		slices.Sort(names)
		return names
	}
	var want []string
	for _, p := range m.Profiles {
		want = append(want, p.Name)
		if r := st["profiles"][p.Name]; r != nil {
			s, _ := r["profile"].(map[string]any)
			if j, _ := s["supportsJoin"].(bool); j != p.Join {
				bad("profiles[%s].supportsJoin: want %v", p.Name, p.Join)
			}
			if c, _ := s["supportsClassC"].(bool); c != p.ClassC {
				bad("profiles[%s].supportsClassC: want %v", p.Name, p.ClassC)
			}
		}
	}
	if got := custom("profiles"); !sameSet(want, got) {
		bad("profiles: want %v, got %v", sorted(want), got)
	}
	want = nil
	for _, c := range m.Codecs {
		want = append(want, c.Name)
		if r := st["codecs"][c.Name]; r != nil {
			if str(r["decoderScript"]) != c.Decoder {
				bad("codecs[%s].decoderScript differs from the site", c.Name)
			}
			if c.CodecJSON != "" && str(r["codecJson"]) != c.CodecJSON {
				bad("codecs[%s].codecJson differs from the site", c.Name)
			}
		}
	}
	if got := custom("codecs"); !sameSet(want, got) {
		bad("codecs: want %v, got %v", sorted(want), got)
	}
	want = nil
	for _, d := range m.Devices {
		want = append(want, d.EUI)
		r := st["devices"][d.EUI]
		if r == nil {
			continue
		}
		check := func(field, wantV string) {
			if got := str(r[field]); got != wantV {
				if keyFields[field] {
					bad("devices[%s].%s: not the site's key", d.EUI, field)
				} else {
					bad("devices[%s].%s: want %q, got %q", d.EUI, field, wantV, got)
				}
			}
		}
		check("name", d.Name)
		check("applicationID", d.App)
		check("profileID", d.Profile)
		check("payloadCodecID", d.Codec)
		if d.OTAA {
			check("appKey", Digest(d.AppKey.Value))
		} else {
			check("devAddr", d.DevAddr)
			check("nwkSKey", Digest(d.NwkSKey.Value))
			check("appSKey", Digest(d.AppSKey.Value))
		}
		mb := Modbus{}
		if d.Modbus != nil {
			mb = *d.Modbus
		}
		check("mbMode", mb.Mode)
		check("mbFramePort", fmt.Sprint(mb.FramePort))
		check("mbTcpPort", fmt.Sprint(mb.TCPPort))
	}
	if got := keysOf(st["devices"], nil); !sameSet(want, got) {
		bad("devices: want %v, got %v", sorted(want), got)
	}
	want = nil
	for _, gr := range m.Groups {
		want = append(want, gr.Name)
		if r := st["multicastGroups"][gr.Name]; r != nil {
			var got []string
			for _, e := range r["devices"].([]any) {
				got = append(got, e.(string))
			}
			if !sameSet(gr.Members, got) {
				bad("multicastGroups[%s].devices: want %v, got %v", gr.Name, sorted(gr.Members), got)
			}
			if str(r["mcAddr"]) != gr.McAddr {
				bad("multicastGroups[%s].mcAddr: want %s, got %s", gr.Name, gr.McAddr, str(r["mcAddr"]))
			}
			if str(r["mcNwkSKey"]) != Digest(gr.NwkSKey.Value) || str(r["mcAppSKey"]) != Digest(gr.AppSKey.Value) {
				bad("multicastGroups[%s]: keys are not the site's", gr.Name)
			}
		}
	}
	if got := keysOf(st["multicastGroups"], nil); !sameSet(want, got) {
		bad("multicastGroups: want %v, got %v", sorted(want), got)
	}
	want = nil
	for _, t := range m.Tasks {
		want = append(want, t.Name)
		if r := st["fuotaTasks"][t.Name]; r != nil {
			var got []string
			for _, e := range r["deveui"].([]any) {
				got = append(got, e.(string))
			}
			if !sameSet(t.Devices, got) {
				bad("fuotaTasks[%s].deveui: want %v, got %v", t.Name, sorted(t.Devices), got)
			}
		}
	}
	if got := keysOf(st["fuotaTasks"], nil); !sameSet(want, got) {
		bad("fuotaTasks: want %v, got %v", sorted(want), got)
	}
	return out
}

func sorted(xs []string) []string {
	out := slices.Clone(xs)
	slices.Sort(out)
	return out
}

func sameSet(a, b []string) bool {
	return slices.Equal(sorted(a), sorted(b))
}
