package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

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
	ctx := context.Background()
	var (
		conn *site.Connection
		gw   site.Gateway
	)
	if c.Site != "" {
		s, err := loadSiteConnection(env, c.Site)
		if err != nil {
			return err
		}
		conn, gw = &s.Connection, s.Gateway
	}
	client, closeClient, err := connect(ctx, env, c.ConnFlags, conn, gw)
	if err != nil {
		return err
	}
	state, err := client.ReadState(ctx)
	if err != nil {
		_ = closeClient()
		return fmt.Errorf("snapshot: %w", err)
	}
	if err := closeClient(); err != nil {
		return fmt.Errorf("snapshot: close: %w", err)
	}
	if gw.ChannelPlan != "" && !strings.EqualFold(gw.ChannelPlan, state.ChannelPlan) {
		fmt.Fprintf(env.Stderr, "Warning: the site says channel plan %s, the gateway reports %s.\n", gw.ChannelPlan, state.ChannelPlan)
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
	if err := writeSnapshotFile(c.Out, b); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	fmt.Fprintf(env.Stderr, "Snapshot of gateway %s (%s) written to %s: %s, %s, %s, %s, %s.\n",
		snapshotOrUnknown(state.GatewayEUI), snapshotOrUnknown(state.ChannelPlan), c.Out,
		count(len(state.Profiles), "profile"), count(len(state.Devices), "device"), count(len(state.Codecs), "codec"),
		count(len(state.Groups), "multicast group"), count(len(state.Tasks), "FUOTA task"))
	if c.Verbose {
		fmt.Fprintf(env.Stderr, "%d ns-api requests.\n", client.Requests())
	}
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
	s, probs := site.Load(opts, path)
	if s == nil {
		if len(probs) == 0 {
			return nil, fmt.Errorf("site %s: cannot be loaded", path)
		}
		return nil, fmt.Errorf("site %s is invalid:\n%w", path, probs.Errors())
	}
	return s, nil
}

// writeSnapshotFile writes b to path through a temporary file in the same
// folder, so a reader never sees half a file.
func writeSnapshotFile(path string, b []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, werr := f.Write(b)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
