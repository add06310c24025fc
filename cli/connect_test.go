package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gwsync/gwsync/gwsim"
	"github.com/gwsync/gwsync/site"
)

func envOf(vars map[string]string) *Env {
	return &Env{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, Getenv: func(k string) string { return vars[k] }}
}

func TestConnectionPrecedence(t *testing.T) {
	siteConn := &site.Connection{Broker: "tcp://site:1883", Username: "site-user", Password: site.Secret{Value: "site-pass"},
		RequestTopic: "site/{eui}/req", ResponseTopic: "site/{eui}/resp", CAFile: "site-ca.pem"}
	allEnv := map[string]string{"GWSYNC_BROKER": "tcp://env:1883", "GWSYNC_USERNAME": "env-user", "GWSYNC_PASSWORD": "env-pass",
		"GWSYNC_REQUEST_TOPIC": "env/req", "GWSYNC_RESPONSE_TOPIC": "env/resp"}
	allFlags := ConnFlags{Broker: "ssl://flag:8883", Username: "flag-user", RequestTopic: "flag/req", ResponseTopic: "flag/resp",
		GatewayEUI: "24e124fffef5a6a8", CAFile: "flag-ca.pem", Insecure: true}
	cases := []struct {
		name  string
		conn  *site.Connection
		gw    site.Gateway
		env   map[string]string
		flags ConnFlags
		want  connection
	}{
		{
			name: "nothing given: default topics",
			want: connection{requestTopic: DefaultRequestTopic, responseTopic: DefaultResponseTopic},
		},
		{
			name: "site file only",
			conn: siteConn, gw: site.Gateway{EUI: "24E124FFFEF5A6A8"},
			want: connection{broker: "tcp://site:1883", username: "site-user", password: "site-pass", gatewayEUI: "24E124FFFEF5A6A8",
				requestTopic: "site/{eui}/req", responseTopic: "site/{eui}/resp", caFile: "site-ca.pem", brokerFromSite: true},
		},
		{
			name: "environment beats the site file",
			conn: siteConn, env: allEnv,
			want: connection{broker: "tcp://env:1883", username: "env-user", password: "env-pass",
				requestTopic: "env/req", responseTopic: "env/resp", caFile: "site-ca.pem"},
		},
		{
			name: "flags beat the environment; the password has no flag",
			conn: siteConn, env: allEnv, flags: allFlags, gw: site.Gateway{EUI: "0242ACFFFE160007"},
			want: connection{broker: "ssl://flag:8883", username: "flag-user", password: "env-pass", gatewayEUI: "24E124FFFEF5A6A8",
				requestTopic: "flag/req", responseTopic: "flag/resp", caFile: "flag-ca.pem", insecure: true},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := resolve(envOf(tc.env), tc.flags, tc.conn, tc.gw)
			if d := cmp.Diff(tc.want, got, cmp.AllowUnexported(connection{})); d != "" {
				t.Errorf("resolve (-want +got):\n%s", d)
			}
		})
	}
}

func TestTopicEUI(t *testing.T) {
	got, err := topic("request", DefaultRequestTopic, "24E124FFFEF5A6A8")
	if err != nil || got != "milesight-gateway/24E124FFFEF5A6A8/request" {
		t.Errorf("topic = %q, %v", got, err)
	}
	if got, err := topic("request", "fixed/topic", ""); err != nil || got != "fixed/topic" {
		t.Errorf("a topic without {eui} = %q, %v", got, err)
	}
	_, err = topic("response", DefaultResponseTopic, "")
	if err == nil || !strings.Contains(err.Error(), "gateway EUI") || !strings.Contains(err.Error(), "--gateway-eui") {
		t.Errorf("{eui} without an EUI: got %v, want an error saying how to give one", err)
	}
}

func TestConnectWithoutBroker(t *testing.T) {
	_, _, err := connect(context.Background(), envOf(nil), ConnFlags{}, nil, site.Gateway{})
	if err == nil || !strings.Contains(err.Error(), "GWSYNC_BROKER") || !strings.Contains(err.Error(), "sim://gwsim-state.json") {
		t.Errorf("got %v, want an error saying how to set a broker", err)
	}
}

func TestConnectUnreachableBrokerIsOneLine(t *testing.T) {
	_, _, err := connect(context.Background(), envOf(map[string]string{"GWSYNC_PASSWORD": "hunter2-secret"}),
		ConnFlags{Broker: "tcp://127.0.0.1:1", GatewayEUI: "24E124FFFEF5A6A8", Timeout: 2 * time.Second}, nil, site.Gateway{})
	if err == nil {
		t.Fatal("connect to a closed port succeeded")
	}
	if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "tcp://127.0.0.1:1") || strings.Contains(msg, "hunter2") {
		t.Errorf("error %q: want one line naming the broker, without the password", msg)
	}
}

func TestConnectOverMQTT(t *testing.T) {
	g, err := gwsim.New(gwsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := gwsim.ServeEmbedded(ctx, g, "127.0.0.1:0", DefaultRequestTopic, DefaultResponseTopic, gwsim.WithAuth("gw", "pw"))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	// Broker from the site, credentials from the environment, EUI from the site.
	conn := &site.Connection{Broker: "tcp://" + srv.Addr()}
	var log bytes.Buffer
	env := &Env{Stdout: &bytes.Buffer{}, Stderr: &log, Getenv: func(k string) string {
		return map[string]string{"GWSYNC_USERNAME": "gw", "GWSYNC_PASSWORD": "pw"}[k]
	}}
	cl, closer, err := connect(ctx, env, ConnFlags{Verbose: true, Window: 2}, conn, site.Gateway{EUI: g.EUI()})
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer closer()
	l, err := cl.ListProfiles(ctx)
	if err != nil || len(l.Result) == 0 {
		t.Fatalf("ListProfiles over the connection: %v, %v", l, err)
	}
	if !strings.Contains(log.String(), "GET /api/urprofiles") {
		t.Errorf("--verbose logged %q, want the request", log.String())
	}
}
