//go:build unix

package site

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gwsync/gwsync/internal/safefile"
)

// outsideSecret is what a file outside the site holds: 32 hex digits, so
// that it would pass for a key if it were read.
const outsideSecret = "0123456789abcdef0123456789abcdef"

// loadWithin loads path, failing the test if it takes more than a few
// seconds (a named pipe blocked it).
func loadWithin(t *testing.T, opts Options, paths ...string) (*Site, Problems) {
	t.Helper()
	type res struct {
		s *Site
		p Problems
	}
	ch := make(chan res, 1)
	go func() { s, p := Load(opts, paths...); ch <- res{s, p} }()
	select {
	case r := <-ch:
		return r.s, r.p
	case <-time.After(20 * time.Second):
		t.Fatalf("Load(%v) blocked", paths)
		return nil, nil
	}
}

// TestReferencesStayInside: every kind of file a site names, pointed
// outside the site by every means, is refused at the file and line that
// names it, with the rule; what the outside file holds is never read into
// the site nor shown.
func TestReferencesStayInside(t *testing.T) {
	base := t.TempDir()
	secret := filepath.Join(base, "secret.env")
	repo := filepath.Join(base, "repo")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(repo, 0o755))
	must(os.WriteFile(secret, []byte(outsideSecret+"\n"), 0o600))
	must(os.Symlink(secret, filepath.Join(repo, "out.link")))
	must(os.Symlink("/dev/zero", filepath.Join(repo, "zero.link")))
	must(os.Symlink(base, filepath.Join(repo, "outdir")))
	must(syscall.Mkfifo(filepath.Join(repo, "pipe"), 0o600))

	attacks := map[string]string{ // reference → what the refusal says
		"../secret.env":      "leaves",
		"./../secret.env":    "leaves",
		secret:               "absolute path",
		"/proc/self/environ": "absolute path",
		"/dev/zero":          "absolute path",
		"out.link":           "symbolic link",
		"zero.link":          "symbolic link",
		"outdir/secret.env":  "symbolic link",
		"pipe":               "named pipe",
	}
	eui := `"24E124136A456465"`
	kinds := []struct {
		name  string
		file  string // the file that names it ("" site.yaml)
		line  int
		files func(ref string) map[string]string
	}{
		{"decoderFile", "", 4, func(r string) map[string]string {
			return map[string]string{"site.yaml": y("version: 1", "codecs:", "  - name: c", "    decoderFile: "+r)}
		}},
		{"encoderFile", "", 4, func(r string) map[string]string {
			return map[string]string{"site.yaml": y("version: 1", "codecs:", "  - name: c", "    encoderFile: "+r)}
		}},
		{"codecJsonFile", "", 4, func(r string) map[string]string {
			return map[string]string{"site.yaml": y("version: 1", "codecs:", "  - name: c", "    codecJsonFile: "+r)}
		}},
		{"appKey", "", 6, func(r string) map[string]string {
			return map[string]string{"site.yaml": y("version: 1", "devices:", "  - devEUI: "+eui, "    name: d", "    application: cloud", "    appKey: ${file:"+r+"}")}
		}},
		{"mcNwkSKey", "", 5, func(r string) map[string]string {
			return map[string]string{"site.yaml": y("version: 1", "multicastGroups:", "  - name: g", "    mcAddr: '01AB23CD'", "    mcNwkSKey: ${file:"+r+"}", "    mcAppSKey: ${env:K}")}
		}},
		{"password", "", 4, func(r string) map[string]string {
			return map[string]string{"site.yaml": y("version: 1", "connection:", "  broker: tcp://127.0.0.1:1883", "  password: ${file:"+r+"}")}
		}},
		{"devicesFrom", "", 2, func(r string) map[string]string {
			return map[string]string{"site.yaml": y("version: 1", "devicesFrom: "+r)}
		}},
		{"firmwareFile", "", 5, func(r string) map[string]string {
			return map[string]string{"site.yaml": y("version: 1", "firmwareUpdates:", "  - name: t", "    devices: ["+eui+"]", "    firmwareFile: "+r,
				"    fragment: {size: 50, intervalMs: 1000, redundancy: 10}", "    multicast: {dr: 3, frequency: 869525000}")}
		}},
		{"CSV appKey", "devices.csv", 2, func(r string) map[string]string {
			return map[string]string{"site.yaml": y("version: 1", "devicesFrom: devices.csv"),
				"devices.csv": "devEUI,name,application,appKey\n24E124136A456465,d,cloud,${file:" + r + "}\n"}
		}},
	}
	env := lookup(map[string]string{"K": outsideSecret})
	for _, k := range kinds {
		for ref, rule := range attacks {
			for _, offline := range []bool{false, true} {
				files := k.files(ref)
				writeTree(t, repo, files)
				s, problems := loadWithin(t, Options{LookupEnv: env, Offline: offline}, filepath.Join(repo, "site.yaml"))
				for name := range files {
					os.Remove(filepath.Join(repo, name))
				}
				file := "site.yaml"
				if k.file != "" {
					file = k.file
				}
				found := false
				for _, p := range problems {
					if strings.Contains(p.Error(), outsideSecret) {
						t.Errorf("%s: %s: the outside file's content is shown: %s", k.name, ref, p)
					}
					if p.Severity == Error && p.File == filepath.Join(repo, file) && p.Line == k.line && strings.Contains(p.Msg, rule) {
						found = true
					}
				}
				if !found || s != nil {
					t.Errorf("%s: %s (offline %v): want an error at %s:%d saying %q, got %v", k.name, ref, offline, file, k.line, rule, problems)
				}
			}
		}
	}
}

// TestReferencesInsideTheRepository: a site in a repository may name files
// anywhere in it; outside a repository, only in its own folder.
func TestReferencesInsideTheRepository(t *testing.T) {
	repo := t.TempDir()
	writeTree(t, repo, map[string]string{
		"shared/em300.js":     "function decodeUplink(input) { return {}; }\n",
		"sites/a/site.yaml":   y("version: 1", "codecs:", "  - name: c", "    decoderFile: ../../shared/em300.js"),
		"sites/a/codecs/x.js": "function x() {}\n",
	})
	path := filepath.Join(repo, "sites", "a", "site.yaml")
	_, problems := Load(Options{}, path)
	if !problems.HasErrors() || !strings.Contains(problems.Error(), "leaves") {
		t.Fatalf("outside a repository, ../../shared is refused; got %v", problems)
	}
	if err := os.Mkdir(filepath.Join(repo, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, problems := Load(Options{}, path)
	if s == nil || problems.HasErrors() || !strings.Contains(s.Codecs[0].DecoderScript, "decodeUplink") {
		t.Fatalf("inside a repository: %v", problems)
	}
}

// TestHostileSiteFiles: a site that is /dev/zero, a named pipe, too many
// values or too many bytes ends at once with an error naming it and the
// cap to raise.
func TestHostileSiteFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big", "site.yaml")
	writeTree(t, dir, map[string]string{"big/site.yaml": "version: 1\nx:\n" + strings.Repeat("- 1\n", 1_000_000)})
	many := filepath.Join(dir, "many", "site.yaml")
	writeTree(t, dir, map[string]string{"many/site.yaml": "version: 1\nx: [" + strings.Repeat("1,", 700_000) + "]\n"})
	huge := filepath.Join(dir, "huge", "site.yaml")
	writeTree(t, dir, map[string]string{"huge/site.yaml": "version: 1\n" + strings.Repeat("#", int(safefile.Limit(safefile.Site))) + "\n"})
	var keys strings.Builder
	for i := range 20_000 {
		fmt.Fprintf(&keys, "  k%d:\n", i)
	}
	wide := filepath.Join(dir, "wide", "site.yaml")
	writeTree(t, dir, map[string]string{"wide/site.yaml": "version: 1\ndeviceDefaults:\n" + keys.String()})
	merged := filepath.Join(dir, "merged", "site.yaml")
	writeTree(t, dir, map[string]string{"merged/site.yaml": "version: 1\nx-big: &big\n" + keys.String() + "deviceDefaults:\n  <<: *big\n"})
	xonly := filepath.Join(dir, "xonly", "site.yaml")
	writeTree(t, dir, map[string]string{"xonly/site.yaml": "version: 1\nx-big:\n" + keys.String()})
	if _, problems := Load(Options{}, xonly); problems.HasErrors() {
		t.Errorf("a wide mapping under x-: %v", problems)
	}
	cases := map[string][]string{
		wide:        {wide + ":3:3", "a mapping of 20000 fields"},
		merged:      {merged + ":20004:3", "a mapping of 20000 fields"},
		"/dev/zero": {"/dev/zero", "character device"},
		fifo:        {fifo, "named pipe"},
		dir:         {fifo, "named pipe"}, // found in a directory
		big:         {big, "GWSYNC_MAX_SITE_VALUES"},
		many:        {many, "GWSYNC_MAX_SITE_VALUES"},
		huge:        {huge, "GWSYNC_MAX_SITE_BYTES"},
	}
	for path, want := range cases {
		start := time.Now()
		s, problems := loadWithin(t, Options{}, path)
		if s != nil || !strings.Contains(problems.Error(), want[0]) || !strings.Contains(problems.Error(), want[1]) {
			t.Errorf("%s: want an error naming %s and %q, got %v", path, want[0], want[1], problems)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: %v to refuse", path, d)
		}
	}
	// The cap of a whole site: two files, each under the file cap.
	safefile.SetLimit(safefile.SiteTotal, 1000)
	defer safefile.SetLimit(safefile.SiteTotal, 0)
	two := filepath.Join(dir, "two")
	writeTree(t, two, map[string]string{"a.yaml": "version: 1\n#" + strings.Repeat("a", 600) + "\n", "b.yaml": "#" + strings.Repeat("b", 600) + "\n"})
	if _, problems := Load(Options{}, two); !strings.Contains(problems.Error(), "GWSYNC_MAX_SITE_TOTAL_BYTES") {
		t.Errorf("two files over the site cap: %v", problems)
	}
}

// TestDirectorySiteStaysInside: a YAML file found in a site folder that is
// a symbolic link leading out of it is refused, not read.
func TestDirectorySiteStaysInside(t *testing.T) {
	base := t.TempDir()
	writeTree(t, base, map[string]string{
		"outside/leak.yaml": "codecs:\n  - name: c\n    decoderScript: " + outsideSecret + "\n",
		"site/site.yaml":    "version: 1\n",
	})
	if err := os.Symlink(filepath.Join(base, "outside", "leak.yaml"), filepath.Join(base, "site", "leak.yaml")); err != nil {
		t.Fatal(err)
	}
	s, problems := Load(Options{}, filepath.Join(base, "site"))
	if s != nil || !strings.Contains(problems.Error(), "symbolic link") || strings.Contains(problems.Error(), outsideSecret) {
		t.Fatalf("a linked-in YAML file: site %v, %v", s != nil, problems)
	}
	// Named on the command line, the same file is the user's own choice.
	if s, problems := Load(Options{}, filepath.Join(base, "site", "site.yaml"), filepath.Join(base, "site", "leak.yaml")); s == nil {
		t.Fatalf("given as an argument: %v", problems)
	}
}
