package applier

import (
	"context"
	"fmt"
	"strings"

	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
)

// groups: multicast groups, found by name, with a server UUID. Deleting
// one drops its members, so a re-created group gets them back.
type groups struct{ kindBase }

func (groups) identity(o *plan.Object) string {
	if o.Group == nil {
		return ""
	}
	return o.Group.Name
}

func (groups) serverID(o *plan.Object) string {
	if o.Group == nil {
		return ""
	}
	return o.Group.ID
}

func (groups) create(ctx context.Context, w Writer, o *plan.Object) (string, error) {
	return w.CreateGroup(ctx, o.Group.MulticastGroup)
}

// update writes the group with the frame counter the gateway holds at
// that moment. The PUT requires fCnt (spec 4.6, "enquire this group
// first"), and the gateway moves it with every multicast downlink: the
// value in the plan, read at plan time (or before the apply, for an
// undo), is behind, and writing it back would reopen frames already sent.
func (groups) update(ctx context.Context, w Writer, id string, o, _ *plan.Object) error {
	g := o.Group.MulticastGroup
	fcnt, err := liveGroupFCnt(ctx, w, id, g.Name)
	if err != nil {
		return fmt.Errorf("read its frame counter before the update: %w", err)
	}
	g.FCnt = fcnt
	return w.UpdateGroup(ctx, id, g)
}

// liveGroupFCnt reads the frame counter of the group with server id id
// (name is a search hint: the group may be renamed by this very update).
func liveGroupFCnt(ctx context.Context, w Writer, id, name string) (nsapi.FlexInt, error) {
	for _, search := range []string{name, ""} {
		l, err := w.ListGroups(ctx, search)
		if err != nil {
			return 0, err
		}
		for i := range l {
			if l[i].ID == id {
				return l[i].FCnt, nil
			}
		}
	}
	return 0, fmt.Errorf("multicast group %s is not on the gateway", id)
}

func (groups) remove(ctx context.Context, w Writer, id string) error {
	return w.DeleteGroup(ctx, id)
}

func (groups) find(ctx context.Context, w Writer, name string) (bool, string, *plan.Object, error) {
	l, err := w.ListGroups(ctx, name)
	if err != nil {
		return false, "", nil, err
	}
	for i := range l {
		if l[i].Name == name {
			g := l[i]
			return true, g.ID, &plan.Object{Group: &g}, nil
		}
	}
	return false, "", nil, nil
}

func (groups) held(ctx context.Context, r *runner, _ []*effect) (func(*effect) bool, error) {
	n, err := names(ctx, func(ctx context.Context) ([]nsapi.MulticastGroupInfo, error) { return r.w.ListGroups(ctx, "") },
		func(g *nsapi.MulticastGroupInfo) string { return g.Name })
	if err != nil {
		return nil, err
	}
	return byName(n), nil
}

func (groups) comparable(o *plan.Object) *nsapi.State {
	s := &nsapi.State{}
	if o.Group != nil {
		g := *o.Group
		g.Devices = nil
		s.Groups = []nsapi.MulticastGroupInfo{g}
	}
	return s
}

// recreated puts the group's members back and says what a re-created
// group loses.
func (groups) recreated(ctx context.Context, r *runner, e *effect, newID string) error {
	if err := (groups{}).relink(ctx, r, e, newID); err != nil {
		return err
	}
	r.note("multicast group %s was re-created with a new id (%s → %s); its frame counter restarts at %d", e.Name, e.ID, newID, e.Before.Group.FCnt)
	return nil
}

// relink adds the members the group had before the apply and lacks now.
func (groups) relink(ctx context.Context, r *runner, e *effect, id string) error {
	var want []string
	for _, m := range e.Before.Group.Devices {
		want = append(want, strings.ToUpper(m.DevEUI))
	}
	if len(want) == 0 {
		return nil
	}
	found, gid, live, err := r.findGroup(ctx, id, e.Name)
	if err != nil || !found {
		return fmt.Errorf("re-add the members of multicast group %s: %v", e.Name, errOr(err, "the group is gone"))
	}
	have := memberSet(live)
	var todo []string
	for _, d := range want {
		if !have[d] {
			todo = append(todo, d)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	add := &effect{Op: opAdd, Kind: plan.KindMember, ID: gid, Group: e.Name, DevEUIs: todo}
	if err := r.w.AddGroupDevices(ctx, gid, todo); err != nil {
		if ok, _, cerr := r.inForce(ctx, add); cerr != nil || !ok {
			return fmt.Errorf("re-add the members of multicast group %s: %w", e.Name, err)
		}
	}
	return nil
}

func errOr(err error, msg string) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("%s", msg)
}

// members: a device's membership of a group. The memberships of one group
// added (or removed) in one phase are one step and one write; they are
// found by the group's server id, since the apply may rename the group.
type members struct{ kindBase }

func (members) identity(o *plan.Object) string {
	if o.Member == nil {
		return ""
	}
	return o.Member.Group
}

func (members) serverID(o *plan.Object) string {
	if o.Member == nil {
		return ""
	}
	return o.Member.GroupID
}

func (members) create(context.Context, Writer, *plan.Object) (string, error) {
	return "", fmt.Errorf("a membership is added with its group's other members (doMembers)")
}

func (members) update(context.Context, Writer, string, *plan.Object, *plan.Object) error {
	return fmt.Errorf("a membership can only be added or removed")
}

func (members) remove(context.Context, Writer, string) error {
	return fmt.Errorf("a membership is removed with its group's other members (doMembers)")
}

func (members) find(ctx context.Context, w Writer, group string) (bool, string, *plan.Object, error) {
	return groups{}.find(ctx, w, group)
}

// held reads every group once and checks each effect's members in the
// group of its id.
func (members) held(ctx context.Context, r *runner, _ []*effect) (func(*effect) bool, error) {
	l, err := reread(ctx, func(ctx context.Context) ([]nsapi.MulticastGroupInfo, error) { return r.w.ListGroups(ctx, "") })
	if err != nil {
		return nil, err
	}
	byID := map[string]map[string]bool{}
	for i := range l {
		byID[l[i].ID] = memberSet(&l[i])
	}
	return func(e *effect) bool {
		m, ok := byID[e.ID] // by id: a group may be renamed in the same apply
		if !ok {
			return false
		}
		for _, d := range e.DevEUIs {
			if m[d] != (e.Op == opAdd) {
				return false
			}
		}
		return true
	}, nil
}

func (members) comparable(*plan.Object) *nsapi.State { return &nsapi.State{} }

func (r *runner) doMembers(ctx context.Context, s *step) error {
	first := s.changes[0]
	e := &effect{Kind: plan.KindMember}
	var groupID string
	for _, c := range s.changes {
		switch c.Action {
		case plan.Create:
			after, err := r.resolve(c)
			if err != nil {
				return err
			}
			e.Op, e.Group, groupID = opAdd, after.Member.Group, after.Member.GroupID
			if groupID == "" {
				r.mu.Lock()
				groupID = r.ids[string(plan.KindGroup)+"."+after.Member.Group]
				r.mu.Unlock()
			}
			e.DevEUIs = append(e.DevEUIs, strings.ToUpper(after.Member.DevEUI))
		case plan.Delete:
			e.Op, e.Group, groupID = opRemove, c.Before.Member.Group, c.Before.Member.GroupID
			if groupID == "" {
				groupID = c.ID
			}
			e.DevEUIs = append(e.DevEUIs, strings.ToUpper(c.Before.Member.DevEUI))
		default:
			return fmt.Errorf("a membership can only be added or removed, not %s", c.Action)
		}
	}
	if groupID == "" {
		return fmt.Errorf("multicast group %q has no id", e.Group)
	}
	e.ID, e.Name = groupID, e.Group
	return r.perform(ctx, s, first, e, func(ctx context.Context) (string, error) {
		if e.Op == opAdd {
			return groupID, r.w.AddGroupDevices(ctx, groupID, e.DevEUIs)
		}
		return groupID, r.w.RemoveGroupDevices(ctx, groupID, e.DevEUIs)
	})
}

// findGroup looks a multicast group up by its server id (mapped to the id
// a rollback re-created it with), falling back to its name when the id is
// unknown: undo steps must find a group that this apply renamed.
func (r *runner) findGroup(ctx context.Context, id, name string) (found bool, gid string, g *nsapi.MulticastGroupInfo, err error) {
	if id == "" {
		found, gid, obj, err := r.find(ctx, plan.KindGroup, name)
		if !found || err != nil {
			return found, gid, nil, err
		}
		return true, gid, obj.Group, nil
	}
	id = r.mapID(id)
	l, err := reread(ctx, func(ctx context.Context) ([]nsapi.MulticastGroupInfo, error) { return r.w.ListGroups(ctx, "") })
	if err != nil {
		return false, "", nil, err
	}
	for i := range l {
		if l[i].ID == id {
			return true, id, &l[i], nil
		}
	}
	return false, "", nil, nil
}

func memberSet(g *nsapi.MulticastGroupInfo) map[string]bool {
	m := map[string]bool{}
	for _, d := range g.Devices {
		m[strings.ToUpper(d.DevEUI)] = true
	}
	return m
}

// rejoinGroups puts a re-created device back into every multicast group
// that listed it before the apply and still exists: deleting a device on
// the gateway takes its memberships with it. Groups this apply deleted are
// re-created later in the rollback, with their members.
func (r *runner) rejoinGroups(ctx context.Context, eui string) error {
	if r.before == nil {
		return nil
	}
	var was []nsapi.MulticastGroupInfo
	for _, g := range r.before.Groups {
		if memberSet(&g)[eui] {
			was = append(was, g)
		}
	}
	if len(was) == 0 {
		return nil
	}
	for _, g := range was {
		found, gid, live, err := r.findGroup(ctx, g.ID, g.Name)
		if err != nil {
			return fmt.Errorf("re-add device %s to multicast group %s: %w", eui, g.Name, err)
		}
		if !found || memberSet(live)[eui] {
			continue
		}
		e := &effect{Op: opAdd, Kind: plan.KindMember, ID: gid, Group: g.Name, DevEUIs: []string{eui}}
		if err := r.w.AddGroupDevices(ctx, gid, e.DevEUIs); err != nil {
			if ok, _, cerr := r.inForce(ctx, e); cerr != nil || !ok {
				return fmt.Errorf("re-add device %s to multicast group %s: %w", eui, g.Name, err)
			}
		}
	}
	return nil
}

func (r *runner) undoMembers(ctx context.Context, e *effect) (string, error) {
	found, gid, live, err := r.findGroup(ctx, e.ID, e.Group)
	if err != nil {
		return "", err
	}
	if !found {
		if e.Op == opAdd {
			return "group gone", nil // its members went with it
		}
		return "", fmt.Errorf("multicast group %s (id %s) is gone", e.Group, r.mapID(e.ID))
	}
	members := memberSet(live)
	var todo []string
	for _, d := range e.DevEUIs {
		if members[d] == (e.Op == opAdd) {
			todo = append(todo, d)
		}
	}
	if len(todo) == 0 {
		return "nothing to do", nil
	}
	if e.Op == opAdd {
		err = r.w.RemoveGroupDevices(ctx, gid, todo)
	} else {
		err = r.w.AddGroupDevices(ctx, gid, todo)
	}
	if err != nil {
		e2 := *e
		e2.ID, e2.DevEUIs = gid, todo
		e2.Op = map[string]string{opAdd: opRemove, opRemove: opAdd}[e.Op]
		if ok, _, cerr := r.inForce(ctx, &e2); cerr == nil && ok {
			err = nil
		}
	}
	if e.Op == opAdd {
		return fmt.Sprintf("removed %d members", len(todo)), err
	}
	return fmt.Sprintf("re-added %d members", len(todo)), err
}
