package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFleetReviewed: plan FLEETDIR --format json records each site's plan
// digest; apply FLEETDIR --reviewed FILE applies a site only while its
// plan equals the reviewed one. A site changed after the review, or not
// in the review, is refused and untouched; the others apply.
func TestFleetReviewed(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir()) // the apply lock's folder: other runs on this machine use the same EUIs
	f := newTestFleet(t, 3, 2)
	code, out, errs := runFleetCmd(t, "plan", f.dir, "--format", "json")
	if code != ExitOK {
		t.Fatalf("plan --format json: exit %d\n%s\n%s", code, out, errs)
	}
	var fp fleetPlan
	if err := json.Unmarshal([]byte(out), &fp); err != nil {
		t.Fatalf("plan --format json: %v\n%s", err, out)
	}
	if fp.Format != FleetPlanFormat || len(fp.Sites) != 3 {
		t.Fatalf("fleet plan: %+v", fp)
	}
	for _, s := range fp.Sites {
		if !digestRE.MatchString(s.PlanDigest) || s.Add != 4 || s.Gateway == "" {
			t.Fatalf("site %+v", s)
		}
	}
	if strings.Contains(out, fleetGetenv("KEY_0_0")) {
		t.Fatal("a key is in the fleet plan")
	}
	reviewed := filepath.Join(t.TempDir(), "reviewed.json")
	if err := os.WriteFile(reviewed, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}

	// s02 changes after the review.
	p := filepath.Join(f.dir, "sites", "s02", "site.yaml")
	b, _ := os.ReadFile(p)
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), "name: dev-01-000", "name: renamed", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs = runFleetCmd(t, "apply", f.dir, "--reviewed", reviewed, "--jobs", "4")
	if code != ExitError {
		t.Fatalf("apply --reviewed with a changed site: exit %d, want 1\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, "the plan differs from the one approved") {
		t.Errorf("the refusal does not say why:\n%s", out)
	}
	if got := []int{liveDevices(t, f.gws[0]), liveDevices(t, f.gws[1]), liveDevices(t, f.gws[2])}; got[0] != 2 || got[1] != 0 || got[2] != 2 {
		t.Fatalf("devices per gateway %v, want [2 0 2]: only reviewed plans apply", got)
	}

	// A review that does not name a site approves nothing for it.
	fp.Sites = fp.Sites[:1]
	b, _ = json.Marshal(fp)
	if err := os.WriteFile(reviewed, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, _ = runFleetCmd(t, "apply", f.dir, "--reviewed", reviewed, "--jobs", "4"); code != ExitError || liveDevices(t, f.gws[1]) != 0 {
		t.Fatalf("apply with a site not reviewed: exit %d\n%s", code, out)
	}

	// A malformed review is refused, naming the file and the site.
	fp.Sites[0].PlanDigest = "sha256:0"
	b, _ = json.Marshal(fp)
	if err := os.WriteFile(reviewed, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs = runFleetCmd(t, "apply", f.dir, "--reviewed", reviewed); code != ExitError || !strings.Contains(errs, reviewed+": sites[0] (sites/s01): plan_digest") {
		t.Fatalf("a malformed review: exit %d\n%s", code, errs)
	}
	// One site: --reviewed is refused.
	if code, _, errs = runFleetCmd(t, "apply", filepath.Join(f.dir, "sites", "s01"), "--reviewed", reviewed); code != ExitError || !strings.Contains(errs, "--reviewed takes a fleet") {
		t.Fatalf("--reviewed on one site: exit %d\n%s", code, errs)
	}
}
