package site

import "testing"

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
