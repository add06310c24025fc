package safefile

import (
	"bytes"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// done runs f with a deadline: a read that blocks (a named pipe) fails the
// test instead of hanging it.
func done[T any](t *testing.T, f func() T) T {
	t.Helper()
	ch := make(chan T, 1)
	go func() { ch <- f() }()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("the read blocked")
		panic("unreachable")
	}
}

type result struct {
	b   []byte
	err error
}

// TestReadAgrees: for regular files of every size around the buffer's, Read
// gives os.ReadFile's bytes, in a slice of about their size. Seeded.
func TestReadAgrees(t *testing.T) {
	seed := time.Now().UnixNano()
	r := rand.New(rand.NewPCG(uint64(seed), 1))
	dir := t.TempDir()
	for i, n := range []int{0, 1, 63, 64, 65, 127, 128, 129, 4095, 4096, 4097, 100_000, r.IntN(1 << 20)} {
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(r.IntN(256))
		}
		p := filepath.Join(dir, "f"+string(rune('a'+i)))
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := Read(p, Firmware)
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("seed %d: size %d: %d bytes, %v", seed, n, len(got), err)
		}
		if len(got) > 0 && cap(got) > 2*len(got)+64 {
			t.Errorf("seed %d: size %d kept in %d", seed, n, cap(got))
		}
	}
}

func TestCapFromSize(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "big.key")
	if err := os.WriteFile(p, make([]byte, Limit(Key)+1), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Read(p, Key)
	var le *LimitError
	if !errors.Is(err, ErrTooLarge) || !errors.As(err, &le) || le.Kind != Key {
		t.Fatalf("err %v, want a key file's LimitError", err)
	}
	for _, want := range []string{p, "64 KiB", "key file", "GWSYNC_MAX_KEY_BYTES"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	if err := os.WriteFile(p, make([]byte, Limit(Key)), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := Read(p, Key); err != nil || int64(len(b)) != Limit(Key) {
		t.Fatalf("a file of exactly the cap: %d bytes, %v", len(b), err)
	}
}

// TestSizeThatLies: a /proc file says its size is 0; the read stops past
// the cap all the same.
func TestSizeThatLies(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs /proc")
	}
	SetLimit(Key, 16)
	t.Cleanup(func() { SetLimit(Key, 0) })
	for _, p := range []string{"/proc/self/environ", "/proc/self/maps"} {
		st, err := os.Stat(p)
		if err != nil || st.Size() != 0 {
			t.Skipf("%s: %v, size %v", p, err, st)
		}
		_, err = Read(p, Key)
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: %v, want over the cap", p, err)
		}
	}
}

func TestSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{dir: "a directory"}
	if runtime.GOOS != "windows" {
		fifo := filepath.Join(dir, "fifo")
		if err := mkfifo(fifo); err != nil {
			t.Fatal(err)
		}
		cases[fifo] = "a named pipe (FIFO), not a regular file"
		cases["/dev/zero"] = "a character device, not a regular file"
		cases["/dev/null"] = "a character device, not a regular file"
	}
	for p, want := range cases {
		res := done(t, func() result { b, err := Read(p, Site); return result{b, err} })
		if !errors.Is(res.err, ErrNotRegular) || !strings.Contains(res.err.Error(), want) || !strings.Contains(res.err.Error(), p) {
			t.Errorf("%s: %v, want %q", p, res.err, want)
		}
		root, err := NewRoot(dir)
		if err != nil {
			t.Fatal(err)
		}
		if p == dir {
			continue
		}
		res = done(t, func() result { b, err := root.Read(p, Site); return result{b, err} })
		if !errors.Is(res.err, ErrNotRegular) && !errors.Is(res.err, ErrOutside) {
			t.Errorf("root: %s: %v, want refused", p, res.err)
		}
	}
}

// TestContainment: what a root lets through and what it refuses.
func TestContainment(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links")
	}
	base := t.TempDir()
	root := filepath.Join(base, "repo")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "site", "keys"), 0o755))
	must(os.MkdirAll(filepath.Join(root, "shared"), 0o755))
	must(os.WriteFile(filepath.Join(base, "secret.env"), []byte("PASSWORD=hunter2\n"), 0o600))
	must(os.MkdirAll(filepath.Join(base, "outdir"), 0o755))
	must(os.WriteFile(filepath.Join(base, "outdir", "k"), []byte("x"), 0o600))
	must(os.WriteFile(filepath.Join(root, "site", "keys", "a.key"), []byte("inside"), 0o600))
	must(os.WriteFile(filepath.Join(root, "shared", "b.key"), []byte("shared"), 0o600))
	must(os.Symlink("../shared/b.key", filepath.Join(root, "site", "in.key")))
	must(os.Symlink(filepath.Join(base, "secret.env"), filepath.Join(root, "site", "out.key")))
	must(os.Symlink("../../secret.env", filepath.Join(root, "site", "rel-out.key")))
	must(os.Symlink(filepath.Join(base, "outdir"), filepath.Join(root, "site", "outdir")))
	must(os.Symlink("keys", filepath.Join(root, "site", "keys2")))
	must(os.Symlink("/proc/self/environ", filepath.Join(root, "site", "environ")))
	must(os.Symlink("out.key", filepath.Join(root, "site", "chain.key")))

	r, err := NewRoot(root)
	must(err)
	site := filepath.Join(root, "site")
	ok := map[string]string{
		"keys/a.key":             "inside",
		"in.key":                 "shared",
		"keys2/a.key":            "inside",
		"../shared/b.key":        "shared",
		"keys/../keys/a.key":     "inside",
		"./keys/./a.key":         "inside",
		"keys2/../keys/a.key":    "inside",
		"../site/keys/a.key":     "inside",
		"../../repo/site/in.key": "shared",
	}
	for ref, want := range ok {
		b, err := r.Read(filepath.Join(site, ref), Key)
		if err != nil || string(b) != want {
			t.Errorf("%s: %q, %v; want %q", ref, b, err, want)
		}
	}
	refused := map[string]string{
		"../../secret.env":   "leaves",
		"out.key":            "symbolic link",
		"rel-out.key":        "symbolic link",
		"outdir/k":           "symbolic link",
		"environ":            "symbolic link",
		"chain.key":          "symbolic link",
		"/proc/self/environ": "leaves",
		"/etc/passwd":        "leaves",
	}
	for ref, want := range refused {
		p := ref
		if !filepath.IsAbs(p) {
			p = filepath.Join(site, ref)
		}
		b, err := r.Read(p, Key)
		if !errors.Is(err, ErrOutside) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %q, %v; want refused (%s)", ref, b, err, want)
		}
		if bytes.Contains(b, []byte("hunter2")) || (err != nil && strings.Contains(err.Error(), "hunter2")) {
			t.Errorf("%s: the secret got out", ref)
		}
	}
	// A root given through a symbolic link holds what is under it.
	must(os.Symlink(root, filepath.Join(base, "link-to-repo")))
	r2, err := NewRoot(filepath.Join(base, "link-to-repo"))
	must(err)
	if b, err := r2.Read(filepath.Join(base, "link-to-repo", "site", "in.key"), Key); err != nil || string(b) != "shared" {
		t.Errorf("through a linked root: %q, %v", b, err)
	}
	// Missing files keep fs.ErrNotExist.
	if _, err := r.Read(filepath.Join(site, "nope.key"), Key); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
	if _, err := r.Read(filepath.Join(site, "nodir", "nope.key"), Key); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing folder: %v", err)
	}
}

func TestRootFor(t *testing.T) {
	base := t.TempDir()
	site := filepath.Join(base, "repo", "sites", "a")
	if err := os.MkdirAll(site, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(site, "site.yaml"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := RootFor(filepath.Join(site, "site.yaml"))
	if err != nil || r.Dir() != site {
		t.Fatalf("no repository: root %v, %v; want %s", r, err, site)
	}
	if err := os.WriteFile(filepath.Join(base, "repo", ".git"), []byte("gitdir: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{site, filepath.Join(site, "site.yaml")} {
		r, err := RootFor(p)
		if err != nil || r.Dir() != filepath.Join(base, "repo") {
			t.Fatalf("%s: root %v, %v; want the repository", p, r, err)
		}
	}
}

func TestLimitsFromEnv(t *testing.T) {
	t.Cleanup(func() { _ = LimitsFromEnv(func(string) string { return "" }) })
	env := map[string]string{"GWSYNC_MAX_SITE_BYTES": "64MiB", "GWSYNC_MAX_KEY_BYTES": "100", "GWSYNC_MAX_CSV_BYTES": " 2 g "}
	if err := LimitsFromEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if Limit(Site) != 64<<20 || Limit(Key) != 100 || Limit(CSV) != 2<<30 || Limit(Plan) != Plan.Default() {
		t.Fatalf("limits %d %d %d %d", Limit(Site), Limit(Key), Limit(CSV), Limit(Plan))
	}
	for _, bad := range []string{"-1", "0", "12 parsecs", "MiB", "99999999999999999999", "9000000000G"} {
		err := LimitsFromEnv(func(k string) string {
			if k == "GWSYNC_MAX_SITE_BYTES" {
				return bad
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), "GWSYNC_MAX_SITE_BYTES") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestWithin(t *testing.T) {
	sep := string(filepath.Separator)
	root := sep + "repo"
	for p, want := range map[string]bool{
		root: true, root + sep + "a": true, root + sep + "a" + sep + "b": true,
		root + "2": false, root + "2" + sep + "a": false, sep: false, sep + "re": false, sep + "other" + sep + "repo": false,
	} {
		if got := within(root, p); got != want {
			t.Errorf("within(%q, %q) = %v", root, p, got)
		}
	}
	if !within(sep, sep+"a") || !within(sep, sep) {
		t.Error("everything is within the file system's root")
	}
}
