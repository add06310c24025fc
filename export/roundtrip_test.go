package export_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gwsync/gwsync/applier"
	"github.com/gwsync/gwsync/export"
	"github.com/gwsync/gwsync/gwsim"
	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/planner"
	"github.com/gwsync/gwsync/site"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// exampleEnv resolves every ${env:NAME} of the example sites to a key of
// its own, derived from NAME.
func exampleEnv(name string) (string, bool) {
	sum := sha256.Sum256([]byte("gwsync export test " + name))
	return hex.EncodeToString(sum[:16]), true
}

// newGateway starts a simulated gateway in factory state and a client on
// its in-process transport. FUOTA tasks of the example start in 2026-12:
// the clock stays before, so they are pending.
func newGateway(t *testing.T, opts gwsim.Options) (*gwsim.Gateway, *nsapi.Client) {
	t.Helper()
	opts.Now = func() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) }
	g, err := gwsim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	cl, err := nsapi.New(context.Background(), g.Transport(), nsapi.Config{GatewayEUI: g.EUI(), RequestTimeout: 10 * time.Second, Window: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	return g, cl
}

func officialLookup(ctx context.Context, cl *nsapi.Client) func(model, version, id string) (*nsapi.OfficialFirmware, error) {
	return func(model, version, id string) (*nsapi.OfficialFirmware, error) {
		list, err := cl.OfficialFirmware(ctx, model, "")
		if err != nil {
			return nil, err
		}
		for _, f := range list {
			if f.FirmwareVersion == version && (id == "" || string(f.ID) == id) {
				return &f, nil
			}
		}
		return nil, fmt.Errorf("no official firmware %s %s", model, version)
	}
}

// load loads a site and fails the test on any problem, warnings included.
func load(t *testing.T, env func(string) (string, bool), path string) *site.Site {
	t.Helper()
	s, problems := site.Load(site.Options{LookupEnv: env}, path)
	if s == nil || len(problems) > 0 {
		t.Fatalf("site.Load(%s): %v", path, problems)
	}
	return s
}

// plan plans s against the gateway.
func plan(t *testing.T, cl *nsapi.Client, s *site.Site) (*nsapi.State, []string) {
	t.Helper()
	ctx := context.Background()
	live, err := cl.ReadState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p, err := planner.Plan(s, live, planner.Options{OfficialFirmware: officialLookup(ctx, cl)})
	if err != nil {
		t.Fatalf("planner.Plan: %v", err)
	}
	var out []string
	for _, c := range p.Changes {
		out = append(out, fmt.Sprintf("%s %s %s", c.Action, c.Address, c.Reason))
	}
	for _, n := range p.Notes {
		out = append(out, fmt.Sprintf("note %s: %s", n.Address, n.Text))
	}
	for _, u := range p.Unmanaged {
		out = append(out, fmt.Sprintf("unmanaged %s", u.Address))
	}
	return live, out
}

// apply plans s against the gateway and applies the plan.
func apply(t *testing.T, cl *nsapi.Client, s *site.Site) {
	t.Helper()
	ctx := context.Background()
	live, err := cl.ReadState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p, err := planner.Plan(s, live, planner.Options{OfficialFirmware: officialLookup(ctx, cl)})
	if err != nil {
		t.Fatalf("planner.Plan: %v", err)
	}
	if p.Empty() {
		t.Fatal("the plan against a fresh gateway is empty: the test proves nothing")
	}
	if _, err := applier.Apply(ctx, cl, p, applier.Options{}); err != nil {
		t.Fatalf("applier.Apply: %v", err)
	}
}

// exported is an export written to a folder the way gwsync export writes it.
type exported struct {
	dir, site, envFile string
	res                *export.Result
	env                map[string]string // read back from the env file
}

func (e *exported) lookup(name string) (string, bool) {
	v, ok := e.env[name]
	return v, ok
}

func writeExport(t *testing.T, st *nsapi.State, opts export.Options) *exported {
	t.Helper()
	dir := opts.Dir
	if dir == "" {
		dir = t.TempDir()
	}
	res, err := export.Export(st, opts)
	if err != nil {
		t.Fatalf("Export: %v", err)
	}
	e := &exported{dir: dir, site: filepath.Join(dir, "site.yaml"), envFile: filepath.Join(dir, "keys.env"), res: res}
	if err := os.WriteFile(e.site, res.YAML, 0o644); err != nil {
		t.Fatal(err)
	}
	if opts.Dir != "" {
		if err := res.WriteFiles(opts.Dir); err != nil {
			t.Fatalf("WriteFiles: %v", err)
		}
	}
	if err := res.WriteEnvFile(e.envFile); err != nil {
		t.Fatalf("WriteEnvFile: %v", err)
	}
	e.env = readEnvFile(t, e.envFile)
	return e
}

// readEnvFile reads NAME=value lines, as a shell would.
func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		l := sc.Text()
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf("env file line %q is not NAME=value", l)
		}
		env[k] = v
	}
	return env
}

// liveKeys lists every key the gateway holds.
func liveKeys(st *nsapi.State) []string {
	var out []string
	for _, d := range st.Devices {
		out = append(out, d.AppKey, d.NwkSKey, d.AppSKey)
	}
	for _, g := range st.Groups {
		out = append(out, g.McNwkSKey, g.McAppSKey)
	}
	var keys []string
	for _, k := range out {
		if k != "" && !strings.EqualFold(k, site.DefaultKey) {
			keys = append(keys, strings.ToLower(k))
		}
	}
	return keys
}

// noKeyIn fails when any key appears in b (either case).
func noKeyIn(t *testing.T, what string, b []byte, keys []string) {
	t.Helper()
	low := strings.ToLower(string(b))
	for _, k := range keys {
		if strings.Contains(low, k) {
			t.Errorf("%s holds a key in clear", what)
			return
		}
	}
}

// TestExportExamplePlansEmpty is the adoption path: a gateway that holds
// examples/site.yaml is exported; the export loads without a problem with
// the keys of its env file, holds no key, and planning it against the same
// gateway gives an empty plan (no change, no note, nothing unmanaged).
func TestExportExamplePlansEmpty(t *testing.T) {
	// A firmware that lists fileContent (gwsim's ListFileContent): the
	// export writes the firmware files. The spec's gateway lists it empty;
	// testdata/script/export.txtar covers that path.
	_, cl := newGateway(t, gwsim.Options{ListFileContent: true})
	apply(t, cl, load(t, exampleEnv, filepath.Join("..", "examples", "site.yaml")))
	live, err := cl.ReadState(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	e := writeExport(t, live, export.Options{Dir: dir, Schema: "site.schema.json"})
	noKeyIn(t, "the site file", e.res.YAML, liveKeys(live))
	for _, f := range e.res.Files {
		noKeyIn(t, f.Path, f.Data, liveKeys(live))
	}
	for _, n := range e.res.Notes {
		noKeyIn(t, "a note", []byte(n), liveKeys(live))
	}
	if st, err := os.Stat(e.envFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("env file mode = %v (%v), want 0600", st.Mode().Perm(), err)
	}
	if !bytes.HasPrefix(e.res.YAML, []byte("# yaml-language-server: $schema=site.schema.json\n")) {
		t.Errorf("the site file does not start with the schema modeline:\n%s", e.res.YAML)
	}

	// Every key of the gateway is in the env file, under the name the site
	// refers to it by.
	wantEnv := map[string]string{}
	for _, d := range live.Devices {
		eui := strings.ToUpper(d.DevEUI)
		if d.SupportsJoin {
			wantEnv["DEV_"+eui+"_APPKEY"] = strings.ToLower(d.AppKey)
		} else {
			wantEnv["DEV_"+eui+"_NWKSKEY"] = strings.ToLower(d.NwkSKey)
			wantEnv["DEV_"+eui+"_APPSKEY"] = strings.ToLower(d.AppSKey)
		}
	}
	for _, g := range live.Groups {
		wantEnv["GROUP_"+strings.ToUpper(g.Name)+"_MCNWKSKEY"] = strings.ToLower(g.McNwkSKey)
		wantEnv["GROUP_"+strings.ToUpper(g.Name)+"_MCAPPSKEY"] = strings.ToLower(g.McAppSKey)
	}
	if diff := cmp.Diff(wantEnv, e.env); diff != "" {
		t.Errorf("env file (-want +got):\n%s", diff)
	}

	s := load(t, e.lookup, e.site)
	if _, changes := plan(t, cl, s); len(changes) > 0 {
		t.Errorf("the exported site's plan is not empty:\n%s\n--- site:\n%s", strings.Join(changes, "\n"), e.res.YAML)
	}

	// The local firmware came back from the gateway and is the example's.
	want, err := os.ReadFile(filepath.Join("..", "examples", "firmware", "WT201-v1.4.bin"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "firmware", "WT201-v1.4.bin"))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("firmware/WT201-v1.4.bin: %d bytes (%v), want the example's %d", len(got), err, len(want))
	}
	wantCodec, err := os.ReadFile(filepath.Join("..", "examples", "codecs", "em300-th.js"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "codecs", "em300-th.js")); err != nil || strings.TrimRight(string(got), "\n") != strings.TrimRight(string(wantCodec), "\n") {
		t.Errorf("codecs/em300-th.js differs from the example's (%v):\n%s", err, got)
	}
	if diff := cmp.Diff(export.Counts{Profiles: 2, Codecs: 2, Devices: 5, MulticastGroups: 1, FirmwareUpdates: 2}, e.res.Counts); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	if len(e.res.Notes) > 0 {
		t.Errorf("notes for a gateway that a site made: %q", e.res.Notes)
	}
	golden(t, "example.golden.yaml", e.res.YAML)
}

// TestExportRebuildsTheGateway applies the export of one gateway to a
// fresh one: the two then hold the same configuration.
func TestExportRebuildsTheGateway(t *testing.T) {
	// The firmware files come from a gateway that lists them (see
	// TestExportExamplePlansEmpty).
	_, from := newGateway(t, gwsim.Options{ListFileContent: true})
	apply(t, from, load(t, exampleEnv, filepath.Join("..", "examples", "site.yaml")))
	ctx := context.Background()
	before, err := from.ReadState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e := writeExport(t, before, export.Options{Dir: t.TempDir()})

	_, to := newGateway(t, gwsim.Options{})
	apply(t, to, load(t, e.lookup, e.site))
	after, err := to.ReadState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before.Canonical(), after.Canonical(), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("the rebuilt gateway differs (-original +rebuilt):\n%s", diff)
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got); go test -update rewrites it:\n%s", path, diff)
	}
}
