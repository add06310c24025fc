package nsapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/gwsync/gwsync/gwsim"
	"github.com/gwsync/gwsync/nsapi"
)

// TestFastDecodeGwsimPage: a device list page as gwsim writes it, in
// either reading of the spec, takes the fast path, reads as encoding/json
// reads it, and lists the devices as they were created.
func TestFastDecodeGwsimPage(t *testing.T) {
	for _, q := range []gwsim.Quirks{gwsim.QuirksTables, gwsim.QuirksSpecExamples} {
		t.Run(fmt.Sprintf("quirks=%q", q), func(t *testing.T) {
			g, err := gwsim.New(gwsim.Options{Quirks: q})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			handle := gwsimHandler(t, g)
			var prof struct {
				ProfileID string `json:"profileID"`
			}
			if err := json.Unmarshal(handle("POST", "/api/urprofiles", `{"name":"ABP","profile":{"supportsJoin":false}}`), &prof); err != nil || prof.ProfileID == "" {
				t.Fatalf("create profile: %v", err)
			}
			handle("POST", "/api/urdevices", `{"devEUI":"24E124136A456465","name":"em300","applicationID":"1",`+
				`"description":"Zürich ✓ 日本","fPort":85,"appKey":"5572404C696E6B4C6F52613230313823"}`)
			handle("POST", "/api/urdevices", fmt.Sprintf(`{"devEUI":"24E1241300000001","name":"abp-1","applicationID":"1",`+
				`"profileID":%q,"skipFCntCheck":true,"devAddr":"01020304","fCntUp":7,"fCntDown":3,`+
				`"nwkSKey":"000102030405060708090A0B0C0D0E0F","nwksKey":"000102030405060708090A0B0C0D0E0F",`+
				`"appSKey":"0F0E0D0C0B0A09080706050403020100","mbMode":"rtu","mbFramePort":5,"mbTcpPort":502}`, prof.ProfileID))
			page := handle("GET", "/api/urdevices?limit=500&offset=0", "")
			if !nsapi.CheckFastDecode(t, page) {
				t.Fatalf("the fast reader refused gwsim's page:\n%s", page)
			}

			c, err := nsapi.New(context.Background(), &cannedTransport{body: page}, nsapi.Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			l, err := c.ListDevices(context.Background(), nsapi.DeviceQuery{})
			if err != nil {
				t.Fatal(err)
			}
			if len(l.DeviceResult) != 2 {
				t.Fatalf("%d devices listed, want 2:\n%s", len(l.DeviceResult), page)
			}
			byEUI := map[string]nsapi.Device{}
			for _, d := range l.DeviceResult {
				byEUI[d.DevEUI] = d
			}
			otaa, abp := byEUI["24E124136A456465"], byEUI["24E1241300000001"]
			if otaa.Description != "Zürich ✓ 日本" || otaa.FPort != 85 || otaa.AppKey != "5572404C696E6B4C6F52613230313823" || otaa.ApplicationID != "1" {
				t.Errorf("OTAA device read as %+v", otaa)
			}
			if abp.NwkSKey != "000102030405060708090A0B0C0D0E0F" || abp.FCntUp != 7 || abp.FCntDown != 3 || !abp.SkipFCntCheck ||
				abp.MbFramePort != 5 || abp.MbTcpPort != 502 || abp.ProfileName != "ABP" || abp.PayloadCodecID != "0" {
				t.Errorf("ABP device read as %+v", abp)
			}
			if l.DevTotalCount != 2 || len(l.AppResult) == 0 || len(l.ProfileResult) == 0 || l.ChannelPlan == "" {
				t.Errorf("page read as %+v", l)
			}
		})
	}
}

// gwsimHandler sends requests straight to g's handler and returns the
// answers' bodies; an error code fails the test.
func gwsimHandler(t *testing.T, g *gwsim.Gateway) func(method, url, body string) json.RawMessage {
	return func(method, url, body string) json.RawMessage {
		t.Helper()
		req, _ := json.Marshal(nsapi.Request{Type: "ns-api", ID: "1", Method: method, URL: url, Body: json.RawMessage(body)})
		var resp struct {
			Body json.RawMessage `json:"body"`
		}
		if err := json.Unmarshal(g.Handle(req), &resp); err != nil {
			t.Fatal(err)
		}
		var e nsapi.ErrorBody
		if json.Unmarshal(resp.Body, &e) == nil && e.Code != 0 && e.Code != nsapi.CodeSuccess {
			t.Fatalf("%s %s: code %d: %s", method, url, e.Code, e.Error)
		}
		return resp.Body
	}
}
