package planner_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
	"github.com/gwsync/gwsync/planner"
	"github.com/gwsync/gwsync/render"
	"github.com/gwsync/gwsync/site"
)

var update = flag.Bool("update", false, "rewrite the golden plan files under testdata/plan")

const goldenDir = "../testdata/plan"

func noEnv(string) (string, bool) { return "", false }

func loadCase(t *testing.T, dir string) (*site.Site, *nsapi.State) {
	t.Helper()
	s, problems := site.Load(site.Options{LookupEnv: noEnv}, filepath.Join(dir, "site.yaml"))
	if s == nil || len(problems.Errors()) > 0 {
		t.Fatalf("site.Load: %v", problems)
	}
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st nsapi.State
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("state.json: %v", err)
	}
	return s, &st
}

// secretValues are every key the case's site and state hold in clear.
func secretValues(s *site.Site, st *nsapi.State) []string {
	var out []string
	addS := func(v string) {
		if v != "" && !strings.HasPrefix(v, "sha256:") {
			out = append(out, strings.ToLower(v))
		}
	}
	for _, d := range s.Devices {
		addS(d.AppKey.Value)
		addS(d.NwkSKey.Value)
		addS(d.AppSKey.Value)
	}
	for _, g := range s.MulticastGroups {
		addS(g.McNwkSKey.Value)
		addS(g.McAppSKey.Value)
	}
	for _, d := range st.Devices {
		addS(d.AppKey)
		addS(d.NwkSKey)
		addS(d.AppSKey)
	}
	for _, g := range st.Groups {
		addS(g.McNwkSKey)
		addS(g.McAppSKey)
	}
	return out
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./planner -run Golden -update)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

// fuotaCase is a case's fuota.json: what a plan against the gateway
// learns besides its state, for the FUOTA checks.
type fuotaCase struct {
	Now             time.Time           `json:"now"`             // the clock (zero: no start-time check)
	Estimates       bool                `json:"estimates"`       // Options.Estimates
	PayloadSizes    []nsapi.PayloadSize `json:"payloadSizes"`    // the gateway's 6.6 answer
	FirmwareDevices []nsapi.FuotaDevice `json:"firmwareDevices"` // its 6.8 answer, for any firmware (null: not asked)
}

// caseOptions are the planner options of a case: the file stop-tasks, when
// there is one, lists the tasks --stop-task names, one a line; fuota.json,
// when there is one, is a fuotaCase.
func caseOptions(t *testing.T, dir string) planner.Options {
	t.Helper()
	var o planner.Options
	if b, err := os.ReadFile(filepath.Join(dir, "fuota.json")); err == nil {
		var fc fuotaCase
		if err := json.Unmarshal(b, &fc); err != nil {
			t.Fatalf("fuota.json: %v", err)
		}
		if !fc.Now.IsZero() {
			o.Now = func() time.Time { return fc.Now }
		}
		o.Estimates, o.PayloadSizes = fc.Estimates, fc.PayloadSizes
		if fc.FirmwareDevices != nil {
			o.FirmwareDevices = func(*nsapi.FuotaTask) ([]nsapi.FuotaDevice, error) { return fc.FirmwareDevices, nil }
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "stop-tasks"))
	if errors.Is(err, os.ErrNotExist) {
		return o
	}
	if err != nil {
		t.Fatal(err)
	}
	o.StopTasks = strings.Fields(string(b))
	return o
}

// TestGolden plans every case under testdata/plan (site.yaml against the
// state.json snapshot) and compares the text, markdown and JSON renderings
// with the golden files. Cases named error-* must fail to plan; their
// problems are compared with error.txt. No output may contain a key.
// A case's stop-tasks file lists the tasks --stop-task names.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(goldenDir, "*", "site.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 15 {
		t.Fatalf("found %d golden cases, want at least 15", len(dirs))
	}
	for _, f := range dirs {
		dir := filepath.Dir(f)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			s, st := loadCase(t, dir)
			p, err := planner.Plan(s, st, caseOptions(t, dir))
			if strings.HasPrefix(filepath.Base(dir), "error-") {
				var pe *planner.Error
				if !errors.As(err, &pe) {
					t.Fatalf("Plan error = %v, want a *planner.Error", err)
				}
				compareGolden(t, filepath.Join(dir, "error.txt"), []byte(err.Error()+"\n"))
				return
			}
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			p.SiteDigest = s.Digest()
			outputs := map[string][]byte{}
			var txt, md, js, saved bytes.Buffer
			if err := render.Text(&txt, p, render.TextOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := render.Markdown(&md, p, 0); err != nil {
				t.Fatal(err)
			}
			if err := render.JSON(&js, p); err != nil {
				t.Fatal(err)
			}
			if err := plan.Save(&saved, p); err != nil {
				t.Fatal(err)
			}
			outputs["plan.txt"], outputs["plan.md"], outputs["plan.json"] = txt.Bytes(), md.Bytes(), js.Bytes()
			for name, b := range outputs {
				compareGolden(t, filepath.Join(dir, name), b)
			}
			outputs["saved plan"] = saved.Bytes()
			for _, secret := range secretValues(s, st) {
				for name, b := range outputs {
					if bytes.Contains(bytes.ToLower(b), []byte(secret)) {
						t.Errorf("%s shows a key in clear", name)
					}
				}
			}
			loaded, err := plan.Load(bytes.NewReader(saved.Bytes()))
			if err != nil {
				t.Fatalf("plan.Load: %v", err)
			}
			if loaded.Digest() != p.Digest() {
				t.Errorf("saved plan digest %s, plan digest %s", loaded.Digest(), p.Digest())
			}
		})
	}
}
