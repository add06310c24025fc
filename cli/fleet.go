package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/gwsync/gwsync/applier"
	"github.com/gwsync/gwsync/fleet"
	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/render"
	"github.com/gwsync/gwsync/site"
)

// FleetFlags are the flags of validate, plan and apply that act on a fleet
// directory (one holding fleet.yml): every site its own gateway.
type FleetFlags struct {
	Jobs  int    `name:"jobs" default:"4" help:"Fleet: sites handled at once."`
	Shard string `name:"shard" placeholder:"I/N" help:"Fleet: only the sites of shard I of N (split by a hash of each site's path: a site always lands in the same shard), for a CI matrix."`
}

// fleetDir returns the fleet directory args name, if they name one.
func fleetDir(args []string) (string, bool) {
	if len(args) == 1 && fleet.Is(args[0]) {
		return args[0], true
	}
	return "", false
}

// sitePaths returns the paths to load for the site args name: a site
// folder of a fleet, named alone, is read as the fleet reads it, with the
// fleet's common files; anything else as given.
func sitePaths(args []string) ([]string, error) {
	if len(args) != 1 {
		return args, nil
	}
	fl, _, err := fleet.SiteOf(args[0])
	if err != nil {
		return nil, err
	}
	if fl == nil {
		return args, nil
	}
	return append([]string{args[0]}, fl.Common...), nil
}

// fleetSiteDir returns the folder of the fleet site that holds file (the
// first of a fleet site's files, which are its own, then the common ones),
// or "".
func fleetSiteDir(file string) string {
	fl, err := fleet.Enclosing(file)
	if fl == nil || err != nil {
		return ""
	}
	s, _ := fl.SiteHolding(file)
	return s.Dir
}

// loadFleet reads the fleet and keeps the sites of the shard.
func loadFleet(dir string, f FleetFlags) (*fleet.Fleet, []fleet.Site, error) {
	if f.Jobs < 1 {
		return nil, nil, fmt.Errorf("--jobs %d: want 1 or more", f.Jobs)
	}
	fl, err := fleet.Load(dir)
	if err != nil {
		return nil, nil, err
	}
	sites := fl.Sites
	if f.Shard != "" {
		sh, err := fleet.ParseShard(f.Shard)
		if err != nil {
			return nil, nil, fmt.Errorf("--shard: %w", err)
		}
		sites = sh.Filter(sites)
	}
	return fl, sites, nil
}

// refuseFleetFlags refuses connection flags that would make every site of
// a fleet talk to one gateway.
func refuseFleetFlags(f ConnFlags) error {
	if f.GatewayEUI != "" {
		return errors.New("--gateway-eui: a fleet's sites each name their gateway; it cannot be given for all")
	}
	return nil
}

// worstExit aggregates the exit codes of a fleet's sites as one apply's
// code reads: 4 (not verified) before 3 (rolled back) before 1 (nothing
// written) before 0.
func worstExit(codes ...int) int {
	worst := ExitOK
	rank := map[int]int{ExitOK: 0, ExitChanges: 1, ExitError: 2, ExitRolled: 3, ExitPartial: 4}
	for _, c := range codes {
		if rank[c] > rank[worst] {
			worst = c
		}
	}
	return worst
}

// exitCodeOf is the exit code err carries (0 for nil, 1 for a plain error).
func exitCodeOf(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return ExitError
}

// firstLine is err's message up to its first line break.
func firstLine(err error) string {
	if err == nil {
		return ""
	}
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// brokerPool opens one MQTT connection per broker (and credentials) and
// gives every gateway on it a client over that connection.
type brokerPool struct {
	mu     sync.Mutex
	conns  map[string]*pooled
	opened atomic.Int64
}

type pooled struct {
	once sync.Once
	conn *nsapi.SharedMQTT
	err  error
}

func newBrokerPool() *brokerPool { return &brokerPool{conns: map[string]*pooled{}} }

// key names a connection: what the broker sees of it. The password enters
// as a digest only.
func poolKey(cfg nsapi.Config) string {
	pw := sha256.Sum256([]byte(cfg.Password))
	return strings.Join([]string{cfg.Broker, cfg.Username, hex.EncodeToString(pw[:8]), cfg.ClientID,
		cfg.CAFile, cfg.CertFile, cfg.KeyFile, fmt.Sprint(cfg.InsecureSkipVerify)}, "\x00")
}

// dial is Env.DialShared: a client of cfg's gateway over the shared
// connection to cfg's broker, opened by the first site that needs it.
func (p *brokerPool) dial(ctx context.Context, cfg nsapi.Config) (*nsapi.Client, error) {
	key := poolKey(cfg)
	p.mu.Lock()
	e := p.conns[key]
	if e == nil {
		e = &pooled{}
		p.conns[key] = e
	}
	p.mu.Unlock()
	e.once.Do(func() {
		c, err := nsapi.NewSharedMQTT(cfg)
		if err == nil {
			err = c.Connect(ctx)
		}
		if err != nil {
			e.err = err
			return
		}
		p.opened.Add(1)
		e.conn = c
	})
	if e.err != nil {
		return nil, e.err
	}
	return nsapi.New(ctx, e.conn.Gateway(cfg.RequestTopic, cfg.ResponseTopic, cfg.GatewayEUI), cfg)
}

// close closes every connection.
func (p *brokerPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.conns {
		if e.conn != nil {
			_ = e.conn.Close()
		}
	}
}

// report prints how many connections the fleet opened, to stderr.
func (p *brokerPool) report(env *Env, sites int) {
	if n := p.opened.Load(); n > 0 {
		fmt.Fprintf(env.Stderr, "MQTT connections opened: %d for %s.\n", n, count(sites, "site"))
	}
}

// siteOutput is a site's section as it is written: its stdout and its
// stderr, one buffer that takes writes from more than one goroutine (the
// site's run, and with --verbose the debug records of its client, which
// logs on the goroutine that delivers the gateway's messages, and of its
// lock's renewal).
type siteOutput struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *siteOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

// String is what was written so far.
func (o *siteOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// siteEnv is what one site of a fleet runs with: its output captured, the
// pool's shared connections, its own journal folder.
func siteEnv(env *Env, pool *brokerPool, s fleet.Site, out *siteOutput) *Env {
	e := *env
	if e.warnTo == nil {
		e.warnTo = env.Stderr
	}
	e.Stdout, e.Stderr, e.Stdin = out, out, strings.NewReader("")
	e.IsTerminal = false
	e.DialShared = pool.dial
	e.JournalDir = journalDirOf(s.Dir)
	return &e
}

// inertResults are rs as the summary table shows them: text from sites
// and gateways inert, and in markdown no HTML.
func inertResults(rs []fleet.Result, markdown bool) []fleet.Result {
	out := make([]fleet.Result, len(rs))
	for i, r := range rs {
		for _, f := range []*string{&r.Site, &r.Gateway, &r.Detail} {
			*f = render.Inert(*f)
			if markdown {
				*f = html.EscapeString(*f)
			}
		}
		out[i] = r
	}
	return out
}

// siteOutcome is one site's result and its section of the output.
type siteOutcome struct {
	res    fleet.Result
	code   int
	text   string // the section: plan or apply output
	md     string // markdown section (plan --format markdown)
	digest string // the plan's digest (apply's approval pass)
}

// sectionHead is the line above a site's section in text output.
func sectionHead(s fleet.Site, eui string) string {
	h := "=== " + render.Inert(s.Name)
	if eui != "" {
		h += " (gateway " + render.Inert(eui) + ")"
	}
	return h + "\n"
}

// planSite plans one site of the fleet.
func planSite(ctx context.Context, env *Env, pool *brokerPool, fl *fleet.Fleet, s fleet.Site, flags ConnFlags, mdLimit int) siteOutcome {
	var out siteOutput
	senv := siteEnv(env, pool, s, &out)
	o := siteOutcome{res: fleet.Result{Site: s.Name}}
	if dir := journalDirOf(s.Dir); applier.HasJournal(dir) {
		fmt.Fprintf(&out, "Warning: an earlier apply did not finish (journal %s): run gwsync rollback %s before applying.\n", dir, s.Dir)
	}
	run, err := makePlan(ctx, senv, fl.Paths(s), "", flags)
	if err != nil {
		if e := firstLine(err); e != "" && e != "exit 1" {
			fmt.Fprintf(&out, "Error: %s\n", err)
		}
		o.res.Status, o.res.Detail, o.code = fleet.Failed, firstLine(errors.Unwrap(err)), ExitError
		if o.res.Detail == "" {
			o.res.Detail = firstLine(err)
		}
		o.text = out.String()
		if mdLimit > 0 {
			o.md = render.CodeBlock("", out.String())
		}
		return o
	}
	defer run.Close()
	if h := applier.LockOf(run.State); h != nil {
		interruptedNotice(&out, h, s.Dir)
	}
	p := run.Plan
	o.res.Gateway = run.Site.Gateway.EUI
	if o.res.Gateway == "" {
		o.res.Gateway = run.Client.GatewayEUI()
	}
	o.res.Add, o.res.Change, o.res.Destroy = p.Summary()
	o.res.Status = fleet.Unchanged
	if !p.Empty() {
		o.res.Status = fleet.Changes
	}
	o.digest = p.Digest()
	if err := render.Text(&out, p, render.TextOptions{}); err != nil {
		o.res.Status, o.res.Detail, o.code = fleet.Failed, firstLine(err), ExitError
	}
	o.text = out.String()
	if mdLimit > 0 && !p.Empty() {
		var b strings.Builder
		if err := render.Markdown(&b, p, mdLimit); err != nil {
			o.res.Status, o.res.Detail, o.code = fleet.Failed, firstLine(err), ExitError
		}
		o.md = b.String()
	}
	return o
}

// runFleetPlan is gwsync plan FLEETDIR.
func (c *PlanCmd) runFleet(env *Env, dir string) error {
	if c.Out != "" || c.State != "" {
		return withExit(ExitError, errors.New("--out and --state take one site, not a fleet: plan a site of it (gwsync plan FLEETDIR/SITE)"))
	}
	if err := refuseFleetFlags(c.ConnFlags); err != nil {
		return withExit(ExitError, err)
	}
	fl, sites, err := loadFleet(dir, c.FleetFlags)
	if err != nil {
		return withExit(ExitError, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	pool := newBrokerPool()
	defer pool.close()
	markdown := c.Format == "markdown"
	var review *fleetPlan // --format json: each site's digest (fleetreview.go)
	if c.Format == "json" {
		review = &fleetPlan{Format: FleetPlanFormat, FormatVersion: "1.0", Fleet: dir, Shard: c.Shard, Sites: []fleetPlanSite{}}
	}
	mdLimit := 0
	if markdown {
		mdLimit = max(1500, (render.MarkdownLimit-4000-120*len(sites))/max(1, len(sites)))
	}
	results := make([]fleet.Result, 0, len(sites))
	var mds []string
	codes := []int{}
	fleet.Run(len(sites), c.Jobs, func(i int) siteOutcome {
		if ctx.Err() != nil {
			return siteOutcome{res: fleet.Result{Site: sites[i].Name, Status: fleet.Failed, Detail: "interrupted"}, code: ExitError}
		}
		return planSite(ctx, env, pool, fl, sites[i], c.ConnFlags, mdLimit)
	}, func(i int, o siteOutcome) {
		results = append(results, o.res)
		codes = append(codes, o.code)
		if review != nil {
			review.add(o)
			return
		}
		if markdown {
			if o.md != "" {
				mds = append(mds, fmt.Sprintf("<details><summary><code>%s</code> — %s</summary>\n\n%s\n</details>\n",
					html.EscapeString(render.Inert(sites[i].Name)), html.EscapeString(render.Inert(resultText(o.res))), strings.TrimRight(o.md, "\n")))
			}
			return
		}
		fmt.Fprint(env.Stdout, sectionHead(sites[i], o.res.Gateway)+render.InertLines(o.text)+"\n")
	})
	pool.report(env, len(sites))
	counts := fleet.Count(results)
	if review != nil {
		if err := review.write(env.Stdout); err != nil {
			return withExit(ExitError, err)
		}
	} else if markdown {
		var b strings.Builder
		fmt.Fprintf(&b, "## gwsync plan: fleet `%s`\n\n**%s**\n\n", dir, counts.Line())
		_ = fleet.Table(&b, inertResults(results, true), true)
		b.WriteString("\n")
		left := 0
		for i, m := range mds {
			if b.Len()+len(m) > render.MarkdownLimit-200 {
				left = len(mds) - i
				break
			}
			b.WriteString(m)
		}
		if left > 0 {
			fmt.Fprintf(&b, "\n_%s left out to keep this comment under GitHub's limit: run gwsync plan on those sites to see them._\n", count(left, "site's plan"))
		}
		fmt.Fprint(env.Stdout, b.String())
	} else {
		_ = fleet.Table(env.Stdout, inertResults(results, false), false)
		fmt.Fprintln(env.Stdout, counts.Line())
	}
	code := worstExit(codes...)
	if code == ExitOK && c.DetailedExitcode && counts.WithChanges > 0 {
		code = ExitChanges
	}
	if code != ExitOK {
		return withExit(code, nil)
	}
	return nil
}

// resultText is a site's result in one phrase.
func resultText(r fleet.Result) string {
	switch r.Status {
	case fleet.Changes, fleet.Applied:
		return fmt.Sprintf("%s: %d to add, %d to change, %d to destroy", r.Status, r.Add, r.Change, r.Destroy)
	}
	if r.Detail != "" {
		return r.Status.String() + ": " + r.Detail
	}
	return r.Status.String()
}

// runFleet is gwsync validate FLEETDIR: every site, loaded with the
// common folders, checked offline; and no two sites naming one gateway.
func (c *ValidateCmd) runFleet(env *Env, dir string) error {
	if c.Format == "json" {
		return withExit(ExitError, errors.New("--format json takes one site: validate each site of the fleet (gwsync validate FLEETDIR/SITE --format json)"))
	}
	fl, sites, err := loadFleet(dir, c.FleetFlags)
	if err != nil {
		return withExit(ExitError, err)
	}
	opts := site.Options{
		Strict: c.Strict, ChannelPlan: c.ChannelPlan,
		LookupEnv: func(k string) (string, bool) {
			v := env.Getenv(k)
			return v, v != ""
		},
		Offline: true, PasswordGiven: env.Getenv("GWSYNC_PASSWORD") != "", QuoteErrors: true,
	}
	type out struct {
		res  fleet.Result
		text string
	}
	results := make([]fleet.Result, len(sites))
	texts := make([]string, len(sites))
	fleet.Run(len(sites), c.Jobs, func(i int) out {
		s, problems := site.Load(opts, fl.Paths(sites[i])...)
		var b strings.Builder
		for _, p := range problems {
			fmt.Fprintln(&b, p.Error())
		}
		r := fleet.Result{Site: sites[i].Name, Status: fleet.Valid}
		if s == nil || problems.HasErrors() {
			r.Status, r.Detail = fleet.Invalid, count(len(problems.Errors()), "error")
		} else {
			r.Gateway = s.Gateway.EUI
			fmt.Fprintf(&b, "Valid: %s.\n", summary(s))
		}
		return out{r, b.String()}
	}, func(i int, o out) { results[i], texts[i] = o.res, o.text })
	// Two sites writing one gateway would undo each other.
	first := map[string]int{}
	for i, r := range results {
		if r.Gateway == "" {
			continue
		}
		if j, ok := first[r.Gateway]; ok {
			msg := fmt.Sprintf("gateway %s is also the gateway of site %s", r.Gateway, sites[j].Name)
			results[i].Status, results[i].Detail = fleet.Invalid, msg
			texts[i] += "Invalid: " + msg + ".\n"
			continue
		}
		first[r.Gateway] = i
	}
	invalid := 0
	for i, s := range sites {
		fmt.Fprint(env.Stdout, sectionHead(s, results[i].Gateway)+render.InertLines(texts[i])+"\n")
		if results[i].Status == fleet.Invalid {
			invalid++
		}
	}
	_ = fleet.Table(env.Stdout, inertResults(results, false), false)
	fmt.Fprintf(env.Stdout, "%s: %d valid, %d invalid\n", count(len(sites), "site"), len(sites)-invalid, invalid)
	if invalid > 0 {
		return withExit(ExitError, nil)
	}
	return nil
}

// runFleet is gwsync apply FLEETDIR: every site planned and applied as
// gwsync apply SITE --auto-approve does it, --jobs sites at a time, wave
// after wave. When a site does not end applied and verified (or
// unchanged), no further site starts: the sites in flight finish, the
// failed one has rolled back on its own, and the later waves are not
// started. Without --auto-approve the whole fleet's plan is shown and
// approved first, and a site whose plan differs when its turn comes is
// refused.
func (c *ApplyCmd) runFleet(env *Env, dir string) error {
	if err := refuseFleetFlags(c.ConnFlags); err != nil {
		return withExit(ExitError, err)
	}
	if c.Parallelism < 1 || c.Parallelism > applier.MaxParallelism {
		return withExit(ExitError, fmt.Errorf("--parallelism %d: want 1–%d", c.Parallelism, applier.MaxParallelism))
	}
	waves, err := fleet.ParseWaves(c.Wave)
	if err != nil {
		return withExit(ExitError, fmt.Errorf("--wave: %w", err))
	}
	fl, sites, err := loadFleet(dir, c.FleetFlags)
	if err != nil {
		return withExit(ExitError, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	pool := newBrokerPool()
	defer pool.close()
	flags := c.ConnFlags
	flags.Window = max(flags.Window, c.Parallelism)

	var approved map[string]string // site → plan digest shown
	if c.Reviewed != "" {
		// The review is the approval: each site runs only its reviewed plan.
		if approved, err = readFleetReview(c.Reviewed, sites); err != nil {
			return withExit(ExitError, err)
		}
	} else if !c.AutoApprove {
		approved = map[string]string{}
		var results []fleet.Result
		fleet.Run(len(sites), c.Jobs, func(i int) siteOutcome {
			return planSite(ctx, env, pool, fl, sites[i], flags, 0)
		}, func(i int, o siteOutcome) {
			fmt.Fprint(env.Stdout, sectionHead(sites[i], o.res.Gateway)+render.InertLines(o.text)+"\n")
			results = append(results, o.res)
			if o.code == ExitOK {
				approved[sites[i].Name] = o.digest
			}
		})
		_ = fleet.Table(env.Stdout, inertResults(results, false), false)
		counts := fleet.Count(results)
		fmt.Fprintln(env.Stdout, counts.Line())
		if counts.Failed > 0 {
			return withExit(ExitError, errors.New("a site could not be planned; nothing was written"))
		}
		if counts.WithChanges == 0 {
			return nil
		}
		fmt.Fprint(env.Stdout, "\nDo you want to perform these actions on every site above?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ")
		line, _ := bufio.NewReader(env.Stdin).ReadString('\n')
		fmt.Fprintln(env.Stdout)
		if strings.TrimSpace(line) != "yes" {
			fmt.Fprintln(env.Stdout, "Apply cancelled.")
			if line == "" && !stdinIsTerminal(env) {
				return withExit(ExitError, errors.New("no answer: standard input is not a terminal; to apply without asking, pass --auto-approve"))
			}
			return withExit(ExitError, nil)
		}
	}

	split := waves.Split(len(sites))
	results := make([]fleet.Result, 0, len(sites))
	codes := []int{}
	var halted atomic.Bool
	for w, rng := range split {
		wsites := sites[rng[0]:rng[1]]
		if len(split) > 1 {
			not := ""
			if halted.Load() {
				not = ", not started"
			}
			fmt.Fprintf(env.Stdout, "--- wave %d of %d: %s%s\n", w+1, len(split), count(len(wsites), "site"), not)
		}
		fleet.Run(len(wsites), c.Jobs, func(i int) siteOutcome {
			s := wsites[i]
			if halted.Load() || ctx.Err() != nil {
				return siteOutcome{res: fleet.Result{Site: s.Name, Status: fleet.Halted}}
			}
			o := c.applySite(ctx, env, pool, fl, s, flags, approved)
			if o.code != ExitOK {
				halted.Store(true)
			}
			return o
		}, func(i int, o siteOutcome) {
			o.res.Wave = w + 1
			if o.res.Status != fleet.Halted {
				fmt.Fprint(env.Stdout, sectionHead(wsites[i], o.res.Gateway)+render.InertLines(o.text)+"\n")
			}
			results = append(results, o.res)
			codes = append(codes, o.code)
		})
		if halted.Load() && w+1 < len(split) {
			fmt.Fprintf(env.Stdout, "A site of wave %d did not end applied and verified: the later waves are not started.\n\n", w+1)
		}
	}
	pool.report(env, len(sites))
	_ = fleet.Table(env.Stdout, inertResults(results, false), false)
	counts := fleet.Count(results)
	fmt.Fprintln(env.Stdout, counts.Line())
	if code := worstExit(codes...); code != ExitOK {
		return withExit(code, nil)
	}
	return nil
}

// applySite plans and applies one site of the fleet.
func (c *ApplyCmd) applySite(ctx context.Context, env *Env, pool *brokerPool, fl *fleet.Fleet, s fleet.Site, flags ConnFlags, approved map[string]string) (o siteOutcome) {
	var out siteOutput
	senv := siteEnv(env, pool, s, &out)
	o = siteOutcome{res: fleet.Result{Site: s.Name}}
	// The section is taken last, after the lock's release below has had
	// its say.
	defer func() { o.text = out.String() }()
	fail := func(code int, err error) siteOutcome {
		if err != nil && firstLine(err) != "" {
			fmt.Fprintf(&out, "Error: %s\n", err)
			o.res.Detail = firstLine(err)
		}
		o.res.Status, o.code, o.text = fleet.Failed, code, out.String()
		return o
	}
	paths := fl.Paths(s)
	journalDir := journalDirOf(s.Dir)
	if applier.HasJournal(journalDir) {
		return fail(ExitError, fmt.Errorf("an earlier apply did not finish (journal %s): run gwsync rollback %s first", journalDir, s.Dir))
	}
	run, err := makePlan(ctx, senv, paths, "", flags)
	if err != nil {
		if e := errors.Unwrap(err); e != nil {
			err = e
		}
		return fail(exitCodeOf(err), err)
	}
	defer run.Close()
	var lock *applier.Lock
	keepLock := false
	if !run.Plan.Empty() || applier.LockOf(run.State) != nil {
		if lock, err = takeLock(ctx, senv, run, s.Dir, c.LockTimeout, senv.debugLog(flags.Verbose)); err != nil {
			if e := errors.Unwrap(err); e != nil {
				err = e
			}
			return fail(ExitError, err)
		}
		defer func() {
			if keepLock {
				lock.Leave() // its lease runs out: a rollback from the journal takes it over
			} else {
				releaseLock(ctx, &out, lock, s.Dir)
			}
		}()
	}
	p := run.Plan
	o.res.Gateway = run.Site.Gateway.EUI
	o.res.Add, o.res.Change, o.res.Destroy = p.Summary()
	if approved != nil && approved[s.Name] != p.Digest() {
		return fail(ExitError, errors.New("the plan differs from the one approved (the gateway or the site changed since); nothing was written: run gwsync apply again"))
	}
	if p.Empty() {
		fmt.Fprintln(&out, "No changes. The gateway matches the site.")
		o.res.Status, o.text = fleet.Unchanged, out.String()
		return o
	}
	if err := render.Text(&out, p, render.TextOptions{}); err != nil {
		return fail(ExitError, err)
	}
	opts := applier.Options{
		Parallelism:       c.Parallelism,
		NoRollback:        c.NoRollback,
		JournalDir:        journalDir,
		ExpectFingerprint: run.State.Fingerprint(),
		Verify:            verifier(run),
		// Planned a moment ago with no prompt in between (the fleet's
		// approval came before, and the plan is checked against it).
		Before: run.State,
	}
	if c.Verbose {
		prog := newProgress(senv)
		opts.Progress = prog.event
	}
	opts.Lock = lock
	res, aerr := applier.Apply(ctx, run.Client, p, opts)
	keepLock = res != nil && res.KeepLock
	rerr := reportApply(ctx, senv, run, res, aerr, s.Dir, false)
	o.code = exitCodeOf(rerr)
	if ee := (*exitError)(nil); errors.As(rerr, &ee) && ee.err != nil {
		fmt.Fprintf(&out, "Error: %s\n", ee.err)
	}
	switch o.code {
	case ExitOK:
		o.res.Status = fleet.Applied
	case ExitRolled:
		o.res.Status, o.res.Detail = fleet.RolledBack, firstLine(aerr)
	case ExitPartial:
		o.res.Status, o.res.Detail = fleet.Incomplete, "gwsync rollback "+s.Dir
	default:
		o.res.Status, o.res.Detail = fleet.Failed, firstLine(aerr)
	}
	o.text = out.String()
	return o
}
