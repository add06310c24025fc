// Package export turns a gateway's live state into a version-1 site file:
// how a gateway configured by hand in its web UI is adopted by gwsync. The
// file refers to everything by name (applications, profiles, codecs, member
// devices), leaves out what equals the default a plan would fill in, and
// holds no key: every key is a ${env:NAME} reference with a deterministic
// NAME, and the values come back separately (Result.Secrets) for the caller
// to store. Planning the exported site against the gateway it came from
// gives an empty plan.
//
// It does no network I/O (the state comes in as data) and decides nothing
// about differences: that is the planner's job. Only Site, WriteFiles and
// WriteEnvFile touch the file system.
package export

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gwsync/gwsync/internal/atomicfile"
	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/site"
)

// Options tune Export.
type Options struct {
	// Schema, when set, is the path or URL of the site JSON Schema: the file
	// starts with a yaml-language-server modeline pointing at it.
	Schema string
	// Dir is the folder the site file goes to. When set, codec scripts go
	// to files under Dir/codecs/ (unless InlineScripts) and local firmware
	// the gateway gives back goes under Dir/firmware/; Result.Files holds
	// them and Site writes them. When "", scripts are inline and no file is
	// made.
	Dir string
	// InlineScripts keeps codec scripts inline (YAML block scalars) even
	// when Dir is set.
	InlineScripts bool
	// Connection, when set, is written as the site's connection block. A
	// password with a reference keeps it; one in clear becomes the
	// reference ${env:GWSYNC_MQTT_PASSWORD} and a Result.Secrets entry.
	Connection *site.Connection
}

// PasswordEnv is the variable an MQTT password given in clear is referred to by.
const PasswordEnv = "GWSYNC_MQTT_PASSWORD"

// Secret is a key (or the MQTT password) the site refers to as ${env:Name}.
// It never prints its value: fmt and JSON show site.Masked.
type Secret struct {
	Name  string // environment variable, e.g. DEV_24E124136A456465_APPKEY
	Value string // "" when the gateway did not give it
	Field string // where the site refers to it, e.g. devices[2].appKey
}

// String masks the value.
func (s Secret) String() string { return s.Name + "=" + site.Masked }

// GoString masks the value for %#v.
func (s Secret) GoString() string { return s.String() }

// MarshalJSON masks the value.
func (s Secret) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf("{%q:%q,%q:%q,%q:%q}", "name", s.Name, "value", site.Masked, "field", s.Field)), nil
}

// File is a file the site refers to: a codec script or a firmware image.
type File struct {
	Path string // slash-separated, relative to Options.Dir (codecs/em300-th.js)
	Data []byte
}

// Counts is how many objects of each kind the site declares.
type Counts struct {
	Profiles, Codecs, Devices, MulticastGroups, FirmwareUpdates int
}

// Result is an export: the site file, the files it refers to, the keys it
// refers to, and notes for the user (things to do or left out). Notes never
// hold a key.
type Result struct {
	YAML    []byte
	Files   []File   // sorted by Path
	Secrets []Secret // sorted by Name
	Notes   []string
	Counts  Counts
}

// Export builds the site file for st. It is pure: the same state and
// options give the same bytes, whatever order st lists things in. What a
// site file cannot say as the gateway has it is written as near as it can
// be (or left out) and said in Result.Notes; Export fails only when st is
// nil.
func Export(st *nsapi.State, opts Options) (*Result, error) {
	if st == nil {
		return nil, errors.New("export: no state")
	}
	b := newBuilder(st, opts)
	return b.build()
}

// Site returns the site file for st. When opts.Dir is set it also writes
// the files the site refers to (codec scripts, firmware) under opts.Dir.
// Callers that need the keys use Export.
func Site(st *nsapi.State, opts Options) ([]byte, error) {
	r, err := Export(st, opts)
	if err != nil {
		return nil, err
	}
	if opts.Dir != "" {
		if err := r.WriteFiles(opts.Dir); err != nil {
			return nil, err
		}
	}
	return r.YAML, nil
}

// WriteFiles writes r.Files under dir, making the folders they need. An
// existing file is replaced.
func (r *Result) WriteFiles(dir string) error {
	for _, f := range r.Files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if err := atomicfile.Write(p, f.Data, 0o644); err != nil {
			err = fmt.Errorf("write %s: %w", p, err)
			return fmt.Errorf("export: %w", err)
		}
	}
	return nil
}

// EnvFile is r's keys as NAME=value lines, sorted by name, after a comment
// header: the form shells (set -a; . FILE), systemd and docker read. Keys
// the gateway did not give are listed as comments. A value a shell would
// split (a password with spaces or quotes) is single-quoted.
func (r *Result) EnvFile() []byte {
	var b bytes.Buffer
	b.WriteString("# Keys of the site written by gwsync export. Keep this file secret: load it\n")
	b.WriteString("# into your secret store (or the environment of gwsync), then delete it.\n")
	for _, s := range r.Secrets {
		if s.Value == "" {
			fmt.Fprintf(&b, "# %s= (the gateway did not give this key: set it yourself)\n", s.Name)
			continue
		}
		fmt.Fprintf(&b, "%s=%s\n", s.Name, shellQuote(s.Value))
	}
	return b.Bytes()
}

// shellQuote leaves a value of plain characters as it is and single-quotes
// any other.
func shellQuote(v string) string {
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-./:@%+=,", r)) {
			return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
		}
	}
	return v
}

// WriteEnvFile writes r.EnvFile() to path with mode 0600, through a
// temporary file in the same folder so that no reader sees half a file and
// the keys are never readable by others, even for a moment.
func (r *Result) WriteEnvFile(path string) error {
	if err := atomicfile.Write(path, r.EnvFile(), 0o600); err != nil {
		err = fmt.Errorf("write %s: %w", path, err)
		return fmt.Errorf("export: env file: %w", err)
	}
	return nil
}

// ---- names ----

// envName is an environment variable name made of parts: upper case,
// every run of other characters than A-Z and 0-9 one "_".
func envName(parts ...string) string {
	var b strings.Builder
	under := false
	for _, p := range parts {
		for _, r := range strings.ToUpper(p) {
			if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
				if under && b.Len() > 0 {
					b.WriteByte('_')
				}
				under = false
				b.WriteRune(r)
				continue
			}
			under = true
		}
		under = true
	}
	return b.String()
}

// fileBase is a file name made from name: letters, digits, ".", "-" and
// "_" kept, every run of others one "-"; never empty, never hidden.
func fileBase(name, fallback string) string {
	var b strings.Builder
	dash := false
	for _, r := range name {
		if (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || r == '.' || r == '-' || r == '_' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	s := strings.Trim(b.String(), ".-")
	if s == "" {
		return fallback
	}
	return s
}

// safeFileName reports whether name can be a firmware file's base name as
// it is: no folder, not hidden, no control character.
func safeFileName(name string) bool {
	if name == "" || name == "." || name == ".." || strings.HasPrefix(name, ".") || strings.ContainsAny(name, `/\:`) {
		return false
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return path.Base(name) == name
}

// uniq hands out names, adding -2, -3, … (or _2, …) to a name already
// taken; taken compares case-insensitively (file systems that fold case).
type uniq struct {
	taken map[string]bool
	sep   string
}

func newUniq(sep string) *uniq { return &uniq{taken: map[string]bool{}, sep: sep} }

// get returns name, or name with a suffix before ext when name is taken.
func (u *uniq) get(name, ext string) string {
	cand := name + ext
	for i := 2; u.taken[strings.ToLower(cand)]; i++ {
		cand = fmt.Sprintf("%s%s%d%s", name, u.sep, i, ext)
	}
	u.taken[strings.ToLower(cand)] = true
	return cand
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
