package export_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gwsync/gwsync/export"
	"github.com/gwsync/gwsync/gwsim"
	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/site"
)

const secretKey = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"

func TestExportNilState(t *testing.T) {
	if _, err := export.Export(nil, export.Options{}); err == nil {
		t.Error("Export(nil) gave no error")
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := export.Secret{Name: "DEV_X_APPKEY", Value: secretKey, Field: "devices[0].appKey"}
	j, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s", s, s, s, s), string(j), fmt.Sprint([]export.Secret{s})} {
		if strings.Contains(out, secretKey) {
			t.Errorf("a secret printed its value: %s", out)
		}
		if !strings.Contains(out, "DEV_X_APPKEY") {
			t.Errorf("a secret printed without its name: %s", out)
		}
	}
}

// TestExportNotes: what a site cannot say as the gateway has it is
// written as close as it can be and said in a note, never silently.
func TestExportNotes(t *testing.T) {
	otaa := nsapi.Profile{Name: "ClassA-OTAA", IsDefault: true, Profile: nsapi.ProfileSettings{ProfileID: "p1", SupportsJoin: true}}
	abp := nsapi.Profile{Name: "abp", Profile: nsapi.ProfileSettings{ProfileID: "p2", MacVersion: "1.0.2", RegParamsRevision: "B",
		RxFreq2: 869525000, PingSlotPeriod: 128, PingSlotDR: 3, PingSlotFreq: 869525000, ClassBTimeout: 10, ClassCTimeout: 10}}
	apps := []nsapi.Application{{ApplicationID: "1", AppName: "cloud"}}
	dev := func(mod func(d *nsapi.Device)) nsapi.Device {
		d := nsapi.Device{DevEUI: "24E124136A456465", Name: "d", ApplicationID: "1", ProfileID: "p1", AppKey: secretKey, FPort: 1, SupportsJoin: true}
		mod(&d)
		return d
	}
	task := func(mod func(t *nsapi.FuotaTask)) nsapi.FuotaTask {
		t := nsapi.FuotaTask{Name: "t", StartedAt: "2026-12-01T02:00:00Z", DevEUIs: []string{"24e124136a456465"},
			FirmwareName: "fw.bin", FragmentInfo: nsapi.FragmentInfo{FragmentSize: 40, FragmentInterval: 2000, FragmentRedundancy: 10},
			TmpMcInfo: nsapi.TmpMcInfo{DR: 0, Frequency: 869525000}}
		mod(&t)
		return t
	}
	base := func() *nsapi.State {
		return &nsapi.State{GatewayEUI: "24E124FFFEF5A6A8", ChannelPlan: "EU868", Applications: apps,
			Profiles: []nsapi.Profile{otaa, abp}, Devices: []nsapi.Device{dev(func(*nsapi.Device) {})}}
	}
	for _, tc := range []struct {
		name  string
		state func() *nsapi.State
		notes []string // substrings, one note each
		yaml  []string // substrings of the site file
	}{
		{"a gateway that matches a site", base, nil, []string{"appKey: ${env:DEV_24E124136A456465_APPKEY}"}},
		{"unknown channel plan", func() *nsapi.State { s := base(); s.ChannelPlan = "XX999"; return s },
			[]string{`channel plan "XX999", which gwsync does not know`}, nil},
		{"no channel plan", func() *nsapi.State { s := base(); s.ChannelPlan = ""; return s },
			[]string{"reports no channel plan"}, nil},
		{"unknown application", func() *nsapi.State {
			s := base()
			s.Devices[0].ApplicationID = "9"
			return s
		}, []string{"its application (id 9) is not in the gateway's application list"}, []string{`application: "9"`}},
		{"unknown profile", func() *nsapi.State {
			s := base()
			s.Devices[0].ProfileID, s.Devices[0].ProfileName = "p9", "gone"
			return s
		}, []string{"its profile (gone) is not in the gateway's profile list"}, []string{"profile: gone"}},
		{"unknown codec", func() *nsapi.State {
			s := base()
			s.Devices[0].PayloadCodecID = "77"
			return s
		}, []string{"its codec (id 77) is on neither codec list"}, []string{`codec: "77"`}},
		{"ABP device without devAddr or keys", func() *nsapi.State {
			s := base()
			s.Devices[0].ProfileID, s.Devices[0].SupportsJoin = "p2", false
			return s
		}, []string{"is ABP but the gateway gave no devAddr", "the gateway did not give device 24E124136A456465's nwkSKey",
			"the gateway did not give device 24E124136A456465's appSKey"}, []string{"nwkSKey: ${env:DEV_24E124136A456465_NWKSKEY}"}},
		{"a key that is not a key", func() *nsapi.State {
			s := base()
			s.Devices[0].AppKey = "xyz"
			return s
		}, []string{"appKey on the gateway is not 32 hex digits"}, nil},
		{"a device without a name", func() *nsapi.State {
			s := base()
			s.Devices[0].Name = ""
			return s
		}, []string{"it has no name on the gateway"}, nil},
		{"a member the gateway does not list", func() *nsapi.State {
			s := base()
			s.Groups = []nsapi.MulticastGroupInfo{{ID: "g", MulticastGroup: nsapi.MulticastGroup{Name: "g", McAddr: "01AB23CD", McNwkSKey: secretKey,
				McAppSKey: secretKey, GroupType: "class_c", DR: 0, Frequency: 869525000}, Devices: []nsapi.GroupMember{{DevEUI: "24E1241300000000"}}}}
			return s
		}, []string{`multicast group "g": device 24E1241300000000 is not on the gateway's device list`},
			[]string{`devices: ["24E1241300000000"] # the whole membership`}},
		{"two of a name", func() *nsapi.State {
			s := base()
			s.Codecs = []nsapi.Codec{{ID: "100", Name: "c"}, {ID: "101", Name: "c"}}
			s.Tasks = []nsapi.FuotaTask{task(func(*nsapi.FuotaTask) {}), task(func(t *nsapi.FuotaTask) { t.ID = 2 })}
			return s
		}, []string{`codec "c": the gateway holds two custom codecs of this name; the second (id 101) is left out`,
			`FUOTA task "t": the gateway holds two tasks of this name; the second (id 2) is left out`, "stays as the gateway holds it"}, nil},
		{"a custom codec named like a built-in", func() *nsapi.State {
			s := base()
			s.Codecs = []nsapi.Codec{{ID: "100", Name: "Milesight EM300"}}
			s.BuiltinCodecs = []nsapi.CodecShort{{ID: "1", Name: "Milesight EM300"}}
			return s
		}, []string{`codec "Milesight EM300": a built-in codec has the same name`}, nil},
		{"a start time that is not RFC 3339", func() *nsapi.State {
			s := base()
			s.Tasks = []nsapi.FuotaTask{task(func(t *nsapi.FuotaTask) { t.StartedAt = "2026-12-01 02:00:00" })}
			return s
		}, []string{`its start time "2026-12-01 02:00:00" is not an RFC 3339 time`, "stays as the gateway holds it"}, nil},
		{"a class B FUOTA session", func() *nsapi.State {
			s := base()
			s.Tasks = []nsapi.FuotaTask{task(func(t *nsapi.FuotaTask) { t.TmpMcInfo.GroupType = 1 })}
			return s
		}, []string{"its multicast session has group type 1", "stays as the gateway holds it"}, nil},
		{"official firmware the gateway does not describe", func() *nsapi.State {
			s := base()
			s.Tasks = []nsapi.FuotaTask{task(func(t *nsapi.FuotaTask) { t.IsOfficialFirmware = true })}
			return s
		}, []string{"does not say which official firmware it uses"}, nil},
		{"official firmware from firmwareInfo", func() *nsapi.State {
			s := base()
			s.Tasks = []nsapi.FuotaTask{task(func(t *nsapi.FuotaTask) {
				t.IsOfficialFirmware = true
				t.OfficialFirmwareInfo = &nsapi.OfficialFirmware{}
				t.FirmwareInfo = &nsapi.FirmwareInfo{ProductModel: "WT201", FirmwareVersion: "v1.4"}
			})}
			return s
		}, nil, []string{"official: {model: WT201, version: v1.4}"}},
		{"a task that has run", func() *nsapi.State {
			s := base()
			s.Tasks = []nsapi.FuotaTask{task(func(t *nsapi.FuotaTask) { t.Status, t.DoneDevices, t.TotalDevices = nsapi.TaskSucceeded, 1, 1 })}
			return s
		}, []string{"stays as the gateway holds it"}, []string{"- name: t # succeeded on the gateway (1 of 1 devices done): applied to another gateway, it runs again"}},
		{"local firmware without a name", func() *nsapi.State {
			s := base()
			s.Tasks = []nsapi.FuotaTask{task(func(t *nsapi.FuotaTask) { t.FirmwareName = "" })}
			return s
		}, []string{"the gateway gives no firmware name", "put its firmware"}, []string{"firmwareFile: firmware/t.bin # supply this file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := export.Export(tc.state(), export.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Notes) != len(tc.notes) {
				t.Errorf("notes = %q, want %d", r.Notes, len(tc.notes))
			}
			for _, want := range tc.notes {
				found := false
				for _, n := range r.Notes {
					found = found || strings.Contains(n, want)
				}
				if !found {
					t.Errorf("no note says %q: %q", want, r.Notes)
				}
			}
			for _, want := range tc.yaml {
				if !strings.Contains(string(r.YAML), want) {
					t.Errorf("the site file does not say %q:\n%s", want, r.YAML)
				}
			}
			if strings.Contains(string(r.YAML), secretKey) || strings.Contains(strings.Join(r.Notes, "\n"), secretKey) {
				t.Errorf("a key in clear:\n%s\n%q", r.YAML, r.Notes)
			}
		})
	}
}

// TestExportOfASnapshot: a snapshot holds digests, not keys. The site
// still refers to every key; the env file lists them as to be set.
func TestExportOfASnapshot(t *testing.T) {
	st := &nsapi.State{ChannelPlan: "EU868", Applications: []nsapi.Application{{ApplicationID: "1", AppName: "cloud"}},
		Profiles: []nsapi.Profile{{Name: "ClassA-OTAA", IsDefault: true, Profile: nsapi.ProfileSettings{ProfileID: "p1", SupportsJoin: true}}},
		Devices:  []nsapi.Device{{DevEUI: "24E124136A456465", Name: "d", ApplicationID: "1", ProfileID: "p1", AppKey: secretKey, FPort: 1}}}
	st.MaskSecrets()
	r, err := export.Export(st, export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]export.Secret{{Name: "DEV_24E124136A456465_APPKEY", Field: "devices[0].appKey"}}, r.Secrets); diff != "" {
		t.Errorf("secrets (-want +got):\n%s", diff)
	}
	env := string(r.EnvFile())
	if !strings.Contains(env, "# DEV_24E124136A456465_APPKEY= (the gateway did not give this key: set it yourself)\n") || strings.Contains(env, "sha256") {
		t.Errorf("env file:\n%s", env)
	}
	if !strings.Contains(string(r.YAML), "appKey: ${env:DEV_24E124136A456465_APPKEY}") {
		t.Errorf("site file:\n%s", r.YAML)
	}
}

// TestExportIsDeterministic: the order the gateway lists things in does
// not change a byte of the export.
func TestExportIsDeterministic(t *testing.T) {
	cl := seeded(t, "")
	handMade(t, cl)
	st, err := cl.ReadState(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	opts := export.Options{Dir: "unused", Schema: "site.schema.json"}
	first, err := export.Export(st, opts)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 5; i++ {
		shuffle(rng, st.Devices)
		shuffle(rng, st.Profiles)
		shuffle(rng, st.Applications)
		shuffle(rng, st.Codecs)
		shuffle(rng, st.BuiltinCodecs)
		shuffle(rng, st.Groups)
		shuffle(rng, st.Tasks)
		for j := range st.Groups {
			shuffle(rng, st.Groups[j].Devices)
		}
		for j := range st.Tasks {
			shuffle(rng, st.Tasks[j].DevEUIs)
		}
		again, err := export.Export(st, opts)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(first, again); diff != "" {
			t.Fatalf("export of a shuffled state differs (-first +shuffled):\n%s", diff)
		}
	}
}

func shuffle[T any](rng *rand.Rand, s []T) {
	rng.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
}

// TestExportConnection: a password reference is kept; a password in clear
// becomes a reference and an env file entry.
func TestExportConnection(t *testing.T) {
	st := &nsapi.State{ChannelPlan: "EU868"}
	for _, tc := range []struct {
		name    string
		conn    site.Connection
		yaml    string
		secrets []string
	}{
		{"reference", site.Connection{Broker: "ssl://mqtt.example.net:8883", Username: "gwsync",
			Password: site.Secret{Value: "hunter2", Ref: "${file:secrets/mqtt}"}, CAFile: "ca.pem"},
			"connection:\n  broker: ssl://mqtt.example.net:8883\n  username: gwsync\n  password: ${file:secrets/mqtt}\n  caFile: ca.pem\n", nil},
		{"in clear", site.Connection{Broker: "tcp://127.0.0.1:1883", RequestTopic: "gw/{eui}/req", Password: site.Secret{Value: "hunter2"}, InsecureSkipVerify: true},
			"connection:\n  broker: tcp://127.0.0.1:1883\n  requestTopic: gw/{eui}/req\n  password: ${env:GWSYNC_MQTT_PASSWORD}\n  insecureSkipVerify: true\n",
			[]string{"GWSYNC_MQTT_PASSWORD=hunter2"}},
		{"in clear, for a shell to quote", site.Connection{Broker: "tcp://127.0.0.1:1883", Password: site.Secret{Value: "hunter2 it's $HOME"}},
			"connection:\n  broker: tcp://127.0.0.1:1883\n  password: ${env:GWSYNC_MQTT_PASSWORD}\n",
			[]string{`GWSYNC_MQTT_PASSWORD='hunter2 it'\''s $HOME'`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.conn
			r, err := export.Export(st, export.Options{Connection: &c})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(r.YAML), tc.yaml) || strings.Contains(string(r.YAML), "hunter2") || strings.Contains(strings.Join(r.Notes, " "), "hunter2") {
				t.Errorf("site file:\n%s\nwant it to hold:\n%s", r.YAML, tc.yaml)
			}
			var got []string
			for _, l := range strings.Split(string(r.EnvFile()), "\n") {
				if l != "" && !strings.HasPrefix(l, "#") {
					got = append(got, l)
				}
			}
			if diff := cmp.Diff(tc.secrets, got); diff != "" {
				t.Errorf("secrets (-want +got):\n%s", diff)
			}
			for _, n := range r.Notes {
				if strings.Contains(n, "password") {
					t.Errorf("a note about the password: %q", n)
				}
			}
		})
	}
}

// TestSiteWritesFiles: Site with a Dir writes the codec scripts the site
// file refers to, and they load back as the gateway's scripts.
func TestSiteWritesFiles(t *testing.T) {
	_, cl := newGateway(t, gwsim.Options{})
	ctx := context.Background()
	script := "function Decode(fPort, bytes) {\n  return {t: bytes[0]};\n}\n"
	if _, err := cl.CreateCodec(ctx, nsapi.CodecWrite{Name: "em300", DecoderScript: script, EncoderScript: "function Encode(o) { return [1]; }"}); err != nil {
		t.Fatal(err)
	}
	st, err := cl.ReadState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	y, err := export.Site(st, export.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "site.yaml"), y, 0o644); err != nil {
		t.Fatal(err)
	}
	s := load(t, nil, filepath.Join(dir, "site.yaml"))
	if len(s.Codecs) != 1 || s.Codecs[0].DecoderScript != script || s.Codecs[0].EncoderScript != "function Encode(o) { return [1]; }" {
		t.Errorf("codecs read back: %+v", s.Codecs)
	}
	for _, want := range []string{"decoderFile: codecs/em300.js", "encoderFile: codecs/em300.encoder.js"} {
		if !strings.Contains(string(y), want) {
			t.Errorf("site file does not say %q:\n%s", want, y)
		}
	}
	if _, changes := plan(t, cl, s); len(changes) > 0 {
		t.Errorf("plan: %q", changes)
	}
}
