package site

import (
	"os"
	"path/filepath"
	"testing"
)

// TestPeek: Peek finds the gateway and connection blocks of a site folder,
// with the password reference resolved, as Load does, and says when it
// finds nothing it can use.
func TestPeek(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.yaml", `# the gateway
---
version: 1
gateway:
  # comment inside
  eui: "24e124fffef5a6a8"

  channelPlan: EU868
devices:
  - devEUI: "24E1241234567890"
    name: connection
    application: cloud
    appKey: ${env:NOPE}
`)
	write("b.yaml", `connection:
  broker: tcp://127.0.0.1:1883
  username: gw
  password: ${env:MQTT_PASSWORD}
  caFile: ca.pem
profiles: []
`)
	env := func(k string) (string, bool) {
		if k == "MQTT_PASSWORD" {
			return "s3cret", true
		}
		return "", false
	}
	conn, gw, ok := Peek(Options{LookupEnv: env}, dir)
	if !ok {
		t.Fatal("Peek found nothing")
	}
	if gw.EUI != "24E124FFFEF5A6A8" || gw.ChannelPlan != "EU868" {
		t.Errorf("gateway %+v", gw)
	}
	if conn.Broker != "tcp://127.0.0.1:1883" || conn.Username != "gw" || conn.Password.Value != "s3cret" ||
		conn.CAFile != filepath.Join(dir, "ca.pem") {
		t.Errorf("connection %+v", conn)
	}
	full, problems := Load(Options{LookupEnv: func(k string) (string, bool) {
		if k == "NOPE" {
			return "000102030405060708090a0b0c0d0e0f", true
		}
		return env(k)
	}}, dir)
	if full == nil {
		t.Fatal(problems)
	}
	full.Connection.Password.Pos, conn.Password.Pos = Pos{}, Pos{} // Peek's lines are of the cut-out text
	if full.Connection != conn || full.Gateway.EUI != gw.EUI || full.Gateway.ChannelPlan != gw.ChannelPlan {
		t.Errorf("Load gives %+v %+v, Peek %+v %+v", full.Connection, full.Gateway, conn, gw)
	}

	// A password that cannot be resolved: nothing usable.
	if _, _, ok := Peek(Options{LookupEnv: func(string) (string, bool) { return "", false }}, dir); ok {
		t.Error("Peek is ok with an unset password reference")
	}
	// An alias into the blocks from elsewhere: nothing usable.
	write("b.yaml", "x: &c\n  broker: tcp://h:1\nconnection: *c\n")
	if _, _, ok := Peek(Options{LookupEnv: env}, dir); ok {
		t.Error("Peek is ok with an alias it cannot see")
	}
}
