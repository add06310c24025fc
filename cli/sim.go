package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gwsync/gwsync/gwsim"
)

// SimCmd is `gwsync sim`: a simulated gateway, with its own embedded MQTT
// broker or as a client of another broker, until SIGINT or SIGTERM.
type SimCmd struct {
	Listen        string        `default:"127.0.0.1:1883" placeholder:"ADDR" help:"Run an embedded MQTT broker on this host:port."`
	Username      string        `name:"username" placeholder:"USER" help:"The embedded broker admits only clients that log in as USER with --password (env GWSYNC_SIM_USERNAME). Without a login it admits anyone."`
	Password      string        `name:"password" placeholder:"PASS" help:"The password of --username (env GWSYNC_SIM_PASSWORD, which keeps it off the command line)."`
	MaxMessage    int           `name:"max-message" placeholder:"BYTES" help:"Largest MQTT message, topic included, the embedded broker takes from a client; a larger one drops the client (default 8388608, 8 MiB, above the largest FUOTA task)."`
	Broker        string        `placeholder:"URL" help:"Attach to this broker (tcp://, ws://) instead of embedding one; credentials from GWSYNC_USERNAME and GWSYNC_PASSWORD."`
	RequestTopic  string        `default:"milesight-gateway/{eui}/request" placeholder:"TOPIC" help:"Topic the gateway takes requests on ({eui} is the gateway EUI)."`
	ResponseTopic string        `default:"milesight-gateway/{eui}/response" placeholder:"TOPIC" help:"Topic the gateway answers on ({eui} is the gateway EUI)."`
	State         string        `default:"gwsim-state.json" placeholder:"FILE" help:"State file, kept across runs."`
	EUI           string        `name:"eui" placeholder:"EUI" help:"Gateway EUI of a new state file (default 24E124FFFEF5A6A8)."`
	ChannelPlan   string        `placeholder:"PLAN" help:"Channel plan of a new state file (default EU868)."`
	Latency       time.Duration `placeholder:"D" help:"Delay every answer by this much."`
	Jitter        time.Duration `placeholder:"D" help:"Add a random delay up to this much."`
	FailWrite     []string      `placeholder:"N:CODE" help:"Refuse the Nth write (POST/PUT/DELETE) with ns-api code CODE (repeatable)."`
	FailURL       []string      `name:"fail-url" placeholder:"SUBSTR:CODE" help:"Refuse every write whose url contains SUBSTR with code CODE (repeatable)."`
	DropResponse  []int         `placeholder:"N,..." help:"Perform the Nth write but send no answer (repeatable)."`
	DropRequest   []int         `placeholder:"N,..." help:"Neither perform nor answer the Nth write (repeatable)."`
	Disconnect    []int         `placeholder:"N,..." help:"Drop the connection of the client that sends the Nth write, neither performing nor answering it (repeatable; embedded broker only)."`
	TimeScale     float64       `default:"1" placeholder:"X" help:"Run FUOTA tasks X times faster."`
	LegacyURLs    bool          `name:"legacy-urls" help:"Answer only the spec examples' URL spellings (/deleteddevices, /api/payloadcodec)."`
	Quirks        string        `default:"tables" enum:"tables,spec-examples" placeholder:"MODE" help:"Where the spec contradicts itself, behave as its parameter tables say (tables) or as its examples show (spec-examples): URL spellings, field names, number or string types."`
	Application   []string      `name:"application" placeholder:"NAME[=ID]" help:"Hold this application besides cloud (id 1); the id defaults to the next free one (repeatable)."`
	Verbose       bool          `short:"v" help:"Log every request to stderr."`
	Gateways      int           `placeholder:"N" help:"Run N gateways on the one broker, each on its own topics, with their state files in --state-dir (EUIs counting up from 24E124FFFE100000)."`
	StateDir      string        `name:"state-dir" placeholder:"DIR" help:"Run every gateway whose state file (EUI.json) is in DIR, on the one broker; with --gateways N, add state files up to N."`
	FaultGateway  string        `name:"fault-gateway" placeholder:"EUI" help:"With several gateways: the fault flags act on this gateway only (default: on each)."`
	FailFuota     []string      `name:"fail-fuota-devices" sep:"," placeholder:"EUI,..." help:"These devices fail their firmware upgrade in every FUOTA task (the task ends failed), to test a retry flow."`
	PutReplaces   bool          `name:"put-replaces" help:"A device PUT replaces the whole device: fields it leaves out are reset."`
	NoFuota       bool          `name:"no-fuota" help:"Behave as a firmware from before FUOTA support: every /api/fuota URL answers code 21."`
	simClientQuirks
	// now, when set, is the simulated gateway's clock instead of the
	// machine's: a test moves it to a FUOTA task's start rather than
	// waiting for it. No flag sets it.
	now func() time.Time
}

// brokerOptions are the embedded broker's login and size limit, from the
// flags or else GWSYNC_SIM_USERNAME and GWSYNC_SIM_PASSWORD; user is the
// login's username ("" for none).
func (c *SimCmd) brokerOptions(env *Env) (opts []gwsim.ServeOption, user string, err error) {
	if c.Broker != "" {
		for _, f := range []struct {
			name string
			set  bool
		}{{"--username", c.Username != ""}, {"--password", c.Password != ""}, {"--max-message", c.MaxMessage != 0}} {
			if f.set {
				return nil, "", fmt.Errorf("%s: sets the embedded broker (--listen); with --broker the gateway logs in with GWSYNC_USERNAME and GWSYNC_PASSWORD", f.name)
			}
		}
		return nil, "", nil
	}
	getenv := env.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	user, pass := c.Username, c.Password
	if user == "" {
		user = getenv("GWSYNC_SIM_USERNAME")
	}
	if pass == "" {
		pass = getenv("GWSYNC_SIM_PASSWORD")
	}
	switch {
	case user != "" && pass == "":
		return nil, "", errors.New("--username: needs a password (--password or GWSYNC_SIM_PASSWORD)")
	case user == "" && pass != "":
		return nil, "", errors.New("--password: needs a username (--username or GWSYNC_SIM_USERNAME)")
	case user != "":
		opts = append(opts, gwsim.WithAuth(user, pass))
	}
	if c.MaxMessage != 0 {
		if c.MaxMessage < gwsim.MinMaxMessage || c.MaxMessage > gwsim.MaxMaxMessage {
			return nil, "", fmt.Errorf("--max-message %d: want %d to %d bytes", c.MaxMessage, gwsim.MinMaxMessage, gwsim.MaxMaxMessage)
		}
		opts = append(opts, gwsim.WithMaxMessage(c.MaxMessage))
	}
	return opts, user, nil
}

// warnAnonymous warns when the embedded broker admits anonymous clients
// on an address other hosts can reach (addr as listened on).
func warnAnonymous(env *Env, addr, user string) {
	if user == "" && !loopback(hostOf(addr)) {
		fmt.Fprintf(env.Stderr, "warning: the embedded broker on %s admits anyone who can reach it, without a login; "+
			"give --username and --password (or GWSYNC_SIM_USERNAME and GWSYNC_SIM_PASSWORD) to require one\n", addr)
	}
}

// hostOf is the host of host:port, or addr when it has no port.
func hostOf(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// faults turns the fault flags into gwsim faults.
func (c *SimCmd) faults() ([]gwsim.Fault, error) {
	var out []gwsim.Fault
	for _, s := range c.FailWrite {
		n, code, err := splitFault(s)
		if err != nil {
			return nil, fmt.Errorf("--fail-write %q: %w", s, err)
		}
		nth, err := strconv.Atoi(n)
		if err != nil || nth < 1 {
			return nil, fmt.Errorf("--fail-write %q: want N:CODE with N ≥ 1", s)
		}
		out = append(out, gwsim.Fault{Nth: nth, Code: code})
	}
	for _, s := range c.FailURL {
		sub, code, err := splitFault(s)
		if err != nil {
			return nil, fmt.Errorf("--fail-url %q: %w", s, err)
		}
		out = append(out, gwsim.Fault{URLContains: sub, Code: code, Times: -1})
	}
	for _, x := range []struct {
		flag  string
		nths  []int
		fault gwsim.Fault
	}{
		{"--drop-response", c.DropResponse, gwsim.Fault{DropResponse: true}},
		{"--drop-request", c.DropRequest, gwsim.Fault{DropRequest: true}},
		{"--disconnect", c.Disconnect, gwsim.Fault{Disconnect: true}},
	} {
		for _, n := range x.nths {
			if n < 1 {
				return nil, fmt.Errorf("%s %d: want N ≥ 1", x.flag, n)
			}
			f := x.fault
			f.Nth = n
			out = append(out, f)
		}
	}
	if len(c.Disconnect) > 0 && c.Broker != "" {
		return nil, errors.New("--disconnect: needs the embedded broker (--listen), not --broker")
	}
	return out, nil
}

// splitFault splits "X:CODE" at the last colon.
func splitFault(s string) (string, int, error) {
	i := strings.LastIndex(s, ":")
	if i <= 0 {
		return "", 0, fmt.Errorf("want X:CODE")
	}
	code, err := strconv.Atoi(s[i+1:])
	if err != nil || code <= 0 {
		return "", 0, fmt.Errorf("code %q: want a positive integer", s[i+1:])
	}
	return s[:i], code, nil
}

// Run runs the simulated gateway until SIGINT or SIGTERM.
func (c *SimCmd) Run(env *Env) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return c.run(ctx, env)
}

func (c *SimCmd) run(ctx context.Context, env *Env) error {
	faults, err := c.faults()
	if err != nil {
		return err
	}
	if c.TimeScale <= 0 {
		return fmt.Errorf("--time-scale %v: want a positive number", c.TimeScale)
	}
	quirks, err := gwsim.ParseQuirks(c.Quirks)
	if err != nil {
		return fmt.Errorf("--quirks: %w", err)
	}
	opts := gwsim.Options{EUI: c.EUI, ChannelPlan: c.ChannelPlan, TimeScale: c.TimeScale,
		Latency: c.Latency, Jitter: c.Jitter, LegacyURLs: c.LegacyURLs, Quirks: quirks,
		FailFuotaDevices: c.FailFuota, PutReplaces: c.PutReplaces, NoFuota: c.NoFuota, Now: c.now}
	for _, s := range c.Application {
		a, err := gwsim.ParseApplication(s)
		if err != nil {
			return fmt.Errorf("--application: %w", err)
		}
		opts.Applications = append(opts.Applications, a)
	}
	if err := c.simClientQuirks.apply(&opts); err != nil {
		return err
	}
	if l := env.logger(c.Verbose); l.Enabled(ctx, slog.LevelInfo) {
		opts.Logf = func(format string, args ...any) { l.Info(fmt.Sprintf(format, args...)) }
	}
	serveOpts, user, err := c.brokerOptions(env)
	if err != nil {
		return err
	}
	if c.Gateways > 0 || c.StateDir != "" {
		return c.runMany(ctx, env, opts, faults, serveOpts, user)
	}
	g, err := gwsim.Open(c.State, opts)
	if err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	for _, f := range faults {
		g.Faults().Add(f)
	}
	var srv *gwsim.Server
	if c.Broker != "" {
		srv, err = gwsim.ServeOnBroker(ctx, g, c.Broker, c.RequestTopic, c.ResponseTopic,
			env.Getenv("GWSYNC_USERNAME"), env.Getenv("GWSYNC_PASSWORD"))
	} else {
		srv, err = gwsim.ServeEmbedded(ctx, g, c.Listen, c.RequestTopic, c.ResponseTopic, serveOpts...)
	}
	if err != nil {
		_ = g.Close()
		return fmt.Errorf("sim: %w", err)
	}
	if c.Broker == "" {
		warnAnonymous(env, srv.Addr(), user)
	}
	fmt.Fprintf(env.Stdout, "gwsim: gateway %s (%s) on %s, requests on %s, responses on %s, state in %s\n",
		g.EUI(), g.ChannelPlan(), srv.URL(), srv.RequestTopic(), srv.ResponseTopic(), c.State)
	<-ctx.Done()
	serr := srv.Close()
	if err := g.Close(); err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	fmt.Fprintf(env.Stdout, "gwsim: stopped; state saved in %s\n", c.State)
	if serr != nil {
		return fmt.Errorf("sim: %w", serr)
	}
	return nil
}
