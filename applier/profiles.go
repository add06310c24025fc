package applier

import (
	"context"

	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
)

// profiles: device profiles, found by name, with a server UUID.
type profiles struct{ kindBase }

func (profiles) identity(o *plan.Object) string {
	if o.Profile == nil {
		return ""
	}
	return o.Profile.Name
}

func (profiles) serverID(o *plan.Object) string {
	if o.Profile == nil {
		return ""
	}
	return o.Profile.Profile.ProfileID
}

func (profiles) create(ctx context.Context, w Writer, o *plan.Object) (string, error) {
	return w.CreateProfile(ctx, o.Profile.Write())
}

func (profiles) update(ctx context.Context, w Writer, id string, o, _ *plan.Object) error {
	return w.UpdateProfile(ctx, id, o.Profile.Write())
}

func (profiles) remove(ctx context.Context, w Writer, id string) error {
	return w.DeleteProfile(ctx, id)
}

func (profiles) find(ctx context.Context, w Writer, name string) (bool, string, *plan.Object, error) {
	l, err := w.ListProfiles(ctx)
	if err != nil {
		return false, "", nil, err
	}
	for i := range l.Result {
		if l.Result[i].Name == name {
			p := l.Result[i]
			return true, p.Profile.ProfileID, &plan.Object{Profile: &p}, nil
		}
	}
	return false, "", nil, nil
}

func (profiles) held(ctx context.Context, r *runner, _ []*effect) (func(*effect) bool, error) {
	n, err := names(ctx, func(ctx context.Context) ([]nsapi.Profile, error) {
		l, err := r.w.ListProfiles(ctx)
		if err != nil {
			return nil, err
		}
		return l.Result, nil
	}, func(p *nsapi.Profile) string { return p.Name })
	if err != nil {
		return nil, err
	}
	return byName(n), nil
}

func (profiles) comparable(o *plan.Object) *nsapi.State {
	s := &nsapi.State{}
	if o.Profile != nil {
		s.Profiles = []nsapi.Profile{*o.Profile}
	}
	return s
}
