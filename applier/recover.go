package applier

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
)

// MovedError says that resources the journal's apply wrote have changed
// since its last step (edited by hand, or by another tool): a rollback
// would silently revert that work, so it touches nothing without --force.
type MovedError struct {
	JournalDir string
	Moved      []string // one line per resource: address and what it holds now
}

// Error names the resources.
func (e *MovedError) Error() string {
	return fmt.Sprintf("journal %s: %d resources changed since the unfinished apply wrote them, so a rollback would undo someone else's work:\n  %s\nnothing was written; roll back anyway with --force, or end the journal and keep the gateway as it is with --abandon",
		e.JournalDir, len(e.Moved), strings.Join(e.Moved, "\n  "))
}

// movedSince compares the live state with what the journal's effects left
// each resource holding, and names every resource that holds something
// else: neither what the apply wrote last, nor what it held before, nor
// what an earlier rollback, cut short, journalled it was writing back.
func movedSince(live *nsapi.State, effects []*effect) []string {
	type res struct {
		first, last *effect
	}
	resKey := func(e *effect) string {
		if e.Op == opUpdate {
			return string(e.Kind) + ".id:" + e.ID
		}
		return string(e.Kind) + "." + e.Name
	}
	undoTargets := map[string][]*plan.Object{}
	for _, e := range effects {
		undoTargets[resKey(e)] = append(undoTargets[resKey(e)], e.undoTargets...)
	}
	byRes := map[string]*res{}
	var keys []string
	for _, e := range effects {
		if e.Kind == plan.KindMember || (e.state != effDone && e.state != effUncertain) {
			continue
		}
		k := resKey(e)
		r := byRes[k]
		if r == nil {
			r = &res{first: e}
			byRes[k] = r
			keys = append(keys, k)
		}
		r.last = e
	}
	sort.Strings(keys)
	var moved []string
	for _, k := range keys {
		r := byRes[k]
		e := r.last
		now := liveObject(live, e)
		var after *plan.Object
		if e.Op != opDelete {
			after = e.After
		}
		before := r.first.Before
		if r.first.Op == opCreate {
			before = nil
		}
		if matches(e.Kind, now, after) || matches(e.Kind, now, before) {
			continue
		}
		if e.state == effUncertain && matches(e.Kind, now, e.Before) {
			continue
		}
		ours := false
		for _, t := range undoTargets[k] {
			ours = ours || (now != nil && matches(e.Kind, now, t))
		}
		if ours {
			continue
		}
		what := "is gone"
		if now != nil {
			what = "holds values this apply did not write"
		}
		moved = append(moved, fmt.Sprintf("%s %s", e.Address, what))
	}
	return moved
}

// matches says whether the live object (nil: absent) is want (nil: absent).
func matches(k plan.Kind, live, want *plan.Object) bool {
	if live == nil || want == nil {
		return live == nil && want == nil
	}
	return sameObject(k, live, want)
}

// liveObject finds e's resource in the live state: by server id for
// updates (a rename moves the name), else by name or EUI.
func liveObject(st *nsapi.State, e *effect) *plan.Object {
	name := e.Name
	if e.Op == opUpdate {
		name = ""
	}
	switch e.Kind {
	case plan.KindProfile:
		for i := range st.Profiles {
			if p := &st.Profiles[i]; (name != "" && p.Name == name) || (name == "" && p.Profile.ProfileID == e.ID) {
				return &plan.Object{Profile: p}
			}
		}
	case plan.KindDevice:
		eui := strings.ToUpper(e.Name)
		if eui == "" {
			eui = strings.ToUpper(e.ID)
		}
		for i := range st.Devices {
			if strings.EqualFold(st.Devices[i].DevEUI, eui) {
				return &plan.Object{Device: &st.Devices[i]}
			}
		}
	case plan.KindCodec:
		for i := range st.Codecs {
			if c := &st.Codecs[i]; (name != "" && c.Name == name) || (name == "" && string(c.ID) == e.ID) {
				return &plan.Object{Codec: c}
			}
		}
	case plan.KindGroup:
		for i := range st.Groups {
			if g := &st.Groups[i]; (name != "" && g.Name == name) || (name == "" && g.ID == e.ID) {
				return &plan.Object{Group: g}
			}
		}
	case plan.KindTask:
		for i := range st.Tasks {
			if t := &st.Tasks[i]; (name != "" && t.Name == name) || (name == "" && fmt.Sprint(int64(t.ID)) == e.ID) {
				return &plan.Object{Task: t}
			}
		}
	}
	return nil
}

// AbandonRecord is what `gwsync rollback --abandon` writes beside the
// journal it ends: the writes that were left in place and how the gateway
// differed from its state before the apply. It holds no secret.
type AbandonRecord struct {
	Abandoned string   `json:"abandoned"` // RFC 3339
	Started   string   `json:"started"`   // when the apply began
	Left      []string `json:"left"`      // writes left in place: "create device.24E1…"
	Remaining string   `json:"remaining"` // the difference from the state before, or why it is unknown
}

// Abandon ends the unfinished apply's journal in journalDir without
// undoing anything: it records what was left in place (and, when the
// gateway answers, how it differs from its state before the apply) in
// abandoned-<time>.json beside it, then removes the journal. w may be nil
// to abandon without reading the gateway.
func Abandon(ctx context.Context, w Writer, journalDir string) (*AbandonRecord, string, error) {
	// Damaged records are passed over: ending the journal writes nothing
	// to the gateway, and is the way out of a journal that cannot be read.
	jr, err := openJournal(journalDir, true)
	if err != nil {
		return nil, "", err
	}
	j, before, recs := jr.j, jr.before, jr.recs
	rec := &AbandonRecord{Abandoned: time.Now().UTC().Format(time.RFC3339)}
	effects := replay(recs)
	for _, r := range recs {
		if r.T == "begin" {
			rec.Started = r.Time
		}
	}
	for _, e := range effects {
		if e.state == effDone || e.state == effUncertain {
			what := e.Op + " " + e.Address
			if e.state == effUncertain {
				what += " (outcome unknown)"
			}
			rec.Left = append(rec.Left, what)
		}
	}
	rec.Remaining = "the gateway was not read"
	if w != nil {
		if live, err := reread(ctx, w.ReadState); err != nil {
			rec.Remaining = fmt.Sprintf("the gateway could not be read: %v", err)
		} else if d := describeDiff(before, live); d != "" {
			rec.Remaining = d
		} else {
			rec.Remaining = "none: the gateway equals its state before the apply"
		}
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		j.close()
		return nil, "", err
	}
	path := filepath.Join(journalDir, "abandoned-"+time.Now().UTC().Format("20060102T150405Z")+".json")
	if err := writeFileSync(path, append(b, '\n')); err != nil {
		j.close()
		return nil, "", fmt.Errorf("journal %s: %w", journalDir, err)
	}
	return rec, path, j.finish()
}

// replay rebuilds the effects and their states from the journal's records.
func replay(recs []record) []*effect {
	var effects []*effect
	byN := map[int]*effect{}
	for _, rec := range recs {
		switch rec.T {
		case "intent":
			if rec.Effect == nil {
				continue
			}
			e := rec.Effect
			e.N, e.state = rec.N, effUncertain
			if old := byN[e.N]; old != nil {
				continue // a write sent again keeps its first intent
			}
			byN[e.N] = e
			effects = append(effects, e)
		case "ok":
			if e := byN[rec.N]; e != nil {
				e.state = effDone
				if rec.ID != "" {
					e.ID = rec.ID
				}
			}
		case "fail":
			if e := byN[rec.N]; e != nil {
				e.state = effNotDone
			}
		case "undo":
			if e := byN[rec.N]; e != nil && e.state != effNotDone {
				e.state = effUncertain
				if rec.Target != nil {
					e.undoTargets = append(e.undoTargets, rec.Target)
				}
			}
		case "undone":
			if e := byN[rec.N]; e != nil {
				e.state = effUndone
			}
		}
	}
	return effects
}

// ignoreFile keeps a journal directory out of git: it holds sealed keys
// next to the key that unseals them.
const ignoreFile = ".gitignore"

func writeIgnore(dir string) error {
	path := filepath.Join(dir, ignoreFile)
	if st, err := os.Lstat(path); err == nil && st.Mode().IsRegular() {
		return nil
	}
	return writeFileSync(path, []byte("# gwsync's apply journal: sealed keys and the key that unseals them. Never commit it.\n*\n"))
}
