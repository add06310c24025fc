package cli

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gwsync/gwsync/nsapi"
)

// TestSimManyGateways: gwsync sim --gateways 3 --state-dir DIR runs three
// gateways on one broker, each answering on its own topics with its own
// state; --fault-gateway puts the fault flags on one of them only; a
// second start runs the gateways the folder holds, their state kept.
func TestSimManyGateways(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gws")
	start := regexp.MustCompile(`gwsim: 3 gateways \(24E124FFFE100000 … 24E124FFFE100002\) on (tcp://[0-9.:]+),`)
	url, _, cancel, done := startSim(t, start, "--gateways", "3", "--state-dir", dir,
		"--fault-gateway", "24E124FFFE100001", "--fail-write", "1:9")
	ctx := context.Background()
	dial := func(eui string) *nsapi.Client {
		cl, err := nsapi.Dial(ctx, nsapi.Config{Broker: url, GatewayEUI: eui, RequestTimeout: 5 * time.Second,
			RequestTopic: "gw/" + eui + "/req", ResponseTopic: "gw/" + eui + "/resp"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cl.Close() })
		return cl
	}
	dev := nsapi.DeviceWrite{DevEUI: "24E124136B316421", Name: "d1", ApplicationID: "1", ProfileID: "8f3c1b6e-4a2d-4e59-9b1a-0c7d2e5f6a01", AppKey: "2b7e151628aed2a6abf7158809cf4f3c"}
	for _, tc := range []struct {
		eui    string
		refuse bool
	}{{"24E124FFFE100000", false}, {"24E124FFFE100001", true}, {"24E124FFFE100002", false}} {
		cl := dial(tc.eui)
		err := cl.CreateDevice(ctx, dev)
		if (err != nil) != tc.refuse {
			t.Errorf("gateway %s: create: %v (refusal wanted: %v)", tc.eui, err, tc.refuse)
		}
		st, err := cl.ReadState(ctx)
		if err != nil {
			t.Fatalf("gateway %s: %v", tc.eui, err)
		}
		if want := map[bool]int{false: 1, true: 0}[tc.refuse]; len(st.Devices) != want || !strings.EqualFold(st.GatewayEUI, tc.eui) {
			t.Errorf("gateway %s: %d devices, EUI %s", tc.eui, len(st.Devices), st.GatewayEUI)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for i := range files {
		files[i] = filepath.Base(files[i])
	}
	sort.Strings(files)
	if diff := cmp.Diff([]string{"24E124FFFE100000.json", "24E124FFFE100001.json", "24E124FFFE100002.json"}, files); diff != "" {
		t.Errorf("state files (-want +got):\n%s", diff)
	}
	// Started again on the folder alone: the same gateways, state kept.
	os.Remove(filepath.Join(dir, "24E124FFFE100002.json"))
	url, _, _, _ = startSim(t, regexp.MustCompile(`gwsim: 2 gateways \(24E124FFFE100000 … 24E124FFFE100001\) on (tcp://[0-9.:]+),`), "--state-dir", dir)
	st, err := dial("24E124FFFE100000").ReadState(ctx)
	if err != nil || len(st.Devices) != 1 {
		t.Errorf("gateway 0 after a restart: %v, %+v", err, st)
	}
}
