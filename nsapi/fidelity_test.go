package nsapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gwsync/gwsync/nsapi"
)

// A mistyped gateway EUI: the gateway on our request topic answers code 25
// with its own EUI. The request ends at once, with an error naming the EUI
// we sent, not after the full timeout as an unanswered request.
func TestCode25EndsTheRequestAtOnce(t *testing.T) {
	const typo = "24E124FFFEF5A6A9"
	f := &fakeGW{handle: func(req nsapi.Request, _ []byte) [][]byte {
		other := req
		other.ID = "not-ours"
		mismatch := map[string]any{"code": 25, "error": "gateway EUI not matched"}
		return [][]byte{
			answer(other, gwEUI, mismatch), // another client's request: not ours to end
			answer(req, gwEUI, mismatch),
		}
	}}
	c := newClient(t, f, nsapi.Config{GatewayEUI: typo, RequestTimeout: 5 * time.Second})
	start := time.Now()
	_, err := c.ListProfiles(context.Background())
	took := time.Since(start)
	if !nsapi.IsCode(err, nsapi.CodeGatewayMismatch) || errors.Is(err, nsapi.ErrUnknownOutcome) {
		t.Fatalf("got %v, want a code 25 refusal", err)
	}
	if took > 2*time.Second {
		t.Errorf("the request took %s: code 25 must end it at once", took)
	}
	for _, want := range []string{typo, gwEUI} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name gateway %s", err, want)
		}
	}
	if !nsapi.WriteRefused(err) {
		t.Errorf("WriteRefused(code 25) = false: a request for another gateway is not carried out")
	}
}

// Answers from another gateway that are not code 25 are still ignored.
func TestOtherGatewaysAnswersStillIgnored(t *testing.T) {
	f := &fakeGW{handle: func(req nsapi.Request, _ []byte) [][]byte {
		return [][]byte{
			answer(req, "0242ACFFFE160007", map[string]any{"code": 5, "error": "not found"}),
			answer(req, gwEUI, nil),
		}
	}}
	c := newClient(t, f, nsapi.Config{GatewayEUI: gwEUI, RequestTimeout: 5 * time.Second})
	if err := c.DeleteDevice(context.Background(), "24E124136A456465"); err != nil {
		t.Fatalf("DeleteDevice: %v (another gateway's answer was taken)", err)
	}
}

func TestWriteRefused(t *testing.T) {
	refused := map[int]bool{
		nsapi.CodeUnknown: false, nsapi.CodeParameter: true, nsapi.CodeNotFound: true,
		nsapi.CodeAlreadyExists: true, nsapi.CodeFailedPrecondition: true, nsapi.CodeBadJSON: true,
		nsapi.CodeUnsupportedURL: true, nsapi.CodeMethodNotSupported: true, nsapi.CodeInternal: false,
		nsapi.CodeRequestTimeout: false, nsapi.CodeGatewayMismatch: true,
		10310000: false, 10310016: false, 1: false, 4: false, 26: false, 500: false,
	}
	for code := nsapi.CodeFuotaDeviceInTask; code <= nsapi.CodeFuotaOfficialFetch; code++ {
		refused[code] = true
	}
	for code, want := range refused {
		err := fmt.Errorf("device X: update: %w", &nsapi.RemoteError{Method: "PUT", URL: "/api/urdevices/X", Code: code})
		if got := nsapi.WriteRefused(err); got != want {
			t.Errorf("WriteRefused(code %d) = %v, want %v", code, got, want)
		}
	}
	for _, err := range []error{
		nil,
		errors.New("something else"),
		&nsapi.OutcomeError{Method: "PUT", URL: "/api/urdevices/X", Cause: errors.New("timeout")},
		context.DeadlineExceeded,
	} {
		if nsapi.WriteRefused(err) {
			t.Errorf("WriteRefused(%v) = true, want false", err)
		}
	}
}

// The update body carries every clearable field with its empty value, as
// the spec's 3.4 PUT example does, and the session key under both
// spellings.
func TestDeviceWriteBody(t *testing.T) {
	var body map[string]any
	f := &fakeGW{handle: func(req nsapi.Request, _ []byte) [][]byte {
		body = nil
		if err := json.Unmarshal(req.Body, &body); err != nil {
			t.Errorf("body %s: %v", req.Body, err)
		}
		return [][]byte{answer(req, "", nil)}
	}}
	c := newClient(t, f, nsapi.Config{})
	// An ABP device turned OTAA, its Modbus settings removed.
	d := nsapi.Device{DevEUI: "24E124136A456465", Name: "em300", ApplicationID: "1", ProfileID: "p-1", FPort: 2,
		SupportsJoin: true, AppKey: "0f1e2d3c4b5a69788796a5b4c3d2e1f0"}
	if err := c.UpdateDevice(context.Background(), d.DevEUI, d.Write()); err != nil {
		t.Fatalf("UpdateDevice: %v", err)
	}
	want := map[string]any{
		"name": "em300", "description": "", "applicationID": "1", "profileID": "p-1", "payloadCodecID": "0",
		"fPort": 2.0, "skipFCntCheck": false, "appKey": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
		"devAddr": "", "nwkSKey": "", "nwksKey": "", "appSKey": "",
		"mbMode": "", "mbFramePort": 0.0, "mbTcpPort": 0.0,
	}
	if d := cmp.Diff(want, body); d != "" {
		t.Errorf("PUT body (-want +got):\n%s", d)
	}

	// An ABP device: the network session key under both names, counters
	// when set.
	up, down := int64(7), int64(3)
	w := nsapi.DeviceWrite{DevEUI: "24E124136A456465", ApplicationID: "1", DevAddr: "01F3A7D4",
		NwkSKey: "00112233445566778899aabbccddeeff", AppSKey: "ffeeddccbbaa99887766554433221100", FCntUp: &up, FCntDown: &down}
	if err := c.CreateDevice(context.Background(), w); err != nil {
		t.Fatalf("CreateDevice: %v", err)
	}
	for k, v := range map[string]any{"devEUI": "24E124136A456465", "nwkSKey": w.NwkSKey, "nwksKey": w.NwkSKey, "fCntUp": 7.0, "fCntDown": 3.0} {
		if body[k] != v {
			t.Errorf("POST body %s = %v, want %v", k, body[k], v)
		}
	}
	w.FCntUp, w.FCntDown = nil, nil
	if err := c.UpdateDevice(context.Background(), "24E124136A456465", w); err != nil {
		t.Fatalf("UpdateDevice: %v", err)
	}
	for _, k := range []string{"devEUI", "fCntUp", "fCntDown"} {
		if _, ok := body[k]; ok {
			t.Errorf("PUT body carries %s: %v", k, body[k])
		}
	}
}

// Reading: both spellings of the session key; a non-empty one wins.
func TestDeviceReadsBothSessionKeySpellings(t *testing.T) {
	const k = "00112233445566778899aabbccddeeff"
	for _, in := range []string{
		`{"nwkSKey":"` + k + `"}`,
		`{"nwksKey":"` + k + `"}`,
		`{"nwkSKey":"","nwksKey":"` + k + `"}`,
		`{"nwksKey":"","nwkSKey":"` + k + `"}`,
	} {
		var d nsapi.Device
		if err := json.Unmarshal([]byte(in), &d); err != nil || d.NwkSKey != k {
			t.Errorf("%s: NwkSKey = %q, %v", in, d.NwkSKey, err)
		}
	}
}

// A FUOTA task's update body carries the firmware's clearable fields even
// when empty.
func TestTaskWriteBody(t *testing.T) {
	var body struct {
		FuotaTask map[string]json.RawMessage `json:"fuotaTask"`
	}
	f := &fakeGW{handle: func(req nsapi.Request, _ []byte) [][]byte {
		body.FuotaTask = nil
		if err := json.Unmarshal(req.Body, &body); err != nil {
			t.Errorf("body %s: %v", req.Body, err)
		}
		return [][]byte{answer(req, "", nil)}
	}}
	c := newClient(t, f, nsapi.Config{})
	task := nsapi.FuotaTask{ID: 4, Name: "t", StartedAt: "2026-12-01T02:00:00Z", DevEUIs: []string{"24E1247151234568"},
		FirmwareInfo: &nsapi.FirmwareInfo{FirmwareName: "f.bin", FileContent: "AAAA", ProductModel: "WT201"},
		Status:       2, DoneDevices: 1}
	if err := c.UpdateTask(context.Background(), task); err != nil {
		t.Fatalf("UpdateTask: %v", err)
	}
	var fi map[string]any
	_ = json.Unmarshal(body.FuotaTask["firmwareInfo"], &fi)
	want := map[string]any{"firmwareName": "f.bin", "description": "", "fileContent": "AAAA", "officialFirmwareUrl": ""}
	if d := cmp.Diff(want, fi); d != "" {
		t.Errorf("firmwareInfo (-want +got):\n%s", d)
	}
	for _, k := range []string{"status", "doneDevices", "totalDevices", "createdAt", "firmwareName"} {
		if _, ok := body.FuotaTask[k]; ok {
			t.Errorf("the update body carries the server-owned %s", k)
		}
	}
	if string(body.FuotaTask["id"]) != "4" || string(body.FuotaTask["description"]) != `""` {
		t.Errorf("id %s, description %s: want 4 and \"\"", body.FuotaTask["id"], body.FuotaTask["description"])
	}
	if _, err := c.CreateTask(context.Background(), task); err == nil || !strings.Contains(err.Error(), "no task id") {
		t.Fatalf("CreateTask: %v", err)
	}
	if _, ok := body.FuotaTask["id"]; ok {
		t.Errorf("the create body carries an id")
	}
}
