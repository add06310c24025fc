package nsapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/gwsync/gwsync/gwsim"
	"github.com/gwsync/gwsync/nsapi"
)

// The client against both readings of the spec that gwsim can take: the
// parameter tables (default) and the examples (spec-examples). Each test
// here fails on one of the two gateways without its fix: the session key
// sent under both spellings, codec URL fallbacks remembered per method,
// the membership removal fallback, and clearable fields sent empty.

var modes = []gwsim.Quirks{gwsim.QuirksTables, gwsim.QuirksSpecExamples}

// modeName names a mode for a subtest.
func modeName(m gwsim.Quirks) string {
	if m == gwsim.QuirksTables {
		return "tables-mode"
	}
	return string(m) + "-mode"
}

// eachMode runs f against an in-process gateway in each mode, and against
// one on the embedded broker in spec-examples mode (its envelope carries
// gatewayEUI twice).
func eachMode(t *testing.T, f func(t *testing.T, c *nsapi.Client, g *gwsim.Gateway)) {
	for _, m := range modes {
		t.Run(modeName(m), func(t *testing.T) {
			c, g := inProcess(t, gwsim.Options{Quirks: m}, nsapi.Config{RequestTimeout: 5 * time.Second})
			f(t, c, g)
		})
	}
	t.Run("spec-examples-mode-over-mqtt", func(t *testing.T) {
		c, g := embedded(t, gwsim.Options{Quirks: gwsim.QuirksSpecExamples}, nsapi.Config{RequestTimeout: 5 * time.Second})
		f(t, c, g)
	})
}

func abpProfile(t *testing.T, c *nsapi.Client) string {
	t.Helper()
	s := findProfile(t, c, "ClassA-OTAA").Write()
	s.Name, s.Profile.SupportsJoin = "ABP", false
	id, err := c.CreateProfile(context.Background(), s)
	if err != nil {
		t.Fatalf("CreateProfile: %v", err)
	}
	return id
}

func device(t *testing.T, c *nsapi.Client, eui string) *nsapi.Device {
	t.Helper()
	d, err := c.GetDevice(context.Background(), eui)
	if err != nil {
		t.Fatalf("GetDevice: %v", err)
	}
	return d
}

const (
	eui1    = "24E124136A456465"
	nwkSKey = "00112233445566778899aabbccddeeff"
	appSKey = "ffeeddccbbaa99887766554433221100"
	appKey  = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
)

// An ABP device's network session key is really set, whichever spelling
// the gateway reads, at create and at update.
func TestQuirksABPSessionKey(t *testing.T) {
	eachMode(t, func(t *testing.T, c *nsapi.Client, _ *gwsim.Gateway) {
		ctx := context.Background()
		abp := abpProfile(t, c)
		d := nsapi.Device{DevEUI: eui1, Name: "am307", ApplicationID: "1", ProfileID: abp, FPort: 85,
			DevAddr: "01F3A7D4", NwkSKey: nwkSKey, AppSKey: appSKey}
		if err := c.CreateDevice(ctx, d.Write()); err != nil {
			t.Fatalf("CreateDevice: %v", err)
		}
		if got := device(t, c, eui1).NwkSKey; got != nwkSKey {
			t.Fatalf("after create the gateway holds nwkSKey %s…, want the one sent", got[:min(4, len(got))])
		}
		d.NwkSKey = appKey
		if err := c.UpdateDevice(ctx, eui1, d.Write()); err != nil {
			t.Fatalf("UpdateDevice: %v", err)
		}
		if got := device(t, c, eui1).NwkSKey; got != appKey {
			t.Errorf("after update the gateway holds nwkSKey %s…, want the one sent", got[:min(4, len(got))])
		}
	})
}

// Codec create, update, list and delete, twice (the second time on the
// spellings learnt).
func TestQuirksCodecs(t *testing.T) {
	eachMode(t, func(t *testing.T, c *nsapi.Client, _ *gwsim.Gateway) {
		ctx := context.Background()
		for round := range 2 {
			id, err := c.CreateCodec(ctx, nsapi.CodecWrite{Name: "k", DecoderScript: "x", FPort: 85})
			if err != nil {
				t.Fatalf("round %d: CreateCodec: %v", round+1, err)
			}
			if err := c.UpdateCodec(ctx, id, nsapi.CodecWrite{Name: "k", DecoderScript: "y", FPort: 85}); err != nil {
				t.Fatalf("round %d: UpdateCodec: %v", round+1, err)
			}
			l, err := c.ListCodecs(ctx, nsapi.CodecTypeCustom, "")
			if err != nil || len(l) != 1 || l[0].DecoderScript != "y" || string(l[0].ID) != id {
				t.Fatalf("round %d: ListCodecs = %+v, %v; want codec %s with the updated script", round+1, l, err, id)
			}
			if err := c.DeleteCodec(ctx, id); err != nil {
				t.Fatalf("round %d: DeleteCodec: %v", round+1, err)
			}
			if l, err := c.ListCodecs(ctx, nsapi.CodecTypeCustom, ""); err != nil || len(l) != 0 {
				t.Fatalf("round %d: after the delete ListCodecs = %+v, %v", round+1, l, err)
			}
		}
	})
}

// A member is removed from a multicast group.
func TestQuirksMemberRemoval(t *testing.T) {
	eachMode(t, func(t *testing.T, c *nsapi.Client, _ *gwsim.Gateway) {
		ctx := context.Background()
		d := nsapi.Device{DevEUI: eui1, Name: "em300", ApplicationID: "1", ProfileID: classA(t, c), FPort: 85, SupportsJoin: true, AppKey: appKey}
		if err := c.CreateDevice(ctx, d.Write()); err != nil {
			t.Fatalf("CreateDevice: %v", err)
		}
		gid, err := c.CreateGroup(ctx, nsapi.MulticastGroup{Name: "g", McAddr: "01AB23CD", McNwkSKey: nwkSKey, McAppSKey: appSKey,
			GroupType: "CLASS_C", Frequency: 869525000, PingSlotPeriod: 128})
		if err != nil {
			t.Fatalf("CreateGroup: %v", err)
		}
		if err := c.AddGroupDevices(ctx, gid, []string{eui1}); err != nil {
			t.Fatalf("AddGroupDevices: %v", err)
		}
		if err := c.RemoveGroupDevices(ctx, gid, []string{eui1}); err != nil {
			t.Fatalf("RemoveGroupDevices: %v", err)
		}
		gs, err := c.ListGroups(ctx, "")
		if err != nil || len(gs) != 1 || len(gs[0].Devices) != 0 {
			t.Errorf("groups after the removal: %+v, %v; want g without members", gs, err)
		}
	})
}

// Fields removed from a device are cleared by the update: Modbus settings,
// and the keys of the join type left (OTAA to ABP and back).
func TestQuirksClearFields(t *testing.T) {
	eachMode(t, func(t *testing.T, c *nsapi.Client, _ *gwsim.Gateway) {
		ctx := context.Background()
		otaa := classA(t, c)
		d := nsapi.Device{DevEUI: eui1, Name: "em300", Description: "lobby", ApplicationID: "1", ProfileID: otaa, FPort: 85,
			SupportsJoin: true, AppKey: appKey, MbMode: "tcp", MbFramePort: 10, MbTcpPort: 502}
		if err := c.CreateDevice(ctx, d.Write()); err != nil {
			t.Fatalf("CreateDevice: %v", err)
		}
		got := device(t, c, eui1)
		if got.MbMode != "tcp" || got.MbFramePort != 10 || got.MbTcpPort != 502 {
			t.Fatalf("Modbus after create: %q %d %d", got.MbMode, got.MbFramePort, got.MbTcpPort)
		}
		d.MbMode, d.MbFramePort, d.MbTcpPort, d.Description = "", 0, 0, ""
		if err := c.UpdateDevice(ctx, eui1, d.Write()); err != nil {
			t.Fatalf("UpdateDevice: %v", err)
		}
		got = device(t, c, eui1)
		if got.MbMode != "" || got.MbFramePort != 0 || got.MbTcpPort != 0 || got.Description != "" {
			t.Errorf("after clearing: mbMode %q, mbFramePort %d, mbTcpPort %d, description %q; want all empty",
				got.MbMode, got.MbFramePort, got.MbTcpPort, got.Description)
		}

		// OTAA to ABP: the appKey goes.
		abp := nsapi.Device{DevEUI: eui1, Name: "em300", ApplicationID: "1", ProfileID: abpProfile(t, c), FPort: 85,
			DevAddr: "01F3A7D4", NwkSKey: nwkSKey, AppSKey: appSKey}
		if err := c.UpdateDevice(ctx, eui1, abp.Write()); err != nil {
			t.Fatalf("UpdateDevice to ABP: %v", err)
		}
		got = device(t, c, eui1)
		if got.AppKey != "" || got.DevAddr != "01F3A7D4" || got.NwkSKey != nwkSKey || got.AppSKey != appSKey {
			t.Errorf("after the switch to ABP: appKey set %v, devAddr %q, session keys as sent %v %v",
				got.AppKey != "", got.DevAddr, got.NwkSKey == nwkSKey, got.AppSKey == appSKey)
		}
		// And back: the session keys and address go.
		if err := c.UpdateDevice(ctx, eui1, d.Write()); err != nil {
			t.Fatalf("UpdateDevice to OTAA: %v", err)
		}
		got = device(t, c, eui1)
		if got.AppKey != appKey || got.DevAddr != "" || got.NwkSKey != "" || got.AppSKey != "" {
			t.Errorf("after the switch back to OTAA: appKey as sent %v, devAddr %q, session keys left %v %v",
				got.AppKey == appKey, got.DevAddr, got.NwkSKey != "", got.AppSKey != "")
		}
	})
}

// A mistyped gateway EUI against a gateway that answers code 25: the
// request ends at once, naming the EUI.
func TestQuirksMistypedGatewayEUI(t *testing.T) {
	for _, m := range modes {
		t.Run(modeName(m), func(t *testing.T) {
			c, _ := embedded(t, gwsim.Options{Quirks: m}, nsapi.Config{GatewayEUI: "24E124FFFEF5A6A9", RequestTimeout: 10 * time.Second})
			start := time.Now()
			_, err := c.ReadState(context.Background())
			if !nsapi.IsCode(err, nsapi.CodeGatewayMismatch) {
				t.Fatalf("ReadState: %v, want code 25", err)
			}
			if time.Since(start) > 3*time.Second {
				t.Errorf("ReadState took %s: code 25 must end it at once", time.Since(start))
			}
		})
	}
}
