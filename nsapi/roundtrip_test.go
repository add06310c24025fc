package nsapi_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gwsync/gwsync/gwsim"
	"github.com/gwsync/gwsync/nsapi"
)

// The round-trip suite: every endpoint, nsapi ↔ MQTT ↔ gwsim, asserting
// that what is written is what is read back. It runs on the embedded broker
// always, and on a real broker when GWSYNC_TEST_BROKER names one.

// dialer starts a simulated gateway with opts behind a broker and returns a
// client of it.
type dialer func(t testing.TB, opts gwsim.Options, cfg nsapi.Config) (*nsapi.Client, *gwsim.Gateway)

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random: %v", err)
	}
	return hex.EncodeToString(b)
}

// embedded runs the gateway on its own mochi broker.
func embedded(t testing.TB, opts gwsim.Options, cfg nsapi.Config) (*nsapi.Client, *gwsim.Gateway) {
	t.Helper()
	g, err := gwsim.New(opts)
	if err != nil {
		t.Fatalf("gwsim.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := gwsim.ServeEmbedded(ctx, g, "127.0.0.1:0", "milesight-gateway/{eui}/request", "milesight-gateway/{eui}/response")
	if err != nil {
		cancel()
		t.Fatalf("ServeEmbedded: %v", err)
	}
	cfg.Broker = "tcp://" + srv.Addr()
	cfg.RequestTopic = "milesight-gateway/" + g.EUI() + "/request"
	cfg.ResponseTopic = "milesight-gateway/" + g.EUI() + "/response"
	if cfg.GatewayEUI == "" {
		cfg.GatewayEUI = g.EUI()
	}
	c, err := nsapi.Dial(context.Background(), cfg)
	if err != nil {
		cancel()
		_ = srv.Close()
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() {
		_ = c.Close()
		_ = srv.Close()
		cancel()
		_ = g.Close()
	})
	return c, g
}

// onBroker attaches the gateway to the broker at url as a client; topics
// are unique to the test so runs never hear each other.
func onBroker(url string) dialer {
	return func(t testing.TB, opts gwsim.Options, cfg nsapi.Config) (*nsapi.Client, *gwsim.Gateway) {
		t.Helper()
		g, err := gwsim.New(opts)
		if err != nil {
			t.Fatalf("gwsim.New: %v", err)
		}
		prefix := "gwsync-test/" + randomHex(t, 8)
		req, resp := prefix+"/{eui}/request", prefix+"/{eui}/response"
		ctx, cancel := context.WithCancel(context.Background())
		srv, err := gwsim.ServeOnBroker(ctx, g, url, req, resp, "", "")
		if err != nil {
			cancel()
			t.Fatalf("ServeOnBroker %s: %v", url, err)
		}
		cfg.Broker = url
		cfg.RequestTopic = strings.ReplaceAll(req, "{eui}", g.EUI())
		cfg.ResponseTopic = strings.ReplaceAll(resp, "{eui}", g.EUI())
		if cfg.GatewayEUI == "" {
			cfg.GatewayEUI = g.EUI()
		}
		c, err := nsapi.Dial(context.Background(), cfg)
		if err != nil {
			cancel()
			_ = srv.Close()
			t.Fatalf("Dial: %v", err)
		}
		t.Cleanup(func() {
			_ = c.Close()
			_ = srv.Close()
			cancel()
			_ = g.Close()
		})
		return c, g
	}
}

// inProcess uses the gateway's in-process transport (no broker).
func inProcess(t testing.TB, opts gwsim.Options, cfg nsapi.Config) (*nsapi.Client, *gwsim.Gateway) {
	t.Helper()
	g, err := gwsim.New(opts)
	if err != nil {
		t.Fatalf("gwsim.New: %v", err)
	}
	if cfg.GatewayEUI == "" {
		cfg.GatewayEUI = g.EUI()
	}
	c, err := nsapi.New(context.Background(), g.Transport(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close(); _ = g.Close() })
	return c, g
}

func TestRoundTripEmbeddedBroker(t *testing.T) { roundTrip(t, embedded) }

func TestRoundTripInProcess(t *testing.T) { roundTrip(t, inProcess) }

// TestRoundTripRealBroker runs the suite on the broker GWSYNC_TEST_BROKER
// names (e.g. a Mosquitto on tcp://127.0.0.1:18830). In CI the variable is
// required.
func TestRoundTripRealBroker(t *testing.T) {
	url := os.Getenv("GWSYNC_TEST_BROKER")
	if url == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("GWSYNC_TEST_BROKER is not set: CI must run the round-trip suite on a real broker (e.g. GWSYNC_TEST_BROKER=tcp://127.0.0.1:1883 with Mosquitto)")
		}
		t.Skip("GWSYNC_TEST_BROKER is not set (e.g. tcp://127.0.0.1:18830 with a local Mosquitto)")
	}
	roundTrip(t, onBroker(url))
}

var ignoreServerOwned = cmpopts.IgnoreFields(nsapi.ProfileSettings{}, "ProfileID", "RfRegion", "MaxDutyCycle")

func roundTrip(t *testing.T, dial dialer) {
	t.Run("profiles", func(t *testing.T) { profilesRoundTrip(t, dial) })
	t.Run("devices", func(t *testing.T) { devicesRoundTrip(t, dial) })
	t.Run("multicast groups", func(t *testing.T) { groupsRoundTrip(t, dial) })
	t.Run("payload codecs", func(t *testing.T) { codecsRoundTrip(t, dial) })
	t.Run("FUOTA", func(t *testing.T) { fuotaRoundTrip(t, dial) })
	t.Run("read state", func(t *testing.T) { stateRoundTrip(t, dial) })
	t.Run("legacy URLs", func(t *testing.T) { legacyRoundTrip(t, dial) })
	t.Run("errors", func(t *testing.T) { errorsRoundTrip(t, dial) })
}

func findProfile(t *testing.T, c *nsapi.Client, name string) *nsapi.Profile {
	t.Helper()
	l, err := c.ListProfiles(context.Background())
	if err != nil {
		t.Fatalf("ListProfiles: %v", err)
	}
	for i := range l.Result {
		if l.Result[i].Name == name {
			return &l.Result[i]
		}
	}
	return nil
}

func profilesRoundTrip(t *testing.T, dial dialer) {
	ctx := context.Background()
	c, _ := dial(t, gwsim.Options{ChannelPlan: "EU868"}, nsapi.Config{})
	w := nsapi.ProfileWrite{Name: "ClassB-ABP", Profile: nsapi.ProfileSettings{
		SupportsClassB: true, ClassBTimeout: 8, PingSlotPeriod: 64, PingSlotDR: 3, PingSlotFreq: 869525000,
		SupportsClassC: false, ClassCTimeout: 7, MacVersion: "1.0.3", RegParamsRevision: "A", RxDROffset1: 1,
		RxDataRate2: 3, RxFreq2: 869525000, FactoryPresetFreqs: []int64{868100000, 868300000}, MaxEIRP: 14,
		SupportsJoin: false, Supports32bitFCnt: true, EnableUplinkChannels: []int64{0, 1, 2},
	}}
	w.Profile.MacVersion = "1.0.2" // one of the spec's four
	id, err := c.CreateProfile(ctx, w)
	if err != nil {
		t.Fatalf("CreateProfile: %v", err)
	}
	got := findProfile(t, c, w.Name)
	if got == nil {
		t.Fatalf("profile %s not listed after create", w.Name)
	}
	if got.ID() != id {
		t.Errorf("listed id %q, created %q", got.ID(), id)
	}
	if d := cmp.Diff(w, got.Write(), ignoreServerOwned); d != "" {
		t.Errorf("profile after create (-written +read):\n%s", d)
	}

	w.Profile.SupportsClassB, w.Profile.SupportsClassC, w.Profile.ClassCTimeout = false, true, 3
	w.Profile.EnableUplinkChannels = []int64{}
	if err := c.UpdateProfile(ctx, id, w); err != nil {
		t.Fatalf("UpdateProfile: %v", err)
	}
	got = findProfile(t, c, w.Name)
	if got == nil {
		t.Fatalf("profile %s not listed after update", w.Name)
	}
	if d := cmp.Diff(w, got.Write(), ignoreServerOwned); d != "" {
		t.Errorf("profile after update (-written +read):\n%s", d)
	}

	if err := c.DeleteProfile(ctx, id); err != nil {
		t.Fatalf("DeleteProfile: %v", err)
	}
	if p := findProfile(t, c, w.Name); p != nil {
		t.Errorf("profile %s still listed after delete", w.Name)
	}
}

func classA(t *testing.T, c *nsapi.Client) string {
	t.Helper()
	p := findProfile(t, c, "ClassA-OTAA")
	if p == nil {
		t.Fatal("the gateway has no ClassA-OTAA profile")
	}
	return p.ID()
}

func devicesRoundTrip(t *testing.T, dial dialer) {
	ctx := context.Background()
	c, _ := dial(t, gwsim.Options{}, nsapi.Config{PageSize: 2})
	profileID := classA(t, c)
	abpID, err := c.CreateProfile(ctx, nsapi.ProfileWrite{Name: "ClassA-ABP", Profile: nsapi.ProfileSettings{
		MacVersion: "1.0.2", RegParamsRevision: "B", RxFreq2: 869525000, PingSlotPeriod: 128, PingSlotFreq: 869525000,
		ClassBTimeout: 10, ClassCTimeout: 10, FactoryPresetFreqs: []int64{}, EnableUplinkChannels: []int64{}}})
	if err != nil {
		t.Fatalf("CreateProfile: %v", err)
	}
	otaa := nsapi.DeviceWrite{
		DevEUI: "24E124136A456465", Name: "em300-th-01", Description: "warehouse", ApplicationID: "1",
		ProfileID: profileID, PayloadCodecID: "0", FPort: 85, SkipFCntCheck: true, AppKey: "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
	}
	abpUp, abpDown := int64(12), int64(7)
	abp := nsapi.DeviceWrite{
		DevEUI: "24E124136A456466", Name: "em300-th-02", Description: "boiler room", ApplicationID: "1", ProfileID: abpID, PayloadCodecID: "0", FPort: 2,
		DevAddr: "01AB23CD", NwkSKey: "00112233445566778899aabbccddeeff", AppSKey: "ffeeddccbbaa99887766554433221100",
		FCntUp: &abpUp, FCntDown: &abpDown, MbMode: "tcp", MbFramePort: 86, MbTcpPort: 502,
	}
	for _, d := range []nsapi.DeviceWrite{otaa, abp} {
		if err := c.CreateDevice(ctx, d); err != nil {
			t.Fatalf("CreateDevice %s: %v", d.DevEUI, err)
		}
	}
	// A third device makes the list span two pages.
	third := nsapi.DeviceWrite{DevEUI: "24e124136a456467", Name: "em300-th-03", ApplicationID: "1", ProfileID: profileID, AppKey: "0f1e2d3c4b5a69788796a5b4c3d2e1f0"}
	if err := c.CreateDevice(ctx, third); err != nil {
		t.Fatalf("CreateDevice third: %v", err)
	}
	for _, want := range []nsapi.DeviceWrite{otaa, abp} {
		got, err := c.GetDevice(ctx, want.DevEUI)
		if err != nil {
			t.Fatalf("GetDevice %s: %v", want.DevEUI, err)
		}
		w := got.Write()
		if want.FCntUp == nil { // OTAA: counters are not written
			w.FCntUp, w.FCntDown = nil, nil
		}
		if d := cmp.Diff(want, w); d != "" {
			t.Errorf("device %s after create (-written +read):\n%s", want.DevEUI, d)
		}
	}
	l, err := c.ListDevices(ctx, nsapi.DeviceQuery{})
	if err != nil {
		t.Fatalf("ListDevices: %v", err)
	}
	var euis []string
	for _, d := range l.DeviceResult {
		euis = append(euis, strings.ToUpper(d.DevEUI))
	}
	if d := cmp.Diff([]string{"24E124136A456465", "24E124136A456466", "24E124136A456467"}, euis, cmpopts.SortSlices(func(a, b string) bool { return a < b })); d != "" {
		t.Errorf("devices listed over pages (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]nsapi.Application{{ApplicationID: "1", AppName: "cloud"}}, l.AppResult); d != "" {
		t.Errorf("appResult (-want +got):\n%s", d)
	}
	if l.ChannelPlan == "" {
		t.Errorf("device list carries no channelPlan")
	}
	byApp, err := c.ListDevices(ctx, nsapi.DeviceQuery{ApplicationID: "1"})
	if err != nil || len(byApp.DeviceResult) != 3 {
		t.Errorf("ListDevices(application 1) = %d devices, %v; want 3", len(byApp.DeviceResult), err)
	}

	otaa.Name, otaa.Description, otaa.FPort, otaa.SkipFCntCheck = "em300-th-renamed", "office", 10, false
	otaa.PayloadCodecID = "1"
	if err := c.UpdateDevice(ctx, otaa.DevEUI, otaa); err != nil {
		t.Fatalf("UpdateDevice: %v", err)
	}
	got, err := c.GetDevice(ctx, strings.ToLower(otaa.DevEUI))
	if err != nil {
		t.Fatalf("GetDevice after update: %v", err)
	}
	w := got.Write()
	w.FCntUp, w.FCntDown = nil, nil
	if d := cmp.Diff(otaa, w); d != "" {
		t.Errorf("device after update (-written +read):\n%s", d)
	}
	if got.PayloadName == "" {
		t.Errorf("device with codec 1 has no payloadName")
	}

	if err := c.DeleteDevice(ctx, abp.DevEUI); err != nil {
		t.Fatalf("DeleteDevice: %v", err)
	}
	if _, err := c.GetDevice(ctx, abp.DevEUI); !nsapi.IsCode(err, nsapi.CodeNotFound) {
		t.Errorf("GetDevice after delete: got %v, want code %d", err, nsapi.CodeNotFound)
	}
}

func groupsRoundTrip(t *testing.T, dial dialer) {
	ctx := context.Background()
	c, _ := dial(t, gwsim.Options{}, nsapi.Config{})
	profileID := classA(t, c)
	members := []string{"24E124136A456465", "24E124136A456466", "24E124136A456467"}
	for i, eui := range members {
		if err := c.CreateDevice(ctx, nsapi.DeviceWrite{DevEUI: eui, Name: "lamp-" + string(rune('a'+i)), ApplicationID: "1", ProfileID: profileID, AppKey: "0f1e2d3c4b5a69788796a5b4c3d2e1f0"}); err != nil {
			t.Fatalf("CreateDevice: %v", err)
		}
	}
	g := nsapi.MulticastGroup{Name: "street-lights", McAddr: "01AB23CD", McNwkSKey: "00112233445566778899aabbccddeeff",
		McAppSKey: "ffeeddccbbaa99887766554433221100", FCnt: 5, GroupType: "CLASS_C", DR: 3, Frequency: 869525000, PingSlotPeriod: 128}
	id, err := c.CreateGroup(ctx, g)
	if err != nil {
		t.Fatalf("CreateGroup: %v", err)
	}
	read := func() *nsapi.MulticastGroupInfo {
		t.Helper()
		l, err := c.ListGroups(ctx, "street")
		if err != nil {
			t.Fatalf("ListGroups: %v", err)
		}
		for i := range l {
			if l[i].ID == id {
				return &l[i]
			}
		}
		t.Fatalf("group %s not listed (search %q)", id, "street")
		return nil
	}
	memberEUIs := func(gi *nsapi.MulticastGroupInfo) []string {
		var e []string
		for _, m := range gi.Devices {
			e = append(e, strings.ToUpper(m.DevEUI))
		}
		return e
	}
	sorted := cmpopts.SortSlices(func(a, b string) bool { return a < b })
	got := read()
	if d := cmp.Diff(g, got.MulticastGroup); d != "" {
		t.Errorf("group after create (-written +read):\n%s", d)
	}
	if len(got.Devices) != 0 {
		t.Errorf("new group has members %v", memberEUIs(got))
	}

	g.Name, g.GroupType, g.PingSlotPeriod, g.DR = "street-lights-b", "CLASS_B", 64, 3
	if err := c.UpdateGroup(ctx, id, g); err != nil {
		t.Fatalf("UpdateGroup: %v", err)
	}
	if d := cmp.Diff(g, read().MulticastGroup); d != "" {
		t.Errorf("group after update (-written +read):\n%s", d)
	}

	if err := c.AddGroupDevices(ctx, id, members); err != nil {
		t.Fatalf("AddGroupDevices: %v", err)
	}
	got = read()
	if d := cmp.Diff(members, memberEUIs(got), sorted); d != "" {
		t.Errorf("members after add (-want +got):\n%s", d)
	}
	if len(got.Devices) > 0 && got.Devices[0].Name == "" {
		t.Errorf("member %s listed without its name", got.Devices[0].DevEUI)
	}
	if err := c.RemoveGroupDevices(ctx, id, members[1:]); err != nil {
		t.Fatalf("RemoveGroupDevices: %v", err)
	}
	if d := cmp.Diff(members[:1], memberEUIs(read())); d != "" {
		t.Errorf("members after remove (-want +got):\n%s", d)
	}

	if err := c.DeleteGroup(ctx, id); err != nil {
		t.Fatalf("DeleteGroup: %v", err)
	}
	l, err := c.ListGroups(ctx, "")
	if err != nil {
		t.Fatalf("ListGroups: %v", err)
	}
	if len(l) != 0 {
		t.Errorf("groups after delete: %+v", l)
	}
}

func codecsRoundTrip(t *testing.T, dial dialer) {
	ctx := context.Background()
	c, _ := dial(t, gwsim.Options{}, nsapi.Config{})
	w := nsapi.CodecWrite{Name: "em300-decoder", Description: "temperature and humidity", TemplateID: 0,
		EncoderScript: "function Encode(fPort, obj) { return []; }",
		DecoderScript: "function Decode(fPort, bytes) {\n  return {\"t\": bytes[0] / 10};\n}", TestEnabled: true, FPort: 85,
		CodecJSON: `{"t":"temperature"}`}
	id, err := c.CreateCodec(ctx, w)
	if err != nil {
		t.Fatalf("CreateCodec: %v", err)
	}
	find := func() *nsapi.Codec {
		t.Helper()
		l, err := c.ListCodecs(ctx, nsapi.CodecTypeCustom, "")
		if err != nil {
			t.Fatalf("ListCodecs: %v", err)
		}
		for i := range l {
			if string(l[i].ID) == id {
				return &l[i]
			}
		}
		return nil
	}
	// The spec's codec list (5.3) carries no codecJson: it is write-only.
	noCodecJSON := cmpopts.IgnoreFields(nsapi.CodecWrite{}, "CodecJSON")
	got := find()
	if got == nil {
		t.Fatalf("codec %s not listed after create", id)
	}
	if d := cmp.Diff(w, got.Write(), noCodecJSON); d != "" {
		t.Errorf("codec after create (-written +read):\n%s", d)
	}
	short, err := c.ListCodecsShort(ctx, nsapi.CodecTypeCustom, "em300")
	if err != nil {
		t.Fatalf("ListCodecsShort: %v", err)
	}
	if d := cmp.Diff([]nsapi.CodecShort{{ID: nsapi.FlexString(id), Name: w.Name}}, short); d != "" {
		t.Errorf("short list (-want +got):\n%s", d)
	}
	builtin, err := c.ListCodecsShort(ctx, nsapi.CodecTypeDefault, "")
	if err != nil || len(builtin) == 0 {
		t.Errorf("built-in codecs: %d, %v; want some", len(builtin), err)
	}
	for _, b := range builtin {
		if string(b.ID) == id {
			t.Errorf("custom codec %s listed as built-in", id)
		}
	}

	w.DecoderScript, w.FPort, w.TestEnabled = "function Decode(fPort, bytes) { return {}; }", 10, false
	if err := c.UpdateCodec(ctx, id, w); err != nil {
		t.Fatalf("UpdateCodec: %v", err)
	}
	if got := find(); got == nil {
		t.Errorf("codec %s not listed after update", id)
	} else if d := cmp.Diff(w, got.Write(), noCodecJSON); d != "" {
		t.Errorf("codec after update (-written +read):\n%s", d)
	}
	if err := c.DeleteCodec(ctx, id); err != nil {
		t.Fatalf("DeleteCodec: %v", err)
	}
	if got := find(); got != nil {
		t.Errorf("codec %s still listed after delete", id)
	}
}

func fuotaRoundTrip(t *testing.T, dial dialer) {
	ctx := context.Background()
	c, _ := dial(t, gwsim.Options{}, nsapi.Config{})
	profileID := classA(t, c)
	devs := []string{"24E1247151234568", "24E1247151234569"}
	for i, eui := range devs {
		if err := c.CreateDevice(ctx, nsapi.DeviceWrite{DevEUI: eui, Name: "wt201-" + string(rune('a'+i)), ApplicationID: "1", ProfileID: profileID, AppKey: "0f1e2d3c4b5a69788796a5b4c3d2e1f0"}); err != nil {
			t.Fatalf("CreateDevice: %v", err)
		}
	}

	sizes, err := c.PayloadSizes(ctx)
	if err != nil || len(sizes) == 0 {
		t.Fatalf("PayloadSizes = %v, %v; want one per data rate", sizes, err)
	}
	for _, s := range sizes {
		if s.MaxPayloadSize <= 0 {
			t.Errorf("data rate %d: max payload %d", s.DR, s.MaxPayloadSize)
		}
	}
	models, err := c.OfficialModels(ctx, "eu")
	if err != nil || len(models) == 0 {
		t.Fatalf("OfficialModels = %v, %v", models, err)
	}
	fw, err := c.OfficialFirmware(ctx, "WT201", "")
	if err != nil || len(fw) == 0 {
		t.Fatalf("OfficialFirmware(WT201) = %v, %v", fw, err)
	}
	for _, f := range fw {
		if f.Model != "WT201" {
			t.Errorf("OfficialFirmware(WT201) lists a %s firmware", f.Model)
		}
	}

	local := nsapi.FuotaTask{
		Name: "wt201-local", Description: "bench", StartedAt: "2030-04-15T00:50:00Z",
		DevEUIs:      []string{strings.ToLower(devs[0]), strings.ToLower(devs[1])},
		FirmwareInfo: &nsapi.FirmwareInfo{FirmwareName: "WT201.0000.0100.0101.bin", FileContent: "AAECAwQFBgcICQ=="},
		FragmentInfo: nsapi.FragmentInfo{FragmentSize: 40, FragmentInterval: 5000, FragmentRedundancy: 30},
		TmpMcInfo:    nsapi.TmpMcInfo{DR: 3, Frequency: 869525000},
	}
	official := nsapi.FuotaTask{
		Name: "wt201-official", StartedAt: "2030-04-16T00:26:00Z", DevEUIs: []string{strings.ToLower(devs[1])},
		IsOfficialFirmware: true, OfficialFirmwareInfo: &fw[0],
		FragmentInfo: nsapi.FragmentInfo{FragmentSize: 40, FragmentInterval: 2000, FragmentRedundancy: 10},
		TmpMcInfo:    nsapi.TmpMcInfo{DR: 3, Frequency: 869525000},
	}
	ids := map[string]int64{}
	for _, task := range []nsapi.FuotaTask{local, official} {
		id, err := c.CreateTask(ctx, task)
		if err != nil {
			t.Fatalf("CreateTask %s: %v", task.Name, err)
		}
		ids[task.Name] = id
	}
	// What is read back: the written fields, EUIs in any case.
	norm := func(x nsapi.FuotaTask) nsapi.FuotaTask {
		w := x.Write()
		w.ID = 0
		for i := range w.DevEUIs {
			w.DevEUIs[i] = strings.ToUpper(w.DevEUIs[i])
		}
		if w.FirmwareInfo != nil && x.IsOfficialFirmware {
			w.FirmwareInfo = nil // the gateway fills it from the official firmware
		}
		if w.FirmwareInfo != nil {
			w.FirmwareInfo.FileContent = "" // write-only: the list shows "" (6.2)
		}
		return w
	}
	tasks, err := c.ListTasks(ctx, "")
	if err != nil {
		t.Fatalf("ListTasks: %v", err)
	}
	byName := map[string]nsapi.FuotaTask{}
	for _, task := range tasks {
		byName[task.Name] = task
	}
	for _, want := range []nsapi.FuotaTask{local, official} {
		got, ok := byName[want.Name]
		if !ok {
			t.Errorf("task %s not listed", want.Name)
			continue
		}
		if int64(got.ID) != ids[want.Name] {
			t.Errorf("task %s listed with id %d, created %d", want.Name, got.ID, ids[want.Name])
		}
		if d := cmp.Diff(norm(want), norm(got), timeEqual); d != "" {
			t.Errorf("task %s after create (-written +read):\n%s", want.Name, d)
		}
	}

	td, err := c.TaskDevices(ctx, ids[local.Name], "")
	if err != nil {
		t.Fatalf("TaskDevices: %v", err)
	}
	var tdEUIs []string
	for _, d := range td {
		tdEUIs = append(tdEUIs, strings.ToUpper(d.DevEUI))
		if int64(d.TaskID) != ids[local.Name] {
			t.Errorf("device %s of task %d says task %d", d.DevEUI, ids[local.Name], d.TaskID)
		}
	}
	if d := cmp.Diff(devs, tdEUIs, cmpopts.SortSlices(func(a, b string) bool { return a < b })); d != "" {
		t.Errorf("task devices (-want +got):\n%s", d)
	}
	fd, err := c.FirmwareDevices(ctx, nsapi.FirmwareDevicesQuery{OfficialFirmwareInfo: &fw[0]})
	if err != nil {
		t.Fatalf("FirmwareDevices: %v", err)
	}
	for _, d := range fd {
		if !strings.HasPrefix(strings.ToUpper(d.DevEUI), "24E124") {
			t.Errorf("FirmwareDevices lists %s", d.DevEUI)
		}
	}

	upd := local
	upd.ID = nsapi.FlexInt(ids[local.Name])
	upd.Description, upd.DevEUIs = "bench, one device", []string{strings.ToLower(devs[0])}
	upd.FragmentInfo.FragmentRedundancy = 50
	if err := c.UpdateTask(ctx, upd); err != nil {
		t.Fatalf("UpdateTask: %v", err)
	}
	tasks, err = c.ListTasks(ctx, "local")
	if err != nil {
		t.Fatalf("ListTasks: %v", err)
	}
	if len(tasks) != 1 {
		t.Fatalf("ListTasks(local) = %d tasks, want 1", len(tasks))
	}
	if d := cmp.Diff(norm(upd), norm(tasks[0]), timeEqual); d != "" {
		t.Errorf("task after update (-written +read):\n%s", d)
	}

	if err := c.RetryTasks(ctx, []int64{ids[local.Name]}); err != nil && !nsapi.IsCode(err, nsapi.CodeFuotaTaskStatus) {
		t.Errorf("RetryTasks: %v", err)
	}
	if err := c.DeleteTasks(ctx, []int64{ids[local.Name], ids[official.Name]}); err != nil {
		t.Fatalf("DeleteTasks: %v", err)
	}
	tasks, err = c.ListTasks(ctx, "")
	if err != nil || len(tasks) != 0 {
		t.Errorf("tasks after delete: %+v, %v", tasks, err)
	}
}

// timeEqual compares RFC 3339 strings by the instant they name.
var timeEqual = cmp.FilterPath(func(p cmp.Path) bool {
	return p.Last().String() == ".StartedAt"
}, cmp.Comparer(func(a, b string) bool {
	x, errA := time.Parse(time.RFC3339Nano, a)
	y, errB := time.Parse(time.RFC3339Nano, b)
	if errA != nil || errB != nil {
		return a == b
	}
	return x.Equal(y)
}))

func stateRoundTrip(t *testing.T, dial dialer) {
	ctx := context.Background()
	c, g := dial(t, gwsim.Options{ChannelPlan: "US915"}, nsapi.Config{})
	profileID := classA(t, c)
	for _, eui := range []string{"24E1241000000002", "24E1241000000001"} {
		if err := c.CreateDevice(ctx, nsapi.DeviceWrite{DevEUI: eui, Name: "d" + eui[14:], ApplicationID: "1", ProfileID: profileID, AppKey: "0f1e2d3c4b5a69788796a5b4c3d2e1f0"}); err != nil {
			t.Fatalf("CreateDevice: %v", err)
		}
	}
	for _, name := range []string{"zeta", "alpha"} {
		if _, err := c.CreateCodec(ctx, nsapi.CodecWrite{Name: name, DecoderScript: "x"}); err != nil {
			t.Fatalf("CreateCodec: %v", err)
		}
		if _, err := c.CreateGroup(ctx, nsapi.MulticastGroup{Name: name, McAddr: "01AB23CD", McNwkSKey: "00112233445566778899aabbccddeeff",
			McAppSKey: "00112233445566778899aabbccddeeff", GroupType: "CLASS_C", DR: 8, Frequency: 923300000, PingSlotPeriod: 128}); err != nil {
			t.Fatalf("CreateGroup: %v", err)
		}
	}
	s, err := c.ReadState(ctx)
	if err != nil {
		t.Fatalf("ReadState: %v", err)
	}
	type summary struct {
		EUI, Plan                            string
		Apps, Profiles, Devices, Codecs, Grp []string
		Builtins                             int
	}
	got := summary{EUI: s.GatewayEUI, Plan: s.ChannelPlan, Builtins: len(s.BuiltinCodecs)}
	for _, a := range s.Applications {
		got.Apps = append(got.Apps, a.AppName)
	}
	for _, p := range s.Profiles {
		got.Profiles = append(got.Profiles, p.Name)
	}
	for _, d := range s.Devices {
		got.Devices = append(got.Devices, strings.ToUpper(d.DevEUI))
	}
	for _, k := range s.Codecs {
		got.Codecs = append(got.Codecs, k.Name)
	}
	for _, k := range s.Groups {
		got.Grp = append(got.Grp, k.Name)
	}
	want := summary{
		EUI: g.EUI(), Plan: "US915", Apps: []string{"cloud"},
		Profiles: []string{"ClassA-OTAA", "ClassB-OTAA", "ClassC-OTAA"},
		Devices:  []string{"24E1241000000001", "24E1241000000002"},
		Codecs:   []string{"alpha", "zeta"}, Grp: []string{"alpha", "zeta"}, Builtins: got.Builtins,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ReadState (-want +got):\n%s", d)
	}
	if got.Builtins == 0 {
		t.Errorf("ReadState has no built-in codecs")
	}
	for _, k := range s.Codecs {
		if k.DecoderScript != "x" {
			t.Errorf("custom codec %s read without its script", k.Name)
		}
	}
}

func legacyRoundTrip(t *testing.T, dial dialer) {
	ctx := context.Background()
	c, _ := dial(t, gwsim.Options{LegacyURLs: true}, nsapi.Config{})
	profileID := classA(t, c)
	if err := c.CreateDevice(ctx, nsapi.DeviceWrite{DevEUI: "24E124136A456465", ApplicationID: "1", ProfileID: profileID, AppKey: "0f1e2d3c4b5a69788796a5b4c3d2e1f0"}); err != nil {
		t.Fatalf("CreateDevice: %v", err)
	}
	gid, err := c.CreateGroup(ctx, nsapi.MulticastGroup{Name: "g", McAddr: "01AB23CD", McNwkSKey: "00112233445566778899aabbccddeeff",
		McAppSKey: "00112233445566778899aabbccddeeff", GroupType: "CLASS_C", DR: 0, Frequency: 869525000, PingSlotPeriod: 128})
	if err != nil {
		t.Fatalf("CreateGroup: %v", err)
	}
	if err := c.AddGroupDevices(ctx, gid, []string{"24E124136A456465"}); err != nil {
		t.Fatalf("AddGroupDevices: %v", err)
	}
	before := c.Requests()
	for range 2 {
		if err := c.RemoveGroupDevices(ctx, gid, []string{"24E124136A456465"}); err != nil {
			t.Fatalf("RemoveGroupDevices on a legacy gateway: %v", err)
		}
	}
	if n := c.Requests() - before; n != 3 {
		t.Errorf("two removals took %d requests, want 3 (one refused, then the remembered spelling)", n)
	}
	// Every codec call falls back once per method, and then remembers it.
	for round, want := range []int64{8, 4} {
		before = c.Requests()
		id, err := c.CreateCodec(ctx, nsapi.CodecWrite{Name: "k", DecoderScript: "x"})
		if err != nil {
			t.Fatalf("CreateCodec on a legacy gateway: %v", err)
		}
		if err := c.UpdateCodec(ctx, id, nsapi.CodecWrite{Name: "k", DecoderScript: "y"}); err != nil {
			t.Fatalf("UpdateCodec on a legacy gateway: %v", err)
		}
		l, err := c.ListCodecs(ctx, nsapi.CodecTypeCustom, "")
		if err != nil || len(l) != 1 || l[0].DecoderScript != "y" {
			t.Errorf("ListCodecs on a legacy gateway = %+v, %v", l, err)
		}
		if err := c.DeleteCodec(ctx, id); err != nil {
			t.Fatalf("DeleteCodec on a legacy gateway: %v", err)
		}
		if n := c.Requests() - before; n != want {
			t.Errorf("round %d: create, update, list and delete took %d requests, want %d (the singular spelling is remembered per method)", round+1, n, want)
		}
	}
}

func errorsRoundTrip(t *testing.T, dial dialer) {
	ctx := context.Background()
	c, g := dial(t, gwsim.Options{}, nsapi.Config{RequestTimeout: 2 * time.Second})
	dup := findProfile(t, c, "ClassA-OTAA")
	if dup == nil {
		t.Fatal("the gateway has no ClassA-OTAA profile")
	}
	_, err := c.CreateProfile(ctx, dup.Write())
	if !nsapi.IsCode(err, nsapi.CodeAlreadyExists) {
		t.Errorf("duplicate profile: got %v, want code %d", err, nsapi.CodeAlreadyExists)
	}
	var re *nsapi.RemoteError
	if errors.As(err, &re) && (re.Method != "POST" || re.URL != "/api/urprofiles") {
		t.Errorf("RemoteError names %s %s", re.Method, re.URL)
	}
	if err := c.DeleteDevice(ctx, "24E1240000000000"); !nsapi.IsCode(err, nsapi.CodeNotFound) {
		t.Errorf("deleting a missing device: got %v, want code %d", err, nsapi.CodeNotFound)
	}

	g.Faults().Add(gwsim.Fault{Method: "POST", URLContains: "/api/payloadcodecs", Code: nsapi.CodeInternal})
	if _, err := c.CreateCodec(ctx, nsapi.CodecWrite{Name: "k"}); !nsapi.IsCode(err, nsapi.CodeInternal) {
		t.Errorf("injected code 23: got %v", err)
	}
	g.Faults().Add(gwsim.Fault{Method: "POST", URLContains: "/api/payloadcodecs", DropResponse: true})
	_, err = c.CreateCodec(ctx, nsapi.CodecWrite{Name: "dropped"})
	if !errors.Is(err, nsapi.ErrUnknownOutcome) {
		t.Fatalf("dropped answer: got %v, want an unknown outcome", err)
	}
	// The write happened although its answer was lost: a re-read tells.
	l, err := c.ListCodecsShort(ctx, nsapi.CodecTypeCustom, "dropped")
	if err != nil || len(l) != 1 {
		t.Errorf("re-read after a lost answer = %+v, %v; want the codec", l, err)
	}
}
