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

	"github.com/gwsync/gwsync/gwsim"
	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
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
	return newSimFrom(t, "")
}

// newSimFor starts a gateway that holds what a site refers to and the API
// cannot create: its applications and the built-in codecs it names. It
// seeds them through the simulator's state file.
func newSimFor(t *testing.T, s *site.Site) (*gwsim.Gateway, *nsapi.Client) {
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
	return newSimFrom(t, path)
}

func newSimFrom(t *testing.T, path string) (*gwsim.Gateway, *nsapi.Client) {
	t.Helper()
	// FUOTA tasks of the test sites start in 2026-12: keep the clock before.
	clock := func() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) }
	g, err := gwsim.New(gwsim.Options{Now: clock, StatePath: path})
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

// applyByHand runs p against the gateway step by step, with the plain nsapi
// calls each change stands for (the Change's After and its .Write()).
func applyByHand(ctx context.Context, api nsapi.API, p *plan.Plan) error {
	ids := map[string]string{} // address of a created resource → server id
	for _, c := range p.Changes {
		if err := applyChange(ctx, api, c, ids); err != nil {
			return fmt.Errorf("%s: %s: %w", c.Address, c.Action, err)
		}
	}
	return nil
}

func applyChange(ctx context.Context, api nsapi.API, c plan.Change, ids map[string]string) error {
	for _, r := range c.Refs {
		id, ok := ids[r.Address]
		if !ok {
			return fmt.Errorf("ref %s: %s not created before", r.Field, r.Address)
		}
		switch r.Field {
		case "profileID":
			c.After.Device.ProfileID = id
		case "payloadCodecID":
			c.After.Device.PayloadCodecID = nsapi.FlexString(id)
		case "group_id":
			c.After.Member.GroupID = id
		default:
			return fmt.Errorf("unknown ref field %q", r.Field)
		}
	}
	del := c.Action == plan.Delete || c.Action == plan.Replace
	put := c.Action == plan.Create || c.Action == plan.Replace
	var err error
	switch c.Kind {
	case plan.KindProfile:
		switch {
		case del:
			err = api.DeleteProfile(ctx, c.ID)
		case put:
			ids[c.Address], err = api.CreateProfile(ctx, c.After.Profile.Write())
		default:
			err = api.UpdateProfile(ctx, c.ID, c.After.Profile.Write())
		}
	case plan.KindCodec:
		switch {
		case del:
			err = api.DeleteCodec(ctx, c.ID)
		case put:
			ids[c.Address], err = api.CreateCodec(ctx, c.After.Codec.Write())
		default:
			err = api.UpdateCodec(ctx, c.ID, c.After.Codec.Write())
		}
	case plan.KindDevice:
		if del {
			if err = api.DeleteDevice(ctx, c.ID); err != nil {
				return err
			}
		}
		switch {
		case put:
			err = api.CreateDevice(ctx, c.After.Device.Write())
		case c.Action == plan.Update:
			w := c.After.Device.Write()
			w.DevEUI = ""
			err = api.UpdateDevice(ctx, c.ID, w)
		}
	case plan.KindGroup:
		switch {
		case del:
			err = api.DeleteGroup(ctx, c.ID)
		case put:
			ids[c.Address], err = api.CreateGroup(ctx, c.After.Group.MulticastGroup)
		default:
			err = api.UpdateGroup(ctx, c.ID, c.After.Group.MulticastGroup)
		}
	case plan.KindMember:
		if del {
			err = api.RemoveGroupDevices(ctx, c.Before.Member.GroupID, []string{c.Before.Member.DevEUI})
		} else {
			err = api.AddGroupDevices(ctx, c.After.Member.GroupID, []string{c.After.Member.DevEUI})
		}
	case plan.KindTask:
		if del {
			var id int64
			if _, err := fmt.Sscan(c.ID, &id); err != nil {
				return err
			}
			if err = api.DeleteTasks(ctx, []int64{id}); err != nil {
				return err
			}
		}
		switch {
		case put:
			var id int64
			id, err = api.CreateTask(ctx, c.After.Task.Write())
			ids[c.Address] = fmt.Sprint(id)
		case c.Action == plan.Update:
			err = api.UpdateTask(ctx, c.After.Task.Write())
		}
	}
	return err
}

// TestApplyThenPlanIsEmpty applies every example site and a sequence of the
// golden sites to the simulated gateway, each by hand from its plan, and
// plans again: the second plan must be empty. This proves the planner's
// normalisation against the gateway's own spelling of what it stored.
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
	for _, c := range []string{"create-all", "update-profile", "update-device", "update-codec", "update-group-members",
		"update-task", "rename", "ordering", "secrets", "drift"} {
		sites = append(sites, filepath.Join(goldenDir, c, "site.yaml"))
	}
	ctx := context.Background()
	// examples each on a fresh gateway; golden sites in sequence on one
	_, shared := newSim(t)
	for _, path := range sites {
		t.Run(strings.TrimPrefix(path, "../"), func(t *testing.T) {
			s, problems := site.Load(site.Options{LookupEnv: fakeEnv}, path)
			if s == nil || len(problems.Errors()) > 0 {
				t.Fatalf("site.Load: %v", problems)
			}
			cl := shared
			if strings.Contains(path, "examples") {
				_, cl = newSimFor(t, s)
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
				if path == filepath.Join(goldenDir, "create-all", "site.yaml") && p.Empty() {
					t.Fatal("first plan of create-all is empty")
				}
				if err := applyByHand(ctx, cl, p); err != nil {
					t.Fatalf("apply: %v", err)
				}
			}
		})
	}
}

func hasYAML(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	return len(m) > 0
}
