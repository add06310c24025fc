package nsapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// A response is read with encoding/json: the envelope member by member
// (json.Decoder tokens), so that of a duplicated gatewayEUI the non-empty
// value is kept, and, when the body is an object, its "code" and "error"
// members (an error answer). The body is then decoded into the caller's
// type (decodeBody, or the paging reader for a list).

// bodyStatus is what the reading of a response learnt about its body.
type bodyStatus struct {
	code    []byte // the raw value of the body's "code" member, nil when none
	errText []byte // the raw value of its "error" member, nil when none
}

var errSyntax = errors.New("invalid JSON")

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
// code and error members. A message that is not one valid JSON object is
// an error.
func scanResponse(payload []byte) (Response, bodyStatus, error) {
	var (
		r  Response
		st bodyStatus
	)
	dec := json.NewDecoder(bytes.NewReader(payload))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return Response{}, bodyStatus{}, errors.New("response is not a JSON object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return Response{}, bodyStatus{}, err
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return Response{}, bodyStatus{}, err
		}
		switch key {
		case "id":
			var id FlexString
			if err := id.UnmarshalJSON(raw); err != nil {
				return Response{}, bodyStatus{}, fmt.Errorf("response id: %w", err)
			}
			r.ID = string(id)
		case "gatewayEUI":
			if v, ok := stringValue(raw); ok && v != "" {
				r.GatewayEUI = v
			}
		case "method":
			if v, ok := stringValue(raw); ok {
				r.Method = v
			}
		case "url":
			if v, ok := stringValue(raw); ok {
				r.URL = v
			}
		case "body":
			r.Body = raw
			st = statusOf(raw)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return Response{}, bodyStatus{}, err
	}
	if len(bytes.TrimSpace(payload[dec.InputOffset():])) != 0 {
		return Response{}, bodyStatus{}, errSyntax
	}
	return r, st, nil
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
// A list page holds neither, and is then not decoded a second time.
func mayHoldCode(b []byte) bool {
	if bytes.IndexByte(b, '\\') >= 0 {
		return true
	}
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return false
		}
		i += j + 1
		if len(b)-i >= 5 && b[i+4] == '"' && bytes.EqualFold(b[i:i+4], []byte("code")) {
			return true
		}
	}
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
