// Package fleet finds the sites of a fleet directory — many gateways, each
// its own site, sharing common files — and splits them: into shards (one
// CI runner each) and into waves (applied one after the other). It also
// renders the fleet's summary table.
//
// It neither loads site files nor talks to a gateway: package cli runs each
// site with the commands of one site.
package fleet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/gwsync/gwsync/internal/safefile"
)

// Files names the fleet file, in the order they are looked for. Its
// presence makes a directory a fleet.
var Files = []string{"fleet.yml", "fleet.yaml"}

// Config is the fleet file.
type Config struct {
	// Version is 1.
	Version int `yaml:"version"`
	// Common lists folders or files (relative to the fleet directory)
	// merged into every site: shared profiles, codecs, deviceDefaults, a
	// shared connection block.
	Common []string `yaml:"common"`
	// Sites lists folders (relative to the fleet directory) whose
	// subdirectories are sites; default: the fleet directory itself.
	Sites []string `yaml:"sites"`
}

// Site is one site of a fleet.
type Site struct {
	// Name is the site's path relative to the fleet directory, with
	// forward slashes: the same on every machine, so it picks the shard.
	Name string
	// Dir is the site's folder (the fleet directory joined with Name).
	Dir string
}

// Fleet is a fleet directory's sites and common files.
type Fleet struct {
	Dir    string
	File   string   // the fleet file read
	Common []string // paths of the common folders or files
	Sites  []Site   // sorted by Name
}

// FileOf returns the fleet file of dir, or "" when dir is not a fleet.
func FileOf(dir string) string {
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return ""
	}
	for _, f := range Files {
		p := filepath.Join(dir, f)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

// Is says whether path is a fleet directory (it holds a fleet file).
func Is(path string) bool { return FileOf(path) != "" }

// Load reads the fleet file of dir and finds its sites: every subdirectory
// of a sites folder that holds a *.yaml or *.yml file of its own, except
// the common folders and folders whose name starts with ".".
func Load(dir string) (*Fleet, error) {
	file := FileOf(dir)
	if file == "" {
		return nil, fmt.Errorf("fleet %s: no %s", dir, strings.Join(Files, " or "))
	}
	b, err := safefile.Read(file, safefile.Site)
	if err != nil {
		return nil, fmt.Errorf("fleet %s: %w", file, unwrapPath(err))
	}
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("fleet %s: %w", file, err)
	}
	if cfg.Version != 1 {
		return nil, fmt.Errorf("fleet %s: version %d: want version: 1", file, cfg.Version)
	}
	f := &Fleet{Dir: dir, File: file}
	// Common files and site folders stay inside the fleet's folder (or its
	// repository), as the files a site names do.
	root, err := safefile.RootFor(dir)
	if err != nil {
		return nil, fmt.Errorf("fleet %s: %w", file, unwrapPath(err))
	}
	commonAt, sitesAt := entryLines(b, "common"), entryLines(b, "sites")
	common := map[string]bool{}
	for i, c := range cfg.Common {
		at := file + lineOf(commonAt, i)
		if c == "" || filepath.IsAbs(c) {
			return nil, fmt.Errorf("fleet %s: common %q: want a path relative to the fleet folder", at, c)
		}
		p := filepath.Join(dir, c)
		if err := root.Contains(p); err != nil {
			return nil, fmt.Errorf("fleet %s: common %s: %w", at, c, unwrapPath(err))
		}
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("fleet %s: common %s: %w", at, c, unwrapPath(err))
		}
		f.Common = append(f.Common, p)
		common[filepath.Clean(p)] = true
	}
	roots := cfg.Sites
	if len(roots) == 0 {
		roots = []string{"."}
	}
	seen := map[string]bool{}
	for i, r := range roots {
		at := file + lineOf(sitesAt, i)
		if filepath.IsAbs(r) {
			return nil, fmt.Errorf("fleet %s: sites %q: want a path relative to the fleet folder", at, r)
		}
		sitesDir := filepath.Join(dir, r)
		if err := root.Contains(filepath.Join(sitesDir, "x")); err != nil {
			return nil, fmt.Errorf("fleet %s: sites %s: %w", at, r, unwrapPath(err))
		}
		entries, err := os.ReadDir(sitesDir)
		if err != nil {
			return nil, fmt.Errorf("fleet %s: sites %s: %w", file, r, unwrapPath(err))
		}
		for _, e := range entries {
			p := filepath.Join(sitesDir, e.Name())
			if !e.IsDir() || strings.HasPrefix(e.Name(), ".") || common[filepath.Clean(p)] || !hasYAML(p) {
				continue
			}
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return nil, fmt.Errorf("fleet %s: %w", file, err)
			}
			name := filepath.ToSlash(rel)
			if !seen[name] {
				seen[name] = true
				f.Sites = append(f.Sites, Site{Name: name, Dir: p})
			}
		}
	}
	sort.Slice(f.Sites, func(i, j int) bool { return f.Sites[i].Name < f.Sites[j].Name })
	if len(f.Sites) == 0 {
		return nil, fmt.Errorf("fleet %s: no site: a site is a subfolder holding *.yaml files", file)
	}
	return f, nil
}

// Enclosing loads the fleet of the nearest parent folder of path that
// holds a fleet file, or returns nil when none does. Its paths keep path's
// form: from a relative path, they are relative to the current folder.
func Enclosing(path string) (*Fleet, error) {
	p := filepath.Dir(absOf(path))
	for !Is(p) {
		if filepath.Dir(p) == p {
			return nil, nil
		}
		p = filepath.Dir(p)
	}
	if !filepath.IsAbs(path) {
		if wd, err := os.Getwd(); err == nil {
			if rel, err := filepath.Rel(wd, p); err == nil {
				p = rel
			}
		}
	}
	return Load(p)
}

// SiteHolding returns the site whose folder is path or holds it.
func (f *Fleet) SiteHolding(path string) (Site, bool) {
	abs := absOf(path)
	for _, s := range f.Sites {
		if d := absOf(s.Dir); abs == d || strings.HasPrefix(abs, d+string(filepath.Separator)) {
			return s, true
		}
	}
	return Site{}, false
}

// SiteOf finds the fleet that has the folder dir as one of its sites (see
// Enclosing). It returns a nil Fleet when there is none, and the error of
// a fleet file that does not load.
func SiteOf(dir string) (*Fleet, Site, error) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, Site{}, nil
	}
	f, err := Enclosing(dir)
	if f == nil || err != nil {
		return nil, Site{}, err
	}
	if s, ok := f.SiteHolding(dir); ok && absOf(s.Dir) == absOf(dir) {
		return f, s, nil
	}
	return nil, Site{}, nil
}

// absOf is path made absolute and clean (as given when that fails).
func absOf(path string) string {
	if a, err := filepath.Abs(path); err == nil {
		return a
	}
	return path
}

// Paths are the paths to load for s: its folder, then the common ones.
func (f *Fleet) Paths(s Site) []string {
	return append([]string{s.Dir}, f.Common...)
}

func hasYAML(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if !e.IsDir() && (ext == ".yaml" || ext == ".yml") {
			return true
		}
	}
	return false
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// entryLines are the lines of the entries of the top-level list key in a
// fleet file (nil when it is not a list there), for messages.
func entryLines(b []byte, key string) []int {
	var doc yaml.Node
	if yaml.Unmarshal(b, &doc) != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	m := doc.Content[0].Content
	for i := 0; i+1 < len(m); i += 2 {
		if m[i].Value == key && m[i+1].Kind == yaml.SequenceNode {
			var out []int
			for _, e := range m[i+1].Content {
				out = append(out, e.Line)
			}
			return out
		}
	}
	return nil
}

// lineOf is ":LINE" of entry i, or "" when it is not known.
func lineOf(lines []int, i int) string {
	if i < len(lines) {
		return fmt.Sprintf(":%d", lines[i])
	}
	return ""
}
