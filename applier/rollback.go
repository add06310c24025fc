package applier

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gwsync/gwsync/internal/reserved"
	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
)

// RollbackIncompleteError says the gateway could not be verified equal to
// its state before the apply; the journal is kept.
type RollbackIncompleteError struct {
	JournalDir string
	Remaining  string // what still differs, or why it could not be read
}

// Error says the rollback is incomplete and where the journal is.
func (e *RollbackIncompleteError) Error() string {
	return fmt.Sprintf("rollback incomplete: the gateway differs from its state before the apply; the journal is kept in %s", e.JournalDir)
}

// Rollback finishes, from the journal in journalDir, the rollback of an
// apply that did not complete (killed, or whose own rollback failed): it
// undoes every write the journal records as done, re-reads the gateway to
// settle the writes whose outcome is unknown, and verifies that the gateway
// equals the state saved before the apply. The journal is removed when it
// does; otherwise the error is a *RollbackIncompleteError.
func Rollback(ctx context.Context, w Writer, journalDir string, opts Options) (*Result, error) {
	res := &Result{JournalDir: journalDir}
	jr, err := openJournal(journalDir, opts.Force)
	if err != nil {
		return res, err
	}
	j, before, recs := jr.j, jr.before, jr.recs
	res.Before, res.JournalID = before, jr.info.ID
	notes, err := checkBinding(journalDir, jr.info, opts.Target, opts.Force)
	if err != nil {
		j.close()
		return res, err
	}
	for _, s := range jr.skipped {
		notes = append(notes, fmt.Sprintf("--force: skipped the damaged record at line %d (%s); a write it recorded is not undone", s.Line, s.Why))
	}
	res.Notes = append(res.Notes, notes...)
	r := &runner{w: w, opts: opts, j: j, before: before, written: loadWritten(journalDir, ""),
		ids: map[string]string{}, remap: map[string]string{}}
	r.effects = replay(recs)
	if t, err := time.Parse(time.RFC3339, jr.info.Started); err == nil {
		r.recordSince = t
	}
	byN := map[int]*effect{}
	for _, e := range r.effects {
		byN[e.N] = e
	}
	for _, rec := range recs {
		if e := byN[rec.N]; rec.T == "undone" && e != nil && rec.ID != "" && e.Op == opDelete && e.ID != "" {
			r.remap[e.ID] = rec.ID
		}
	}
	if !opts.Force {
		live, err := reread(ctx, w.ReadState)
		if err != nil {
			j.close()
			return res, fmt.Errorf("rollback: read the gateway to check nothing moved since the apply: %w", err)
		}
		if moved := movedSince(live, r.effects); len(moved) > 0 {
			j.close()
			return res, &MovedError{JournalDir: journalDir, Moved: moved}
		}
	}
	// A lock lost meanwhile (Options.Lock) stops the undos: another run
	// may be writing.
	r.rollback(context.WithoutCancel(ctx), res, before)
	if lerr := opts.Lock.Err(); lerr != nil {
		return res, r.lockLost(res, lerr)
	}
	if res.Restored {
		return res, j.finish()
	}
	j.close()
	res.JournalKept = true
	return res, &RollbackIncompleteError{JournalDir: journalDir, Remaining: res.Remaining}
}

// checkBinding refuses a journal written for another gateway, or for
// another run than the one target names, and notes what it cannot check.
func checkBinding(dir string, info JournalInfo, t Target, force bool) (notes []string, err error) {
	if t.JournalID != "" && info.ID != t.JournalID {
		return nil, &JournalMismatchError{Dir: dir, Journal: info.ID, Gateway: t.JournalID, What: "run"}
	}
	je, te := strings.ToUpper(info.GatewayEUI), strings.ToUpper(t.GatewayEUI)
	switch {
	case je != "" && te != "" && je != te:
		return nil, &JournalMismatchError{Dir: dir, Journal: je, Gateway: te, What: "gateway"}
	case je == "" && te != "" && !force:
		return nil, &JournalMismatchError{Dir: dir, Gateway: te, What: "unnamed"}
	case je != "" && te == "":
		notes = append(notes, fmt.Sprintf("the journal is gateway %s's; this rollback named no gateway to check it against", je))
	}
	if b := brokerWithoutCredentials(t.Broker); info.Broker != "" && b != "" && b != info.Broker {
		notes = append(notes, fmt.Sprintf("the journal's apply reached the gateway through %s, this rollback through %s", info.Broker, b))
	}
	if info.Version < journalVersion {
		notes = append(notes, "the journal was written by an earlier gwsync: its records carry no checksums, so only a record that does not parse is caught as damaged")
	}
	return notes, nil
}

// undoUnit is the effects of one step, undone in reverse.
type undoUnit struct {
	phase, step int
	effects     []*effect
}

// rollback undoes every done or uncertain effect, phase by phase in
// reverse (independent steps of a phase in parallel), then re-reads the
// gateway and compares it with before.
func (r *runner) rollback(ctx context.Context, res *Result, before *nsapi.State) {
	res.RolledBack = true
	units := map[int]*undoUnit{}
	r.mu.Lock()
	for _, e := range r.effects {
		if e.state != effDone && e.state != effUncertain {
			continue
		}
		u := units[e.Step]
		if u == nil {
			u = &undoUnit{phase: e.Phase, step: e.Step}
			units[e.Step] = u
		}
		u.effects = append(u.effects, e)
	}
	r.done, r.total = 0, len(units)
	r.mu.Unlock()
	byPhase := map[int][]*undoUnit{}
	var phases []int
	for _, u := range units {
		sort.Slice(u.effects, func(i, j int) bool { return u.effects[i].N > u.effects[j].N })
		if _, ok := byPhase[u.phase]; !ok {
			phases = append(phases, u.phase)
		}
		byPhase[u.phase] = append(byPhase[u.phase], u)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(phases)))
	for _, ph := range phases {
		us := byPhase[ph]
		sort.Slice(us, func(i, j int) bool { return us[i].step > us[j].step })
		sem := make(chan struct{}, parallelism(r.opts))
		var wg sync.WaitGroup
		for _, u := range us {
			if r.silent() || r.lockGone() {
				break
			}
			sem <- struct{}{}
			wg.Add(1)
			go func(u *undoUnit) {
				defer wg.Done()
				defer func() { <-sem }()
				r.undoUnit(ctx, u)
			}(u)
		}
		wg.Wait()
	}
	r.mu.Lock()
	res.Undone = append(res.Undone, r.undone...)
	res.Notes = append(res.Notes, r.notes...)
	unanswered := r.unanswered
	r.mu.Unlock()
	if r.lockGone() {
		res.Remaining = fmt.Sprintf("the rollback stopped: %v", r.opts.Lock.Err())
		return
	}
	if unanswered >= silentUndos {
		left := 0
		for _, u := range units {
			for _, e := range u.effects {
				if e.state != effUndone {
					left++
				}
			}
		}
		res.Remaining = fmt.Sprintf("the gateway stopped answering: %d undos in a row got no answer, so the rollback stopped; %d writes are not undone yet (the journal keeps them)", unanswered, left)
		return
	}
	r.event(Event{Type: EventVerify})
	after, err := reread(ctx, r.w.ReadState)
	if err != nil {
		res.Remaining = fmt.Sprintf("the gateway could not be re-read to verify the rollback: %v", err)
		return
	}
	if r.opts.Lock.Check(after) != nil {
		res.Remaining = fmt.Sprintf("the rollback stopped: %v", r.opts.Lock.Err())
		return
	}
	res.Restored = statesEqual(before.Canonical(), after.Canonical())
	if res.Restored && !r.recordSince.IsZero() {
		if err := r.restoreRecord(ctx, before, after); err != nil {
			res.Notes = append(res.Notes, fmt.Sprintf("%v: a later plan may not see a change of codecJson or of a firmware file alone", err))
		}
	}
	if !res.Restored {
		res.Remaining = describeDiff(before, after)
		if res.Remaining == "" {
			res.Remaining = "~ the gateway differs from its state before the apply in a value no resource field names (an empty list against a missing one?)"
		}
	}
}

// checkNoLinks refuses a journal folder that is a symbolic link, or that
// holds one in place of one of gwsync's files: a checkout may carry such
// a link (committed to the repository) to make gwsync read or write
// elsewhere.
func checkNoLinks(dir string) error {
	if err := CheckJournalDir(dir); err != nil {
		return err
	}
	for _, name := range []string{JournalFile, BeforeFile, KeyFile, WrittenFile, RollbacksFile, RunFile} {
		if st, err := os.Lstat(filepath.Join(dir, name)); err == nil && st.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("journal %s: %s is a symbolic link: gwsync never reads or writes its journal through a link; remove the link", dir, name)
		}
	}
	return nil
}

// restoreRecord puts the gateway's record of write-only values
// (reserved.StateCodec) back as it was before the apply, for a rollback
// from a journal (r.recordSince: when its apply began). An apply killed
// after it wrote the record, before it ended its journal, leaves the
// digests of the values it wrote; once the rollback has restored the
// values before, those digests would tell every later plan that the
// gateway holds what the apply wrote: no change planned where there is
// one, and a change planned back to the restored value.
func (r *runner) restoreRecord(ctx context.Context, before, after *nsapi.State) error {
	was, is := stateRecord(before.Records), stateRecord(after.Records)
	switch {
	case was == nil && is == nil:
		return nil
	case was == nil:
		// A state before that lists no record: none was there, or the
		// journal is of a gwsync that did not read them. Only a record
		// written since the apply began is the apply's to remove.
		if gr := GatewayRecordOf([]nsapi.Codec{*is}); gr.Updated.Before(r.recordSince) {
			return nil
		}
		if err := r.w.DeleteCodec(ctx, string(is.ID)); err != nil && !notFound(err) {
			return fmt.Errorf("remove the gateway's record of write-only values the apply made: %w", err)
		}
		return nil
	case is == nil:
		if _, err := r.w.CreateCodec(ctx, was.Write()); err != nil {
			return fmt.Errorf("restore the gateway's record of write-only values: %w", err)
		}
		return nil
	case was.DecoderScript == is.DecoderScript && was.Description == is.Description:
		return nil
	}
	if err := r.w.UpdateCodec(ctx, string(is.ID), was.Write()); err != nil {
		return fmt.Errorf("restore the gateway's record of write-only values: %w", err)
	}
	return nil
}

// stateRecord is the codec reserved.StateCodec among records, or nil.
func stateRecord(records []nsapi.Codec) *nsapi.Codec {
	for i := range records {
		if strings.EqualFold(strings.TrimSpace(records[i].Name), reserved.StateCodec) {
			return &records[i]
		}
	}
	return nil
}

// silentUndos is how many undos in a row may get no answer before a
// rollback stops: the gateway has gone (switched off, broker down), and
// each further undo would only wait out its timeout. The journal keeps
// what is left for gwsync rollback.
const silentUndos = 2

// silent says the gateway stopped answering the rollback.
func (r *runner) silent() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.unanswered >= silentUndos
}

func (r *runner) undoUnit(ctx context.Context, u *undoUnit) {
	for _, e := range u.effects {
		if r.silent() || r.lockGone() {
			return
		}
		start := time.Now()
		r.event(Event{Type: EventUndoStart, Address: e.Address, Action: undoAction(e.Op)})
		did, err := r.undo(ctx, e)
		rec := UndoRecord{Address: e.Address, Did: did, Err: err}
		r.mu.Lock()
		r.undone = append(r.undone, rec)
		switch {
		case err == nil:
			r.unanswered = 0
		case errors.Is(err, nsapi.ErrUnknownOutcome):
			r.unanswered++
		}
		r.mu.Unlock()
		if err != nil {
			r.logf("rollback: %s: %v", e.Address, err)
			r.event(Event{Type: EventUndoFailed, Address: e.Address, Action: undoAction(e.Op), Elapsed: time.Since(start), Err: err})
			// The step's earlier writes are undone only after this one: a
			// replace's delete must not be undone while the create that
			// followed it still stands. The journal keeps them for later.
			return
		}
		r.event(Event{Type: EventUndone, Address: e.Address, Action: undoAction(e.Op), Elapsed: time.Since(start)})
	}
}

func undoAction(op string) plan.Action {
	switch op {
	case opCreate, opAdd:
		return plan.Delete
	case opDelete, opRemove:
		return plan.Create
	}
	return plan.Update
}

func (r *runner) mapID(id string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n, ok := r.remap[id]; ok {
		return n
	}
	return id
}

// mapObject copies o with references to re-created resources moved to
// their new ids.
func (r *runner) mapObject(o *plan.Object) *plan.Object {
	c := copyObject(o)
	if c != nil && c.Device != nil {
		c.Device.ProfileID = r.mapID(c.Device.ProfileID)
		if id := string(c.Device.PayloadCodecID); id != "" {
			c.Device.PayloadCodecID = nsapi.FlexString(r.mapID(id))
		}
	}
	return c
}

// undo reverses one effect. An uncertain effect is re-read first; an undo
// whose answer is lost is settled by a re-read too.
func (r *runner) undo(ctx context.Context, e *effect) (string, error) {
	// What the undo writes is journalled with it, so that a rollback run
	// again after this one was cut short knows the write for its own.
	var target *plan.Object
	switch e.Op {
	case opUpdate:
		target = r.writeOnlyKept(e, r.mapObject(e.Before))
	case opDelete:
		target = r.mapObject(e.Before)
	}
	if err := r.j.append(record{T: "undo", N: e.N, Target: target}, true); err != nil {
		// Undoing matters more than recording it: the re-read at the end
		// decides whether the gateway is restored.
		r.logf("rollback: %s: %v", e.Address, err)
	}
	uncertain := e.state == effUncertain
	var did, newID string
	var err error
	switch e.Op {
	case opCreate:
		did, err = r.undoCreate(ctx, e, uncertain)
	case opUpdate:
		did, err = r.undoUpdate(ctx, e, target)
	case opDelete:
		did, newID, err = r.undoDelete(ctx, e, uncertain)
	case opAdd, opRemove:
		did, err = r.undoMembers(ctx, e)
	default:
		err = fmt.Errorf("unknown operation %q", e.Op)
	}
	if err != nil {
		return did, fmt.Errorf("undo %s: %w", e.Op, err)
	}
	r.setState(e, effUndone, "")
	if err := r.j.append(record{T: "undone", N: e.N, ID: newID}, false); err != nil {
		r.logf("rollback: %s: %v", e.Address, err)
	}
	return did, nil
}

// undoUpdate writes the resource back as it was. Whatever the answer, the
// resource is re-read: an error answer may come with a write that took
// effect, and a lost answer says nothing.
func (r *runner) undoUpdate(ctx context.Context, e *effect, target *plan.Object) (string, error) {
	err := r.put(ctx, e.Kind, r.mapID(e.ID), target, e.After)
	if err == nil {
		return "restored", nil
	}
	found, _, live, cerr := r.find(ctx, e.Kind, identity(e.Kind, e.Before))
	if cerr == nil && found && sameObject(e.Kind, live, target) {
		return "restored", nil
	}
	if cerr == nil && !found && e.Kind != plan.KindDevice {
		// Looked up by its old name: it may still carry the name this
		// apply gave it.
		if f2, _, live2, cerr2 := r.find(ctx, e.Kind, identity(e.Kind, e.After)); cerr2 == nil && f2 && sameObject(e.Kind, live2, target) {
			return "restored", nil
		}
	}
	return "", err
}

// writeOnlyKept returns target with the write-only fields (a codec's
// codecJson, a FUOTA task's firmware file) that the gateway never returns
// filled in as the kind knows best (see codecs.go and tasks.go): sending
// them empty would blank them, not restore them.
func (r *runner) writeOnlyKept(e *effect, target *plan.Object) *plan.Object {
	if target == nil || e.After == nil {
		return target
	}
	kindOf(e.Kind).keepWriteOnly(r, e, target)
	return target
}

func (r *runner) undoCreate(ctx context.Context, e *effect, uncertain bool) (string, error) {
	id := e.ID
	if uncertain || id == "" {
		found, fid, _, err := r.find(ctx, e.Kind, e.Name)
		if err != nil {
			return "", err
		}
		if !found {
			return "nothing to delete", nil
		}
		id = fid
	}
	err := r.del(ctx, e.Kind, id)
	if err == nil {
		return "deleted", nil
	}
	// "Not found", an error answer or no answer: only a re-read tells
	// whether it is gone.
	found, _, _, cerr := r.find(ctx, e.Kind, e.Name)
	if cerr == nil && !found {
		return "deleted", nil
	}
	return "", err
}

func (r *runner) undoDelete(ctx context.Context, e *effect, uncertain bool) (string, string, error) {
	if uncertain {
		found, fid, _, err := r.find(ctx, e.Kind, e.Name)
		if err != nil {
			return "", "", err
		}
		if found {
			if fid != e.ID && e.Kind != plan.KindDevice {
				r.mu.Lock()
				r.remap[e.ID] = fid
				r.mu.Unlock()
			}
			// Never deleted, or re-created by a rollback that was cut short
			// before it restored the memberships: restore what is missing.
			if err := kindOf(e.Kind).relink(ctx, r, e, fid); err != nil {
				return "still there", fid, err
			}
			return "still there", fid, nil
		}
	}
	obj := r.mapObject(e.Before)
	kd := kindOf(e.Kind)
	kd.beforeRecreate(r, e, obj)
	newID, err := r.post(ctx, e.Kind, obj)
	if err != nil {
		// An error answer may come with a create that took effect ("already
		// exists" after a lost answer, "internal error"): re-read.
		// What is found must be what was deleted, not something else under
		// its name.
		found, fid, live, cerr := r.find(ctx, e.Kind, e.Name)
		if cerr == nil && found && sameObject(e.Kind, live, obj) {
			newID, err = fid, nil
		}
	}
	if err != nil {
		return "", "", kd.recreateFailed(obj, err)
	}
	if e.Kind != plan.KindDevice && e.ID != "" {
		r.mu.Lock()
		r.remap[e.ID] = newID
		r.mu.Unlock()
	}
	if err := kd.recreated(ctx, r, e, newID); err != nil {
		return "re-created", newID, err
	}
	return "re-created", newID, nil
}

// CheckJournal refuses, before anything else is done, the journal in dir
// when it was written for another gateway or run than target names (as
// Rollback would, see checkBinding); a journal that does not read is left
// for Rollback to report.
func CheckJournal(dir string, target Target, force bool) error {
	if err := checkNoLinks(dir); err != nil {
		return err
	}
	info, err := ReadJournalInfo(dir)
	if err != nil {
		return nil
	}
	_, err = checkBinding(dir, *info, target, force)
	return err
}
