package render

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/gwsync/gwsync/plan"
)

// attr is one attribute of a resource as shown: its display text and the
// value it is compared by (a secret's digest, never its value).
type attr struct {
	show  string
	cmp   string
	multi bool   // a multi-line string (scripts), shown as a line diff
	text  string // the raw string of a multi-line attribute
}

// hidden lists, per kind, the attributes the server owns or that move on
// their own, which a plan never shows.
var hidden = map[plan.Kind]map[string]bool{
	plan.KindProfile: set("profileID", "organizationID", "networkServerID", "using", "isDefault", "rfRegion", "maxDutyCycle"),
	plan.KindDevice:  set("active", "lastSeenAt", "lastSeenAtTime", "appName", "supportsJoin"),
	plan.KindCodec:   set("id", "devEUIPrefix"),
	plan.KindGroup:   set("id", "createdAt", "updatedAt", "devices"),
	plan.KindMember:  set(),
	plan.KindTask: set("id", "status", "stoppedAt", "createdAt", "updatedAt", "doneDevices", "totalDevices",
		"tmpMcInfo.sessionTimeDelay", "tmpMcInfo.sessionTimeOut", "tmpMcInfo.status"),
}

// session lists a device's session fields, hidden for OTAA devices (the
// join sets them).
var session = set("devAddr", "nwkSKey", "appSKey", "fCntUp", "fCntDown")

func set(s ...string) map[string]bool {
	m := make(map[string]bool, len(s))
	for _, v := range s {
		m[v] = true
	}
	return m
}

// value returns the kind's struct of o.
func value(o *plan.Object) any {
	switch {
	case o == nil:
		return nil
	case o.Profile != nil:
		return o.Profile
	case o.Device != nil:
		return o.Device
	case o.Codec != nil:
		return o.Codec
	case o.Group != nil:
		return o.Group
	case o.Member != nil:
		return o.Member
	case o.Task != nil:
		return o.Task
	}
	return nil
}

// flatten returns o's shown attributes by dotted name. Secrets show as
// "(sensitive value)" and compare by digest; fields with a Ref show as
// "(known after apply)".
func flatten(k plan.Kind, o *plan.Object, refs []plan.Ref) map[string]attr {
	out := map[string]attr{}
	v := value(o)
	if v == nil {
		return out
	}
	b, err := json.Marshal(v)
	if err != nil {
		return out
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return out
	}
	secrets := o.SecretFields()
	otaa := o.Device != nil && o.Device.SupportsJoin
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for key, val := range m {
			name := prefix + key
			if k == plan.KindProfile && name == "profile" {
				if sub, ok := val.(map[string]any); ok {
					walk("", sub)
					continue
				}
			}
			if hidden[k][name] || (otaa && session[name]) {
				continue
			}
			if k == plan.KindTask && (name == "firmwareInfo" || (strings.HasPrefix(name, "officialFirmwareInfo.") &&
				name != "officialFirmwareInfo.model" && name != "officialFirmwareInfo.firmwareVersion" && name != "officialFirmwareInfo.id")) {
				continue
			}
			if sub, ok := val.(map[string]any); ok {
				walk(name+".", sub)
				continue
			}
			if p, ok := secrets[name]; ok {
				if *p == "" {
					out[name] = attr{show: `""`, cmp: ""}
				} else {
					out[name] = attr{show: plan.Masked, cmp: plan.SecretDigest(*p)}
				}
				continue
			}
			if s, ok := val.(string); ok {
				if strings.Contains(s, "\n") {
					n := strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), " \t\n")
					out[name] = attr{show: "<<-EOT", cmp: jsonText(n), multi: true, text: s}
					continue
				}
				// Shown Go-quoted: as JSON for printable text, and every
				// other character escaped as Inert shows it.
				j := jsonText(s)
				out[name] = attr{show: strconv.Quote(s), cmp: j, text: s}
				continue
			}
			j := jsonText(val)
			out[name] = attr{show: Inert(j), cmp: j}
		}
	}
	walk("", m)
	for _, r := range refs {
		out[r.Field] = attr{show: plan.KnownAfterApply, cmp: "\x00unknown"}
	}
	if k == plan.KindTask && o.Task != nil && o.Task.FirmwareInfo != nil && o.Task.FirmwareInfo.FileContent != "" {
		a := upload(o.Task.FirmwareInfo.FirmwareName, o.Task.FirmwareInfo.FileContent)
		out["firmwareFile"] = a
	}
	// Shown under the site's names (startAt, fragment.size), not the wire's.
	for wire := range plan.SiteFields(k) {
		if a, ok := out[wire]; ok {
			delete(out, wire)
			out[plan.SiteField(k, wire)] = a
		}
	}
	return out
}

func jsonText(v any) string {
	switch x := v.(type) {
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = jsonText(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case nil:
		return "null"
	}
	// As written: "Temp & humidity", not "Temp \u0026 humidity".
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "?"
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func sortedKeys(ms ...map[string]attr) []string {
	seen := map[string]bool{}
	var keys []string
	for _, m := range ms {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}

// upload is the attribute of a firmware file a task write sends: its name,
// size (when the plan holds the content, not only its digest) and the
// digest the JSON plan gives its base64 text.
func upload(name, content string) attr {
	digest := content
	size := ""
	if !strings.HasPrefix(content, "sha256:") {
		sum := sha256.Sum256([]byte(content))
		digest = "sha256:" + hex.EncodeToString(sum[:])
		if n, err := base64.StdEncoding.DecodeString(content); err == nil {
			size = fmt.Sprintf("%d bytes, ", len(n))
		}
	}
	short := digest
	if len(short) > len("sha256:")+12 {
		short = short[:len("sha256:")+12] + "…"
	}
	return attr{show: fmt.Sprintf("upload of %s (%s%s)", jsonText(name), size, short), cmp: digest}
}
