package applier

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/gwsync/gwsync/nsapi"
)

// describeDiff says, one line per resource, how the gateway's state after
// a rollback differs from its state before the apply: what is gone, what
// is new, and which fields differ. It works on the canonical states, so
// keys appear only as digests and never in the text.
func describeDiff(before, after *nsapi.State) string {
	b, a := before.Canonical(), after.Canonical()
	var lines []string
	kinds := []struct {
		kind     string
		id       string
		was, now any
	}{
		{"profile", "name", b.Profiles, a.Profiles},
		{"device", "devEUI", b.Devices, a.Devices},
		{"codec", "name", b.Codecs, a.Codecs},
		{"multicast_group", "name", b.Groups, a.Groups},
		{"fuota_task", "name", b.Tasks, a.Tasks},
	}
	for _, k := range kinds {
		was, now := byIdentity(k.was, k.id), byIdentity(k.now, k.id)
		names := map[string]bool{}
		for n := range was {
			names[n] = true
		}
		for n := range now {
			names[n] = true
		}
		sorted := make([]string, 0, len(names))
		for n := range names {
			sorted = append(sorted, n)
		}
		sort.Strings(sorted)
		for _, n := range sorted {
			w, ok1 := was[n]
			v, ok2 := now[n]
			switch {
			case !ok2:
				lines = append(lines, fmt.Sprintf("- %s %q: was there before the apply, is gone", k.kind, n))
			case !ok1:
				lines = append(lines, fmt.Sprintf("+ %s %q: is there, was not before the apply", k.kind, n))
			default:
				if fields := differingFields(w, v); len(fields) > 0 {
					lines = append(lines, fmt.Sprintf("~ %s %q: %s", k.kind, n, strings.Join(fields, "; ")))
				}
			}
		}
	}
	if len(lines) == 0 && !reflect.DeepEqual(b, a) {
		lines = append(lines, "~ the gateway's settings (applications, channel plan or built-in codecs) differ")
	}
	return strings.Join(lines, "\n")
}

// byIdentity turns a slice of resources into their JSON objects by the
// value of the field id (upper-cased).
func byIdentity(list any, id string) map[string]map[string]any {
	out := map[string]map[string]any{}
	raw, err := json.Marshal(list)
	if err != nil {
		return out
	}
	var items []map[string]any
	if json.Unmarshal(raw, &items) != nil {
		return out
	}
	for _, it := range items {
		n := fmt.Sprint(it[id])
		if id == "devEUI" {
			n = strings.ToUpper(n)
		}
		out[n] = it
	}
	return out
}

// differingFields names the fields that differ; a multicast group's
// members are listed by EUI.
func differingFields(was, now map[string]any) []string {
	keys := map[string]bool{}
	for k := range was {
		keys[k] = true
	}
	for k := range now {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	var out []string
	for _, k := range sorted {
		if reflect.DeepEqual(was[k], now[k]) {
			continue
		}
		if k == "devices" {
			gone, added := memberDiff(was[k], now[k])
			var parts []string
			if len(gone) > 0 {
				parts = append(parts, "members gone: "+strings.Join(gone, ", "))
			}
			if len(added) > 0 {
				parts = append(parts, "members added: "+strings.Join(added, ", "))
			}
			if len(parts) > 0 {
				out = append(out, strings.Join(parts, "; "))
				continue
			}
		}
		out = append(out, k+" differs")
	}
	return out
}

func memberDiff(was, now any) (gone, added []string) {
	set := func(v any) map[string]bool {
		m := map[string]bool{}
		l, _ := v.([]any)
		for _, x := range l {
			switch x := x.(type) {
			case map[string]any:
				m[strings.ToUpper(fmt.Sprint(x["devEUI"]))] = true
			default:
				m[strings.ToUpper(fmt.Sprint(x))] = true
			}
		}
		return m
	}
	w, n := set(was), set(now)
	for d := range w {
		if !n[d] {
			gone = append(gone, d)
		}
	}
	for d := range n {
		if !w[d] {
			added = append(added, d)
		}
	}
	sort.Strings(gone)
	sort.Strings(added)
	return gone, added
}
