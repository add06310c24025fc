package applier

import (
	"context"
	"fmt"
	"strings"

	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/plan"
)

// devices: found by devEUI, which is also their server id. Deleting one
// takes its multicast memberships with it; ABP frame counters are sent at
// create and never rewound by an update.
type devices struct{ kindBase }

func (devices) identity(o *plan.Object) string {
	if o.Device == nil {
		return ""
	}
	return strings.ToUpper(o.Device.DevEUI)
}

func (devices) serverID(o *plan.Object) string {
	if o.Device == nil {
		return ""
	}
	return strings.ToUpper(o.Device.DevEUI)
}

func (devices) create(ctx context.Context, w Writer, o *plan.Object) (string, error) {
	d := o.Device.Write()
	d.DevEUI = strings.ToUpper(d.DevEUI)
	return d.DevEUI, w.CreateDevice(ctx, d)
}

// update writes the whole device: the site's settings over the device as
// the gateway holds it at that moment. The spec's PUT example (3.4) sends
// every field and suggests enquiring the device first: a gateway may take
// a PUT as the whole object, so a field left out could be reset. The
// session (device address, session keys) and the frame counters are the
// gateway's while the join type stays: they are sent as just read, never
// as planned, since traffic moves the counters on after the plan (or,
// for an undo, after the apply began) and an older value would rewind the
// device and reopen replays, and an OTAA device would lose its join.
func (devices) update(ctx context.Context, w Writer, id string, o, _ *plan.Object) error {
	d := o.Device.Write()
	d.DevEUI = ""
	live, err := w.GetDevice(ctx, id)
	if nsapi.IsCode(err, nsapi.CodeNotFound) || (err == nil && (live == nil || !strings.EqualFold(live.DevEUI, id))) {
		// the spec never says that search matches EUIs: read the list
		live, err = listedDevice(ctx, w, id)
	}
	if err != nil {
		return fmt.Errorf("read it before the update: %w", err)
	}
	carrySession(&d, live, o.Device.SupportsJoin)
	withoutDigests(&d)
	return w.UpdateDevice(ctx, id, d)
}

// listedDevice finds device eui in the whole device list.
func listedDevice(ctx context.Context, w Writer, eui string) (*nsapi.Device, error) {
	l, err := w.ListDevices(ctx, nsapi.DeviceQuery{})
	if err != nil {
		return nil, err
	}
	for i := range l.DeviceResult {
		if strings.EqualFold(l.DeviceResult[i].DevEUI, eui) {
			return &l.DeviceResult[i], nil
		}
	}
	return nil, fmt.Errorf("device %s is not on the gateway", strings.ToUpper(eui))
}

// carrySession puts live's session and frame counters into d when the
// device keeps its join type (joins); a device that switches between OTAA
// and ABP starts the session the site gives.
func carrySession(d *nsapi.DeviceWrite, live *nsapi.Device, joins bool) {
	if live.SupportsJoin != joins {
		return
	}
	d.DevAddr, d.NwkSKey, d.AppSKey = live.DevAddr, live.NwkSKey, live.AppSKey
	up, down := int64(live.FCntUp), int64(live.FCntDown)
	d.FCntUp, d.FCntDown = &up, &down
}

// withoutKeptSession is a copy of c's After without the session keys it
// keeps as Before holds them: the gateway's own, which an update carries as
// read just before its write (carrySession), never as planned. A plan made
// against a snapshot holds them as digests, shown unchanged, not removed.
func withoutKeptSession(c plan.Change) *plan.Object {
	a := copyObject(c.After)
	if c.Kind != plan.KindDevice || c.Action != plan.Update || c.Before == nil || c.Before.Device == nil ||
		a == nil || a.Device == nil {
		return a
	}
	b := c.Before.Device
	if a.Device.NwkSKey == b.NwkSKey {
		a.Device.NwkSKey = ""
	}
	if a.Device.AppSKey == b.AppSKey {
		a.Device.AppSKey = ""
	}
	return a
}

// withoutDigests blanks a write's session keys that are digests (a kept
// session planned against a snapshot whose device then changed join type):
// a digest is never sent as a key.
func withoutDigests(d *nsapi.DeviceWrite) {
	for _, p := range []*string{&d.NwkSKey, &d.AppSKey} {
		if strings.HasPrefix(*p, "sha256:") || strings.HasPrefix(*p, sealedPrefix) {
			*p = ""
		}
	}
}

func (devices) remove(ctx context.Context, w Writer, id string) error {
	return w.DeleteDevice(ctx, id)
}

func (devices) find(ctx context.Context, w Writer, eui string) (bool, string, *plan.Object, error) {
	d, err := w.GetDevice(ctx, eui)
	if nsapi.IsCode(err, nsapi.CodeNotFound) {
		return false, "", nil, nil
	}
	if err != nil {
		return false, "", nil, err
	}
	if d == nil || !strings.EqualFold(d.DevEUI, eui) {
		return false, "", nil, nil
	}
	return true, strings.ToUpper(d.DevEUI), &plan.Object{Device: d}, nil
}

// held confirms a few devices with one searched read each, and many with
// the whole list: whichever reads less.
func (devices) held(ctx context.Context, r *runner, effs []*effect) (func(*effect) bool, error) {
	if len(effs) <= devicePages(r.before, len(effs)) {
		n := map[string]bool{}
		for _, e := range effs {
			found, _, _, err := r.find(ctx, plan.KindDevice, e.Name)
			if err != nil {
				return nil, err
			}
			n[e.Name] = found
		}
		return byName(n), nil
	}
	n, err := names(ctx, func(ctx context.Context) ([]nsapi.Device, error) {
		l, err := r.w.ListDevices(ctx, nsapi.DeviceQuery{})
		if err != nil {
			return nil, err
		}
		return l.DeviceResult, nil
	}, func(d *nsapi.Device) string { return strings.ToUpper(d.DevEUI) })
	if err != nil {
		return nil, err
	}
	return byName(n), nil
}

// devicePages estimates the pages of a whole device list after an apply
// that adds up to added devices to before's.
func devicePages(before *nsapi.State, added int) int {
	n := added
	if before != nil {
		n += len(before.Devices)
	}
	return max(3, (n+nsapi.DefaultPageSize-1)/nsapi.DefaultPageSize)
}

func (devices) comparable(o *plan.Object) *nsapi.State {
	s := &nsapi.State{}
	if o.Device != nil {
		d := *o.Device
		d.ProfileName, d.PayloadName = "", ""
		s.Devices = []nsapi.Device{d}
	}
	return s
}

// recreated puts the device back into its multicast groups and says what
// a re-created device loses.
func (devices) recreated(ctx context.Context, r *runner, e *effect, id string) error {
	d := e.Before.Device
	eui := strings.ToUpper(d.DevEUI)
	if err := (devices{}).relink(ctx, r, e, id); err != nil {
		return err
	}
	if d.SupportsJoin {
		r.note("device %s was re-created: its session is lost, it must join again, and its frame counters restart", eui)
	} else {
		r.note("device %s was re-created: its frame counters are set back to the values read before the apply (fCntUp %d, fCntDown %d)", eui, d.FCntUp, d.FCntDown)
	}
	return nil
}

// relink puts the device back into the groups it was in before the apply.
func (devices) relink(ctx context.Context, r *runner, e *effect, _ string) error {
	return r.rejoinGroups(ctx, strings.ToUpper(e.Before.Device.DevEUI))
}
