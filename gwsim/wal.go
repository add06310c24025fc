package gwsim

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/gwsync/gwsync/internal/atomicfile"
)

// The state file is kept without rewriting it on every write: each write
// appends what it changed (the records it put, the ones it deleted) as one
// JSON line to a log beside the state file, PATH.log, before the answer
// goes out. The log is replayed on open and compacted into the state file
// (written whole, atomically, then the log is removed) on Close and when it
// has grown past the state file's size, so the cost of saving stays linear
// in the number of writes.
//
// Crash safety: a log line is handed to the kernel with one write(2) before
// the gateway answers, so a write acknowledged to a client survives a
// SIGKILL of the process (the data is in the page cache, not in the
// process). It is not fsynced per write: a power cut may lose the last
// writes since the last compaction (which is fsynced). A simulated gateway
// guards against a killed process, not a lost machine, and an fsync per
// write would make it measure the disk instead of the protocol.
//
// The log's first line names the state file it applies to by the SHA-256
// of its bytes. A crash between writing a compacted state file and
// removing the log leaves a log whose base no longer matches: it is
// ignored, never replayed twice. A last line cut short (a write(2) that the
// kill interrupted, never acknowledged) is ignored too.

// logSuffix is appended to the state file's path to name its log.
const logSuffix = ".log"

// minCompactBytes is the log size below which it is never compacted
// before Close (a variable for tests).
var minCompactBytes int64 = 4 << 20

// logHeader is the log's first line.
type logHeader struct {
	Log  int    `json:"gwsimLog"` // format version, 1
	Base string `json:"base"`     // SHA-256 (hex) of the state file it applies to
}

// change is one log line's entry: a record put (replaced in place when its
// key is held, appended when not), a record deleted, or the gateway's
// counters and applications.
type change struct {
	Put  string          `json:"put,omitempty"`  // kind of the record in Rec
	Del  string          `json:"del,omitempty"`  // kind of the record Key names
	Key  string          `json:"key,omitempty"`  // for Del
	Rec  json.RawMessage `json:"rec,omitempty"`  // for Put
	Meta *metaRec        `json:"meta,omitempty"` // counters, applications, failing devices
}

// metaRec is the state's fields that are not records of a kind.
type metaRec struct {
	Applications []appRec `json:"applications"`
	NextCodecID  int64    `json:"nextCodecID"`
	NextTaskID   int64    `json:"nextTaskID"`
	FailDevices  []string `json:"failFuotaDevices"`
}

// Record kinds in the log.
const (
	kindDevice  = "device"
	kindProfile = "profile"
	kindGroup   = "group"
	kindCodec   = "codec"
	kindTask    = "task"
)

// ---- recording (callers hold g.mu) ----

// put records that rec (of kind) was added or changed.
func (st *state) put(kind string, rec any) {
	b, err := json.Marshal(rec)
	if err != nil { // a time outside years 0-9999: the write is not saved
		st.changeErr = errors.Join(st.changeErr, fmt.Errorf("%s record: %w", kind, err))
		return
	}
	st.changes = append(st.changes, change{Put: kind, Rec: b})
}

// del records that the record of kind with key was deleted.
func (st *state) del(kind, key string) {
	st.changes = append(st.changes, change{Del: kind, Key: key})
}

// putMeta records the counters, applications and failing devices.
func (st *state) putMeta() {
	st.changes = append(st.changes, change{Meta: &metaRec{
		Applications: st.Applications, NextCodecID: st.NextCodecID,
		NextTaskID: st.NextTaskID, FailDevices: st.FailDevices,
	}})
}

func (st *state) putDevice(d *devRec)   { st.put(kindDevice, d) }
func (st *state) putProfile(p *profRec) { st.put(kindProfile, p) }
func (st *state) putGroup(gr *groupRec) { st.put(kindGroup, gr) }
func (st *state) putCodec(c *codecRec)  { st.put(kindCodec, c) }
func (st *state) putTask(t *taskRec)    { st.put(kindTask, t) }
func taskKey(id int64) string           { return strconv.FormatInt(id, 10) }
func deviceKey(eui string) string       { return strings.ToUpper(eui) }
func (st *state) delTask(t *taskRec)    { st.del(kindTask, taskKey(t.ID)) }
func (st *state) delDevice(d *devRec)   { st.del(kindDevice, deviceKey(d.DevEUI)) }
func (st *state) delProfile(p *profRec) { st.del(kindProfile, p.ID) }
func (st *state) delGroup(gr *groupRec) { st.del(kindGroup, gr.ID) }
func (st *state) delCodec(c *codecRec)  { st.del(kindCodec, c.ID) }

// ---- replay ----

// apply replays one change on st (indexed).
func (st *state) apply(c change) error {
	switch {
	case c.Meta != nil:
		st.Applications = c.Meta.Applications
		st.NextCodecID = c.Meta.NextCodecID
		st.NextTaskID = c.Meta.NextTaskID
		st.FailDevices = c.Meta.FailDevices
		return nil
	case c.Put != "":
		return st.applyPut(c.Put, c.Rec)
	case c.Del != "":
		return st.applyDel(c.Del, c.Key)
	}
	return errors.New("empty entry")
}

func (st *state) applyPut(kind string, raw json.RawMessage) error {
	switch kind {
	case kindDevice:
		d := &devRec{}
		if err := json.Unmarshal(raw, d); err != nil {
			return err
		}
		if cur := st.device(d.DevEUI); cur != nil {
			old := cur.Name
			*cur = *d
			st.renameDevice(cur, old)
			return nil
		}
		st.addDevice(d)
	case kindProfile:
		p := &profRec{}
		if err := json.Unmarshal(raw, p); err != nil {
			return err
		}
		if cur := st.profile(p.ID); cur != nil {
			*cur = *p
			return nil
		}
		st.Profiles = append(st.Profiles, p)
		st.idx.prof[p.ID] = p
	case kindGroup:
		gr := &groupRec{}
		if err := json.Unmarshal(raw, gr); err != nil {
			return err
		}
		if cur := st.group(gr.ID); cur != nil {
			*cur = *gr
			return nil
		}
		st.Groups = append(st.Groups, gr)
		st.idx.group[gr.ID] = gr
	case kindCodec:
		c := &codecRec{}
		if err := json.Unmarshal(raw, c); err != nil {
			return err
		}
		if cur := st.codec(c.ID); cur != nil {
			*cur = *c
			return nil
		}
		st.Codecs = append(st.Codecs, c)
		st.idx.codec[c.ID] = c
	case kindTask:
		t := &taskRec{}
		if err := json.Unmarshal(raw, t); err != nil {
			return err
		}
		if cur := st.task(t.ID); cur != nil {
			*cur = *t
			return nil
		}
		st.Tasks = append(st.Tasks, t)
	default:
		return fmt.Errorf("unknown kind %q", kind)
	}
	return nil
}

func (st *state) applyDel(kind, key string) error {
	switch kind {
	case kindDevice:
		if d := st.device(key); d != nil {
			st.removeDevice(d)
		}
	case kindProfile:
		if p := st.profile(key); p != nil {
			st.Profiles = without(st.Profiles, p)
			delete(st.idx.prof, key)
		}
	case kindGroup:
		if gr := st.group(key); gr != nil {
			st.Groups = without(st.Groups, gr)
			delete(st.idx.group, key)
		}
	case kindCodec:
		if c := st.codec(key); c != nil {
			st.Codecs = without(st.Codecs, c)
			delete(st.idx.codec, key)
		}
	case kindTask:
		id, err := strconv.ParseInt(key, 10, 64)
		if err != nil {
			return fmt.Errorf("task key %q: %w", key, err)
		}
		if t := st.task(id); t != nil {
			st.Tasks = without(st.Tasks, t)
		}
	default:
		return fmt.Errorf("unknown kind %q", kind)
	}
	return nil
}

// logPath is the log of the state file path.
func logPath(path string) string { return path + logSuffix }

// digest is the log header's name for state file bytes.
func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// replayLog applies the log of the state file path, whose bytes are base,
// to st (indexed). It reports how many entries it applied; a missing log,
// or one written for other state file bytes, applies none.
func replayLog(path string, base []byte, st *state) (int, error) {
	f, err := os.Open(logPath(path))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("state log: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<16)
	line, complete, err := readLine(r)
	if err != nil || !complete {
		return 0, nil // empty, or a header cut short: nothing was acknowledged
	}
	var h logHeader
	if err := json.Unmarshal(line, &h); err != nil || h.Log != 1 {
		return 0, fmt.Errorf("state log %s: not a gwsim state log", logPath(path))
	}
	if h.Base != digest(base) {
		return 0, nil // written for an earlier state file: already in it
	}
	n := 0
	for lineNo := 2; ; lineNo++ {
		line, complete, err := readLine(r)
		if err != nil {
			return n, fmt.Errorf("state log %s: %w", logPath(path), err)
		}
		if line == nil || !complete {
			return n, nil // the end, or a last line the kill cut short
		}
		var cs []change
		if err := json.Unmarshal(line, &cs); err != nil {
			return n, fmt.Errorf("state log %s: line %d: %w", logPath(path), lineNo, err)
		}
		for _, c := range cs {
			if err := st.apply(c); err != nil {
				return n, fmt.Errorf("state log %s: line %d: %w", logPath(path), lineNo, err)
			}
			n++
		}
	}
}

// readLine reads one line without its newline; complete is false for a
// last line without one. At the end it returns nil.
func readLine(r *bufio.Reader) (line []byte, complete bool, err error) {
	b, err := r.ReadBytes('\n')
	if errors.Is(err, io.EOF) {
		if len(b) == 0 {
			return nil, false, nil
		}
		return b, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return bytes.TrimSuffix(b, []byte("\n")), true, nil
}

// decodeState reads state file bytes.
func decodeState(path string, b []byte) (*state, error) {
	st := &state{}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	if st.FormatVersion != stateFormatVersion {
		return nil, fmt.Errorf("state file %s: format_version %d, want %d", path, st.FormatVersion, stateFormatVersion)
	}
	return st, nil
}

// encodeState is the state file's content for st.
func encodeState(st *state) ([]byte, error) {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// ReadStateFile returns the content of the state file path as Close would
// leave it: the file with its log (path + ".log") replayed. A process that
// ran the gateway and was killed leaves its last writes in the log; this is
// how to read every write it acknowledged without opening a Gateway. With
// no log to replay it returns the file's bytes unchanged.
func ReadStateFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("state file: %w", err)
	}
	st, err := decodeState(path, b)
	if err != nil {
		return nil, err
	}
	st.reindex()
	n, err := replayLog(path, b, st)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return b, nil
	}
	out, err := encodeState(st)
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	return out, nil
}

// ---- writing (callers hold g.mu) ----

// persistLocked saves the changes recorded since the last call: appended to
// the log, or, when there is no log yet or it has grown past the state
// file, by writing the whole state file.
func (g *Gateway) persistLocked() error {
	cs, cerr := g.st.changes, g.st.changeErr
	g.st.changes, g.st.changeErr = nil, nil
	if g.opts.StatePath == "" {
		return nil
	}
	if cerr != nil {
		return fmt.Errorf("state log %s: %w", logPath(g.opts.StatePath), cerr)
	}
	if len(cs) == 0 {
		return nil
	}
	if g.log == nil || g.logBytes > max(minCompactBytes, g.baseBytes) {
		return g.saveLocked()
	}
	b, err := json.Marshal(cs)
	if err != nil {
		return fmt.Errorf("state log %s: %w", logPath(g.opts.StatePath), err)
	}
	b = append(b, '\n')
	// One write(2): the line is in the kernel before the answer goes out.
	if _, err := g.log.Write(b); err != nil {
		g.dirty = true
		_ = g.log.Close()
		g.log = nil
		return fmt.Errorf("state log %s: %w", logPath(g.opts.StatePath), err)
	}
	g.logBytes += int64(len(b))
	return nil
}

// saveLocked writes the whole state file atomically (temporary file and
// rename, fsynced) and starts an empty log for it.
func (g *Gateway) saveLocked() error {
	g.st.changes, g.st.changeErr = nil, nil
	if g.opts.StatePath == "" {
		return nil
	}
	if g.log != nil {
		_ = g.log.Close()
		g.log = nil
	}
	b, err := encodeState(g.st)
	if err != nil {
		return fmt.Errorf("state file %s: %w", g.opts.StatePath, err)
	}
	if err := atomicfile.Write(g.opts.StatePath, b, 0o600); err != nil {
		return fmt.Errorf("state file %s: %w", g.opts.StatePath, err)
	}
	g.dirty = false
	g.baseBytes = int64(len(b))
	// From here the old log's base no longer matches: it is never
	// replayed again, whether or not the new one gets written.
	hb, _ := json.Marshal(logHeader{Log: 1, Base: digest(b)})
	hb = append(hb, '\n')
	f, err := os.OpenFile(logPath(g.opts.StatePath), os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("state log %s: %w", logPath(g.opts.StatePath), err)
	}
	if _, err := f.Write(hb); err != nil {
		_ = f.Close()
		return fmt.Errorf("state log %s: %w", logPath(g.opts.StatePath), err)
	}
	g.log = f
	g.logBytes = int64(len(hb))
	return nil
}

// closeLogLocked compacts the log into the state file and removes it.
func (g *Gateway) closeLogLocked() error {
	if err := g.saveLocked(); err != nil {
		return err
	}
	if g.log != nil {
		_ = g.log.Close()
		g.log = nil
	}
	if err := os.Remove(logPath(g.opts.StatePath)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("state log %s: %w", logPath(g.opts.StatePath), err)
	}
	return nil
}
