package applier_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gwsync/gwsync/applier"
	"github.com/gwsync/gwsync/gwsim"
)

const otherEUI = "24E124FFFE000042"

// killedApply runs the full plan and kills it at its 12th write: the
// journal left is returned (its folder), with the gateway half-way.
func killedApply(t *testing.T, f *fixture, target applier.Target) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), ".gwsync")
	crashed := filepath.Join(t.TempDir(), ".gwsync")
	w := &crashWriter{Writer: f.c, dir: dir, copyTo: crashed, nth: 12, afterWrite: true, t: t, silence: lost()}
	if _, err := applier.Apply(context.Background(), w, f.fullPlan(t), applier.Options{Parallelism: 1, JournalDir: dir, Target: target}); err == nil {
		t.Fatal("apply succeeded through a crash")
	}
	return crashed
}

func assertRolledBack(t *testing.T, f *fixture, dir string, opts applier.Options) {
	t.Helper()
	res, err := applier.Rollback(context.Background(), f.c, dir, opts)
	if err != nil {
		t.Fatalf("rollback: %v\n%s", err, res.Remaining)
	}
	if d := canonDiff(f.live, must(f.c.ReadState(context.Background()))(t)); d != "" {
		t.Errorf("(-before +after):\n%s", d)
	}
}

// TestJournalOfAnotherGatewayRefused: a journal from gateway A beside a
// site for gateway B is refused, naming both, and nothing is written.
func TestJournalOfAnotherGatewayRefused(t *testing.T) {
	f := newFixture(t, gwsim.Options{})
	f.seed(t)
	dir := killedApply(t, f, applier.Target{Broker: "tcp://gwsync:s3cret-pw@127.0.0.1:1883"})
	writes := f.g.Writes()
	_, err := applier.Rollback(context.Background(), f.c, dir, applier.Options{Target: applier.Target{GatewayEUI: otherEUI}, Force: true})
	var me *applier.JournalMismatchError
	if !errors.As(err, &me) {
		t.Fatalf("rollback against another gateway: %v, want a JournalMismatchError", err)
	}
	if !strings.Contains(err.Error(), otherEUI) || !strings.Contains(err.Error(), f.g.EUI()) {
		t.Errorf("error does not name both gateways: %v", err)
	}
	if n := f.g.Writes() - writes; n != 0 {
		t.Errorf("%d writes sent by a refused rollback", n)
	}
	info, err := applier.ReadJournalInfo(dir)
	if err != nil {
		t.Fatal(err)
	}
	if info.GatewayEUI != f.g.EUI() || info.Broker != "tcp://127.0.0.1:1883" || len(info.ID) != 32 || info.Version != 2 {
		t.Errorf("journal info %+v: want the gateway, the broker without credentials, a 128-bit id, version 2", info)
	}
	b, _ := os.ReadFile(filepath.Join(dir, applier.JournalFile))
	if bytes.Contains(b, []byte("s3cret-pw")) {
		t.Error("the broker password is in the journal")
	}
	// The right gateway rolls back.
	assertRolledBack(t, f, dir, applier.Options{Target: applier.Target{GatewayEUI: strings.ToLower(f.g.EUI())}})
}

// TestJournalOfAnotherRunRefused: a rollback that knows which run was
// interrupted (from the gateway's record) refuses another run's journal.
func TestJournalOfAnotherRunRefused(t *testing.T) {
	f := newFixture(t, gwsim.Options{})
	f.seed(t)
	id := applier.NewJournalID()
	dir := killedApply(t, f, applier.Target{JournalID: id})
	if info, err := applier.ReadJournalInfo(dir); err != nil || info.ID != id {
		t.Fatalf("journal info %+v, %v: want id %s", info, err, id)
	}
	var me *applier.JournalMismatchError
	if _, err := applier.Rollback(context.Background(), f.c, dir, applier.Options{Target: applier.Target{JournalID: applier.NewJournalID()}, Force: true}); !errors.As(err, &me) {
		t.Fatalf("rollback of another run's journal: %v, want a JournalMismatchError", err)
	}
	assertRolledBack(t, f, dir, applier.Options{Target: applier.Target{JournalID: id, GatewayEUI: f.g.EUI()}})
}

// TestCorruptJournalRecordRefused: a damaged record in the middle stops
// the rollback before any write, naming the file and line; --force skips
// it. A last line cut short is ignored.
func TestCorruptJournalRecordRefused(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func(line []byte) []byte
	}{
		{"changed value", func(l []byte) []byte { return bytes.Replace(l, []byte(`"t":"`), []byte(`"t":"x`), 1) }},
		{"not JSON", func(l []byte) []byte { return append([]byte("{garbage "), l[9:]...) }},
		{"checksum gone", func(l []byte) []byte { return append(l[:bytes.LastIndex(l, []byte(`,"sum"`))], '}') }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, gwsim.Options{})
			f.seed(t)
			dir := killedApply(t, f, applier.Target{})
			path := filepath.Join(dir, applier.JournalFile)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			lines := bytes.SplitAfter(b, []byte("\n"))
			if len(lines) < 8 {
				t.Fatalf("journal of %d lines: the test proves nothing", len(lines))
			}
			lines[4] = append(tc.corrupt(bytes.TrimSuffix(lines[4], []byte("\n"))), '\n')
			if err := os.WriteFile(path, bytes.Join(lines, nil), 0o600); err != nil {
				t.Fatal(err)
			}
			writes := f.g.Writes()
			_, err = applier.Rollback(context.Background(), f.c, dir, applier.Options{})
			var ce *applier.CorruptJournalError
			if !errors.As(err, &ce) || ce.Line != 5 || !strings.Contains(err.Error(), path+" line 5") ||
				!strings.Contains(err.Error(), "--force") || !strings.Contains(err.Error(), "--abandon") {
				t.Fatalf("rollback of a journal damaged at line 5: %v; want a CorruptJournalError naming %s line 5 and the ways forward", err, path)
			}
			if n := f.g.Writes() - writes; n != 0 {
				t.Errorf("%d writes sent by a refused rollback", n)
			}
			if _, err := applier.ReadJournalInfo(dir); err != nil {
				t.Errorf("the begin record is whole, yet: %v", err)
			}
			// Past it with --force: the records after it still count.
			res, err := applier.Rollback(context.Background(), f.c, dir, applier.Options{Force: true})
			if err != nil {
				t.Fatalf("rollback --force: %v\n%s", err, res.Remaining)
			}
			if !strings.Contains(strings.Join(res.Notes, "\n"), "line 5") {
				t.Errorf("notes do not say line 5 was skipped: %q", res.Notes)
			}
		})
	}
	t.Run("last line cut short", func(t *testing.T) {
		f := newFixture(t, gwsim.Options{})
		f.seed(t)
		dir := killedApply(t, f, applier.Target{})
		path := filepath.Join(dir, applier.JournalFile)
		b, _ := os.ReadFile(path)
		if err := os.WriteFile(path, append(b, []byte(`{"t":"intent","n":99,"eff`)...), 0o600); err != nil {
			t.Fatal(err)
		}
		assertRolledBack(t, f, dir, applier.Options{})
	})
}

// TestJournalNeverThroughALink: a .gwsync that is a link, or a journal
// file that is one, is refused with a clear error; the file the link
// points at is never written.
func TestJournalNeverThroughALink(t *testing.T) {
	f := newFixture(t, gwsim.Options{})
	f.seed(t)
	ctx := context.Background()
	victimDir := t.TempDir()
	victim := filepath.Join(victimDir, "precious")
	if err := os.WriteFile(victim, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	writes := f.g.Writes()
	check := func(name string, err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), "link") {
			t.Errorf("%s: %v, want a refusal naming the link", name, err)
		}
		if b, _ := os.ReadFile(victim); string(b) != "precious" {
			t.Errorf("%s: the link's target was overwritten: %q", name, b)
		}
		if ents, _ := os.ReadDir(victimDir); len(ents) != 1 {
			t.Errorf("%s: %d files in the link's target folder, want only the one that was there", name, len(ents))
		}
		if n := f.g.Writes() - writes; n != 0 {
			t.Errorf("%s: %d writes sent", name, n)
		}
	}
	// The folder is a link.
	site := t.TempDir()
	link := filepath.Join(site, ".gwsync")
	if err := os.Symlink(victimDir, link); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	_, err := applier.Apply(ctx, f.c, f.fullPlan(t), applier.Options{JournalDir: link})
	check(".gwsync a link", err)

	// A file in it is a link: the key file, the ignore file.
	for _, name := range []string{applier.KeyFile, ".gitignore", applier.BeforeFile} {
		dir := filepath.Join(t.TempDir(), ".gwsync")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(victim, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
		_, err := applier.Apply(ctx, f.c, f.fullPlan(t), applier.Options{JournalDir: dir})
		check(name+" a link", err)
	}

	// Reading: a journal whose files are links is refused by rollback.
	dir := killedApply(t, f, applier.Target{})
	writes = f.g.Writes()
	key := filepath.Join(dir, applier.KeyFile)
	moved := filepath.Join(t.TempDir(), "key")
	if err := os.Rename(key, moved); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(moved, key); err != nil {
		t.Fatal(err)
	}
	_, err = applier.Rollback(ctx, f.c, dir, applier.Options{})
	check("rollback with the key a link", err)
	if err := os.Remove(key); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(moved, key); err != nil {
		t.Fatal(err)
	}
	jl := filepath.Join(t.TempDir(), ".gwsync")
	if err := os.Symlink(dir, jl); err != nil {
		t.Fatal(err)
	}
	_, err = applier.Rollback(ctx, f.c, jl, applier.Options{})
	check("rollback through a linked folder", err)

	// A key file readable by others is not gwsync's.
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := applier.Rollback(ctx, f.c, dir, applier.Options{}); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("rollback with a key file of mode 0644: %v, want a refusal saying chmod 600", err)
	}
	if err := os.Chmod(key, 0o600); err != nil {
		t.Fatal(err)
	}
	assertRolledBack(t, f, dir, applier.Options{})
}

// TestJournalVersion1Accepted: a journal written before records carried
// checksums (no format version, no id, no sums) is rolled back, with a
// note saying its records are not checksummed.
func TestJournalVersion1Accepted(t *testing.T) {
	f := newFixture(t, gwsim.Options{})
	f.seed(t)
	dir := killedApply(t, f, applier.Target{})
	path := filepath.Join(dir, applier.JournalFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for i, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatal(err)
		}
		delete(m, "sum")
		if i == 0 {
			for _, k := range []string{"v", "journal_id", "gateway_eui", "broker", "before_sha256"} {
				delete(m, k)
			}
		}
		l, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(append(out, l...), '\n')
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	info, err := applier.ReadJournalInfo(dir)
	if err != nil || info.Version != 1 || info.GatewayEUI != f.g.EUI() {
		t.Fatalf("journal info %+v, %v: want version 1 naming the plan's gateway", info, err)
	}
	var me *applier.JournalMismatchError
	if _, err := applier.Rollback(context.Background(), f.c, dir, applier.Options{Target: applier.Target{GatewayEUI: otherEUI}}); !errors.As(err, &me) {
		t.Fatalf("version 1 journal against another gateway: %v, want a JournalMismatchError", err)
	}
	res, err := applier.Rollback(context.Background(), f.c, dir, applier.Options{Target: applier.Target{GatewayEUI: f.g.EUI()}})
	if err != nil {
		t.Fatalf("rollback: %v\n%s", err, res.Remaining)
	}
	if !strings.Contains(strings.Join(res.Notes, "\n"), "no checksums") {
		t.Errorf("no note that the journal carries no checksums: %q", res.Notes)
	}
	if d := canonDiff(f.live, must(f.c.ReadState(context.Background()))(t)); d != "" {
		t.Errorf("(-before +after):\n%s", d)
	}
}

// TestJournalWithoutRecords: a journal file left empty (the apply stopped
// before its begin record was whole) is refused by rollback, which says
// how to end it, and --abandon ends it.
func TestJournalWithoutRecords(t *testing.T) {
	f := newFixture(t, gwsim.Options{})
	f.seed(t)
	dir := killedApply(t, f, applier.Target{})
	if err := os.WriteFile(filepath.Join(dir, applier.JournalFile), []byte(`{"t":"begin","v":2,"jour`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := applier.Rollback(context.Background(), f.c, dir, applier.Options{})
	var ce *applier.CorruptJournalError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "--abandon") {
		t.Fatalf("rollback of a journal without records: %v, want a CorruptJournalError naming --abandon", err)
	}
	if _, _, err := applier.Abandon(context.Background(), f.c, dir); err != nil {
		t.Fatalf("abandon: %v", err)
	}
	if applier.HasJournal(dir) {
		t.Error("journal still there after --abandon")
	}
}

func TestCheckJournalDir(t *testing.T) {
	root := t.TempDir()
	if err := applier.CheckJournalDir(filepath.Join(root, "missing")); err != nil {
		t.Errorf("missing folder: %v", err)
	}
	if err := applier.CheckJournalDir(root); err != nil {
		t.Errorf("a folder: %v", err)
	}
	link := filepath.Join(t.TempDir(), ".gwsync")
	if err := os.Symlink(root, link); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	if err := applier.CheckJournalDir(link); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("a link: %v, want a refusal", err)
	}
}
