package schema

import (
	"encoding/json"
	"math/rand"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestLengthsInBytes: the gateway counts names and descriptions in bytes of
// UTF-8, so a value within the limit in characters but over it in bytes is
// refused at validate time, with both counts, and reported once.
func TestLengthsInBytes(t *testing.T) {
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewSource(seed))
	runes := []rune{'a', 'Z', '7', '-', ' ', 'é', 'ß', 'ж', '中', '€', '😀'}
	fields := []struct {
		list, field string
		max         int
		rest        string
	}{
		{"devices", "name", 64, "devEUI: 24E124136A456465"},
		{"devices", "description", 1024, "devEUI: 24E124136A456465"},
		{"multicastGroups", "name", 128, "mcAddr: '12345678'"},
		{"firmwareUpdates", "name", 127, "startAt: '2026-12-01T02:00:00Z'"},
		{"firmwareUpdates", "description", 1024, "startAt: '2026-12-01T02:00:00Z'"},
		{"codecs", "name", 64, "decoderScript: x"},
		{"codecs", "description", 1024, "decoderScript: x"},
	}
	for i := 0; i < 200; i++ {
		f := fields[rng.Intn(len(fields))]
		n := f.max - 3 + rng.Intn(8) // around the limit, in characters
		var b strings.Builder
		for j := 0; j < n; j++ {
			if rng.Intn(3) == 0 {
				b.WriteRune(runes[5+rng.Intn(len(runes)-5)])
			} else {
				b.WriteRune(runes[rng.Intn(5)])
			}
		}
		v := b.String()
		q, _ := json.Marshal(v)
		src := "version: 1\n" + f.list + ":\n  - " + f.rest + "\n    " + f.field + ": " + string(q) + "\n"
		is, err := ValidateYAML(parse(t, src))
		if err != nil {
			t.Fatal(err)
		}
		path := f.list + "[0]." + f.field
		var got []string
		for _, it := range is {
			if it.Path == path {
				got = append(got, it.Message)
			}
		}
		over := len(v) > f.max
		switch {
		case over && len(got) != 1:
			t.Fatalf("seed %d: %s of %d bytes (%d characters), limit %d: issues %q, want one", seed, path, len(v), utf8.RuneCountInString(v), f.max, got)
		case !over && len(got) != 0:
			t.Fatalf("seed %d: %s of %d bytes, limit %d: issues %q, want none", seed, path, len(v), f.max, got)
		case over:
			want := LengthMessage(len(v), utf8.RuneCountInString(v), f.max)
			if got[0] != want {
				t.Fatalf("seed %d: %s: %q, want %q", seed, path, got[0], want)
			}
		}
	}
	// The issue's own example: 64 × "é" is 128 bytes.
	is, err := ValidateYAML(parse(t, "version: 1\ndevices:\n  - devEUI: 24E124136A456465\n    name: "+strings.Repeat("é", 64)+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := "4:11: devices[0].name: is 128 bytes long (64 characters), more than 64: the gateway counts bytes of UTF-8, not characters"
	if got := issuesText(is); len(got) != 1 || got[0] != want {
		t.Errorf("issues %q, want %q", got, want)
	}
}
