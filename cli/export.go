package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/gwsync/gwsync/export"
	"github.com/gwsync/gwsync/internal/atomicfile"
	"github.com/gwsync/gwsync/site"
)

// ExportCmd is `gwsync export [SITE] --out FILE|- [--env-file FILE]`: the
// gateway's live state as a site file, keys as ${env:NAME} references.
type ExportCmd struct {
	ConnFlags `embed:""`

	Site          string `arg:"" optional:"" help:"Site file or directory whose gateway and connection blocks to use." type:"path"`
	Out           string `name:"out" short:"o" required:"" placeholder:"FILE" help:"File to write the site to (\"-\" for standard output)."`
	EnvFile       string `name:"env-file" placeholder:"FILE" help:"Also write the keys as NAME=value lines to FILE (mode 0600), for your secret store."`
	InlineScripts bool   `name:"inline-scripts" help:"Keep codec scripts inline instead of in files under codecs/ beside --out."`
	Schema        string `name:"schema" placeholder:"PATH" help:"Start the file with a yaml-language-server modeline for the schema at PATH (gwsync schema writes it)."`
	Force         bool   `name:"force" help:"Overwrite files that exist (the site file, the env file, codec and firmware files)."`
}

// Help is the detailed help of gwsync export --help.
func (c *ExportCmd) Help() string {
	return `Reads the gateway and writes what it holds as a site file: how a gateway set up by
hand in its web UI is adopted. Export once, review, commit; from then on use plan
and apply. A plan of the exported site against the same gateway is empty.

The site file refers to applications, profiles and codecs by name and leaves out
every field that equals the default for the gateway's channel plan. Built-in
profiles and codecs are not exported. When most devices share an application,
profile or fPort, it goes to deviceDefaults.

Keys are never written in clear: each is a reference with a fixed name, such as
${env:DEV_24E124136A456465_APPKEY} or ${env:GROUP_STREET_LIGHTS_MCNWKSKEY}.
--env-file FILE saves their values as NAME=value lines in a file only you can
read (mode 0600): load it into your secret store, or into the environment of
gwsync (set -a; . FILE), keep it out of git, and delete it. Without --env-file
the values are not saved anywhere.

With --out FILE, codec scripts go to codecs/ beside FILE (--inline-scripts keeps
them in the site file) and local FUOTA firmware the gateway gives back goes to
firmware/. A gateway that does not give firmware back leaves a firmwareFile that
you must supply: the notes say which. The written site is loaded back and its
problems, if any, are shown.

Examples:
  gwsync export --broker tcp://192.168.1.10:1883 --gateway-eui 24E124FFFEF5A6A8 \
      --out site/site.yaml --env-file ~/gateway-keys.env
  gwsync export site/ --out - > exported.yaml

` + exitsRead + `
     (export: also when a file to write exists and --force is not given)`
}

// Run reads the gateway and writes the site file (and the env file).
func (c *ExportCmd) Run(env *Env) error {
	ctx := context.Background()
	if c.EnvFile == "-" {
		return fmt.Errorf("export: --env-file -: keys are never written to standard output; give a file")
	}
	if c.EnvFile != "" && c.Out != "-" && filepath.Clean(c.EnvFile) == filepath.Clean(c.Out) {
		return fmt.Errorf("export: --env-file and --out are the same file %s", c.Out)
	}
	var outs []string
	if c.Out != "-" {
		outs = append(outs, c.Out)
	}
	if c.EnvFile != "" {
		outs = append(outs, c.EnvFile)
	}
	if err := c.refuseOverwrite(outs); err != nil {
		return err
	}
	state, conn, gw, err := readLive(ctx, env, c.Site, c.ConnFlags, "export")
	if err != nil {
		return err
	}

	dir := ""
	if c.Out != "-" {
		dir = filepath.Dir(c.Out)
	}
	opts := export.Options{Schema: c.Schema, Dir: dir, InlineScripts: c.InlineScripts,
		Connection: exportConnection(env, c.ConnFlags, conn, gw, dir)}
	res, err := export.Export(state, opts)
	if err != nil {
		return err
	}
	if c.Out == "-" {
		if _, err := env.Stdout.Write(res.YAML); err != nil {
			return fmt.Errorf("export: %w", err)
		}
	} else {
		// A new site's folder (--out site/site.yaml) is made, as codecs/
		// and firmware/ beside it are.
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("export: --out %s: %w", c.Out, unwrapPathErr(err))
		}
		var files []string
		for _, f := range res.Files {
			files = append(files, filepath.Join(dir, filepath.FromSlash(f.Path)))
		}
		if err := c.refuseOverwrite(files); err != nil {
			return err
		}
		if err := res.WriteFiles(dir); err != nil {
			return err
		}
		if err := atomicfile.Write(c.Out, res.YAML, 0o644); err != nil {
			return fmt.Errorf("export: write %s: %w", c.Out, err)
		}
	}
	if c.EnvFile != "" {
		if err := res.WriteEnvFile(c.EnvFile); err != nil {
			return err
		}
	}
	c.report(env, res, state.GatewayEUI, state.ChannelPlan)
	return nil
}

// report says on stderr what was written, what the user must do, and what
// the written site's loader says of it.
func (c *ExportCmd) report(env *Env, res *export.Result, eui, plan string) {
	n := res.Counts
	to := c.Out
	if to == "-" {
		to = "standard output"
	}
	fmt.Fprintf(env.Stderr, "Exported gateway %s (%s) to %s: %s, %s, %s, %s, %s.\n",
		snapshotOrUnknown(eui), snapshotOrUnknown(plan), to,
		count(n.Profiles, "profile"), count(n.Codecs, "codec"), count(n.Devices, "device"),
		count(n.MulticastGroups, "multicast group"), count(n.FirmwareUpdates, "FUOTA task"))
	if c.Out != "-" && len(res.Files) > 0 {
		paths := make([]string, len(res.Files))
		for i, f := range res.Files {
			paths[i] = filepath.Join(filepath.Dir(c.Out), filepath.FromSlash(f.Path))
		}
		fmt.Fprintf(env.Stderr, "Wrote %s.\n", strings.Join(paths, ", "))
	}
	withValue := 0
	for _, s := range res.Secrets {
		if s.Value != "" {
			withValue++
		}
	}
	switch {
	case len(res.Secrets) == 0:
	case c.EnvFile != "":
		fmt.Fprintf(env.Stderr, "%s written to %s (mode 0600): load them into your secret store, keep the file out of git, then delete it.\n",
			count(withValue, "key"), c.EnvFile)
	default:
		fmt.Fprintf(env.Stderr, "The site refers to %s as ${env:NAME}; their values were not saved: give --env-file FILE to save them.\n",
			count(len(res.Secrets), "key"))
	}
	for _, note := range res.Notes {
		fmt.Fprintln(env.Stderr, "Note:", note)
	}
	if c.Out == "-" {
		return
	}
	// Load the written site the way plan will, with the exported keys.
	values := map[string]string{}
	for _, s := range res.Secrets {
		values[s.Name] = s.Value
	}
	lookup := func(k string) (string, bool) {
		if v, ok := values[k]; ok && v != "" {
			return v, true
		}
		if env.Getenv != nil {
			if v := env.Getenv(k); v != "" {
				return v, true
			}
		}
		return "", false
	}
	_, problems := site.Load(site.Options{LookupEnv: lookup}, c.Out)
	if len(problems) > 0 {
		fmt.Fprintf(env.Stderr, "The written site, loaded back, has %s and %s:\n",
			count(len(problems.Errors()), "error"), count(len(problems.Warnings()), "warning"))
		for _, p := range problems {
			fmt.Fprintln(env.Stderr, p.Error())
		}
	}
}

// count is "1 device", "2 devices".
func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// exportConnection is the connection block of the exported site: how
// gwsync reached the gateway, with file paths relative to the folder of the
// site file (dir; "" makes them absolute). A password from
// GWSYNC_PASSWORD stays there and is left out; one from the site keeps its
// reference (or, in clear, becomes one).
func exportConnection(env *Env, f ConnFlags, conn *site.Connection, gw site.Gateway, dir string) *site.Connection {
	r := resolve(env, f, conn, gw)
	// Credentials written into the broker URL (tcp://user:PASSWORD@host)
	// are taken out of it: the user name goes to username, the password is
	// treated as any other secret (a reference in the site, its value only
	// in the env file).
	broker, urlUser, urlPassword, hasPassword := splitUserinfo(r.broker)
	out := &site.Connection{Broker: broker, Username: r.username, ClientID: r.clientID, InsecureSkipVerify: r.insecure,
		CAFile: relPath(dir, r.caFile), CertFile: relPath(dir, r.certFile), KeyFile: relPath(dir, r.keyFile)}
	if out.Username == "" {
		out.Username = urlUser
	}
	if r.requestTopic != DefaultRequestTopic {
		out.RequestTopic = r.requestTopic
	}
	if r.responseTopic != DefaultResponseTopic {
		out.ResponseTopic = r.responseTopic
	}
	fromEnv := env.Getenv != nil && env.Getenv("GWSYNC_PASSWORD") != ""
	if hasPassword && !fromEnv && (conn == nil || (conn.Password.Value == "" && conn.Password.Ref == "")) {
		out.Password = site.Secret{Value: urlPassword}
	}
	if conn != nil && !fromEnv && (conn.Password.Value != "" || conn.Password.Ref != "") {
		out.Password = conn.Password
		// ${file:PATH} is relative to the site file it was written in.
		if rest, ok := strings.CutPrefix(conn.Password.Ref, "${file:"); ok && conn.Password.Pos.File != "" {
			p := strings.TrimSuffix(rest, "}")
			if !filepath.IsAbs(p) {
				p = filepath.Join(filepath.Dir(conn.Password.Pos.File), p)
			}
			out.Password.Ref = "${file:" + relPath(dir, p) + "}"
		}
	}
	return out
}

// relPath is p relative to dir when it can be, else (or when dir is "",
// the site going to standard output) p made absolute.
func relPath(dir, p string) string {
	if p == "" {
		return ""
	}
	abs, err := filepath.Abs(p)
	if err != nil || dir == "" {
		return abs
	}
	base, err := filepath.Abs(dir)
	if err != nil {
		return abs
	}
	if rel, err := filepath.Rel(base, abs); err == nil {
		return filepath.ToSlash(rel)
	}
	return abs
}

// unwrapPathErr drops the path an *fs.PathError repeats: messages name it.
func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// splitUserinfo takes the user name and password out of a broker URL. A
// URL that does not parse is returned as it is, with no credentials.
func splitUserinfo(broker string) (clean, user, password string, hasPassword bool) {
	u, err := url.Parse(broker)
	if err != nil || u.User == nil {
		return broker, "", "", false
	}
	user = u.User.Username()
	password, hasPassword = u.User.Password()
	u.User = nil
	return u.String(), user, password, hasPassword
}

// refuseOverwrite fails, naming them, when any of paths exists and --force
// is not given: an export never replaces a reviewed site file or a key
// file by surprise.
func (c *ExportCmd) refuseOverwrite(paths []string) error {
	if c.Force {
		return nil
	}
	var exist []string
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			exist = append(exist, p)
		}
	}
	if len(exist) == 0 {
		return nil
	}
	return fmt.Errorf("export: %s already exists; nothing was written: pass --force to overwrite, or choose another --out", strings.Join(exist, ", "))
}
