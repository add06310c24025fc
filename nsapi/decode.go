package nsapi

import (
	"bytes"
	"encoding/json"
	"errors"
)

// A response is read with one unmarshalWire (wirejson.go) into an
// envelope, whose body is kept as it came (a json.RawMessage): the decoder
// checks that the message is one JSON object with nothing after it, then
// reads its members, as json.Unmarshal does (FuzzScanResponse and
// FuzzWireDecode hold it to that). Of a body that is an object, the "code"
// and "error" members (an error answer) are then looked for, only when the
// body may hold them (mayHoldCode). The body is decoded into the caller's
// type by decodeBody, a list page straight into its page type
// (lister.fetch). So a page's bytes are scanned more than once (the
// message, then the body copied and decoded): the answer is read whole,
// for its id, before the type it decodes into is known.

// envelope is a response message as json.Unmarshal reads it, and
// unmarshalWire alike. Its members are matched by their exact names, as
// the gateway spells them: encoding/json gives a key that no field has
// exactly to the first field whose name matches it without regard to
// case, so the Folded fields, declared first, take such keys ("ID",
// "Body") and drop them.
type envelope struct {
	FoldedID         ignored `json:"ID"`
	FoldedGatewayEUI ignored `json:"GATEWAYEUI"`
	FoldedMethod     ignored `json:"METHOD"`
	FoldedURL        ignored `json:"URL"`
	FoldedBody       ignored `json:"BODY"`

	ID         FlexString      `json:"id"` // an id given as a number is read as its digits
	GatewayEUI nonEmptyString  `json:"gatewayEUI"`
	Method     stringOrKeep    `json:"method"`
	URL        stringOrKeep    `json:"url"`
	Body       json.RawMessage `json:"body"`
}

// ignored is a member read and dropped.
type ignored struct{}

func (*ignored) UnmarshalJSON([]byte) error { return nil }

// stringOrKeep takes the value of a member that is a string; any other
// value leaves it as it was, as decoding it into a string would.
type stringOrKeep string

func (s *stringOrKeep) UnmarshalJSON(b []byte) error {
	if v, ok := stringValue(b); ok {
		*s = stringOrKeep(v)
	}
	return nil
}

// nonEmptyString takes the value of a member that is a non-empty string:
// the spec's example carries gatewayEUI twice, and the non-empty one wins
// whichever comes last.
type nonEmptyString string

func (s *nonEmptyString) UnmarshalJSON(b []byte) error {
	if v, ok := stringValue(b); ok && v != "" {
		*s = nonEmptyString(v)
	}
	return nil
}

// bodyStatus is what the reading of a response learnt about its body.
type bodyStatus struct {
	code    []byte // the raw value of the body's "code" member, nil when none
	errText []byte // the raw value of its "error" member, nil when none
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

var errNotObject = errors.New("response is not a JSON object")

// scanResponse reads a response message: the envelope (an id given as a
// number, the non-empty one of duplicated gatewayEUI keys; of a key given
// twice otherwise, the last) and, when the body is an object, its code
// and error members. A message that is not one valid JSON object is an
// error. The body of the Response is a copy: payload is not retained.
func scanResponse(payload []byte) (Response, bodyStatus, error) {
	// json.Unmarshal leaves a struct as it was for a null message.
	if b := bytes.TrimLeft(payload, " \t\r\n"); len(b) == 0 || b[0] != '{' {
		return Response{}, bodyStatus{}, errNotObject
	}
	var env envelope
	if err := unmarshalWire(payload, &env); err != nil {
		return Response{}, bodyStatus{}, err
	}
	r := Response{
		ID:         string(env.ID),
		GatewayEUI: string(env.GatewayEUI),
		Method:     string(env.Method),
		URL:        string(env.URL),
		Body:       env.Body,
	}
	return r, statusOf(env.Body), nil
}

// statusOf finds the code and error members of a body that is an object
// (matched without regard to case, as encoding/json matches a field).
func statusOf(body json.RawMessage) bodyStatus {
	b := bytes.TrimSpace(body)
	if len(b) == 0 || b[0] != '{' || !mayHoldCode(b) {
		return bodyStatus{}
	}
	var probe struct {
		Code  json.RawMessage `json:"code"`
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(b, &probe) != nil {
		return bodyStatus{}
	}
	return bodyStatus{code: probe.Code, errText: probe.Error}
}

// mayHoldCode reports whether an object may have a "code" member: it holds
// "code" between quotes in some letter case (encoding/json's folding of
// these four letters is ASCII's), or an escape, which could spell the key.
// A list page holds neither, and is then not decoded a second time. Only
// the quotes followed by a c are looked at: a page has few of them.
func mayHoldCode(b []byte) bool {
	if bytes.IndexByte(b, '\\') >= 0 {
		return true
	}
	for _, start := range [][]byte{[]byte(`"c`), []byte(`"C`)} {
		for i := 0; ; {
			j := bytes.Index(b[i:], start)
			if j < 0 {
				break
			}
			i += j + 1
			if len(b)-i >= 5 && b[i+4] == '"' && bytes.EqualFold(b[i:i+4], []byte("code")) {
				return true
			}
		}
	}
	return false
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
