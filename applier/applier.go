// Package applier runs a plan against a gateway: it turns the plan's changes
// into ns-api writes, runs them phase by phase (independent steps of a phase
// in parallel), confirms every write, and when a step fails undoes the
// completed steps in reverse so that the gateway ends either fully in the new
// state or back in the old one, verified by re-reading it. Every write and
// its undo are journalled (fsynced, secrets sealed) before they are sent, so
// that an apply killed half-way can be rolled back later (Rollback).
//
// It is not a planner: it decides nothing from the gateway's state beyond
// what the plan says (Action, Before, After), and it neither renders plans
// nor reads site files.
package applier

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
)

// Writer is the part of the ns-api the applier calls. *nsapi.Client
// satisfies it.
type Writer interface {
	ListProfiles(ctx context.Context) (*nsapi.ProfileList, error)
	CreateProfile(ctx context.Context, p nsapi.ProfileWrite) (profileID string, err error)
	UpdateProfile(ctx context.Context, profileID string, p nsapi.ProfileWrite) error
	DeleteProfile(ctx context.Context, profileID string) error

	ListDevices(ctx context.Context, q nsapi.DeviceQuery) (*nsapi.DeviceList, error)
	GetDevice(ctx context.Context, devEUI string) (*nsapi.Device, error)
	CreateDevice(ctx context.Context, d nsapi.DeviceWrite) error
	UpdateDevice(ctx context.Context, devEUI string, d nsapi.DeviceWrite) error
	DeleteDevice(ctx context.Context, devEUI string) error

	ListGroups(ctx context.Context, search string) ([]nsapi.MulticastGroupInfo, error)
	CreateGroup(ctx context.Context, g nsapi.MulticastGroup) (id string, err error)
	UpdateGroup(ctx context.Context, id string, g nsapi.MulticastGroup) error
	DeleteGroup(ctx context.Context, id string) error
	AddGroupDevices(ctx context.Context, id string, devEUIs []string) error
	RemoveGroupDevices(ctx context.Context, id string, devEUIs []string) error

	ListCodecs(ctx context.Context, typ, search string) ([]nsapi.Codec, error)
	ListCodecsShort(ctx context.Context, typ, search string) ([]nsapi.CodecShort, error)
	CreateCodec(ctx context.Context, c nsapi.CodecWrite) (id string, err error)
	UpdateCodec(ctx context.Context, id string, c nsapi.CodecWrite) error
	DeleteCodec(ctx context.Context, id string) error

	CreateTask(ctx context.Context, t nsapi.FuotaTask) (id int64, err error)
	ListTasks(ctx context.Context, search string) ([]nsapi.FuotaTask, error)
	UpdateTask(ctx context.Context, t nsapi.FuotaTask) error
	DeleteTasks(ctx context.Context, ids []int64) error

	ReadState(ctx context.Context) (*nsapi.State, error)
}

// DefaultParallelism is the number of steps of one phase in flight at once
// when Options.Parallelism is 0. Milesight's own client keeps at most 3
// requests in flight; 4 is the smallest setting that is more than 3× faster
// than one at a time on a 20 ms gateway (see the package benchmark), and the
// client's window must be at least this large.
const DefaultParallelism = 4

// MaxParallelism bounds Options.Parallelism: a gateway is a small machine.
const MaxParallelism = 16

// Options configures Apply and Rollback.
type Options struct {
	// Parallelism is how many independent steps of one phase run at once
	// (0: DefaultParallelism).
	Parallelism int
	// NoRollback keeps the completed steps when a step fails.
	NoRollback bool
	// JournalDir is where the journal lives (<site dir>/.gwsync); "" keeps
	// no journal, so a killed apply cannot be rolled back later.
	JournalDir string
	// Progress, when set, receives an Event as each step starts and ends.
	// It is called from several goroutines, one call at a time.
	Progress func(Event)
	// Logf, when set, receives debug lines (never a secret).
	Logf func(format string, args ...any)
	// Before, when set, is the gateway's state read just now, from which
	// the plan was made: Apply takes it as the state a rollback restores
	// instead of reading the gateway again. Leave it nil when time has
	// passed since (a saved plan, a prompt).
	Before *nsapi.State
	// Force lets Rollback undo resources that changed since the journal's
	// apply wrote them (see MovedError).
	Force bool
	// ExpectFingerprint, when set, is the live state's Fingerprint the plan
	// was made against: Apply refuses with a *StaleError, before any write,
	// when the state it reads first has another.
	ExpectFingerprint string
	// Verify, when set, judges the state re-read after the last write: an
	// error means the gateway does not hold what the site says, and the
	// apply is rolled back. Without it Apply does not re-read at the end.
	Verify func(ctx context.Context, st *nsapi.State) error
	// Target names the gateway and broker, and optionally the run id: the
	// journal of Apply records them, Rollback refuses a journal of
	// another gateway or run (see journal.go).
	Target Target
	// Lock, when set, is the gateway's lock this run holds (AcquireLock):
	// Apply records in it that writes start (with the journal's id), that
	// a rollback runs, and how the apply ended when it keeps the lock
	// (rollback incomplete, unverified). After a verified apply it writes
	// the digests of the write-only values to the gateway's record. The
	// caller releases the lock unless Result.KeepLock.
	Lock *Lock
}

// VerifyError says the gateway, re-read after every write was confirmed,
// does not match the site.
type VerifyError struct {
	Err error
}

// Error says what still differs.
func (e *VerifyError) Error() string {
	return fmt.Sprintf("verify: the gateway was re-read after the last write and does not match the site: %v", e.Err)
}

// Unwrap returns the cause.
func (e *VerifyError) Unwrap() error { return e.Err }

// UnverifiedError says every write was confirmed but the gateway could not
// be re-read at the end to verify the whole; the journal is kept, so that
// gwsync rollback can undo the apply or --abandon can keep it.
type UnverifiedError struct {
	JournalDir string
	Err        error
}

// Error says what is known.
func (e *UnverifiedError) Error() string {
	return fmt.Sprintf("every write was answered and confirmed, but the gateway could not be re-read to verify the result (%v); the journal is kept in %s", e.Err, e.JournalDir)
}

// Unwrap returns the cause.
func (e *UnverifiedError) Unwrap() error { return e.Err }

// StaleError says the gateway changed between planning and applying;
// nothing was written.
type StaleError struct {
	Want, Got string // state fingerprints: planned against, read now
}

// Error says the plan is stale and what to do.
func (e *StaleError) Error() string {
	return fmt.Sprintf("stale plan: the gateway changed since the plan was made (state %s, planned against %s); plan again", short(e.Got), short(e.Want))
}

func short(fp string) string {
	if len(fp) > 19 {
		return fp[:19] + "…"
	}
	return fp
}

// EventType says what an Event reports.
type EventType string

// The event types.
const (
	EventStart      EventType = "start"       // a step is being written
	EventDone       EventType = "done"        // a step is written and confirmed
	EventFailed     EventType = "failed"      // a step failed
	EventUndoStart  EventType = "undo"        // an undo is being written
	EventUndone     EventType = "undone"      // an undo is written
	EventUndoFailed EventType = "undo-failed" // an undo failed
	EventVerify     EventType = "verify"      // the gateway is being re-read after a rollback
	EventCheck      EventType = "check"       // the gateway is being re-read after the last write
)

// Event is a progress report.
type Event struct {
	Type    EventType
	Address string
	Action  plan.Action
	Done    int // steps finished so far in this pass (apply or rollback)
	Total   int // steps in this pass
	Elapsed time.Duration
	Err     error
}

// StepRecord is one change the apply made.
type StepRecord struct {
	Address string
	Kind    plan.Kind
	Action  plan.Action
	ID      string // server id after the change (a create's new id)
	Elapsed time.Duration
}

// UndoRecord is one write a rollback made.
type UndoRecord struct {
	Address string
	Did     string // e.g. "deleted", "restored", "re-created", "removed members", "re-added members"
	Err     error  // non-nil when this undo failed
}

// Result is what an apply or rollback did, also when it failed.
type Result struct {
	Applied []StepRecord // the plan's changes that took effect, in completion order
	Failed  *StepError   // the step that failed, if one did
	// RolledBack says a rollback ran; Undone lists its writes.
	RolledBack bool
	Undone     []UndoRecord
	// Restored says the gateway was re-read after the rollback and equals
	// its state before the apply. Remaining holds the difference otherwise.
	Restored  bool
	Remaining string
	// Verified says the gateway was re-read after the last write and
	// Options.Verify found it matching.
	Verified bool
	// Kept says completed steps were kept (NoRollback).
	Kept bool
	// Notes say what a rollback could not bring back exactly (sessions,
	// frame counters, new server ids).
	Notes []string
	// JournalKept says the journal is still there (rollback incomplete).
	JournalKept bool
	JournalDir  string
	// JournalID is the id of the journal the apply wrote or the rollback
	// read (see Target).
	JournalID string
	// Before is the state read before the first write.
	Before *nsapi.State
	// KeepLock says the gateway's lock must stay held: the apply ended
	// half-way (the journal is kept, or it was stopped at once), and the
	// lock's record says so to every machine.
	KeepLock bool
}

// Summary counts the applied changes as the plan summary does: a replace
// is one add and one destroy.
func (r *Result) Summary() (added, changed, destroyed int) {
	for _, s := range r.Applied {
		switch s.Action {
		case plan.Create:
			added++
		case plan.Update:
			changed++
		case plan.Delete:
			destroyed++
		case plan.Replace:
			added++
			destroyed++
		}
	}
	return added, changed, destroyed
}

// StepError is the error of the step that failed.
type StepError struct {
	Change plan.Change
	Err    error
}

// Error names the change, its action and the cause.
func (e *StepError) Error() string {
	return fmt.Sprintf("%s: %s: %v", e.Change.Address, e.Change.Action, e.Err)
}

// Unwrap returns the cause.
func (e *StepError) Unwrap() error { return e.Err }

// PlanError says a plan cannot be applied as it is; nothing was written.
type PlanError struct {
	Address string
	Msg     string
}

// Error names the change and what is wrong with it.
func (e *PlanError) Error() string { return fmt.Sprintf("plan: %s: %s", e.Address, e.Msg) }

// effect states.
type effState int

const (
	effPending   effState = iota // the write is being sent
	effDone                      // the write took effect
	effNotDone                   // the write certainly did not take effect
	effUncertain                 // nobody knows: undo re-reads first
	effUndone                    // undone by a rollback
)

// effect is one write on the gateway and what undoing it needs. It is what
// the journal records before the write is sent.
type effect struct {
	N       int          `json:"n"`
	Step    int          `json:"step"`
	Phase   int          `json:"phase"`
	Op      string       `json:"op"` // create, update, delete, add, remove
	Kind    plan.Kind    `json:"kind"`
	Address string       `json:"address"`
	Name    string       `json:"name"` // identity for a re-read: name, or devEUI
	ID      string       `json:"id,omitempty"`
	Before  *plan.Object `json:"before,omitempty"`
	After   *plan.Object `json:"after,omitempty"`
	Group   string       `json:"group,omitempty"` // add/remove: the group's name
	DevEUIs []string     `json:"devEUIs,omitempty"`

	state effState
	// undoTargets are what earlier rollbacks journalled they would write
	// to undo it (replay).
	undoTargets []*plan.Object
}

// The effect operations.
const (
	opCreate = "create"
	opUpdate = "update"
	opDelete = "delete"
	opAdd    = "add"
	opRemove = "remove"
)

// step is one unit of work: a change, or the memberships of one group
// added or removed together.
type step struct {
	seq     int
	phase   int
	changes []plan.Change
	address string
	// sent is set when the step's first write takes its token of
	// runner.wire (by the step's own goroutine): from then on the step runs
	// to its end.
	sent bool
	// prev is the turn of the step before it in its phase (nil: the
	// first), turn its own: closed once the step has taken its token of
	// runner.wire or never will. A step takes its token only after the one
	// before it took its own, so writes leave in plan order although later
	// steps journal ahead (with --parallelism 1, exactly the plan's order).
	prev, turn chan struct{}
	passed     sync.Once
}

// passTurn lets the next step of the phase take its token of the wire.
func (s *step) passTurn() {
	if s.turn != nil {
		s.passed.Do(func() { close(s.turn) })
	}
}

type runner struct {
	w    Writer
	opts Options
	j    *journal
	// recordSince, for a rollback from a journal, is when its apply
	// began (see restoreRecord); zero otherwise.
	recordSince time.Time
	// before is the state read before the first write (what a rollback
	// restores).
	before *nsapi.State
	// written is what gwsync last wrote of the fields no read returns
	// (codecJson, firmware files): what an undo restores of them.
	written written

	mu      sync.Mutex
	ids     map[string]string // address → server id of what this apply created
	remap   map[string]string // old id → new id of what a rollback re-created
	effects []*effect
	applied []StepRecord
	undone  []UndoRecord
	notes   []string
	stopped error
	done    int
	total   int
	// unanswered counts a rollback's undos in a row that got no answer.
	unanswered int
	// wire holds a token per write in flight (Options.Parallelism). More
	// steps than that run at once: while writes are in flight, the next
	// steps journal their intents, so the fsync is off the critical path.
	wire chan struct{}
	// interrupt is closed when the user interrupts the apply: no step
	// sends its first write after that.
	interrupt <-chan struct{}
}

// interrupted reports whether the user interrupted the apply.
func (r *runner) interrupted() bool {
	select {
	case <-r.interrupt:
		return true
	default:
		return false
	}
}

// errNotSent ends a step whose intent was journalled but whose write was
// not sent, as the apply stopped meanwhile: the step did not run.
var errNotSent = errors.New("not sent: the apply stopped")

// stepsAhead is how many steps beyond the writes in flight journal their
// intent ahead: an fsync takes far less than an answer.
const stepsAhead = 2

func (r *runner) logf(format string, args ...any) {
	if r.opts.Logf != nil {
		r.opts.Logf(format, args...)
	}
}

func (r *runner) event(ev Event) {
	if r.opts.Progress == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	ev.Total = r.total
	if ev.Type == EventDone || ev.Type == EventFailed || ev.Type == EventUndone || ev.Type == EventUndoFailed {
		r.done++
	}
	ev.Done = r.done
	r.opts.Progress(ev)
}

func (r *runner) stop(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped == nil {
		r.stopped = err
	}
}

// isStopped says whether no step may start: a step failed, the run was
// interrupted, or the lock is lost (seen at once, before the goroutine
// that watches it records the stop).
func (r *runner) isStopped() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopped != nil || r.opts.Lock.Err() != nil
}

func (r *runner) note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

func parallelism(o Options) int {
	n := o.Parallelism
	if n <= 0 {
		n = DefaultParallelism
	}
	if n > MaxParallelism {
		n = MaxParallelism
	}
	return n
}

// Apply runs p against the gateway w writes to. It reads the gateway's
// state first (the state a rollback restores), journals every write before
// sending it, and confirms every write. When a step fails it stops, lets the
// steps in flight finish, and (unless NoRollback) undoes the completed steps
// in reverse and verifies that the gateway equals its state before. The
// Result is returned also on error; a failing step's error is a *StepError.
func Apply(ctx context.Context, w Writer, p *plan.Plan, opts Options) (*Result, error) {
	res := &Result{JournalDir: opts.JournalDir}
	if p == nil {
		return res, errors.New("apply: no plan")
	}
	phases, err := buildSteps(p)
	if err != nil {
		return res, err
	}
	if HasJournal(opts.JournalDir) {
		return res, &JournalExistsError{Dir: opts.JournalDir}
	}
	if len(phases) == 0 {
		return res, nil
	}
	before := opts.Before
	if before == nil {
		if before, err = reread(ctx, w.ReadState); err != nil {
			return res, fmt.Errorf("apply: read the gateway before the first write: %w", err)
		}
	}
	res.Before = before
	if opts.ExpectFingerprint != "" {
		if fp := before.Fingerprint(); fp != opts.ExpectFingerprint {
			return res, &StaleError{Want: opts.ExpectFingerprint, Got: fp}
		}
	}
	release, err := HoldJournalDir(opts.JournalDir)
	if err != nil {
		return res, fmt.Errorf("apply: %w", err)
	}
	defer release()
	j, err := createJournal(opts.JournalDir, before, p, opts.Target)
	if err != nil {
		return res, err
	}
	res.JournalID = j.ID()
	opts.Lock.SetOrigin(opts.JournalDir)
	if err := opts.Lock.SetState(ctx, LockApplying, j.ID()); err != nil {
		if ferr := j.finish(); ferr != nil {
			err = errors.Join(err, ferr)
		}
		return res, fmt.Errorf("apply: nothing was written: %w", err)
	}
	r := &runner{w: w, opts: opts, j: j, before: before, written: loadWrittenFor(opts.JournalDir, p.GatewayEUI, before.Records),
		wire: make(chan struct{}, parallelism(opts)), interrupt: ctx.Done(),
		ids: map[string]string{}, remap: map[string]string{}}
	for _, ph := range phases {
		r.total += len(ph)
	}
	// A lock lost meanwhile (broken, or its lease not renewed in time)
	// stops the apply as a failed step does: no step starts after it.
	// Another run may be writing: nothing is rolled back.
	if lost := opts.Lock.Lost(); lost != nil {
		ended := make(chan struct{})
		defer close(ended)
		go func() {
			select {
			case <-lost:
				r.stop(opts.Lock.Err())
			case <-ended:
			}
		}()
	}
	// Writes in flight finish even when ctx is cancelled (each request is
	// bounded by the client's timeout): only the start of new steps stops.
	wctx := context.WithoutCancel(ctx)
	for i, ph := range phases {
		// The last phase needs no confirmation read of its own when the
		// whole gateway is re-read and verified right after it.
		confirm := i < len(phases)-1 || opts.Verify == nil
		r.runPhase(ctx, wctx, ph, confirm)
		if r.isStopped() {
			break
		}
	}
	r.mu.Lock()
	failure := r.stopped
	res.Applied = append(res.Applied, r.applied...)
	r.mu.Unlock()
	if lerr := opts.Lock.Err(); lerr != nil {
		return res, r.lockLost(res, lerr)
	}
	if failure == nil && opts.Verify != nil {
		r.event(Event{Type: EventCheck})
		st, err := reread(wctx, w.ReadState)
		if err != nil {
			j.close()
			res.JournalKept = j != nil
			res.KeepLock = true
			if lerr := opts.Lock.SetState(wctx, LockUnverified, ""); lerr != nil {
				r.logf("apply: %v", lerr)
			}
			return res, &UnverifiedError{JournalDir: opts.JournalDir, Err: err}
		}
		if lerr := opts.Lock.Check(st); lerr != nil {
			return res, r.lockLost(res, lerr)
		}
		if err := opts.Verify(wctx, st); err != nil {
			failure = &VerifyError{Err: err}
			r.stop(failure)
		} else {
			res.Verified = true
		}
	}
	var se *StepError
	if errors.As(failure, &se) {
		res.Failed = se
	}
	if failure == nil {
		r.mu.Lock()
		effects := append([]*effect(nil), r.effects...)
		r.mu.Unlock()
		if err := recordWritten(opts.JournalDir, p.GatewayEUI, effects); err != nil {
			r.logf("apply: record the codecJson written (a later rollback cannot restore it): %v", err)
		}
		if lerr := opts.Lock.Err(); lerr != nil {
			return res, r.lockLost(res, lerr)
		}
		if opts.Lock != nil {
			if err := recordOnGateway(wctx, w, opts.Lock, effects); err != nil {
				res.Notes = append(res.Notes, fmt.Sprintf("%v: a later plan may not see a change of codecJson or of a firmware file alone", err))
			}
		}
		return res, j.finish()
	}
	if opts.NoRollback {
		res.Kept = true
		r.logf("apply: step failed; --no-rollback: %d completed changes kept", len(res.Applied))
		if ferr := j.finish(); ferr != nil {
			return res, errors.Join(failure, ferr)
		}
		return res, failure
	}
	if err := opts.Lock.SetState(wctx, LockRollingBack, ""); err != nil {
		r.logf("apply: %v", err)
	}
	r.rollback(wctx, res, before)
	if lerr := opts.Lock.Err(); lerr != nil {
		return res, errors.Join(failure, r.lockLost(res, lerr))
	}
	if !res.Restored {
		res.KeepLock = true
		if err := opts.Lock.SetState(wctx, LockRollbackIncomplete, ""); err != nil {
			r.logf("apply: %v", err)
		}
	}
	if res.Restored {
		if ferr := j.finish(); ferr != nil {
			return res, errors.Join(failure, ferr)
		}
	} else {
		j.close()
		res.JournalKept = j != nil
	}
	return res, failure
}

// LockLostError says the run stopped because it lost the gateway's lock
// (Err wraps ErrLockLost): another run may be writing, so it neither
// rolled back nor verified; its journal is kept.
type LockLostError struct {
	JournalDir string
	Err        error
}

// Error says the lock was lost and where the journal is.
func (e *LockLostError) Error() string {
	return fmt.Sprintf("stopped: %v; no further write was sent, nothing was rolled back, and the journal is kept in %s (see gwsync unlock to find who holds the lock now)", e.Err, e.JournalDir)
}

// Unwrap returns the cause.
func (e *LockLostError) Unwrap() error { return e.Err }

// lockLost ends a run whose lock was lost: the journal is kept, the lock
// (another's now) is not released.
func (r *runner) lockLost(res *Result, err error) error {
	r.j.close()
	res.JournalKept = true
	res.KeepLock = true
	r.logf("apply: %v", err)
	return &LockLostError{JournalDir: r.j.dir, Err: err}
}

// lockGone says the run's lock was lost (Options.Lock).
func (r *runner) lockGone() bool { return r.opts.Lock.Err() != nil }

// runPhase runs the steps of one phase, Parallelism at a time, then (with
// confirm) confirms the creates and membership changes of the phase with
// one list read per kind.
func (r *runner) runPhase(ctx, wctx context.Context, steps []*step, confirm bool) {
	sem := make(chan struct{}, parallelism(r.opts)+stepsAhead)
	var wg sync.WaitGroup
	var prev chan struct{}
	for _, s := range steps {
		s.prev, s.turn = prev, make(chan struct{})
		prev = s.turn
		if ctx.Err() != nil {
			r.stop(fmt.Errorf("apply interrupted: %w", ctx.Err()))
		}
		if r.isStopped() {
			break
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			r.stop(fmt.Errorf("apply interrupted: %w", ctx.Err()))
		}
		if r.isStopped() {
			break
		}
		wg.Add(1)
		go func(s *step) {
			defer wg.Done()
			defer func() { <-sem }()
			r.runStep(wctx, s)
		}(s)
	}
	wg.Wait()
	if confirm && !r.isStopped() {
		r.confirmPhase(wctx, steps)
	}
}

func (r *runner) runStep(ctx context.Context, s *step) {
	defer s.passTurn()
	first := s.changes[0]
	r.event(Event{Type: EventStart, Address: s.address, Action: first.Action})
	start := time.Now()
	var err error
	if first.Kind == plan.KindMember {
		err = r.doMembers(ctx, s)
	} else {
		err = r.doChange(ctx, s, first)
	}
	elapsed := time.Since(start)
	if s.sent && r.wire != nil {
		defer func() { <-r.wire }()
	}
	if errors.Is(err, errNotSent) {
		return
	}
	if err != nil {
		se := &StepError{Change: first, Err: err}
		r.stop(se)
		r.event(Event{Type: EventFailed, Address: s.address, Action: first.Action, Elapsed: elapsed, Err: err})
		return
	}
	r.mu.Lock()
	for _, c := range s.changes {
		r.applied = append(r.applied, StepRecord{Address: c.Address, Kind: c.Kind, Action: c.Action, ID: r.idOf(c), Elapsed: elapsed})
	}
	r.mu.Unlock()
	r.event(Event{Type: EventDone, Address: s.address, Action: first.Action, Elapsed: elapsed})
}

// idOf is the server id of a change's resource after it ran (r.mu held).
func (r *runner) idOf(c plan.Change) string {
	if id, ok := r.ids[c.Address]; ok {
		return id
	}
	return c.ID
}

// resolve returns c's After with the Refs filled from what earlier steps
// created.
func (r *runner) resolve(c plan.Change) (*plan.Object, error) {
	after := copyObject(c.After)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ref := range c.Refs {
		id, ok := r.ids[ref.Address]
		switch ref.Field {
		case "profileID", "payloadCodecID", "group_id":
		default:
			continue // known without running anything (e.g. a device's EUI)
		}
		if !ok {
			return nil, fmt.Errorf("%s needs the id of %s, which this apply did not create", ref.Field, ref.Address)
		}
		switch {
		case ref.Field == "profileID" && after.Device != nil:
			after.Device.ProfileID = id
		case ref.Field == "payloadCodecID" && after.Device != nil:
			after.Device.PayloadCodecID = nsapi.FlexString(id)
		case ref.Field == "group_id" && after.Member != nil:
			after.Member.GroupID = id
		}
	}
	return after, nil
}

func (r *runner) doChange(ctx context.Context, s *step, c plan.Change) error {
	switch c.Action {
	case plan.Create:
		after, err := r.resolve(c)
		if err != nil {
			return err
		}
		return r.create(ctx, s, c, after)
	case plan.Update:
		after, err := r.resolve(c)
		if err != nil {
			return err
		}
		e := &effect{Op: opUpdate, ID: existingID(c), Before: c.Before, After: after}
		return r.perform(ctx, s, c, e, func(ctx context.Context) (string, error) {
			return e.ID, r.put(ctx, c.Kind, e.ID, after, c.Before)
		})
	case plan.Delete:
		return r.remove(ctx, s, c)
	case plan.Replace:
		after, err := r.resolve(c)
		if err != nil {
			return err
		}
		if err := r.remove(ctx, s, c); err != nil {
			return err
		}
		return r.create(ctx, s, c, after)
	}
	return fmt.Errorf("unknown action %q", c.Action)
}

func (r *runner) create(ctx context.Context, s *step, c plan.Change, after *plan.Object) error {
	e := &effect{Op: opCreate, Name: identity(c.Kind, after), After: after}
	err := r.perform(ctx, s, c, e, func(ctx context.Context) (string, error) {
		return r.post(ctx, c.Kind, after)
	})
	if err == nil {
		r.mu.Lock()
		r.ids[c.Address] = e.ID
		r.mu.Unlock()
	}
	return err
}

func (r *runner) remove(ctx context.Context, s *step, c plan.Change) error {
	e := &effect{Op: opDelete, ID: existingID(c), Name: identity(c.Kind, c.Before), Before: c.Before}
	return r.perform(ctx, s, c, e, func(ctx context.Context) (string, error) {
		return e.ID, r.del(ctx, c.Kind, e.ID)
	})
}

// perform journals e, runs write and settles e's state. An ns-api error
// answer means the write did not happen. No answer at all means nobody
// knows: the gateway is re-read to decide, and the write is never re-sent.
func (r *runner) perform(ctx context.Context, s *step, c plan.Change, e *effect, write func(context.Context) (string, error)) error {
	e.Step, e.Phase, e.Kind, e.Address = s.seq, s.phase, c.Kind, c.Address
	if e.Kind == plan.KindMember {
		e.Address = s.address
	}
	r.mu.Lock()
	e.N = len(r.effects) + 1
	r.effects = append(r.effects, e)
	r.mu.Unlock()
	if err := r.j.append(record{T: "intent", N: e.N, Effect: e}, true); err != nil {
		r.setState(e, effNotDone, "")
		return err
	}
	if r.wire != nil && !s.sent {
		// The step's first write takes a token, after the step before it
		// took its own, and runStep gives it back once the step is over
		// and reported.
		if s.prev != nil {
			select {
			case <-s.prev:
			case <-ctx.Done():
			}
		}
		select {
		case r.wire <- struct{}{}:
		case <-ctx.Done():
			s.passTurn()
			r.setState(e, effNotDone, "")
			_ = r.j.append(record{T: "fail", N: e.N}, false)
			return ctx.Err()
		}
		s.sent = true
		s.passTurn()
		if r.isStopped() || r.interrupted() {
			r.setState(e, effNotDone, "")
			_ = r.j.append(record{T: "fail", N: e.N}, false)
			return errNotSent
		}
	}
	s.sent = true
	for attempt := 0; ; attempt++ {
		id, err := write(ctx)
		if err == nil {
			r.setState(e, effDone, id)
			return r.j.append(record{T: "ok", N: e.N, ID: id}, false)
		}
		if refused(err) && attempt == 0 {
			r.setState(e, effNotDone, "")
			_ = r.j.append(record{T: "fail", N: e.N}, false)
			return err
		}
		// No answer, an answer that leaves the outcome open, or a refusal of
		// a write sent again: the first request may yet have arrived late
		// ("already exists"), so only a re-read tells.
		r.logf("apply: %s: %s: %v; re-reading to decide", e.Address, e.Op, err)
		inForce, foundID, cerr := r.inForce(ctx, e)
		switch {
		case cerr != nil:
			r.setState(e, effUncertain, "")
			return fmt.Errorf("%w; re-reading it failed too (%v): it may or may not have happened", err, cerr)
		case inForce:
			r.setState(e, effDone, foundID)
			r.logf("apply: %s: the answer was lost but the re-read shows the %s happened", e.Address, e.Op)
			return r.j.append(record{T: "ok", N: e.N, ID: foundID}, false)
		case attempt < resendAttempts && ctx.Err() == nil && !refused(err):
			// The re-read proves the write never took effect (the request
			// was lost, or refused without an error code): sending it again
			// cannot do it twice.
			r.logf("apply: %s: the re-read shows the %s did not happen; sending it again", e.Address, e.Op)
			continue
		}
		// An update that is not visible may still be half-applied, and an
		// error answer may have come with a write that shows later: the undo
		// re-reads first and is safe either way.
		r.setState(e, effUncertain, "")
		return fmt.Errorf("%w; the re-read shows it did not happen", err)
	}
}

func (r *runner) setState(e *effect, st effState, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e.state = st
	if id != "" {
		e.ID = id
	}
}

// ---- re-reads ----

// inForce re-reads the gateway and says whether e's write has taken effect.
func (r *runner) inForce(ctx context.Context, e *effect) (bool, string, error) {
	switch e.Op {
	case opCreate:
		found, id, _, err := r.find(ctx, e.Kind, e.Name)
		return found, id, err
	case opDelete:
		found, _, _, err := r.find(ctx, e.Kind, e.Name)
		return !found, e.ID, err
	case opUpdate:
		found, _, live, err := r.find(ctx, e.Kind, identity(e.Kind, e.After))
		if err != nil || !found {
			return false, "", err
		}
		return sameObject(e.Kind, live, e.After), e.ID, nil
	case opAdd, opRemove:
		found, _, live, err := r.findGroup(ctx, e.ID, e.Group)
		if err != nil || !found {
			return false, "", err
		}
		members := memberSet(live)
		for _, d := range e.DevEUIs {
			if members[d] != (e.Op == opAdd) {
				return false, e.ID, nil
			}
		}
		return true, e.ID, nil
	}
	return false, "", fmt.Errorf("unknown operation %q", e.Op)
}

// confirmPhase checks, with one list read per kind, that every create and
// membership change of the phase is held by the gateway: a gateway may
// answer success without storing.
func (r *runner) confirmPhase(ctx context.Context, steps []*step) {
	inPhase := map[int]bool{}
	for _, s := range steps {
		inPhase[s.seq] = true
	}
	byKind := map[plan.Kind][]*effect{}
	r.mu.Lock()
	for _, e := range r.effects {
		if inPhase[e.Step] && e.state == effDone && (e.Op == opCreate || e.Op == opAdd || e.Op == opRemove) {
			byKind[e.Kind] = append(byKind[e.Kind], e)
		}
	}
	r.mu.Unlock()
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, string(k))
	}
	sort.Strings(kinds)
	for _, ks := range kinds {
		k := plan.Kind(ks)
		effs := byKind[k]
		held, err := r.held(ctx, k, effs)
		if err != nil {
			r.stop(&StepError{Change: changeOf(steps, effs[0]), Err: fmt.Errorf("confirm: %w", err)})
			return
		}
		for _, e := range effs {
			if !held(e) {
				r.setState(e, effUncertain, "")
				err := fmt.Errorf("the gateway answered success but a re-read does not show the %s", e.Op)
				r.stop(&StepError{Change: changeOf(steps, e), Err: err})
				r.event(Event{Type: EventFailed, Address: e.Address, Err: err})
				return
			}
		}
	}
}

func changeOf(steps []*step, e *effect) plan.Change {
	for _, s := range steps {
		if s.seq == e.Step {
			return s.changes[0]
		}
	}
	return plan.Change{Address: e.Address, Kind: e.Kind}
}
