package export_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gwsync/gwsync/export"
	"github.com/gwsync/gwsync/gwsim"
	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/site"
)

// Keys of the hand-made gateway, each its own.
var keyA, keyB, keyC, keyD, keyE, keyF, keyG, keyH, keyI, keyJ = testKey("A"), testKey("B"), testKey("C"), testKey("D"),
	testKey("E"), testKey("F"), testKey("G"), testKey("H"), testKey("I"), testKey("J")

func testKey(name string) string { k, _ := exampleEnv("hand-made " + name); return k }

// seeded starts a gateway whose state file also holds what the API cannot
// make: more applications (one named like another) and a profile whose
// name a site cannot use.
func seeded(t *testing.T, plan string) *nsapi.Client {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gw.json")
	g, err := gwsim.New(gwsim.Options{StatePath: path, ChannelPlan: plan})
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
	st["applications"] = append(st["applications"].([]any),
		map[string]any{"id": "2", "name": "factory"}, map[string]any{"id": "3", "name": "cloud"})
	profiles := st["profiles"].([]any)
	bad := map[string]any{}
	for k, v := range profiles[0].(map[string]any) {
		bad[k] = v
	}
	bad["id"], bad["name"], bad["builtin"] = "5d0c6c1e-0000-4000-8000-000000000001", "Bad Name", false
	st["profiles"] = append(profiles, bad)
	if b, err = json.Marshal(st); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	// A firmware that lists fileContent, so that firmware files are
	// exported (see TestExportExamplePlansEmpty).
	_, cl := newGateway(t, gwsim.Options{StatePath: path, ListFileContent: true})
	return cl
}

// handMade fills a gateway by plain API calls, the way a web UI would,
// with what a site file has to spell carefully: settings off the defaults,
// names that are not file or variable names, keys left at the published
// default, two applications of one name, codecs with CRLF scripts, a class
// B group, a firmware name with a slash.
func handMade(t *testing.T, cl *nsapi.Client) {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	profiles, err := cl.ListProfiles(ctx)
	must(err)
	defaults := profiles.Result[0].Profile // a built-in: the plan's defaults as the gateway fills them
	defaults.ProfileID, defaults.SupportsJoin = "", false
	pingB := defaults
	pingB.SupportsJoin, pingB.SupportsClassB, pingB.PingSlotPeriod, pingB.PingSlotDR = true, true, 512, 5
	pingB.ClassBTimeout, pingB.MacVersion, pingB.RegParamsRevision, pingB.RxDROffset1 = 5, "1.1.0", "A", 2
	pingB.FactoryPresetFreqs = []int64{868500000, 868100000, 868300000}
	pingB.EnableUplinkChannels = []int64{2, 0, 1}
	pingB.MaxEIRP, pingB.Supports32bitFCnt = 14, false
	pingB.RxDataRate2++
	pingB.RxFreq2 += 100000
	pingB.PingSlotFreq += 100000
	pingID, err := cl.CreateProfile(ctx, nsapi.ProfileWrite{Name: "ClassB_ping", Profile: pingB})
	must(err)
	abp := defaults
	abpID, err := cl.CreateProfile(ctx, nsapi.ProfileWrite{Name: "abp", Profile: abp})
	must(err)
	var badID string
	for _, p := range profiles.Result {
		if p.Name == "Bad Name" {
			badID = p.ID()
		}
	}

	multi, err := cl.CreateCodec(ctx, nsapi.CodecWrite{Name: "a/b", Description: "  both ways  ", TemplateID: 2,
		DecoderScript: "function Decode(fPort, bytes) {\r\n  return {};\r\n}\r\n", EncoderScript: "  function Encode(obj) { return []; }",
		TestEnabled: true, FPort: 10})
	must(err)
	plain, err := cl.CreateCodec(ctx, nsapi.CodecWrite{Name: "a b", DecoderScript: "function Decode(fPort, bytes) { return {n: 1}; }\n\n"})
	must(err)
	short, err := cl.ListCodecsShort(ctx, nsapi.CodecTypeDefault, "")
	must(err)
	builtinID := string(short[0].ID)

	dev := func(w nsapi.DeviceWrite) {
		t.Helper()
		if w.ApplicationID == "" {
			w.ApplicationID = "1"
		}
		must(cl.CreateDevice(ctx, w))
	}
	dev(nsapi.DeviceWrite{DevEUI: "24E124136A000001", AppKey: keyA, PayloadCodecID: multi, FPort: 10})
	dev(nsapi.DeviceWrite{DevEUI: "24E124136A000002", Name: "24e124136a000002", Description: "", AppKey: keyB, FPort: 10, PayloadCodecID: plain})
	dev(nsapi.DeviceWrite{DevEUI: "24E124136A000003", Name: "boiler", Description: "basement", ApplicationID: "2", ProfileID: pingID,
		PayloadCodecID: builtinID, FPort: 12, SkipFCntCheck: true, AppKey: keyC, MbMode: "rtu", MbFramePort: 20, MbTcpPort: 502})
	dev(nsapi.DeviceWrite{DevEUI: "24E124136A000004", Name: "second cloud", ApplicationID: "3", AppKey: keyD, FPort: 10, PayloadCodecID: "0"})
	up, down := int64(7), int64(3)
	dev(nsapi.DeviceWrite{DevEUI: "24E124136A000005", Name: "abp-1", ProfileID: abpID, DevAddr: "01ab23cd", NwkSKey: keyE, AppSKey: keyF,
		FCntUp: &up, FCntDown: &down, FPort: 10})
	dev(nsapi.DeviceWrite{DevEUI: "1E10000000000006", Name: "odd", ProfileID: badID, AppKey: keyG, FPort: 10})

	g1, err := cl.CreateGroup(ctx, nsapi.MulticastGroup{Name: "street lights", McAddr: "01ab23cd", McNwkSKey: keyH, McAppSKey: testKey("K"),
		GroupType: "CLASS_B", DR: 3, Frequency: 869100000, PingSlotPeriod: 64})
	must(err)
	must(cl.AddGroupDevices(ctx, g1, []string{"24E124136A000001", "24E124136A000002", "24E124136A000003", "24E124136A000004", "24e124136a000005"}))
	g2, err := cl.CreateGroup(ctx, nsapi.MulticastGroup{Name: "Street-Lights", McAddr: "11111111", McNwkSKey: site.DefaultKey, McAppSKey: site.DefaultKey,
		GroupType: "CLASS_C", DR: 0, Frequency: 869525000, PingSlotPeriod: 128})
	must(err)
	must(cl.AddGroupDevices(ctx, g2, []string{"24E124136A000001"}))
	_, err = cl.CreateGroup(ctx, nsapi.MulticastGroup{Name: "日本", McAddr: "22222222", McNwkSKey: keyI, McAppSKey: keyJ,
		GroupType: "CLASS_C", DR: 0, Frequency: 869525000, PingSlotPeriod: 128})
	must(err)

	fw := base64.StdEncoding.EncodeToString([]byte("firmware image v2"))
	for _, tk := range []struct{ name, fw, content string }{
		{"first", "fw/v2.bin", fw},
		{"second", "fw/v2.bin", fw},
		{"third", "plain.bin", base64.StdEncoding.EncodeToString([]byte("another image"))},
	} {
		_, err = cl.CreateTask(ctx, nsapi.FuotaTask{Name: tk.name, StartedAt: "2026-12-01T02:00:00Z", DevEUIs: []string{"24e124136a000001"},
			FirmwareInfo: &nsapi.FirmwareInfo{FirmwareName: tk.fw, FileContent: tk.content},
			FragmentInfo: nsapi.FragmentInfo{FragmentSize: 40, FragmentInterval: 2000, FragmentRedundancy: 10},
			TmpMcInfo:    nsapi.TmpMcInfo{DR: 0, Frequency: 869525000}})
		must(err)
	}
}

// TestExportHandMadeGateway exports a gateway filled by hand, inline and
// with files, and plans the export against it: empty, but for the profile
// a site cannot name, which stays unmanaged.
func TestExportHandMadeGateway(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  func(dir string) export.Options
		files []string
	}{
		{"inline", func(string) export.Options { return export.Options{} }, nil},
		{"inline scripts, firmware files", func(dir string) export.Options { return export.Options{Dir: dir, InlineScripts: true} },
			[]string{"firmware/fw-v2.bin", "firmware/plain.bin"}},
		{"files", func(dir string) export.Options { return export.Options{Dir: dir} },
			[]string{"codecs/a-b-2.encoder.js", "codecs/a-b-2.js", "codecs/a-b.js", "firmware/fw-v2.bin", "firmware/plain.bin"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := seeded(t, "")
			handMade(t, cl)
			live, err := cl.ReadState(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			e := writeExport(t, live, tc.opts(dir))
			noKeyIn(t, "the site file", e.res.YAML, liveKeys(live))

			var files []string
			for _, f := range e.res.Files {
				files = append(files, f.Path)
			}
			if diff := cmp.Diff(tc.files, files); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
			if tc.files == nil {
				// Without files the firmware must be supplied: the notes say
				// where, and the site loads once it is.
				for _, n := range []string{"firmware/fw-v2.bin", "firmware/plain.bin"} {
					if !strings.Contains(strings.Join(e.res.Notes, "\n"), n) {
						t.Errorf("no note says to supply %s: %q", n, e.res.Notes)
					}
					if err := os.MkdirAll(filepath.Join(e.dir, "firmware"), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(filepath.Join(e.dir, n), []byte("supplied"), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}

			s, problems := site.Load(site.Options{LookupEnv: e.lookup}, e.site)
			if s == nil {
				t.Fatalf("site.Load: %v\n%s", problems, e.res.YAML)
			}
			// The only warnings are about the published default keys the
			// gateway holds for Street-Lights.
			var warnings []string
			for _, p := range problems {
				warnings = append(warnings, p.Path+": "+p.Msg)
			}
			wantWarnings := []string{
				"multicastGroups[0]: mcAppSKey left out: the gateway uses the spec's published default key; set a key of your own",
				"multicastGroups[0]: mcNwkSKey left out: the gateway uses the spec's published default key; set a key of your own",
			}
			sort.Strings(warnings)
			if diff := cmp.Diff(wantWarnings, warnings); diff != "" {
				t.Errorf("problems loading the export (-want +got):\n%s\n%s", diff, e.res.YAML)
			}
			if _, changes := plan(t, cl, s); !cmp.Equal(changes, []string{"unmanaged profile.Bad Name"}) {
				t.Errorf("plan of the export: %q, want only the unmanaged Bad Name\n%s", changes, e.res.YAML)
			}
			if !strings.Contains(strings.Join(e.res.Notes, "\n"), `profile "Bad Name" is left out`) {
				t.Errorf("no note on the profile left out: %q", e.res.Notes)
			}

			// What the site says, as the loader reads it.
			want := map[string]string{
				"GROUP_STREET_LIGHTS_MCNWKSKEY": keyH, "GROUP_STREET_LIGHTS_MCAPPSKEY": testKey("K"),
				"GROUP_MCNWKSKEY": keyI, "GROUP_MCAPPSKEY": keyJ,
				"DEV_24E124136A000001_APPKEY": keyA, "DEV_24E124136A000002_APPKEY": keyB, "DEV_24E124136A000003_APPKEY": keyC,
				"DEV_24E124136A000004_APPKEY": keyD, "DEV_24E124136A000005_NWKSKEY": keyE, "DEV_24E124136A000005_APPSKEY": keyF,
				"DEV_1E10000000000006_APPKEY": keyG,
			}
			if diff := cmp.Diff(want, e.env); diff != "" {
				t.Errorf("env file (-want +got):\n%s", diff)
			}
			var groupKeys []string
			for _, g := range s.MulticastGroups {
				groupKeys = append(groupKeys, g.Name+" "+g.McNwkSKey.Ref)
			}
			if diff := cmp.Diff([]string{"Street-Lights ", "street lights ${env:GROUP_STREET_LIGHTS_MCNWKSKEY}", "日本 ${env:GROUP_MCNWKSKEY}"}, groupKeys); diff != "" {
				t.Errorf("group key references (-want +got):\n%s", diff)
			}
			var p *site.Profile
			for i := range s.Profiles {
				if s.Profiles[i].Name == "abp" {
					p = &s.Profiles[i]
				}
			}
			if p == nil || p.SupportsJoin == nil || *p.SupportsJoin || p.MacVersion != nil || p.RxFreq2 != nil || p.PingSlotDR != nil ||
				p.ClassBTimeout != nil || p.FactoryPresetFreqs != nil {
				t.Errorf("profile abp holds only defaults, so only supportsJoin: false is written; got %+v", p)
			}
			apps := map[string]string{}
			for _, d := range s.Devices {
				apps[d.DevEUI] = d.Application
			}
			wantApps := map[string]string{"1E10000000000006": "1", "24E124136A000001": "1", "24E124136A000002": "1",
				"24E124136A000003": "factory", "24E124136A000004": "3", "24E124136A000005": "1"}
			if diff := cmp.Diff(wantApps, apps); diff != "" {
				t.Errorf("applications: want ids for the two named cloud, the name for factory (-want +got):\n%s", diff)
			}
		})
	}
}

// TestExportChannelPlanDefaults exports the same profile from an EU868 and
// a US915 gateway: the fields are left out only where they equal that
// plan's defaults.
func TestExportChannelPlanDefaults(t *testing.T) {
	eu := nsapi.ProfileSettings{SupportsJoin: true, MacVersion: "1.0.2", RegParamsRevision: "B", RxDataRate2: 0, RxFreq2: 869525000,
		Supports32bitFCnt: true, PingSlotPeriod: 128, PingSlotDR: 3, PingSlotFreq: 869525000, ClassBTimeout: 10, ClassCTimeout: 10}
	no32 := eu
	no32.Supports32bitFCnt = false
	for _, tc := range []struct {
		name, plan string
		prof       nsapi.ProfileSettings
		want       []string
	}{
		{"EU868", "EU868", eu, []string{"name: p", "supportsJoin: true"}},
		{"US915", "US915", eu, []string{"name: p", "supportsJoin: true", "rxDataRate2: 0", "rxFreq2: 869525000", "pingSlotDR: 3", "pingSlotFreq: 869525000"}},
		// true is the default (every profile example of the spec): only false is written
		{"16-bit frame counters", "EU868", no32, []string{"name: p", "supportsJoin: true", "supports32bitFCnt: false"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &nsapi.State{ChannelPlan: tc.plan, Profiles: []nsapi.Profile{{Name: "p", Profile: tc.prof}}}
			r, err := export.Export(st, export.Options{})
			if err != nil {
				t.Fatal(err)
			}
			y := string(r.YAML)
			i := strings.Index(y, "profiles:\n")
			if i < 0 {
				t.Fatalf("no profiles:\n%s", y)
			}
			var got []string
			for _, l := range strings.Split(strings.TrimSpace(y[i+len("profiles:\n"):]), "\n") {
				got = append(got, strings.TrimPrefix(strings.TrimSpace(l), "- "))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("profile fields (-want +got):\n%s", diff)
			}
		})
	}
}
