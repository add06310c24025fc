package site

import (
	"path/filepath"
	"testing"
)

// TestStartAtShape: the semantic check accepts startAt only as the spec's
// examples write it (6.1, 6.3), whatever the schema step did; the gateway
// answers 10310004 to anything else.
func TestStartAtShape(t *testing.T) {
	for v, ok := range map[string]bool{
		"2025-04-15T00:50:00.000Z":  true,
		"2025-04-15T01:13:00+01:00": true,
		"2026-12-01T02:00:00Z":      true,
		"2026-12-01 02:00:00":       false,
		"2026-12-01 02:00:00Z":      false,
		"2026-12-01t02:00:00z":      false,
		"2026-12-01T02:00:00":       false,
		"2026-12-01T02:00Z":         false,
	} {
		if got := rfc3339Shape.MatchString(v); got != ok {
			t.Errorf("startAt %q accepted %v, want %v", v, got, ok)
		}
	}
}

// TestStartAtOnTheWire: a startAt the gateway can keep is normalised at
// load to the form the spec's request examples write (UTC, milliseconds),
// whatever offset and precision the site wrote it with.
func TestStartAtOnTheWire(t *testing.T) {
	for in, want := range map[string]string{
		"2026-12-01T02:00:00Z":          "2026-12-01T02:00:00.000Z",
		"2026-12-01T03:00:00+01:00":     "2026-12-01T02:00:00.000Z",
		"2026-12-01T02:00:00.000Z":      "2026-12-01T02:00:00.000Z",
		"2026-11-30T21:30:00.000-04:30": "2026-12-01T02:00:00.000Z",
	} {
		dir := t.TempDir()
		writeTree(t, dir, map[string]string{"site.yaml": with(dev, "firmwareUpdates:", "  - name: t", "    startAt: '"+in+"'",
			"    devices: [24E124136A456465]", "    official: {model: WT201, version: v1.4}", "    fragment: {size: 40, intervalMs: 5000, redundancy: 10}")})
		s, probs := Load(Options{LookupEnv: lookup(testEnv)}, filepath.Join(dir, "site.yaml"))
		if probs.HasErrors() {
			t.Fatalf("%s: %v", in, probs)
		}
		if got := s.FirmwareUpdates[0].StartAt; got != want {
			t.Errorf("startAt %s loads as %s, want %s", in, got, want)
		}
	}
}
