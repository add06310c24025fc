package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/gwsync/gwsync/applier"
	"github.com/gwsync/gwsync/band"
	"github.com/gwsync/gwsync/internal/atomicfile"
	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
	"github.com/gwsync/gwsync/planner"
	"github.com/gwsync/gwsync/render"
	"github.com/gwsync/gwsync/site"
)

// PlanCmd is `gwsync plan`: it reads the gateway (or a snapshot), compares
// it with the site and prints the ordered plan.
type PlanCmd struct {
	Site             []string `arg:"" name:"site" help:"Site file or directory of site files (merged into one site)."`
	Out              string   `name:"out" placeholder:"FILE" help:"Also save the plan to FILE (secrets as digests) for gwsync apply FILE."`
	Format           string   `name:"format" enum:"text,markdown,json" default:"text" help:"Output format: text, markdown (a pull-request comment) or json."`
	DetailedExitcode bool     `name:"detailed-exitcode" help:"Exit 0 when there are no changes, 2 when there are (1 on error)."`
	State            string   `name:"state" placeholder:"SNAPSHOT" type:"path" help:"Plan against a snapshot file (gwsync snapshot) instead of the gateway."`
	NoColor          bool     `name:"no-color" help:"No colours, even on a terminal (NO_COLOR works too)."`
	EnvFileFlag      `embed:""`
	ConnFlags        `embed:""`
	FleetFlags       `embed:""`
}

// planRun is what makePlan made, and what it was made from.
type planRun struct {
	Plan  *plan.Plan
	Site  *site.Site
	State *nsapi.State
	// Client is the open gateway client (nil when planned from a snapshot);
	// Close closes it (a no-op for snapshots). The caller calls Close.
	Client *nsapi.Client
	Close  func() error
	// Options are the planner options the plan was made with.
	Options planner.Options
}

// makePlan loads the site (printing its warnings to stderr), reads the live
// state from the snapshot file stateFile or, when it is "", from the gateway
// (connect with flags), and plans. Site errors and planning problems are
// printed and returned as an exit-1 error. On success the caller owns
// run.Close. gwsync apply makes its plans with it too.
func makePlan(ctx context.Context, env *Env, siteArgs []string, stateFile string, flags ConnFlags) (*planRun, error) {
	opts := site.Options{LookupEnv: func(k string) (string, bool) {
		v := env.Getenv(k)
		return v, v != ""
	}, Offline: stateFile != "", PasswordGiven: env.Getenv("GWSYNC_PASSWORD") != ""}
	journalDir := journalDirFor(siteArgs)
	siteArgs, err := sitePaths(siteArgs)
	if err != nil {
		return nil, withExit(ExitError, err)
	}
	var early *earlyRead
	if stateFile == "" {
		early = startEarlyRead(ctx, env, flags, opts, siteArgs)
	}
	s, problems := site.Load(opts, siteArgs...)
	for _, p := range problems {
		fmt.Fprintln(env.Stderr, p.Error())
	}
	if s == nil || len(problems.Errors()) > 0 {
		early.discard()
		return nil, withExit(ExitError, fmt.Errorf("the site has %s; nothing was planned or written", count(len(problems.Errors()), "error")))
	}
	run := &planRun{Site: s, Close: func() error { return nil }}
	if env.JournalDir != "" {
		journalDir = env.JournalDir // a fleet site
	}
	popts := planner.Options{StopTasks: flags.StopTask}
	if stateFile != "" {
		st, err := readSnapshot(stateFile)
		if err != nil {
			return nil, withExit(ExitError, err)
		}
		if s.Gateway.EUI != "" && st.GatewayEUI != "" && !strings.EqualFold(s.Gateway.EUI, st.GatewayEUI) {
			return nil, withExit(ExitError, fmt.Errorf("snapshot %s: it is of gateway %s, the site is for %s", stateFile, st.GatewayEUI, s.Gateway.EUI))
		}
		run.State = st
		if n := assumeUnsetKeys(s, st); n > 0 {
			fmt.Fprintf(env.Stderr, "warning: %s not set: this offline plan takes the snapshot's keys as unchanged (new resources get a placeholder); plan against the gateway and apply need them\n", count(n, "key reference"))
		}
	} else {
		cl, closer, st, err := readGateway(ctx, env, flags, s, early)
		if err != nil {
			return nil, withExit(ExitError, err)
		}
		env.logger(flags.Verbose).Debug("read the gateway's state", "requests", cl.Requests())
		run.State, run.Client, run.Close = st, cl, closer
		popts.OfficialFirmware = officialLookup(ctx, cl)
		if len(s.FirmwareUpdates) > 0 && !st.NoFuota {
			popts.PayloadSizes = payloadSizes(ctx, env, cl)
			popts.FirmwareDevices = firmwareDevices(ctx, cl) // fuota.go
			popts.Now = time.Now
		}
	}
	// What gwsync wrote of the write-only values: their digests on the
	// gateway (from any checkout), the values from this checkout's cache.
	popts.CodecJSONDigests, popts.FirmwareDigests, popts.WrittenCodecJSON = applier.WrittenDigests(journalDir, s.Gateway.EUI, run.State.Records)
	if err := checkLivePlan(env, opts, siteArgs, s, run.State); err != nil {
		_ = run.Close()
		return nil, err
	}
	popts.Estimates = true
	run.Options = popts
	p, err := planner.Plan(s, run.State, popts)
	if err != nil {
		_ = run.Close()
		return nil, withExit(ExitError, err)
	}
	p.SiteDigest = s.Digest()
	if stateFile == "" {
		// what each resource was, for a STALE refusal to say what moved
		p.StateDigests = planner.StateDigests(run.State)
	}
	run.Plan = p
	return run, nil
}

// checkLivePlan checks a site that names no channel plan against the one
// the gateway reports, as validate does when gateway.channelPlan is set:
// the same messages at the same positions. The site is loaded again with
// that plan; only its errors are printed (the warnings were).
func checkLivePlan(env *Env, opts site.Options, siteArgs []string, s *site.Site, st *nsapi.State) error {
	if s.Gateway.ChannelPlan != "" || st.ChannelPlan == "" || !s.HasBandValues() {
		return nil
	}
	if _, err := band.Lookup(st.ChannelPlan); err != nil {
		return nil // the planner reports it
	}
	opts.ChannelPlan = st.ChannelPlan
	_, problems := site.Load(opts, siteArgs...)
	errs := problems.Errors()
	for _, p := range errs {
		fmt.Fprintln(env.Stderr, p.Error())
	}
	if len(errs) > 0 {
		return withExit(ExitError, fmt.Errorf("the site has %s against the gateway's channel plan %s; nothing was written", count(len(errs), "error"), st.ChannelPlan))
	}
	return nil
}

// payloadSizes reads the gateway's payload-size answer (spec 6.6) for the
// planner's fragment-size check; when the gateway cannot give it, the band
// tables stand in, and the user is told.
func payloadSizes(ctx context.Context, env *Env, ps planner.PayloadSizer) []nsapi.PayloadSize {
	sizes, err := ps.PayloadSizes(ctx)
	if err != nil {
		fmt.Fprintf(env.Stderr, "warning: the gateway's payload sizes could not be read (%v); fragment sizes are checked against the channel plan's tables\n", err)
		return nil
	}
	return sizes
}

// readSnapshot reads a State snapshot file.
func readSnapshot(path string) (*nsapi.State, error) {
	b, err := readSnapshotFile(path)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	// A plan (saved with --out, or printed with --format json) is the
	// likely mistake: say so rather than plan against an empty gateway.
	var probe struct {
		Saved    json.RawMessage `json:"changes"`
		Rendered json.RawMessage `json:"resource_changes"`
	}
	if json.Unmarshal(b, &probe) == nil && (probe.Saved != nil || probe.Rendered != nil) {
		return nil, fmt.Errorf("snapshot %s: this is a plan, not a snapshot: make one with gwsync snapshot --out FILE", path)
	}
	var st nsapi.State
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("snapshot %s: not a gwsync snapshot: %w", path, err)
	}
	if st.FormatVersion != nsapi.StateFormatVersion {
		return nil, fmt.Errorf("snapshot %s: format_version %d, want %d", path, st.FormatVersion, nsapi.StateFormatVersion)
	}
	return &st, nil
}

// officialLookup completes an official firmware reference from the
// gateway's catalogue (spec 6.10).
func officialLookup(ctx context.Context, cl *nsapi.Client) func(model, version, id string) (*nsapi.OfficialFirmware, error) {
	return func(model, version, id string) (*nsapi.OfficialFirmware, error) {
		list, err := cl.OfficialFirmware(ctx, model, "")
		if err != nil {
			return nil, fmt.Errorf("official firmware %s %s: %w", model, version, err)
		}
		var found []nsapi.OfficialFirmware
		for _, f := range list {
			if (id != "" && string(f.ID) == id) || (id == "" && f.FirmwareVersion == version) {
				found = append(found, f)
			}
		}
		switch len(found) {
		case 1:
			return &found[0], nil
		case 0:
			return nil, fmt.Errorf("official firmware %s %s: not in the gateway's catalogue", model, version)
		}
		return nil, fmt.Errorf("official firmware %s %s: %d firmwares match; give its id", model, version, len(found))
	}
}

// Run plans and prints the plan.
func (c *PlanCmd) Run(env *Env) error {
	ctx := context.Background()
	env, err := withEnvFile(env, c.EnvFile)
	if err != nil {
		return withExit(ExitError, err)
	}
	if dir, ok := fleetDir(c.Site); ok {
		return c.runFleet(env, dir) // fleet.go
	}
	if len(c.Site) == 1 && isSavedPlan(c.Site[0]) {
		return withExit(ExitError, fmt.Errorf("%s is a saved plan, not a site: gwsync show %s prints it, gwsync apply %s runs it", c.Site[0], c.Site[0], c.Site[0]))
	}
	if len(c.Site) == 1 {
		if dir := journalDirOf(c.Site[0]); applier.HasJournal(dir) {
			fmt.Fprintf(env.Stderr, "Warning: an earlier apply did not finish (journal %s): the gateway may be half-way between two states, and apply refuses to run until gwsync rollback %s finishes or abandons it.\n", dir, c.Site[0])
		}
	}
	run, err := makePlan(ctx, env, c.Site, c.State, c.ConnFlags)
	if err != nil {
		return err
	}
	p := run.Plan
	held := applier.LockOf(run.State)
	if held != nil {
		interruptedNotice(env.Stderr, held, planSiteArg(c.Site))
	}
	var out bytes.Buffer
	switch c.Format {
	case "markdown":
		if held != nil { // the pull request's reviewers see it too
			fmt.Fprintf(&out, "> **Warning:** the gateway's lock is held by %s: an apply was interrupted or is under way. See `gwsync plan` or `gwsync unlock` for the holder and the ways forward.\n\n", mdEscape(held.Holder()))
		}
		err = render.Markdown(&out, p, 0)
	case "json":
		err = render.JSON(&out, p)
	default:
		color := env.IsTerminal && env.Getenv("NO_COLOR") == "" && !c.NoColor
		err = render.Text(&out, p, render.TextOptions{Color: color})
	}
	if err == nil && c.Out != "" {
		err = savePlan(c.Out, p)
	}
	if cerr := run.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("closing the connection: %w", cerr)
	}
	if err != nil {
		return withExit(ExitError, err)
	}
	if _, err := env.Stdout.Write(out.Bytes()); err != nil {
		return withExit(ExitError, err)
	}
	if c.Out != "" && c.Format == "text" {
		fmt.Fprintf(env.Stdout, "\nSaved the plan to %s. To run exactly this plan: gwsync apply %s\n", c.Out, c.Out)
	}
	// A held change is drift all the same: a drift check must see it.
	if c.DetailedExitcode && (!p.Empty() || len(p.NotesOf(plan.NoteHeld)) > 0) {
		return withExit(ExitChanges, nil)
	}
	return nil
}

// savePlan writes p to path (secrets as digests), replacing it atomically.
func savePlan(path string, p *plan.Plan) error {
	var b bytes.Buffer
	if err := plan.Save(&b, p); err != nil {
		return err
	}
	if err := atomicfile.Write(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("saving the plan to %s: %w", path, err)
	}
	return nil
}

// journalDirFor is the journal directory of the site named by siteArgs
// (one file or directory, or the files of a saved plan).
func journalDirFor(siteArgs []string) string {
	if len(siteArgs) == 1 {
		return journalDirOf(siteArgs[0])
	}
	return journalDirOf(siteDirOf(siteArgs))
}

// unsetKeyPlaceholder stands in for a key whose reference is not set, in an
// offline plan of a resource the snapshot does not hold. It is shown masked
// like any key; a plan that holds it cannot be applied (apply plans again
// with every key set).
const unsetKeyPlaceholder = "00000000000000000000000000000000"

// assumeUnsetKeys fills the keys an offline load left unset: the
// snapshot's own key (a digest) where it holds the device or group, so the
// plan shows no key change, else a placeholder. It returns how many keys
// were filled.
func assumeUnsetKeys(s *site.Site, st *nsapi.State) int {
	n := 0
	fill := func(sec *site.Secret, live string) {
		if !sec.Unset {
			return
		}
		n++
		sec.Value = live
		if sec.Value == "" {
			sec.Value = unsetKeyPlaceholder
		}
	}
	devs := make(map[string]*nsapi.Device, len(st.Devices))
	for i := range st.Devices {
		devs[strings.ToUpper(st.Devices[i].DevEUI)] = &st.Devices[i]
	}
	for i := range s.Devices {
		d := &s.Devices[i]
		var live nsapi.Device
		if ld := devs[strings.ToUpper(d.DevEUI)]; ld != nil {
			live = *ld
		}
		fill(&d.AppKey, live.AppKey)
		fill(&d.NwkSKey, live.NwkSKey)
		fill(&d.AppSKey, live.AppSKey)
	}
	for i := range s.MulticastGroups {
		g := &s.MulticastGroups[i]
		var live nsapi.MulticastGroupInfo
		for _, lg := range st.Groups {
			if lg.Name == g.Name {
				live = lg
			}
		}
		fill(&g.McNwkSKey, live.McNwkSKey)
		fill(&g.McAppSKey, live.McAppSKey)
	}
	return n
}

// planSiteArg is how the ways forward name the site.
func planSiteArg(site []string) string {
	if len(site) == 1 {
		return site[0]
	}
	return siteDirOf(site)
}

// mdEscape keeps text from a gateway record from making markdown of its
// own in a pull-request comment.
func mdEscape(s string) string {
	return strings.NewReplacer("\\", "\\\\", "`", "\\`", "*", "\\*", "_", "\\_", "[", "\\[", "]", "\\]", "<", "&lt;", ">", "&gt;", "|", "\\|", "@", "&#64;", "\n", " ").Replace(s)
}
