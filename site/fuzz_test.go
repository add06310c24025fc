package site

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

var upperEUI = regexp.MustCompile(`^[0-9A-F]{16}$`)

// FuzzLoad feeds arbitrary site and CSV files to Load: it must never panic
// or hang, problems come sorted and placed in a file, a site comes back
// exactly when there is no error, and no key reaches a message.
func FuzzLoad(f *testing.F) {
	ex, _ := os.ReadFile(filepath.Join("..", "examples", "site.yaml"))
	f.Add(string(ex), "")
	f.Add(with(dev, "devicesFrom: d.csv"), "devEUI,name,appKey\n24E124136A456466,x,${env:K2}\n")
	f.Add(with(dev, "multicastGroups:", "  - name: g", "    devices: [24E124136A456465]"), "")
	f.Add("version: 1\nx: &a [*a]\n", "")
	f.Add("version: 1\ndevicesFrom: d.csv\n", "devEUI\n\"unterminated\n")
	f.Add("version: 1\nprofiles: [{name: p, <<: {rxFreq2: 1}}]\ngateway: {channelPlan: EU868}\n", "")
	f.Add("version: 1\nfirmwareUpdates: [{name: t, startAt: 2026-12-01T02:00:00Z, devices: [24E124136A456465], firmwareFile: d.csv, fragment: {size: 1, intervalMs: 1000, redundancy: 100}}]\n", "a")
	secret := testEnv["K1"]
	f.Fuzz(func(t *testing.T, siteYAML, csvText string) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "site.yaml"), []byte(siteYAML), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "d.csv"), []byte(csvText), 0o644); err != nil {
			t.Fatal(err)
		}
		s, problems := Load(Options{LookupEnv: lookup(testEnv), ChannelPlan: "EU868"}, filepath.Join(dir, "site.yaml"))
		if (s == nil) != problems.HasErrors() {
			t.Fatalf("site nil %v, errors %v:\n%v", s == nil, problems.HasErrors(), problems)
		}
		if !sort.SliceIsSorted(problems, func(i, j int) bool {
			a, b := problems[i], problems[j]
			if a.File != b.File {
				return a.File < b.File
			}
			if a.Line != b.Line {
				return a.Line < b.Line
			}
			return a.Col < b.Col
		}) {
			t.Fatalf("problems not sorted:\n%v", problems)
		}
		for _, p := range problems {
			if p.File == "" || p.Msg == "" {
				t.Fatalf("problem without a file or message: %#v", p)
			}
			if !strings.Contains(siteYAML+csvText, secret) && strings.Contains(p.Msg, secret) {
				t.Fatalf("message shows a resolved key: %s", p)
			}
		}
		if s == nil {
			return
		}
		for _, d := range s.Devices {
			if !upperEUI.MatchString(d.DevEUI) {
				t.Fatalf("loaded device with devEUI %q", d.DevEUI)
			}
		}
	})
}
