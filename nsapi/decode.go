package nsapi

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
)

// A response is read in one scan of the message: the envelope's fields,
// where the body lies in it and, when the body is an object, its "code" and
// "error" members (an error answer) — then the body is decoded once into the
// caller's type. Before, the envelope, the body and every device of a page
// were scanned and validated again at each layer (7–8 passes over a page).

// bodyStatus is what the scan of a response learnt about its body.
type bodyStatus struct {
	code    []byte // the raw value of the body's "code" member, nil when none
	errText []byte // the raw value of its "error" member, nil when none
}

// maxDepth is the deepest nesting the scanner accepts (encoding/json's own
// limit).
const maxDepth = 10000

var errSyntax = errors.New("invalid JSON")

// jsonScanner checks and walks JSON without decoding it.
type jsonScanner struct {
	b     []byte
	i     int
	depth int
}

func (s *jsonScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// str checks the string at s.i and returns its span, quotes included, and
// whether it holds an escape. It passes over the bytes that need no look
// (all but those of strSpecial) eight at a time, and the last few of the
// message one by one.
func (s *jsonScanner) str() (start, end int, escaped bool, err error) {
	start = s.i
	b := s.b
	if start >= len(b) || b[start] != '"' {
		return 0, 0, false, errSyntax
	}
	i := start + 1
	for {
		for i+8 <= len(b) {
			if m := specialBytes(binary.LittleEndian.Uint64(b[i:])); m != 0 {
				i += bits.TrailingZeros64(m) / 8
				break
			}
			i += 8
		}
		for i < len(b) && !strSpecial[b[i]] {
			i++
		}
		if i >= len(b) {
			s.i = i
			return 0, 0, false, errSyntax
		}
		switch c := b[i]; {
		case c == '"':
			s.i = i + 1
			return start, s.i, escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(b) {
				s.i = i
				return 0, 0, false, errSyntax
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHexDigit(b[i+2]) || !isHexDigit(b[i+3]) || !isHexDigit(b[i+4]) || !isHexDigit(b[i+5]) {
					s.i = i
					return 0, 0, false, errSyntax
				}
				i += 6
			default:
				s.i = i
				return 0, 0, false, errSyntax
			}
		default: // a control character
			s.i = i
			return 0, 0, false, errSyntax
		}
	}
}

// strSpecial holds the bytes that end the plain run of a string: the
// quote, the backslash and the control characters (invalid in a string).
var strSpecial = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// specialBytes marks, in the eight bytes of w (the first in the low bits),
// those of strSpecial: it is zero when w holds none of them, and otherwise
// its lowest set bit is the high bit of the first of them. (Bytes after
// that one may be marked wrongly, through the borrow.)
func specialBytes(w uint64) uint64 {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	quote := w ^ ('"' * ones)
	backslash := w ^ ('\\' * ones)
	// A byte x below n (n ≤ 0x80) has its high bit set in x - n and clear
	// in x; a byte that is zero is a byte below 1.
	return ((quote-ones)&^quote | (backslash-ones)&^backslash | (w-0x20*ones)&^w) & highs
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func (s *jsonScanner) number() error {
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.i < len(s.b) && '1' <= s.b[s.i] && s.b[s.i] <= '9':
		for s.i < len(s.b) && isDigit(s.b[s.i]) {
			s.i++
		}
	default:
		return errSyntax
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.i >= len(s.b) || !isDigit(s.b[s.i]) {
			return errSyntax
		}
		for s.i < len(s.b) && isDigit(s.b[s.i]) {
			s.i++
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.i >= len(s.b) || !isDigit(s.b[s.i]) {
			return errSyntax
		}
		for s.i < len(s.b) && isDigit(s.b[s.i]) {
			s.i++
		}
	}
	return nil
}

func (s *jsonScanner) literal(word string) error {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return errSyntax
	}
	s.i += len(word)
	return nil
}

// value checks the value at s.i (after white space) and returns its span.
func (s *jsonScanner) value() (start, end int, err error) {
	s.ws()
	start = s.i
	if s.i >= len(s.b) {
		return 0, 0, errSyntax
	}
	switch c := s.b[s.i]; {
	case c == '{':
		err = s.members(func([]byte, bool) error { _, _, err := s.value(); return err })
	case c == '[':
		err = s.elements()
	case c == '"':
		_, _, _, err = s.str()
	case c == 't':
		err = s.literal("true")
	case c == 'f':
		err = s.literal("false")
	case c == 'n':
		err = s.literal("null")
	default:
		err = s.number()
	}
	if err != nil {
		return 0, 0, err
	}
	return start, s.i, nil
}

// members walks the object at s.i: for each member it reads the key (raw,
// without quotes; escaped tells whether it holds an escape) and calls each,
// which must consume the value.
func (s *jsonScanner) members(each func(key []byte, escaped bool) error) error {
	if s.depth++; s.depth > maxDepth {
		return errSyntax
	}
	defer func() { s.depth-- }()
	s.i++ // '{'
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return nil
	}
	for {
		s.ws()
		ks, ke, esc, err := s.str()
		if err != nil {
			return err
		}
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return errSyntax
		}
		s.i++
		if err := each(s.b[ks+1:ke-1], esc); err != nil {
			return err
		}
		if done, err := s.sep('}'); done || err != nil {
			return err
		}
	}
}

func (s *jsonScanner) elements() error {
	if s.depth++; s.depth > maxDepth {
		return errSyntax
	}
	defer func() { s.depth-- }()
	s.i++ // '['
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return nil
	}
	for {
		if _, _, err := s.value(); err != nil {
			return err
		}
		if done, err := s.sep(']'); done || err != nil {
			return err
		}
	}
}

// sep reads what follows a member or an element: a ',' (more follow) or
// closing (the end: done).
func (s *jsonScanner) sep(closing byte) (done bool, err error) {
	s.ws()
	if s.i >= len(s.b) {
		return false, errSyntax
	}
	switch s.b[s.i] {
	case ',':
		s.i++
		return false, nil
	case closing:
		s.i++
		return true, nil
	}
	return false, errSyntax
}

// keyIs reports whether a raw key is name; escaped keys are unquoted first.
func keyIs(key []byte, escaped bool, name string) bool {
	if !escaped {
		return string(key) == name
	}
	var k string
	q := make([]byte, 0, len(key)+2)
	q = append(append(append(q, '"'), key...), '"')
	return json.Unmarshal(q, &k) == nil && k == name
}

// keyFolds is keyIs without regard to case, as encoding/json matches a
// struct field.
func keyFolds(key []byte, escaped bool, name string) bool {
	if !escaped {
		return len(key) == len(name) && equalFoldASCII(key, name)
	}
	var k string
	q := make([]byte, 0, len(key)+2)
	q = append(append(append(q, '"'), key...), '"')
	return json.Unmarshal(q, &k) == nil && equalFoldASCII([]byte(k), name)
}

func equalFoldASCII(a []byte, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// stringValue is the Go string of a JSON string span; ok is false for
// anything else.
func stringValue(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	if v, ok := plainString(raw); ok {
		return v, true
	}
	var v string
	if json.Unmarshal(raw, &v) != nil {
		return "", false
	}
	return v, true
}

// scanResponse reads a response message: the envelope as
// Response.UnmarshalJSON reads it (an id given as a number, the non-empty
// one of duplicated gatewayEUI keys) and, when the body is an object, its
// code and error members. The body is a slice of payload. A message that
// is not one valid JSON object is an error.
func scanResponse(payload []byte) (Response, bodyStatus, error) {
	var (
		r  Response
		st bodyStatus
	)
	s := &jsonScanner{b: payload}
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return r, st, errors.New("response is not a JSON object")
	}
	var idErr error
	err := s.members(func(key []byte, escaped bool) error {
		if keyIs(key, escaped, "body") {
			// The body in the same scan: where it lies and, for an
			// object, its code and error members.
			s.ws()
			start := s.i
			st = bodyStatus{}
			var err error
			if s.i < len(s.b) && s.b[s.i] == '{' {
				err = s.members(func(key []byte, escaped bool) error {
					vs, ve, err := s.value()
					switch {
					case err != nil:
					case keyFolds(key, escaped, "code"):
						st.code = s.b[vs:ve]
					case keyFolds(key, escaped, "error"):
						st.errText = s.b[vs:ve]
					}
					return err
				})
			} else {
				_, _, err = s.value()
			}
			r.Body = s.b[start:s.i]
			return err
		}
		start, end, err := s.value()
		if err != nil {
			return err
		}
		raw := s.b[start:end]
		switch {
		case keyIs(key, escaped, "id"):
			var id FlexString
			if err := id.UnmarshalJSON(raw); err != nil {
				idErr = fmt.Errorf("response id: %w", err)
			}
			r.ID = string(id)
		case keyIs(key, escaped, "gatewayEUI"):
			if v, ok := stringValue(raw); ok && v != "" {
				r.GatewayEUI = v
			}
		case keyIs(key, escaped, "method"):
			if v, ok := stringValue(raw); ok {
				r.Method = v
			}
		case keyIs(key, escaped, "url"):
			if v, ok := stringValue(raw); ok {
				r.URL = v
			}
		}
		return nil
	})
	if err == nil {
		s.ws()
		if s.i != len(s.b) {
			err = errSyntax
		}
	}
	if err != nil {
		return Response{}, bodyStatus{}, err
	}
	if idErr != nil {
		return Response{}, bodyStatus{}, idErr
	}
	return r, st, nil
}

// remote is the *RemoteError a body's status makes, or nil for a
// success. It follows what decoding {"code":…,"error":…} gives: a code
// that is not an integer, or an error that is not a string, makes the
// body no error answer.
func (st bodyStatus) remote(method, url string) (int, *RemoteError) {
	if st.code == nil {
		return CodeSuccess, nil
	}
	var code FlexInt
	if err := code.UnmarshalJSON(st.code); err != nil {
		return CodeSuccess, nil
	}
	msg := ""
	if st.errText != nil && string(st.errText) != "null" {
		v, ok := stringValue(st.errText)
		if !ok {
			return CodeSuccess, nil
		}
		msg = v
	}
	if c := int(code); c != CodeSuccess && c != 0 {
		return c, &RemoteError{Method: method, URL: url, Code: c, Message: msg}
	}
	return CodeSuccess, nil
}
