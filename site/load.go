// Package site reads gwsync site files: YAML (one file, or a directory of
// files merged into one) with devicesFrom CSV files, deviceDefaults,
// ${env:…}/${file:…} secret references and script and firmware files. It
// checks them against the JSON Schema (package schema) and then
// semantically (uniqueness, references, join types, channel-plan ranges,
// FUOTA limits, key hygiene) and returns the site model with every problem
// found, each at its file, line and column.
//
// It does not talk to a gateway: references the site cannot resolve itself
// (applications, profiles and codecs on the gateway) are listed in
// Site.External for the planner to check.
package site

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"go.yaml.in/yaml/v4"

	"github.com/gwsync/gwsync/internal/safefile"
	"github.com/gwsync/gwsync/schema"
)

// Options tune Load.
type Options struct {
	// Strict turns security warnings into errors.
	Strict bool
	// LookupEnv resolves ${env:NAME}; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// ChannelPlan is the plan to check ranges against when the site's
	// gateway.channelPlan is not given ("" checks no plan ranges).
	ChannelPlan string
	// Offline checks the site without sending anything anywhere (validate,
	// plan --state): a ${env:…} reference that is not set, or a ${file:…}
	// that is not there, is a warning ("needed by plan and apply") and the
	// secret is marked Unset, instead of an error.
	Offline bool
	// PasswordGiven says that the connection password comes from elsewhere
	// (GWSYNC_PASSWORD): the site's connection.password reference is not
	// resolved, and its absence is no problem.
	PasswordGiven bool
	// QuoteErrors makes an unquoted value that YAML 1.2 tools read as a
	// number or boolean where a string is wanted (devEUI: 1234567890123456)
	// an error, as the schema is in every other validator (validate);
	// otherwise it is a warning.
	QuoteErrors bool
}

// loader holds one Load's state.
type loader struct {
	opts     Options
	probs    Problems
	files    []string                // every file read, in order
	contents map[string][]byte       // file → bytes, for the digest
	fetched  map[string]fetch        // read ahead (prefetch), not yet taken by readFile
	pending  []chan map[string]fetch // reads started by prefetchLater

	// roots says, for each file read, the folder the files it names must
	// stay inside (safefile.RootFor of the path given to Load it came
	// from); walked are the YAML files found in a directory, which must
	// stay inside it as well.
	roots  map[string]*safefile.Root
	walked map[string]bool
	bytes  int64 // YAML and CSV bytes read, against safefile.SiteTotal
	values int   // nodeBound of the YAML files read, against MaxValues

	single map[string]Pos // gateway, connection, ... → where first given

	site          Site
	defaults      *mapping
	defaultDevice Device // the fields deviceDefaults gives

	profiles []*item
	codecs   []*item
	devices  []*devItem
	groups   []*item
	tasks    []*item
	csvs     []csvRef

	deviceEUIs map[string]Pos       // the site's devices, by upper-case devEUI
	unparsed   bool                 // a YAML file could not be parsed
	security   map[*FieldError]bool // security warnings: errors under Strict
}

// item is a resource read from YAML, with where it came from.
type item struct {
	m   *mapping
	idx int // index into the site's slice
}

// csvRef is a devicesFrom entry: the CSV file, relative to the YAML file.
type csvRef struct {
	from string // the YAML file that names it
	ref  string // as written there
	file string // path as the user would write it (joined to the YAML's dir)
	pos  Pos
	path string
}

// Load reads one file or a directory of YAML files (merged), applies
// deviceDefaults and devicesFrom CSV files, resolves ${env:…}/${file:…}
// secrets and script and firmware files, and runs the schema and semantic
// checks. It returns every problem at once, sorted by file, line and column.
// The site is nil when any problem is an error (warnings under
// Options.Strict are errors).
func Load(opts Options, paths ...string) (*Site, Problems) {
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	l := newLoader(opts)
	if len(paths) == 0 {
		l.add(Pos{}, "", "no site file given")
	}
	for _, p := range l.collect(paths) {
		l.loadFile(p)
	}
	for _, c := range l.csvs {
		l.loadCSV(c)
	}
	l.finish()
	if opts.Strict {
		for _, p := range l.probs {
			if l.security[p] {
				p.Severity = Error
			}
		}
	}
	l.probs = l.probs.sortAndDedupe()
	if l.probs.HasErrors() {
		return nil, l.probs
	}
	s := l.site
	s.Files = l.files
	s.digest = digest(l.files, l.contents)
	return &s, l.probs
}

func newLoader(opts Options) *loader {
	return &loader{opts: opts, contents: map[string][]byte{}, single: map[string]Pos{}, security: map[*FieldError]bool{},
		roots: map[string]*safefile.Root{}, walked: map[string]bool{}}
}

// add records an error.
func (l *loader) add(p Pos, path, format string, args ...any) {
	l.probs = append(l.probs, &FieldError{File: p.File, Line: p.Line, Col: p.Col, Path: path, Msg: fmt.Sprintf(format, args...), Severity: Error})
}

// warn records a warning.
func (l *loader) warn(p Pos, path, format string, args ...any) {
	l.probs = append(l.probs, &FieldError{File: p.File, Line: p.Line, Col: p.Col, Path: path, Msg: fmt.Sprintf(format, args...), Severity: Warning})
}

// secWarn records a security warning: an error under Options.Strict.
func (l *loader) secWarn(p Pos, path, format string, args ...any) {
	l.warn(p, path, format, args...)
	l.security[l.probs[len(l.probs)-1]] = true
}

func (l *loader) addAt(file string, n *yaml.Node, path, format string, args ...any) {
	l.add(Pos{File: file, Line: n.Line, Col: n.Column}, path, format, args...)
}

// collect expands directories into their *.yaml/*.yml files, recursively
// and sorted; entries whose name starts with "." are skipped.
func (l *loader) collect(paths []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			l.add(Pos{File: p}, "", "cannot read: %v", unwrapPath(err))
			continue
		}
		root, err := safefile.RootFor(p)
		if err != nil {
			l.add(Pos{File: p}, "", "cannot read: %v", unwrapPath(err))
			continue
		}
		if !st.IsDir() {
			if k := filepath.Clean(p); !seen[k] {
				seen[k] = true
				out = append(out, p)
				l.roots[p] = root
			}
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				l.add(Pos{File: path}, "", "cannot read: %v", unwrapPath(err))
				return nil
			}
			if path != p && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				return nil
			}
			ext := strings.ToLower(filepath.Ext(path))
			if ext == ".yaml" || ext == ".yml" {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			l.add(Pos{File: p}, "", "cannot read: %v", err)
		}
		sort.Strings(found)
		if len(found) == 0 {
			l.add(Pos{File: p}, "", "directory holds no *.yaml or *.yml site files")
		}
		for _, f := range found {
			if k := filepath.Clean(f); !seen[k] {
				seen[k] = true
				out = append(out, f)
				l.roots[f], l.walked[f] = root, true
			}
		}
	}
	return out
}

// unwrapPath drops the path from an *fs.PathError: messages name the file
// already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// readFile reads a file of the site, up to the cap of its kind, and
// remembers it for the digest. With a root, the file must resolve inside
// it. YAML and CSV files count against the cap of a whole site.
func (l *loader) readFile(path string, k safefile.Kind, root *safefile.Root) ([]byte, error) {
	if b, ok := l.contents[path]; ok {
		if root != nil {
			// read before, perhaps for a file with another root
			if err := root.Contains(path); err != nil {
				return nil, unwrapPath(err)
			}
		}
		return b, nil
	}
	var b []byte
	var err error
	if r, ok := l.fetched[path]; ok && r.root == root {
		delete(l.fetched, path)
		b, err = r.b, r.err
	} else if root != nil {
		b, err = root.Read(path, k)
	} else {
		b, err = safefile.Read(path, k)
	}
	if err != nil {
		return nil, unwrapPath(err)
	}
	if k == safefile.Site || k == safefile.CSV {
		l.bytes += int64(len(b))
		if lim := safefile.Limit(safefile.SiteTotal); l.bytes > lim {
			return nil, &safefile.LimitError{Kind: safefile.SiteTotal, Limit: lim, Size: l.bytes}
		}
	}
	l.files = append(l.files, path)
	l.contents[path] = b
	return b, nil
}

// refPath is the path of a file that the file from names as ref, and the
// root it must stay inside; an absolute ref is an error.
func (l *loader) refPath(from, ref string) (string, *safefile.Root, error) {
	if filepath.IsAbs(ref) || strings.HasPrefix(ref, "/") || strings.HasPrefix(ref, `\`) || filepath.VolumeName(ref) != "" {
		return ref, nil, errAbsolute
	}
	return filepath.Join(filepath.Dir(from), ref), l.roots[from], nil
}

var errAbsolute = errors.New("an absolute path: files a site names are relative to the file that names them, and stay inside its folder (or its repository)")

// readRef reads the file that the file from names as ref (a codec,
// ${file:…}, devicesFrom or firmware file): relative to from's folder and
// inside its root. The path returned is the one to name in messages.
func (l *loader) readRef(from, ref string, k safefile.Kind) ([]byte, string, error) {
	p, root, err := l.refPath(from, ref)
	if err != nil {
		return nil, p, err
	}
	if root == nil {
		// Load always knows from's root; Peek and other partial reads
		// find it now.
		if root, err = safefile.RootFor(from); err != nil {
			return nil, p, unwrapPath(err)
		}
		l.roots[from] = root
	}
	b, err := l.readFile(p, k, root)
	return b, p, err
}

// fetch is a file read ahead of its use.
type fetch struct {
	b    []byte
	err  error
	root *safefile.Root // the root it was read inside
}

// ref is a file to read ahead, inside root.
type ref struct {
	path string
	root *safefile.Root
}

// prefetch reads the files at paths side by side, for readFile to take in
// order later: a site can refer to thousands of key files. It first takes
// what prefetchLater read.
func (l *loader) prefetch(refs []ref) {
	if l.fetched == nil {
		l.fetched = map[string]fetch{}
	}
	for _, ch := range l.pending {
		for p, f := range <-ch {
			if _, ok := l.fetched[p]; !ok {
				l.fetched[p] = f
			}
		}
	}
	l.pending = nil
	var todo []ref
	for _, r := range refs {
		_, read := l.contents[r.path]
		_, fetched := l.fetched[r.path]
		if !read && !fetched {
			todo = append(todo, r)
		}
	}
	for p, f := range readAll(todo) {
		l.fetched[p] = f
	}
}

// prefetchLater starts reading paths in the background while the loader
// goes on; prefetch takes what it read.
func (l *loader) prefetchLater(refs []ref) {
	if len(refs) == 0 {
		return
	}
	ch := make(chan map[string]fetch, 1)
	go func() { ch <- readAll(refs) }()
	l.pending = append(l.pending, ch)
}

// readAll reads the key files refs name, 8 at a time, each inside its
// root.
func readAll(refs []ref) map[string]fetch {
	out := make([]fetch, len(refs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(8, len(refs)) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(refs); i = int(next.Add(1)) - 1 {
				out[i].b, out[i].err = refs[i].root.Read(refs[i].path, safefile.Key)
				out[i].root = refs[i].root
			}
		})
	}
	wg.Wait()
	m := make(map[string]fetch, len(refs))
	for i, r := range refs {
		m[r.path] = out[i]
	}
	return m
}

// keyFiles lists the ${file:…} references of the devices and groups from
// the given indexes on, which file declares.
func (l *loader) keyFiles(file string, devices, groups int) []ref {
	var out []ref
	add := func(secs ...*Secret) {
		for _, s := range secs {
			if kind, arg, ok := parseRef(s.Ref); ok && kind == "file" {
				if p, root, err := l.refPath(file, arg); err == nil && root != nil {
					out = append(out, ref{p, root})
				}
			}
		}
	}
	for i := devices; i < len(l.site.Devices); i++ {
		d := &l.site.Devices[i]
		add(&d.AppKey, &d.NwkSKey, &d.AppSKey)
	}
	for i := groups; i < len(l.site.MulticastGroups); i++ {
		g := &l.site.MulticastGroups[i]
		add(&g.McNwkSKey, &g.McAppSKey)
	}
	return out
}

// loadFile parses, schema-checks and decodes one YAML file.
func (l *loader) loadFile(file string) {
	var root *safefile.Root
	if l.walked[file] {
		root = l.roots[file]
	}
	data, err := l.readFile(file, safefile.Site, root)
	if err != nil {
		l.unparsed = true
		l.add(Pos{File: file}, "", "cannot read: %v", err)
		return
	}
	if !l.utf8(file, data) {
		l.unparsed = true
		return
	}
	// The tree is built whole before anything can look at it: what it
	// may cost is bounded from the bytes first.
	values, _ := nodeBound(data)
	l.values += values
	if lim := safefile.Limit(safefile.SiteValues); int64(l.values) > lim {
		l.unparsed = true
		l.add(Pos{File: file}, "", "too large to read: %v", &safefile.LimitError{Kind: safefile.SiteValues, Limit: lim, Size: int64(l.values)})
		return
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return // an empty file declares nothing
		}
		l.yamlError(file, data, err)
		return
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		l.add(Pos{File: file, Line: extra.Line, Col: extra.Column}, "", "a site file holds one YAML document; found another here")
	} else if !errors.Is(err, io.EOF) {
		l.yamlError(file, data, err)
		return
	}
	if n, fields := wideMapping(&doc); n != nil {
		l.unparsed = true
		l.add(Pos{File: file, Line: n.Line, Col: n.Column}, "", "a mapping of %d fields: no object of a site has more than %d; the file is not checked further", fields, maxFields)
		return
	}
	// The schema check and the decoding both only read the tree, and take
	// about as long on a large file: they run side by side. With aliases
	// the check goes first, as it refuses aliases that expand beyond
	// reason, and then nothing is decoded.
	type checked struct {
		issues []schema.Issue
		err    error
	}
	var ch chan checked
	// A file without '&' and '*' holds no anchor and no alias; otherwise
	// the tree says.
	if !bytes.ContainsAny(data, "&*") || !schema.HasAlias(&doc) {
		ch = make(chan checked, 1)
		go func() {
			issues, err := schema.ValidateYAML(&doc)
			ch <- checked{issues, err}
		}()
	}
	var issues []schema.Issue
	if ch == nil {
		if issues, err = schema.ValidateYAML(&doc); err != nil {
			l.unparsed = true // its fields are not read: no "missing version" either
			l.add(Pos{File: file, Line: 1, Col: 1}, "", "%v", err)
			return
		}
	}
	decoded := len(l.probs)
	devices, groups := len(l.site.Devices), len(l.site.MulticastGroups)
	if len(doc.Content) > 0 {
		if root := l.newMapping(file, "", doc.Content[0]); root != nil {
			l.decode(root)
		}
	}
	// The key files the new resources name are read while the schema
	// check finishes.
	l.prefetchLater(l.keyFiles(file, devices, groups))
	// The schema's issues go before the decoding's: of two at one place,
	// the first is kept (sortAndDedupe), and the schema's says more.
	fromDecode := append([]*FieldError(nil), l.probs[decoded:]...)
	l.probs = l.probs[:decoded]
	defer func() { l.probs = append(l.probs, fromDecode...) }()
	if ch != nil {
		c := <-ch
		if c.err != nil {
			l.unparsed = true
			l.add(Pos{File: file, Line: 1, Col: 1}, "", "%v", c.err)
			return
		}
		issues = c.issues
	}
	for _, is := range issues {
		if is.Unquoted && !l.opts.QuoteErrors {
			l.warn(Pos{File: file, Line: is.Line, Col: is.Col}, is.Path, "%s", is.Message)
			continue
		}
		l.add(Pos{File: file, Line: is.Line, Col: is.Col}, is.Path, "%s", is.Message)
	}
}

// utf8 reports whether data is UTF-8 text, and reports where it is not
// (a file saved as Latin-1 or UTF-16).
func (l *loader) utf8(file string, data []byte) bool {
	if utf8.Valid(data) {
		return true
	}
	line, col := 1, 1
	for _, r := range string(data[:invalidAt(data)]) {
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	l.add(Pos{File: file, Line: line, Col: col}, "", "not UTF-8 text: save the file as UTF-8")
	return false
}

// invalidAt is the offset of the first byte of data that is not UTF-8.
func invalidAt(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(data)
}

// opened names what a YAML error's context is, where it is a construct left
// open (reported where the file goes on, lines below its start).
var opened = map[string]string{
	"while parsing a flow mapping":   "the {…}",
	"while parsing a flow sequence":  "the […]",
	"while scanning a quoted scalar": "the quoted string",
}

// yamlError reports a YAML syntax error at the line and column the parser
// gives, with a hint for the usual causes.
func (l *loader) yamlError(file string, data []byte, err error) {
	l.unparsed = true
	var le *yaml.LoadError
	if !errors.As(err, &le) || le.Mark.Line == 0 {
		l.add(Pos{File: file}, "", "invalid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		return
	}
	msg, line := le.Message, ""
	if lines := strings.Split(string(data), "\n"); le.Mark.Line <= len(lines) {
		line = lines[le.Mark.Line-1]
	}
	if c, what := le.ContextMark, opened[le.ContextMsg]; what != "" && c.Line > 0 && c.Line < le.Mark.Line {
		msg += fmt.Sprintf(" (%s opened at line %d, column %d)", what, c.Line, c.Column)
	}
	if strings.HasPrefix(msg, "did not find expected ',' or '}'") && strings.Contains(line, "${") {
		msg += ` (inside {…}, quote references: '${env:NAME}')`
	}
	if strings.Contains(line, "\t") {
		msg += " (a tab: YAML indents with spaces only)"
	}
	l.add(Pos{File: file, Line: le.Mark.Line, Col: le.Mark.Column}, "", "invalid YAML: %s", msg)
}

// once checks that a site-wide block is given in one file only.
func (l *loader) once(m *mapping, k string) bool {
	if !m.has(k) {
		return false
	}
	kn := m.keyNode(k)
	here := Pos{File: m.file, Line: kn.Line, Col: kn.Column}
	if first, ok := l.single[k]; ok {
		l.add(here, k, "also given at %s:%d:%d; it may appear in one file of a site only", first.File, first.Line, first.Col)
		return false
	}
	l.single[k] = here
	return true
}

func (l *loader) decode(root *mapping) {
	dir := filepath.Dir(root.file)
	if l.once(root, "version") {
		if v := root.int("version"); v != nil {
			l.site.Version = int(*v)
		}
	}
	if l.once(root, "gateway") {
		if g := root.child("gateway"); g != nil {
			decodeFields(l, g, &l.site.Gateway, gatewayFields)
		}
	}
	if l.once(root, "connection") {
		if c := root.child("connection"); c != nil {
			l.site.Connection = Connection{}
			decodeFields(l, c, &l.site.Connection, connectionFields)
		}
	}
	if l.once(root, "prune") {
		n := root.val["prune"]
		if n.Kind == yaml.ScalarNode {
			if b := root.bool("prune"); b != nil && *b {
				l.site.Prune = Prune{Profiles: true, Devices: true, Codecs: true, MulticastGroups: true, FirmwareUpdates: true}
			}
		} else if p := root.child("prune"); p != nil {
			l.site.Prune = Prune{}
			decodeFields(l, p, &l.site.Prune, pruneFields)
		}
		l.site.Prune.Pos = root.pos("prune")
	}
	if l.once(root, "deviceDefaults") {
		if l.defaults = root.child("deviceDefaults"); l.defaults != nil {
			decodeFields(l, l.defaults, &l.defaultDevice, deviceDefaultFields)
		}
	}
	if root.has("devicesFrom") {
		n := root.val["devicesFrom"]
		if n.Kind == yaml.ScalarNode {
			l.csvs = append(l.csvs, csvRef{from: root.file, ref: n.Value, file: relTo(dir, n.Value), pos: root.pos("devicesFrom"), path: "devicesFrom"})
		} else {
			names, pos := root.strs("devicesFrom")
			for i, f := range names {
				l.csvs = append(l.csvs, csvRef{from: root.file, ref: f, file: relTo(dir, f), pos: pos[i], path: fmt.Sprintf("devicesFrom[%d]", i)})
			}
		}
	}
	for _, m := range root.items("profiles") {
		l.profiles = append(l.profiles, &item{m: m, idx: len(l.site.Profiles)})
		l.site.Profiles = append(l.site.Profiles, Profile{Pos: m.self()})
		decodeFields(l, m, &l.site.Profiles[len(l.site.Profiles)-1], profileFields)
	}
	for _, m := range root.items("codecs") {
		l.codecs = append(l.codecs, &item{m: m, idx: len(l.site.Codecs)})
		l.site.Codecs = append(l.site.Codecs, Codec{Pos: m.self()})
		decodeFields(l, m, &l.site.Codecs[len(l.site.Codecs)-1], codecFields)
	}
	for _, m := range root.items("devices") {
		// The device is decoded where it is kept: a copy would cost an
		// allocation a device.
		l.addDevice(Device{Pos: m.self()}, &devItem{m: m})
		decodeFields(l, m, &l.site.Devices[len(l.site.Devices)-1], deviceFields)
		m.freeze() // only where its fields stand is needed from here on
	}
	for _, m := range root.items("multicastGroups") {
		l.groups = append(l.groups, &item{m: m, idx: len(l.site.MulticastGroups)})
		l.site.MulticastGroups = append(l.site.MulticastGroups, MulticastGroup{Pos: m.self()})
		decodeFields(l, m, &l.site.MulticastGroups[len(l.site.MulticastGroups)-1], groupFields)
	}
	for _, m := range root.items("firmwareUpdates") {
		l.tasks = append(l.tasks, &item{m: m, idx: len(l.site.FirmwareUpdates)})
		t := FirmwareUpdate{Pos: m.self()}
		decodeFields(l, m, &t, taskFields)
		if t.FirmwareName == "" && t.FirmwareFile != "" {
			t.FirmwareName = filepath.Base(t.FirmwareFile)
		}
		l.site.FirmwareUpdates = append(l.site.FirmwareUpdates, t)
	}
}

// relTo resolves p relative to dir (absolute paths stay as they are).
func relTo(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// digest hashes the files' bytes, sorted by path.
func digest(files []string, contents map[string][]byte) string {
	sorted := append([]string(nil), files...)
	sort.Strings(sorted)
	h := sha256.New()
	for _, f := range sorted {
		b := contents[f]
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.ToSlash(f), len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Digest is a sha256 (hex) over the bytes of the site's files, sorted by
// path: YAML and CSV files, script, secret and firmware files (Files). A
// saved plan keeps it to notice that the site changed since. For a site
// Load returned it is the digest of the bytes Load read; otherwise the
// files are read when it is called, and a file that cannot be read hashes
// as its error.
func (s *Site) Digest() string {
	if s.digest != "" {
		return s.digest
	}
	contents := map[string][]byte{}
	for _, f := range s.Files {
		b, err := safefile.Read(f, safefile.SiteTotal)
		if err != nil {
			b = []byte("unreadable: " + err.Error())
		}
		contents[f] = b
	}
	return digest(s.Files, contents)
}
