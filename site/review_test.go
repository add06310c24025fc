package site

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// loadMsgs loads files (name → text) offline and returns every problem,
// file names relative to the folder.
func loadMsgs(t *testing.T, files map[string]string, opts Options) []string {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, files)
	if opts.LookupEnv == nil {
		opts.LookupEnv = lookup(testEnv)
	}
	_, probs := Load(opts, filepath.Join(dir, "site.yaml"))
	var out []string
	for _, p := range probs {
		out = append(out, strings.TrimPrefix(p.Error(), dir+string(filepath.Separator)))
	}
	return out
}

// TestYAMLErrorLines: a YAML syntax error is reported at the line that is
// wrong, not at the start of the list or block around it.
func TestYAMLErrorLines(t *testing.T) {
	var long []string
	for i := 0; i < 300; i++ {
		long = append(long, fmt.Sprintf("  - devEUI: '24E12413%08X'", i), "    application: cloud", "    appKey: ${env:K1}")
	}
	for _, tc := range []struct {
		name, text, want string
	}{
		{"sibling key out of the list item", y("version: 1", "profiles:", "  - name: a", "    supportsJoin: true", "  name: b"),
			"site.yaml:5:3: invalid YAML: did not find expected '-' indicator"},
		{"a tab in the indentation", y("version: 1", "devices:", "  - devEUI: '24E124136A456465'", "\tname: a"),
			"site.yaml:4:1: invalid YAML: found character that cannot start any token (a tab: YAML indents with spaces only)"},
		{"one space too few", y("version: 1", "gateway:", "  eui: '24E124FFFEF5A6A8'", " channelPlan: EU868"),
			"site.yaml:4:2: invalid YAML: did not find expected key"},
		{"bad indentation 900 lines into a list",
			"version: 1\ndevices:\n" + strings.Join(long, "\n") + "\n   name: stray\n",
			"site.yaml:903:4: invalid YAML: did not find expected '-' indicator"},
		{"one space too many", y("version: 1", "devices:", "  - devEUI: '24E124136A456465'", "     name: a"),
			"site.yaml:4:6: invalid YAML: did not find expected key"},
		{"a character that cannot start a value", y("version: 1", "gateway:", "  eui: @24E124FFFEF5A6A8"),
			"site.yaml:3:8: invalid YAML: found character that cannot start any token"},
		{"a list left open", y("version: 1", "gateway:", "  channels: [1, 2", "  eui: '24E124FFFEF5A6A8'"),
			"site.yaml:4:6: invalid YAML: did not find expected ',' or ']' (the […] opened at line 3, column 13)"},
		{"a quote left open", y("version: 1", "gateway:", "  eui: '24E124FFFEF5A6A8", "  channelPlan: EU868"),
			"site.yaml:5:1: invalid YAML: found unexpected end of stream (the quoted string opened at line 3, column 8)"},
		{"an unknown directive", y("%FOO bar", "---", "version: 1"),
			"site.yaml:1:5: invalid YAML: found unknown directive name"},
		{"an alias to no anchor", y("version: 1", "gateway:", "  eui: *gw"),
			"site.yaml:3:8: invalid YAML: unknown anchor 'gw' referenced"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := loadMsgs(t, map[string]string{"site.yaml": tc.text}, Options{})
			if diff := cmp.Diff([]string{tc.want}, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestDidYouMean: a profile or codec name that is neither in the site nor
// built in, but close to one that is, gets a "did you mean" warning at
// validate time; a name far from any is left to plan (the gateway may hold
// it).
func TestDidYouMean(t *testing.T) {
	got := loadMsgs(t, map[string]string{"site.yaml": y(
		"version: 1",
		"profiles:",
		"  - {name: WT201-ClassC, supportsJoin: true, supportsClassC: true}",
		"codecs:",
		"  - {name: em300-th}",
		"devices:",
		"  - {devEUI: '24E124136A456465', application: cloud, appKey: '${env:K1}', profile: ClassA-OTA}",
		"  - {devEUI: '24E124136A456466', application: cloud, appKey: '${env:K2}', profile: WT201-classc, codec: em300_th}",
		"  - {devEUI: '24E124136A456467', application: cloud, appKey: '${env:K3}', profile: Vendor-Profile-7, codec: milesight-am307}",
	)}, Options{})
	want := []string{
		`site.yaml:7:84: warning: devices[0].profile: profile "ClassA-OTA" is neither in the site nor built in: did you mean "ClassA-OTAA"? (plan checks whether the gateway has "ClassA-OTA")`,
		`site.yaml:8:84: warning: devices[1].profile: profile "WT201-classc" is neither in the site nor built in: did you mean "WT201-ClassC"? (plan checks whether the gateway has "WT201-classc")`,
		`site.yaml:8:105: warning: devices[1].codec: codec "em300_th" is neither in the site nor built in: did you mean "em300-th"? (plan checks whether the gateway has "em300_th")`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
