package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gwsync/gwsync/gwsim"
)

const countersSite = `version: 1
gateway:
  eui: 24E124FFFEF5A6A8
profiles:
  - name: lamp-otaa
    supportsJoin: true
    supportsClassC: true
  - name: meter-abp
    supportsJoin: false
    supportsClassC: true
devices:
  - devEUI: 24E124136A000001
    name: lamp-1
    description: %[1]s
    application: cloud
    profile: lamp-otaa
    appKey: ${env:K1}
  - devEUI: 24E124136A000002
    name: meter-2
    description: %[1]s
    application: cloud
    profile: meter-abp
    devAddr: 0148A1B2
    nwkSKey: ${env:K2}
    appSKey: ${env:K1}
    fCntUp: 5
multicastGroups:
  - name: street
    mcAddr: 01AB23CD
    mcNwkSKey: ${env:K3}
    mcAppSKey: ${env:K4}
    groupType: CLASS_C
    dr: %[2]d
    devices: [24E124136A000001, 24E124136A000002]
`

// gwRecord is the part of a gwsim state file these tests read.
type gwRecord struct {
	Devices []struct {
		DevEUI, DevAddr, NwkSKey, AppSKey, AppKey, Description string
		FCntUp, FCntDown                                       int64
	} `json:"devices"`
	Groups []struct {
		Name string
		FCnt int64 `json:"fCnt"`
		DR   int64 `json:"dr"`
	} `json:"multicastGroups"`
}

func readGW(t *testing.T, path string) gwRecord {
	t.Helper()
	b, err := gwsim.ReadStateFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r gwRecord
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// traffic opens the simulated gateway's state file and moves its
// counters as radio traffic would: the OTAA device joins, frames go up
// and down, the group sends multicast downlinks.
func traffic(t *testing.T, state string, frames int64) {
	t.Helper()
	g, err := gwsim.Open(state, gwsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, eui := range []string{"24E124136A000001", "24E124136A000002"} {
		if err := g.Traffic(eui, frames, frames/2); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.MulticastTraffic("street", frames); err != nil {
		t.Fatal(err)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCountersSurviveUpdates: traffic between plan and apply neither
// makes a saved plan stale nor is undone by the apply. Device and group
// updates keep a joined OTAA device's session and counters, an ABP
// device's counters and a group's frame counter, whether the gateway
// takes a PUT as a patch (absent fields kept) or as the whole object
// (absent fields reset).
func TestCountersSurviveUpdates(t *testing.T) {
	for _, mode := range []string{"merge", "replace"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			state := filepath.Join(dir, "gw.json")
			t.Setenv("GWSYNC_BROKER", "sim://"+state+"?put="+mode)
			t.Setenv("TMPDIR", t.TempDir())
			for k, v := range map[string]string{"K1": "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "K2": "a1b2c3d4e5f60718293a4b5c6d7e8f90",
				"K3": "11223344556677889900aabbccddeeff", "K4": "ffeeddccbbaa00998877665544332211"} {
				t.Setenv(k, v)
			}
			site := filepath.Join(dir, "site.yaml")
			write := func(desc string, dr int) {
				if err := os.WriteFile(site, []byte(fmt.Sprintf(countersSite, desc, dr)), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			write("first", 0)
			if code, out, errOut := runMain(t, "apply", site, "--auto-approve"); code != 0 {
				t.Fatalf("first apply: exit %d\n%s\n%s", code, out, errOut)
			}
			traffic(t, state, 40)
			joined := readGW(t, state)

			// A change to every device and the group, planned and saved,
			// then more traffic before it is applied.
			write("second", 3)
			saved := filepath.Join(dir, "plan.json")
			if code, out, errOut := runMain(t, "plan", site, "--out", saved); code != 0 {
				t.Fatalf("plan: exit %d\n%s\n%s", code, out, errOut)
			}
			traffic(t, state, 25)
			moved := readGW(t, state)
			if code, out, errOut := runMain(t, "apply", saved, "--auto-approve"); code != 0 {
				t.Fatalf("apply of the saved plan after traffic: exit %d\n%s\n%s", code, out, errOut)
			}
			after := readGW(t, state)
			for i, d := range after.Devices {
				was, j := moved.Devices[i], joined.Devices[i]
				if d.DevEUI != was.DevEUI {
					t.Fatalf("device order moved: %s vs %s", d.DevEUI, was.DevEUI)
				}
				if d.Description != "second" {
					t.Errorf("device %s: description %q, want the update's", d.DevEUI, d.Description)
				}
				if d.FCntUp != was.FCntUp || d.FCntDown != was.FCntDown {
					t.Errorf("device %s: counters up %d down %d after the update, the gateway had %d %d", d.DevEUI, d.FCntUp, d.FCntDown, was.FCntUp, was.FCntDown)
				}
				if d.DevAddr != j.DevAddr || d.NwkSKey != j.NwkSKey || d.AppSKey != j.AppSKey || d.DevAddr == "" {
					t.Errorf("device %s: session (devAddr %q) changed by the update, was %q", d.DevEUI, d.DevAddr, j.DevAddr)
				}
				if d.DevEUI == "24E124136A000001" && d.AppKey != "0f1e2d3c4b5a69788796a5b4c3d2e1f0" {
					t.Errorf("device %s: appKey lost", d.DevEUI)
				}
			}
			if g, was := after.Groups[0], moved.Groups[0]; g.FCnt != was.FCnt || g.DR != 3 {
				t.Errorf("group: fCnt %d dr %d after the update, the gateway had fCnt %d (want it kept) and the site dr 3", g.FCnt, g.DR, was.FCnt)
			}
			if code, out, errOut := runMain(t, "plan", site, "--detailed-exitcode"); code != 0 {
				t.Fatalf("plan after apply: exit %d, want 0 (no changes)\n%s\n%s", code, out, errOut)
			}
			// A rollback of the same kind of update (a refused write after
			// the device and group updates) restores the settings, not the
			// counters.
			traffic(t, state, 10)
			moved = readGW(t, state)
			write("third", 4)
			code, out, errOut := runMain(t, "apply", site, "--auto-approve", "--broker", "sim://"+state+"?put="+mode)
			if code != 0 {
				t.Fatalf("third apply: exit %d\n%s\n%s", code, out, errOut)
			}
			if strings.Contains(out+errOut, "STALE") {
				t.Errorf("stale:\n%s", out)
			}
			after = readGW(t, state)
			for i, d := range after.Devices {
				if was := moved.Devices[i]; d.FCntUp != was.FCntUp || d.FCntDown != was.FCntDown {
					t.Errorf("third apply: device %s counters %d/%d, gateway had %d/%d", d.DevEUI, d.FCntUp, d.FCntDown, was.FCntUp, was.FCntDown)
				}
			}
		})
	}
}
