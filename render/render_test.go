package render_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
	"github.com/gwsync/gwsync/render"
)

const (
	oldKey = "2b7e151628aed2a6abf7158809cf4f3c"
	newKey = "8f3c2a1b9d0e4f5a6b7c8d9e0f1a2b3c"
)

func devicePlan() *plan.Plan {
	return &plan.Plan{FormatVersion: 1, ChannelPlan: "EU868", Changes: []plan.Change{
		{Address: "device.24E124136A456465", Kind: plan.KindDevice, Name: "em300-th-01", ID: "24E124136A456465", Action: plan.Update,
			Before:    &plan.Object{Device: &nsapi.Device{DevEUI: "24E124136A456465", Name: "em300", AppKey: oldKey, SupportsJoin: true, FPort: 1}},
			After:     &plan.Object{Device: &nsapi.Device{DevEUI: "24E124136A456465", Name: "em300-th-01", AppKey: newKey, SupportsJoin: true, FPort: 1}},
			Sensitive: []string{"appKey"}},
		{Address: "device.24E1247151234568", Kind: plan.KindDevice, Name: "wt201", Action: plan.Create,
			After: &plan.Object{Device: &nsapi.Device{DevEUI: "24E1247151234568", Name: "wt201", AppKey: newKey, SupportsJoin: true}},
			Refs:  []plan.Ref{{Field: "profileID", Address: "profile.P"}}, Sensitive: []string{"appKey"}},
		{Address: "fuota_task.fw", Kind: plan.KindTask, Name: "fw", ID: "3", Action: plan.Replace, Reason: "the task is executing",
			Before: &plan.Object{Task: &nsapi.FuotaTask{Name: "fw", FirmwareName: "a.bin"}},
			After:  &plan.Object{Task: &nsapi.FuotaTask{Name: "fw", FirmwareName: "b.bin"}}},
	}}
}

// TestTextShowsChanges checks the text plan's lines a reviewer reads.
func TestTextShowsChanges(t *testing.T) {
	var b bytes.Buffer
	if err := render.Text(&b, devicePlan(), render.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		`  # device "24E124136A456465" (em300-th-01) will be updated in-place`,
		`      ~ appKey = (sensitive value)`,
		`      ~ name   = "em300" -> "em300-th-01"`,
		`        # (10 unchanged attributes hidden)`,
		`  # device "24E1247151234568" (wt201) will be created`,
		`      + profileID     = (known after apply)`,
		`  # fuota_task "fw" must be replaced`,
		`  # (because the task is executing)`,
		`-/+ fuota_task "fw" {`,
		`      ~ firmwareName = "a.bin" -> "b.bin"`,
		`Plan: 2 to add, 1 to change, 1 to destroy.`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("text plan lacks line %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, oldKey) || strings.Contains(out, newKey) {
		t.Error("text plan shows a key")
	}
	if strings.Contains(out, "\x1b[") {
		t.Error("text plan has colour without Color")
	}
}

// TestTextColour checks colours appear only when asked for.
func TestTextColour(t *testing.T) {
	var b bytes.Buffer
	if err := render.Text(&b, devicePlan(), render.TextOptions{Color: true}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\x1b[32m+\x1b[0m device", "\x1b[33m~\x1b[0m device", "\x1b[31m-\x1b[0m/\x1b[32m+\x1b[0m fuota_task"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("coloured plan lacks %q", want)
		}
	}
}

// TestEmpty checks the no-change wording in every format.
func TestEmpty(t *testing.T) {
	p := &plan.Plan{FormatVersion: 1}
	var txt, md, js bytes.Buffer
	_ = render.Text(&txt, p, render.TextOptions{})
	_ = render.Markdown(&md, p, 0)
	_ = render.JSON(&js, p)
	if diff := cmp.Diff("No changes. The gateway matches the site.\n", txt.String()); diff != "" {
		t.Errorf("text (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff("**No changes. The gateway matches the site.**\n", md.String()); diff != "" { // nothing known of the gateway: no header
		t.Errorf("markdown (-want +got):\n%s", diff)
	}
	var j render.JSONPlan
	if err := json.Unmarshal(js.Bytes(), &j); err != nil {
		t.Fatal(err)
	}
	if len(j.ResourceChanges) != 0 || j.FormatVersion != plan.DocumentFormatVersion || j.Applyable {
		t.Errorf("json = %+v", j)
	}
}

// TestUnmanagedHint checks the unmanaged list and its prune hint.
func TestUnmanagedHint(t *testing.T) {
	p := &plan.Plan{FormatVersion: 1, Unmanaged: []plan.Unmanaged{{Address: "device.24E1240000000001", Kind: plan.KindDevice, Name: "old"}}}
	var b bytes.Buffer
	_ = render.Text(&b, p, render.TextOptions{})
	want := "No changes. The gateway matches the site.\n\nNot managed by this site (left alone):\n  - device.24E1240000000001 (old)\n  # set prune: {devices: true} to delete them\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestPruneHintPerKind: the hint names the prune key of each kind listed,
// and no other, in text and in markdown.
func TestPruneHintPerKind(t *testing.T) {
	u := func(k plan.Kind, name string) plan.Unmanaged {
		return plan.Unmanaged{Address: string(k) + "." + name, Kind: k, Name: name}
	}
	for _, tc := range []struct {
		us   []plan.Unmanaged
		want string
	}{
		{[]plan.Unmanaged{u(plan.KindProfile, "Legacy")}, "set prune: {profiles: true} to delete them"},
		{[]plan.Unmanaged{u(plan.KindTask, "t"), u(plan.KindCodec, "c"), u(plan.KindTask, "t2")}, "set prune: {codecs: true, firmwareUpdates: true} to delete them"},
		{[]plan.Unmanaged{u(plan.KindGroup, "g"), u(plan.KindDevice, "24E1240000000001"), u(plan.KindProfile, "p")},
			"set prune: {profiles: true, devices: true, multicastGroups: true} to delete them"},
		{[]plan.Unmanaged{u(plan.KindGroup, "g"), u(plan.KindDevice, "24E1240000000001"), u(plan.KindProfile, "p"), u(plan.KindCodec, "c"), u(plan.KindTask, "t")},
			"set prune: true to delete them"},
	} {
		p := &plan.Plan{FormatVersion: 1, Unmanaged: tc.us}
		var txt, md bytes.Buffer
		_ = render.Text(&txt, p, render.TextOptions{})
		if err := render.Markdown(&md, p, 0); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(txt.String(), "  # "+tc.want+"\n") {
			t.Errorf("text:\n%s\nwant the hint %q", txt.String(), tc.want)
		}
		if !strings.Contains(md.String(), "_S"+tc.want[1:]+"._") {
			t.Errorf("markdown:\n%s\nwant the hint %q", md.String(), tc.want)
		}
	}
}

// TestJSONShape checks the machine-readable plan's fields: Terraform's
// resource_changes[].change, a key rotation as a sensitive change whose
// digests differ (never the key), and the saved plan's bytes.
func TestJSONShape(t *testing.T) {
	var b, saved bytes.Buffer
	if err := render.JSON(&b, devicePlan()); err != nil {
		t.Fatal(err)
	}
	if err := plan.Save(&saved, devicePlan()); err != nil {
		t.Fatal(err)
	}
	if b.String() != saved.String() {
		t.Error("plan --format json and the saved plan differ")
	}
	if strings.Contains(b.String(), oldKey) || strings.Contains(b.String(), newKey) {
		t.Fatal("json plan shows a key")
	}
	type change struct {
		Actions         []string        `json:"actions"`
		Before          map[string]any  `json:"before"`
		After           map[string]any  `json:"after"`
		AfterUnknown    map[string]bool `json:"after_unknown"`
		BeforeSensitive any             `json:"before_sensitive"`
		AfterSensitive  any             `json:"after_sensitive"`
	}
	var j struct {
		FormatVersion   string `json:"format_version"`
		ResourceChanges []struct {
			Address      string `json:"address"`
			Type         string `json:"type"`
			Name         string `json:"name"`
			Change       change `json:"change"`
			ActionReason string `json:"action_reason"`
			Reason       string `json:"reason"`
		} `json:"resource_changes"`
		Summary map[string]int `json:"summary"`
	}
	if err := json.Unmarshal(b.Bytes(), &j); err != nil {
		t.Fatal(err)
	}
	rc := j.ResourceChanges
	got := map[string]any{
		"version":         j.FormatVersion,
		"actions":         [][]string{rc[0].Change.Actions, rc[1].Change.Actions, rc[2].Change.Actions},
		"unknown":         rc[1].Change.AfterUnknown,
		"rotated":         rc[0].Change.Before["appKey"] != rc[0].Change.After["appKey"],
		"afterKey":        rc[0].Change.After["appKey"],
		"after_sensitive": rc[0].Change.AfterSensitive,
		"create before":   rc[1].Change.BeforeSensitive,
		"reason":          rc[2].Reason,
		"action_reason":   rc[2].ActionReason,
		"summary":         j.Summary,
		"address0":        rc[0].Address,
		"type/name":       rc[0].Type + " " + rc[0].Name,
	}
	want := map[string]any{
		"version":         "1.2",
		"actions":         [][]string{{"update"}, {"create"}, {"delete", "create"}},
		"unknown":         map[string]bool{"profileID": true},
		"rotated":         true,
		"afterKey":        plan.SecretDigest(newKey),
		"after_sensitive": map[string]any{"appKey": true, "appSKey": true, "nwkSKey": true},
		"create before":   false,
		"reason":          "the task is executing",
		"action_reason":   "replace_because_cannot_update",
		"summary":         map[string]int{"add": 2, "change": 1, "destroy": 1},
		"address0":        "device.24E124136A456465",
		"type/name":       "device 24E124136A456465",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("json (-want +got):\n%s", diff)
	}
}

// bigPlan is a plan of n device creates, a delete, and u unmanaged devices.
func bigPlan(n, u int) *plan.Plan {
	p := &plan.Plan{FormatVersion: 1, GatewayEUI: "24E124FFFEF5A6A8", ChannelPlan: "EU868",
		SiteFiles: []string{"sites/hq/devices.yaml", "sites/hq/site.yaml", "sites/hq/codecs/em300.js"}}
	for i := 0; i < n; i++ {
		eui := fmt.Sprintf("24E12413%08X", i)
		p.Changes = append(p.Changes, plan.Change{Address: "device." + eui, Kind: plan.KindDevice, Name: "sensor-" + eui,
			Action: plan.Create, After: &plan.Object{Device: &nsapi.Device{DevEUI: eui, Name: "sensor-" + eui,
				Description: strings.Repeat("d", 40), ApplicationID: "1", ProfileID: "p", FPort: 1, SupportsJoin: true, AppKey: newKey}}})
	}
	p.Changes = append(p.Changes, plan.Change{Address: "codec.old", Kind: plan.KindCodec, Name: "old", ID: "7", Action: plan.Delete,
		Before: &plan.Object{Codec: &nsapi.Codec{Name: "old"}}})
	for i := 0; i < u; i++ {
		eui := fmt.Sprintf("24E12499%08X", i)
		p.Unmanaged = append(p.Unmanaged, plan.Unmanaged{Address: "device." + eui, Kind: plan.KindDevice, Name: "legacy-" + eui})
	}
	return p
}

// TestMarkdownForReview checks the pull-request comment: the gateway and
// site in the header, the summary and the counts of every change always
// visible, under GitHub's 65,536 characters even for 5,000 changes and
// 3,000 unmanaged objects; the unmanaged list shortened first, and never
// styled as deletions.
func TestMarkdownForReview(t *testing.T) {
	for _, tc := range []struct {
		changes, unmanaged int
		wantFull           bool // every attribute line shown
		wantAllUnmanaged   bool
		wantAllChanges     bool // the last change, a delete, has a line
	}{
		{3, 2, true, true, true},
		{3, 1400, true, false, true}, // the unmanaged list goes first
		{400, 0, false, true, true},
		{5000, 3000, false, false, true}, // the delete stays in sight
	} {
		name := fmt.Sprintf("%d changes, %d unmanaged", tc.changes, tc.unmanaged)
		p := bigPlan(tc.changes, tc.unmanaged)
		var b bytes.Buffer
		if err := render.Markdown(&b, p, 0); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if len(out) > 65536 || len(out) > render.MarkdownLimit {
			t.Errorf("%s: markdown is %d characters, over %d", name, len(out), render.MarkdownLimit)
		}
		head := "#### gwsync plan: gateway `24E124FFFEF5A6A8` (EU868), site `sites/hq/`\n\n" +
			fmt.Sprintf("**Plan: %d to add, 0 to change, 1 to destroy.**\n", tc.changes) +
			"\n| kind | to add | to change | to destroy |\n|---|---:|---:|---:|\n" +
			"| codec | 0 | 0 | 1 |\n" + fmt.Sprintf("| device | %d | 0 | 0 |\n", tc.changes)
		if !strings.HasPrefix(out, head) {
			t.Errorf("%s: markdown does not start with the header, summary and counts:\n%.400s", name, out)
		}
		if !strings.Contains(out, "\n"+render.DigestMarker+p.Digest()+" -->\n") {
			t.Errorf("%s: no plan digest", name)
		}
		if got := strings.Contains(out, `+        name          = "sensor-24E1241300000000"`+"\n"); got != tc.wantFull {
			t.Errorf("%s: attribute lines shown = %v, want %v", name, got, tc.wantFull)
		}
		if got := strings.Contains(out, "legacy-24E12499"+fmt.Sprintf("%08X", tc.unmanaged-1)); tc.unmanaged > 0 && got != tc.wantAllUnmanaged {
			t.Errorf("%s: every unmanaged entry listed = %v, want %v", name, got, tc.wantAllUnmanaged)
		}
		if got := strings.Contains(out, "- codec.old") || strings.Contains(out, `- codec "old"`); got != tc.wantAllChanges {
			t.Errorf("%s: the last change (a delete) shown = %v, want %v", name, got, tc.wantAllChanges)
		}
		if !tc.wantAllUnmanaged && !strings.Contains(out, " more (") {
			t.Errorf("%s: the shortened unmanaged list does not say how many are left out", name)
		}
		if tc.changes == 5000 && !strings.Contains(out, "more creates (counted in the table above)") {
			t.Errorf("%s: changes left out without saying so", name)
		}
		// unmanaged entries are a plain list, never a red "-" diff line
		if strings.Contains(out, "\n-    device.24E12499") || strings.Contains(out, "\n- device.24E12499") {
			t.Errorf("%s: an unmanaged device is styled as a deletion", name)
		}
		if strings.Contains(out, newKey) {
			t.Errorf("%s: markdown shows a key", name)
		}
	}
}

// TestScriptDiff checks that a script change is a line diff.
func TestScriptDiff(t *testing.T) {
	old := "function Decode(fPort, bytes) {\r\n  var a = 1;\r\n  var b = 2;\r\n  var c = 3;\r\n  var d = 4;\r\n  return a;\r\n}\r\n"
	new := strings.ReplaceAll(strings.Replace(old, "return a;", "return b;", 1), "\r\n", "\n")
	p := &plan.Plan{FormatVersion: 1, Changes: []plan.Change{{Address: "codec.c", Kind: plan.KindCodec, Name: "c", Action: plan.Update,
		Before: &plan.Object{Codec: &nsapi.Codec{Name: "c", DecoderScript: old}},
		After:  &plan.Object{Codec: &nsapi.Codec{Name: "c", DecoderScript: new}}}}}
	var b bytes.Buffer
	_ = render.Text(&b, p, render.TextOptions{})
	want := `      ~ decoderScript = <<-EOT
            # (3 unchanged lines hidden)
              var c = 3;
              var d = 4;
          -   return a;
          +   return b;
            }
        EOT
`
	if !strings.Contains(b.String(), want) {
		t.Errorf("script diff: want\n%s\ngot\n%s", want, b.String())
	}
}

// TestTextShowsCharactersAsWritten: values with &, < and > (a description
// "Temp & humidity") show as written in text and markdown, not escaped.
func TestTextShowsCharactersAsWritten(t *testing.T) {
	p := &plan.Plan{FormatVersion: 1, ChannelPlan: "EU868", Changes: []plan.Change{
		{Address: "codec.c", Kind: plan.KindCodec, Name: "c", ID: "9", Action: plan.Update,
			Before: &plan.Object{Codec: &nsapi.Codec{Name: "c", Description: "Temp & humidity"}},
			After:  &plan.Object{Codec: &nsapi.Codec{Name: "c", Description: "Temp & humidity <lobby>"}}},
	}}
	want := `      ~ description = "Temp & humidity" -> "Temp & humidity <lobby>"`
	var b bytes.Buffer
	if err := render.Text(&b, p, render.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), want+"\n") {
		t.Errorf("text plan lacks line %q:\n%s", want, b.String())
	}
	b.Reset()
	if err := render.Markdown(&b, p, 0); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `description = "Temp & humidity" -> "Temp & humidity <lobby>"`) {
		t.Errorf("markdown plan shows the description escaped:\n%s", b.String())
	}
}

// TestMarkdownUnfoldsSmallPlans: a plan whose diff block is at most
// MarkdownUnfolded lines shows on the pull-request page without a click;
// a longer one is folded in <details>. Likewise a short unmanaged list.
func TestMarkdownUnfoldsSmallPlans(t *testing.T) {
	sawBoth := map[bool]bool{}
	for n := 1; n <= 12; n++ {
		p := bigPlan(n, 2)
		var b bytes.Buffer
		if err := render.Markdown(&b, p, 0); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		start := strings.Index(out, "```diff\n")
		end := strings.Index(out[start+1:], "```\n")
		if start < 0 || end < 0 {
			t.Fatalf("%d changes: no diff block:\n%s", n, out)
		}
		lines := strings.Count(out[start:start+1+end+len("```\n")], "\n")
		folded := strings.Contains(out, "<details><summary>Show the plan")
		if want := lines > render.MarkdownUnfolded; folded != want {
			t.Errorf("%d changes, %d diff lines: folded = %v, want %v:\n%s", n, lines, folded, want, out)
		}
		sawBoth[folded] = true
		if !folded && !strings.Contains(out, "\nNot managed by this site, left alone (2):\n") && lines+5 <= render.MarkdownUnfolded {
			t.Errorf("%d changes: a short unmanaged list is folded:\n%s", n, out)
		}
		if strings.Count(out, "<details>") != strings.Count(out, "</details>") {
			t.Errorf("%d changes: unbalanced <details>:\n%s", n, out)
		}
	}
	if !sawBoth[true] || !sawBoth[false] {
		t.Errorf("plans of 1 to 12 changes were all folded or all unfolded (%v): the case misses the threshold", sawBoth)
	}
}

// TestTaskFieldsInTheSiteVocabulary: a task's fields show in text and
// markdown under the site's names (startAt, fragment.size), never the
// wire's; the JSON plan keeps the wire objects and maps their names.
func TestTaskFieldsInTheSiteVocabulary(t *testing.T) {
	task := func(start string, size, dr int64) *nsapi.FuotaTask {
		return &nsapi.FuotaTask{Name: "fw", StartedAt: start, DevEUIs: []string{"24E124136A456465"},
			FragmentInfo:       nsapi.FragmentInfo{FragmentSize: nsapi.FlexInt(size), FragmentInterval: 5000},
			TmpMcInfo:          nsapi.TmpMcInfo{DR: nsapi.FlexInt(dr), Frequency: 869525000},
			IsOfficialFirmware: true, OfficialFirmwareInfo: &nsapi.OfficialFirmware{Model: "WT201", FirmwareVersion: "v1.4"}}
	}
	p := &plan.Plan{FormatVersion: 1, Changes: []plan.Change{{Address: "fuota_task.fw", Kind: plan.KindTask, Name: "fw", ID: "3", Action: plan.Update,
		Before: &plan.Object{Task: task("2026-12-01T02:00:00.000Z", 88, 3)}, After: &plan.Object{Task: task("2026-12-02T02:00:00.000Z", 100, 4)}}}}
	var txt, md, js bytes.Buffer
	if err := render.Text(&txt, p, render.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := render.Markdown(&md, p, 0); err != nil {
		t.Fatal(err)
	}
	if err := render.JSON(&js, p); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"text": txt.String(), "markdown": md.String()} {
		for _, want := range []string{`startAt       = "2026-12-01T02:00:00.000Z" -> "2026-12-02T02:00:00.000Z"`, "fragment.size = 88 -> 100", "multicast.dr  = 3 -> 4"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s does not show %q:\n%s", name, want, out)
			}
		}
		for _, wire := range []string{"startedAt", "fragmentInfo", "fragmentSize", "tmpMcInfo", "officialFirmwareInfo", "deveui"} {
			if strings.Contains(out, wire) {
				t.Errorf("%s shows the wire name %s:\n%s", name, wire, out)
			}
		}
	}
	var doc struct {
		ResourceChanges []struct {
			Change struct {
				After map[string]any `json:"after"`
			} `json:"change"`
			SiteFields map[string]string `json:"site_fields"`
		} `json:"resource_changes"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	rc := doc.ResourceChanges[0]
	if rc.Change.After["startedAt"] != "2026-12-02T02:00:00.000Z" {
		t.Errorf("JSON after.startedAt = %v, want the wire field", rc.Change.After["startedAt"])
	}
	if rc.SiteFields["startedAt"] != "startAt" || rc.SiteFields["fragmentInfo.fragmentSize"] != "fragment.size" {
		t.Errorf("JSON site_fields = %v, want startedAt: startAt, fragmentInfo.fragmentSize: fragment.size", rc.SiteFields)
	}
}

// TestUploadShownInEveryFormat: a task write that uploads a firmware file
// says so in text and markdown as the JSON plan does (its content digest),
// in a fresh plan (content held) and a loaded one (digest only).
func TestUploadShownInEveryFormat(t *testing.T) {
	content := "AAECAwQFBgcICQ==" // 10 bytes
	p := &plan.Plan{FormatVersion: 1, Changes: []plan.Change{{Address: "fuota_task.fw", Kind: plan.KindTask, Name: "fw", Action: plan.Create,
		After: &plan.Object{Task: &nsapi.FuotaTask{Name: "fw", FirmwareName: "fw.bin",
			FirmwareInfo: &nsapi.FirmwareInfo{FirmwareName: "fw.bin", FileContent: content}}}}}}
	var js bytes.Buffer
	if err := render.JSON(&js, p); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		ResourceChanges []struct {
			Change struct {
				After struct {
					FirmwareInfo struct {
						FileContent string `json:"fileContent"`
					} `json:"firmwareInfo"`
				} `json:"after"`
			} `json:"change"`
		} `json:"resource_changes"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	digest := doc.ResourceChanges[0].Change.After.FirmwareInfo.FileContent
	if !strings.HasPrefix(digest, "sha256:") {
		t.Fatalf("JSON fileContent = %q, want a digest", digest)
	}
	loaded, err := plan.Load(bytes.NewReader(js.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		p    *plan.Plan
		want string
	}{
		{"fresh", p, `firmwareFile        = upload of "fw.bin" (10 bytes, ` + digest[:19] + "…)"},
		{"loaded", loaded, `firmwareFile = upload of "fw.bin" (` + digest[:19] + "…)"},
	} {
		var txt, md bytes.Buffer
		if err := render.Text(&txt, tc.p, render.TextOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := render.Markdown(&md, tc.p, 0); err != nil {
			t.Fatal(err)
		}
		for format, out := range map[string]string{"text": txt.String(), "markdown": md.String()} {
			if !strings.Contains(out, strings.Fields(tc.want)[0]) || !strings.Contains(out, tc.want[strings.Index(tc.want, "upload"):]) {
				t.Errorf("%s plan, %s: no upload line %q:\n%s", tc.name, format, tc.want, out)
			}
		}
	}
}
