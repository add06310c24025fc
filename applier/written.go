package applier

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gwsync/gwsync/internal/atomicfile"
	"github.com/gwsync/gwsync/plan"
)

// WrittenFile, in the journal directory, records the write-only values
// gwsync last wrote to the gateway — a codec's codecJson and a FUOTA
// task's firmware file, which no read returns (spec 5.3, 6.2) — so that a
// rollback restores them and a plan sees when the site changes a codec's
// codecJson. It outlives the journal. It holds no secret.
const WrittenFile = "written.json"

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

// WrittenCodecJSON returns, from dir's record, the codecJson gwsync last
// wrote for each codec of the gateway eui (any gateway when eui is ""), or
// nil when there is no record: then nothing is known of it.
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
	b, err := os.ReadFile(filepath.Join(dir, WrittenFile))
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
		if e.After != nil && e.After.Codec != nil && (e.Op == opCreate || e.Op == opUpdate) {
			rec.CodecJSON[e.After.Codec.Name] = e.After.Codec.CodecJSON
			changed = true
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
