package applier

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gwsync/gwsync/internal/atomicfile"
	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
)

// The files of a journal directory. All are created 0600 and removed when
// an apply or rollback completes.
const (
	JournalFile = "journal.jsonl" // append-only JSON lines, one per record
	BeforeFile  = "before.json"   // the state read before the first write, secrets sealed
	KeyFile     = "journal.key"   // the random AES-256 key that seals secrets
)

// sealedPrefix marks a secret field sealed with the journal key.
const sealedPrefix = "sealed:"

// JournalExistsError says that an unfinished apply left a journal: the
// gateway may be half-way, and only a rollback may run.
type JournalExistsError struct {
	Dir string
}

// Error says to run a rollback first.
func (e *JournalExistsError) Error() string {
	return fmt.Sprintf("journal %s: an earlier apply did not finish; the gateway may be half-way between two states: run gwsync rollback first", e.Dir)
}

// ErrNoJournal is returned by Rollback when there is nothing to roll back.
var ErrNoJournal = errors.New("no unfinished apply: no journal")

// HasJournal reports whether dir holds an unfinished apply's journal (a
// journal file, or a link in its place, which Rollback refuses).
func HasJournal(dir string) bool {
	if dir == "" {
		return false
	}
	_, err := os.Lstat(filepath.Join(dir, JournalFile))
	return err == nil
}

// journalVersion is the format of the journals gwsync writes: 2 binds the
// journal to its gateway and run (begin record) and checksums every
// record. Version 1 (no "v" in the begin record) had neither.
const journalVersion = 2

// record is one journal line. From version 2 each line ends with a "sum"
// member (see frame): it is not part of the struct.
type record struct {
	T      string    `json:"t"`              // begin, intent, ok, fail, undo, undone, end
	N      int       `json:"n,omitempty"`    // effect number (intent order)
	Time   string    `json:"time,omitempty"` // begin only
	Before string    `json:"before,omitempty"`
	PID    int       `json:"pid,omitempty"`
	Effect *effect   `json:"effect,omitempty"` // intent only, secrets sealed
	ID     string    `json:"id,omitempty"`     // ok: the id a create got; undone: the id a re-create got
	Plan   *planInfo `json:"plan,omitempty"`   // begin only
	// Begin only, from version 2: the format, the run's random journal
	// id, the gateway and broker (never with credentials) it writes to,
	// and the sha256 of the before file.
	V         int    `json:"v,omitempty"`
	JournalID string `json:"journal_id,omitempty"`
	Gateway   string `json:"gateway_eui,omitempty"`
	Broker    string `json:"broker,omitempty"`
	BeforeSum string `json:"before_sha256,omitempty"`
	// Target is, in an undo record, what the undo writes (an update's or a
	// re-create's object, secrets sealed): a rollback run again after
	// this one was cut short knows it as its own write, not a hand edit.
	Target *plan.Object `json:"target,omitempty"`
}

// Target names the gateway a journal is written for and a rollback runs
// against.
type Target struct {
	// GatewayEUI is the gateway's EUI ("" when unknown: the plan's).
	GatewayEUI string
	// Broker is the broker's URL; user and password are stripped before
	// it is written.
	Broker string
	// JournalID is, for Apply, the id the new journal takes ("": a new
	// random one, see NewJournalID), so that a record of the run kept
	// elsewhere (on the gateway) can name it before the first write. For
	// Rollback, when set, it is the id of the interrupted run recorded
	// elsewhere: a journal with another id is refused.
	JournalID string
}

// JournalInfo is what a journal's begin record says of the apply that
// wrote it.
type JournalInfo struct {
	ID         string // the run's random id ("" in a version 1 journal)
	GatewayEUI string
	Broker     string // without credentials
	Started    string // RFC 3339
	PID        int
	Version    int // 1: written before journals were bound and checksummed
}

// NewJournalID returns a random journal id (128 bits, hex).
func NewJournalID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand does not fail on supported platforms
	return hex.EncodeToString(b)
}

// brokerWithoutCredentials is the broker URL without its user and
// password; a URL that does not parse is not written at all, since
// where a password hides in it cannot be told.
func brokerWithoutCredentials(broker string) string {
	if broker == "" {
		return ""
	}
	u, err := url.Parse(broker)
	if err != nil {
		return "(unparsable URL, not recorded)"
	}
	u.User = nil
	u.RawQuery, u.Fragment = "", ""
	return u.String()
}

// CorruptJournalError says a journal record is damaged: not the last line
// cut short by a crash, which is ignored, but a whole line that does not
// parse or does not match its checksum.
type CorruptJournalError struct {
	File string
	Line int
	Why  string
}

// Error names the file, the line and the ways forward.
func (e *CorruptJournalError) Error() string {
	return fmt.Sprintf("journal %s line %d: damaged record (%s): the records cannot be trusted, so nothing was written; "+
		"roll back past it with --force (the damaged record is skipped: a write it recorded is not undone), or end the journal and keep the gateway as it is with --abandon",
		e.File, e.Line, e.Why)
}

// JournalMismatchError says the journal was written for another gateway
// (or another run than the one the gateway records).
type JournalMismatchError struct {
	Dir              string
	Journal, Gateway string // the journal's and the rollback's: EUIs, or run ids
	What             string // "gateway", "run"
}

// Error names both.
func (e *JournalMismatchError) Error() string {
	switch e.What {
	case "run":
		return fmt.Sprintf("journal %s: written by run %s, but the gateway records run %s as interrupted: this journal is not that run's; nothing was written. Find that run's journal, or end this one with --abandon", e.Dir, e.Journal, e.Gateway)
	case "unnamed":
		return fmt.Sprintf("journal %s names no gateway, and this rollback is for gateway %s: nothing was written. Roll back anyway with --force if you know the journal is this gateway's, or end it with --abandon", e.Dir, e.Gateway)
	}
	return fmt.Sprintf("journal %s was written for gateway %s, not for gateway %s: a rollback would write the other gateway's old values here, so nothing was written. Run the rollback against gateway %s (its site, or --gateway-eui), or end the journal with --abandon", e.Dir, e.Journal, e.Gateway, e.Journal)
}

// frame is a record's line: its JSON with a last member "sum", a
// truncated sha256 of the journal id and the JSON before it, so that a
// damaged or foreign record is seen.
func frame(journalID string, b []byte) []byte {
	sum := recordSum(journalID, b)
	out := make([]byte, 0, len(b)+len(sumOpen)+len(sum)+3)
	out = append(out, b[:len(b)-1]...)
	out = append(out, sumOpen...)
	out = append(out, sum...)
	return append(out, '"', '}', '\n')
}

const sumOpen = `,"sum":"`

// sumLen is the length of a record's checksum: 64 bits of sha256, enough
// to catch damage (it is no defence against someone who rewrites the
// journal, which the journal's binding to its run on the gateway is).
const sumLen = 16

func recordSum(journalID string, b []byte) string {
	h := sha256.New()
	h.Write([]byte(journalID))
	h.Write([]byte{'\n'})
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))[:sumLen]
}

// unframe splits a line into its JSON without the sum and the sum ("" if
// it has none).
func unframe(line []byte) (body []byte, sum string) {
	tail := len(sumOpen) + sumLen + 2
	if len(line) < tail+2 || !bytes.HasSuffix(line, []byte(`"}`)) || !bytes.Equal(line[len(line)-tail:len(line)-tail+len(sumOpen)], []byte(sumOpen)) {
		return line, ""
	}
	body = append(append([]byte(nil), line[:len(line)-tail]...), '}')
	return body, string(line[len(line)-sumLen-2 : len(line)-2])
}

type planInfo struct {
	GatewayEUI       string `json:"gateway_eui,omitempty"`
	StateFingerprint string `json:"state_fingerprint,omitempty"`
	Changes          int    `json:"changes"`
}

// journal is the on-disk record of an apply. A nil *journal records
// nothing (no JournalDir).
type journal struct {
	dir string
	id  string // the run's journal id: every record's checksum covers it
	v   int    // format version: records of version 1 carry no checksum
	mu  sync.Mutex
	f   *os.File
	gcm cipher.AEAD
	// written counts the records written (under mu); synced, under
	// syncMu, how many of them an fsync has made durable. Steps in flight
	// share fsyncs: one covers every record written before it started.
	written int64
	syncMu  sync.Mutex
	synced  int64
}

// ID is the journal's id, also written in its begin record ("" for a nil
// journal or one of version 1).
func (j *journal) ID() string {
	if j == nil {
		return ""
	}
	return j.id
}

// createJournal starts a journal in dir: a new key, the sealed before
// state, and the begin record naming the gateway and the run, each
// fsynced, and the folder's entries synced, before the first write.
func createJournal(dir string, before *nsapi.State, p *plan.Plan, t Target) (*journal, error) {
	if dir == "" {
		return nil, nil
	}
	if err := makeJournalDir(dir); err != nil {
		return nil, err
	}
	if HasJournal(dir) {
		return nil, &JournalExistsError{Dir: dir}
	}
	if err := writeIgnore(dir); err != nil {
		return nil, fmt.Errorf("journal %s: %w", dir, err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("journal %s: key: %w", dir, err)
	}
	if err := writeFileSync(filepath.Join(dir, KeyFile), []byte(hex.EncodeToString(key)+"\n")); err != nil {
		return nil, fmt.Errorf("journal %s: %w", dir, err)
	}
	id := t.JournalID
	if id == "" {
		id = NewJournalID()
	}
	j := &journal{dir: dir, id: id, v: journalVersion}
	if err := j.initCipher(key); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(j.sealState(before), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("journal %s: before state: %w", dir, err)
	}
	if err := writeFileSync(filepath.Join(dir, BeforeFile), b); err != nil {
		return nil, fmt.Errorf("journal %s: %w", dir, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, JournalFile), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND|atomicfile.NoFollow, 0o600)
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", dir, err)
	}
	j.f = f
	eui := t.GatewayEUI
	if eui == "" {
		eui = p.GatewayEUI
	}
	sum := sha256.Sum256(b)
	info := &planInfo{GatewayEUI: p.GatewayEUI, StateFingerprint: p.StateFingerprint, Changes: len(p.Changes)}
	begin := record{T: "begin", V: journalVersion, JournalID: id, Gateway: strings.ToUpper(eui), Broker: brokerWithoutCredentials(t.Broker),
		BeforeSum: hex.EncodeToString(sum[:]), Time: time.Now().UTC().Format(time.RFC3339), Before: BeforeFile, PID: os.Getpid(), Plan: info}
	if err := j.append(begin, true); err != nil {
		f.Close()
		return nil, err
	}
	if err := atomicfile.SyncDir(dir); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal %s: %w", dir, err)
	}
	return j, nil
}

// makeJournalDir makes dir if it is missing (and syncs its parent) and
// checks that it is a folder of its own, not a link: gwsync never writes
// or reads its journal through a symbolic link, which a checkout could
// carry to make it overwrite any file the user can write.
func makeJournalDir(dir string) error {
	st, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("journal %s: %w", dir, err)
		}
		if err := atomicfile.SyncDir(filepath.Dir(dir)); err != nil {
			return fmt.Errorf("journal %s: %w", dir, err)
		}
		st, err = os.Lstat(dir)
	}
	if err != nil {
		return fmt.Errorf("journal %s: %w", dir, err)
	}
	return checkJournalDir(dir, st)
}

// CheckJournalDir says whether dir may hold gwsync's files: nil when it
// is missing or a folder of its own, an error when it is a symbolic link
// or not a folder. Whatever reads or writes in .gwsync/ checks it first.
func CheckJournalDir(dir string) error {
	st, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("journal %s: %w", dir, err)
	}
	return checkJournalDir(dir, st)
}

func checkJournalDir(dir string, st fs.FileInfo) error {
	if st.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("journal %s: is a symbolic link: gwsync never writes or reads its journal through a link (a checkout may carry one to redirect the writes); remove the link", dir)
	}
	if !st.IsDir() {
		return fmt.Errorf("journal %s: not a folder", dir)
	}
	return nil
}

// Size caps of the journal's files: a file beyond them is not gwsync's.
const (
	maxKeyFile     = 4 << 10
	maxBeforeFile  = 512 << 20
	maxJournalFile = 2 << 30
	maxRecord      = 256 << 20
)

// openPrivate opens one of the journal's files for reading: a regular
// file, never through a link, at most max bytes; the key file must be
// private (see checkPrivate).
func openPrivate(dir, name string, max int64) (*os.File, error) {
	path := filepath.Join(dir, name)
	if st, err := os.Lstat(path); err != nil {
		return nil, err
	} else if st.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("%s is a symbolic link: gwsync never reads its journal through a link; remove the link", name)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|atomicfile.NoFollow, 0)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	switch {
	case err != nil:
	case !st.Mode().IsRegular():
		err = fmt.Errorf("%s is not a regular file", name)
	case st.Size() > max:
		err = fmt.Errorf("%s is %d bytes, more than the %d a journal file holds: not gwsync's", name, st.Size(), max)
	case name == KeyFile:
		err = checkPrivate(name, st)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func readPrivate(dir, name string, max int64) ([]byte, error) {
	f, err := openPrivate(dir, name, max)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, max))
}

// journalRead is an existing journal, opened.
type journalRead struct {
	j      *journal
	before *nsapi.State
	recs   []record
	info   JournalInfo
	// skipped are the damaged records passed over (skipCorrupt only).
	skipped   []*CorruptJournalError
	beforeSum string
}

// openJournal opens an existing journal for a rollback: its key, its
// before state (unsealed) and its records, each checked. A damaged record
// (one that does not parse or fails its checksum, but the last line cut
// short by a crash) is a *CorruptJournalError, or with skipCorrupt is
// passed over and listed.
func openJournal(dir string, skipCorrupt bool) (*journalRead, error) {
	if !HasJournal(dir) {
		return nil, fmt.Errorf("journal %s: %w", dir, ErrNoJournal)
	}
	st, err := os.Lstat(dir)
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", dir, err)
	}
	if err := checkJournalDir(dir, st); err != nil {
		return nil, err
	}
	kb, err := readPrivate(dir, KeyFile, maxKeyFile)
	if err != nil {
		return nil, fmt.Errorf("journal %s: key: %w", dir, err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(kb)))
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("journal %s: key file %s is damaged", dir, KeyFile)
	}
	j := &journal{dir: dir}
	if err := j.initCipher(key); err != nil {
		return nil, err
	}
	f, err := openPrivate(dir, JournalFile, maxJournalFile)
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", dir, err)
	}
	jr := &journalRead{j: j}
	err = jr.readRecords(f, dir, skipCorrupt)
	f.Close()
	if err != nil {
		return nil, err
	}
	bb, err := readPrivate(dir, BeforeFile, maxBeforeFile)
	if err != nil {
		return nil, fmt.Errorf("journal %s: before state: %w", dir, err)
	}
	if want := jr.beforeSum; want != "" {
		if got := sha256.Sum256(bb); hex.EncodeToString(got[:]) != want {
			return nil, fmt.Errorf("journal %s: before state %s does not match the checksum in the journal: it is damaged, and a rollback cannot know what to restore; end the journal with --abandon", dir, BeforeFile)
		}
	}
	var before nsapi.State
	if err := json.Unmarshal(bb, &before); err != nil {
		return nil, fmt.Errorf("journal %s: before state %s: %w", dir, BeforeFile, err)
	}
	if err := j.unsealState(&before); err != nil {
		return nil, err
	}
	jr.before = &before
	af, err := os.OpenFile(filepath.Join(dir, JournalFile), os.O_WRONLY|os.O_APPEND|atomicfile.NoFollow, 0o600)
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", dir, err)
	}
	j.f = af
	return jr, nil
}

// readRecords reads and checks the journal's lines. The first is the
// begin record; from version 2 on it names the run and every line carries
// its checksum.
func (jr *journalRead) readRecords(f io.Reader, dir string, skipCorrupt bool) error {
	j := jr.j
	file := filepath.Join(dir, JournalFile)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), maxRecord)
	var lines [][]byte
	for sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("journal %s: %w", file, err)
	}
	// A crash may cut the last line short (or leave zeros after it): it is
	// ignored. Nothing else is.
	for len(lines) > 0 && len(bytes.Trim(lines[len(lines)-1], "\x00 \t\r")) == 0 {
		lines = lines[:len(lines)-1]
	}
	cutShort := func(i int) bool {
		if i != len(lines)-1 {
			return false
		}
		var r record
		return json.Unmarshal(lines[i], &r) != nil
	}
	for i, line := range lines {
		n := i + 1
		bad := func(why string) error {
			ce := &CorruptJournalError{File: file, Line: n, Why: why}
			if !skipCorrupt || i == 0 {
				return ce
			}
			jr.skipped = append(jr.skipped, ce)
			return nil
		}
		if cutShort(i) {
			break
		}
		body, sum := unframe(line)
		if i == 0 {
			var r record
			if err := json.Unmarshal(body, &r); err != nil || r.T != "begin" {
				return bad("the first record is not the apply's begin record")
			}
			j.v, j.id = max(r.V, 1), r.JournalID
			if j.v >= 2 && (j.id == "" || sum == "" || recordSum(j.id, body) != sum) {
				return bad("the begin record does not match its checksum")
			}
			if j.v > journalVersion {
				return fmt.Errorf("journal %s: format version %d, newer than this gwsync knows (%d): roll back with the gwsync that wrote it", file, j.v, journalVersion)
			}
			jr.info = JournalInfo{ID: r.JournalID, GatewayEUI: r.Gateway, Broker: r.Broker, Started: r.Time, PID: r.PID, Version: j.v}
			if jr.info.GatewayEUI == "" && r.Plan != nil {
				jr.info.GatewayEUI = strings.ToUpper(r.Plan.GatewayEUI) // version 1
			}
			jr.beforeSum = r.BeforeSum
		} else if j.v >= 2 {
			if sum == "" {
				if err := bad("no checksum"); err != nil {
					return err
				}
				continue
			}
			if recordSum(j.id, body) != sum {
				if err := bad("the checksum does not match: the line was changed, or comes from another journal"); err != nil {
					return err
				}
				continue
			}
		}
		var r record
		if err := json.Unmarshal(body, &r); err != nil {
			if err := bad("not a JSON record: " + err.Error()); err != nil {
				return err
			}
			continue
		}
		if err := j.unsealRecord(&r); err != nil {
			if err := bad(err.Error()); err != nil {
				return err
			}
			continue
		}
		jr.recs = append(jr.recs, r)
	}
	if len(jr.recs) == 0 && !skipCorrupt {
		// Every write is preceded by the begin record, fsynced: without
		// it, the apply stopped before its first write.
		return &CorruptJournalError{File: file, Line: 1, Why: "no begin record: the apply stopped before its first write"}
	}
	return nil
}

func (j *journal) unsealRecord(r *record) error {
	if r.Effect != nil {
		if err := j.unsealEffect(r.Effect); err != nil {
			return err
		}
	}
	for _, p := range secretFields(r.Target) {
		v, err := j.unseal(*p)
		if err != nil {
			return fmt.Errorf("undo target: %w", err)
		}
		*p = v
	}
	return nil
}

// ReadJournalInfo reads what the begin record of the journal in dir says
// of its run: its id, gateway and broker (to compare with a record of the
// run kept elsewhere), without opening the rest.
func ReadJournalInfo(dir string) (*JournalInfo, error) {
	if !HasJournal(dir) {
		return nil, fmt.Errorf("journal %s: %w", dir, ErrNoJournal)
	}
	f, err := openPrivate(dir, JournalFile, maxJournalFile)
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", dir, err)
	}
	defer f.Close()
	line, err := bufio.NewReaderSize(f, 64<<10).ReadBytes('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("journal %s: %w", dir, err)
	}
	jr := &journalRead{j: &journal{dir: dir}}
	if err := jr.readRecords(bytes.NewReader(line), dir, false); err != nil {
		return nil, err
	}
	return &jr.info, nil
}

func (j *journal) initCipher(key []byte) error {
	block, err := aes.NewCipher(key)
	if err != nil {
		return fmt.Errorf("journal %s: cipher: %w", j.dir, err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return fmt.Errorf("journal %s: cipher: %w", j.dir, err)
	}
	j.gcm = gcm
	return nil
}

// append writes one record; sync makes it durable before returning (used
// for every record that precedes a write on the gateway).
func (j *journal) append(r record, sync bool) error {
	if j == nil {
		return nil
	}
	if r.Effect != nil {
		r.Effect = j.sealEffect(r.Effect)
	}
	if r.Target != nil {
		r.Target = copyObject(r.Target)
		for _, p := range secretFields(r.Target) {
			*p = j.seal(*p)
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("journal %s: %w", j.dir, err)
	}
	if j.v >= 2 {
		b = frame(j.id, b)
	} else {
		b = append(b, '\n')
	}
	j.mu.Lock()
	f := j.f
	if f == nil {
		j.mu.Unlock()
		return fmt.Errorf("journal %s: closed", j.dir)
	}
	if _, err := f.Write(b); err != nil {
		j.mu.Unlock()
		return fmt.Errorf("journal %s: %w", j.dir, err)
	}
	j.written++
	mine := j.written
	j.mu.Unlock()
	if !sync {
		return nil
	}
	// Group commit: the first to get here syncs everything written so
	// far; the others find their record already durable.
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	if j.synced >= mine {
		return nil
	}
	j.mu.Lock()
	upTo := j.written
	j.mu.Unlock()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("journal %s: %w", j.dir, err)
	}
	j.synced = upTo
	return nil
}

// close closes the journal file and keeps the journal.
func (j *journal) close() {
	if j == nil {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f != nil {
		j.f.Close()
		j.f = nil
	}
}

// finish ends the journal and removes its files: the apply or rollback is
// complete.
func (j *journal) finish() error {
	if j == nil {
		return nil
	}
	j.close()
	var errs []error
	for _, name := range []string{JournalFile, BeforeFile, KeyFile, RollbacksFile} {
		if err := os.Remove(filepath.Join(j.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if ents, err := os.ReadDir(j.dir); err == nil && len(ents) == 1 && ents[0].Name() == ignoreFile {
		_ = os.Remove(filepath.Join(j.dir, ignoreFile)) // nothing left to keep out of git
	}
	// The removal must survive a crash: a journal that came back would
	// make the next rollback undo a finished apply.
	if err := atomicfile.SyncDir(j.dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	if os.Remove(j.dir) == nil { // only when empty
		_ = atomicfile.SyncDir(filepath.Dir(j.dir))
	}
	if len(errs) > 0 {
		return fmt.Errorf("journal %s: remove: %w", j.dir, errors.Join(errs...))
	}
	return nil
}

func (j *journal) seal(v string) string {
	if v == "" || strings.HasPrefix(v, sealedPrefix) {
		return v
	}
	nonce := make([]byte, j.gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		// crypto/rand does not fail on supported platforms; never fall back to clear text.
		return sealedPrefix + "unsealable"
	}
	out := j.gcm.Seal(nonce, nonce, []byte(v), nil)
	return sealedPrefix + base64.StdEncoding.EncodeToString(out)
}

func (j *journal) unseal(v string) (string, error) {
	if !strings.HasPrefix(v, sealedPrefix) {
		return v, nil
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(v, sealedPrefix))
	ns := j.gcm.NonceSize()
	if err != nil || len(raw) < ns {
		return "", errors.New("sealed secret is damaged")
	}
	out, err := j.gcm.Open(nil, raw[:ns], raw[ns:], nil)
	if err != nil {
		return "", errors.New("sealed secret does not open with the journal key")
	}
	return string(out), nil
}

// secretFields returns pointers to the secret fields of an object's copy.
func secretFields(o *plan.Object) []*string {
	var out []*string
	if o == nil {
		return nil
	}
	if d := o.Device; d != nil {
		out = append(out, &d.AppKey, &d.NwkSKey, &d.AppSKey)
	}
	if g := o.Group; g != nil {
		out = append(out, &g.McNwkSKey, &g.McAppSKey)
	}
	return out
}

// copyObject copies an object deeply enough that its secret fields can be
// replaced without touching the original.
func copyObject(o *plan.Object) *plan.Object {
	if o == nil {
		return nil
	}
	c := *o
	if o.Device != nil {
		d := *o.Device
		c.Device = &d
	}
	if o.Group != nil {
		g := *o.Group
		c.Group = &g
	}
	if o.Profile != nil {
		p := *o.Profile
		c.Profile = &p
	}
	if o.Codec != nil {
		k := *o.Codec
		c.Codec = &k
	}
	if o.Member != nil {
		m := *o.Member
		c.Member = &m
	}
	if o.Task != nil {
		t := *o.Task
		c.Task = &t
	}
	return &c
}

func (j *journal) sealEffect(e *effect) *effect {
	c := *e
	c.Before, c.After = copyObject(e.Before), copyObject(e.After)
	for _, o := range []*plan.Object{c.Before, c.After} {
		for _, p := range secretFields(o) {
			*p = j.seal(*p)
		}
	}
	return &c
}

func (j *journal) unsealEffect(e *effect) error {
	for _, o := range []*plan.Object{e.Before, e.After} {
		for _, p := range secretFields(o) {
			v, err := j.unseal(*p)
			if err != nil {
				return fmt.Errorf("%s: %w", e.Address, err)
			}
			*p = v
		}
	}
	return nil
}

func (j *journal) sealState(s *nsapi.State) *nsapi.State {
	c := *s
	c.Devices = append([]nsapi.Device(nil), s.Devices...)
	for i := range c.Devices {
		d := &c.Devices[i]
		d.AppKey, d.NwkSKey, d.AppSKey = j.seal(d.AppKey), j.seal(d.NwkSKey), j.seal(d.AppSKey)
	}
	c.Groups = append([]nsapi.MulticastGroupInfo(nil), s.Groups...)
	for i := range c.Groups {
		g := &c.Groups[i]
		g.McNwkSKey, g.McAppSKey = j.seal(g.McNwkSKey), j.seal(g.McAppSKey)
	}
	return &c
}

func (j *journal) unsealState(s *nsapi.State) error {
	for i := range s.Devices {
		d := &s.Devices[i]
		for _, p := range []*string{&d.AppKey, &d.NwkSKey, &d.AppSKey} {
			v, err := j.unseal(*p)
			if err != nil {
				return fmt.Errorf("journal %s: before state: device %s: %w", j.dir, d.DevEUI, err)
			}
			*p = v
		}
	}
	for i := range s.Groups {
		g := &s.Groups[i]
		for _, p := range []*string{&g.McNwkSKey, &g.McAppSKey} {
			v, err := j.unseal(*p)
			if err != nil {
				return fmt.Errorf("journal %s: before state: multicast group %s: %w", j.dir, g.Name, err)
			}
			*p = v
		}
	}
	return nil
}

// writeFileSync writes a 0600 file, never through a link, and fsyncs it;
// the caller syncs the folder.
func writeFileSync(path string, b []byte) error {
	if st, err := os.Lstat(path); err == nil && !st.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file (a link?): gwsync never writes its journal through a link; remove it", filepath.Base(path))
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|atomicfile.NoFollow, 0o600)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
