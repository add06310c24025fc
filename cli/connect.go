package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/gwsync/gwsync/gwsim"
	"github.com/gwsync/gwsync/internal/redact"
	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/site"
)

// Default topics; "{eui}" is replaced by the gateway EUI.
const (
	DefaultRequestTopic  = "milesight-gateway/{eui}/request"
	DefaultResponseTopic = "milesight-gateway/{eui}/response"
)

// ConnFlags are the connection flags every gateway command embeds (kong
// `embed:""`). Flags beat GWSYNC_* variables, which beat the site file's
// connection block. The MQTT password has no flag: it comes from the site
// file or GWSYNC_PASSWORD, never from the command line.
type ConnFlags struct {
	Broker        string `name:"broker" help:"MQTT broker URL: tcp://, ssl://, ws://, wss://HOST:PORT, or sim://FILE for a simulated gateway (env GWSYNC_BROKER)."`
	Username      string `name:"username" help:"MQTT user name (env GWSYNC_USERNAME; the password comes from GWSYNC_PASSWORD or the site file)."`
	RequestTopic  string `name:"request-topic" help:"Topic the gateway reads ns-api requests from; {eui} is replaced by the gateway EUI (env GWSYNC_REQUEST_TOPIC)."`
	ResponseTopic string `name:"response-topic" help:"Topic the gateway answers on; {eui} is replaced by the gateway EUI (env GWSYNC_RESPONSE_TOPIC)."`
	GatewayEUI    string `name:"gateway-eui" help:"Gateway EUI: sent in every request; answers from other gateways are ignored."`
	CAFile        string `name:"ca-file" help:"PEM CA certificates to verify an ssl:// or wss:// broker." type:"path"`
	CertFile      string `name:"cert-file" help:"PEM client certificate for the broker." type:"path"`
	KeyFile       string `name:"key-file" help:"PEM key of the client certificate." type:"path"`
	Insecure      bool   `name:"insecure" help:"Do not verify the broker's TLS certificate (warns on every run)."`
	// ForbidInsecure makes every weakening of the connection an error (weak.go).
	ForbidInsecure bool          `name:"forbid-insecure" help:"Refuse --insecure, insecureSkipVerify, a password in clear to another host and a site's caFile, for CI (env GWSYNC_FORBID_INSECURE=1)."`
	Timeout        time.Duration `name:"timeout" default:"10s" help:"Time allowed to connect and for each answer."`
	Window         int           `name:"window" default:"4" help:"Requests in flight at once."`
	Verbose        bool          `name:"verbose" short:"v" help:"Log every request (method, URL, duration, code) to stderr."`
	// StopTask is read by plan and apply only (makePlan).
	StopTask []string `name:"stop-task" sep:"none" placeholder:"NAME" help:"plan, apply: allow the plan to stop (delete or replace) the running FUOTA task NAME; repeatable. Without it a running task is never changed."`
}

// connection is the resolved connection settings: what connect dials.
type connection struct {
	broker        string
	username      string
	password      string
	clientID      string
	requestTopic  string
	responseTopic string
	gatewayEUI    string
	caFile        string
	certFile      string
	keyFile       string
	insecure      bool
	// brokerFromSite says the broker is the site file's own, not one
	// given by a flag or the environment.
	brokerFromSite bool
}

// resolve merges the site's connection block (may be nil), the GWSYNC_*
// environment and the flags, in that order of increasing precedence.
func resolve(env *Env, f ConnFlags, conn *site.Connection, gw site.Gateway) connection {
	var c connection
	if conn != nil {
		c = connection{
			broker: conn.Broker, username: conn.Username, password: conn.Password.Value, clientID: conn.ClientID,
			requestTopic: conn.RequestTopic, responseTopic: conn.ResponseTopic,
			caFile: conn.CAFile, certFile: conn.CertFile, keyFile: conn.KeyFile, insecure: conn.InsecureSkipVerify,
		}
	}
	c.gatewayEUI = gw.EUI
	getenv := env.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	set := func(dst *string, vals ...string) {
		for _, v := range vals {
			if v != "" {
				*dst = v
			}
		}
	}
	set(&c.broker, getenv("GWSYNC_BROKER"), f.Broker)
	c.brokerFromSite = conn != nil && conn.Broker != "" && c.broker == conn.Broker && getenv("GWSYNC_BROKER") == "" && f.Broker == ""
	set(&c.username, getenv("GWSYNC_USERNAME"), f.Username)
	set(&c.password, getenv("GWSYNC_PASSWORD"))
	set(&c.requestTopic, getenv("GWSYNC_REQUEST_TOPIC"), f.RequestTopic)
	set(&c.responseTopic, getenv("GWSYNC_RESPONSE_TOPIC"), f.ResponseTopic)
	set(&c.gatewayEUI, f.GatewayEUI)
	set(&c.caFile, f.CAFile)
	set(&c.certFile, f.CertFile)
	set(&c.keyFile, f.KeyFile)
	c.insecure = c.insecure || f.Insecure
	c.gatewayEUI = strings.ToUpper(c.gatewayEUI)
	if c.requestTopic == "" {
		c.requestTopic = DefaultRequestTopic
	}
	if c.responseTopic == "" {
		c.responseTopic = DefaultResponseTopic
	}
	return c
}

// errNoBroker says how to name a broker.
var errNoBroker = errors.New("no broker: set connection.broker in the site file, GWSYNC_BROKER, or --broker " +
	"(tcp://HOST:1883, ssl://HOST:8883; for a try-out without a gateway, --broker sim://gwsim-state.json)")

// connect opens a client: site.Connection (may be nil) overridden by
// GWSYNC_BROKER, GWSYNC_USERNAME, GWSYNC_PASSWORD, GWSYNC_REQUEST_TOPIC,
// GWSYNC_RESPONSE_TOPIC, overridden by flags. "{eui}" in topics is replaced
// by the gateway EUI. A broker URL sim://PATH runs the simulated gateway
// in-process on the state file PATH, with no network. The returned func
// closes the client (and saves a simulated gateway's state).
func connect(ctx context.Context, env *Env, f ConnFlags, conn *site.Connection, gw site.Gateway) (*nsapi.Client, func() error, error) {
	c := resolve(env, f, conn, gw)
	if c.broker == "" {
		return nil, nil, errNoBroker
	}
	warnings, err := weakSettings(env, f, conn, c)
	if err != nil {
		return nil, nil, err
	}
	warnOnce(env, warnings)
	// Whatever paho, the network or the simulated gateway say about the
	// connection passes through the one redaction of the password.
	secrets := redact.Secrets(append(redact.URLPasswords(c.broker), c.password)...)
	cl, closer, err := dialResolved(ctx, env, f, c, gw, secrets)
	return cl, closer, redact.Error(err, secrets)
}

// dialResolved opens the client of the resolved connection c.
func dialResolved(ctx context.Context, env *Env, f ConnFlags, c connection, gw site.Gateway, secrets []string) (*nsapi.Client, func() error, error) {
	cfg := nsapi.Config{
		Broker: c.broker, Username: c.username, Password: c.password, ClientID: c.clientID,
		CAFile: c.caFile, CertFile: c.certFile, KeyFile: c.keyFile, InsecureSkipVerify: c.insecure,
		GatewayEUI:     c.gatewayEUI,
		ConnectTimeout: f.Timeout,
		RequestTimeout: f.Timeout,
		Window:         f.Window,
	}
	if logf := debugf(env.logger(f.Verbose)); logf != nil {
		cfg.Logf = func(format string, args ...any) {
			logf("%s", redact.String(fmt.Sprintf(format, args...), secrets))
		}
	}

	if path, ok := strings.CutPrefix(c.broker, "sim://"); ok {
		if path == "" {
			return nil, nil, errors.New("broker sim://: no state file (sim://gwsim-state.json)")
		}
		if c.brokerFromSite {
			// The site's own state file (site.Load keeps it relative and
			// without ..) is not followed through a link, nor is it a
			// special file: the simulator reads it and writes it back.
			file, _, _ := strings.Cut(path, "?")
			if st, err := os.Lstat(file); err == nil && !st.Mode().IsRegular() {
				return nil, nil, fmt.Errorf("broker %s: the simulator's state file %s named by the site is not a regular file (%s); give another with --broker or GWSYNC_BROKER", redact.URL(c.broker), file, st.Mode().Type())
			}
		}
		// PATH?applications=NAME[=ID],…&quirks=spec-examples: see gwsim.OpenURL.
		g, err := gwsim.OpenURL(path, gwsim.Options{EUI: c.gatewayEUI, ChannelPlan: gw.ChannelPlan})
		if err != nil {
			return nil, nil, fmt.Errorf("broker %s: %w", redact.URL(c.broker), err)
		}
		t := g.Transport()
		if env.WrapTransport != nil {
			t = env.WrapTransport(t)
		}
		cl, err := nsapi.New(ctx, t, cfg)
		if err != nil {
			_ = g.Close()
			return nil, nil, fmt.Errorf("broker %s: %w", redact.URL(c.broker), err)
		}
		closer := func() error { return errors.Join(cl.Close(), g.Close()) }
		return cl, closer, nil
	}

	var err error
	if cfg.RequestTopic, err = topic("request", c.requestTopic, c.gatewayEUI); err != nil {
		return nil, nil, err
	}
	if cfg.ResponseTopic, err = topic("response", c.responseTopic, c.gatewayEUI); err != nil {
		return nil, nil, err
	}
	dial := nsapi.Dial
	if env.DialShared != nil {
		dial = env.DialShared
	}
	cl, err := dial(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return cl, cl.Close, nil
}

// topic replaces "{eui}" in t by the gateway EUI.
func topic(which, t, eui string) (string, error) {
	if !strings.Contains(t, "{eui}") {
		return t, nil
	}
	if eui == "" {
		return "", fmt.Errorf("%s topic %q: needs the gateway EUI: set gateway.eui in the site file or --gateway-eui, or give a topic without {eui}", which, t)
	}
	return strings.ReplaceAll(t, "{eui}", eui), nil
}

// siteConnection is the connection and gateway of the site at path, for
// the commands that work without a site that loads (rollback, unlock): nil
// and zero when it is absent or does not load, with a warning when warn
// and it does not load. Flags and GWSYNC_* then give the connection.
func siteConnection(env *Env, path string, warn bool) (*site.Connection, site.Gateway) {
	if _, err := os.Stat(path); err != nil {
		return nil, site.Gateway{}
	}
	paths, err := sitePaths([]string{path})
	if err != nil {
		if warn {
			fmt.Fprintf(env.Stderr, "warning: %v; connecting with flags and GWSYNC_* only\n", err)
		}
		return nil, site.Gateway{}
	}
	s, problems := site.Load(site.Options{LookupEnv: func(k string) (string, bool) {
		v := env.Getenv(k)
		return v, v != ""
	}}, paths...)
	if s == nil || len(problems.Errors()) > 0 {
		if warn {
			fmt.Fprintf(env.Stderr, "warning: %s does not load (%d errors); connecting with flags and GWSYNC_* only\n", path, len(problems.Errors()))
		}
		return nil, site.Gateway{}
	}
	return &s.Connection, s.Gateway
}
