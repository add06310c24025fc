package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/site"
)

const snapKey = "0F1E2D3C4B5A69788796A5B4C3D2E1F0"

// seedSim gives the simulated gateway in state file path a device with an
// appKey and a multicast group with session keys.
func seedSim(t *testing.T, path string) {
	t.Helper()
	ctx := context.Background()
	cl, done := simClient(t, path)
	defer done()
	profiles, err := cl.ListProfiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.CreateDevice(ctx, nsapi.DeviceWrite{DevEUI: "24E124136A456465", Name: "em300", ApplicationID: "1",
		ProfileID: profiles.Result[0].ID(), AppKey: snapKey}); err != nil {
		t.Fatalf("CreateDevice: %v", err)
	}
	if _, err := cl.CreateGroup(ctx, nsapi.MulticastGroup{Name: "lights", McAddr: "01AB23CD", McNwkSKey: snapKey, McAppSKey: snapKey,
		GroupType: "CLASS_C", DR: 0, Frequency: 869525000, PingSlotPeriod: 128}); err != nil {
		t.Fatalf("CreateGroup: %v", err)
	}
}

func TestSnapshotCommand(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "gwsim-state.json")
	seedSim(t, state)
	out := filepath.Join(dir, "snap.json")

	var stdout, stderr bytes.Buffer
	if code := Main([]string{"snapshot", "--broker", "sim://" + state, "--out", out}, nil, &stdout, &stderr); code != ExitOK {
		t.Fatalf("snapshot exit %d: %s", code, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.ToLower(string(b)), strings.ToLower(snapKey)) {
		t.Fatalf("snapshot holds a key in clear:\n%s", b)
	}
	sum := sha256.Sum256([]byte(strings.ToLower(snapKey)))
	digest := "sha256:" + hex.EncodeToString(sum[:])
	var s nsapi.State
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("snapshot is not a state: %v", err)
	}
	if s.FormatVersion != nsapi.StateFormatVersion || s.GatewayEUI == "" || s.ChannelPlan == "" {
		t.Errorf("snapshot header: format %d, gateway %q, plan %q", s.FormatVersion, s.GatewayEUI, s.ChannelPlan)
	}
	if len(s.Devices) != 1 || s.Devices[0].AppKey != digest {
		t.Errorf("device appKey in the snapshot = %+v, want %s", s.Devices, digest)
	}
	if len(s.Groups) != 1 || s.Groups[0].McNwkSKey != digest || s.Groups[0].McAppSKey != digest {
		t.Errorf("group keys in the snapshot = %+v, want %s", s.Groups, digest)
	}
	if !strings.Contains(stderr.String(), "written to "+out) {
		t.Errorf("stderr = %q, want a line naming the file", stderr.String())
	}

	// The same gateway gives the same bytes.
	out2 := filepath.Join(dir, "snap2.json")
	if code := Main([]string{"snapshot", "--broker", "sim://" + state, "-o", out2}, nil, &stdout, &stderr); code != ExitOK {
		t.Fatalf("second snapshot exit %d: %s", code, stderr.String())
	}
	b2, err := os.ReadFile(out2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, b2) {
		t.Errorf("two snapshots of one gateway differ")
	}
}

func TestSnapshotToStdoutFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "gwsim-state.json")
	seedSim(t, state)
	var stdout, stderr bytes.Buffer
	env := &Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string {
		if k == "GWSYNC_BROKER" {
			return "sim://" + state
		}
		return ""
	}}
	if err := (&SnapshotCmd{Out: "-"}).Run(env); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	var s nsapi.State
	if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
		t.Fatalf("stdout is not a snapshot: %v\n%s", err, stdout.String())
	}
	if len(s.Devices) != 1 {
		t.Errorf("snapshot devices = %d, want 1", len(s.Devices))
	}
}

func TestSnapshotErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no broker", []string{"snapshot", "--out", filepath.Join(dir, "s.json")}, "no broker"},
		{"no output", []string{"snapshot", "--broker", "sim://" + filepath.Join(dir, "g.json")}, "--out"},
		{"unwritable output", []string{"snapshot", "--broker", "sim://" + filepath.Join(dir, "g.json"), "--out", filepath.Join(dir, "missing", "s.json")}, "missing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GWSYNC_BROKER", "")
			var stdout, stderr bytes.Buffer
			if code := Main(tc.args, nil, &stdout, &stderr); code != ExitError {
				t.Errorf("exit %d, want %d", code, ExitError)
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr = %q, want it to mention %q", stderr.String(), tc.want)
			}
		})
	}
}

func TestSnapshotUsesTheSiteConnection(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "gw.json")
	seedSim(t, state)
	siteFile := filepath.Join(dir, "site.yaml")
	yaml := "version: 1\ngateway:\n  eui: 24E124FFFEF5A6A8\n  channelPlan: EU868\nconnection:\n  broker: sim://" + state + "\n"
	if err := os.WriteFile(siteFile, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "snap.json")
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"snapshot", siteFile, "--out", out}, nil, &stdout, &stderr); code != ExitOK {
		t.Fatalf("snapshot exit %d: %s", code, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var s nsapi.State
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if s.GatewayEUI != "24E124FFFEF5A6A8" || len(s.Devices) != 1 {
		t.Errorf("snapshot through the site's broker: gateway %q, %d devices; want the seeded gateway", s.GatewayEUI, len(s.Devices))
	}

	// An invalid site is refused before anything is read.
	if err := os.WriteFile(siteFile, []byte("version: 1\nbogus: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	if code := Main([]string{"snapshot", siteFile, "--out", out}, nil, &stdout, &stderr); code != ExitError {
		t.Errorf("invalid site: exit %d, want %d", code, ExitError)
	}
	if !strings.Contains(stderr.String(), "site.yaml") {
		t.Errorf("invalid site: stderr %q does not name the file", stderr.String())
	}
}

// simClient connects to the simulated gateway in state file path the way
// the commands do (a sim:// broker); done closes it, saving the state.
func simClient(t *testing.T, path string) (cl *nsapi.Client, done func()) {
	t.Helper()
	cl, closer, err := connect(context.Background(), envOf(nil), ConnFlags{Broker: "sim://" + path}, nil, site.Gateway{})
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	return cl, func() {
		if err := closer(); err != nil {
			t.Errorf("close: %v", err)
		}
	}
}
