package applier

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gwsync/gwsync/internal/atomicfile"
	"github.com/gwsync/gwsync/internal/reserved"
	"github.com/gwsync/gwsync/nsapi"
)

// The lock every machine sees lives on the gateway, where every machine
// that applies to it meets: a custom payload codec with the reserved name
// reserved.LockCodec. MQTT has no compare-and-set, but a gateway refuses
// to create a second codec of a name it holds (code 6 "Already exists"),
// so creating the record is a test-and-set. The spec states uniqueness
// for devEUIs, device names and multicast group names, not in so many
// words for codec names: so after its create answers, the taker lists the
// records of that name and holds the lock only when its own is the only
// one. That is safe on a gateway that does not enforce the uniqueness too:
// of two records, the later create's taker always sees the earlier one and
// backs off. The record's decoderScript holds the holder as JSON
// (LockRecord); releasing deletes it, by id, once it is checked to be ours.

// LockStore is the part of the ns-api the lock and the gateway record of
// write-only values use. *nsapi.Client satisfies it.
type LockStore interface {
	ListCodecs(ctx context.Context, typ, search string) ([]nsapi.Codec, error)
	CreateCodec(ctx context.Context, c nsapi.CodecWrite) (id string, err error)
	UpdateCodec(ctx context.Context, id string, c nsapi.CodecWrite) error
	DeleteCodec(ctx context.Context, id string) error
}

// LockState says what the holder of the lock is doing.
type LockState string

// The lock states.
const (
	LockPending            LockState = "planned"             // taken, no write yet (a plan shown, a prompt)
	LockApplying           LockState = "applying"            // writes may be under way
	LockRollingBack        LockState = "rolling back"        // the apply's rollback runs
	LockRollbackIncomplete LockState = "rollback incomplete" // the apply ended with its rollback incomplete (exit 4)
	LockUnverified         LockState = "unverified"          // every write answered, the result not verified (exit 4)
)

// String returns the state's name.
func (s LockState) String() string { return string(s) }

// LockRecord is the lock's holder, as the record on the gateway says.
type LockRecord struct {
	// RunID is the random id of the run that holds the lock.
	RunID string `json:"run"`
	// Command is the gwsync command: apply or rollback.
	Command string    `json:"cmd"`
	State   LockState `json:"state"`
	Host    string    `json:"host,omitempty"`
	User    string    `json:"user,omitempty"`
	// CIURL is the CI run's address, when the run is in CI.
	CIURL string `json:"ci,omitempty"`
	// Site is the site's path on the holder's machine.
	Site    string    `json:"site,omitempty"`
	Started time.Time `json:"started"`
	// PlanDigest is the digest of the plan being applied.
	PlanDigest string `json:"plan,omitempty"`
	// JournalID identifies the run's journal (JournalID): a rollback
	// from that journal, here or from a copy of it, may take the lock over.
	JournalID string `json:"journal,omitempty"`
	// Renewed is when the holder last rewrote the record (its lease, see
	// Lock): a record without it (an earlier gwsync's) counts as renewed
	// at Started.
	Renewed time.Time `json:"renewed,omitzero"`
	// Lease is how long the holder lets pass between renewals before its
	// lock counts as abandoned (0: DefaultLockLease).
	Lease time.Duration `json:"lease,omitempty"`
	// Origin identifies, on the holder's machine (Host), the journal file
	// the run writes: a rollback on that machine from that very file, once
	// it holds the journal's RunFile, knows the holder's process is gone.
	Origin string `json:"origin,omitempty"`

	// ID is the record's server id (a codec id).
	ID string `json:"-"`
}

// Holder says who holds the lock, on one line.
func (r *LockRecord) Holder() string { return r.holder(true) }

func (r *LockRecord) holder(ago bool) string {
	var b strings.Builder
	who := r.User
	if r.Host != "" {
		if who != "" {
			who += "@"
		}
		who += r.Host
	}
	if who == "" {
		who = "an unknown machine"
	}
	cmd := r.Command
	if cmd == "" {
		cmd = "a gwsync run"
	}
	fmt.Fprintf(&b, "%s by %s", cmd, who)
	if r.CIURL != "" {
		fmt.Fprintf(&b, " (%s)", r.CIURL)
	}
	if !r.Started.IsZero() {
		fmt.Fprintf(&b, ", started %s", r.Started.UTC().Format(time.RFC3339))
		if ago {
			fmt.Fprintf(&b, " (%s ago)", time.Since(r.Started).Round(time.Second))
		}
	}
	if r.State != "" {
		fmt.Fprintf(&b, ", %s", r.State)
	}
	if ago {
		fmt.Fprintf(&b, ", %s", r.LeaseSummary(time.Now()))
	}
	return b.String()
}

// Lease defaults: the holder rewrites its record every renew interval; a
// record not rewritten for a lease counts as abandoned.
const (
	DefaultRenewInterval = 30 * time.Second
	DefaultLockLease     = 4 * DefaultRenewInterval
)

// LastRenewed is when the holder last renewed the record, by its clock:
// Renewed, or Started for a record of an earlier gwsync.
func (r *LockRecord) LastRenewed() time.Time {
	if !r.Renewed.IsZero() {
		return r.Renewed
	}
	return r.Started
}

// LeaseOf is the lease the holder runs under: the record's, or
// DefaultLockLease.
func (r *LockRecord) LeaseOf() time.Duration {
	if r.Lease > 0 {
		return r.Lease
	}
	return DefaultLockLease
}

// LeaseExpired says whether, by the clock that gives now, the record was
// not renewed for longer than its lease. Clocks of two machines differ:
// a record that looks fresh may be a dead holder's; one that looks
// expired is a dead holder's unless the clocks differ by more than a lease.
func (r *LockRecord) LeaseExpired(now time.Time) bool {
	t := r.LastRenewed()
	return !t.IsZero() && now.Sub(t) > r.LeaseOf()
}

// Ended says the holder itself wrote that it ended, keeping the lock
// (its rollback incomplete, its result unverified): it renews and writes
// no more.
func (r *LockRecord) Ended() bool {
	return r.State == LockRollbackIncomplete || r.State == LockUnverified
}

// LeaseSummary says when the record was last renewed, by the clock that
// gives now, and whether its lease looks expired.
func (r *LockRecord) LeaseSummary(now time.Time) string {
	t := r.LastRenewed()
	if t.IsZero() {
		return "never renewed"
	}
	var s string
	if d := now.Sub(t).Round(time.Second); d >= 0 {
		s = fmt.Sprintf("renewed %s ago", d)
	} else {
		s = fmt.Sprintf("renewed %s ahead of this machine's clock", -d)
	}
	switch {
	case r.Ended():
		return s + " (its run ended)"
	case r.LeaseExpired(now):
		return s + fmt.Sprintf(" (lease of %s expired: its run looks gone)", r.LeaseOf())
	}
	return s + fmt.Sprintf(" (lease of %s)", r.LeaseOf())
}

// Details are the record's fields, one "name: value" line each, for a
// message that shows the holder in full.
func (r *LockRecord) Details() []string {
	var out []string
	add := func(k, v string) {
		if v != "" {
			out = append(out, k+": "+v)
		}
	}
	add("command", r.Command)
	add("state", string(r.State))
	add("host", r.Host)
	add("user", r.User)
	add("CI run", r.CIURL)
	add("site", r.Site)
	if !r.Started.IsZero() {
		add("started", r.Started.UTC().Format(time.RFC3339))
	}
	add("plan", r.PlanDigest)
	add("journal", r.JournalID)
	add("run id", r.RunID)
	add("lease", r.LeaseSummary(time.Now()))
	return out
}

// Interrupted says whether the holder may have written to the gateway: an
// apply that holds the lock past its writes' start, or ended half-way.
func (r *LockRecord) Interrupted() bool { return r.State != LockPending }

// Limits of the record's free-text fields: the spec gives no length for a
// codec's fields, so the record is kept under 1024 bytes, the longest
// description the spec allows anywhere (a device's).
const (
	maxLockField = 200
	maxLockJSON  = 1024
)

func clip(s string, n int) string {
	s = strings.ToValidUTF8(strings.TrimSpace(s), "")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8Start(s[n]) {
		n--
	}
	return s[:n]
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// NewLockRecord describes this run as a lock holder: cmd (apply,
// rollback), the site's path, the plan's digest, and who and where from
// getenv (CI variables of GitHub Actions, GitLab, Jenkins, CircleCI,
// Buildkite; USER or USERNAME) and the host name.
func NewLockRecord(getenv func(string) string, cmd, site, planDigest string) LockRecord {
	if getenv == nil {
		getenv = os.Getenv
	}
	host, _ := os.Hostname()
	user := getenv("GITHUB_ACTOR")
	if user == "" {
		user = getenv("GITLAB_USER_LOGIN")
	}
	if user == "" {
		user = getenv("USER")
	}
	if user == "" {
		user = getenv("USERNAME")
	}
	return LockRecord{RunID: newRunID(), Command: cmd, State: LockPending, Host: clip(host, maxLockField),
		User: clip(user, maxLockField), CIURL: clip(ciURL(getenv), maxLockField), Site: clip(site, maxLockField),
		Started: time.Now().UTC().Truncate(time.Second), PlanDigest: planDigest}
}

// ciURL is the address of the CI run, when the environment names one.
func ciURL(getenv func(string) string) string {
	if s, r, id := getenv("GITHUB_SERVER_URL"), getenv("GITHUB_REPOSITORY"), getenv("GITHUB_RUN_ID"); s != "" && r != "" && id != "" {
		u := strings.TrimRight(s, "/") + "/" + r + "/actions/runs/" + id
		if a := getenv("GITHUB_RUN_ATTEMPT"); a != "" && a != "1" {
			u += "/attempts/" + a
		}
		return u
	}
	for _, k := range []string{"CI_JOB_URL", "BUILD_URL", "CIRCLE_BUILD_URL", "BUILDKITE_BUILD_URL"} {
		if v := getenv(k); v != "" {
			return v
		}
	}
	return ""
}

func newRunID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// write is the codec that holds the record.
func (r *LockRecord) write() (nsapi.CodecWrite, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nsapi.CodecWrite{}, err
	}
	// Every free-text field at its longest, with the lease's fields,
	// goes over the limit: the longest of the site's path, CI address,
	// user and host is shortened, by a sixth of the excess (JSON writes a
	// character in up to six bytes) or a quarter of the field at most, until
	// the record fits.
	rec := *r
	for len(b) > maxLockJSON {
		var f *string
		for _, g := range []*string{&rec.Site, &rec.CIURL, &rec.User, &rec.Host} {
			if f == nil || len(*g) > len(*f) {
				f = g
			}
		}
		if len(*f) == 0 {
			break
		}
		*f = clip(*f, len(*f)-min(max((len(b)-maxLockJSON)/6, 1), max(len(*f)/4, 1)))
		if b, err = json.Marshal(&rec); err != nil {
			return nsapi.CodecWrite{}, err
		}
	}
	if len(b) > maxLockJSON {
		return nsapi.CodecWrite{}, fmt.Errorf("lock record: %d bytes, want at most %d", len(b), maxLockJSON)
	}
	desc := clip("gwsync lock: "+rec.holder(false)+". Not a decoder; gwsync unlock breaks it.", maxLockJSON)
	return nsapi.CodecWrite{Name: reserved.LockCodec, Description: desc, DecoderScript: string(b)}, nil
}

// parseLock reads a lock codec. A record that does not parse is still a
// held lock: its holder is unknown.
func parseLock(c nsapi.Codec) LockRecord {
	var r LockRecord
	if err := json.Unmarshal([]byte(strings.TrimSpace(c.DecoderScript)), &r); err != nil {
		r = LockRecord{Command: "unknown (the record does not parse)"}
	}
	r.ID = string(c.ID)
	return r
}

// locks lists the lock records on the gateway.
func locks(ctx context.Context, s LockStore) ([]LockRecord, error) {
	cs, err := s.ListCodecs(ctx, nsapi.CodecTypeCustom, reserved.LockCodec)
	if err != nil {
		return nil, fmt.Errorf("lock: read the lock record: %w", err)
	}
	return LocksOf(cs), nil
}

// LocksOf returns the lock records among codecs (a codec list, or
// nsapi.State.Records), oldest (lowest id) first.
func LocksOf(codecs []nsapi.Codec) []LockRecord {
	var out []LockRecord
	for _, c := range codecs {
		if strings.EqualFold(strings.TrimSpace(c.Name), reserved.LockCodec) {
			out = append(out, parseLock(c))
		}
	}
	sortByID(out)
	return out
}

func sortByID(rs []LockRecord) {
	less := func(a, b string) bool {
		x, okx := new(big.Int).SetString(a, 10)
		y, oky := new(big.Int).SetString(b, 10)
		if okx && oky {
			return x.Cmp(y) < 0
		}
		return a < b
	}
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && less(rs[j].ID, rs[j-1].ID); j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

// ReadLock returns the lock's holder, or nil when the lock is free.
func ReadLock(ctx context.Context, s LockStore) (*LockRecord, error) {
	rs, err := locks(ctx, s)
	if err != nil || len(rs) == 0 {
		return nil, err
	}
	return &rs[0], nil
}

// LockOf returns the lock's holder from a state read with
// nsapi.Client.ReadState (its Records), or nil when the lock was free.
func LockOf(st *nsapi.State) *LockRecord {
	if st == nil {
		return nil
	}
	rs := LocksOf(st.Records)
	if len(rs) == 0 {
		return nil
	}
	return &rs[0]
}

// LockedError says that another run holds the gateway's lock.
type LockedError struct {
	Holder LockRecord
	// Waited is how long the lock was waited for.
	Waited time.Duration
	// Alive says a takeover was refused because the holder wrote its
	// record while this run watched it or took it over: it is alive.
	Alive bool
	// Watched is then how long the record was watched until that write.
	Watched time.Duration
}

// Error names the holder.
func (e *LockedError) Error() string {
	s := "gateway locked: held by " + e.Holder.Holder()
	if e.Waited > 0 {
		s += fmt.Sprintf(" (waited %s)", e.Waited.Round(time.Second))
	}
	if e.Alive {
		s += fmt.Sprintf("; its holder is alive: it renewed the record while this run watched it for %s", e.Watched.Round(100*time.Millisecond))
	}
	return s
}

// ErrLockLost says the lock record this run held is gone or another's
// (broken with gwsync unlock, or taken over once its lease looked
// expired), or that its lease may have expired unrenewed.
var ErrLockLost = errors.New("the gateway's lock was lost: another run may be writing to the gateway")

// errLockGone is the loss of a lock whose record is no longer there.
var errLockGone = fmt.Errorf("lock: the record is gone (broken with gwsync unlock?): %w", ErrLockLost)

// Lock is the gateway's lock, held by this run. While held, its record is
// renewed every renew interval (LockOptions.Lease/4): a run that takes
// locks over (a rollback from the holder's journal, on another machine)
// waits until no renewal came for a lease. A renewal that finds the record
// gone or another's, or that could not be made before the lease would
// expire, loses the lock: Lost is closed and Err says why; the run stops
// writing.
type Lock struct {
	s LockStore
	// Seen are the reserved records listed right after the lock was
	// taken: a state read before then is current only if it saw the same.
	Seen []nsapi.Codec
	// Waited says the lock was held by another when first tried.
	Waited bool
	// TookOver says the lock was taken over from a record
	// LockOptions.TakeOver accepted (its lease expired), not created anew.
	TookOver bool

	mu     sync.Mutex // held while the record is written
	rec    LockRecord
	every  time.Duration
	now    func() time.Time
	logf   func(string, ...any)
	lastOK time.Time // when the last write of the record that took was sent (monotonic)
	err    error     // why the lock was lost
	lost   chan struct{}
	stop   chan struct{} // closed to end the renewals
	done   chan struct{} // closed when they ended
	once   sync.Once
	// renewing is set while the renewals run: the lease then counts.
	renewing bool
}

// Record is the holder record of this lock.
func (l *Lock) Record() LockRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rec
}

// Lost is closed when the lock is lost (see Err).
func (l *Lock) Lost() <-chan struct{} {
	if l == nil {
		return nil
	}
	return l.lost
}

// Err says why the lock was lost (an error that wraps ErrLockLost), or nil
// while it is held.
func (l *Lock) Err() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.expiredLocked()
	return l.err
}

// expiredLocked loses the lock (l.mu held) when its lease ran out by this
// process's own clock since the last renewal that took: the process was
// stalled (suspended, starved) past it, and another run may have taken the
// lock over meanwhile, as a holder that stopped renewing allows. Nothing
// is written from then on.
func (l *Lock) expiredLocked() {
	if l.err != nil || !l.renewing {
		return
	}
	if lease := l.rec.LeaseOf(); time.Since(l.lastOK) >= lease {
		l.loseLocked(fmt.Errorf("lock: its lease (%s) ran out before it was renewed (last renewed %s ago): another run may have taken it over: %w",
			lease, time.Since(l.lastOK).Round(time.Millisecond), ErrLockLost))
	}
}

// Check loses the lock when st, a whole read of the gateway, does not show
// this run's record: the read that verifies an apply or a rollback sees a
// takeover or a break that no renewal has seen yet. It returns Err.
func (l *Lock) Check(st *nsapi.State) error {
	if l == nil || st == nil {
		return l.Err()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	return l.stillMineLocked(LocksOf(st.Records))
}

// stillMineLocked (l.mu held) loses the lock unless rs, the lock records
// as listed, hold this run's: the record taken over in place by another
// run, or gone (broken, perhaps taken anew under another id).
func (l *Lock) stillMineLocked(rs []LockRecord) error {
	var other *LockRecord
	for i := range rs {
		if rs[i].ID != l.rec.ID {
			continue
		}
		if rs[i].RunID == l.rec.RunID {
			return nil
		}
		other = &rs[i]
	}
	if other != nil {
		return l.loseLocked(fmt.Errorf("lock: taken over by %s: %w", other.Holder(), ErrLockLost))
	}
	return l.loseLocked(errLockGone)
}

// LockOptions configures AcquireLock.
type LockOptions struct {
	// Timeout is how long to wait for a lock another run holds (0: fail
	// at once with a *LockedError).
	Timeout time.Duration
	// TakeOver, when set, breaks a lock whose record it accepts (a
	// rollback from the journal of the run that holds it) and takes it,
	// once the holder's lease has expired: at once when the record was
	// last renewed longer than a lease ago by this machine's clock, or
	// when it says its run ended; else after watching it unchanged for a
	// lease by this machine's elapsed time. A record renewed meanwhile
	// gives a *LockedError (Watched set).
	TakeOver func(LockRecord) bool
	// HolderGone, when set, says the holder of a record TakeOver accepts
	// is known to be gone (its process ended on this machine): its lock is
	// taken over without waiting out its lease.
	HolderGone func(LockRecord) bool
	// Watching, when set, is called when a record TakeOver accepts is
	// watched, with how long at most.
	Watching func(holder LockRecord, d time.Duration)
	// Lease is how long a record may go without renewal before it counts
	// as abandoned; the record is renewed every Lease/4 (0:
	// DefaultLockLease, renewed every DefaultRenewInterval; <0: not
	// renewed, for tests of records left by earlier releases).
	Lease time.Duration
	// Now is the clock of the timestamps (nil: time.Now).
	Now func() time.Time
	// Logf receives debug lines.
	Logf func(format string, args ...any)
	// Waiting, when set, is called once, when the lock is first found held
	// and will be waited for.
	Waiting func(holder LockRecord)
}

func (o LockOptions) lease() time.Duration {
	if o.Lease == 0 {
		return DefaultLockLease
	}
	return o.Lease
}

func (o LockOptions) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// stamp is a record's timestamp: UTC, to the millisecond.
func stamp(t time.Time) time.Time { return t.UTC().Round(0).Truncate(time.Millisecond) }

// AcquireLock takes the gateway's lock for rec (see NewLockRecord). A lock
// another run holds is waited for, polling with a growing pause, up to
// opts.Timeout; then a *LockedError names the holder. The lock renews its
// record until Release or Leave.
func AcquireLock(ctx context.Context, s LockStore, rec LockRecord, opts LockOptions) (*Lock, error) {
	if rec.RunID == "" {
		rec.RunID = newRunID()
	}
	if rec.State == "" {
		rec.State = LockPending
	}
	if lease := opts.lease(); lease > 0 {
		rec.Lease = lease
		rec.Renewed = stamp(opts.now())
	}
	w, err := rec.write()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	sent := start
	pause := 250 * time.Millisecond
	waited := false
	unseen := 0 // creates answered or refused with no record listed after
	tookOver := false
	var settle time.Duration // after a takeover in place: how long to wait before the record is checked again
	var taken LockRecord     // the record taken over in place
	for {
		var cerr error
		updated := tookOver // this pass lists after an update in place, not a create
		if !tookOver {
			sent = time.Now()
			_, cerr = s.CreateCodec(ctx, w)
		}
		tookOver = false
		var re *nsapi.RemoteError
		if cerr != nil && !(errors.As(cerr, &re) && re.Code == nsapi.CodeAlreadyExists) && nsapi.WriteRefused(cerr) {
			return nil, fmt.Errorf("lock: create the lock record: %w", cerr)
		}
		// Taken, refused as held, or unknown (no answer): the list of
		// gwsync's records says (and shows the record of write-only values
		// as it stands under the lock).
		all, err := s.ListCodecs(ctx, nsapi.CodecTypeCustom, "gwsync-")
		if err != nil {
			return nil, fmt.Errorf("lock: read the lock record: %w", err)
		}
		rs := LocksOf(all)
		var mine, other *LockRecord
		for i := range rs {
			if rs[i].RunID == rec.RunID {
				mine = &rs[i]
			} else if other == nil {
				other = &rs[i]
			}
		}
		if updated && mine == nil && other != nil && other.ID == taken.ID && other.RunID == taken.RunID {
			// Its holder's renewal, under way, wrote its record back
			// over the takeover: it is alive.
			return nil, &LockedError{Holder: *other, Alive: true, Watched: time.Since(start)}
		}
		if mine != nil && other == nil && updated && settle > 0 {
			// A holder's renewal under way when the record was taken
			// over (its list before, its update after) writes its own
			// record back over it: a holder that renews is alive. The
			// record is read again once such a renewal has landed.
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("lock: taking over the lock: %w", ctx.Err())
			case <-time.After(settle):
			}
			settle = 0
			if all, err = s.ListCodecs(ctx, nsapi.CodecTypeCustom, "gwsync-"); err != nil {
				return nil, fmt.Errorf("lock: read the lock record: %w", err)
			}
			for _, r := range LocksOf(all) {
				if r.ID == mine.ID && r.RunID != rec.RunID {
					return nil, &LockedError{Holder: r, Alive: true, Watched: time.Since(start)}
				}
			}
		}
		if mine != nil && other == nil {
			l := &Lock{s: s, rec: rec, Waited: waited, TookOver: updated, now: opts.now, logf: opts.Logf, lastOK: sent, lost: make(chan struct{})}
			l.rec.ID = mine.ID
			for _, c := range all {
				if reserved.Codec(c.Name) {
					l.Seen = append(l.Seen, c)
				}
			}
			if lease := opts.lease(); lease > 0 {
				l.every = lease / 4
				l.startRenewing()
			}
			return l, nil
		}
		if mine != nil {
			// The gateway took a second record of the name: ours was the
			// later create, or both back off. Either way, not ours.
			if err := s.DeleteCodec(ctx, mine.ID); err != nil && !notFound(err) {
				return nil, fmt.Errorf("lock: withdraw this run's record %s (a second lock record; the gateway does not refuse duplicate codec names): %w", mine.ID, err)
			}
		}
		if other == nil {
			if cerr != nil && !nsapi.WriteRefused(cerr) {
				return nil, fmt.Errorf("lock: create the lock record: %w", cerr)
			}
			if unseen++; unseen > 5 {
				return nil, errors.New("lock: the gateway answers creates of the lock record, but its codec list never shows one")
			}
			continue // released meanwhile
		}
		unseen = 0
		if opts.TakeOver != nil && opts.TakeOver(*other) {
			gone := other.Ended() || (opts.HolderGone != nil && opts.HolderGone(*other))
			expired, err := leaseExpired(ctx, s, *other, gone, opts)
			if err != nil {
				return nil, err
			}
			if !expired {
				continue // the record went, or became another's: look again
			}
			if opts.Logf != nil {
				opts.Logf("lock: taking over the lock of %s", other.Holder())
			}
			// In place: the record becomes this run's with one write, so
			// that at no moment is the gateway without a lock naming the
			// run's journal (a delete and a create, killed between the
			// two, left none, and the rollback run again refused the
			// journal as one no lock names). The list that follows says
			// whether the update took.
			opts.TakeOver = nil // once: a breaker racing us may write its own
			if rec.Lease > 0 {
				rec.Renewed = stamp(opts.now())
				if w, err = rec.write(); err != nil {
					return nil, err
				}
			}
			taken = *other
			if !gone {
				settle = max(min(max(opts.lease(), other.LeaseOf())/8, 5*time.Second), time.Millisecond)
			}
			sent = time.Now()
			err = s.UpdateCodec(ctx, other.ID, w)
			switch {
			case err == nil || !nsapi.WriteRefused(err):
				tookOver = true
			case notFound(err): // gone meanwhile: create it
			default:
				return nil, fmt.Errorf("lock: take over the lock of %s: %w", other.Holder(), err)
			}
			continue
		}
		elapsed := time.Since(start)
		if elapsed >= opts.Timeout {
			return nil, &LockedError{Holder: *other, Waited: elapsed}
		}
		if !waited && opts.Waiting != nil {
			opts.Waiting(*other)
		}
		waited = true
		if opts.Logf != nil {
			opts.Logf("lock: held by %s; waiting", other.Holder())
		}
		d := min(pause+jitter(pause/2), opts.Timeout-elapsed)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("lock: waiting for %s: %w", other.Holder(), ctx.Err())
		case <-time.After(d):
		}
		pause = min(pause*2, 5*time.Second)
	}
}

// leaseExpired says whether the lease of h, a record to take over, has
// expired. The holder's clock and this machine's differ, so a record that
// looks fresh is watched (listed again every eighth of a lease, 5 s at
// most) for up to a lease (the longer of the record's and this run's), by
// this machine's elapsed time: renewed meanwhile, its holder is alive (a
// *LockedError); unchanged throughout, it has expired. false, nil: the
// record went or became another's meanwhile.
func leaseExpired(ctx context.Context, s LockStore, h LockRecord, gone bool, opts LockOptions) (bool, error) {
	if gone {
		return true, nil
	}
	lease := max(opts.lease(), h.LeaseOf())
	if t := h.LastRenewed(); !t.IsZero() && opts.now().Sub(t) > lease {
		return true, nil
	}
	if opts.Watching != nil {
		opts.Watching(h, lease)
	}
	if opts.Logf != nil {
		opts.Logf("lock: %s looks alive by this clock; watching it for up to %s", h.Holder(), lease)
	}
	poll := max(min(lease/8, 5*time.Second), time.Millisecond)
	start := time.Now()
	for {
		d := min(poll, lease-time.Since(start))
		if d > 0 {
			select {
			case <-ctx.Done():
				return false, fmt.Errorf("lock: watching the lock of %s: %w", h.Holder(), ctx.Err())
			case <-time.After(d):
			}
		}
		rs, err := locks(ctx, s)
		if err != nil {
			return false, err
		}
		var cur *LockRecord
		for i := range rs {
			if rs[i].ID == h.ID {
				cur = &rs[i]
			}
		}
		if cur == nil || cur.RunID != h.RunID {
			return false, nil
		}
		if !sameLease(*cur, h) {
			return false, &LockedError{Holder: *cur, Alive: true, Watched: time.Since(start)}
		}
		if time.Since(start) >= lease {
			return true, nil
		}
	}
}

// sameLease says whether two reads of one record show no write between.
func sameLease(a, b LockRecord) bool {
	return a.Renewed.Equal(b.Renewed) && a.State == b.State && a.JournalID == b.JournalID &&
		a.PlanDigest == b.PlanDigest && a.Started.Equal(b.Started) && a.Command == b.Command
}

// startRenewing renews the record every l.every until Release or Leave.
func (l *Lock) startRenewing() {
	l.stop, l.done = make(chan struct{}), make(chan struct{})
	l.renewing = true
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-l.stop
		cancel()
	}()
	go func() {
		defer close(l.done)
		t := time.NewTicker(l.every)
		defer t.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-t.C:
			}
			if l.renew(ctx) != nil {
				return
			}
		}
	}()
}

// renew rewrites the record with a new renewal time, once it is checked
// to be still this run's. A failure the wire may cure is retried at the
// next tick, unless the lease would expire before: then, as when the
// record is gone or another's, the lock is lost (the error returned).
func (l *Lock) renew(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.expiredLocked(); l.err != nil {
		return l.err
	}
	sent := time.Now()
	fail := func(err error) error {
		if ctx.Err() != nil {
			return nil // stopped meanwhile
		}
		if time.Since(l.lastOK)+l.every < l.rec.LeaseOf() {
			if l.logf != nil {
				l.logf("lock: renewal failed, tried again in %s: %v", l.every, err)
			}
			return nil
		}
		return l.loseLocked(fmt.Errorf("lock: not renewed for %s (%v), so its lease (%s) may expire and another run take it over: %w",
			time.Since(l.lastOK).Round(time.Millisecond), err, l.rec.LeaseOf(), ErrLockLost))
	}
	rs, err := locks(ctx, l.s)
	if err != nil {
		return fail(err)
	}
	if err := l.stillMineLocked(rs); err != nil {
		return err
	}
	if l.expiredLocked(); l.err != nil { // the list took the rest of the lease
		return l.err
	}
	rec := l.rec
	rec.Renewed = stamp(l.now())
	w, err := rec.write()
	if err != nil {
		return fail(err)
	}
	if err := l.s.UpdateCodec(ctx, l.rec.ID, w); err != nil {
		if notFound(err) {
			return l.loseLocked(errLockGone)
		}
		return fail(err)
	}
	l.rec, l.lastOK = rec, sent
	if l.logf != nil {
		l.logf("lock: renewed")
	}
	return nil
}

// loseLocked records that the lock is lost (l.mu held) and returns err.
func (l *Lock) loseLocked(err error) error {
	if l.err == nil {
		l.err = err
		close(l.lost)
	}
	return l.err
}

// stopRenewing ends the renewals and waits for one under way.
func (l *Lock) stopRenewing() {
	if l.stop == nil {
		return
	}
	l.once.Do(func() { close(l.stop) })
	<-l.done
	l.mu.Lock()
	l.renewing = false
	l.mu.Unlock()
}

// Leave ends the renewals and leaves the record on the gateway: the run
// ends keeping the lock (its apply interrupted or unfinished), and the
// lock's lease runs out.
func (l *Lock) Leave() {
	if l != nil {
		l.stopRenewing()
	}
}

func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	n, err := rand.Int(rand.Reader, big.NewInt(int64(d)))
	if err != nil {
		return 0
	}
	return time.Duration(n.Int64())
}

func notFound(err error) bool {
	var re *nsapi.RemoteError
	return errors.As(err, &re) && re.Code == nsapi.CodeNotFound
}

// SetState records what the holder does now (and the journal's id, when
// journalID is not ""); the write renews the lease too. It updates the
// record by its id: a lock broken meanwhile gives ErrLockLost, as does a
// lock lost before (Err). An ended state (LockRecord.Ended) ends the
// renewals: the run writes no more.
func (l *Lock) SetState(ctx context.Context, st LockState, journalID string) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	rec := l.rec
	rec.State = st
	if journalID != "" {
		rec.JournalID = journalID
	}
	if rec.Lease > 0 {
		rec.Renewed = stamp(l.now())
	}
	w, err := rec.write()
	if err != nil {
		return err
	}
	sent := time.Now()
	if err := l.s.UpdateCodec(ctx, l.rec.ID, w); err != nil {
		if notFound(err) {
			return l.loseLocked(errLockGone)
		}
		return fmt.Errorf("lock: record the state %q: %w", st, err)
	}
	l.rec, l.lastOK = rec, sent
	if rec.Ended() && l.stop != nil {
		l.once.Do(func() { close(l.stop) }) // not waited for: l.mu is held
	}
	return nil
}

// SetOrigin names, in the record, the journal file in dir (see
// LockRecord.Origin), from the next write on.
func (l *Lock) SetOrigin(dir string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rec.Origin = JournalOrigin(dir)
}

// JournalOrigin identifies the journal file in dir on this machine (its
// device and inode; "" where that is not known): a copy of it has another.
func JournalOrigin(dir string) string {
	if dir == "" {
		return ""
	}
	st, err := os.Lstat(filepath.Join(dir, JournalFile))
	if err != nil {
		return ""
	}
	return fileIdentity(st)
}

// Release ends the renewals and deletes the lock record once it is
// checked to be still ours. A list or delete that fails is tried again,
// up to releaseTries in all with a pause that doubles, while a quarter of
// the lease (counted from the last renewal that took) is left: until the
// lease runs out no other run takes the record over, so the record listed
// as ours is still ours when deleted. A lock left on the gateway would
// stop the next apply.
func (l *Lock) Release(ctx context.Context) error {
	if l == nil {
		return nil
	}
	l.stopRenewing()
	if err := l.Err(); err != nil {
		return fmt.Errorf("lock: release: %w", err)
	}
	rec := l.Record()
	pause := releasePause
	sent := false // a delete was sent: it may have been performed
	for try := 1; ; try++ {
		err := l.releaseOnce(ctx, rec, &sent)
		if err == nil || errors.Is(err, ErrLockLost) || try == releaseTries || !l.leaseLeft(pause) {
			return err
		}
		if l.logf != nil {
			l.logf("lock: release failed, tried again in %s: %v", pause, err)
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
		pause *= 2
	}
}

// releaseTries and releasePause bound Release's tries: 4 tries over about
// 1.75 s, enough for a gateway's passing refusal or a lost answer.
const (
	releaseTries = 4
	releasePause = 250 * time.Millisecond
)

// leaseLeft reports whether, after pause, more than a quarter of the lease
// would be left since the last renewal that took.
func (l *Lock) leaseLeft(pause time.Duration) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	lease := l.rec.LeaseOf()
	return time.Since(l.lastOK)+pause < lease-lease/4
}

// releaseOnce lists the lock records and deletes rec's. A record gone
// after a delete was sent (*sent) was released by it, its answer lost;
// gone before, it was broken or taken over.
func (l *Lock) releaseOnce(ctx context.Context, rec LockRecord, sent *bool) error {
	rs, err := locks(ctx, l.s)
	if err != nil {
		return fmt.Errorf("lock: release: %w", err)
	}
	for _, r := range rs {
		if r.RunID == rec.RunID && r.ID == rec.ID {
			*sent = true
			if err := l.s.DeleteCodec(ctx, r.ID); err != nil && !notFound(err) {
				return fmt.Errorf("lock: release: %w", err)
			}
			return nil
		}
	}
	if *sent && !slices.ContainsFunc(rs, func(r LockRecord) bool { return r.ID == rec.ID }) {
		return nil
	}
	return fmt.Errorf("lock: release: %w", ErrLockLost)
}

// BreakLock deletes the lock record holder shows (by its id, and only
// while the record is still that run's). A lock released or broken
// meanwhile is no error.
func BreakLock(ctx context.Context, s LockStore, holder LockRecord) error {
	rs, err := locks(ctx, s)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.ID == holder.ID {
			if r.RunID != holder.RunID || r.State != holder.State {
				return fmt.Errorf("lock: the record changed since it was shown (now %s): look again", r.Holder())
			}
			if err := s.DeleteCodec(ctx, r.ID); err != nil && !notFound(err) {
				return fmt.Errorf("lock: break: %w", err)
			}
			return nil
		}
	}
	return nil
}

// JournalID identifies the journal in dir: the id its first record holds
// (the one Apply records in the gateway's lock), or, for a journal of the
// format before ids, a digest of that record. A copy of the journal (a CI
// artifact) has the same id. "" when there is no journal.
func JournalID(dir string) string {
	if dir == "" {
		return ""
	}
	if info, err := ReadJournalInfo(dir); err == nil && info.ID != "" {
		return info.ID
	}
	if CheckJournalDir(dir) != nil {
		return ""
	}
	f, err := openPrivate(dir, JournalFile, maxJournalFile) // never through a link
	if err != nil {
		return ""
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadBytes('\n')
	if err != nil || len(line) == 0 {
		return ""
	}
	sum := sha256.Sum256(line)
	return "j-" + hex.EncodeToString(sum[:8])
}

// SetPlanDigest changes the plan digest the record names, from the next
// SetState on (a plan made again under the lock).
func (l *Lock) SetPlanDigest(d string) {
	if l != nil {
		l.mu.Lock()
		l.rec.PlanDigest = d
		l.mu.Unlock()
	}
}

// RollbacksFile, in the journal directory, lists the run ids (LockRecord.RunID)
// of the rollbacks started from this copy of the journal, one a line. A
// rollback takes over the lock of a rollback of the same journal only when
// that run started here: a rollback cut short and run again in its
// checkout finishes, while a second copy of the journal (the CI artifact
// copied elsewhere) is refused as long as the first one's rollback holds
// the lock, alive or not (gwsync unlock breaks it).
const RollbacksFile = "rollbacks"

// RollbackRuns returns the run ids RollbacksFile lists in dir (none when
// it is missing, or a link).
func RollbackRuns(dir string) []string {
	if CheckJournalDir(dir) != nil {
		return nil
	}
	b, err := readPrivate(dir, RollbacksFile, maxKeyFile*16)
	if err != nil {
		return nil
	}
	return strings.Fields(string(b))
}

// AddRollbackRun appends runID to dir's RollbacksFile, synced, before the
// rollback it names writes anything.
func AddRollbackRun(dir, runID string) error {
	if err := CheckJournalDir(dir); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, RollbacksFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND|atomicfile.NoFollow, 0o600)
	if err != nil {
		return fmt.Errorf("journal %s: %w", dir, err)
	}
	_, err = f.WriteString(runID + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("journal %s: %s: %w", dir, RollbacksFile, err)
	}
	return nil
}
