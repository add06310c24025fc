package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/gwsync/gwsync/internal/atomicfile"
	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/site"
)

// SnapshotCmd is `gwsync snapshot [SITE] --out FILE`: the gateway's live
// state as JSON, every key replaced by its digest.
type SnapshotCmd struct {
	ConnFlags `embed:""`

	Site string `arg:"" optional:"" help:"Site file or directory whose gateway and connection blocks to use." type:"path"`
	Out  string `name:"out" short:"o" required:"" help:"File to write the snapshot to (\"-\" for standard output)."`
}

// Run reads the gateway and writes the snapshot.
func (c *SnapshotCmd) Run(env *Env) error {
	state, _, _, err := readLive(context.Background(), env, c.Site, c.ConnFlags, "snapshot")
	if err != nil {
		return err
	}
	state.MaskSecrets()
	b, err := state.MarshalIndent()
	if err != nil {
		return err
	}
	if c.Out == "-" {
		_, err := env.Stdout.Write(b)
		return err
	}
	if err := atomicfile.Write(c.Out, b, 0o644); err != nil {
		return fmt.Errorf("snapshot: write %s: %w", c.Out, err)
	}
	fmt.Fprintf(env.Stderr, "Snapshot of gateway %s (%s) written to %s: %s, %s, %s, %s, %s.\n",
		snapshotOrUnknown(state.GatewayEUI), snapshotOrUnknown(state.ChannelPlan), c.Out,
		count(len(state.Profiles), "profile"), count(len(state.Devices), "device"), count(len(state.Codecs), "codec"),
		count(len(state.Groups), "multicast group"), count(len(state.Tasks), "FUOTA task"))
	return nil
}

func snapshotOrUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// loadSiteConnection loads a site for its gateway and connection blocks.
func loadSiteConnection(env *Env, path string) (*site.Site, error) {
	opts := site.Options{}
	if env.Getenv != nil {
		opts.LookupEnv = func(k string) (string, bool) {
			v := env.Getenv(k)
			return v, v != ""
		}
	}
	paths, err := sitePaths([]string{path})
	if err != nil {
		return nil, err
	}
	s, probs := site.Load(opts, paths...)
	if s == nil {
		if len(probs) == 0 {
			return nil, fmt.Errorf("site %s: cannot be loaded", path)
		}
		return nil, fmt.Errorf("site %s is invalid:\n%w", path, probs.Errors())
	}
	return s, nil
}

// readLive reads the gateway's state for snapshot and export: the
// connection comes from the site siteArg when given (else flags and
// environment alone), and a channel plan the site names but the gateway
// does not report is a warning. what names the command in errors. It
// returns the site's connection and gateway blocks too (nil and zero
// without a site).
func readLive(ctx context.Context, env *Env, siteArg string, flags ConnFlags, what string) (*nsapi.State, *site.Connection, site.Gateway, error) {
	var (
		conn *site.Connection
		gw   site.Gateway
	)
	if siteArg != "" {
		s, err := loadSiteConnection(env, siteArg)
		if err != nil {
			return nil, nil, gw, err
		}
		conn, gw = &s.Connection, s.Gateway
	}
	client, closeClient, err := connect(ctx, env, flags, conn, gw)
	if err != nil {
		return nil, nil, gw, err
	}
	state, err := client.ReadState(ctx)
	if err != nil {
		_ = closeClient()
		return nil, nil, gw, fmt.Errorf("%s: %w", what, err)
	}
	env.logger(flags.Verbose).Debug("read the gateway's state", "requests", client.Requests())
	if err := closeClient(); err != nil {
		return nil, nil, gw, fmt.Errorf("%s: close: %w", what, err)
	}
	if gw.ChannelPlan != "" && !strings.EqualFold(gw.ChannelPlan, state.ChannelPlan) {
		fmt.Fprintf(env.Stderr, "Warning: the site says channel plan %s, the gateway reports %s.\n", gw.ChannelPlan, state.ChannelPlan)
	}
	return state, conn, gw, nil
}
