package gwsim

import (
	"slices"
	"strconv"
	"strings"

	"github.com/gwsync/gwsync/nsapi"
)

// deviceOut is a device list entry with the 3.3 example's field names and
// types (nwksKey, payloadCodeID, ports as strings).
type deviceOut struct {
	DevEUI         string `json:"devEUI"`
	Name           string `json:"name"`
	ApplicationID  string `json:"applicationID"`
	AppName        string `json:"appName"`
	Description    string `json:"description"`
	ProfileID      string `json:"profileID"`
	ProfileName    string `json:"profileName"`
	FCntUp         int64  `json:"fCntUp"`
	FCntDown       int64  `json:"fCntDown"`
	SkipFCntCheck  bool   `json:"skipFCntCheck"`
	AppKey         string `json:"appKey"`
	DevAddr        string `json:"devAddr"`
	AppSKey        string `json:"appSKey"`
	NwksKey        string `json:"nwksKey"`
	SupportsJoin   bool   `json:"supportsJoin"`
	Active         bool   `json:"active"`
	LastSeenAt     string `json:"lastSeenAt"`
	MbMode         string `json:"mbMode"`
	MbFramePort    string `json:"mbFramePort"`
	MbTcpPort      string `json:"mbTcpPort"`
	LastSeenAtTime string `json:"lastSeenAtTime"`
	FPort          int64  `json:"fPort"`
	PayloadCodeID  string `json:"payloadCodeID"`
	PayloadName    string `json:"payloadName"`
}

// deviceOutTables is a device list entry with the response table's names
// and types (3.3): nwkSKey, payloadCodecID, ports as numbers.
type deviceOutTables struct {
	DevEUI         string `json:"devEUI"`
	Name           string `json:"name"`
	ApplicationID  string `json:"applicationID"`
	AppName        string `json:"appName"`
	Description    string `json:"description"`
	ProfileID      string `json:"profileID"`
	ProfileName    string `json:"profileName"`
	FCntUp         int64  `json:"fCntUp"`
	FCntDown       int64  `json:"fCntDown"`
	SkipFCntCheck  bool   `json:"skipFCntCheck"`
	AppKey         string `json:"appKey"`
	DevAddr        string `json:"devAddr"`
	NwkSKey        string `json:"nwkSKey"`
	AppSKey        string `json:"appSKey"`
	SupportsJoin   bool   `json:"supportsJoin"`
	Active         bool   `json:"active"`
	LastSeenAt     string `json:"lastSeenAt"`
	MbMode         string `json:"mbMode"`
	MbFramePort    int64  `json:"mbFramePort"`
	MbTcpPort      int64  `json:"mbTcpPort"`
	LastSeenAtTime string `json:"lastSeenAtTime"`
	FPort          int64  `json:"fPort"`
	PayloadCodecID string `json:"payloadCodecID"`
	PayloadName    string `json:"payloadName"`
}

// tables is o with the table's names and types.
func (o deviceOut) tables() deviceOutTables {
	fp, _ := strconv.ParseInt(o.MbFramePort, 10, 64)
	tp, _ := strconv.ParseInt(o.MbTcpPort, 10, 64)
	return deviceOutTables{DevEUI: o.DevEUI, Name: o.Name, ApplicationID: o.ApplicationID, AppName: o.AppName,
		Description: o.Description, ProfileID: o.ProfileID, ProfileName: o.ProfileName, FCntUp: o.FCntUp,
		FCntDown: o.FCntDown, SkipFCntCheck: o.SkipFCntCheck, AppKey: o.AppKey, DevAddr: o.DevAddr,
		NwkSKey: o.NwksKey, AppSKey: o.AppSKey, SupportsJoin: o.SupportsJoin, Active: o.Active,
		LastSeenAt: o.LastSeenAt, MbMode: o.MbMode, MbFramePort: fp, MbTcpPort: tp,
		LastSeenAtTime: o.LastSeenAtTime, FPort: o.FPort, PayloadCodecID: o.PayloadCodeID, PayloadName: o.PayloadName}
}

type appOut struct {
	AppName       string `json:"appName"`
	ApplicationID string `json:"applicationID"`
}

type profileRefOut struct {
	ProfileID    string `json:"profileID"`
	ProfileName  string `json:"profileName"`
	SupportsJoin bool   `json:"supportsJoin"`
}

type deviceList struct {
	DevTotalCount string          `json:"devTotalCount"`
	DeviceResult  []any           `json:"deviceResult"` // deviceOut or deviceOutTables
	AppTotalCount string          `json:"appTotalCount"`
	AppResult     []appOut        `json:"appResult"`
	PfTotalCount  string          `json:"pfTotalCount"`
	ProfileResult []profileRefOut `json:"profileResult"`
	ChannelPlan   string          `json:"channelPlan"`
	Disable       bool            `json:"disable"`
}

func itoa[T int | int64](n T) string { return strconv.FormatInt(int64(n), 10) }

func (g *Gateway) listDevices(req *request, _ string) any {
	limit, offset, e := paging(req.query)
	if e != nil {
		return e
	}
	app, e := queryInt(req.query, "applicationID", 0, 0, maxID)
	if e != nil {
		return e
	}
	appID := "" // 0: every application
	if app > 0 {
		appID = itoa(app)
	}
	search := req.query.Get("search")
	var found []*devRec
	for _, d := range g.st.Devices {
		if appID != "" && d.ApplicationID != appID {
			continue
		}
		if matches(search, d.Name) || !g.opts.SearchNamesOnly && matches(search, d.DevEUI) {
			found = append(found, d)
		}
	}
	out := deviceList{
		DevTotalCount: itoa(len(found)), DeviceResult: []any{},
		AppTotalCount: itoa(len(g.st.Applications)), AppResult: []appOut{},
		PfTotalCount: itoa(len(g.st.Profiles)), ProfileResult: []profileRefOut{},
		ChannelPlan: g.plan.Name,
	}
	lo, hi := page(len(found), limit, offset)
	for _, d := range found[lo:hi] {
		if o := g.deviceOut(d); g.examples() {
			out.DeviceResult = append(out.DeviceResult, o)
		} else {
			out.DeviceResult = append(out.DeviceResult, o.tables())
		}
	}
	for _, a := range g.st.Applications {
		out.AppResult = append(out.AppResult, appOut{AppName: a.Name, ApplicationID: a.ID})
	}
	for _, p := range g.st.Profiles {
		out.ProfileResult = append(out.ProfileResult, profileRefOut{ProfileID: p.ID, ProfileName: p.Name, SupportsJoin: p.S.SupportsJoin})
	}
	return out
}

func (g *Gateway) deviceOut(d *devRec) deviceOut {
	o := deviceOut{
		DevEUI: d.DevEUI, Name: d.Name, ApplicationID: d.ApplicationID, Description: d.Description,
		ProfileID: d.ProfileID, FCntUp: d.FCntUp, FCntDown: d.FCntDown, SkipFCntCheck: d.SkipFCntCheck,
		AppKey: d.AppKey, DevAddr: d.DevAddr, AppSKey: d.AppSKey, NwksKey: d.NwkSKey,
		LastSeenAt: "-", MbMode: d.MbMode, MbFramePort: itoa(d.MbFramePort), MbTcpPort: itoa(d.MbTcpPort),
		LastSeenAtTime: "-", FPort: d.FPort, PayloadCodeID: d.PayloadCodecID,
	}
	if o.PayloadCodeID == "" {
		o.PayloadCodeID = "0"
	}
	if a := g.st.app(d.ApplicationID); a != nil {
		o.AppName = a.Name
	}
	if p := g.st.profile(d.ProfileID); p != nil {
		o.ProfileName, o.SupportsJoin = p.Name, p.S.SupportsJoin
	}
	if c := g.st.codec(d.PayloadCodecID); c != nil {
		o.PayloadName = c.Name
	}
	return o
}

// readDevice applies a create (d new, defaults apply) or update (d a copy
// of the stored device, absent fields kept) body to d.
func (g *Gateway) readDevice(f *fields, d *devRec, create bool) *apiError {
	if create {
		f.require("devEUI", "applicationID")
		d.DevEUI = strings.ToUpper(f.hexField("devEUI", 16, "", false))
	} else {
		f.require("applicationID")
	}
	d.ApplicationID = itoa(f.bounded("applicationID", 0, true, 0, maxID))
	if f.has("payloadCodecID") {
		d.PayloadCodecID = itoa(f.bounded("payloadCodecID", 0, true, 0, maxID))
	}
	d.Name = f.str("name", d.Name)
	d.Description = f.str("description", d.Description)
	d.ProfileID = f.str("profileID", d.ProfileID)
	d.FPort = f.integer("fPort", d.FPort, false)
	d.SkipFCntCheck = f.boolean("skipFCntCheck", d.SkipFCntCheck)
	d.AppKey = f.hexField("appKey", 32, d.AppKey, true)
	d.DevAddr = f.hexField("devAddr", 8, d.DevAddr, true)
	// One spelling is read and the other ignored, as a gateway would:
	// nwkSKey of the tables, or nwksKey of the 3.3 and 3.4 examples.
	if g.examples() {
		d.NwkSKey = f.hexField("nwksKey", 32, d.NwkSKey, true)
	} else {
		d.NwkSKey = f.hexField("nwkSKey", 32, d.NwkSKey, true)
	}
	d.AppSKey = f.hexField("appSKey", 32, d.AppSKey, true)
	d.FCntUp = f.integer("fCntUp", d.FCntUp, false)
	d.FCntDown = f.integer("fCntDown", d.FCntDown, false)
	d.MbMode = f.str("mbMode", d.MbMode)
	d.MbFramePort = f.integer("mbFramePort", d.MbFramePort, false)
	d.MbTcpPort = f.integer("mbTcpPort", d.MbTcpPort, false)
	if e := f.failed(); e != nil {
		return e
	}
	if create {
		if d.Name == "" {
			d.Name = d.DevEUI
		}
		if !f.has("description") {
			d.Description = d.DevEUI
		}
		if d.ProfileID == "" {
			d.ProfileID = profileIDClassA
			if p := g.st.profileByName("ClassA-OTAA"); p != nil {
				d.ProfileID = p.ID
			}
		}
	}
	if d.Name == "" || len(d.Name) > 64 {
		f.fail(nsapi.CodeParameter, "name", "want 1–64 characters")
	}
	if len(d.Description) > 1024 {
		f.fail(nsapi.CodeParameter, "description", "want at most 1024 characters")
	}
	f.rangeCheck("fPort", d.FPort, 1, 223)
	f.rangeCheck("fCntUp", d.FCntUp, 0, 4294967295)
	f.rangeCheck("fCntDown", d.FCntDown, 0, 4294967295)
	switch d.MbMode {
	case "", "tcp", "rtu":
	default:
		f.fail(nsapi.CodeParameter, "mbMode", "want tcp or rtu")
	}
	if d.MbFramePort != 0 && (d.MbFramePort < 2 || d.MbFramePort == 85 || d.MbFramePort > 223) {
		f.fail(nsapi.CodeParameter, "mbFramePort", "want 2–84 or 86–223, got %d", d.MbFramePort)
	}
	f.rangeCheck("mbTcpPort", d.MbTcpPort, 0, 65535)
	if e := f.failed(); e != nil {
		return e
	}
	if g.st.app(d.ApplicationID) == nil {
		return errf(nsapi.CodeNotFound, "application %s", d.ApplicationID)
	}
	p := g.st.profile(d.ProfileID)
	if p == nil {
		return errf(nsapi.CodeNotFound, "profile %s", d.ProfileID)
	}
	if d.PayloadCodecID == "0" {
		d.PayloadCodecID = ""
	}
	if d.PayloadCodecID != "" && g.st.codec(d.PayloadCodecID) == nil {
		return errf(nsapi.CodeNotFound, "payload codec %s", d.PayloadCodecID)
	}
	if p.S.SupportsJoin {
		if d.AppKey == "" {
			d.AppKey = DefaultKey
		}
	} else {
		if d.DevAddr == "" {
			return errf(nsapi.CodeParameter, "devAddr: required for an ABP device (profile %s)", p.Name)
		}
		if d.NwkSKey == "" {
			d.NwkSKey = DefaultKey
		}
		if d.AppSKey == "" {
			d.AppSKey = DefaultKey
		}
	}
	return nil
}

func (g *Gateway) createDevice(req *request, _ string) any {
	f, e := readBody(req.Body)
	if e != nil {
		return e
	}
	d := &devRec{FPort: 1}
	if e := g.readDevice(f, d, true); e != nil {
		return e
	}
	if g.st.device(d.DevEUI) != nil {
		return errf(nsapi.CodeAlreadyExists, "device %s", d.DevEUI)
	}
	if g.deviceNamed(d.Name) != nil {
		return errf(nsapi.CodeAlreadyExists, "device name %q", d.Name)
	}
	g.st.addDevice(d)
	g.st.putDevice(d)
	return okBody
}

func (g *Gateway) deviceNamed(name string) *devRec { return g.st.idx.devName[name] }

func (g *Gateway) updateDevice(req *request, eui string) any {
	f, e := readBody(req.Body)
	if e != nil {
		return e
	}
	cur := g.st.device(eui)
	if cur == nil {
		return errf(nsapi.CodeNotFound, "device %s", eui)
	}
	d := *cur
	if g.opts.PutReplaces {
		d = devRec{DevEUI: cur.DevEUI} // absent fields take their zero value
	}
	if e := g.readDevice(f, &d, false); e != nil {
		return e
	}
	old := cur.Name
	if e := replace(cur, d, g.deviceNamed(d.Name), "device name %q", d.Name); e != nil {
		return e
	}
	g.st.renameDevice(cur, old)
	g.st.putDevice(cur)
	return okBody
}

func (g *Gateway) deleteDevice(_ *request, eui string) any {
	d := g.st.device(eui)
	if d == nil {
		return errf(nsapi.CodeNotFound, "device %s", eui)
	}
	switch n := len(g.st.tasksOf(d.DevEUI)); {
	case n == 1:
		return errf(nsapi.CodeFuotaDeviceInTask, "device %s", d.DevEUI)
	case n > 1:
		return errf(nsapi.CodeFuotaDevicesInTasks, "device %s is in %d tasks", d.DevEUI, n)
	}
	g.st.removeDevice(d)
	g.st.delDevice(d)
	for _, gr := range g.st.Groups {
		n := len(gr.Members)
		gr.Members = slices.DeleteFunc(gr.Members, func(e string) bool { return e == d.DevEUI })
		if len(gr.Members) != n {
			g.st.putGroup(gr)
		}
	}
	return okBody
}
