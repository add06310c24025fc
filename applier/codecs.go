package applier

import (
	"context"

	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
)

// codecs: custom payload codecs, found by name, with a numeric server id.
// Their codecJson is write-only: no read returns it (spec 5.3), so it is
// never compared, and what a rollback sends back comes from gwsync's record
// of what it last wrote (written.go).
type codecs struct{}

func (codecs) identity(o *plan.Object) string {
	if o.Codec == nil {
		return ""
	}
	return o.Codec.Name
}

func (codecs) serverID(o *plan.Object) string {
	if o.Codec == nil {
		return ""
	}
	return string(o.Codec.ID)
}

func (codecs) create(ctx context.Context, w Writer, o *plan.Object) (string, error) {
	return w.CreateCodec(ctx, o.Codec.Write())
}

func (codecs) update(ctx context.Context, w Writer, id string, o, _ *plan.Object) error {
	return w.UpdateCodec(ctx, id, o.Codec.Write())
}

func (codecs) remove(ctx context.Context, w Writer, id string) error {
	return w.DeleteCodec(ctx, id)
}

func (codecs) find(ctx context.Context, w Writer, name string) (bool, string, *plan.Object, error) {
	l, err := w.ListCodecs(ctx, nsapi.CodecTypeCustom, name)
	if err != nil {
		return false, "", nil, err
	}
	for i := range l {
		if l[i].Name == name {
			c := l[i]
			return true, string(c.ID), &plan.Object{Codec: &c}, nil
		}
	}
	return false, "", nil, nil
}

func (codecs) held(ctx context.Context, r *runner, _ []*effect) (func(*effect) bool, error) {
	n, err := names(ctx, func(ctx context.Context) ([]nsapi.CodecShort, error) {
		return r.w.ListCodecsShort(ctx, nsapi.CodecTypeCustom, "")
	}, func(c *nsapi.CodecShort) string { return c.Name })
	if err != nil {
		return nil, err
	}
	return byName(n), nil
}

func (codecs) comparable(o *plan.Object) *nsapi.State {
	s := &nsapi.State{}
	if o.Codec != nil {
		c := *o.Codec
		c.CodecJSON = "" // write-only: the gateway never lists it
		s.Codecs = []nsapi.Codec{c}
	}
	return s
}

// keepWriteOnly restores codecJson from gwsync's record; without one the
// value before the apply is unknown, and sending it empty would blank it:
// the undo keeps what the apply wrote and says so.
func (codecs) keepWriteOnly(r *runner, e *effect, target *plan.Object) {
	if target.Codec == nil || e.After == nil || e.After.Codec == nil || target.Codec.CodecJSON != "" {
		return
	}
	if v, ok := r.written.codecJSON[target.Codec.Name]; ok {
		target.Codec.CodecJSON = v // what gwsync last wrote: the best knowledge there is
		target.Codec.ClearCodecJSON = v == ""
	} else if e.After.Codec.CodecJSON != "" {
		target.Codec.CodecJSON = e.After.Codec.CodecJSON
		r.note("codec %s: its codecJson cannot be read back from the gateway and gwsync has no record of it, so its value before the apply is unknown: the rollback left the value the apply wrote", target.Codec.Name)
	}
}

func (codecs) beforeRecreate(r *runner, _ *effect, obj *plan.Object) {
	c := obj.Codec
	if c == nil || c.CodecJSON != "" {
		return
	}
	if v, ok := r.written.codecJSON[c.Name]; ok {
		c.CodecJSON = v
		c.ClearCodecJSON = v == ""
	} else {
		r.note("codec %s: re-created without its codecJson, which the gateway never returns and gwsync has no record of", c.Name)
	}
}

func (codecs) recreated(ctx context.Context, r *runner, e *effect, newID string) error {
	return kindBase{}.recreated(ctx, r, e, newID)
}

func (codecs) recreateFailed(_ *plan.Object, err error) error { return err }

func (codecs) relink(context.Context, *runner, *effect, string) error { return nil }
