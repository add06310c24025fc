package site

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestOfflineUnsetReferences: an offline load (validate, plan --state)
// takes an unset ${env:} or a missing ${file:} as a warning that the value
// is needed by plan and apply; a load that will send values keeps it an
// error. GWSYNC_PASSWORD standing in makes the password reference moot.
func TestOfflineUnsetReferences(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"site.yaml": y(
		"version: 1",
		"connection:",
		"  broker: tcp://127.0.0.1:1883",
		"  password: ${env:MQTT_PW}",
		"devices:",
		"  - devEUI: '24E124136A456465'",
		"    application: cloud",
		"    appKey: ${env:EM300_APPKEY}",
		"multicastGroups:",
		"  - name: lights",
		"    mcNwkSKey: ${file:secrets/nwk}",
		"    mcAppSKey: ${env:MC_APP}",
	)})
	f := filepath.Join(dir, "site.yaml")
	none := func(string) (string, bool) { return "", false }
	msgs := func(ps Problems) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Severity.String()+" "+p.Error()[len(f):])
		}
		return out
	}

	s, probs := Load(Options{LookupEnv: none, Offline: true}, f)
	want := []string{
		"warning :4:13: warning: connection.password: ${env:MQTT_PW} is not set: needed by plan and apply",
		"warning :8:13: warning: devices[0].appKey: ${env:EM300_APPKEY} is not set: needed by plan and apply",
		"warning :11:16: warning: multicastGroups[0].mcNwkSKey: ${file:secrets/nwk}: cannot read " + filepath.Join(dir, "secrets/nwk") + ": no such file or directory: needed by plan and apply",
		"warning :12:16: warning: multicastGroups[0].mcAppSKey: ${env:MC_APP} is not set: needed by plan and apply",
	}
	if diff := cmp.Diff(want, msgs(probs)); diff != "" {
		t.Errorf("offline problems (-want +got):\n%s", diff)
	}
	if s == nil {
		t.Fatal("offline load: no site, want a valid site with warnings")
	}
	if !s.Devices[0].AppKey.Unset || s.Devices[0].AppKey.Value != "" {
		t.Errorf("appKey = %+v, want Unset and no value", s.Devices[0].AppKey)
	}

	// GWSYNC_PASSWORD stands in for the site's password: no word about it.
	_, probs = Load(Options{LookupEnv: none, Offline: true, PasswordGiven: true}, f)
	if got := msgs(probs); len(got) != 3 || got[0] != want[1] {
		t.Errorf("with the password given: %q, want the three key warnings only", got)
	}

	// Online (plan against the gateway, apply) the same references are errors.
	s, probs = Load(Options{LookupEnv: none, PasswordGiven: true}, f)
	if s != nil || len(probs.Errors()) != 3 {
		t.Errorf("online load: site %v, errors %q; want no site and 3 errors", s != nil, msgs(probs))
	}
}

// TestHasBandValues: only values whose range depends on the channel plan
// make plan check the site again against the gateway's plan.
func TestHasBandValues(t *testing.T) {
	f := int64(869525000)
	for _, tc := range []struct {
		name string
		s    Site
		want bool
	}{
		{"devices only", Site{Devices: []Device{{DevEUI: "24E124136A456465"}}}, false},
		{"group without radio values", Site{MulticastGroups: []MulticastGroup{{Name: "g"}}}, false},
		{"group frequency", Site{MulticastGroups: []MulticastGroup{{Name: "g", Frequency: &f}}}, true},
		{"profile RX2 frequency", Site{Profiles: []Profile{{Name: "p", RxFreq2: &f}}}, true},
		{"a FUOTA task", Site{FirmwareUpdates: []FirmwareUpdate{{Name: "t"}}}, true},
	} {
		if got := tc.s.HasBandValues(); got != tc.want {
			t.Errorf("%s: HasBandValues() = %v, want %v", tc.name, got, tc.want)
		}
	}
}
