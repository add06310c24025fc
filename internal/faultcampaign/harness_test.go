package faultcampaign

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gwsync/gwsync/gwsim"
	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/site"
)

// The harness is tested on its own: a campaign whose MITM injected nothing
// or whose oracle saw no difference would pass without proving anything.

func TestMITMInjectsEachFault(t *testing.T) {
	cases := []struct {
		fault     *Fault
		performed bool // the gateway holds the profile afterwards
		remote    int  // the code the client sees; 0: an unknown outcome
	}{
		{&Fault{Kind: KindCodeNoWrite, At: 1, Code: nsapi.CodeInternal}, false, nsapi.CodeInternal},
		{&Fault{Kind: KindCodeAfterWrite, At: 1, Code: nsapi.CodeRequestTimeout}, true, nsapi.CodeRequestTimeout},
		{&Fault{Kind: KindLostAnswer, At: 1}, true, 0},
		{&Fault{Kind: KindLostRequest, At: 1}, false, 0},
		{&Fault{Kind: KindDisconnect, At: 1, Performed: false}, false, 0},
		{&Fault{Kind: KindDisconnect, At: 1, Performed: true}, true, 0},
	}
	for _, c := range cases {
		t.Run(c.fault.String(), func(t *testing.T) {
			g, err := gwsim.New(gwsim.Options{})
			if err != nil {
				t.Fatal(err)
			}
			m := NewMITM(c.fault)
			ctx := context.Background()
			cl, err := nsapi.New(ctx, m.Wrap(g.Transport()), nsapi.Config{RequestTimeout: 200 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			_, err = cl.CreateProfile(ctx, nsapi.ProfileWrite{Name: "p1", Profile: profileSettings()})
			var re *nsapi.RemoteError
			var oe *nsapi.OutcomeError
			switch {
			case c.remote != 0 && (!errors.As(err, &re) || re.Code != c.remote):
				t.Errorf("create: %v, want code %d", err, c.remote)
			case c.remote == 0 && !errors.As(err, &oe):
				t.Errorf("create: %v, want an unknown outcome", err)
			}
			if got := g.Writes() == 1; got != c.performed {
				t.Errorf("gateway performed the write: %v, want %v", got, c.performed)
			}
			if len(m.Fired()) != 1 {
				t.Errorf("fired %v, want one fault", m.Fired())
			}
			// The next request passes untouched.
			if _, err := cl.CreateProfile(ctx, nsapi.ProfileWrite{Name: "p2", Profile: profileSettings()}); err != nil {
				t.Errorf("second create: %v", err)
			}
		})
	}
}

func TestMITMLostReadAndSecondFault(t *testing.T) {
	g, err := gwsim.New(gwsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	first := &Fault{Kind: KindCodeNoWrite, At: 2, Code: nsapi.CodeParameter}
	second := &Fault{Kind: KindLostRequest, At: 1, After: first}
	read := &Fault{Kind: KindLostRead, At: 1}
	m := NewMITM(first, second, read)
	ctx := context.Background()
	cl, err := nsapi.New(ctx, m.Wrap(g.Transport()), nsapi.Config{RequestTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := cl.ListProfiles(ctx); err != nil {
		t.Fatalf("a read before the first write: %v", err)
	}
	pw := func(name string) nsapi.ProfileWrite {
		return nsapi.ProfileWrite{Name: name, Profile: profileSettings()}
	}
	if _, err := cl.CreateProfile(ctx, pw("a")); err != nil {
		t.Fatalf("write 1: %v", err)
	}
	var oe *nsapi.OutcomeError
	if _, err := cl.ListProfiles(ctx); !errors.As(err, &oe) {
		t.Errorf("the first read after a write: %v, want no answer", err)
	}
	if _, err := cl.CreateProfile(ctx, pw("b")); err == nil {
		t.Error("write 2: no error, want code 3")
	}
	if _, err := cl.CreateProfile(ctx, pw("c")); !errors.As(err, &oe) {
		t.Errorf("write 3 (the second fault): %v, want no answer", err)
	}
	if g.Writes() != 1 || m.Writes() != 3 || m.Forwarded() != 1 {
		t.Errorf("gateway writes %d, MITM writes %d forwarded %d; want 1, 3, 1", g.Writes(), m.Writes(), m.Forwarded())
	}
}

func TestOracleIgnoresIDsAndSeesDifferences(t *testing.T) {
	raw := func(profID, groupID string, members []any, key string) map[string]any {
		return map[string]any{
			"gatewayEUI":   "24e124fffef5a6a8",
			"channelPlan":  "EU868",
			"nextCodecID":  float64(len(profID)),
			"applications": []any{map[string]any{"id": "1", "name": "cloud"}},
			"profiles":     []any{map[string]any{"id": profID, "name": "p", "profile": map[string]any{"supportsJoin": true}}},
			"devices": []any{map[string]any{"devEUI": "24e1240000000001", "profileID": profID, "applicationID": "1",
				"payloadCodecID": "", "appKey": key}},
			"multicastGroups": []any{map[string]any{"id": groupID, "name": "g", "devices": members,
				"createdAt": groupID, "mcNwkSKey": key}},
		}
	}
	const k1, k2 = "00112233445566778899aabbccddeeff", "ffeeddccbbaa99887766554433221100"
	a := Normalise(raw("uuid-1", "g-1", []any{"24E1240000000001", "24e1240000000002"}, k1))
	b := Normalise(raw("uuid-2", "g-2", []any{"24e1240000000002", "24e1240000000001"}, k1))
	if d := Diff(a, b, 10); len(d) > 0 {
		t.Errorf("states differing only in server ids, times and order differ: %v", d)
	}
	c := Normalise(raw("uuid-3", "g-3", []any{"24E1240000000001"}, k2))
	d := strings.Join(Diff(a, c, 10), "\n")
	for _, want := range []string{"multicastGroups[g].devices", "devices[24E1240000000001].appKey", "multicastGroups[g].mcNwkSKey"} {
		if !strings.Contains(d, want) {
			t.Errorf("diff lacks %s:\n%s", want, d)
		}
	}
	if strings.Contains(d, k1) || strings.Contains(d, k2) {
		t.Errorf("diff shows a key in clear:\n%s", d)
	}
}

func TestGeneratedSitesLoadAndRepeat(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		var texts [2]string
		for i := range texts {
			g := NewGenerator(seed)
			start := g.Start([]string{"cloud", secondApp})
			edit := g.Edit(start)
			if len(g.Edits) == 0 {
				t.Errorf("seed %d: an edit with no change", seed)
			}
			for j, m := range []*Model{start, edit} {
				dir := t.TempDir()
				path, err := g.Write(m, dir)
				if err != nil {
					t.Fatal(err)
				}
				_, probs := site.Load(site.Options{LookupEnv: func(k string) (string, bool) {
					v, ok := g.Secrets()[k]
					return v, ok
				}}, path)
				if probs.HasErrors() {
					t.Errorf("seed %d, site %d does not load:\n%v\n%s", seed, j, probs.Errors(), m.YAML())
				}
			}
			texts[i] = start.YAML() + edit.YAML()
		}
		if texts[0] != texts[1] {
			t.Errorf("seed %d: two generations differ", seed)
		}
	}
}

func profileSettings() nsapi.ProfileSettings {
	return nsapi.ProfileSettings{SupportsJoin: true, MacVersion: "1.0.2", RegParamsRevision: "B",
		RxFreq2: 869525000, PingSlotFreq: 869525000, PingSlotPeriod: 128, ClassBTimeout: 10, ClassCTimeout: 10}
}
