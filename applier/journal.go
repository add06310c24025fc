package applier

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

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

// HasJournal reports whether dir holds an unfinished apply's journal.
func HasJournal(dir string) bool {
	if dir == "" {
		return false
	}
	_, err := os.Stat(filepath.Join(dir, JournalFile))
	return err == nil
}

// record is one journal line.
type record struct {
	T      string    `json:"t"`              // begin, intent, ok, fail, undo, undone, end
	N      int       `json:"n,omitempty"`    // effect number (intent order)
	Time   string    `json:"time,omitempty"` // begin only
	Before string    `json:"before,omitempty"`
	PID    int       `json:"pid,omitempty"`
	Effect *effect   `json:"effect,omitempty"` // intent only, secrets sealed
	ID     string    `json:"id,omitempty"`     // ok: the id a create got; undone: the id a re-create got
	Plan   *planInfo `json:"plan,omitempty"`   // begin only
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

// createJournal starts a journal in dir: a new key, the sealed before
// state, and the begin record, each fsynced.
func createJournal(dir string, before *nsapi.State, p *plan.Plan) (*journal, error) {
	if dir == "" {
		return nil, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("journal %s: %w", dir, err)
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
	j := &journal{dir: dir}
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
	f, err := os.OpenFile(filepath.Join(dir, JournalFile), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", dir, err)
	}
	j.f = f
	info := &planInfo{GatewayEUI: p.GatewayEUI, StateFingerprint: p.StateFingerprint, Changes: len(p.Changes)}
	if err := j.append(record{T: "begin", Time: time.Now().UTC().Format(time.RFC3339), Before: BeforeFile, PID: os.Getpid(), Plan: info}, true); err != nil {
		f.Close()
		return nil, err
	}
	return j, nil
}

// openJournal opens an existing journal for a rollback: its key, its before
// state (unsealed) and its records.
func openJournal(dir string) (*journal, *nsapi.State, []record, error) {
	if !HasJournal(dir) {
		return nil, nil, nil, fmt.Errorf("journal %s: %w", dir, ErrNoJournal)
	}
	kb, err := os.ReadFile(filepath.Join(dir, KeyFile))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("journal %s: key: %w", dir, err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(kb)))
	if err != nil || len(key) != 32 {
		return nil, nil, nil, fmt.Errorf("journal %s: key file %s is damaged", dir, KeyFile)
	}
	j := &journal{dir: dir}
	if err := j.initCipher(key); err != nil {
		return nil, nil, nil, err
	}
	bb, err := os.ReadFile(filepath.Join(dir, BeforeFile))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("journal %s: before state: %w", dir, err)
	}
	var before nsapi.State
	if err := json.Unmarshal(bb, &before); err != nil {
		return nil, nil, nil, fmt.Errorf("journal %s: before state %s: %w", dir, BeforeFile, err)
	}
	if err := j.unsealState(&before); err != nil {
		return nil, nil, nil, err
	}
	f, err := os.Open(filepath.Join(dir, JournalFile))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("journal %s: %w", dir, err)
	}
	var recs []record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	line := 0
	for sc.Scan() {
		line++
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			// A crash may cut the last line short; anything before it is whole.
			break
		}
		if r.Effect != nil {
			if err := j.unsealEffect(r.Effect); err != nil {
				f.Close()
				return nil, nil, nil, fmt.Errorf("journal %s line %d: %w", dir, line, err)
			}
		}
		recs = append(recs, r)
	}
	f.Close()
	if err := sc.Err(); err != nil {
		return nil, nil, nil, fmt.Errorf("journal %s: %w", dir, err)
	}
	af, err := os.OpenFile(filepath.Join(dir, JournalFile), os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("journal %s: %w", dir, err)
	}
	j.f = af
	return j, &before, recs, nil
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
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("journal %s: %w", j.dir, err)
	}
	b = append(b, '\n')
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
	for _, name := range []string{JournalFile, BeforeFile, KeyFile} {
		if err := os.Remove(filepath.Join(j.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if ents, err := os.ReadDir(j.dir); err == nil && len(ents) == 1 && ents[0].Name() == ignoreFile {
		_ = os.Remove(filepath.Join(j.dir, ignoreFile)) // nothing left to keep out of git
	}
	_ = os.Remove(j.dir) // only when empty
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

// writeFileSync writes a new 0600 file and fsyncs it.
func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
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
