package planner_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gwsync/gwsync/applier"
	"github.com/gwsync/gwsync/gwsim"
	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/planner"
	"github.com/gwsync/gwsync/site"
)

// fakeEnv resolves every ${env:NAME} to a key derived from NAME, so any
// example site loads.
func fakeEnv(name string) (string, bool) {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:16]), true
}

func newSim(t *testing.T) (*gwsim.Gateway, *nsapi.Client) {
	t.Helper()
	return newSimFrom(t, "", gwsim.QuirksTables)
}

// newSimFor starts a gateway that holds what a site refers to and the API
// cannot create: its applications and the built-in codecs it names. It
// seeds them through the simulator's state file.
func newSimFor(t *testing.T, s *site.Site, quirks gwsim.Quirks) (*gwsim.Gateway, *nsapi.Client) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gw.json")
	g, err := gwsim.New(gwsim.Options{StatePath: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	apps, _ := st["applications"].([]any)
	codecs, _ := st["codecs"].([]any)
	haveApp, haveCodec := map[string]bool{"cloud": true, "1": true}, map[string]bool{}
	for _, c := range codecs {
		if m, ok := c.(map[string]any); ok {
			haveCodec[fmt.Sprint(m["name"])] = true
		}
	}
	for _, c := range s.Codecs {
		haveCodec[c.Name] = true
	}
	for _, d := range s.Devices {
		if d.Application != "" && !haveApp[d.Application] {
			haveApp[d.Application] = true
			apps = append(apps, map[string]any{"id": fmt.Sprint(len(apps) + 1), "name": d.Application})
		}
		if d.Codec != "" && !haveCodec[d.Codec] {
			haveCodec[d.Codec] = true
			codecs = append(codecs, map[string]any{"id": fmt.Sprint(50 + len(codecs)), "name": d.Codec, "builtin": true,
				"decoderScript": "function Decode(fPort, bytes) { return {}; }", "fPort": 85})
		}
	}
	st["applications"], st["codecs"] = apps, codecs
	if b, err = json.Marshal(st); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return newSimFrom(t, path, quirks)
}

func newSimFrom(t *testing.T, path string, quirks gwsim.Quirks) (*gwsim.Gateway, *nsapi.Client) {
	t.Helper()
	// FUOTA tasks of the test sites start in 2026-12: keep the clock before.
	clock := func() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) }
	g, err := gwsim.New(gwsim.Options{Now: clock, StatePath: path, Quirks: quirks})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	ctx := context.Background()
	cl, err := nsapi.New(ctx, g.Transport(), nsapi.Config{GatewayEUI: g.EUI(), RequestTimeout: 10 * time.Second, Window: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	return g, cl
}

// TestApplyThenPlanIsEmpty applies every example site (on a gateway of each
// reading of the spec: its tables, and its examples) and a sequence of the
// golden sites to the simulated gateway with the applier, and plans again:
// the second plan must be empty. This proves the planner's normalisation
// against the gateway's own spelling of what it stored, and that its plans
// carry everything the applier needs.
func TestApplyThenPlanIsEmpty(t *testing.T) {
	var sites []string
	examples, _ := filepath.Glob("../examples/*.yaml")
	if dirs, _ := filepath.Glob("../examples/*"); len(dirs) > 0 {
		for _, d := range dirs {
			if st, err := os.Stat(d); err == nil && st.IsDir() && hasYAML(d) {
				examples = append(examples, d)
			}
		}
	}
	sites = append(sites, examples...)
	for _, e := range examples {
		sites = append(sites, e+"#spec-examples")
	}
	for _, c := range []string{"create-all", "update-profile", "update-device", "update-codec", "update-group-members",
		"update-task", "rename", "ordering", "secrets", "drift"} {
		sites = append(sites, filepath.Join(goldenDir, c, "site.yaml"))
	}
	ctx := context.Background()
	// examples each on a fresh gateway; golden sites in sequence on one
	_, shared := newSim(t)
	for _, path := range sites {
		t.Run(strings.TrimPrefix(path, "../"), func(t *testing.T) {
			path, mode, _ := strings.Cut(path, "#")
			s, problems := site.Load(site.Options{LookupEnv: fakeEnv}, path)
			if s == nil || len(problems.Errors()) > 0 {
				t.Fatalf("site.Load: %v", problems)
			}
			cl := shared
			if strings.Contains(path, "examples") {
				_, cl = newSimFor(t, s, gwsim.Quirks(mode))
			}
			for round := 1; round <= 2; round++ {
				live, err := cl.ReadState(ctx)
				if err != nil {
					t.Fatal(err)
				}
				p, err := planner.Plan(s, live, planner.Options{OfficialFirmware: func(model, version, id string) (*nsapi.OfficialFirmware, error) {
					list, err := cl.OfficialFirmware(ctx, model, "")
					if err != nil {
						return nil, err
					}
					for _, f := range list {
						if f.FirmwareVersion == version {
							return &f, nil
						}
					}
					return nil, fmt.Errorf("no official firmware %s %s", model, version)
				}})
				if err != nil {
					t.Fatalf("round %d: Plan: %v", round, err)
				}
				if round == 2 {
					for _, c := range p.Changes {
						t.Errorf("after apply, the plan still has %s %s (reason %q)", c.Action, c.Address, c.Reason)
					}
					for _, n := range p.Notes {
						t.Errorf("after apply, the plan still notes %s: %s", n.Address, n.Text)
					}
					break
				}
				if (strings.Contains(path, "examples") || path == filepath.Join(goldenDir, "create-all", "site.yaml")) && p.Empty() {
					t.Fatal("the first plan against a fresh gateway is empty")
				}
				add, change, destroy := p.Summary()
				t.Logf("first plan: %d to add, %d to change, %d to destroy", add, change, destroy)
				journal := t.TempDir()
				res, err := applier.Apply(ctx, cl, p, applier.Options{Parallelism: applier.DefaultParallelism, JournalDir: journal})
				if err != nil {
					t.Fatalf("apply: %v", err)
				}
				gotAdd, gotChange, gotDestroy := res.Summary()
				if diff := cmp.Diff([3]int{add, change, destroy}, [3]int{gotAdd, gotChange, gotDestroy}); diff != "" {
					t.Errorf("applied (added, changed, destroyed) differ from the plan's summary (-want +got):\n%s", diff)
				}
				if applier.HasJournal(journal) {
					t.Errorf("a successful apply left its journal in %s", journal)
				}
			}
		})
	}
}

func hasYAML(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	return len(m) > 0
}

// TestNameReuseApplies applies, on a simulated gateway that holds the
// golden "steady" site, the plans that reuse a device name: a device
// replaced by one with a new devEUI and the same name, and two devices
// swapping names. The gateway keeps device names unique, so these plans
// apply only when the name is freed first; the plan after is empty.
func TestNameReuseApplies(t *testing.T) {
	ctx := context.Background()
	load := func(t *testing.T, c string) *site.Site {
		t.Helper()
		s, problems := site.Load(site.Options{LookupEnv: fakeEnv}, filepath.Join(goldenDir, c, "site.yaml"))
		if s == nil || len(problems.Errors()) > 0 {
			t.Fatalf("site.Load: %v", problems)
		}
		return s
	}
	apply := func(t *testing.T, cl *nsapi.Client, s *site.Site, parallelism int) *nsapi.State {
		t.Helper()
		live, err := cl.ReadState(ctx)
		if err != nil {
			t.Fatal(err)
		}
		p, err := planner.Plan(s, live, planner.Options{})
		if err != nil {
			t.Fatalf("Plan: %v", err)
		}
		if _, err := applier.Apply(ctx, cl, p, applier.Options{Parallelism: parallelism, JournalDir: t.TempDir()}); err != nil {
			t.Fatalf("apply: %v", err)
		}
		after, err := cl.ReadState(ctx)
		if err != nil {
			t.Fatal(err)
		}
		again, err := planner.Plan(s, after, planner.Options{})
		if err != nil {
			t.Fatalf("Plan after apply: %v", err)
		}
		for _, c := range again.Changes {
			t.Errorf("after apply, the plan still has %s %s (reason %q)", c.Action, c.Address, c.Reason)
		}
		return after
	}
	names := func(st *nsapi.State) map[string]string {
		m := map[string]string{}
		for _, d := range st.Devices {
			m[strings.ToUpper(d.DevEUI)] = d.Name
		}
		return m
	}
	for _, tc := range []struct {
		name string
		want map[string]string
	}{
		{"device-name-swap", map[string]string{"24E124136A456465": "wt201-01", "24E1247151234568": "em300-th-01", "24E124535B312345": "am307-lobby"}},
		{"device-name-reuse", map[string]string{"24E124136A456466": "em300-th-01", "24E1247151234568": "wt201-01", "24E124535B312345": "am307-lobby"}},
	} {
		for _, par := range []int{1, applier.DefaultParallelism} {
			t.Run(fmt.Sprintf("%s/parallelism-%d", tc.name, par), func(t *testing.T) {
				_, cl := newSim(t)
				apply(t, cl, load(t, "steady"), par)
				got := names(apply(t, cl, load(t, tc.name), par))
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("device names on the gateway (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestNameSwapRollsBack: when the last write of a name swap fails, the
// rollback undoes the temporary names too and the gateway ends as before.
func TestNameSwapRollsBack(t *testing.T) {
	ctx := context.Background()
	g, cl := newSim(t)
	var before *nsapi.State
	for i, c := range []string{"steady", "device-name-swap"} {
		s, problems := site.Load(site.Options{LookupEnv: fakeEnv}, filepath.Join(goldenDir, c, "site.yaml"))
		if s == nil || len(problems.Errors()) > 0 {
			t.Fatalf("site.Load: %v", problems)
		}
		live, err := cl.ReadState(ctx)
		if err != nil {
			t.Fatal(err)
		}
		p, err := planner.Plan(s, live, planner.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			before = live
			// the two temporary names, then the first final name, then this
			g.Faults().Add(gwsim.Fault{Method: "PUT", URLContains: "/api/urdevices", Nth: 4, Code: nsapi.CodeParameter})
		}
		res, err := applier.Apply(ctx, cl, p, applier.Options{Parallelism: 1, JournalDir: t.TempDir()})
		if i == 0 && err != nil {
			t.Fatal(err)
		}
		if i == 1 && (err == nil || !res.Restored) {
			t.Fatalf("apply with a failing write: err %v, restored %v (%s)", err, res.Restored, res.Remaining)
		}
	}
	after, err := cl.ReadState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before.Canonical(), after.Canonical()); diff != "" {
		t.Errorf("the gateway after the rollback differs from before (-before +after):\n%s", diff)
	}
}

// The gateway client gives the planner the gateway's payload-size answer.
var _ planner.PayloadSizer = (*nsapi.Client)(nil)
