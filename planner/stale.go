// What moved on a gateway since a plan was saved: the digests a saved
// plan carries of the state it was planned against, and their comparison
// with the state now.

package planner

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
)

// MaxStateDigests is the most resources StateDigests digests one by one;
// a larger gateway is digested by kind, so that a saved plan stays small.
const MaxStateDigests = 2000

// StateDigests digests each resource of s in its Canonical form (frame
// counters and other moving values out, keys as digests), by address:
// `device.24E124136A456465`, `multicast_group.street`, and
// `gateway.channelPlan`. With more than MaxStateDigests resources, each
// kind is digested as a whole, under `device.*` and so on. Saved plans
// carry it (plan.Plan.StateDigests) for StaleReasons.
func StateDigests(s *nsapi.State) map[string]string {
	res := canonicalResources(s)
	if len(res) <= MaxStateDigests {
		out := make(map[string]string, len(res))
		for a, b := range res {
			out[a] = shortDigest(b)
		}
		return out
	}
	return kindDigests(res)
}

// StaleReasons says what moved on the gateway between the state a saved
// plan was made against (its StateDigests) and now: each resource added,
// deleted or changed, with the fields that changed where the plan holds
// the resource's earlier value. Nothing secret: only field names. Nil when
// the plan carries no digests (saved by an older gwsync).
func StaleReasons(saved *plan.Plan, now *nsapi.State) []string {
	if len(saved.StateDigests) == 0 {
		return nil
	}
	res := canonicalResources(now)
	cur := map[string]string{}
	byKind := false
	for a := range saved.StateDigests {
		byKind = byKind || strings.HasSuffix(a, ".*")
	}
	if byKind {
		cur = kindDigests(res)
	} else {
		for a, b := range res {
			cur[a] = shortDigest(b)
		}
	}
	var out []string
	for _, a := range slices.Sorted(maps.Keys(union(saved.StateDigests, cur))) {
		was, had := saved.StateDigests[a]
		is, has := cur[a]
		switch {
		case !had:
			out = append(out, a+" was added")
		case !has:
			out = append(out, a+" was deleted")
		case was != is && strings.HasSuffix(a, ".*"):
			out = append(out, "a "+strings.TrimSuffix(a, ".*")+" changed")
		case was != is:
			if f := changedFields(saved, now, a); len(f) > 0 {
				out = append(out, fmt.Sprintf("%s changed (%s)", a, strings.Join(f, ", ")))
			} else {
				out = append(out, a+" changed")
			}
		}
	}
	return out
}

// kindDigests digests the resources of each kind as a whole.
func kindDigests(res map[string][]byte) map[string]string {
	byKind := map[string][]string{}
	for _, a := range slices.Sorted(maps.Keys(res)) {
		k, _, _ := strings.Cut(a, ".")
		byKind[k] = append(byKind[k], a+"="+shortDigest(res[a]))
	}
	out := make(map[string]string, len(byKind))
	for k, parts := range byKind {
		out[k+".*"] = shortDigest([]byte(strings.Join(parts, "\n")))
	}
	return out
}

func union[V any](a, b map[string]V) map[string]V {
	out := maps.Clone(a)
	maps.Copy(out, b)
	return out
}

func shortDigest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// canonicalResources is each resource of s in Canonical form, as JSON, by
// address.
func canonicalResources(s *nsapi.State) map[string][]byte {
	c := s.Canonical()
	out := map[string][]byte{}
	put := func(addr string, v any) {
		b, err := json.Marshal(v)
		if err != nil { // cannot happen: plain data
			b = []byte(err.Error())
		}
		out[addr] = b
	}
	put("gateway.channelPlan", c.ChannelPlan)
	for _, a := range c.Applications {
		put("application."+string(a.ApplicationID), a)
	}
	for _, p := range c.Profiles {
		put(address(plan.KindProfile, p.Name), p)
	}
	for _, d := range c.Devices {
		put(address(plan.KindDevice, d.DevEUI), d)
	}
	for _, k := range c.Codecs {
		put(address(plan.KindCodec, k.Name), k)
	}
	for _, k := range c.BuiltinCodecs {
		put("builtin_codec."+k.Name, k)
	}
	for _, g := range c.Groups {
		put(address(plan.KindGroup, g.Name), g)
	}
	for _, t := range c.Tasks {
		put(address(plan.KindTask, t.Name), t)
	}
	return out
}

// changedFields names the fields of the resource at addr that differ
// between the saved plan's earlier value of it (a change's Before) and
// the gateway now; nil when the plan holds no earlier value.
func changedFields(saved *plan.Plan, now *nsapi.State, addr string) []string {
	var before *plan.Object
	for i := range saved.Changes {
		if c := &saved.Changes[i]; c.Address == addr && c.Before != nil {
			before = c.Before
		}
	}
	if before == nil {
		return nil
	}
	// the earlier value, in the canonical form of the state now (the
	// same profile and codec names resolve its ids)
	then := &nsapi.State{FormatVersion: now.FormatVersion, ChannelPlan: now.ChannelPlan, Profiles: now.Profiles,
		Codecs: now.Codecs, BuiltinCodecs: now.BuiltinCodecs}
	switch {
	case before.Device != nil:
		then.Devices = []nsapi.Device{*before.Device}
	case before.Group != nil:
		then.Groups = []nsapi.MulticastGroupInfo{*before.Group}
	case before.Task != nil:
		then.Tasks = []nsapi.FuotaTask{*before.Task}
	case before.Profile != nil:
		then.Profiles = append(slices.DeleteFunc(slices.Clone(now.Profiles), func(p nsapi.Profile) bool { return p.Name == before.Profile.Name }), *before.Profile)
	case before.Codec != nil:
		then.Codecs = append(slices.DeleteFunc(slices.Clone(now.Codecs), func(k nsapi.Codec) bool { return k.Name == before.Codec.Name }), *before.Codec)
	default:
		return nil
	}
	a, b := canonicalResources(then)[addr], canonicalResources(now)[addr]
	var x, y map[string]json.RawMessage
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return nil
	}
	var out []string
	for _, k := range slices.Sorted(maps.Keys(union(x, y))) {
		if string(x[k]) != string(y[k]) {
			out = append(out, k)
		}
	}
	return out
}
