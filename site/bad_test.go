package site

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// y joins lines into a file, so that a case's line numbers are easy to read:
// the first argument is line 1.
func y(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

// Keys the bad-input cases reference by ${env:…}.
var testEnv = map[string]string{
	"K1":     "0011223344556677889900aabbccddee",
	"K2":     "1111223344556677889900aabbccddee",
	"K3":     "2211223344556677889900aabbccddee",
	"K4":     "3311223344556677889900aabbccddee",
	"NOTHEX": "this-is-not-a-key-at-all-0000000",
}

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// writeTree writes files (path → content) under dir.
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// A valid OTAA device, for cases that need one (lines 2-5 after "version: 1").
var dev = []string{
	"devices:",
	"  - devEUI: 24E124136A456465",
	"    application: cloud",
	"    appKey: ${env:K1}",
}

func with(head []string, lines ...string) string {
	return y(append(append([]string{"version: 1"}, head...), lines...)...)
}

// TestBadInputs loads bad sites and checks every problem reported: its
// exact message, file, line, column and path, and nothing else.
func TestBadInputs(t *testing.T) {
	long := strings.Repeat("x", 129)
	tests := []struct {
		name  string
		files map[string]string
		load  []string // default: site.yaml
		opts  Options
		want  []string
	}{
		{
			name:  "yaml syntax",
			files: map[string]string{"site.yaml": y("version: 1", "devices: [", "")},
			want:  []string{"site.yaml:4:1: invalid YAML: did not find expected node content"},
		},
		{
			name:  "yaml flow mapping left open",
			files: map[string]string{"site.yaml": y("version: 1", "gateway: {eui: 24E124FFFEF5A6A8", "devices: []")},
			want:  []string{"site.yaml:3:8: invalid YAML: did not find expected ',' or '}' (the {…} opened at line 2, column 10)"},
		},
		{
			name:  "yaml unquoted reference in a flow mapping",
			files: map[string]string{"site.yaml": y("version: 1", "connection: {password: ${env:K1}}")},
			want:  []string{"site.yaml:2:25: invalid YAML: did not find expected ',' or '}' (inside {…}, quote references: '${env:NAME}')"},
		},
		{
			name:  "yaml tab indentation",
			files: map[string]string{"site.yaml": y("version: 1", "gateway:", "\teui: 24E124FFFEF5A6A8")},
			want:  []string{"site.yaml:3:1: invalid YAML: found character that cannot start any token (a tab: YAML indents with spaces only)"},
		},
		{
			name:  "two documents",
			files: map[string]string{"site.yaml": y("version: 1", "---", "version: 1")},
			want:  []string{"site.yaml:2:1: a site file holds one YAML document; found another here"},
		},
		{
			name:  "not a mapping",
			files: map[string]string{"site.yaml": y("- version: 1")},
			want: []string{
				"site.yaml:1:1: must be a mapping, not a list",
				"site.yaml:1:1: version: missing required field \"version\" (write version: 1)",
			},
		},
		{
			name: "reserved codec names",
			files: map[string]string{"site.yaml": y("version: 1", "codecs:", "  - name: gwsync-lock", "    decoderScript: x",
				"  - name: mine", "    renamedFrom: GWSYNC-STATE", "    decoderScript: x")},
			want: []string{
				"site.yaml:3:11: codecs[0].name: codec name \"gwsync-lock\" is reserved: gwsync keeps its own records on the gateway under it (the lock, the digests of write-only values); give the codec another name",
				"site.yaml:6:18: codecs[1].renamedFrom: codec name \"GWSYNC-STATE\" is reserved: gwsync keeps its own records on the gateway under it (the lock, the digests of write-only values); give the codec another name",
			},
		},
		{
			name:  "missing version",
			files: map[string]string{"site.yaml": y("devices: []")},
			want:  []string{"site.yaml:1:1: version: missing required field \"version\" (write version: 1)"},
		},
		{
			name:  "version 2",
			files: map[string]string{"site.yaml": y("version: 2")},
			want:  []string{"site.yaml:1:10: version: must be 1, not 2"},
		},
		{
			name:  "unknown top-level field",
			files: map[string]string{"site.yaml": y("version: 1", "device: []")},
			want:  []string{`site.yaml:2:1: device: unknown field "device", did you mean "devices"?`},
		},
		{
			name:  "field given twice",
			files: map[string]string{"site.yaml": with(dev, "    name: a", "    name: b")},
			want:  []string{`site.yaml:7:5: devices[0].name: field "name" given twice (first at line 6)`},
		},
		{
			name:  "devEUI too short",
			files: map[string]string{"site.yaml": y("version: 1", "devices:", "  - devEUI: 24E1", "    application: cloud", "    appKey: ${env:K1}")},
			want:  []string{`site.yaml:3:13: devices[0].devEUI: "24E1" is not 16 hex digits`},
		},
		{
			name:  "devEUI not hex",
			files: map[string]string{"site.yaml": y("version: 1", "devices:", "  - devEUI: 24E124136A45646Z", "    application: cloud", "    appKey: ${env:K1}")},
			want:  []string{`site.yaml:3:13: devices[0].devEUI: "24E124136A45646Z" is not 16 hex digits`},
		},
		{
			name:  "devices not a list",
			files: map[string]string{"site.yaml": y("version: 1", "devices:", "  devEUI: 24E124136A456465")},
			want:  []string{"site.yaml:3:3: devices: must be a list, not a mapping"},
		},
		{
			name:  "device without devEUI",
			files: map[string]string{"site.yaml": y("version: 1", "devices:", "  - name: em300", "    application: cloud", "    appKey: ${env:K1}")},
			want:  []string{`site.yaml:3:5: devices[0]: missing required field "devEUI"`},
		},
		{
			name:  "unknown device field",
			files: map[string]string{"site.yaml": with(dev, "    appkey: ${env:K2}")},
			want:  []string{`site.yaml:6:5: devices[0].appkey: unknown field "appkey", did you mean "appKey"?`},
		},
		{
			name:  "fPort zero",
			files: map[string]string{"site.yaml": with(dev, "    fPort: 0")},
			want:  []string{"site.yaml:6:12: devices[0].fPort: 0 is out of range 1-223"},
		},
		{
			name:  "fPort not a number",
			files: map[string]string{"site.yaml": with(dev, "    fPort: abc")},
			want:  []string{`site.yaml:6:12: devices[0].fPort: must be an integer, not "abc"`},
		},
		{
			name:  "skipFCntCheck yes",
			files: map[string]string{"site.yaml": with(dev, "    skipFCntCheck: yes")},
			want:  []string{`site.yaml:6:20: devices[0].skipFCntCheck: must be true or false, not "yes"`},
		},
		{
			name:  "mbMode typo",
			files: map[string]string{"site.yaml": with(dev, "    mbMode: tcpp")},
			want:  []string{`site.yaml:6:13: devices[0].mbMode: "tcpp" is not one of "tcp", "rtu"; did you mean "tcp"?`},
		},
		{
			name:  "mbFramePort 85",
			files: map[string]string{"site.yaml": with(dev, "    mbFramePort: 85")},
			want:  []string{"site.yaml:6:18: devices[0].mbFramePort: 85 is reserved; mbFramePort must be 2-84 or 86-223"},
		},
		{
			name:  "mbTcpPort too big",
			files: map[string]string{"site.yaml": with(dev, "    mbTcpPort: 70000")},
			want:  []string{"site.yaml:6:16: devices[0].mbTcpPort: 70000 is out of range 1-65535"},
		},
		{
			name:  "fCntUp negative",
			files: map[string]string{"site.yaml": with(dev, "    fCntUp: -1")},
			want:  []string{"site.yaml:6:13: devices[0].fCntUp: -1 is out of range 0-4294967295"},
		},
		{
			name: "devAddr seven digits",
			files: map[string]string{"site.yaml": y("version: 1", "profiles:", "  - name: abp", "devices:",
				"  - devEUI: 24E124136A456465", "    application: cloud", "    profile: abp",
				"    devAddr: 01F3A6C", "    nwkSKey: ${env:K1}", "    appSKey: ${env:K2}")},
			want: []string{`site.yaml:8:14: devices[0].devAddr: "01F3A6C" is not 8 hex digits`},
		},
		{
			name:  "appKey in clear, malformed, value not shown",
			files: map[string]string{"site.yaml": y("version: 1", "devices:", "  - devEUI: 24E124136A456465", "    application: cloud", "    appKey: 0011s3cr3t")},
			want:  []string{"site.yaml:5:13: devices[0].appKey: value is not 32 hex digits or a ${env:NAME} / ${file:PATH} reference"},
		},
		{
			name:  "env reference not set",
			files: map[string]string{"site.yaml": y("version: 1", "devices:", "  - devEUI: 24E124136A456465", "    application: cloud", "    appKey: ${env:EM300_APPKEY}")},
			want:  []string{"site.yaml:5:13: devices[0].appKey: ${env:EM300_APPKEY} is not set"},
		},
		{
			name:  "env reference not hex",
			files: map[string]string{"site.yaml": y("version: 1", "devices:", "  - devEUI: 24E124136A456465", "    application: cloud", "    appKey: ${env:NOTHEX}")},
			want:  []string{"site.yaml:5:13: devices[0].appKey: ${env:NOTHEX} is not 32 hex digits"},
		},
		{
			name:  "file reference missing",
			files: map[string]string{"site.yaml": y("version: 1", "devices:", "  - devEUI: 24E124136A456465", "    application: cloud", "    appKey: ${file:keys/em300.key}")},
			want:  []string{"site.yaml:5:13: devices[0].appKey: ${file:keys/em300.key}: cannot read keys/em300.key: no such file or directory"},
		},
		{
			name: "duplicate devEUI in another case",
			files: map[string]string{"site.yaml": with(dev,
				"  - devEUI: 24e124136a456465", "    application: cloud", "    appKey: ${env:K2}")},
			want: []string{"site.yaml:6:13: devices[1].devEUI: duplicate devEUI 24E124136A456465 (first at site.yaml:3:13)"},
		},
		{
			name: "duplicate device name",
			files: map[string]string{"site.yaml": with(dev, "    name: em300",
				"  - devEUI: 24E124136A456466", "    name: em300", "    application: cloud", "    appKey: ${env:K2}")},
			want: []string{`site.yaml:8:11: devices[1].name: duplicate device name "em300" (first at site.yaml:6:11)`},
		},
		{
			name:  "OTAA without appKey",
			files: map[string]string{"site.yaml": y("version: 1", "devices:", "  - devEUI: 24E124136A456465", "    application: cloud", "    profile: ClassC-OTAA")},
			want:  []string{"site.yaml:3:5: devices[0]: missing appKey: profile ClassC-OTAA supports join (OTAA)"},
		},
		{
			name: "ABP without session",
			files: map[string]string{"site.yaml": y("version: 1", "profiles:", "  - name: abp", "    supportsJoin: false",
				"devices:", "  - devEUI: 24E124136A456465", "    application: cloud", "    profile: abp")},
			want: []string{"site.yaml:6:5: devices[0]: missing devAddr, nwkSKey, appSKey: profile abp does not support join (ABP)"},
		},
		{
			name: "profile leaving supportsJoin out is ABP",
			files: map[string]string{"site.yaml": y("version: 1", "profiles:", "  - name: ClassC-OTAA", "    supportsClassC: true",
				"devices:", "  - devEUI: 24E124136A456465", "    application: cloud", "    profile: ClassC-OTAA", "    appKey: ${env:K1}")},
			want: []string{
				`site.yaml:3:11: warning: profiles[0].name: "ClassC-OTAA" is a built-in profile of the gateway: this changes it, and fields left out take their defaults; give your profile a name of its own`,
				"site.yaml:6:5: devices[0]: missing devAddr, nwkSKey, appSKey: profile ClassC-OTAA leaves supportsJoin out, so it is ABP (supportsJoin defaults to false)",
			},
		},
		{
			name:  "missing application",
			files: map[string]string{"site.yaml": y("version: 1", "devices:", "  - devEUI: 24E124136A456465", "    appKey: ${env:K1}")},
			want:  []string{"site.yaml:3:5: devices[0]: missing application (give it here or in deviceDefaults)"},
		},
		{
			name:  "profile name starts with a digit",
			files: map[string]string{"site.yaml": y("version: 1", "profiles:", "  - name: 1st-floor")},
			want:  []string{`site.yaml:3:11: profiles[0].name: "1st-floor" is not a profile name (up to 64 letters, digits, "-" or "_", the first a letter)`},
		},
		{
			name:  "profile macVersion",
			files: map[string]string{"site.yaml": y("version: 1", "profiles:", "  - name: p", "    macVersion: 1.0.3")},
			want:  []string{`site.yaml:4:17: profiles[0].macVersion: "1.0.3" is not one of "1.0.0", "1.0.1", "1.0.2", "1.1.0"; did you mean "1.0.0"?`},
		},
		{
			name:  "profile rxDROffset1",
			files: map[string]string{"site.yaml": y("version: 1", "profiles:", "  - name: p", "    rxDROffset1: 6")},
			want:  []string{"site.yaml:4:18: profiles[0].rxDROffset1: 6 is out of range 0-5"},
		},
		{
			name:  "profile pingSlotPeriod",
			files: map[string]string{"site.yaml": y("version: 1", "profiles:", "  - name: p", "    pingSlotPeriod: 100")},
			want:  []string{"site.yaml:4:21: profiles[0].pingSlotPeriod: 100 is not one of 32, 64, 128, 256, 512, 1024, 2048, 4096"},
		},
		{
			name:  "profile classBTimeout",
			files: map[string]string{"site.yaml": y("version: 1", "profiles:", "  - name: p", "    classBTimeout: 11")},
			want:  []string{"site.yaml:4:20: profiles[0].classBTimeout: 11 is out of range 0-10"},
		},
		{
			name: "profile rxFreq2 outside the plan",
			files: map[string]string{"site.yaml": y("version: 1", "gateway:", "  channelPlan: EU868",
				"profiles:", "  - name: p", "    rxFreq2: 915000000")},
			want: []string{"site.yaml:6:14: profiles[0].rxFreq2: 915000000 Hz is outside EU868's range 863000000-870000000 Hz"},
		},
		{
			name:  "profile data rate the plan lacks (plan from options)",
			files: map[string]string{"site.yaml": y("version: 1", "profiles:", "  - name: p", "    pingSlotDR: 7")},
			opts:  Options{ChannelPlan: "US915"},
			want:  []string{"site.yaml:4:17: profiles[0].pingSlotDR: data rate 7 is not one US915 offers (0–4, 8–13)"},
		},
		{
			name:  "unknown channel plan option",
			files: map[string]string{"site.yaml": y("version: 1")},
			opts:  Options{ChannelPlan: "EU433"},
			want:  []string{`unknown channel plan "EU433" (known: AS923-1, AS923-2, AS923-3, AS923-4, AU915, CN470, EU868, IN865, KR920, RU864, US915)`},
		},
		{
			name:  "gateway channelPlan typo",
			files: map[string]string{"site.yaml": y("version: 1", "gateway:", "  channelPlan: EU686")},
			want:  []string{`site.yaml:3:16: gateway.channelPlan: "EU686" is not one of "CN470", "EU868", "IN865", "RU864", "KR920", "US915", "AU915", "AS923-1", "AS923-2", "AS923-3", "AS923-4"; did you mean "EU868"?`},
		},
		{
			name:  "gateway eui",
			files: map[string]string{"site.yaml": y("version: 1", "gateway:", "  eui: 24E124FFFEF5A6")},
			want:  []string{`site.yaml:3:8: gateway.eui: "24E124FFFEF5A6" is not 16 hex digits`},
		},
		{
			name:  "broker URL",
			files: map[string]string{"site.yaml": y("version: 1", "connection:", "  broker: http://gw:1883")},
			want:  []string{`site.yaml:3:11: connection.broker: "http://gw:1883" is not a broker URL (tcp://, ssl://, ws://, wss:// or sim://)`},
		},
		{
			name:  "prune kind typo",
			files: map[string]string{"site.yaml": y("version: 1", "prune:", "  device: true")},
			want:  []string{`site.yaml:3:3: prune.device: unknown field "device", did you mean "devices"?`},
		},
		{
			name:  "prune not a bool",
			files: map[string]string{"site.yaml": y("version: 1", "prune: all")},
			want:  []string{`site.yaml:2:8: prune: must be true or false or a mapping, not "all"`},
		},
		{
			name:  "duplicate profile",
			files: map[string]string{"site.yaml": y("version: 1", "profiles:", "  - name: p", "  - name: p")},
			want:  []string{`site.yaml:4:11: profiles[1].name: duplicate profile name "p" (first at site.yaml:3:11)`},
		},
		{
			name:  "renamedFrom own name",
			files: map[string]string{"site.yaml": y("version: 1", "codecs:", "  - name: c", "    renamedFrom: c")},
			want:  []string{"site.yaml:4:18: codecs[0].renamedFrom: renamedFrom is the codec's own name"},
		},
		{
			name:  "codec script inline and from a file",
			files: map[string]string{"site.yaml": y("version: 1", "codecs:", "  - name: c", "    decoderScript: x", "    decoderFile: c.js"), "c.js": "x"},
			want:  []string{"site.yaml:5:18: codecs[0].decoderFile: give decoderScript or decoderFile, not both"},
		},
		{
			name:  "codec script file missing",
			files: map[string]string{"site.yaml": y("version: 1", "codecs:", "  - name: c", "    decoderFile: codecs/c.js")},
			want:  []string{"site.yaml:4:18: codecs[0].decoderFile: cannot read codecs/c.js: no such file or directory"},
		},
		{
			name:  "group name too long",
			files: map[string]string{"site.yaml": y("version: 1", "multicastGroups:", "  - name: "+long, "    mcNwkSKey: ${env:K1}", "    mcAppSKey: ${env:K2}")},
			want:  []string{"site.yaml:3:11: multicastGroups[0].name: is 129 characters long, more than 128"},
		},
		{
			name:  "group type",
			files: map[string]string{"site.yaml": y("version: 1", "multicastGroups:", "  - name: g", "    groupType: CLASS_A", "    mcNwkSKey: ${env:K1}", "    mcAppSKey: ${env:K2}")},
			want:  []string{`site.yaml:4:16: multicastGroups[0].groupType: "CLASS_A" is not one of "CLASS_B", "CLASS_C"; did you mean "CLASS_B"?`},
		},
		{
			name: "group member twice and one unknown",
			files: map[string]string{"site.yaml": with(dev, "multicastGroups:", "  - name: g", "    mcNwkSKey: ${env:K2}", "    mcAppSKey: ${env:K3}",
				"    devices: [24E124136A456465, 24e124136a456465, '24E1247151234568']")},
			want: []string{
				"site.yaml:10:33: multicastGroups[0].devices[1]: 24E124136A456465 is listed twice (also devices[0])",
				"site.yaml:10:51: warning: multicastGroups[0].devices[2]: 24E1247151234568 is not a device of this site; the gateway must already hold it to join the group",
			},
		},
		{
			name: "group data rate and frequency",
			files: map[string]string{"site.yaml": y("version: 1", "gateway: {channelPlan: EU868}", "multicastGroups:", "  - name: g",
				"    mcNwkSKey: ${env:K1}", "    mcAppSKey: ${env:K2}", "    dr: 7", "    frequency: 869525050")},
			want: []string{
				"site.yaml:7:9: multicastGroups[0].dr: data rate 7 is not one EU868 offers (0–6)",
				"site.yaml:8:16: multicastGroups[0].frequency: 869525050 is not a multiple of 100",
			},
		},
		{
			name: "FUOTA fragment size above 250",
			files: map[string]string{"site.yaml": y("version: 1", "firmwareUpdates:", "  - name: t", "    startAt: 2026-12-01T02:00:00Z",
				"    devices: ['24E1247151234568']", "    official: {model: WT201, version: v1.4}", "    fragment: {size: 251, intervalMs: 5000, redundancy: 30}")},
			want: []string{
				"site.yaml:5:15: warning: firmwareUpdates[0].devices[0]: 24E1247151234568 is not a device of this site; the gateway must already hold it to be updated",
				"site.yaml:7:22: firmwareUpdates[0].fragment.size: 251 is out of range 1-250",
			},
		},
		{
			name: "FUOTA fragment bigger than the data rate carries",
			files: map[string]string{"site.yaml": with(dev, "gateway: {channelPlan: EU868}", "firmwareUpdates:", "  - name: t", "    startAt: 2026-12-01T02:00:00Z",
				"    devices: [24E124136A456465]", "    official: {model: WT201, version: v1.4}", "    fragment: {size: 120, intervalMs: 5000, redundancy: 30}",
				"    multicast: {dr: 3}")},
			want: []string{"site.yaml:12:22: firmwareUpdates[0].fragment.size: 120 bytes is more than data rate 3 carries on EU868: at most 110 (maximum payload 115 less the 5-byte fragment header)"},
		},
		{
			name: "FUOTA interval and redundancy",
			files: map[string]string{"site.yaml": with(dev, "firmwareUpdates:", "  - name: t", "    startAt: 2026-12-01T02:00:00Z",
				"    devices: [24E124136A456465]", "    official: {model: WT201, version: v1.4}", "    fragment: {size: 50, intervalMs: 500, redundancy: 101}")},
			want: []string{
				"site.yaml:11:38: firmwareUpdates[0].fragment.intervalMs: 500 is out of range 1000-10000",
				"site.yaml:11:55: firmwareUpdates[0].fragment.redundancy: 101 is out of range 0-100",
			},
		},
		{
			name: "FUOTA startAt not a time",
			files: map[string]string{"site.yaml": with(dev, "firmwareUpdates:", "  - name: t", "    startAt: tomorrow",
				"    devices: [24E124136A456465]", "    official: {model: WT201, version: v1.4}", "    fragment: {size: 50, intervalMs: 5000, redundancy: 10}")},
			want: []string{`site.yaml:8:14: firmwareUpdates[0].startAt: "tomorrow" is not an RFC 3339 time (2026-12-01T02:00:00Z)`},
		},
		{
			name: "FUOTA startAt with a space",
			files: map[string]string{"site.yaml": with(dev, "firmwareUpdates:", "  - name: t", "    startAt: 2026-12-01 02:00:00Z",
				"    devices: [24E124136A456465]", "    official: {model: WT201, version: v1.4}", "    fragment: {size: 40, intervalMs: 5000, redundancy: 10}")},
			want: []string{`site.yaml:8:14: firmwareUpdates[0].startAt: "2026-12-01 02:00:00Z" is not an RFC 3339 time (2026-12-01T02:00:00Z)`},
		},
		{
			name: "FUOTA startAt with fractional seconds",
			files: map[string]string{"site.yaml": with(dev, "firmwareUpdates:", "  - name: t", "    startAt: '2026-12-01T03:00:00.5+01:00'",
				"    devices: [24E124136A456465]", "    official: {model: WT201, version: v1.4}", "    fragment: {size: 40, intervalMs: 5000, redundancy: 10}")},
			want: []string{`site.yaml:8:14: firmwareUpdates[0].startAt: "2026-12-01T03:00:00.5+01:00" has fractional seconds (.5, from character 20): ` +
				`the gateway keeps whole seconds, so the task would never match the site; write 2026-12-01T02:00:00.000Z or 2026-12-01T02:00:01.000Z`},
		},
		{
			name:  "device name within 64 characters but not 64 bytes",
			files: map[string]string{"site.yaml": with(dev, "    name: "+strings.Repeat("é", 64))},
			want:  []string{"site.yaml:6:11: devices[0].name: is 128 bytes long (64 characters), more than 64: the gateway counts bytes of UTF-8, not characters"},
		},
		{
			name: "CSV device description within 1024 characters but not 1024 bytes",
			files: map[string]string{"site.yaml": y("version: 1", "devicesFrom: d.csv"),
				"d.csv": "devEUI,application,appKey,description\n24E124136A456465,cloud,${env:K1}," + strings.Repeat("€", 342) + "\n"},
			want: []string{"d.csv:2:34: description: is 1026 bytes long (342 characters), more than 1024: the gateway counts bytes of UTF-8, not characters"},
		},
		{
			name: "AS923 fragment under the dwell-time limit",
			files: map[string]string{"site.yaml": with(dev, "gateway: {channelPlan: AS923-1}", "firmwareUpdates:", "  - name: t", "    startAt: 2026-12-01T02:00:00Z",
				"    devices: [24E124136A456465]", "    official: {model: WT201, version: v1.4}", "    fragment: {size: 40, intervalMs: 5000, redundancy: 10}",
				"  - name: u", "    startAt: 2026-12-01T02:00:00Z",
				"    devices: [24E124136A456465]", "    official: {model: WT201, version: v1.4}", "    fragment: {size: 1, intervalMs: 5000, redundancy: 10}", "    multicast: {dr: 1}")},
			want: []string{
				"site.yaml:12:22: firmwareUpdates[0].fragment.size: 40 bytes is more than data rate 2 carries on AS923-1 with the 400 ms dwell-time limit (gateway.dwellTime: false lifts it): at most 6 (maximum payload 11 less the 5-byte fragment header)",
				"site.yaml:17:22: firmwareUpdates[1].fragment.size: data rate 1 carries no FUOTA fragment on AS923-1 with the 400 ms dwell-time limit (gateway.dwellTime: false lifts it): use a faster data rate",
			},
		},
		{
			name: "AS923 without the dwell-time limit",
			files: map[string]string{"site.yaml": with(dev, "gateway: {channelPlan: AS923-1, dwellTime: false}", "firmwareUpdates:", "  - name: t", "    startAt: 2026-12-01T02:00:00Z",
				"    devices: [24E124136A456465]", "    official: {model: WT201, version: v1.4}", "    fragment: {size: 40, intervalMs: 5000, redundancy: 10}")},
			want: nil,
		},
		{
			name:  "dwellTime outside AS923",
			files: map[string]string{"site.yaml": with(dev, "gateway: {channelPlan: EU868, dwellTime: true}")},
			want:  []string{"site.yaml:6:42: warning: gateway.dwellTime: EU868 has no dwell-time limit: dwellTime applies to AS923 only"},
		},
		{
			name: "FUOTA startAt month 13",
			files: map[string]string{"site.yaml": with(dev, "firmwareUpdates:", "  - name: t", "    startAt: 2026-13-01T02:00:00Z",
				"    devices: [24E124136A456465]", "    official: {model: WT201, version: v1.4}", "    fragment: {size: 50, intervalMs: 5000, redundancy: 10}")},
			want: []string{`site.yaml:8:14: firmwareUpdates[0].startAt: "2026-13-01T02:00:00Z" is not an RFC 3339 time: month out of range`},
		},
		{
			name: "FUOTA both firmware sources",
			files: map[string]string{"site.yaml": with(dev, "firmwareUpdates:", "  - name: t", "    startAt: 2026-12-01T02:00:00Z",
				"    devices: [24E124136A456465]", "    firmwareFile: fw.bin", "    official: {model: WT201, version: v1.4}",
				"    fragment: {size: 50, intervalMs: 5000, redundancy: 10}"), "fw.bin": "firmware"},
			want: []string{"site.yaml:11:15: firmwareUpdates[0].official: give firmwareFile or official, not both"},
		},
		{
			name: "FUOTA no firmware",
			files: map[string]string{"site.yaml": with(dev, "firmwareUpdates:", "  - name: t", "    startAt: 2026-12-01T02:00:00Z",
				"    devices: [24E124136A456465]", "    fragment: {size: 50, intervalMs: 5000, redundancy: 10}")},
			want: []string{"site.yaml:7:5: firmwareUpdates[0]: missing firmware: give firmwareFile or official (or firmwareName alone, for the firmware the gateway holds)"},
		},
		{
			name: "FUOTA firmware file missing",
			files: map[string]string{"site.yaml": with(dev, "firmwareUpdates:", "  - name: t", "    startAt: 2026-12-01T02:00:00Z",
				"    devices: [24E124136A456465]", "    firmwareFile: firmware/wt201.bin", "    fragment: {size: 50, intervalMs: 5000, redundancy: 10}")},
			want: []string{"site.yaml:10:19: firmwareUpdates[0].firmwareFile: cannot read firmware/wt201.bin: no such file or directory"},
		},
		{
			name: "FUOTA too many fragments",
			files: map[string]string{"site.yaml": with(dev, "firmwareUpdates:", "  - name: t", "    startAt: 2026-12-01T02:00:00Z",
				"    devices: [24E124136A456465]", "    firmwareFile: big.bin", "    fragment: {size: 50, intervalMs: 5000, redundancy: 30}"),
				"big.bin": strings.Repeat("\x00", 700000)},
			want: []string{"site.yaml:11:22: firmwareUpdates[0].fragment.size: big.bin (700000 bytes) makes 18200 fragments with 30% redundancy, more than 16383; use larger fragments or less redundancy"},
		},
		{
			name: "FUOTA missing fragment",
			files: map[string]string{"site.yaml": with(dev, "firmwareUpdates:", "  - name: t", "    startAt: 2026-12-01T02:00:00Z",
				"    devices: [24E124136A456465]", "    official: {model: WT201, version: v1.4}")},
			want: []string{`site.yaml:7:5: firmwareUpdates[0]: missing required field "fragment"`},
		},
		{
			name: "deviceDefaults value reported where it is written",
			files: map[string]string{"site.yaml": y("version: 1", "deviceDefaults:", "  application: cloud", "  fPort: 224",
				"devices:", "  - devEUI: 24E124136A456465", "    appKey: ${env:K1}")},
			want: []string{"site.yaml:4:10: deviceDefaults.fPort: 224 is out of range 1-223"},
		},
		{
			name: "block in two files",
			files: map[string]string{
				"site/a.yaml": y("version: 1", "gateway:", "  eui: 24E124FFFEF5A6A8"),
				"site/b.yaml": y("gateway:", "  eui: 24E124FFFEF5A6A9"),
			},
			load: []string{"site"},
			want: []string{"site/b.yaml:1:1: gateway: also given at site/a.yaml:2:1; it may appear in one file of a site only"},
		},
		{
			name: "device twice across files",
			files: map[string]string{
				"site/a.yaml": with(dev),
				"site/b.yaml": y("devices:", "  - devEUI: 24E124136A456465", "    application: cloud", "    appKey: ${env:K2}"),
			},
			load: []string{"site"},
			want: []string{"site/b.yaml:2:13: devices[0].devEUI: duplicate devEUI 24E124136A456465 (first at site/a.yaml:3:13)"},
		},
		{
			name: "CSV unknown column",
			files: map[string]string{
				"site.yaml":   y("version: 1", "devicesFrom: devices.csv"),
				"devices.csv": y("devEUI,appkey", "24E124136A456465,${env:K1}"),
			},
			want: []string{`devices.csv:1:8: appkey: unknown column "appkey", did you mean "appKey"?`},
		},
		{
			name: "CSV bad cells",
			files: map[string]string{
				"site.yaml": y("version: 1", "deviceDefaults: {application: cloud}", "devicesFrom: [devices.csv]"),
				"devices.csv": y("devEUI,name,fPort,appKey",
					"24E124136A456465,a,1,${env:K1}",
					"24E124136A45646,b,x,${env:K2}",
					"24E124136A456467,c,300,${env:NOPE}"),
			},
			want: []string{
				`devices.csv:3:1: devEUI: "24E124136A45646" is not 16 hex digits`,
				`devices.csv:3:19: fPort: must be an integer, not "x"`,
				"devices.csv:4:20: fPort: 300 is out of range 1-223",
				"devices.csv:4:24: appKey: ${env:NOPE} is not set",
			},
		},
		{
			name: "CSV file missing",
			files: map[string]string{
				"site.yaml": y("version: 1", "devicesFrom:", "  - devices/em300.csv"),
			},
			want: []string{"site.yaml:3:5: devicesFrom[0]: cannot read devices/em300.csv: no such file or directory"},
		},
		{
			name: "CSV without devEUI column",
			files: map[string]string{
				"site.yaml":   y("version: 1", "devicesFrom: devices.csv"),
				"devices.csv": y("name,appKey", "a,${env:K1}"),
			},
			want: []string{`devices.csv:1:1: missing required column "devEUI"`},
		},
		{
			name: "CSV row with too many fields",
			files: map[string]string{
				"site.yaml":   y("version: 1", "deviceDefaults: {application: cloud}", "devicesFrom: devices.csv"),
				"devices.csv": y("devEUI,appKey", "24E124136A456465,${env:K1},extra"),
			},
			want: []string{"devices.csv:2:1: row has 3 fields, the header 2"},
		},
		{
			name: "CSV with a byte order mark and quoted header",
			files: map[string]string{
				"site.yaml":   y("version: 1", "deviceDefaults: {application: cloud}", "devicesFrom: devices.csv"),
				"devices.csv": "\ufeff" + y(`"devEUI","name","appKey"`, `"24E124136A456465","a","${env:K1}"`, `24E124136A456466,b,${env:NOPE}`),
			},
			want: []string{"devices.csv:3:20: appKey: ${env:NOPE} is not set"},
		},
		{
			name: "CSV separated by semicolons",
			files: map[string]string{
				"site.yaml":   y("version: 1", "devicesFrom: devices.csv"),
				"devices.csv": y("devEUI;name;appKey", "24E124136A456465;a;${env:K1}"),
			},
			want: []string{`devices.csv:1:1: columns are separated by ";": separate them by commas (devEUI,name,appKey,...)`},
		},
		{
			name: "CSV without a header row",
			files: map[string]string{
				"site.yaml":   y("version: 1", "devicesFrom: devices.csv"),
				"devices.csv": y("24E124136A456465,${env:K1}"),
			},
			want: []string{`devices.csv:1:1: missing required column "devEUI": the first row must be a header naming the fields (devEUI,name,appKey,...)`},
		},
		{
			name: "CSV without a header row, a key in clear",
			files: map[string]string{
				"site.yaml":   y("version: 1", "devicesFrom: devices.csv"),
				"devices.csv": y("24E124136A456465,a,0011223344556677889900aabbccddee"),
			},
			want: []string{`devices.csv:1:1: missing required column "devEUI": the first row must be a header naming the fields (devEUI,name,appKey,...)`},
		},
		{
			name: "CSV header with a key for a column name",
			files: map[string]string{
				"site.yaml":   y("version: 1", "devicesFrom: devices.csv"),
				"devices.csv": y("devEUI,0011223344556677889900aabbccddee", "24E124136A456465,x"),
			},
			want: []string{`devices.csv:1:8: unknown column (sensitive value): it looks like a key, not a field name`},
		},
		{
			name:  "alias bomb",
			files: map[string]string{"site.yaml": aliasBomb()},
			want:  []string{"site.yaml:1:1: document too large or too deep once aliases are expanded (more than 2000000 values or 100 levels)"},
		},
		{
			name: "keys: default, all-zero, in clear, shared",
			files: map[string]string{"site.yaml": y("version: 1",
				"devices:",
				"  - devEUI: 24E124136A456465",
				"    application: cloud",
				"    appKey: 5572404C696E6B4C6F52613230313823",
				"  - devEUI: 24E124136A456466",
				"    application: cloud",
				"    appKey: 00000000000000000000000000000000",
				"multicastGroups:",
				"  - name: g",
				"    mcNwkSKey: ${env:K1}",
				"    mcAppSKey: ${env:K1}")},
			want: []string{
				"site.yaml:5:13: warning: devices[0].appKey: key written in clear in the site file; use ${env:NAME} or ${file:PATH}",
				"site.yaml:5:13: warning: devices[0].appKey: is the spec's published default key: anyone can use it; set a key of your own",
				"site.yaml:8:13: warning: devices[1].appKey: the value is read as a number by YAML 1.2 tools (editors, other schema validators), which then reject it: quote it",
				"site.yaml:8:13: warning: devices[1].appKey: key written in clear in the site file; use ${env:NAME} or ${file:PATH}",
				"site.yaml:8:13: warning: devices[1].appKey: is an all-zero key; set a random key",
				"site.yaml:11:16: warning: multicastGroups[0].mcNwkSKey: same key as multicast group g (mcAppSKey); give every device and group its own key",
				"site.yaml:12:16: warning: multicastGroups[0].mcAppSKey: same key as multicast group g (mcNwkSKey); give every device and group its own key",
			},
		},
		{
			name:  "group keys left out",
			files: map[string]string{"site.yaml": y("version: 1", "multicastGroups:", "  - name: g", "    mcAppSKey: ${env:K1}")},
			want:  []string{"site.yaml:3:5: warning: multicastGroups[0]: mcNwkSKey left out: the gateway uses the spec's published default key; set a key of your own"},
		},
		{
			name:  "strict makes warnings errors",
			files: map[string]string{"site.yaml": y("version: 1", "connection:", "  password: hunter2")},
			opts:  Options{Strict: true},
			want:  []string{"site.yaml:3:13: connection.password: password written in clear in the site file; use ${env:NAME} or ${file:PATH}"},
		},
		{
			name:  "one file named twice",
			files: map[string]string{"site/a.yaml": with(dev)},
			load:  []string{"site", "site/a.yaml", "./site/a.yaml"},
			want:  nil,
		},
		{
			name:  "a profile named as a built-in",
			files: map[string]string{"site.yaml": y("version: 1", "profiles:", "  - name: ClassC-OTAA", "    supportsJoin: true")},
			want: []string{`site.yaml:3:11: warning: profiles[0].name: "ClassC-OTAA" is a built-in profile of the gateway: this changes it, and fields left out take their defaults; ` +
				`give your profile a name of its own`},
		},
		{
			name: "device name over two lines",
			files: map[string]string{
				"site.yaml":   y("version: 1", "deviceDefaults: {application: cloud}", "devices:", `  - {devEUI: 24E124136A456465, name: "a\tb", appKey: "${env:K1}"}`, "devicesFrom: devices.csv"),
				"devices.csv": y("devEUI,name,appKey", `24E124136A456466,"multi`, `line",${env:K2}`),
			},
			want: []string{
				`devices.csv:2:18: name: "multi\nline" is not one line of text (it holds a line break, tab or other control character)`,
				`site.yaml:4:38: devices[0].name: "a\tb" is not one line of text (it holds a line break, tab or other control character)`,
			},
		},
		{
			name: "frequency in MHz",
			files: map[string]string{"site.yaml": y("version: 1", "profiles:", "  - name: p", "    rxFreq2: 869.525", "multicastGroups:", "  - name: g",
				"    mcNwkSKey: ${env:K1}", "    mcAppSKey: ${env:K2}", "    frequency: 869.5")},
			want: []string{
				"site.yaml:4:14: profiles[0].rxFreq2: must be an integer, not 869.525 (frequencies are in Hz: 869525000)",
				"site.yaml:9:16: multicastGroups[0].frequency: must be an integer, not 869.5 (frequencies are in Hz: 869500000)",
			},
		},
		{
			name:  "YAML not in UTF-8",
			files: map[string]string{"site.yaml": y("version: 1", "codecs:", "  - name: c", "    description: caf\xe9")},
			want:  []string{"site.yaml:4:21: not UTF-8 text: save the file as UTF-8"},
		},
		{
			name:  "YAML in UTF-16",
			files: map[string]string{"site.yaml": "\xff\xfev\x00e\x00r\x00"},
			want:  []string{"site.yaml:1:1: not UTF-8 text: save the file as UTF-8"},
		},
		{
			name: "CSV not in UTF-8",
			files: map[string]string{
				"site.yaml":   y("version: 1", "deviceDefaults: {application: cloud}", "devicesFrom: devices.csv"),
				"devices.csv": y("devEUI,name,appKey", "24E124136A456465,caf\xe9,${env:K1}"),
			},
			want: []string{"devices.csv:2:21: not UTF-8 text: save the file as UTF-8"},
		},
		{
			name: "codec script file not in UTF-8",
			files: map[string]string{
				"site.yaml": y("version: 1", "codecs:", "  - name: c", "    decoderFile: c.js"),
				"c.js":      "// temperature, 0.1 \xb0C\nfunction Decode(fPort, bytes) { return {}; }\n",
			},
			want: []string{"site.yaml:4:18: codecs[0].decoderFile: c.js is not UTF-8 text (line 1): save it as UTF-8"},
		},
		{
			name:  "site path missing",
			files: map[string]string{},
			load:  []string{"nowhere.yaml"},
			want:  []string{"nowhere.yaml: cannot read: no such file or directory"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, tt.files)
			t.Chdir(dir)
			opts := tt.opts
			if opts.LookupEnv == nil {
				opts.LookupEnv = lookup(testEnv)
			}
			load := tt.load
			if load == nil {
				load = []string{"site.yaml"}
			}
			s, problems := Load(opts, load...)
			var got []string
			for _, p := range problems {
				got = append(got, p.Error())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			if problems.HasErrors() != (s == nil) {
				t.Errorf("site is nil: %v, but errors: %v", s == nil, problems.HasErrors())
			}
		})
	}
	if len(tests) < 40 {
		t.Errorf("only %d bad inputs", len(tests))
	}
}

// aliasBomb is a site file whose aliases expand to millions of values.
func aliasBomb() string {
	lines := []string{"version: 1", `x-a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]`}
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h"} {
		lines = append(lines, fmt.Sprintf("x-%s: &%s [%s]", n, n, strings.TrimSuffix(strings.Repeat("*"+prev+",", 9), ",")))
		prev = n
	}
	return y(lines...)
}
