package planner_test

import (
	"bytes"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
	"github.com/gwsync/gwsync/planner"
	"github.com/gwsync/gwsync/render"
	"github.com/gwsync/gwsync/site"
)

// TestKeptSessionShowsNoKeyChange updates devices (a new description) whose
// gateway session keys the plan keeps, in clear or as a snapshot's digests:
// no key of the update may read as removed or changed, in the change's
// objects or in the text a reviewer reads.
func TestKeptSessionShowsNoKeyChange(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	hexKey := func() string {
		const digits = "0123456789abcdef"
		b := make([]byte, 32)
		for i := range b {
			b[i] = digits[rng.IntN(len(digits))]
		}
		return string(b)
	}
	// A key as a gateway or a snapshot may hold it: in clear, in either
	// case, or as its digest.
	spell := func(k string) string {
		switch rng.IntN(3) {
		case 0:
			return k
		case 1:
			return strings.ToUpper(k)
		}
		return plan.SecretDigest(k)
	}
	keyLine := regexp.MustCompile(`(?m)^.*\b(appKey|nwkSKey|appSKey)\b.*$`)
	for i := range 200 {
		joins := rng.IntN(2) == 0
		appKey, nwk, app, sess := hexKey(), hexKey(), hexKey(), hexKey()
		desc := "south gate"
		sd := site.Device{DevEUI: "24E124136A456465", Application: "cloud", Description: &desc}
		live := nsapi.Device{DevEUI: "24E124136A456465", Name: "24E124136A456465", ApplicationID: "1",
			Description: "north gate", FPort: 1, PayloadCodecID: "0", DevAddr: "01020304", FCntUp: 77}
		if joins {
			sd.AppKey = site.Secret{Value: appKey}
			live.ProfileID, live.SupportsJoin, live.AppKey = "a", true, spell(appKey)
			live.NwkSKey, live.AppSKey = spell(sess), spell(hexKey())
		} else {
			sd.Profile, sd.DevAddr = "Legacy", "01020304"
			sd.NwkSKey, sd.AppSKey = site.Secret{Value: nwk}, site.Secret{Value: app}
			live.ProfileID = "l"
			live.NwkSKey, live.AppSKey = spell(nwk), spell(app)
		}
		st := factory("EU868")
		st.Devices = []nsapi.Device{live}
		p, err := planner.Plan(&site.Site{Version: 1, Devices: []site.Device{sd}}, st, planner.Options{})
		if err != nil {
			t.Fatalf("case %d (seed %d): %v", i, seed, err)
		}
		if len(p.Changes) != 1 || p.Changes[0].Action != plan.Update {
			t.Fatalf("case %d (seed %d): want one update, got %v", i, seed, summary(p))
		}
		c := p.Changes[0]
		b, a := c.Before.Device, c.After.Device
		for _, f := range []struct {
			name          string
			before, after string
		}{{"appKey", b.AppKey, a.AppKey}, {"nwkSKey", b.NwkSKey, a.NwkSKey}, {"appSKey", b.AppSKey, a.AppSKey}} {
			if f.before != "" && f.after == "" {
				t.Errorf("case %d (seed %d, joins %v): %s %q -> \"\": a kept key reads as removed", i, seed, joins, f.name, f.before)
			}
		}
		var txt bytes.Buffer
		if err := render.Text(&txt, p, render.TextOptions{}); err != nil {
			t.Fatal(err)
		}
		if m := keyLine.FindAllString(txt.String(), -1); len(m) > 0 {
			t.Errorf("case %d (seed %d, joins %v): the plan shows a key change no write makes:\n%s\n\n%s", i, seed, joins, strings.Join(m, "\n"), txt.String())
		}
		if !strings.Contains(txt.String(), `description = "north gate" -> "south gate"`) {
			t.Errorf("case %d (seed %d): the description change is not shown:\n%s", i, seed, txt.String())
		}
		if t.Failed() {
			return
		}
	}
}
