package applier

import (
	"context"
	"fmt"

	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
)

// kind is what the applier knows of one resource kind: how to write it, to
// find it again, to compare it, and what a rollback must do beyond sending
// it back. Each kind has its own file: profiles.go, devices.go, codecs.go,
// groups.go (groups and their members) and tasks.go.
type kind interface {
	// identity is the name a resource is found by (devEUI for devices).
	identity(o *plan.Object) string
	// serverID is the server id of a live object ("" when unknown).
	serverID(o *plan.Object) string
	create(ctx context.Context, w Writer, o *plan.Object) (id string, err error)
	// update writes o over the live resource id, which holds prev (as far
	// as the plan knows).
	update(ctx context.Context, w Writer, id string, o, prev *plan.Object) error
	remove(ctx context.Context, w Writer, id string) error
	// find looks a resource up by identity with one cheap read.
	find(ctx context.Context, w Writer, name string) (found bool, id string, obj *plan.Object, err error)
	// held reads the kind once and says which of effs the gateway holds
	// (phase confirmation).
	held(ctx context.Context, r *runner, effs []*effect) (func(*effect) bool, error)
	// comparable is o in a form that compares equal to the live object
	// when the gateway holds what o says: server-owned and write-only
	// fields out.
	comparable(o *plan.Object) *nsapi.State

	// keepWriteOnly fills the write-only fields of an undo's target that
	// the state before cannot know (see codecs.go and tasks.go).
	keepWriteOnly(r *runner, e *effect, target *plan.Object)
	// beforeRecreate prepares obj, a deleted resource about to be sent
	// again by a rollback.
	beforeRecreate(r *runner, e *effect, obj *plan.Object)
	// recreated runs after a rollback re-created e's resource with id
	// newID: it restores what the delete took with it and notes what it
	// cannot.
	recreated(ctx context.Context, r *runner, e *effect, newID string) error
	// relink restores, where missing, what deleting e's resource took with
	// it (memberships): for a resource found in place by a rollback that
	// cannot tell whether an earlier, interrupted rollback re-created it.
	relink(ctx context.Context, r *runner, e *effect, id string) error
	// recreateFailed explains a failed re-create where the kind knows why.
	recreateFailed(obj *plan.Object, err error) error
}

// kindBase is the behaviour of a kind that has nothing write-only and
// nothing to restore beyond itself.
type kindBase struct{}

func (kindBase) keepWriteOnly(*runner, *effect, *plan.Object)  {}
func (kindBase) beforeRecreate(*runner, *effect, *plan.Object) {}
func (kindBase) recreated(_ context.Context, r *runner, e *effect, newID string) error {
	r.note("%s %s was re-created with a new id (%s → %s)", e.Kind, e.Name, e.ID, newID)
	return nil
}
func (kindBase) recreateFailed(_ *plan.Object, err error) error         { return err }
func (kindBase) relink(context.Context, *runner, *effect, string) error { return nil }

var kinds = map[plan.Kind]kind{
	plan.KindProfile: profiles{},
	plan.KindDevice:  devices{},
	plan.KindCodec:   codecs{},
	plan.KindGroup:   groups{},
	plan.KindMember:  members{},
	plan.KindTask:    tasks{},
}

// kindOf is the kind k; an unknown one answers every call with an error.
func kindOf(k plan.Kind) kind {
	if kd, ok := kinds[k]; ok {
		return kd
	}
	return unknownKind{k}
}

type unknownKind struct{ k plan.Kind }

func (u unknownKind) err(what string) error { return fmt.Errorf("cannot %s a %s", what, u.k) }

func (unknownKind) identity(*plan.Object) string { return "" }
func (unknownKind) serverID(*plan.Object) string { return "" }
func (u unknownKind) create(context.Context, Writer, *plan.Object) (string, error) {
	return "", u.err("create")
}
func (u unknownKind) update(context.Context, Writer, string, *plan.Object, *plan.Object) error {
	return u.err("update")
}
func (u unknownKind) remove(context.Context, Writer, string) error { return u.err("delete") }
func (u unknownKind) find(context.Context, Writer, string) (bool, string, *plan.Object, error) {
	return false, "", nil, u.err("read")
}
func (u unknownKind) held(context.Context, *runner, []*effect) (func(*effect) bool, error) {
	return nil, u.err("read")
}
func (unknownKind) comparable(*plan.Object) *nsapi.State          { return &nsapi.State{} }
func (unknownKind) keepWriteOnly(*runner, *effect, *plan.Object)  {}
func (unknownKind) beforeRecreate(*runner, *effect, *plan.Object) {}
func (u unknownKind) recreated(context.Context, *runner, *effect, string) error {
	return u.err("re-create")
}
func (unknownKind) recreateFailed(_ *plan.Object, err error) error         { return err }
func (unknownKind) relink(context.Context, *runner, *effect, string) error { return nil }

// ---- what the runner calls ----

func (r *runner) post(ctx context.Context, k plan.Kind, o *plan.Object) (string, error) {
	return kindOf(k).create(ctx, r.w, o)
}

func (r *runner) put(ctx context.Context, k plan.Kind, id string, o, prev *plan.Object) error {
	return kindOf(k).update(ctx, r.w, id, o, prev)
}

func (r *runner) del(ctx context.Context, k plan.Kind, id string) error {
	return kindOf(k).remove(ctx, r.w, id)
}

// find looks a resource up by identity with a cheap searched read; a read
// whose answer is lost is sent again (reread).
func (r *runner) find(ctx context.Context, k plan.Kind, name string) (found bool, id string, obj *plan.Object, err error) {
	type hit struct {
		found bool
		id    string
		obj   *plan.Object
	}
	h, err := reread(ctx, func(ctx context.Context) (hit, error) {
		found, id, obj, err := kindOf(k).find(ctx, r.w, name)
		return hit{found, id, obj}, err
	})
	return h.found, h.id, h.obj, err
}

// held reads the kind once and returns a predicate over effects.
func (r *runner) held(ctx context.Context, k plan.Kind, effs []*effect) (func(*effect) bool, error) {
	return kindOf(k).held(ctx, r, effs)
}

// identity is the name a resource is found by: devEUI for devices, name
// otherwise.
func identity(k plan.Kind, o *plan.Object) string {
	if o == nil {
		return ""
	}
	return kindOf(k).identity(o)
}

// existingID is the server id of the live resource a change acts on.
func existingID(c plan.Change) string {
	if c.ID != "" {
		return c.ID
	}
	if c.Before == nil {
		return ""
	}
	return kindOf(c.Kind).serverID(c.Before)
}

// sameObject compares a live object with a written one in the canonical
// form (keys by digest, hex case folded, server-owned fields out).
func sameObject(k plan.Kind, live, want *plan.Object) bool {
	return statesEqual(canonicalOf(k, live), canonicalOf(k, want))
}

func canonicalOf(k plan.Kind, o *plan.Object) *nsapi.State {
	if o == nil {
		return (&nsapi.State{}).Canonical()
	}
	return kindOf(k).comparable(o).Canonical()
}

// names reads a list with reread and collects the identities in it.
func names[T any](ctx context.Context, read func(context.Context) ([]T, error), name func(*T) string) (map[string]bool, error) {
	l, err := reread(ctx, read)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(l))
	for i := range l {
		out[name(&l[i])] = true
	}
	return out, nil
}

// byName is the predicate of a held read: the effect's identity is there.
func byName(names map[string]bool) func(*effect) bool {
	return func(e *effect) bool { return names[e.Name] }
}
