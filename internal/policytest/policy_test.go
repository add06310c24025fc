package policytest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/open-policy-agent/opa/v1/rego"
)

// deny evaluates policy/gwsync.rego's deny rule on the plan document file.
func deny(t *testing.T, planFile string) []string {
	t.Helper()
	b, err := os.ReadFile(planFile)
	if err != nil {
		t.Fatal(err)
	}
	var input any
	if err := json.Unmarshal(b, &input); err != nil {
		t.Fatal(err)
	}
	r := rego.New(rego.Query("data.gwsync.plan.deny"), rego.Load([]string{"policy"}, nil), rego.Input(input))
	rs, err := r.Eval(context.Background())
	if err != nil {
		t.Fatalf("opa: %v", err)
	}
	var out []string
	for _, res := range rs {
		for _, e := range res.Expressions {
			for _, m := range e.Value.([]any) {
				out = append(out, m.(string))
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestDenyDeletingDevices runs the policy on gwsync's golden plan
// documents (testdata/plan, what gwsync plan --format json prints): it
// fires on a prune that deletes devices and on a device replaced (deleted
// and created again), and stays silent on plans that delete no device.
func TestDenyDeletingDevices(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "plan")
	for _, tc := range []struct {
		plan string
		want []string
	}{
		{"prune-devices", []string{
			`device.24E1240000000001: deleting devices is not allowed (actions ["delete"])`,
		}},
		{"replace-device", []string{
			`device.24E1247151234568: deleting devices is not allowed (actions ["delete", "create"])`,
		}},
		{"create-all", nil},
		{"update-device", nil},
	} {
		t.Run(tc.plan, func(t *testing.T) {
			got := deny(t, filepath.Join(dir, tc.plan, "plan.json"))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("deny (-want +got):\n%s", diff)
			}
		})
	}
}
