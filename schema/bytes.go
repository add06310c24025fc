package schema

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/message"
)

// The gateway counts a name's or a description's length in bytes of UTF-8,
// not in characters: a device name of 64 "é" (128 bytes) is answered code 3
// "parameter exception". Every maxLength of the site schema is such a
// gateway limit, so validation here reads each maxLength as a number of
// bytes as well. The published schema keeps the standard keyword (editors
// check characters, which catches every ASCII case); the byte reading is
// gwsync's own, added at compile time as a vocabulary so that the file holds
// only standard keywords.

const bytesVocabURL = "https://gwsync.dev/schema/vocab/bytes"

func bytesVocab() *jsonschema.Vocabulary {
	return &jsonschema.Vocabulary{URL: bytesVocabURL, Compile: compileBytes}
}

func compileBytes(_ *jsonschema.CompilerContext, obj map[string]any) (jsonschema.SchemaExt, error) {
	v, ok := obj["maxLength"]
	if !ok {
		return nil, nil
	}
	n, err := toInt(v)
	if err != nil {
		return nil, fmt.Errorf("maxLength: %w", err)
	}
	return maxBytes(n), nil
}

func toInt(v any) (int, error) {
	switch x := v.(type) {
	case json.Number:
		i, err := x.Int64()
		return int(i), err
	case float64:
		return int(x), nil
	case int:
		return x, nil
	}
	return 0, fmt.Errorf("%v is not an integer", v)
}

// maxBytes is maxLength read in bytes. It reports only a string within the
// limit in characters (the standard keyword reports the others), so that a
// value is reported once.
type maxBytes int

func (m maxBytes) Validate(ctx *jsonschema.ValidatorContext, v any) {
	s, ok := v.(string)
	if !ok || len(s) <= int(m) || utf8.RuneCountInString(s) > int(m) {
		return
	}
	ctx.AddError(&MaxBytes{Got: len(s), Chars: utf8.RuneCountInString(s), Want: int(m)})
}

// MaxBytes is the error of a string longer in bytes than the gateway takes.
type MaxBytes struct {
	Got, Chars, Want int
}

// KeywordPath is the standard keyword the limit is written under.
func (*MaxBytes) KeywordPath() []string { return []string{"maxLength"} }

// LocalizedString says the length in bytes and in characters.
func (k *MaxBytes) LocalizedString(p *message.Printer) string {
	return p.Sprintf("%s", LengthMessage(k.Got, k.Chars, k.Want))
}

// LengthMessage is the message for a string of bytes bytes and chars
// characters over a limit of max bytes: in characters when the two agree
// (ASCII), in both when they do not, since the gateway counts bytes.
func LengthMessage(bytes, chars, max int) string {
	if bytes == chars {
		return fmt.Sprintf("is %d characters long, more than %d", chars, max)
	}
	return fmt.Sprintf("is %d bytes long (%d characters), more than %d: the gateway counts bytes of UTF-8, not characters", bytes, chars, max)
}
