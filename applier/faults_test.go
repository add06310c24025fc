package applier_test

// Regression tests for the fault classes found by the outside trial (issue
// [faults], classes A–G): each fails without its fix. The broad check is
// the seeded campaign in internal/faultcampaign; these pin each class.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gwsync/gwsync/applier"
	"github.com/gwsync/gwsync/gwsim"
	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
)

// hookWriter lets a test decide, per call, what the gateway does with a
// write: perform it and answer success (nil hook result), perform it and
// answer an error anyway, or answer without performing it.
type hookWriter struct {
	applier.Writer
	// failTask refuses the create of FUOTA task new-task with 10310013
	// (nothing done).
	failTask bool
	mu       sync.Mutex
	calls    map[string]int
	// on is asked before each hooked call with the call's name and how many
	// such calls came before; it returns whether to perform the call and
	// the error to answer with (nil: the call's own answer).
	on func(op string, n int) (perform bool, err error)
}

func (w *hookWriter) hook(op string, call func() error) error {
	w.mu.Lock()
	if w.calls == nil {
		w.calls = map[string]int{}
	}
	n := w.calls[op]
	w.calls[op]++
	on := w.on
	w.mu.Unlock()
	perform, err := true, error(nil)
	if on != nil {
		perform, err = on(op, n)
	}
	if perform {
		if cerr := call(); err == nil {
			err = cerr
		}
	}
	return err
}

func (w *hookWriter) UpdateDevice(ctx context.Context, eui string, d nsapi.DeviceWrite) error {
	return w.hook("UpdateDevice", func() error { return w.Writer.UpdateDevice(ctx, eui, d) })
}

func (w *hookWriter) CreateProfile(ctx context.Context, p nsapi.ProfileWrite) (id string, err error) {
	err = w.hook("CreateProfile", func() error { id, err = w.Writer.CreateProfile(ctx, p); return err })
	return id, err
}

func (w *hookWriter) DeleteProfile(ctx context.Context, id string) error {
	return w.hook("DeleteProfile", func() error { return w.Writer.DeleteProfile(ctx, id) })
}

func (w *hookWriter) DeleteCodec(ctx context.Context, id string) error {
	return w.hook("DeleteCodec", func() error { return w.Writer.DeleteCodec(ctx, id) })
}

func (w *hookWriter) RemoveGroupDevices(ctx context.Context, id string, euis []string) error {
	return w.hook("RemoveGroupDevices", func() error { return w.Writer.RemoveGroupDevices(ctx, id, euis) })
}

func (w *hookWriter) UpdateGroup(ctx context.Context, id string, g nsapi.MulticastGroup) error {
	return w.hook("UpdateGroup", func() error { return w.Writer.UpdateGroup(ctx, id, g) })
}

func (w *hookWriter) CreateTask(ctx context.Context, t nsapi.FuotaTask) (int64, error) {
	if w.failTask && t.Name == "new-task" {
		return 0, remote(nsapi.CodeFuotaTooManyTasks)
	}
	return w.Writer.CreateTask(ctx, t)
}

func (w *hookWriter) ReadState(ctx context.Context) (st *nsapi.State, err error) {
	err = w.hook("ReadState", func() error { st, err = w.Writer.ReadState(ctx); return err })
	return st, err
}

func (w *hookWriter) ListProfiles(ctx context.Context) (l *nsapi.ProfileList, err error) {
	err = w.hook("ListProfiles", func() error { l, err = w.Writer.ListProfiles(ctx); return err })
	return l, err
}

func remote(code int) error {
	return &nsapi.RemoteError{Method: "X", URL: "/injected", Code: code, Message: "injected"}
}

func lost() error {
	return &nsapi.OutcomeError{Method: "X", URL: "/injected", Cause: errors.New("timeout after 1s (injected)")}
}

// failing wraps the fixture's client so that the plan's last phase (the
// FUOTA task create) fails with a code that by the spec means nothing was
// done: the apply rolls back everything before it.
func failing(f *fixture) *hookWriter { return &hookWriter{Writer: f.c, failTask: true} }

func assertRestored(t *testing.T, f *fixture, res *applier.Result, err error) {
	t.Helper()
	if !nsapi.IsCode(err, nsapi.CodeFuotaTooManyTasks) {
		t.Fatalf("apply error %v, want the injected 10310013", err)
	}
	if !res.Restored {
		t.Errorf("not restored:\n%s", res.Remaining)
	}
	if d := canonDiff(f.live, must(f.c.ReadState(context.Background()))(t)); d != "" {
		t.Errorf("the gateway differs from before the apply (-before +after):\n%s", d)
	}
}

// Class E: a write that took effect but was answered 2, 23 or 24 is
// settled by a re-read, and so undone by the rollback.
func TestErrorAnswerAfterTheWriteIsUndone(t *testing.T) {
	for _, op := range []string{"UpdateDevice", "CreateProfile", "DeleteCodec", "RemoveGroupDevices", "UpdateGroup"} {
		for _, code := range []int{nsapi.CodeUnknown, nsapi.CodeInternal, nsapi.CodeRequestTimeout} {
			t.Run(fmt.Sprintf("%s answered %d", op, code), func(t *testing.T) {
				f := newFixture(t, gwsim.Options{})
				f.seed(t)
				var answered bool
				w := failing(f)
				w.on = func(name string, n int) (bool, error) {
					if name == op && n == 0 {
						answered = true
						return true, remote(code)
					}
					return true, nil
				}
				res, err := applier.Apply(context.Background(), w, f.fullPlan(t), applier.Options{Parallelism: 1, JournalDir: t.TempDir()})
				if !answered {
					t.Fatalf("the plan made no %s call: the test proves nothing", op)
				}
				assertRestored(t, f, res, err)
			})
		}
	}
}

// Class G: an undo answered "5 not found" that did not happen is not taken
// as done: the rollback re-reads, keeps the journal, and gwsync rollback
// finishes it later.
func TestUndoAnsweredNotFoundIsReread(t *testing.T) {
	f := newFixture(t, gwsim.Options{})
	f.seed(t)
	dir := filepath.Join(t.TempDir(), ".gwsync")
	w := failing(f)
	w.on = func(name string, n int) (bool, error) {
		if name == "DeleteProfile" && n == 1 { // n 0 deletes old-profile; n 1 is the undo of new-profile's create
			return false, remote(nsapi.CodeNotFound)
		}
		return true, nil
	}
	res, err := applier.Apply(context.Background(), w, f.fullPlan(t), applier.Options{Parallelism: 1, JournalDir: dir})
	if err == nil || res.Restored {
		t.Fatalf("apply: %v, restored %v: want a failed, unrestored apply", err, res.Restored)
	}
	if !res.JournalKept || !applier.HasJournal(dir) {
		t.Fatalf("journal not kept after an undo that did not happen")
	}
	if !strings.Contains(res.Remaining, "new-profile") {
		t.Errorf("remaining difference does not name new-profile:\n%s", res.Remaining)
	}
	res, err = applier.Rollback(context.Background(), f.c, dir, applier.Options{})
	if err != nil {
		t.Fatalf("rollback: %v\n%s", err, res.Remaining)
	}
	if d := canonDiff(f.live, must(f.c.ReadState(context.Background()))(t)); d != "" {
		t.Errorf("(-before +after):\n%s", d)
	}
}

// Class F: a member removed from a group that the same apply renames is
// re-added by the rollback (the undo finds the group by id, not by name).
func TestMemberOfRenamedGroupIsReadded(t *testing.T) {
	f := newFixture(t, gwsim.Options{})
	f.seed(t)
	bg := f.group(t, "base-group")
	renamed := *bg
	renamed.Name = "base-group-renamed"
	renamed.Devices = nil
	p := &plan.Plan{FormatVersion: plan.FormatVersion, Changes: []plan.Change{
		{Address: "multicast_member.base-group-renamed." + d1, Kind: plan.KindMember, Name: d1, ID: bg.ID, Action: plan.Delete,
			Before: &plan.Object{Member: &plan.Member{Group: "base-group-renamed", GroupID: bg.ID, DevEUI: d1}}},
		{Address: "multicast_group.base-group-renamed", Kind: plan.KindGroup, Name: "base-group-renamed", ID: bg.ID, Action: plan.Update,
			Before: &plan.Object{Group: bg}, After: &plan.Object{Group: &renamed}},
		newTaskChange(),
	}}
	res, err := applier.Apply(context.Background(), failing(f), p, applier.Options{Parallelism: 1, JournalDir: t.TempDir()})
	assertRestored(t, f, res, err)
}

func newTaskChange() plan.Change {
	nt := task("new-task", d1)
	return plan.Change{Address: "fuota_task.new-task", Kind: plan.KindTask, Name: "new-task", Action: plan.Create, After: &plan.Object{Task: &nt}}
}

// Class B: a device replaced (delete and create: a move to another
// application) loses its multicast memberships on the gateway; the
// rollback re-creates it and puts it back in its groups.
func TestReplacedDeviceRejoinsItsGroups(t *testing.T) {
	f := newFixture(t, gwsim.Options{})
	f.seed(t)
	before := f.device(t, d1)
	after := *before
	after.Name = "em300-th-01-moved"
	p := &plan.Plan{FormatVersion: plan.FormatVersion, Changes: []plan.Change{
		{Address: "device." + d1, Kind: plan.KindDevice, Name: after.Name, ID: d1, Action: plan.Replace,
			Reason: "moved to another application", Before: &plan.Object{Device: before}, After: &plan.Object{Device: &after}},
		newTaskChange(),
	}}
	res, err := applier.Apply(context.Background(), failing(f), p, applier.Options{Parallelism: 1, JournalDir: t.TempDir()})
	assertRestored(t, f, res, err)
}

// Class D: a codec's codecJson is write-only. A lost answer to a codec
// update is not a reason to roll back (the re-read cannot see codecJson
// and must not compare it), and a rollback says it could not restore it.
func TestWriteOnlyCodecJSON(t *testing.T) {
	codecUpdate := func(f *fixture) plan.Change {
		bc := f.codec(t, "base-codec")
		nc := *bc
		nc.CodecJSON = `{"temperature":"number"}`
		nc.Description = "with a codec JSON"
		return plan.Change{Address: "codec.base-codec", Kind: plan.KindCodec, Name: "base-codec", ID: string(bc.ID), Action: plan.Update,
			Before: &plan.Object{Codec: bc}, After: &plan.Object{Codec: &nc}}
	}
	t.Run("lost answer", func(t *testing.T) {
		f := newFixture(t, gwsim.Options{})
		f.seed(t)
		f.g.Faults().Add(gwsim.Fault{Method: "PUT", URLContains: "payloadcodec", DropResponse: true})
		p := &plan.Plan{FormatVersion: plan.FormatVersion, Changes: []plan.Change{codecUpdate(f)}}
		if _, err := applier.Apply(context.Background(), f.c, p, applier.Options{JournalDir: t.TempDir()}); err != nil {
			t.Fatalf("apply after a lost answer to a codec update that took effect: %v", err)
		}
	})
	t.Run("rollback", func(t *testing.T) {
		f := newFixture(t, gwsim.Options{})
		f.seed(t)
		p := &plan.Plan{FormatVersion: plan.FormatVersion, Changes: []plan.Change{codecUpdate(f), newTaskChange()}}
		res, err := applier.Apply(context.Background(), failing(f), p, applier.Options{Parallelism: 1, JournalDir: t.TempDir()})
		assertRestored(t, f, res, err)
		said := false
		for _, n := range res.Notes {
			said = said || strings.Contains(n, "codecJson")
		}
		if !said {
			t.Errorf("no note says codecJson could not be restored: %q", res.Notes)
		}
	})
}

// Class C: after every write succeeded, a lost answer to a read (the
// confirmation or the final verification) neither fails the apply nor
// says nothing changed; when the gateway cannot be re-read at all, the
// journal is kept and the error says every write was confirmed.
func TestLostReadAnswersAfterTheWrites(t *testing.T) {
	verify := func(context.Context, *nsapi.State) error { return nil }
	t.Run("confirmation read lost once", func(t *testing.T) {
		f := newFixture(t, gwsim.Options{})
		f.seed(t)
		w := &hookWriter{Writer: f.c, on: func(name string, n int) (bool, error) {
			if name == "ListProfiles" && n == 0 {
				return true, lost()
			}
			return true, nil
		}}
		res, err := applier.Apply(context.Background(), w, f.fullPlan(t), applier.Options{Parallelism: 1, JournalDir: t.TempDir(), Verify: verify})
		if err != nil || !res.Verified {
			t.Fatalf("apply: %v, verified %v; want applied and verified", err, res.Verified)
		}
	})
	t.Run("verification read lost once", func(t *testing.T) {
		f := newFixture(t, gwsim.Options{})
		f.seed(t)
		w := &hookWriter{Writer: f.c, on: func(name string, n int) (bool, error) {
			if name == "ReadState" && n == 1 { // n 0 is the read before the first write
				return true, lost()
			}
			return true, nil
		}}
		res, err := applier.Apply(context.Background(), w, f.fullPlan(t), applier.Options{Parallelism: 1, JournalDir: t.TempDir(), Verify: verify})
		if err != nil || !res.Verified {
			t.Fatalf("apply: %v, verified %v; want applied and verified", err, res.Verified)
		}
	})
	t.Run("gateway silent after the last write", func(t *testing.T) {
		f := newFixture(t, gwsim.Options{})
		f.seed(t)
		dir := filepath.Join(t.TempDir(), ".gwsync")
		w := &hookWriter{Writer: f.c, on: func(name string, n int) (bool, error) {
			if name == "ReadState" && n >= 1 {
				return false, lost()
			}
			return true, nil
		}}
		res, err := applier.Apply(context.Background(), w, f.fullPlan(t), applier.Options{Parallelism: 1, JournalDir: dir, Verify: verify})
		var uv *applier.UnverifiedError
		if !errors.As(err, &uv) {
			t.Fatalf("apply: %v; want an UnverifiedError", err)
		}
		if !res.JournalKept || !applier.HasJournal(dir) || len(res.Applied) == 0 {
			t.Errorf("journal kept %v (on disk %v), %d applied: want the journal kept and the writes reported", res.JournalKept, applier.HasJournal(dir), len(res.Applied))
		}
	})
	t.Run("verification finds a difference", func(t *testing.T) {
		f := newFixture(t, gwsim.Options{})
		f.seed(t)
		res, err := applier.Apply(context.Background(), f.c, f.fullPlan(t), applier.Options{Parallelism: 1, JournalDir: t.TempDir(),
			Verify: func(context.Context, *nsapi.State) error { return errors.New("device X differs") }})
		var ve *applier.VerifyError
		if !errors.As(err, &ve) || !res.Restored {
			t.Fatalf("apply: %v, restored %v; want a VerifyError and the apply rolled back", err, res.Restored)
		}
		if d := canonDiff(f.live, must(f.c.ReadState(context.Background()))(t)); d != "" {
			t.Errorf("(-before +after):\n%s", d)
		}
	})
}

// Class A: an update that clears fields (Modbus settings removed) clears
// them on the gateway, and its undo sets them back.
func TestClearedFieldsAndTheirUndo(t *testing.T) {
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprintf("fails=%v", fail), func(t *testing.T) {
			f := newFixture(t, gwsim.Options{})
			f.seed(t)
			ctx := context.Background()
			d := f.device(t, d1)
			w := d.Write()
			w.DevEUI = ""
			w.MbMode, w.MbFramePort, w.MbTcpPort = "rtu", 10, 0
			if err := f.c.UpdateDevice(ctx, d1, w); err != nil {
				t.Fatal(err)
			}
			f.live = must(f.c.ReadState(ctx))(t)
			before := f.device(t, d1)
			if before.MbMode != "rtu" || before.MbFramePort != 10 {
				t.Fatalf("seeding Modbus failed: %+v", before)
			}
			after := *before
			after.MbMode, after.MbFramePort, after.MbTcpPort = "", 0, 0
			changes := []plan.Change{{Address: "device." + d1, Kind: plan.KindDevice, Name: before.Name, ID: d1, Action: plan.Update,
				Before: &plan.Object{Device: before}, After: &plan.Object{Device: &after}}}
			hw := &hookWriter{Writer: f.c, failTask: fail}
			if fail {
				changes = append(changes, newTaskChange())
			}
			p := &plan.Plan{FormatVersion: plan.FormatVersion, Changes: changes}
			res, err := applier.Apply(ctx, hw, p, applier.Options{Parallelism: 1, JournalDir: t.TempDir()})
			if fail {
				assertRestored(t, f, res, err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := must(f.c.GetDevice(ctx, d1))(t)
			if got.MbMode != "" || got.MbFramePort != 0 {
				t.Errorf("Modbus settings not cleared: mode %q, frame port %d", got.MbMode, got.MbFramePort)
			}
		})
	}
}

// A rollback from a journal refuses to touch a resource changed by hand
// since the apply wrote it, names it, writes nothing; --force rolls back.
func TestRollbackRefusesHandEdits(t *testing.T) {
	f := newFixture(t, gwsim.Options{})
	f.seed(t)
	dir := filepath.Join(t.TempDir(), ".gwsync")
	crashed := filepath.Join(t.TempDir(), "crashed")
	w := &crashWriter{Writer: f.c, dir: dir, copyTo: crashed, nth: 12, t: t}
	if _, err := applier.Apply(context.Background(), w, f.fullPlan(t), applier.Options{Parallelism: 1, JournalDir: dir}); err == nil {
		t.Fatal("apply succeeded through a crash")
	}
	ctx := context.Background()
	// By hand, after the crash: d2 (updated by the apply) gets a new description.
	d := must(f.c.GetDevice(ctx, d2))(t)
	dw := d.Write()
	dw.DevEUI = ""
	dw.Description = "edited by hand after the crash"
	if err := f.c.UpdateDevice(ctx, d2, dw); err != nil {
		t.Fatal(err)
	}
	edited := must(f.c.ReadState(ctx))(t)
	writes := f.g.Writes()
	_, err := applier.Rollback(ctx, f.c, crashed, applier.Options{})
	var moved *applier.MovedError
	if !errors.As(err, &moved) {
		t.Fatalf("rollback over a hand edit: %v; want a MovedError", err)
	}
	if len(moved.Moved) != 1 || !strings.Contains(moved.Moved[0], "device."+d2) {
		t.Errorf("moved = %q, want device.%s alone", moved.Moved, d2)
	}
	if n := f.g.Writes() - writes; n != 0 {
		t.Errorf("%d writes by a refused rollback, want 0", n)
	}
	if d := canonDiff(edited, must(f.c.ReadState(ctx))(t)); d != "" {
		t.Errorf("a refused rollback changed the gateway:\n%s", d)
	}
	if !applier.HasJournal(crashed) {
		t.Fatal("a refused rollback removed the journal")
	}
	if res, err := applier.Rollback(ctx, f.c, crashed, applier.Options{Force: true}); err != nil {
		t.Fatalf("rollback --force: %v\n%s", err, res.Remaining)
	}
	if d := canonDiff(f.live, must(f.c.ReadState(ctx))(t)); d != "" {
		t.Errorf("after rollback --force (-before +after):\n%s", d)
	}
}

// --abandon ends a journal without writing, and records what was left,
// never a key.
func TestAbandon(t *testing.T) {
	f := newFixture(t, gwsim.Options{})
	f.seed(t)
	dir := filepath.Join(t.TempDir(), ".gwsync")
	crashed := filepath.Join(t.TempDir(), "crashed")
	w := &crashWriter{Writer: f.c, dir: dir, copyTo: crashed, nth: 8, t: t}
	if _, err := applier.Apply(context.Background(), w, f.fullPlan(t), applier.Options{Parallelism: 1, JournalDir: dir}); err == nil {
		t.Fatal("apply succeeded through a crash")
	}
	writes := f.g.Writes()
	rec, path, err := applier.Abandon(context.Background(), f.c, crashed)
	if err != nil {
		t.Fatal(err)
	}
	if n := f.g.Writes() - writes; n != 0 {
		t.Errorf("%d writes by abandon, want 0", n)
	}
	if applier.HasJournal(crashed) {
		t.Error("the journal is still there after abandon")
	}
	if len(rec.Left) == 0 || rec.Remaining == "" || strings.HasPrefix(rec.Remaining, "none") {
		t.Errorf("record = %+v: want the writes left and the difference", rec)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{key1, key2, key3, key4} {
		if strings.Contains(strings.ToLower(string(b)), k) {
			t.Errorf("%s holds a key in clear", path)
		}
	}
}

// A FUOTA task of custom firmware cannot be re-created (the gateway never
// returns the file): its delete runs after every other step, so a failure
// elsewhere leaves it in place.
func TestCustomFirmwareTaskDeleteRunsLast(t *testing.T) {
	f := newFixture(t, gwsim.Options{})
	f.seed(t)
	ctx := context.Background()
	must(f.c.CreateTask(ctx, task("custom-task", d1)))(t)
	f.live = must(f.c.ReadState(ctx))(t)
	ct := f.task(t, "custom-task")
	bp := f.profile(t, "base-profile")
	np := *bp
	np.Profile.ClassBTimeout = 7
	p := &plan.Plan{FormatVersion: plan.FormatVersion, Changes: []plan.Change{
		{Address: "fuota_task.custom-task", Kind: plan.KindTask, Name: "custom-task", ID: fmt.Sprint(ct.ID), Action: plan.Delete, Before: &plan.Object{Task: ct}},
		{Address: "profile.base-profile", Kind: plan.KindProfile, Name: "base-profile", ID: bp.Profile.ProfileID, Action: plan.Update,
			Before: &plan.Object{Profile: bp}, After: &plan.Object{Profile: &np}},
	}}
	f.g.Faults().Add(gwsim.Fault{Method: "PUT", URLContains: "/api/urprofiles", Code: nsapi.CodeParameter})
	res, err := applier.Apply(ctx, f.c, p, applier.Options{Parallelism: 1, JournalDir: t.TempDir()})
	if !nsapi.IsCode(err, nsapi.CodeParameter) || !res.Restored {
		t.Fatalf("apply: %v, restored %v; want the profile update refused and nothing left to undo", err, res.Restored)
	}
	if d := canonDiff(f.live, must(f.c.ReadState(ctx))(t)); d != "" {
		t.Errorf("(-before +after):\n%s", d)
	}
}

// TestConfirmationCost: a few creates on a large gateway are confirmed
// with one searched read each, not by re-reading the whole device list: at
// most 2 requests per write beyond the plan's read and the final
// verification read.
func TestConfirmationCost(t *testing.T) {
	f := newFixture(t, gwsim.Options{})
	ctx := context.Background()
	const n = 2000
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			if err := f.c.CreateDevice(ctx, nsapi.DeviceWrite{DevEUI: fmt.Sprintf("24E1241000%06X", i), Name: fmt.Sprintf("dev-%05d", i), ApplicationID: "1", AppKey: key1}); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	live := must(f.c.ReadState(ctx))(t)
	var profileID string
	for _, p := range live.Profiles {
		if p.Name == "ClassA-OTAA" {
			profileID = p.Profile.ProfileID
		}
	}
	var changes []plan.Change
	for i := 0; i < 4; i++ {
		d := nsapi.Device{DevEUI: fmt.Sprintf("24E1242000%06X", i), Name: fmt.Sprintf("new-%d", i), ApplicationID: "1", ProfileID: profileID, AppKey: key2, SupportsJoin: true}
		changes = append(changes, plan.Change{Address: "device." + d.DevEUI, Kind: plan.KindDevice, Name: d.Name, Action: plan.Create, After: &plan.Object{Device: &d}})
	}
	var mu sync.Mutex
	var log []string
	cl, err := nsapi.New(ctx, f.g.Transport(), nsapi.Config{GatewayEUI: f.g.EUI(), RequestTimeout: 1500 * time.Millisecond, Window: 8,
		Logf: func(format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			log = append(log, fmt.Sprintf(format, args...))
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	r0 := cl.Requests()
	res, err := applier.Apply(ctx, cl, &plan.Plan{FormatVersion: plan.FormatVersion, Changes: changes},
		applier.Options{Before: live, JournalDir: t.TempDir(), Verify: func(context.Context, *nsapi.State) error { return nil }})
	if err != nil || !res.Verified {
		t.Fatalf("apply: %v, verified %v", err, res.Verified)
	}
	applied := cl.Requests() - r0
	r0 = f.c.Requests()
	must(f.c.ReadState(ctx))(t) // the verification read: the same state again
	stateRead := f.c.Requests() - r0
	got := applied - stateRead
	if perWrite := float64(got) / float64(len(changes)); perWrite > 2 {
		t.Errorf("%d requests for %d creates beyond the verification read (%d requests): %.2f per write, want at most 2; the client's log:\n%s",
			got, len(changes), stateRead, perWrite, strings.Join(log, "\n"))
	}
}

// The codecJson gwsync last wrote is recorded beside the journal, so that
// a rollback puts back the value the gateway held before (it never lists
// codecJson), and a plan sees a change of codecJson alone.
func TestCodecJSONRecord(t *testing.T) {
	state := filepath.Join(t.TempDir(), "gw.json")
	f := newFixture(t, gwsim.Options{StatePath: state})
	f.seed(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), ".gwsync")
	update := func(json string) plan.Change {
		live := must(f.c.ListCodecs(ctx, nsapi.CodecTypeCustom, "base-codec"))(t)
		bc := live[0]
		nc := bc
		nc.CodecJSON = json
		nc.Description = "codec JSON " + json
		return plan.Change{Address: "codec.base-codec", Kind: plan.KindCodec, Name: "base-codec", ID: string(bc.ID), Action: plan.Update,
			Before: &plan.Object{Codec: &bc}, After: &plan.Object{Codec: &nc}}
	}
	rawCodecJSON := func() string {
		b, err := gwsim.ReadStateFile(state)
		if err != nil {
			t.Fatal(err)
		}
		var st struct {
			Codecs []map[string]any `json:"codecs"`
		}
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatal(err)
		}
		for _, c := range st.Codecs {
			if c["name"] == "base-codec" {
				s, _ := c["codecJson"].(string)
				return s
			}
		}
		t.Fatal("no base-codec in the state file")
		return ""
	}
	first := `{"temperature":"number"}`
	if _, err := applier.Apply(ctx, f.c, &plan.Plan{FormatVersion: plan.FormatVersion, Changes: []plan.Change{update(first)}}, applier.Options{JournalDir: dir}); err != nil {
		t.Fatal(err)
	}
	if got := applier.WrittenCodecJSON(dir, ""); got["base-codec"] != first {
		t.Fatalf("record after the apply: %q, want base-codec %q", got, first)
	}
	f.live = must(f.c.ReadState(ctx))(t)
	p := &plan.Plan{FormatVersion: plan.FormatVersion, Changes: []plan.Change{update(`{"humidity":"number"}`), newTaskChange()}}
	res, err := applier.Apply(ctx, failing(f), p, applier.Options{Parallelism: 1, JournalDir: dir})
	assertRestored(t, f, res, err)
	if got := rawCodecJSON(); got != first {
		t.Errorf("codecJson after the rollback: %q, want %q (the value before the apply)", got, first)
	}
}

// A FUOTA task of custom firmware that gwsync created can be re-created by
// a rollback: the gateway never returns its firmware file, but gwsync
// records the file it wrote beside the journal.
func TestCustomFirmwareTaskRecreatedFromTheRecord(t *testing.T) {
	f := newFixture(t, gwsim.Options{})
	f.seed(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), ".gwsync")
	nt := task("custom-task", d1)
	create := &plan.Plan{FormatVersion: plan.FormatVersion, Changes: []plan.Change{
		{Address: "fuota_task.custom-task", Kind: plan.KindTask, Name: "custom-task", Action: plan.Create, After: &plan.Object{Task: &nt}}}}
	if _, err := applier.Apply(ctx, f.c, create, applier.Options{JournalDir: dir}); err != nil {
		t.Fatal(err)
	}
	f.live = must(f.c.ReadState(ctx))(t)
	ct := f.task(t, "custom-task")
	if ct.FirmwareInfo != nil && ct.FirmwareInfo.FileContent != "" {
		t.Fatal("the gateway lists the firmware file: the test proves nothing")
	}
	del := &plan.Plan{FormatVersion: plan.FormatVersion, Changes: []plan.Change{
		{Address: "fuota_task.custom-task", Kind: plan.KindTask, Name: "custom-task", ID: fmt.Sprint(ct.ID), Action: plan.Delete, Before: &plan.Object{Task: ct}}}}
	crashed := filepath.Join(t.TempDir(), "crashed")
	w := &crashWriter{Writer: f.c, dir: dir, copyTo: crashed, nth: 1, afterWrite: true, t: t}
	if _, err := applier.Apply(ctx, w, del, applier.Options{Parallelism: 1, JournalDir: dir}); err == nil {
		t.Fatal("apply succeeded through a crash")
	}
	if _, err := applier.Rollback(ctx, f.c, crashed, applier.Options{}); err != nil {
		t.Fatalf("rollback of a deleted custom-firmware task: %v", err)
	}
	if d := canonDiff(f.live, must(f.c.ReadState(ctx))(t)); d != "" {
		t.Errorf("(-before +after):\n%s", d)
	}
}

// A write sent again after a re-read showed it missing can meet its first
// request arriving late: the gateway then answers "already exists" to the
// second. A re-read decides, and the apply goes on.
func TestLateFirstRequestOfAWriteSentAgain(t *testing.T) {
	f := newFixture(t, gwsim.Options{})
	f.seed(t)
	w := &hookWriter{Writer: f.c, on: func(name string, n int) (bool, error) {
		switch {
		case name == "CreateProfile" && n == 0:
			return false, lost() // the request is late: not there yet
		case name == "CreateProfile" && n == 1:
			return true, remote(nsapi.CodeAlreadyExists) // it arrives; the one sent again is refused
		}
		return true, nil
	}}
	res, err := applier.Apply(context.Background(), w, f.fullPlan(t), applier.Options{Parallelism: 1, JournalDir: t.TempDir()})
	if err != nil {
		t.Fatalf("apply: %v (restored %v)", err, res.Restored)
	}
	got := summarize(must(f.c.ReadState(context.Background()))(t))
	want := wantApplied
	want.Profiles = append(builtinProfiles(got), wantApplied.Profiles[3:]...)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("gateway after apply (-want +got):\n%s", d)
	}
}
