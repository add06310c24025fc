package faultcampaign

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gwsync/gwsync/applier"
)

var (
	flagTrials  = flag.Int("campaign.trials", 0, "trials to run (0: the short run)")
	flagSeed    = flag.Uint64("campaign.seed", 0, "base seed: trial i runs seed BASE+i; with -campaign.trials unset, runs that one seed alone")
	flagKind    = flag.String("campaign.kind", "", "run only trials of this fault kind (with -campaign.trials)")
	flagTimeout = flag.Duration("campaign.timeout", 300*time.Millisecond, "the client's request timeout in a trial")
)

// shortSeed is the short run's base seed, and shortTrials its size: every
// kind at both parallelisms, the in-process kinds more often.
const (
	shortSeed   = 1
	shortTrials = 60
)

// gwsyncBin is the gwsync binary TestMain builds for the SIGKILL kinds.
var gwsyncBin string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "faultcampaign-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, "faultcampaign:", err)
		os.Exit(1)
	}
	gwsyncBin = filepath.Join(dir, "gwsync")
	build := exec.Command("go", "build", "-o", gwsyncBin, "github.com/gwsync/gwsync")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "faultcampaign: build gwsync:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// trialOf is the kind and parallelism a seed runs: both come from the
// seed, so that the seed alone replays a trial.
func trialOf(seed uint64) (string, int) {
	kind := Kinds[seed%uint64(len(Kinds))]
	par := 1
	if (seed/uint64(len(Kinds)))%2 == 1 {
		par = applier.DefaultParallelism
	}
	return kind, par
}

// shortKeep says whether the short run keeps seed: every in-process seed,
// and one SIGKILL trial in three (each starts two processes).
func shortKeep(seed uint64) bool {
	kind, _ := trialOf(seed)
	if kind != KindKillApply && kind != KindKillRollback {
		return true
	}
	return (seed/uint64(len(Kinds)*2))%3 == 0
}

func replay(seed uint64) string {
	return fmt.Sprintf("go test ./internal/faultcampaign -run TestCampaign -campaign.seed=%d -v", seed)
}

// TestCampaign runs the fault campaign: the short run by default, one
// seed with -campaign.seed, the long run with -campaign.trials. It fails
// when any trial ends wrong or stuck.
func TestCampaign(t *testing.T) {
	var seeds []uint64
	switch {
	case *flagTrials > 0:
		if *flagKind != "" && !slices.Contains(Kinds, *flagKind) {
			t.Fatalf("-campaign.kind %q: want one of %s", *flagKind, strings.Join(Kinds, ", "))
		}
		for s := *flagSeed; len(seeds) < *flagTrials; s++ {
			if kind, _ := trialOf(s); *flagKind == "" || kind == *flagKind {
				seeds = append(seeds, s)
			}
		}
	case *flagSeed != 0:
		seeds = []uint64{*flagSeed}
	default:
		for s := uint64(shortSeed); len(seeds) < shortTrials; s++ {
			if shortKeep(s) {
				seeds = append(seeds, s)
			}
		}
	}

	// Each trial's gwsync runs get a temporary folder of their own; the
	// lock lives on each trial's own simulated gateway.
	t.Setenv("TMPDIR", t.TempDir())
	tab := newTable()
	hints := map[string]int{}
	started := time.Now()
	for _, seed := range seeds {
		kind, par := trialOf(seed)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		dir := t.TempDir()
		rep := Run(ctx, Trial{Seed: seed, Kind: kind, Parallelism: par, Dir: dir, Bin: gwsyncBin, Timeout: *flagTimeout})
		cancel()
		tab.add(rep)
		if rep.Outcome == Wrong || rep.Outcome == Stuck {
			h := hint(rep)
			hints[h]++
			t.Errorf("seed %d: %s, parallelism %d%s: %s (apply exit %d), looks like %s\n  edits: %s\n  faults: %s\n  %s\n  replay: %s",
				seed, kind, par, quirksNote(rep), strings.ToUpper(rep.Outcome), rep.Exit, h, strings.Join(rep.Edits, "; "),
				strings.Join(rep.Faults, "; "), strings.Join(rep.Detail, "\n  "), replay(seed))
		} else if len(seeds) == 1 {
			t.Logf("seed %d: %s, parallelism %d%s: %s (apply exit %d)\n  edits: %s\n  faults: %s",
				seed, kind, par, quirksNote(rep), rep.Outcome, rep.Exit, strings.Join(rep.Edits, "; "), strings.Join(rep.Faults, "; "))
		}
	}
	t.Logf("fault campaign, %d trials from seed %d in %s (%s/%s):\n%s", len(seeds), seeds[0],
		time.Since(started).Round(time.Millisecond), runtime.GOOS, runtime.GOARCH, tab)
	// A campaign whose faults never strike proves nothing: every kind run
	// more than twice must have struck at least once.
	for _, kind := range Kinds {
		if n := tab.trials[kind]; n > 2 && tab.struck[kind] == 0 {
			t.Errorf("%s: the fault struck in none of %d trials: the harness injects nothing", kind, n)
		}
	}
	if len(hints) > 0 {
		var lines []string
		for h, n := range hints {
			lines = append(lines, fmt.Sprintf("%5d  %s", n, h))
		}
		sort.Strings(lines)
		t.Logf("wrong or stuck trials by the class they look like:\n%s", strings.Join(lines, "\n"))
	}
}

// table counts outcomes per fault kind and parallelism.
type table struct {
	rows   map[string]map[string]int // "kind/par" → outcome → count
	trials map[string]int            // kind → trials
	struck map[string]int            // kind → trials whose fault struck
	half   int                       // trials left half-way for gwsync rollback to finish
}

func newTable() *table {
	return &table{rows: map[string]map[string]int{}, trials: map[string]int{}, struck: map[string]int{}}
}

func (tb *table) add(r *Report) {
	tb.trials[r.Kind]++
	if r.Fired {
		tb.struck[r.Kind]++
	}
	if r.HalfWay {
		tb.half++
	}
	key := fmt.Sprintf("%s\x00%d", r.Kind, r.Parallelism)
	if tb.rows[key] == nil {
		tb.rows[key] = map[string]int{}
	}
	tb.rows[key][r.Outcome]++
}

func (tb *table) String() string {
	var b strings.Builder
	outcomes := []string{Restored, Converged, Wrong, Stuck, NoOp}
	fmt.Fprintf(&b, "%-18s %4s %7s %9s %10s %6s %6s %6s\n", "fault kind", "par", "trials", Restored, Converged, Wrong, Stuck, NoOp)
	total := map[string]int{}
	all := 0
	for _, kind := range Kinds {
		for _, par := range []int{1, applier.DefaultParallelism} {
			row := tb.rows[fmt.Sprintf("%s\x00%d", kind, par)]
			n := 0
			for _, o := range outcomes {
				n += row[o]
				total[o] += row[o]
			}
			if n == 0 {
				continue
			}
			all += n
			fmt.Fprintf(&b, "%-18s %4d %7d %9d %10d %6d %6d %6d\n", kind, par, n, row[Restored], row[Converged], row[Wrong], row[Stuck], row[NoOp])
		}
	}
	fmt.Fprintf(&b, "%-18s %4s %7d %9d %10d %6d %6d %6d\n", "total", "", all, total[Restored], total[Converged], total[Wrong], total[Stuck], total[NoOp])
	struck := 0
	for _, n := range tb.struck {
		struck += n
	}
	fmt.Fprintf(&b, "Campaign: %d trials, %d restored, %d converged, %d wrong, %d stuck, %d no-op; the fault struck in %d; %d left the gateway half-way for gwsync rollback.",
		all, total[Restored], total[Converged], total[Wrong], total[Stuck], total[NoOp], struck, tb.half)
	return b.String()
}

// hint names the classes of issue 8 a failing trial looks like, from its
// edits, faults and differences. It is a guess for the reader, not a
// verdict: the replay command is the evidence.
func hint(r *Report) string {
	detail := strings.Join(r.Detail, "\n")
	edits := strings.Join(r.Edits, "\n")
	faults := strings.Join(r.Faults, "\n")
	has := func(s, sub string) bool { return strings.Contains(s, sub) }
	switch {
	case has(detail, "harness:"):
		return "harness error"
	case has(detail, "a key appeared in clear") || has(detail, "holds a key in clear"):
		return "secret shown or written in clear"
	case has(detail, "without faults does not reach the site") || has(detail, "without faults: exit"):
		if has(detail, ".mb") || has(detail, "appKey") || has(detail, "devAddr") || has(detail, "SKey") {
			return "A (fault-free apply cannot clear a field)"
		}
		return "fault-free apply fails"
	case has(detail, "exit 1 (nothing written), but"):
		return "C (exit 1 after writes)"
	}
	var classes []string
	add := func(ok bool, class string) {
		if ok {
			classes = append(classes, class)
		}
	}
	fields := has(detail, ".mb") || has(detail, "appKey") || has(detail, "devAddr") || has(detail, "SKey")
	members := has(detail, "].devices") || has(detail, "members gone")
	add(fields, "A (rollback cannot clear a field)")
	add(has(edits, "replace device") && (members || has(detail, "devices[") && has(detail, "wanted, missing")),
		"B (a replace's undo loses the device or its membership)")
	add(has(detail, "codecJson"), "D (write-only codecJson)")
	add(has(detail, "fileContent") || has(detail, "fuotaTasks[") && has(detail, "wanted, missing"), "D (write-only FUOTA firmware)")
	add(has(edits, "rename group") && members && !has(edits, "replace device"), "F (member of a renamed group)")
	add(has(detail, "holds values this apply did not write"), "new: rollback refuses the apply's own writes as changed since")
	if len(classes) == 0 {
		switch {
		case r.Kind == KindRollbackFault && len(r.Faults) > 1 && has(r.Faults[1], "code 5"):
			classes = append(classes, "G (undo answered 5)")
		case r.Kind == KindCodeAfterWrite || has(faults, "code-after-write") || has(faults, "(performed: true)") || r.Kind == KindLostAnswer:
			classes = append(classes, "E (write done, answered with an error or not at all)")
		case r.Kind == KindLostRequest:
			classes = append(classes, "lost request")
		default:
			classes = append(classes, "unclassified")
		}
	}
	return strings.Join(classes, " + ")
}

func quirksNote(r *Report) string {
	if r.Quirks == "" {
		return ""
	}
	return ", gateway quirks " + string(r.Quirks)
}
