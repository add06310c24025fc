package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gwsync/gwsync/gwsim"
	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/site"
)

const (
	exportAppKey  = "8d3a7c2e1f6b5a4938271605f4e3d2c1"
	exportNwkKey  = "1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f"
	exportAppKey2 = "77665544332211009988aabbccddeeff"
)

// seedExport gives the simulated gateway in state file path an OTAA
// device, and a multicast group holding the published default keys.
func seedExport(t *testing.T, path string) {
	t.Helper()
	ctx := context.Background()
	cl, done := simClient(t, path)
	defer done()
	if err := cl.CreateDevice(ctx, nsapi.DeviceWrite{DevEUI: "24E124136A456465", Name: "em300", ApplicationID: "1", AppKey: exportAppKey}); err != nil {
		t.Fatalf("CreateDevice: %v", err)
	}
	if err := cl.CreateDevice(ctx, nsapi.DeviceWrite{DevEUI: "24E124136A456466", Name: "em300-2", ApplicationID: "1", AppKey: exportAppKey2}); err != nil {
		t.Fatalf("CreateDevice: %v", err)
	}
	if _, err := cl.CreateGroup(ctx, nsapi.MulticastGroup{Name: "lights", McAddr: "01AB23CD", McNwkSKey: exportNwkKey, McAppSKey: site.DefaultKey,
		GroupType: "CLASS_C", DR: 0, Frequency: 869525000, PingSlotPeriod: 128}); err != nil {
		t.Fatalf("CreateGroup: %v", err)
	}
}

func noExportKey(t *testing.T, what, s string) {
	t.Helper()
	for _, k := range []string{exportAppKey, exportNwkKey, exportAppKey2} {
		if strings.Contains(strings.ToLower(s), k) {
			t.Errorf("%s holds a key in clear:\n%s", what, s)
		}
	}
}

func TestExportCommand(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "gw.json")
	seedExport(t, state)
	out := filepath.Join(dir, "site", "site.yaml") // export makes the folder
	envFile := filepath.Join(dir, "keys.env")
	t.Setenv("GWSYNC_BROKER", "")
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"export", "--broker", "sim://" + state, "--out", out, "--env-file", envFile}, nil, &stdout, &stderr); code != ExitOK {
		t.Fatalf("export exit %d: %s", code, stderr.String())
	}
	noExportKey(t, "stdout", stdout.String())
	noExportKey(t, "stderr", stderr.String())
	if stdout.Len() > 0 {
		t.Errorf("stdout = %q, want nothing (the site went to --out)", stdout.String())
	}
	y, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	noExportKey(t, "the site file", string(y))
	for _, want := range []string{"broker: sim://" + state, "appKey: ${env:DEV_24E124136A456465_APPKEY}", "mcNwkSKey: ${env:GROUP_LIGHTS_MCNWKSKEY}"} {
		if !strings.Contains(string(y), want) {
			t.Errorf("the site file does not say %q:\n%s", want, y)
		}
	}

	st, err := os.Stat(envFile)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("env file mode %v, want 0600", st.Mode().Perm())
	}
	b, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	want := []string{"DEV_24E124136A456465_APPKEY=" + exportAppKey, "DEV_24E124136A456466_APPKEY=" + exportAppKey2, "GROUP_LIGHTS_MCNWKSKEY=" + exportNwkKey}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("env file (-want +got):\n%s", diff)
	}

	// The summary, and the written site loaded back: its only problem is
	// the published default key the gateway holds for the group.
	for _, want := range []string{
		"Exported gateway 24E124FFFEF5A6A8 (EU868) to " + out + ": 0 profiles, 0 codecs, 2 devices, 1 multicast group, 0 FUOTA tasks.\n",
		"3 keys written to " + envFile + " (mode 0600)",
		"The written site, loaded back, has 0 errors and 1 warning:\n",
		"mcAppSKey left out: the gateway uses the spec's published default key",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr.String())
		}
	}

	// The export plans empty against the gateway it came from.
	stdout.Reset()
	stderr.Reset()
	for _, l := range lines {
		k, v, _ := strings.Cut(l, "=")
		t.Setenv(k, v)
	}
	if code := Main([]string{"plan", out, "--detailed-exitcode"}, nil, &stdout, &stderr); code != ExitOK {
		t.Errorf("plan of the export: exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
}

// TestExportUsesTheSiteConnection: with a SITE, export reaches the gateway
// through its connection block and writes that block again, the password
// reference kept and file paths relative to the new site file.
func TestExportUsesTheSiteConnection(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "gw.json")
	seedExport(t, state)
	if err := os.Mkdir(filepath.Join(dir, "old"), 0o755); err != nil {
		t.Fatal(err)
	}
	siteFile := filepath.Join(dir, "old", "site.yaml")
	yaml := "version: 1\ngateway:\n  eui: 24E124FFFEF5A6A8\nconnection:\n  broker: sim://" + state +
		"\n  username: gw\n  password: ${env:MQTT_PW}\n  caFile: ca.pem\n  requestTopic: gw/{eui}/req\n"
	if err := os.WriteFile(siteFile, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GWSYNC_BROKER", "")
	t.Setenv("GWSYNC_PASSWORD", "")
	t.Setenv("MQTT_PW", "hunter2")
	if err := os.Mkdir(filepath.Join(dir, "new"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "new", "site.yaml")
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"export", siteFile, "--out", out, "--inline-scripts"}, nil, &stdout, &stderr); code != ExitOK {
		t.Fatalf("export exit %d: %s", code, stderr.String())
	}
	y, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	wantConn := "connection:\n  broker: sim://" + state + "\n  requestTopic: gw/{eui}/req\n  username: gw\n  password: ${env:MQTT_PW}\n  caFile: ../old/ca.pem\n"
	if !strings.Contains(string(y), wantConn) {
		t.Errorf("the exported connection block is not\n%s\nin:\n%s", wantConn, y)
	}
	if strings.Contains(string(y)+stdout.String()+stderr.String(), "hunter2") {
		t.Errorf("the password was printed")
	}
	if !strings.Contains(stderr.String(), "give --env-file FILE to save them") {
		t.Errorf("stderr does not say how to save the keys:\n%s", stderr.String())
	}

	// A password from GWSYNC_PASSWORD stays there: the site leaves it out.
	t.Setenv("GWSYNC_PASSWORD", "from-env")
	stdout.Reset()
	if code := Main([]string{"export", siteFile, "--out", "-"}, nil, &stdout, &stderr); code != ExitOK {
		t.Fatalf("export exit %d: %s", code, stderr.String())
	}
	if strings.Contains(stdout.String(), "password:") || strings.Contains(stdout.String(), "from-env") {
		t.Errorf("a password from GWSYNC_PASSWORD was written:\n%s", stdout.String())
	}
}

func TestExportErrors(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "g.json")
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("version: 1\nbogus: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"env file to stdout", []string{"export", "--broker", "sim://" + state, "--out", filepath.Join(dir, "s.yaml"), "--env-file", "-"},
			"keys are never written to standard output"},
		{"env file is the site file", []string{"export", "--broker", "sim://" + state, "--out", filepath.Join(dir, "s.yaml"), "--env-file", filepath.Join(dir, ".", "s.yaml")},
			"are the same file"},
		{"no broker", []string{"export", "--out", filepath.Join(dir, "s.yaml")}, "no broker"},
		{"no output", []string{"export", "--broker", "sim://" + state}, "--out"},
		{"unwritable output", []string{"export", "--broker", "sim://" + state, "--out", filepath.Join(bad, "s.yaml")}, "bad.yaml"},
		{"invalid site", []string{"export", bad, "--out", filepath.Join(dir, "s.yaml")}, "bad.yaml"},
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
			if _, err := os.Stat(filepath.Join(dir, "s.yaml")); err == nil {
				t.Errorf("a site file was written")
			}
		})
	}
}

func TestRelPath(t *testing.T) {
	for _, tc := range []struct{ dir, p, want string }{
		{"/a/site", "/a/old/ca.pem", "../old/ca.pem"},
		{"/a", "/a/ca.pem", "ca.pem"},
		{"/a", "", ""},
		{"", "/a/ca.pem", "/a/ca.pem"},
	} {
		if got := relPath(tc.dir, tc.p); got != tc.want {
			t.Errorf("relPath(%q, %q) = %q, want %q", tc.dir, tc.p, got, tc.want)
		}
	}
}

// TestExportKeepsAPasswordFile: a ${file:…} password reference is
// relative to the site file, so the exported site, written elsewhere,
// refers to the same file from its own folder, and loads.
func TestExportKeepsAPasswordFile(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "gw.json")
	seedExport(t, state)
	writeFiles := map[string]string{
		"old/site.yaml":             "version: 1\ngateway:\n  eui: 24E124FFFEF5A6A8\nconnection:\n  broker: sim://" + state + "\n  password: ${file:secrets/mqtt-password}\n",
		"old/secrets/mqtt-password": "hunter2\n",
	}
	for name, text := range writeFiles {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Both sites are in one repository: a site names files inside it.
	if err := os.Mkdir(filepath.Join(dir, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GWSYNC_BROKER", "")
	t.Setenv("GWSYNC_PASSWORD", "")
	for _, tc := range []struct{ out, want string }{
		{filepath.Join(dir, "new", "site.yaml"), "password: ${file:../old/secrets/mqtt-password}\n"},
		{"-", "password: ${file:" + filepath.Join(dir, "old", "secrets", "mqtt-password") + "}\n"},
	} {
		var stdout, stderr bytes.Buffer
		if code := Main([]string{"export", filepath.Join(dir, "old", "site.yaml"), "--out", tc.out, "--env-file", filepath.Join(dir, "keys.env"), "--force"}, nil, &stdout, &stderr); code != ExitOK {
			t.Fatalf("export exit %d: %s", code, stderr.String())
		}
		y := stdout.Bytes()
		if tc.out != "-" {
			var err error
			if y, err = os.ReadFile(tc.out); err != nil {
				t.Fatal(err)
			}
		}
		if !strings.Contains(string(y), tc.want) {
			t.Errorf("--out %s: the exported site does not say %q:\n%s", tc.out, tc.want, y)
		}
		if strings.Contains(stderr.String(), "connection.password") {
			t.Errorf("--out %s: the written site's password does not load:\n%s", tc.out, stderr.String())
		}
	}
}

// TestExportTakesThePasswordOutOfTheBrokerURL: a broker URL with
// credentials (tcp://user:PASSWORD@host) is exported without them: the
// user name as username, the password as a reference whose value goes only
// to the env file. No file written, and no output, holds it.
func TestExportTakesThePasswordOutOfTheBrokerURL(t *testing.T) {
	const secret = "Hunter2-broker-secret"
	g, err := gwsim.New(gwsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := gwsim.ServeEmbedded(ctx, g, "127.0.0.1:0", DefaultRequestTopic, DefaultResponseTopic, gwsim.WithAuth("gwuser", secret))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	out := filepath.Join(dir, "site", "site.yaml")
	envFile := filepath.Join(dir, "keys.env")
	t.Setenv("GWSYNC_BROKER", "")
	t.Setenv("GWSYNC_PASSWORD", "")
	var stdout, stderr bytes.Buffer
	broker := "tcp://gwuser:" + secret + "@" + srv.Addr()
	if code := Main([]string{"export", "--broker", broker, "--gateway-eui", g.EUI(), "--out", out, "--env-file", envFile}, nil, &stdout, &stderr); code != ExitOK {
		t.Fatalf("export exit %d: %s", code, stderr.String())
	}
	if strings.Contains(stdout.String()+stderr.String(), secret) {
		t.Errorf("the output holds the broker password:\n%s\n%s", stdout.String(), stderr.String())
	}
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || path == envFile {
			return err
		}
		b, err := os.ReadFile(path)
		if err == nil && strings.Contains(string(b), secret) {
			t.Errorf("%s holds the broker password in clear", path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"broker: tcp://" + srv.Addr(), "username: gwuser", "password: ${env:GWSYNC_MQTT_PASSWORD}"} {
		if !strings.Contains(string(y), want) {
			t.Errorf("the site file does not say %q:\n%s", want, y)
		}
	}
	if b, err := os.ReadFile(envFile); err != nil || !strings.Contains(string(b), "GWSYNC_MQTT_PASSWORD="+secret) {
		t.Errorf("the env file does not carry the password (%v):\n%s", err, b)
	}
	// The exported site reaches the broker with the env file's values.
	t.Setenv("GWSYNC_MQTT_PASSWORD", secret)
	stdout.Reset()
	stderr.Reset()
	if code := Main([]string{"plan", out}, nil, &stdout, &stderr); code != ExitOK {
		t.Errorf("plan of the export: exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
}
