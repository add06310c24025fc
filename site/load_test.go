package site

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.yaml.in/yaml/v4"
)

func p64(v int64) *int64        { return &v }
func pb(v bool) *bool           { return &v }
func ps(v string) *string       { return &v }
func at(f string, l, c int) Pos { return Pos{File: f, Line: l, Col: c} }

// TestLoadModel loads a site that sets every field and checks the whole
// model the planner receives.
func TestLoadModel(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"site.yaml": y(
			"version: 1", // 1
			"gateway: {eui: 24e124fffef5a6a8, channelPlan: EU868}",
			"connection:",
			"  broker: ssl://mqtt.example.net:8883",
			"  requestTopic: gw/{eui}/req", // 5
			"  responseTopic: gw/{eui}/resp",
			"  username: gwsync",
			"  password: ${file:secrets/mqtt}",
			"  clientID: gwsync-ci",
			"  caFile: certs/ca.pem", // 10
			"  certFile: certs/client.pem",
			"  keyFile: certs/client.key",
			"  insecureSkipVerify: true",
			"prune: {devices: true, firmwareUpdates: true}",
			"deviceDefaults:", // 15
			"  application: cloud",
			"  codec: em300",
			"  fPort: 85",
			"profiles:",
			"  - name: WT201-ClassB", // 20
			"    renamedFrom: WT201",
			"    supportsJoin: true",
			"    supportsClassB: true",
			"    supportsClassC: false",
			"    macVersion: 1.0.3x", // 25 (replaced below)
			"    regParamsRevision: B",
			"    rxDROffset1: 1",
			"    rxDataRate2: 0",
			"    rxFreq2: 869525000",
			"    factoryPresetFreqs: [868100000, 868300000]", // 30
			"    enableUplinkChannels: [0, 1, 2]",
			"    maxEIRP: 16",
			"    supports32bitFCnt: true",
			"    pingSlotPeriod: 128",
			"    pingSlotDR: 3", // 35
			"    pingSlotFreq: 869525000",
			"    classBTimeout: 5",
			"    classCTimeout: 8",
			"codecs:",
			"  - name: em300", // 40
			"    renamedFrom: em300-old",
			"    description: EM300 decoder",
			"    templateID: 2",
			"    decoderFile: codecs/em300.js",
			"    encoderScript: function Encode() {}", // 45
			"    testEnabled: true",
			"    fPort: 85",
			"    codecJsonFile: codecs/em300.json",
			"devices:",
			"  - devEUI: 24e124136a456465", // 50
			"    name: em300-th-01",
			"    description: office",
			"    profile: WT201-ClassB",
			"    skipFCntCheck: true",
			"    appKey: ${env:K1}", // 55
			"    mbMode: rtu",
			"    mbFramePort: 86",
			"    mbTcpPort: 502",
			"  - devEUI: 24E124707C481005",
			"    application: '7'", // 60
			"    profile: ABP",
			"    codec: AM307",
			"    devAddr: 01f3a6c2",
			"    nwkSKey: ${env:K2}",
			"    appSKey: ${file:keys/am307.appskey}", // 65
			"    fCntUp: 10",
			"    fCntDown: 4294967295",
			"multicastGroups:",
			"  - name: lights",
			"    renamedFrom: lamps", // 70
			"    mcAddr: 01ab23cd",
			"    mcNwkSKey: ${env:K3}",
			"    mcAppSKey: ${env:K4}",
			"    fCnt: 7",
			"    groupType: CLASS_B", // 75
			"    dr: 3",
			"    frequency: 869525000",
			"    pingSlotPeriod: 64",
			"    devices: [24e124136a456465, 24E124707C481005]",
			"firmwareUpdates:", // 80
			"  - name: em300-v2",
			"    renamedFrom: em300-v1",
			"    description: EM300 v2",
			"    startAt: 2026-12-01T02:00:00Z",
			"    devices: [24e124136a456465]", // 85
			"    firmwareFile: firmware/em300.bin",
			"    firmwareName: EM300-v2.bin",
			"    fragment: {size: 88, intervalMs: 5000, redundancy: 30}",
			"    multicast: {dr: 3, frequency: 869525000}",
			"  - name: wt201-v1.4", // 90
			"    startAt: 2026-12-02T02:00:00+01:00",
			"    devices: [24E124707C481005]",
			"    official: {model: WT201, version: '1.4', id: '1888828394920153089'}",
			"    fragment: {size: 40, intervalMs: 1000, redundancy: 0}",
		),
		"secrets/mqtt":          "mqtt-password\n",
		"keys/am307.appskey":    "AABBCCDDEEFF00112233445566778899\r\n",
		"codecs/em300.js":       "function Decode() {}\n",
		"codecs/em300.json":     "{\"a\":1}",
		"firmware/em300.bin":    "\x01\x02\x03",
		"other/unrelated.yaml":  "not: read",
		"other/.hidden/x.yaml":  "not: read",
		"keys/unused.key":       "x",
		"codecs/unused.js":      "x",
		"firmware/unused.bin":   "x",
		"secrets/unused-secret": "x",
	})
	// A macVersion typo would fail; use a valid one, keeping line numbers.
	b, _ := os.ReadFile(filepath.Join(dir, "site.yaml"))
	os.WriteFile(filepath.Join(dir, "site.yaml"), []byte(strings.Replace(string(b), "1.0.3x", "1.1.0", 1)), 0o644)
	t.Chdir(dir)

	s, problems := Load(Options{LookupEnv: lookup(testEnv)}, "site.yaml")
	if len(problems) > 0 {
		t.Fatalf("problems:\n%v", problems)
	}
	f := "site.yaml"
	want := &Site{
		Version: 1,
		Files:   []string{"site.yaml", "codecs/em300.js", "codecs/em300.json", "secrets/mqtt", "keys/am307.appskey", "firmware/em300.bin"},
		Gateway: Gateway{EUI: "24E124FFFEF5A6A8", ChannelPlan: "EU868", Pos: at(f, 2, 47), EUIPos: at(f, 2, 16)},
		Connection: Connection{
			Broker: "ssl://mqtt.example.net:8883", RequestTopic: "gw/{eui}/req", ResponseTopic: "gw/{eui}/resp",
			Username: "gwsync", Password: Secret{Value: "mqtt-password", Ref: "${file:secrets/mqtt}", Pos: at(f, 8, 13)},
			ClientID: "gwsync-ci", CAFile: "certs/ca.pem", CertFile: "certs/client.pem", KeyFile: "certs/client.key",
			InsecureSkipVerify: true,
		},
		Prune: Prune{Pos: at(f, 14, 8), Devices: true, FirmwareUpdates: true},
		Profiles: []Profile{{
			Pos: at(f, 20, 5), Name: "WT201-ClassB", RenamedFrom: "WT201",
			SupportsJoin: pb(true), SupportsClassB: pb(true), SupportsClassC: pb(false),
			MacVersion: ps("1.1.0"), RegParamsRevision: ps("B"), RxDROffset1: p64(1), RxDataRate2: p64(0), RxFreq2: p64(869525000),
			FactoryPresetFreqs: []int64{868100000, 868300000}, EnableUplinkChannels: []int64{0, 1, 2}, MaxEIRP: p64(16),
			Supports32bitFCnt: pb(true), PingSlotPeriod: p64(128), PingSlotDR: p64(3), PingSlotFreq: p64(869525000),
			ClassBTimeout: p64(5), ClassCTimeout: p64(8),
		}},
		Codecs: []Codec{{
			Pos: at(f, 40, 5), Name: "em300", RenamedFrom: "em300-old", Description: "EM300 decoder", TemplateID: 2,
			EncoderScript: "function Encode() {}", DecoderScript: "function Decode() {}\n", TestEnabled: true, FPort: 85,
			CodecJSON: `{"a":1}`,
		}},
		Devices: []Device{
			{
				Pos: at(f, 50, 5), DevEUI: "24E124136A456465", Name: "em300-th-01", Description: ps("office"),
				Application: "cloud", Profile: "WT201-ClassB", Codec: "em300", FPort: p64(85), SkipFCntCheck: pb(true),
				AppKey: Secret{Value: testEnv["K1"], Ref: "${env:K1}", Pos: at(f, 55, 13)},
				MbMode: "rtu", MbFramePort: p64(86), MbTcpPort: p64(502),
			},
			{
				Pos: at(f, 59, 5), DevEUI: "24E124707C481005", Application: "7", Profile: "ABP", Codec: "AM307", FPort: p64(85),
				DevAddr: "01F3A6C2",
				NwkSKey: Secret{Value: testEnv["K2"], Ref: "${env:K2}", Pos: at(f, 64, 14)},
				AppSKey: Secret{Value: "aabbccddeeff00112233445566778899", Ref: "${file:keys/am307.appskey}", Pos: at(f, 65, 14)},
				FCntUp:  p64(10), FCntDown: p64(4294967295),
			},
		},
		MulticastGroups: []MulticastGroup{{
			Pos: at(f, 69, 5), Name: "lights", RenamedFrom: "lamps", McAddr: "01AB23CD",
			McNwkSKey: Secret{Value: testEnv["K3"], Ref: "${env:K3}", Pos: at(f, 72, 16)},
			McAppSKey: Secret{Value: testEnv["K4"], Ref: "${env:K4}", Pos: at(f, 73, 16)},
			FCnt:      p64(7), GroupType: "CLASS_B", DR: p64(3), Frequency: p64(869525000), PingSlotPeriod: p64(64),
			Devices: []string{"24E124136A456465", "24E124707C481005"},
		}},
		FirmwareUpdates: []FirmwareUpdate{
			{
				Pos: at(f, 81, 5), Name: "em300-v2", RenamedFrom: "em300-v1", Description: "EM300 v2",
				StartAt: "2026-12-01T02:00:00.000Z", Devices: []string{"24E124136A456465"},
				FirmwareFile: "firmware/em300.bin", FirmwareName: "EM300-v2.bin",
				Fragment:  Fragment{Size: 88, IntervalMs: 5000, Redundancy: 30},
				Multicast: Multicast{DR: p64(3), Frequency: p64(869525000)},
			},
			{
				Pos: at(f, 90, 5), Name: "wt201-v1.4", StartAt: "2026-12-02T01:00:00.000Z", Devices: []string{"24E124707C481005"},
				Official: &OfficialFirmwareRef{Model: "WT201", Version: "1.4", ID: "1888828394920153089"},
				Fragment: Fragment{Size: 40, IntervalMs: 1000, Redundancy: 0},
			},
		},
		External: []Ref{
			{Kind: "application", Name: "7", Pos: at(f, 60, 18), Path: "devices[1].application"},
			{Kind: "application", Name: "cloud", Pos: at(f, 16, 16), Path: "deviceDefaults.application"},
			{Kind: "codec", Name: "AM307", Pos: at(f, 62, 12), Path: "devices[1].codec"},
			{Kind: "profile", Name: "ABP", Pos: at(f, 61, 14), Path: "devices[1].profile"},
		},
	}
	// Device.Fields is checked by TestDeviceFieldPositions.
	if diff := cmp.Diff(want, s, cmpopts.IgnoreFields(Device{}, "Fields"), cmpopts.IgnoreUnexported(Site{})); diff != "" {
		t.Errorf("site (-want +got):\n%s", diff)
	}
}

// TestDeviceFieldPositions: each device field given stands where it is
// written: in the device's mapping, in deviceDefaults when it came from
// there, or in its CSV cell.
func TestDeviceFieldPositions(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"site.yaml": y(
			"version: 1",
			"deviceDefaults:",
			"  application: cloud",
			"  codec: em300",
			"devices:",
			"  - devEUI: 24E124136A456465",
			"    profile: ClassC-OTAA",
			"    appKey: ${env:K1}",
			"devicesFrom: devices.csv",
		),
		"devices.csv": y("devEUI,codec,appKey", "24E124136A456466,wt201,${env:K2}"),
	})
	t.Chdir(dir)
	s, problems := Load(Options{LookupEnv: lookup(testEnv)}, "site.yaml")
	if s == nil {
		t.Fatalf("problems:\n%v", problems)
	}
	type row struct {
		Device, Field string
		At            FieldPos
		Given         bool
	}
	var got []row
	for _, d := range s.Devices {
		for _, f := range []string{"application", "profile", "codec", "appKey", "devAddr"} {
			at, ok := d.At(f)
			got = append(got, row{d.DevEUI, f, at, ok})
		}
	}
	fp := func(file string, line, col int, path string) FieldPos {
		return FieldPos{Pos: Pos{File: file, Line: line, Col: col}, Path: path}
	}
	want := []row{
		{"24E124136A456465", "application", fp("site.yaml", 3, 16, "deviceDefaults.application"), true},
		{"24E124136A456465", "profile", fp("site.yaml", 7, 14, "devices[0].profile"), true},
		{"24E124136A456465", "codec", fp("site.yaml", 4, 10, "deviceDefaults.codec"), true},
		{"24E124136A456465", "appKey", fp("site.yaml", 8, 13, "devices[0].appKey"), true},
		{"24E124136A456465", "devAddr", FieldPos{}, false},
		{"24E124136A456466", "application", fp("site.yaml", 3, 16, "deviceDefaults.application"), true},
		{"24E124136A456466", "profile", FieldPos{}, false},
		{"24E124136A456466", "codec", fp("devices.csv", 2, 18, "codec"), true},
		{"24E124136A456466", "appKey", fp("devices.csv", 2, 24, "appKey"), true},
		{"24E124136A456466", "devAddr", FieldPos{}, false},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("field positions (-want +got):\n%s", diff)
	}
}

// TestDirectorySite merges a directory: lists concatenate in file order,
// site-wide blocks come from whichever file holds them, CSV rows take
// deviceDefaults, and hidden entries and other files are skipped.
func TestDirectorySite(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"site/b-devices.yaml": y("devices:", "  - devEUI: 24E124136A456465", "    name: yaml-dev", "    appKey: ${env:K1}"),
		"site/a-site.yaml": y("version: 1", "deviceDefaults:", "  application: cloud", "  profile: ClassC-OTAA", "  skipFCntCheck: true",
			"devicesFrom: csv/devices.csv"),
		"site/csv/devices.csv": y("devEUI,name,appKey,fPort,skipFCntCheck,description",
			"24e124136a456466,csv-dev-1,${env:K2},2,,",
			"# a comment row",
			"24E124136A456467,csv-dev-2,${file:../keys/k3},,false,\"Room 1, north\""),
		"site/keys/k3":          testEnv["K3"],
		"site/sub/c.yml":        y("devices:", "  - devEUI: 24E124136A456468", "    appKey: ${env:K4}"),
		"site/.git/config.yaml": "not: a site file",
		"site/notes.txt":        "ignored",
	})
	t.Chdir(dir)
	s, problems := Load(Options{LookupEnv: lookup(testEnv)}, "site")
	if len(problems) > 0 {
		t.Fatalf("problems:\n%v", problems)
	}
	wantFiles := []string{"site/a-site.yaml", "site/b-devices.yaml", "site/sub/c.yml", "site/csv/devices.csv", "site/keys/k3"}
	if diff := cmp.Diff(wantFiles, s.Files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	type row struct {
		EUI, Name, App, Profile string
		FPort                   *int64
		Skip                    *bool
		Desc                    *string
		Key                     string
		Pos                     Pos
	}
	var got []row
	for _, d := range s.Devices {
		got = append(got, row{d.DevEUI, d.Name, d.Application, d.Profile, d.FPort, d.SkipFCntCheck, d.Description, d.AppKey.Value, d.Pos})
	}
	want := []row{
		{"24E124136A456465", "yaml-dev", "cloud", "ClassC-OTAA", nil, pb(true), nil, testEnv["K1"], at("site/b-devices.yaml", 2, 5)},
		{"24E124136A456468", "", "cloud", "ClassC-OTAA", nil, pb(true), nil, testEnv["K4"], at("site/sub/c.yml", 2, 5)},
		{"24E124136A456466", "csv-dev-1", "cloud", "ClassC-OTAA", p64(2), pb(true), nil, testEnv["K2"], at("site/csv/devices.csv", 2, 1)},
		{"24E124136A456467", "csv-dev-2", "cloud", "ClassC-OTAA", nil, pb(false), ps("Room 1, north"), testEnv["K3"], at("site/csv/devices.csv", 4, 1)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("devices (-want +got):\n%s", diff)
	}
}

// TestSecretsNeverShown: neither problems nor any printing of the model
// shows a key's value.
func TestSecretsNeverShown(t *testing.T) {
	const clear = "0123456789abcdef0123456789abcdef"
	const bad = "s3cr3tBADKEYs3cr3tBADKEYs3cr3tBA"
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"site.yaml": y("version: 1",
		"connection: {password: hunter2hunter2}",
		"devices:",
		"  - devEUI: 24E124136A456465", "    application: cloud", "    appKey: "+clear,
		"  - devEUI: 24E124136A456466", "    application: cloud", "    appKey: "+clear,
		"  - devEUI: 24E124136A456467", "    application: cloud", "    appKey: "+bad,
		"  - devEUI: 24E124136A456468", "    application: cloud", "    appKey: ${env:BAD}",
	)})
	t.Chdir(dir)
	env := map[string]string{"BAD": "badbadbadbadbadbadbadbadbadbadbX"}
	s, problems := Load(Options{LookupEnv: lookup(env)}, "site.yaml")
	text := problems.Error()
	for _, secret := range []string{clear, strings.ToUpper(clear), bad, env["BAD"], "hunter2"} {
		if strings.Contains(text, secret) {
			t.Errorf("problems show a secret value %q:\n%s", secret, text)
		}
	}
	if s != nil {
		t.Fatal("site with a bad key loaded")
	}
	// The model itself masks its secrets however it is printed.
	dev := Device{DevEUI: "24E124136A456465", AppKey: Secret{Value: clear}, NwkSKey: Secret{Value: clear, Ref: "${env:X}"}}
	js, _ := json.Marshal(dev)
	yml, _ := yaml.Marshal(dev)
	for _, out := range []string{fmt.Sprint(dev), fmt.Sprintf("%+v", dev), fmt.Sprintf("%#v", dev), string(js), string(yml)} {
		if strings.Contains(out, clear) {
			t.Errorf("printed device shows the key: %s", out)
		}
		if !strings.Contains(out, Masked) {
			t.Errorf("printed device does not say %q: %s", Masked, out)
		}
	}
}

// TestStrict: security warnings pass without Strict and fail with it;
// other warnings stay warnings.
func TestStrict(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"site.yaml": with(dev, "  - devEUI: 24E124136A456466", "    application: cloud",
		"    appKey: 5572404c696e6b4c6f52613230313823",
		"multicastGroups:", "  - name: g", "    mcNwkSKey: ${env:K2}", "    mcAppSKey: ${env:K3}", "    devices: ['24E1247151234568']")})
	t.Chdir(dir)
	opts := Options{LookupEnv: lookup(testEnv)}
	s, problems := Load(opts, "site.yaml")
	if s == nil || len(problems.Warnings()) != 3 || len(problems.Errors()) != 0 {
		t.Fatalf("lenient: site %v, problems:\n%v", s != nil, problems)
	}
	opts.Strict = true
	s, problems = Load(opts, "site.yaml")
	want := []string{
		"site.yaml:8:13: devices[1].appKey: key written in clear in the site file; use ${env:NAME} or ${file:PATH}",
		"site.yaml:8:13: devices[1].appKey: is the spec's published default key: anyone can use it; set a key of your own",
		"site.yaml:13:15: warning: multicastGroups[0].devices[0]: 24E1247151234568 is not a device of this site; the gateway must already hold it to join the group",
	}
	var got []string
	for _, p := range problems {
		got = append(got, p.Error())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("strict problems (-want +got):\n%s", diff)
	}
	if s != nil {
		t.Error("strict: site loaded despite security errors")
	}
}

// TestDigest: the digest is the same for the same bytes, changes when any
// file of the site changes, and depends on the files only.
func TestDigest(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"site.yaml": y("version: 1", "codecs:", "  - name: c", "    decoderFile: c.js"),
		"c.js":      "one",
	})
	t.Chdir(dir)
	load := func() string {
		t.Helper()
		s, problems := Load(Options{}, "site.yaml")
		if s == nil {
			t.Fatalf("problems:\n%v", problems)
		}
		return s.Digest()
	}
	d1 := load()
	if d2 := load(); d1 != d2 {
		t.Errorf("digest changed without a change: %s, %s", d1, d2)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(d1) {
		t.Errorf("digest %q is not a hex sha256", d1)
	}
	byHand := &Site{Files: []string{"site.yaml", "c.js"}}
	if got := byHand.Digest(); got != d1 {
		t.Errorf("hand-built site digest %s, loaded %s", got, d1)
	}
	os.WriteFile("c.js", []byte("two"), 0o644)
	if d3 := load(); d3 == d1 {
		t.Error("digest did not change when a script file changed")
	}
}

// testEnvFor sets a distinct, valid key for every ${env:NAME} the files
// under dir reference.
func testEnvFor(t testing.TB, dir string) map[string]string {
	t.Helper()
	env := map[string]string{}
	re := regexp.MustCompile(`\$\{env:([A-Za-z0-9_]+)\}`)
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			sum := sha256.Sum256([]byte(m[1]))
			env[m[1]] = hex.EncodeToString(sum[:16])
		}
		return nil
	})
	return env
}

// TestExamples: every site under examples/ validates with no problem at all
// once the keys it references are set, and declares what it says it does.
func TestExamples(t *testing.T) {
	root := filepath.Join("..", "examples")
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var sites []string
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if e.IsDir() {
			if has, _ := filepath.Glob(filepath.Join(root, e.Name(), "*.yaml")); len(has) > 0 {
				sites = append(sites, filepath.Join(root, e.Name()))
			}
		} else if ext == ".yaml" || ext == ".yml" {
			sites = append(sites, filepath.Join(root, e.Name()))
		}
	}
	sort.Strings(sites)
	if diff := cmp.Diff([]string{"../examples/multi", "../examples/site.yaml"}, sites); diff != "" {
		t.Errorf("example sites (-want +got):\n%s", diff)
	}
	env := testEnvFor(t, root)
	for _, p := range sites {
		t.Run(filepath.Base(p), func(t *testing.T) {
			s, problems := Load(Options{Strict: true, QuoteErrors: true, LookupEnv: lookup(env)}, p)
			if len(problems) > 0 || s == nil {
				t.Fatalf("problems:\n%v", problems)
			}
			if len(s.Devices) == 0 || len(s.Profiles) == 0 || len(s.Codecs) == 0 || len(s.MulticastGroups) == 0 {
				t.Errorf("example declares too little: %d devices, %d profiles, %d codecs, %d groups",
					len(s.Devices), len(s.Profiles), len(s.Codecs), len(s.MulticastGroups))
			}
			for _, d := range s.Devices {
				for _, k := range []Secret{d.AppKey, d.NwkSKey, d.AppSKey} {
					if k.IsSet() && k.Ref == "" {
						t.Errorf("device %s has a key in clear", d.DevEUI)
					}
				}
			}
		})
	}
	// Every example site file starts with the schema modeline pointing at
	// the schema (examples/ci holds a GitHub workflow, not a site).
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() && p == filepath.Join(root, "ci") {
			return filepath.SkipDir
		}
		if err != nil || d.IsDir() || (filepath.Ext(p) != ".yaml" && filepath.Ext(p) != ".yml") {
			return err
		}
		b, _ := os.ReadFile(p)
		first, _, _ := strings.Cut(string(b), "\n")
		ref, ok := strings.CutPrefix(first, "# yaml-language-server: $schema=")
		if !ok {
			t.Errorf("%s: first line %q is not the schema modeline", p, first)
			return nil
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), ref)); err != nil {
			t.Errorf("%s: modeline schema %s: %v", p, ref, err)
		}
		return nil
	})
}

// TestExampleContents checks what the main example declares in detail
// where a mistake would be easy: script and firmware files, FUOTA sources.
func TestExampleContents(t *testing.T) {
	root := filepath.Join("..", "examples")
	s, problems := Load(Options{LookupEnv: lookup(testEnvFor(t, root))}, filepath.Join(root, "site.yaml"))
	if s == nil {
		t.Fatalf("problems:\n%v", problems)
	}
	js, _ := os.ReadFile(filepath.Join(root, "codecs", "em300-th.js"))
	if s.Codecs[0].DecoderScript != string(js) || len(js) == 0 {
		t.Errorf("codec %s decoder script is not codecs/em300-th.js", s.Codecs[0].Name)
	}
	var local, official int
	for _, fu := range s.FirmwareUpdates {
		switch {
		case fu.FirmwareFile != "":
			local++
			if st, err := os.Stat(fu.FirmwareFile); err != nil || st.Size() == 0 {
				t.Errorf("task %s firmware file %s: %v", fu.Name, fu.FirmwareFile, err)
			}
		case fu.Official != nil:
			official++
		}
	}
	if local != 1 || official != 1 {
		t.Errorf("FUOTA tasks: %d local, %d official; want one of each", local, official)
	}
	var otaa, abp int
	for _, d := range s.Devices {
		if d.AppKey.IsSet() {
			otaa++
		}
		if d.DevAddr != "" && d.NwkSKey.IsSet() && d.AppSKey.IsSet() {
			abp++
		}
	}
	if otaa == 0 || abp == 0 {
		t.Errorf("devices: %d OTAA, %d ABP; want both", otaa, abp)
	}
}

// TestAnchors: YAML anchors, aliases and merge keys work as YAML says, in
// the model too, and extension fields (x-…) hold anchors without an error.
func TestAnchors(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"site.yaml": y(
		"version: 1",
		"x-em300: &em300 {application: cloud, codec: em300, fPort: 85, appKey: '${env:K1}'}",
		"x-fragment: &frag {size: 50, intervalMs: 5000, redundancy: 10}",
		"devices:",
		"  - <<: *em300",
		"    devEUI: 24E124136A456465",
		"  - <<: *em300",
		"    devEUI: 24E124136A456466",
		"    fPort: 10",
		"    appKey: ${env:K2}",
		"firmwareUpdates:",
		"  - name: t",
		"    startAt: 2026-12-01T02:00:00Z",
		"    devices: [24E124136A456465]",
		"    official: {model: EM300-TH, version: v1.2}",
		"    fragment: *frag",
	)})
	t.Chdir(dir)
	s, problems := Load(Options{LookupEnv: lookup(testEnv)}, "site.yaml")
	if s == nil {
		t.Fatalf("problems:\n%v", problems)
	}
	type row struct {
		EUI, App, Codec string
		FPort           int64
		Key             string
	}
	var got []row
	for _, d := range s.Devices {
		got = append(got, row{d.DevEUI, d.Application, d.Codec, *d.FPort, d.AppKey.Value})
	}
	want := []row{
		{"24E124136A456465", "cloud", "em300", 85, testEnv["K1"]},
		{"24E124136A456466", "cloud", "em300", 10, testEnv["K2"]},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("devices (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(Fragment{Size: 50, IntervalMs: 5000, Redundancy: 10}, s.FirmwareUpdates[0].Fragment); diff != "" {
		t.Errorf("fragment (-want +got):\n%s", diff)
	}
}
