package fleet

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

func write(t *testing.T, dir string, files map[string]string) {
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

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"fleet.yml":                "version: 1\ncommon: [common, extra.yaml]\n",
		"extra.yaml":               "profiles: []\n",
		"common/profiles.yaml":     "profiles: []\n",
		"b-site/site.yaml":         "version: 1\n",
		"a-site/site.yml":          "version: 1\n",
		".hidden/site.yaml":        "version: 1\n",
		"codecs-only/x.js":         "//\n",
		"nested/deeper/site.yaml":  "version: 1\n",
		"c-site/devices/more.yaml": "devices: []\n",
		"c-site/site.yaml":         "version: 1\n",
	})
	f, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range f.Sites {
		names = append(names, s.Name)
		if s.Dir != filepath.Join(dir, s.Name) {
			t.Errorf("site %s: dir %s", s.Name, s.Dir)
		}
	}
	// common/ is no site; neither are hidden folders, folders without YAML
	// of their own, or a site's subfolders.
	if diff := cmp.Diff([]string{"a-site", "b-site", "c-site"}, names); diff != "" {
		t.Errorf("sites (-want +got):\n%s", diff)
	}
	want := []string{filepath.Join(dir, "c-site"), filepath.Join(dir, "common"), filepath.Join(dir, "extra.yaml")}
	if diff := cmp.Diff(want, f.Paths(f.Sites[2])); diff != "" {
		t.Errorf("paths (-want +got):\n%s", diff)
	}
}

// TestSiteOf: a fleet's site folder is found from itself (absolute, or
// relative to the current folder, which its paths keep); the fleet folder,
// its common folder, a site's subfolder and a folder outside are no site
// of a fleet; a fleet file that does not load is said.
func TestSiteOf(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"fleet/fleet.yml":               "version: 1\ncommon: [common]\nsites: [sites]\n",
		"fleet/common/shared.yaml":      "profiles: []\n",
		"fleet/sites/a/site.yaml":       "version: 1\n",
		"fleet/sites/a/more/devs.yaml":  "devices: []\n",
		"broken/fleet.yml":              "version: 2\n",
		"broken/b/site.yaml":            "version: 1\n",
		"alone/site.yaml":               "version: 1\n",
		"fleet/sites/not-a-site/x.json": "{}\n",
	})
	site := func(path string) string {
		t.Helper()
		f, s, err := SiteOf(path)
		switch {
		case err != nil:
			return "error: " + err.Error()
		case f == nil:
			return "none"
		}
		return s.Name + " " + strings.Join(f.Paths(s), " ")
	}
	abs := filepath.Join(dir, "fleet")
	for path, want := range map[string]string{
		filepath.Join(abs, "sites", "a"):          "sites/a " + strings.Join([]string{filepath.Join(abs, "sites", "a"), filepath.Join(abs, "common")}, " "),
		abs:                                       "none",
		filepath.Join(abs, "common"):              "none",
		filepath.Join(abs, "sites", "a", "more"):  "none",
		filepath.Join(abs, "sites", "not-a-site"): "none",
		filepath.Join(dir, "alone"):               "none",
		filepath.Join(dir, "missing"):             "none",
		filepath.Join(dir, "alone", "site.yaml"):  "none",
	} {
		if got := site(path); got != want {
			t.Errorf("SiteOf(%s) = %s, want %s", path, got, want)
		}
	}
	if got := site(filepath.Join(dir, "broken", "b")); !strings.Contains(got, "error: fleet ") || !strings.Contains(got, "want version: 1") {
		t.Errorf("a site of a broken fleet: %s", got)
	}
	t.Chdir(filepath.Join(abs, "sites"))
	if got, want := site("a"), "sites/a "+filepath.Join("..", "sites", "a")+" "+filepath.Join("..", "common"); got != want {
		t.Errorf("relative: %s, want %s", got, want)
	}
}

func TestLoadSitesFolders(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"fleet.yaml":          "version: 1\nsites: [north, south]\n",
		"north/n1/site.yaml":  "version: 1\n",
		"south/s1/site.yaml":  "version: 1\n",
		"elsewhere/site.yaml": "version: 1\n",
	})
	f, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Sites) != 2 || f.Sites[0].Name != "north/n1" || f.Sites[1].Name != "south/s1" {
		t.Errorf("sites: %+v", f.Sites)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		files map[string]string
		want  string
	}{
		{map[string]string{"site.yaml": "version: 1\n"}, "no fleet.yml or fleet.yaml"},
		{map[string]string{"fleet.yml": "version: 2\n", "a/s.yaml": ""}, "version 2: want version: 1"},
		{map[string]string{"fleet.yml": "version: 1\ncomon: [x]\n"}, "field comon not found"},
		{map[string]string{"fleet.yml": "version: 1\ncommon: [nope]\n", "a/s.yaml": ""}, "common nope: no such file or directory"},
		{map[string]string{"fleet.yml": "version: 1\ncommon: [/etc]\n"}, "want a path relative to the fleet folder"},
		{map[string]string{"fleet.yml": "version: 1\n"}, "no site: a site is a subfolder holding *.yaml files"},
	} {
		dir := t.TempDir()
		write(t, dir, tc.files)
		_, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.files, err, tc.want)
		}
	}
}

// TestShardsCoverEverySiteOnce: for N = 1…8, the shards of 200 sites are
// disjoint, cover every site, and are the same on every call; no shard is
// empty or holds more than twice its share.
func TestShardsCoverEverySiteOnce(t *testing.T) {
	var sites []Site
	for i := 0; i < 200; i++ {
		sites = append(sites, Site{Name: fmt.Sprintf("sites/gw-%03d", i)})
	}
	for n := 1; n <= 8; n++ {
		seen := map[string]int{}
		for i := 1; i <= n; i++ {
			part := Shard{I: i, N: n}.Filter(sites)
			if len(part) == 0 || len(part) > 2*200/n {
				t.Errorf("N=%d: shard %d holds %d sites", n, i, len(part))
			}
			again := Shard{I: i, N: n}.Filter(sites)
			if diff := cmp.Diff(part, again); diff != "" {
				t.Errorf("N=%d shard %d not stable", n, i)
			}
			for _, s := range part {
				seen[s.Name]++
			}
		}
		if len(seen) != 200 {
			t.Errorf("N=%d: %d sites covered, want 200", n, len(seen))
		}
		for name, k := range seen {
			if k != 1 {
				t.Errorf("N=%d: %s in %d shards", n, name, k)
			}
		}
	}
	// A site's shard depends on its name only, not on the other sites.
	sh := Shard{I: Of("sites/gw-007", 5), N: 5}
	if len(sh.Filter(sites[7:8])) != 1 || len(sh.Filter(sites[:10])) < 1 {
		t.Errorf("site moved shard with the fleet")
	}
}

func TestParseShard(t *testing.T) {
	for _, s := range []string{"0/3", "4/3", "1", "a/b", "1/0", ""} {
		if _, err := ParseShard(s); err == nil {
			t.Errorf("ParseShard(%q) accepted", s)
		}
	}
	if sh, err := ParseShard("2/4"); err != nil || sh != (Shard{2, 4}) {
		t.Errorf("ParseShard(2/4) = %v, %v", sh, err)
	}
}

func TestWaves(t *testing.T) {
	for _, tc := range []struct {
		spec string
		n    int
		want [][2]int
	}{
		{"", 5, [][2]int{{0, 5}}},
		{"1,10%,rest", 100, [][2]int{{0, 1}, {1, 11}, {11, 100}}},
		{"1,10%,rest", 5, [][2]int{{0, 1}, {1, 2}, {2, 5}}}, // 10% of 5 rounds up to 1
		{"1,2", 10, [][2]int{{0, 1}, {1, 3}, {3, 10}}},      // the sites beyond make a last wave
		{"3,rest", 2, [][2]int{{0, 2}}},
		{"50%,50%", 3, [][2]int{{0, 2}, {2, 3}}},
	} {
		ws, err := ParseWaves(tc.spec)
		if err != nil {
			t.Fatalf("%q: %v", tc.spec, err)
		}
		if diff := cmp.Diff(tc.want, ws.Split(tc.n)); diff != "" {
			t.Errorf("%q of %d (-want +got):\n%s", tc.spec, tc.n, diff)
		}
	}
	for _, bad := range []string{"rest,1", "0", "x", "0%", "101%", "1,,2"} {
		if _, err := ParseWaves(bad); err == nil {
			t.Errorf("ParseWaves(%q) accepted", bad)
		}
	}
}

// TestRunOrderAndJobs: results come out in item order although items end
// out of order, and no more than jobs run at once. On synctest's clock the
// items' sleeps end in the order their lengths say, and every job is busy
// while the items last: exactly jobs run at once.
func TestRunOrderAndJobs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var running, peak atomic.Int32
		var got []int
		Run(20, 3, func(i int) int {
			n := running.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(time.Duration(20-i) * time.Millisecond / 4)
			running.Add(-1)
			return i * i
		}, func(i, r int) {
			if r != i*i {
				t.Errorf("item %d: result %d", i, r)
			}
			got = append(got, i)
		})
		for i, g := range got {
			if g != i {
				t.Fatalf("order: %v", got)
			}
		}
		if len(got) != 20 || peak.Load() != 3 {
			t.Errorf("%d results, peak %d in flight (jobs 3)", len(got), peak.Load())
		}
	})
}

func TestCountsAndTable(t *testing.T) {
	rs := []Result{
		{Site: "a", Gateway: "G1", Wave: 1, Add: 1, Status: Applied},
		{Site: "b", Gateway: "G2", Wave: 1, Status: Unchanged},
		{Site: "c", Gateway: "G3", Wave: 2, Status: RolledBack, Detail: "device x: code 9"},
		{Site: "d", Wave: 3, Status: Halted},
	}
	if got := Count(rs).Line(); got != "4 sites: 1 with changes, 1 unchanged, 1 failed, 1 not started" {
		t.Errorf("line %q", got)
	}
	var b strings.Builder
	Table(&b, rs, false)
	want := "SITE  GATEWAY  WAVE  ADD  CHANGE  DESTROY  RESULT\n" +
		"a     G1       1     1    0       0        applied, verified\n" +
		"b     G2       1     0    0       0        no changes\n" +
		"c     G3       2     0    0       0        rolled back, verified: device x: code 9\n" +
		"d              3     0    0       0        not started (halted)\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}
