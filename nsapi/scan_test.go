package nsapi

import (
	"encoding/binary"
	"flag"
	"math/bits"
	"math/rand/v2"
	"testing"
	"time"
)

var strSeed = flag.Uint64("strseed", 0, "seed of TestStrAgrees (0: a new one)")

// ScanResponse is scanResponse for the benchmarks of package nsapi_test.
func ScanResponse(payload []byte) error {
	_, _, err := scanResponse(payload)
	return err
}

// refStr is jsonScanner.str as it was written first, one byte at a time:
// the oracle of the one that skips plain bytes eight at a time.
func (s *jsonScanner) refStr() (start, end int, escaped bool, err error) {
	start = s.i
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return 0, 0, false, errSyntax
	}
	s.i++
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return start, s.i, escaped, nil
		case c == '\\':
			escaped = true
			if s.i+1 >= len(s.b) {
				return 0, 0, false, errSyntax
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.b) {
					return 0, 0, false, errSyntax
				}
				for _, h := range s.b[s.i+2 : s.i+6] {
					if !isHexDigit(h) {
						return 0, 0, false, errSyntax
					}
				}
				s.i += 6
			default:
				return 0, 0, false, errSyntax
			}
		case c < 0x20:
			return 0, 0, false, errSyntax
		default:
			s.i++
		}
	}
	return 0, 0, false, errSyntax
}

// checkStr reads the string at i of b with str and with refStr and fails
// unless both give the same span, escape flag, error and position after.
func checkStr(t *testing.T, b []byte, i int) (ok bool) {
	t.Helper()
	got := jsonScanner{b: b, i: i}
	want := jsonScanner{b: b, i: i}
	gs, ge, gesc, gerr := got.str()
	ws, we, wesc, werr := want.refStr()
	if gs != ws || ge != we || gesc != wesc || gerr != werr || got.i != want.i {
		t.Fatalf("string at %d of %q: str gives (%d, %d, %v, %v) and stops at %d; byte by byte (%d, %d, %v, %v), stopping at %d",
			i, b, gs, ge, gesc, gerr, got.i, ws, we, wesc, werr, want.i)
	}
	return gerr == nil
}

// strGen writes random JSON strings, valid or not, around the places where
// reading eight bytes at a time could go wrong: a byte that ends the plain
// run at any place in a word, runs of every length, the end of the message
// inside a word.
type strGen struct {
	r   *rand.Rand
	buf []byte
}

func (g *strGen) pick(s ...string) string { return s[g.r.IntN(len(s))] }

// plain writes n bytes that need no look: ASCII, and sometimes bytes of
// valid or invalid UTF-8.
func (g *strGen) plain(n int) {
	for range n {
		switch g.r.IntN(10) {
		case 0:
			g.buf = append(g.buf, byte(0x80+g.r.IntN(0x80))) // invalid UTF-8 alone
		case 1:
			const chars = "é✓🙂\u2028\xef\xbf\xbd"
			g.buf = append(g.buf, chars[g.r.IntN(len(chars))]) // a part of a character
		default:
			g.buf = append(g.buf, byte(0x20+g.r.IntN(0x60))) // ASCII from the space to the DEL
		}
		if c := g.buf[len(g.buf)-1]; c == '"' || c == '\\' {
			g.buf[len(g.buf)-1] = 'x'
		}
	}
}

// special writes something that the plain run stops at.
func (g *strGen) special() {
	switch g.r.IntN(6) {
	case 0:
		g.buf = append(g.buf, byte(g.r.IntN(0x20))) // a control character
	case 1:
		g.buf = append(g.buf, g.pick(`\x`, `\u12`, `\u12G4`, `\uZZZZ`, `\`, `\u`, `\u00`, `\U0041`, `\'`, `\0`)...)
	case 2:
		g.buf = append(g.buf, '"') // the end, maybe early
	default:
		g.buf = append(g.buf, g.pick(`\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`, `\u00e9`, `\uD83D\uDE42`, `\uabcd`, `\u0000`)...)
	}
}

// message returns bytes holding a string that starts at the index
// returned (or, now and then, something else there).
func (g *strGen) message() ([]byte, int) {
	g.buf = g.buf[:0]
	pre := g.r.IntN(10)
	g.plain(pre)
	start := len(g.buf)
	if g.r.IntN(30) == 0 {
		g.buf = append(g.buf, g.pick("x", "5", "{", "'", " ", "\\")...)
	} else {
		g.buf = append(g.buf, '"')
	}
	for range g.r.IntN(5) {
		g.plain(g.r.IntN(20))
		if g.r.IntN(3) == 0 {
			g.special()
		}
	}
	g.plain(g.r.IntN(20))
	if g.r.IntN(4) != 0 {
		g.buf = append(g.buf, '"')
		g.plain(g.r.IntN(12)) // what follows the string
		g.buf = append(g.buf, g.pick("", ",", "}", `"`, `\`, "\x00")...)
	}
	if g.r.IntN(6) == 0 {
		g.buf = g.buf[:start+g.r.IntN(len(g.buf)-start+1)] // the message cut short
	}
	return append([]byte(nil), g.buf...), min(start, len(g.buf))
}

// TestStrAgrees holds str, which passes over plain bytes eight at a time,
// to the byte-by-byte reading it replaced, on random strings with escapes
// (valid or not), control characters, invalid UTF-8 and truncation.
func TestStrAgrees(t *testing.T) {
	seed := *strSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d; replay: go test ./nsapi -run TestStrAgrees -strseed %d", seed, seed)
	g := &strGen{r: rand.New(rand.NewPCG(seed, 0))}
	const n = 200000
	valid := 0
	for range n {
		b, i := g.message()
		if checkStr(t, b, i) {
			valid++
		}
	}
	t.Logf("%d of %d strings valid", valid, n)
	// Both kinds must be common, or the generator proves little.
	if valid < n/10 || valid > n*9/10 {
		t.Errorf("%d of %d strings valid: the generator is broken", valid, n)
	}
}

// TestStrEveryPlace: each byte value, at each place of a string of up to
// 24 plain bytes (so in each place of a word of eight), is read as the
// byte-by-byte reading reads it, with the string closed or cut short.
func TestStrEveryPlace(t *testing.T) {
	for n := range 25 {
		for p := range n {
			for c := range 256 {
				b := make([]byte, 0, n+8)
				b = append(b, '"')
				for k := range n {
					b = append(b, 'a'+byte(k%26))
				}
				b[1+p] = byte(c)
				checkStr(t, b, 0)
				checkStr(t, append(b, '"'), 0)
				checkStr(t, append(b, `"tail`...), 0)
				checkStr(t, append(b, `\u0041"`...), 0)
			}
		}
	}
}

// TestSpecialBytes: specialBytes is zero for a word without a byte of
// strSpecial, and otherwise marks the first one by its lowest set bit.
func TestSpecialBytes(t *testing.T) {
	check := func(w uint64) {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], w)
		first := 8
		for k, c := range b {
			if strSpecial[c] {
				first = k
				break
			}
		}
		m := specialBytes(w)
		if got := bits.TrailingZeros64(m) / 8; got != first || m&^0x8080808080808080 != 0 {
			t.Fatalf("specialBytes(% x) = %#x: first byte %d, want %d", b, m, got, first)
		}
	}
	plain := binary.LittleEndian.Uint64([]byte("abcdefgh"))
	for p := range 8 {
		for c := range 256 {
			for _, fill := range []uint64{plain, 0xffffffffffffffff, 0x2020202020202020, 0x8080808080808080, 0x5d5d5d5d5d5d5d5d} {
				check(fill&^(0xff<<(8*p)) | uint64(c)<<(8*p))
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 1))
	for range 100000 {
		check(r.Uint64())
	}
}

// FuzzStr holds str to the byte-by-byte reading on any bytes, the string
// starting at any place.
func FuzzStr(f *testing.F) {
	for _, s := range []string{`"abc"`, `"a\u00e9\"b"`, "\"a\x01\"", `"abcdefghijklmno\`, `x"`, `"\uD83D\uDE42 tail"`} {
		f.Add([]byte(s), uint(0))
	}
	f.Fuzz(func(t *testing.T, b []byte, at uint) {
		if len(b) == 0 {
			return
		}
		checkStr(t, b, int(at%uint(len(b))))
	})
}
