package applier_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gwsync/gwsync/applier"
	"github.com/gwsync/gwsync/gwsim"
	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
)

// TestKeptSessionAsDigests applies a device update whose plan keeps the
// ABP session as a snapshot holds it (digests in Before and After alike,
// how a plan shows a session it does not change): the update goes
// through and the gateway keeps its keys, since the write carries the
// session as read just before it. A digest After does not share with
// Before is still refused before anything is written.
func TestKeptSessionAsDigests(t *testing.T) {
	const nwk, app = "00112233445566778899aabbccddeeff", "ffeeddccbbaa99887766554433221100"
	setup := func(t *testing.T) (*fixture, nsapi.Device) {
		f := newFixture(t, gwsim.Options{})
		ctx := context.Background()
		st := must(f.c.ReadState(ctx))(t)
		var tmpl nsapi.ProfileSettings
		for _, p := range st.Profiles {
			if p.Name == "ClassA-OTAA" {
				tmpl = p.Profile
			}
		}
		tmpl.ProfileID, tmpl.SupportsJoin = "", false
		prof := must(f.c.CreateProfile(ctx, nsapi.ProfileWrite{Name: "abp", Profile: tmpl}))(t)
		if err := f.c.CreateDevice(ctx, nsapi.DeviceWrite{DevEUI: d1, Name: "lamp", Description: "north gate", ApplicationID: "1",
			ProfileID: prof, FPort: 85, DevAddr: "01020304", NwkSKey: nwk, AppSKey: app}); err != nil {
			t.Fatal(err)
		}
		live := must(f.c.GetDevice(ctx, d1))(t)
		snap := *live // as a snapshot holds it
		snap.NwkSKey, snap.AppSKey = nsapi.SecretDigest(snap.NwkSKey), nsapi.SecretDigest(snap.AppSKey)
		return f, snap
	}
	update := func(before nsapi.Device, edit func(*nsapi.Device)) *plan.Plan {
		after := before
		after.Description = "south gate"
		edit(&after)
		return &plan.Plan{FormatVersion: plan.FormatVersion, GatewayEUI: "", Changes: []plan.Change{{
			Address: "device." + d1, Kind: plan.KindDevice, Name: "lamp", ID: d1, Action: plan.Update,
			Before: &plan.Object{Device: &before}, After: &plan.Object{Device: &after}}}}
	}

	t.Run("kept", func(t *testing.T) {
		f, snap := setup(t)
		p := update(snap, func(*nsapi.Device) {})
		p.GatewayEUI = f.g.EUI()
		if _, err := applier.Apply(context.Background(), f.c, p, applier.Options{Parallelism: 1, JournalDir: t.TempDir()}); err != nil {
			t.Fatalf("apply: %v", err)
		}
		got := must(f.c.GetDevice(context.Background(), d1))(t)
		if got.Description != "south gate" {
			t.Errorf("description %q, want the update written", got.Description)
		}
		if !strings.EqualFold(got.NwkSKey, nwk) || !strings.EqualFold(got.AppSKey, app) || got.DevAddr != "01020304" {
			t.Errorf("session after the update: devAddr %q, keys changed %v %v: want the gateway's kept",
				got.DevAddr, !strings.EqualFold(got.NwkSKey, nwk), !strings.EqualFold(got.AppSKey, app))
		}
	})
	t.Run("changed digest", func(t *testing.T) {
		f, snap := setup(t)
		p := update(snap, func(d *nsapi.Device) { d.AppSKey = nsapi.SecretDigest(nwk) })
		p.GatewayEUI = f.g.EUI()
		w := f.g.Writes()
		_, err := applier.Apply(context.Background(), f.c, p, applier.Options{Parallelism: 1, JournalDir: t.TempDir()})
		var pe *applier.PlanError
		if !errors.As(err, &pe) || pe.Address != "device."+d1 {
			t.Fatalf("error %v, want a PlanError on device.%s", err, d1)
		}
		if f.g.Writes() != w {
			t.Errorf("a refused plan wrote to the gateway")
		}
	})
}
