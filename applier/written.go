package applier

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gwsync/gwsync/internal/atomicfile"
	"github.com/gwsync/gwsync/internal/reserved"
	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
)

// What gwsync wrote of the fields no read returns — a codec's codecJson
// and a FUOTA task's firmware file (spec 5.3, 6.2) — is known in two
// places:
//
//   - on the gateway, in the codec named reserved.StateCodec: the digests
//     (reserved.Digest) of the values last written, per codec and per task
//     (GatewayRecord). Every machine sees it, so a plan from any checkout,
//     also a fresh clone, sees that the site changed a codecJson or a
//     firmware file. It is written by the apply that wrote the values,
//     after them and before the lock is released;
//   - in the checkout, WrittenFile: the values themselves, a local cache
//     that a rollback needs to restore an old value (a digest restores
//     nothing). A cached value counts only while its digest is the one on
//     the gateway; otherwise (another checkout wrote since) it is unknown,
//     and a rollback says it cannot restore it.

// WrittenFile, in the journal directory, caches the write-only values this
// checkout last wrote to the gateway (see above). It outlives the journal.
// It holds no secret.
const WrittenFile = "written.json"

// GatewayRecord is the record of write-only values on the gateway.
type GatewayRecord struct {
	// Run is the id of the last run that wrote to the gateway under the
	// lock (LockRecord.RunID).
	Run     string    `json:"run,omitempty"`
	Updated time.Time `json:"updated,omitzero"`
	// CodecJSON is codec name → digest of the codecJson gwsync last wrote.
	CodecJSON map[string]string `json:"codecJson"`
	// Firmware is FUOTA task name → digest of the firmware file content
	// (base64, as sent) gwsync last wrote.
	Firmware map[string]string `json:"firmware"`

	// ID is the record's server id ("" when the gateway has none).
	ID string `json:"-"`
}

// GatewayRecordOf returns the record of write-only values among a state's
// Records (nsapi.Client.ReadState), or nil when the gateway has none.
func GatewayRecordOf(records []nsapi.Codec) *GatewayRecord {
	for _, c := range records {
		if !strings.EqualFold(strings.TrimSpace(c.Name), reserved.StateCodec) {
			continue
		}
		var r GatewayRecord
		if json.Unmarshal([]byte(strings.TrimSpace(c.DecoderScript)), &r) != nil {
			r = GatewayRecord{} // damaged: known as nothing, rewritten by the next apply
		}
		if r.CodecJSON == nil {
			r.CodecJSON = map[string]string{}
		}
		if r.Firmware == nil {
			r.Firmware = map[string]string{}
		}
		r.ID = string(c.ID)
		return &r
	}
	return nil
}

// WrittenDigests returns what a plan compares the site's write-only values
// with: per codec name the digest of the codecJson gwsync last wrote, per
// FUOTA task name that of the firmware file, as the gateway's record says
// (records: nsapi.State.Records). Without a record on the gateway (no
// apply by this version yet), the values cached in dir stand in. The
// values are those of the cache whose digest is the gateway's: what a plan
// can show as the value before.
func WrittenDigests(dir, eui string, records []nsapi.Codec) (codecJSON, firmware, values map[string]string) {
	cache := readWritten(dir)
	if cache != nil && eui != "" && cache.GatewayEUI != "" && !strings.EqualFold(cache.GatewayEUI, eui) {
		cache = nil
	}
	if gr := GatewayRecordOf(records); gr != nil {
		codecJSON, firmware = gr.CodecJSON, gr.Firmware
	} else if cache != nil {
		codecJSON, firmware = map[string]string{}, map[string]string{}
		for k, v := range cache.CodecJSON {
			codecJSON[k] = reserved.Digest(v)
		}
		for k, v := range cache.Firmware {
			firmware[k] = reserved.Digest(v)
		}
	}
	if cache != nil {
		values = map[string]string{}
		for k, v := range cache.CodecJSON {
			if d, ok := codecJSON[k]; ok && d == reserved.Digest(v) {
				values[k] = v
			}
		}
	}
	return codecJSON, firmware, values
}

type writtenRecord struct {
	GatewayEUI string `json:"gateway_eui,omitempty"`
	// CodecJSON is codec name → the codecJson gwsync last wrote ("" too).
	CodecJSON map[string]string `json:"codecJson"`
	// Firmware is FUOTA task name → the firmware file (base64, as sent)
	// gwsync last wrote for a task of custom firmware: a rollback that
	// must re-create a deleted task sends it again.
	Firmware map[string]string `json:"firmware,omitempty"`
}

// written is what a runner knows of the values it cannot read back.
type written struct {
	codecJSON map[string]string // nil: no record
	firmware  map[string]string
}

func loadWritten(dir, eui string) written {
	rec := readWritten(dir)
	if rec == nil || (eui != "" && rec.GatewayEUI != "" && !strings.EqualFold(rec.GatewayEUI, eui)) {
		return written{}
	}
	return written{codecJSON: rec.CodecJSON, firmware: rec.Firmware}
}

// loadWrittenFor is loadWritten, keeping only the cached values whose
// digest is the one the gateway's record holds (records: the state's
// Records); without a record on the gateway, the cache as it is.
func loadWrittenFor(dir, eui string, records []nsapi.Codec) written {
	w := loadWritten(dir, eui)
	gr := GatewayRecordOf(records)
	if gr == nil {
		return w
	}
	keep := func(m, digests map[string]string) map[string]string {
		if m == nil {
			return nil
		}
		out := map[string]string{}
		for k, v := range m {
			if d, ok := digests[k]; ok && d == reserved.Digest(v) {
				out[k] = v
			}
		}
		return out
	}
	return written{codecJSON: keep(w.codecJSON, gr.CodecJSON), firmware: keep(w.firmware, gr.Firmware)}
}

// WrittenCodecJSON returns, from dir's cache, the codecJson this checkout
// last wrote for each codec of the gateway eui (any gateway when eui is
// ""), or nil when there is no cache. Plans use WrittenDigests.
func WrittenCodecJSON(dir, eui string) map[string]string {
	rec := readWritten(dir)
	if rec == nil || (eui != "" && rec.GatewayEUI != "" && !strings.EqualFold(rec.GatewayEUI, eui)) {
		return nil
	}
	return rec.CodecJSON
}

func readWritten(dir string) *writtenRecord {
	if dir == "" {
		return nil
	}
	if CheckJournalDir(dir) != nil {
		return nil
	}
	b, err := readPrivate(dir, WrittenFile, maxBeforeFile) // never through a link
	if err != nil {
		return nil
	}
	var rec writtenRecord
	if json.Unmarshal(b, &rec) != nil || rec.CodecJSON == nil {
		return nil
	}
	return &rec
}

// recordWritten folds the effects that took effect into dir's record.
func recordWritten(dir, eui string, effects []*effect) error {
	if dir == "" {
		return nil
	}
	rec := readWritten(dir)
	if rec == nil || (eui != "" && rec.GatewayEUI != "" && !strings.EqualFold(rec.GatewayEUI, eui)) {
		rec = &writtenRecord{CodecJSON: map[string]string{}}
	}
	if eui != "" {
		rec.GatewayEUI = strings.ToUpper(eui)
	}
	sorted := append([]*effect(nil), effects...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].N < sorted[j].N })
	prev := maps.Clone(rec.CodecJSON)
	if rec.Firmware == nil {
		rec.Firmware = map[string]string{}
	}
	changed := false
	for _, e := range sorted {
		if e.Kind == plan.KindTask && e.state == effDone {
			changed = recordFirmware(rec, e) || changed
			continue
		}
		if e.Kind != plan.KindCodec || e.state != effDone {
			continue
		}
		if e.Before != nil && e.Before.Codec != nil && (e.Op == opDelete || e.Op == opUpdate) {
			delete(rec.CodecJSON, e.Before.Codec.Name)
			changed = true
		}
		if e.After != nil && e.After.Codec != nil {
			if v, ok := writtenCodecJSON(e); ok {
				rec.CodecJSON[e.After.Codec.Name] = v
				changed = true
			} else if e.Op == opUpdate && e.Before != nil && e.Before.Codec != nil {
				if old, had := prev[e.Before.Codec.Name]; had { // not sent: the gateway keeps it
					rec.CodecJSON[e.After.Codec.Name] = old
				}
			}
		}
	}
	if !changed {
		return nil
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	if err := writeIgnore(dir); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	if err := atomicfile.Write(filepath.Join(dir, WrittenFile), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("%s: %w", WrittenFile, err)
	}
	return nil
}

// recordFirmware folds one FUOTA task write into the record.
func recordFirmware(rec *writtenRecord, e *effect) bool {
	changed := false
	if e.Before != nil && e.Before.Task != nil && (e.Op == opDelete || e.Op == opUpdate) {
		if _, ok := rec.Firmware[e.Before.Task.Name]; ok {
			delete(rec.Firmware, e.Before.Task.Name)
			changed = true
		}
	}
	if e.After != nil && e.After.Task != nil && (e.Op == opCreate || e.Op == opUpdate) {
		if fi := e.After.Task.FirmwareInfo; fi != nil && fi.FileContent != "" {
			rec.Firmware[e.After.Task.Name] = fi.FileContent
			changed = true
		}
	}
	return changed
}

// recordOnGateway folds the effects that took effect into the gateway's
// record of write-only values, and names run as the last run that wrote.
// It runs under the lock, after the writes it describes.
//
// The record as it stands is the one listed when the lock was taken
// (Lock.Seen): no other run writes it while the lock is held.
func recordOnGateway(ctx context.Context, s LockStore, l *Lock, effects []*effect) error {
	run := l.Record().RunID
	gr := GatewayRecordOf(l.Seen)
	if gr == nil {
		gr = &GatewayRecord{CodecJSON: map[string]string{}, Firmware: map[string]string{}}
	}
	prev := maps.Clone(gr.CodecJSON)
	sorted := append([]*effect(nil), effects...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].N < sorted[j].N })
	for _, e := range sorted {
		if e.state != effDone {
			continue
		}
		switch {
		case e.Kind == plan.KindCodec:
			if e.Before != nil && e.Before.Codec != nil && e.Op == opDelete {
				delete(gr.CodecJSON, e.Before.Codec.Name)
			}
			if e.After != nil && e.After.Codec != nil && (e.Op == opCreate || e.Op == opUpdate) {
				if e.Before != nil && e.Before.Codec != nil && e.Before.Codec.Name != e.After.Codec.Name {
					delete(gr.CodecJSON, e.Before.Codec.Name) // renamed
				}
				if v, ok := writtenCodecJSON(e); ok {
					gr.CodecJSON[e.After.Codec.Name] = reserved.Digest(v)
				} else if e.Op == opUpdate && e.Before != nil && e.Before.Codec != nil {
					if old, had := prev[e.Before.Codec.Name]; had {
						gr.CodecJSON[e.After.Codec.Name] = old // not sent: the gateway keeps it
					}
				}
			}
		case e.Kind == plan.KindTask:
			if e.Before != nil && e.Before.Task != nil && (e.Op == opDelete || e.Op == opUpdate) {
				delete(gr.Firmware, e.Before.Task.Name)
			}
			if e.After != nil && e.After.Task != nil && (e.Op == opCreate || e.Op == opUpdate) {
				if fi := e.After.Task.FirmwareInfo; fi != nil && fi.FileContent != "" {
					gr.Firmware[e.After.Task.Name] = reserved.Digest(fi.FileContent)
				}
			}
		}
	}
	gr.Run, gr.Updated = run, time.Now().UTC().Truncate(time.Second)
	b, err := json.Marshal(gr)
	if err != nil {
		return err
	}
	w := nsapi.CodecWrite{Name: reserved.StateCodec, DecoderScript: string(b),
		Description: "gwsync: digests of the write-only values (codecJson, firmware files) gwsync last wrote. Not a decoder."}
	if gr.ID == "" {
		if _, err := s.CreateCodec(ctx, w); err != nil {
			return fmt.Errorf("create the gateway's record of write-only values: %w", err)
		}
		return nil
	}
	if err := s.UpdateCodec(ctx, gr.ID, w); err != nil {
		return fmt.Errorf("update the gateway's record of write-only values: %w", err)
	}
	return nil
}

// writtenCodecJSON is the codecJson a create or update of a codec left on
// the gateway, when it is known: the value sent, or empty for a create
// that sent none (a new codec has none); an update that sent none left
// the one before (not known here).
func writtenCodecJSON(e *effect) (string, bool) {
	c := e.After.Codec
	switch {
	case e.Op != opCreate && e.Op != opUpdate:
		return "", false
	case c.CodecJSON != "" || c.ClearCodecJSON:
		return c.CodecJSON, true
	case e.Op == opCreate:
		return "", true
	}
	return "", false
}
