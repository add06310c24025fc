package nsapi

import (
	"runtime"

	gojson "github.com/goccy/go-json"
)

// A gateway's answers are decoded with github.com/goccy/go-json, which
// reads a page of devices about three times faster than encoding/json
// (BenchmarkDecodeDevicePage500, BenchmarkReadState10k). It is used for
// decoding gateway answers only, at two places: the envelope
// (scanResponse) and the body (decodeBody). Everything else, encoding
// included, stays with encoding/json. FuzzWireDecode holds both decoders
// to the same results on the same bytes.
//
// An answer is hostile input and the decoder uses unsafe: a panic inside
// it is turned into an ordinary decode error by unmarshalWire, so a
// malformed answer fails its request and never crashes an apply.

// unmarshalWire decodes the JSON document b into v, as json.Unmarshal
// does. A panic inside the decoder is returned as an error.
func unmarshalWire(b []byte, v any) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &wirePanicError{p}
		}
	}()
	return gojson.Unmarshal(b, v)
}

// wirePanicError is a panic of the decoder, reported as a decode error.
// Its text names a runtime error (an index out of range, a nil
// dereference) but not another panic value, which could quote the
// answer, and an answer can hold keys.
type wirePanicError struct{ value any }

func (e *wirePanicError) Error() string {
	if re, ok := e.value.(runtime.Error); ok {
		return "malformed JSON: the decoder failed: " + re.Error()
	}
	return "malformed JSON: the decoder failed"
}
