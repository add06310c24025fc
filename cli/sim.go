package cli

import (
	"context"
	"errors"
	"fmt"
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
	simClientQuirks
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
		Latency: c.Latency, Jitter: c.Jitter, LegacyURLs: c.LegacyURLs, Quirks: quirks}
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
	if c.Verbose {
		opts.Logf = func(format string, args ...any) { fmt.Fprintf(env.Stderr, format+"\n", args...) }
	}
	if c.Gateways > 0 || c.StateDir != "" {
		return c.runMany(ctx, env, opts, faults)
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
		srv, err = gwsim.ServeEmbedded(ctx, g, c.Listen, c.RequestTopic, c.ResponseTopic)
	}
	if err != nil {
		_ = g.Close()
		return fmt.Errorf("sim: %w", err)
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
