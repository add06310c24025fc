package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gwsync/gwsync/gwsim"
)

// firstSimEUI is the EUI of the first gateway gwsync sim --gateways makes.
const firstSimEUI = 0x24E124FFFE100000

// runMany runs the gateways of a state directory on one broker.
func (c *SimCmd) runMany(ctx context.Context, env *Env, opts gwsim.Options, faults []gwsim.Fault, serveOpts []gwsim.ServeOption, user string) error {
	if c.Gateways < 0 {
		return fmt.Errorf("--gateways %d: want N ≥ 1", c.Gateways)
	}
	if c.EUI != "" {
		return errors.New("--eui: with several gateways each takes the EUI its state file is named by")
	}
	if !strings.Contains(c.RequestTopic, "{eui}") || !strings.Contains(c.ResponseTopic, "{eui}") {
		return errors.New("sim: several gateways need topics with {eui}, one pair per gateway")
	}
	dir := c.StateDir
	if dir == "" {
		dir = "gwsim-gateways"
	}
	paths, err := gwsim.StateDir(dir, c.Gateways, firstSimEUI)
	if err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	if len(paths) == 0 {
		return fmt.Errorf("sim: %s holds no state file (EUI.json); --gateways N makes them", dir)
	}
	var gws []*gwsim.Gateway
	var srvs []*gwsim.Server
	defer func() {
		for i := len(srvs) - 1; i >= 0; i-- {
			_ = srvs[i].Close()
		}
		for _, g := range gws {
			_ = g.Close()
		}
	}()
	faulted := false
	for _, p := range paths {
		o := opts
		o.EUI = gwsim.EUIOfStateFile(p)
		g, err := gwsim.Open(p, o)
		if err != nil {
			return fmt.Errorf("sim: %w", err)
		}
		gws = append(gws, g)
		if c.FaultGateway == "" || strings.EqualFold(c.FaultGateway, g.EUI()) {
			faulted = faulted || c.FaultGateway != ""
			for _, f := range faults {
				g.Faults().Add(f)
			}
		}
		var srv *gwsim.Server
		switch {
		case c.Broker != "":
			srv, err = gwsim.ServeOnBroker(ctx, g, c.Broker, c.RequestTopic, c.ResponseTopic,
				env.Getenv("GWSYNC_USERNAME"), env.Getenv("GWSYNC_PASSWORD"))
		case len(srvs) == 0:
			srv, err = gwsim.ServeEmbedded(ctx, g, c.Listen, c.RequestTopic, c.ResponseTopic, serveOpts...)
			if err == nil {
				warnAnonymous(env, srv.Addr(), user)
			}
		default:
			srv, err = srvs[0].Attach(g, c.RequestTopic, c.ResponseTopic)
		}
		if err != nil {
			return fmt.Errorf("sim: gateway %s: %w", g.EUI(), err)
		}
		srvs = append(srvs, srv)
	}
	if c.FaultGateway != "" && !faulted {
		return fmt.Errorf("--fault-gateway %s: no such gateway in %s", c.FaultGateway, dir)
	}
	fmt.Fprintf(env.Stdout, "gwsim: %d gateways (%s … %s) on %s, requests on %s, responses on %s, state in %s\n",
		len(gws), gws[0].EUI(), gws[len(gws)-1].EUI(), srvs[0].URL(), c.RequestTopic, c.ResponseTopic, dir)
	<-ctx.Done()
	var errs []error
	for i := len(srvs) - 1; i >= 0; i-- {
		errs = append(errs, srvs[i].Close())
	}
	srvs = nil
	for _, g := range gws {
		errs = append(errs, g.Close())
	}
	gws = nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	fmt.Fprintf(env.Stdout, "gwsim: stopped; state saved in %s\n", dir)
	return nil
}
