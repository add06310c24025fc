package nsapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/gwsync/gwsync/gwsim"
	"github.com/gwsync/gwsync/nsapi"
)

// TestFastGroupsGwsimPage: a group list as gwsim writes it, in either
// reading of the spec, takes the fast path, reads as encoding/json reads
// it, and lists the groups and their members as they were made.
func TestFastGroupsGwsimPage(t *testing.T) {
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
			if err := json.Unmarshal(handle("POST", "/api/urprofiles", `{"name":"ClassC-lamps","profile":{"supportsJoin":true,"supportsClassC":true}}`), &prof); err != nil || prof.ProfileID == "" {
				t.Fatalf("create profile: %v", err)
			}
			handle("POST", "/api/urdevices", fmt.Sprintf(`{"devEUI":"24E124136A456465","name":"em300","applicationID":"1",`+
				`"description":"Zürich ✓ 日本","profileID":%q,"appKey":"5572404C696E6B4C6F52613230313823"}`, prof.ProfileID))
			handle("POST", "/api/urdevices", `{"devEUI":"24E1241300000001","name":"lamp-1","applicationID":"1",`+
				`"appKey":"000102030405060708090A0B0C0D0E0F"}`)
			var created struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(handle("POST", "/api/multicast-groups", `{"multicastGroup":{"name":"lamps","mcAddr":"01020304",`+
				`"mcNwkSKey":"000102030405060708090A0B0C0D0E0F","mcAppSKey":"0F0E0D0C0B0A09080706050403020100",`+
				`"groupType":"CLASS_C","dr":3,"frequency":869525000,"fCnt":12}}`), &created); err != nil || created.ID == "" {
				t.Fatalf("create group: %v", err)
			}
			handle("POST", "/api/multicast-groups/"+created.ID+"/devices", `{"devEUIs":["24E124136A456465","24E1241300000001"]}`)
			handle("POST", "/api/multicast-groups", `{"multicastGroup":{"name":"empty"}}`)
			page := handle("GET", "/api/multicast-groups?search=&order=asc&offset=0&limit=500", "")
			if !nsapi.CheckFastGroups(t, page) {
				t.Fatalf("the fast reader refused gwsim's group list:\n%s", page)
			}

			c, err := nsapi.New(context.Background(), &cannedTransport{body: page}, nsapi.Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			groups, err := c.ListGroups(context.Background(), "")
			if err != nil {
				t.Fatal(err)
			}
			if len(groups) != 2 {
				t.Fatalf("%d groups listed, want 2:\n%s", len(groups), page)
			}
			byName := map[string]nsapi.MulticastGroupInfo{}
			for _, gr := range groups {
				byName[gr.Name] = gr
			}
			lamps, empty := byName["lamps"], byName["empty"]
			if lamps.ID != created.ID || lamps.McAddr != "01020304" || lamps.McNwkSKey != "000102030405060708090A0B0C0D0E0F" ||
				lamps.McAppSKey != "0F0E0D0C0B0A09080706050403020100" || lamps.GroupType != "CLASS_C" || lamps.DR != 3 ||
				lamps.Frequency != 869525000 || lamps.FCnt != 12 || lamps.CreatedAt == "" || lamps.UpdatedAt == "" {
				t.Errorf("group read as %+v", lamps.MulticastGroup)
			}
			if empty.ID == "" || len(empty.Devices) != 0 {
				t.Errorf("empty group read as %+v", empty)
			}
			if len(lamps.Devices) != 2 {
				t.Fatalf("%d members listed, want 2:\n%s", len(lamps.Devices), page)
			}
			byEUI := map[string]nsapi.GroupMember{}
			for _, m := range lamps.Devices {
				byEUI[m.DevEUI] = m
			}
			em, lamp := byEUI["24E124136A456465"], byEUI["24E1241300000001"]
			if em.Name != "em300" || em.Description != "Zürich ✓ 日本" || em.ApplicationID != "1" ||
				em.DeviceProfileID != prof.ProfileID || em.DeviceProfileName != "ClassC-lamps" {
				t.Errorf("member em300 read as %+v", em)
			}
			if lamp.Name != "lamp-1" || lamp.ApplicationID != "1" || lamp.DeviceProfileName == "" {
				t.Errorf("member lamp-1 read as %+v", lamp)
			}
		})
	}
}
