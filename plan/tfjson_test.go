package plan_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
)

// TestTerraformJSONReadsPlans reads every golden plan document the planner
// tests keep (testdata/plan/*/plan.json, what gwsync plan --format json
// prints) with HashiCorp's terraform-json library, as Terraform tooling
// would, and checks that it sees the same actions gwsync does.
func TestTerraformJSONReadsPlans(t *testing.T) {
	files, err := filepath.Glob("../testdata/plan/*/plan.json")
	if err != nil || len(files) < 10 {
		t.Fatalf("golden plans: %d files, %v", len(files), err)
	}
	seen := map[string]int{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var tp tfjson.Plan
		if err := tp.UnmarshalJSON(b); err != nil { // validates format_version
			t.Errorf("%s: terraform-json: %v", f, err)
			continue
		}
		p, err := plan.Load(bytes.NewReader(b))
		if err != nil {
			t.Errorf("%s: plan.Load: %v", f, err)
			continue
		}
		if len(tp.ResourceChanges) != len(p.Changes) {
			t.Errorf("%s: terraform-json sees %d changes, gwsync %d", f, len(tp.ResourceChanges), len(p.Changes))
			continue
		}
		for i, rc := range tp.ResourceChanges {
			c := p.Changes[i]
			var got plan.Action
			switch a := rc.Change.Actions; {
			case a.Create():
				got = plan.Create
			case a.Update():
				got = plan.Update
			case a.Delete():
				got = plan.Delete
			case a.Replace() && a.DestroyBeforeCreate():
				got = plan.Replace
			default:
				t.Errorf("%s: %s: terraform-json reads actions %v as none of create, update, delete, replace", f, rc.Address, a)
			}
			if got != c.Action || rc.Address != c.Address || rc.Type != string(c.Kind) || rc.Mode != tfjson.ManagedResourceMode {
				t.Errorf("%s: terraform-json reads %s %s %s (%s), gwsync %s %s", f, rc.Mode, rc.Type, rc.Address, got, c.Address, c.Action)
			}
			seen[string(got)]++
		}
	}
	for _, a := range []plan.Action{plan.Create, plan.Update, plan.Delete, plan.Replace} {
		if seen[string(a)] == 0 {
			t.Errorf("no golden plan has a %s: the test does not cover it", a)
		}
	}
}

// TestTerraformJSONKeyRotation: a key rotation, read with terraform-json,
// is an update whose sensitive appKey differs before and after, and no key
// is in the document.
func TestTerraformJSONKeyRotation(t *testing.T) {
	const oldKey, newKey = "2b7e151628aed2a6abf7158809cf4f3c", "8f3c2a1b9d0e4f5a6b7c8d9e0f1a2b3c"
	dev := func(k string) *plan.Object {
		return &plan.Object{Device: &nsapi.Device{DevEUI: "24E124136A456465", Name: "em300", AppKey: k, SupportsJoin: true}}
	}
	p := &plan.Plan{FormatVersion: plan.FormatVersion, Changes: []plan.Change{{Address: "device.24E124136A456465",
		Kind: plan.KindDevice, Name: "em300", ID: "24E124136A456465", Action: plan.Update,
		Before: dev(oldKey), After: dev(newKey), Sensitive: []string{"appKey"}}}}
	var b bytes.Buffer
	if err := plan.Save(&b, p); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), oldKey) || strings.Contains(b.String(), newKey) {
		t.Fatal("the plan document holds a key in clear")
	}
	var tp tfjson.Plan
	if err := tp.UnmarshalJSON(b.Bytes()); err != nil {
		t.Fatal(err)
	}
	c := tp.ResourceChanges[0].Change
	before, after := c.Before.(map[string]any), c.After.(map[string]any)
	if !c.Actions.Update() {
		t.Errorf("actions %v, want update", c.Actions)
	}
	if before["appKey"] == after["appKey"] {
		t.Errorf("appKey before %v and after %v: the rotation is not visible", before["appKey"], after["appKey"])
	}
	if s, ok := c.AfterSensitive.(map[string]any); !ok || s["appKey"] != true {
		t.Errorf("after_sensitive = %v, want appKey marked", c.AfterSensitive)
	}
	if s, ok := c.BeforeSensitive.(map[string]any); !ok || s["appKey"] != true {
		t.Errorf("before_sensitive = %v, want appKey marked", c.BeforeSensitive)
	}
	for k, v := range after {
		if k != "appKey" && before[k] != v {
			t.Errorf("%s differs (%v -> %v): only the key should", k, before[k], v)
		}
	}
}
