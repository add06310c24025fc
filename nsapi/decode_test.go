package nsapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var errSyntax = errors.New("invalid JSON")

// refResponse is the reference reading of a response: encoding/json for
// the envelope (json.Decoder tokens) after a validity check of the whole,
// and a typed probe of the body for {"code","error"}. scanResponse must
// read every message the same.
func refResponse(payload []byte) (r Response, code int, msg string, err error) {
	if !json.Valid(payload) {
		return r, 0, "", errSyntax
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	tok, err := dec.Token()
	if err != nil {
		return r, 0, "", err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return r, 0, "", fmt.Errorf("not an object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return r, 0, "", err
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return r, 0, "", err
		}
		switch key {
		case "id":
			var id FlexString
			if err := json.Unmarshal(raw, &id); err != nil {
				return Response{}, 0, "", err
			}
			r.ID = string(id)
		case "gatewayEUI":
			var s string
			if json.Unmarshal(raw, &s) == nil && s != "" {
				r.GatewayEUI = s
			}
		case "method":
			_ = json.Unmarshal(raw, &r.Method)
		case "url":
			_ = json.Unmarshal(raw, &r.URL)
		case "body":
			r.Body = raw
		}
	}
	code = CodeSuccess
	b := bytes.TrimSpace(r.Body)
	if len(b) > 0 && b[0] == '{' {
		var probe struct {
			Code  *FlexInt `json:"code"`
			Error string   `json:"error"`
		}
		if json.Unmarshal(b, &probe) == nil && probe.Code != nil && *probe.Code != 0 && int(*probe.Code) != CodeSuccess {
			code, msg = int(*probe.Code), probe.Error
		}
	}
	return r, code, msg, nil
}

var responseSeeds = []string{
	`{"id":"a1","gatewayEUI":"24E124FFFEF5A6A8","method":"GET","url":"/api/urdevices","body":{"devTotalCount":"1","deviceResult":[{"devEUI":"x"}]}}`,
	`{"id":12,"gatewayEUI":"24E124FFFEF5A6A8","method":"GET","gatewayEUI":"","url":"/x","body":{"code":10,"error":"bad"}}`,
	`{"id":"a","body":{"Code":"25","ERROR":"other gateway"}}`,
	`{"id":"a","body":{"code":200,"error":""}}`,
	`{"id":"a","body":{"code":null,"error":"x"}}`,
	`{"id":"a","body":{"code":3,"error":7}}`,
	`{"id":"a","body":{"code":"abc"}}`,
	`{"id":"a","body":{"code":3.0,"error":"\u00e9t\u00e9 \"quoted\""}}`,
	`{"id":"a","body":[1,2,{"code":3}]}`,
	`{"id":"a","body":""}`,
	`{"id":"a","body":null}`,
	`{"i\u0064":"esc","body":{"c\u006fde":4,"error":"x"}}`,
	` {"id" : "sp" , "method" : 5 , "body" : { } } `,
	`{"id":true}`,
	`{"id":"a", "body": {`,
	`{"id":"a","body":{"a":tru}}`,
	`{"id":"a","body":{"a":1.}}`,
	`{"id":"a","body":{"a":01}}`,
	`{"id":"a","body":{"a":-}}`,
	`{"id":"a","body":{"a":"\x"}}`,
	`{"id":"a","body":{"a":1e+}}`,
	`{"id":"a"} x`,
	`[{"id":"a"}]`,
	`{"id":"a",}`,
	`{"id":"a","body":{"a":[1,]}}`,
	"{\"id\":\"a\",\"body\":\"tab\there\"}",
	`{"id":"a","body":{"n":-0.5e-3,"t":true,"f":false,"z":null,"s":"\ud83d\ude00"}}`,
	``,
	`"just a string"`,
	`null`,
	` null `,
	`{"ID":"x","Id":"y","id":"a","iD":"z","BODY":{"code":3},"Body":1,"gatewayeui":"E","GATEWAYEUI":"F","Method":"M","uRL":"u"}`,
	`{"id":"a","gatewayEUI":"X","gatewayEUI":"","gatewayEUI":null,"gatewayEUI":5}`,
	`{"id":"a","method":"GET","method":5,"url":"/x","url":""}`,
	`{"id":"a","id":null}`,
	`{"id":"a","id":[1]}`,
	`{"id":"a","body":{"code":5,"error":"x"},"body":[]}`,
	`{"id":"a","body":[],"body":{"CODE":"7"}}`,
}

func checkScan(t *testing.T, payload []byte) {
	t.Helper()
	want, wantCode, wantMsg, wantErr := refResponse(payload)
	got, st, err := scanResponse(payload)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%q: error %v, want %v", payload, err, wantErr)
	}
	if err != nil {
		return
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%q: envelope (-want +got):\n%s", payload, d)
	}
	code, re := st.remote("GET", "/x")
	msg := ""
	if re != nil {
		msg = re.Message
	}
	if code != wantCode || msg != wantMsg {
		t.Errorf("%q: code %d %q, want %d %q", payload, code, msg, wantCode, wantMsg)
	}
}

func TestScanResponseReadsAsEncodingJSON(t *testing.T) {
	for _, s := range responseSeeds {
		checkScan(t, []byte(s))
	}
}

func FuzzScanResponse(f *testing.F) {
	for _, s := range responseSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		checkScan(t, payload)
	})
}

// TestDeviceDecodesBothSpellings: a device list page and a single device
// read the table's names and the example's alike.
func TestDeviceDecodesBothSpellings(t *testing.T) {
	page := `{"devTotalCount":"2","deviceResult":[` +
		`{"devEUI":"A","nwksKey":"k1","payloadCodeID":"7","fPort":"85"},` +
		`{"devEUI":"B","nwkSKey":"k2","nwksKey":"old","payloadCodecID":3,"payloadCodeID":"9"}]}`
	var w deviceListWire
	if err := json.Unmarshal([]byte(page), &w); err != nil {
		t.Fatal(err)
	}
	var got []Device
	for i := range w.DeviceResult {
		got = append(got, w.DeviceResult[i].device())
	}
	var one []Device
	if err := json.Unmarshal([]byte(page[bytes.IndexByte([]byte(page), '['):len(page)-1]), &one); err != nil {
		t.Fatal(err)
	}
	want := []Device{
		{DevEUI: "A", NwkSKey: "k1", PayloadCodecID: "7", FPort: 85},
		{DevEUI: "B", NwkSKey: "k2", PayloadCodecID: "3"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("page (-want +got):\n%s", d)
	}
	if d := cmp.Diff(want, one); d != "" {
		t.Errorf("Device.UnmarshalJSON (-want +got):\n%s", d)
	}
	if w.DevTotalCount != 2 {
		t.Errorf("devTotalCount %d, want 2", w.DevTotalCount)
	}
}

// ScanResponse is scanResponse for the benchmarks of package nsapi_test.
func ScanResponse(payload []byte) error {
	_, _, err := scanResponse(payload)
	return err
}

// holdsQuotedCode is mayHoldCode as first written: every quote looked at.
func holdsQuotedCode(b []byte) bool {
	if bytes.IndexByte(b, '\\') >= 0 {
		return true
	}
	for i := range b {
		if b[i] == '"' && len(b)-i >= 6 && b[i+5] == '"' && bytes.EqualFold(b[i+1:i+5], []byte("code")) {
			return true
		}
	}
	return false
}

func FuzzMayHoldCode(f *testing.F) {
	for _, s := range []string{`{"code":1}`, `{"CoDe":1}`, `{"xcode":1}`, `{"a":"c","code":1}`, `{"a":"C"}`,
		`{"cod":"e"}`, `"code`, `"c`, `{"a":"\u0063ode"}`, `{"mbMode":"x","codec":"y"}`, `""code"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := mayHoldCode(b), holdsQuotedCode(b); got != want {
			t.Errorf("mayHoldCode(%q) = %v, want %v", b, got, want)
		}
	})
}

// flexIntRef is FlexInt.UnmarshalJSON as first written, the number's text
// copied into a string.
func flexIntRef(b []byte) (FlexInt, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return 0, nil
	}
	s := string(b)
	if b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return 0, err
		}
		s = strings.TrimSpace(s)
		if s == "" || s == "-" {
			return 0, nil
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != float64(int64(f)) {
			return 0, fmt.Errorf("want an integer, got %s", b)
		}
		v = int64(f)
	}
	return FlexInt(v), nil
}

func FuzzFlexInt(f *testing.F) {
	for _, s := range []string{`0`, `-12`, `3.0`, `3.5`, `1e3`, `"25"`, `" 7 "`, `""`, `"-"`, `"x"`, `null`, ` 5 `,
		`"\u0031"`, `"\u00a012"`, `"9223372036854775808"`, `9223372036854775807`, `"1_0"`, `true`, `"0x10"`, `"é"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want, wantErr := flexIntRef(b)
		var got FlexInt
		err := got.UnmarshalJSON(b)
		if fmt.Sprint(err) != fmt.Sprint(wantErr) || (err == nil && got != want) {
			t.Errorf("%q: %d, %v; want %d, %v", b, got, err, want, wantErr)
		}
	})
}
