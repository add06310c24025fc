// Package safefile reads the files gwsync is pointed at (site files and the
// files they name, env, CA, plan and snapshot files) so that no file can
// hang a command or grow its memory without bound: only regular files are
// read, a named pipe cannot block the open, and each kind of file has a size
// cap, checked against the file's size and again while reading (files in
// /proc and the like report a size of 0 and hold more).
//
// A Root adds containment: a path read through it must resolve, after
// symbolic links, inside the root directory. Sites come from pull
// requests: a reference that leaves the site's folder (or its repository)
// could publish any file the runner can read in the plan.
//
// It does not decide what a root is for a command (package site does) nor
// read the environment: the caps are set with SetLimit (package cli reads
// them from GWSYNC_MAX_*_BYTES).
package safefile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Kind is a kind of file, with its own size cap.
type Kind int

// The kinds of files gwsync reads.
const (
	Site      Kind = iota // a site or fleet YAML file
	SiteTotal             // all the YAML and CSV files of one site together
	CSV                   // a devicesFrom CSV file
	Key                   // a ${file:…} secret
	Script                // a codec file (decoderFile, encoderFile, codecJsonFile)
	Firmware              // a FUOTA firmwareFile
	EnvFile               // --env-file
	TLS                   // a CA, client certificate or client key file
	Plan                  // a saved plan
	Snapshot              // a state snapshot (--state)
	// SiteValues caps a site's YAML values (nodes), not bytes: its
	// files' bound before they are parsed (package site).
	SiteValues
	numKinds
)

type kindInfo struct {
	name string
	env  string
	def  int64
}

const (
	kiB = 1 << 10
	miB = 1 << 20
)

var kinds = [numKinds]kindInfo{
	Site:      {"site file", "GWSYNC_MAX_SITE_BYTES", 16 * miB},
	SiteTotal: {"site (all its YAML and CSV files)", "GWSYNC_MAX_SITE_TOTAL_BYTES", 64 * miB},
	CSV:       {"CSV file", "GWSYNC_MAX_CSV_BYTES", 16 * miB},
	Key:       {"key file", "GWSYNC_MAX_KEY_BYTES", 64 * kiB},
	Script:    {"codec file", "GWSYNC_MAX_SCRIPT_BYTES", 1 * miB},
	Firmware:  {"firmware file", "GWSYNC_MAX_FIRMWARE_BYTES", 16 * miB},
	EnvFile:   {"env file", "GWSYNC_MAX_ENV_FILE_BYTES", 1 * miB},
	TLS:       {"certificate or key file", "GWSYNC_MAX_TLS_BYTES", 1 * miB},
	Plan:      {"plan file", "GWSYNC_MAX_PLAN_BYTES", 256 * miB},
	Snapshot:  {"snapshot", "GWSYNC_MAX_SNAPSHOT_BYTES", 256 * miB},
	// The bound is at most about twice the values a file really holds
	// (keys without values); a value's tree takes some 250 bytes and is
	// read twice more (schema, decoding). At the cap, a file of 480,000
	// keys took 6 s and 160 MB; a site of 20,000 devices of three fields
	// counts some 660,000.
	SiteValues: {"site's YAML values", "GWSYNC_MAX_SITE_VALUES", 1_000_000},
}

var limits [numKinds]atomic.Int64

func init() {
	for k := range limits {
		limits[k].Store(kinds[k].def)
	}
}

// String names the kind ("key file").
func (k Kind) String() string {
	if k < 0 || k >= numKinds {
		return "Kind(" + strconv.Itoa(int(k)) + ")"
	}
	return kinds[k].name
}

// Env is the environment variable that raises the kind's cap.
func (k Kind) Env() string { return kinds[k].env }

// Default is the kind's cap when nothing raises it.
func (k Kind) Default() int64 { return kinds[k].def }

// Limit is the kind's cap in bytes.
func Limit(k Kind) int64 { return limits[k].Load() }

// SetLimit sets the kind's cap; n < 1 restores the default.
func SetLimit(k Kind, n int64) {
	if n < 1 {
		n = kinds[k].def
	}
	limits[k].Store(n)
}

// Kinds lists every kind, for documentation and for reading the caps from
// the environment.
func Kinds() []Kind {
	out := make([]Kind, numKinds)
	for k := range out {
		out[k] = Kind(k)
	}
	return out
}

// LimitsFromEnv sets every cap from getenv (GWSYNC_MAX_SITE_BYTES=64MiB, …):
// a variable not set restores the default. A value is a number of bytes
// with an optional unit (k, KiB, M, MiB, G, GiB; all powers of 1024).
func LimitsFromEnv(getenv func(string) string) error {
	var errs []error
	for _, k := range Kinds() {
		v := strings.TrimSpace(getenv(k.Env()))
		if v == "" {
			SetLimit(k, 0)
			continue
		}
		n, err := ParseSize(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", k.Env(), err))
			continue
		}
		SetLimit(k, n)
	}
	return errors.Join(errs...)
}

// ParseSize reads a size: a number of bytes with an optional unit (k, KiB,
// M, MiB, G, GiB, all powers of 1024).
func ParseSize(s string) (int64, error) {
	num := strings.TrimRightFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	unit := strings.ToLower(strings.TrimSpace(s[len(num):]))
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%q: want a positive number of bytes (64MiB, 500k, 1048576)", s)
	}
	var mul int64
	switch unit {
	case "", "b":
		mul = 1
	case "k", "kb", "kib":
		mul = kiB
	case "m", "mb", "mib":
		mul = miB
	case "g", "gb", "gib":
		mul = 1 << 30
	default:
		return 0, fmt.Errorf("%q: unknown unit %q (want k, MiB, G…)", s, unit)
	}
	if n > (1<<62)/mul {
		return 0, fmt.Errorf("%q: too large", s)
	}
	return n * mul, nil
}

// Size prints n in the unit a cap is written in (16 MiB, 64 KiB, 100 bytes).
func Size(n int64) string {
	switch {
	case n >= miB && n%miB == 0:
		return fmt.Sprintf("%d MiB", n/miB)
	case n >= kiB && n%kiB == 0:
		return fmt.Sprintf("%d KiB", n/kiB)
	}
	return fmt.Sprintf("%d bytes", n)
}

// Errors wrapped by the *fs.PathError Read and Root.Read return; match
// them with errors.Is.
var (
	ErrNotRegular = errors.New("not a regular file")
	ErrTooLarge   = errors.New("over the size cap")
	ErrOutside    = errors.New("outside the root")
)

// LimitError is a file over its kind's cap.
type LimitError struct {
	Kind  Kind
	Limit int64
	Size  int64 // the file's size, or -1 when it does not say (a /proc file)
}

func (e *LimitError) Error() string {
	if e.Kind == SiteValues {
		return fmt.Sprintf("its bytes allow up to %d YAML values, more than the %d a site may hold (raise the cap with %s=N)", e.Size, e.Limit, e.Kind.Env())
	}
	what := "more than"
	if e.Size >= 0 {
		what = fmt.Sprintf("%s, more than", Size(e.Size))
	}
	return fmt.Sprintf("%s the %s cap for a %s (raise it with %s=SIZE)", what, Size(e.Limit), e.Kind, e.Kind.Env())
}

// Is matches ErrTooLarge.
func (e *LimitError) Is(target error) bool { return target == ErrTooLarge }

// TypeError is a path that is not a regular file.
type TypeError struct {
	Mode fs.FileMode
}

func (e *TypeError) Error() string {
	var what string
	switch m := e.Mode; {
	case m.IsDir():
		return "a directory, not a file"
	case m&fs.ModeNamedPipe != 0:
		what = "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	case m&fs.ModeCharDevice != 0:
		what = "a character device"
	case m&fs.ModeDevice != 0:
		what = "a device"
	case m&fs.ModeSymlink != 0:
		what = "a symbolic link"
	default:
		what = "a special file"
	}
	return what + ", not a regular file"
}

// Is matches ErrNotRegular.
func (e *TypeError) Is(target error) bool { return target == ErrNotRegular }

// OutsideError is a path that leaves its root.
type OutsideError struct {
	Root string
	Why  string // "leaves", "a symbolic link that leads outside", …
}

func (e *OutsideError) Error() string {
	return fmt.Sprintf("%s %s: files a site names must stay inside it (its folder, or its repository)", e.Why, e.Root)
}

// Is matches ErrOutside.
func (e *OutsideError) Is(target error) bool { return target == ErrOutside }

// Read reads the regular file at path, up to k's cap, wherever it is: for
// paths the user gave (flags, arguments). Errors are *fs.PathError, wrapping a *TypeError, a
// *LimitError or the system's error.
func Read(path string, k Kind) ([]byte, error) {
	b, err := readFile(path, false, Limit(k))
	return b, wrap(path, k, err)
}

func wrap(path string, k Kind, err error) error {
	if err == nil {
		return nil
	}
	var le *LimitError
	if errors.As(err, &le) {
		le.Kind = k
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return err
	}
	return &fs.PathError{Op: "read", Path: path, Err: err}
}

// Root is a directory that paths read through it must stay inside, after
// symbolic links. It is safe for concurrent use.
type Root struct {
	dir  string // absolute, clean
	real string // dir with its symbolic links resolved
	cwd  string

	mu   sync.Mutex
	dirs map[string]dirReal // absolute directory → its real path
}

type dirReal struct {
	real string
	err  error
}

// NewRoot makes dir a root.
func NewRoot(dir string) (*Root, error) {
	cwd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	abs := dir
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(cwd, abs)
	}
	abs = filepath.Clean(abs)
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, err
	}
	return &Root{dir: abs, real: real, cwd: cwd, dirs: map[string]dirReal{}}, nil
}

// RootFor is the root of the site at path (a file or a directory): the
// nearest folder above it, or it, that holds .git (the repository's root),
// else the site's folder (path itself for a directory, its folder for a
// file).
func RootFor(path string) (*Root, error) {
	dir := path
	if st, err := os.Stat(path); err != nil || !st.IsDir() {
		dir = filepath.Dir(path)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	for d := abs; ; {
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
			return NewRoot(d)
		}
		up := filepath.Dir(d)
		if up == d {
			break
		}
		d = up
	}
	return NewRoot(abs)
}

// Dir is the root directory (absolute).
func (r *Root) Dir() string { return r.dir }

// Abs makes path (relative to the working directory) absolute.
func (r *Root) abs(path string) string {
	if filepath.IsAbs(path) {
		return filepath.Clean(path)
	}
	return filepath.Join(r.cwd, path)
}

// within reports whether path is dir or under it; both are clean and
// absolute.
func within(dir, path string) bool {
	if !strings.HasPrefix(path, dir) {
		return false
	}
	rest := path[len(dir):]
	return rest == "" || rest[0] == filepath.Separator || strings.HasSuffix(dir, string(filepath.Separator))
}

// Contains checks that path, relative to the working directory, resolves
// inside the root: by its name (no ".." leading out) and after symbolic
// links (its folders' and its own). The error wraps an *OutsideError.
func (r *Root) Contains(path string) error {
	realDir, base, err := r.resolve(path)
	if err != nil {
		return err
	}
	full := filepath.Join(realDir, base)
	st, err := os.Lstat(full)
	if err != nil || st.Mode()&fs.ModeSymlink == 0 {
		return nil // not there (its reader says so), or no link
	}
	_, err = r.linkInside(path, full)
	return err
}

// linkInside checks that the symbolic link full (named path) leads inside
// the root, and returns where it leads.
func (r *Root) linkInside(path, full string) (string, error) {
	target, err := filepath.EvalSymlinks(full)
	if err != nil {
		return "", &fs.PathError{Op: "read", Path: path, Err: unwrapPath(err)}
	}
	if !within(r.real, target) {
		return "", &fs.PathError{Op: "read", Path: path, Err: &OutsideError{Root: r.dir, Why: "a symbolic link that leads outside"}}
	}
	return target, nil
}

// resolve gives the real path of path's folder and path's last element.
func (r *Root) resolve(path string) (realDir, base string, err error) {
	abs := r.abs(path)
	if !within(r.dir, abs) {
		return "", "", &fs.PathError{Op: "read", Path: path, Err: &OutsideError{Root: r.dir, Why: "leaves"}}
	}
	dir, base := filepath.Split(abs)
	dir = filepath.Clean(dir)
	r.mu.Lock()
	d, ok := r.dirs[dir]
	if !ok {
		d.real, d.err = filepath.EvalSymlinks(dir)
		r.dirs[dir] = d
	}
	r.mu.Unlock()
	if d.err != nil {
		return "", "", &fs.PathError{Op: "read", Path: path, Err: unwrapPath(d.err)}
	}
	if !within(r.real, d.real) {
		return "", "", &fs.PathError{Op: "read", Path: path, Err: &OutsideError{Root: r.dir, Why: "a symbolic link on the way leads outside"}}
	}
	return d.real, base, nil
}

// Read reads the regular file at path (relative to the working directory)
// up to k's cap, if it resolves inside the root. Errors are *fs.PathError
// wrapping an *OutsideError, a *TypeError, a *LimitError or the system's
// error.
func (r *Root) Read(path string, k Kind) ([]byte, error) {
	realDir, base, err := r.resolve(path)
	if err != nil {
		return nil, err
	}
	full := filepath.Join(realDir, base)
	b, err := readFile(full, true, Limit(k))
	if errors.Is(err, errSymlink) {
		// The file itself is a symbolic link: where does it lead?
		target, lerr := r.linkInside(path, full)
		if lerr != nil {
			return nil, lerr
		}
		b, err = readFile(target, false, Limit(k))
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, wrap(path, k, err)
	}
	return b, nil
}

// errSymlink is readFile's error for a symbolic link it was told not to
// follow.
var errSymlink = errors.New("a symbolic link")

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// openError says "open" for a file that could not be stat'ed before its
// open, as os.ReadFile's errors do.
func openError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Op == "stat" {
		return &fs.PathError{Op: "open", Path: pe.Path, Err: pe.Err}
	}
	return err
}
