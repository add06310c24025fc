package gwsim

import (
	"slices"
	"strings"

	"github.com/gwsync/gwsync/band"
	"github.com/gwsync/gwsync/nsapi"
)

// groupTimeLayout is the layout of a group's createdAt and updatedAt.
const groupTimeLayout = "2006-01-02 15:04:05"

type memberOut struct {
	DevEUI              string `json:"devEUI"`
	Name                string `json:"name"`
	ApplicationID       string `json:"applicationID"`
	Description         string `json:"description"`
	DeviceProfileID     string `json:"deviceProfileID"`
	DeviceProfileName   string `json:"deviceProfileName"`
	DeviceStatusBattery int64  `json:"deviceStatusBattery"`
	DeviceStatusMargin  int64  `json:"deviceStatusMargin"`
	LastSeenAt          string `json:"lastSeenAt"`
}

type groupOut struct {
	ID             string      `json:"id"`
	Name           string      `json:"name"`
	McAddr         string      `json:"mcAddr"`
	McNwkSKey      string      `json:"mcNwkSKey"`
	McAppSKey      string      `json:"mcAppSKey"`
	FCnt           int64       `json:"fCnt"`
	GroupType      string      `json:"groupType"`
	DR             int64       `json:"dr"`
	Frequency      int64       `json:"frequency"`
	PingSlotPeriod int64       `json:"pingSlotPeriod"`
	CreatedAt      string      `json:"createdAt"`
	UpdatedAt      string      `json:"updatedAt"`
	Devices        []memberOut `json:"devices"`
}

type groupList struct {
	TotalCount string     `json:"totalCount"`
	Result     []groupOut `json:"result"`
}

func (g *Gateway) listGroups(req *request, _ string) any {
	limit, offset, e := paging(req.query)
	if e != nil {
		return e
	}
	order := strings.ToLower(req.query.Get("order"))
	if order != "" && order != "asc" && order != "desc" {
		return errf(nsapi.CodeParameter, "order: want asc or desc")
	}
	search := req.query.Get("search")
	var found []*groupRec
	for _, gr := range g.st.Groups {
		if matches(search, gr.Name) {
			found = append(found, gr)
		}
	}
	if order == "desc" {
		slices.Reverse(found)
	}
	out := groupList{TotalCount: itoa(len(found)), Result: []groupOut{}}
	lo, hi := page(len(found), limit, offset)
	for _, gr := range found[lo:hi] {
		o := groupOut{
			ID: gr.ID, Name: gr.Name, McAddr: gr.McAddr, McNwkSKey: gr.McNwkSKey, McAppSKey: gr.McAppSKey,
			FCnt: gr.FCnt, GroupType: gr.GroupType, DR: gr.DR, Frequency: gr.Frequency, PingSlotPeriod: gr.PingSlot,
			CreatedAt: gr.CreatedAt.UTC().Format(groupTimeLayout), UpdatedAt: gr.UpdatedAt.UTC().Format(groupTimeLayout),
			Devices: []memberOut{},
		}
		for _, eui := range gr.Members {
			d := g.st.device(eui)
			if d == nil {
				continue
			}
			m := memberOut{DevEUI: d.DevEUI, Name: d.Name, ApplicationID: d.ApplicationID, Description: d.Description,
				DeviceProfileID: d.ProfileID}
			if p := g.st.profile(d.ProfileID); p != nil {
				m.DeviceProfileName = p.Name
			}
			o.Devices = append(o.Devices, m)
		}
		out.Result = append(out.Result, o)
	}
	return out
}

var groupFields = []string{"name", "mcAddr", "mcNwkSKey", "mcAppSKey", "fCnt", "groupType", "dr", "frequency", "pingSlotPeriod"}

// readGroup reads {"multicastGroup":{…}} into gr: defaults on create,
// every field required on update.
func (g *Gateway) readGroup(req *request, gr *groupRec, put bool) *apiError {
	body, e := readBody(req.Body)
	if e != nil {
		return e
	}
	body.require("multicastGroup")
	f := body.object("multicastGroup")
	if body.failed() != nil {
		return body.failed()
	}
	if put {
		f.require(groupFields...)
	} else {
		f.require("name")
	}
	gr.Name = f.str("name", "")
	gr.McAddr = f.hexField("mcAddr", 8, "11111111", false)
	gr.McNwkSKey = f.hexField("mcNwkSKey", 32, DefaultKey, false)
	gr.McAppSKey = f.hexField("mcAppSKey", 32, DefaultKey, false)
	gr.FCnt = f.integer("fCnt", 0, false)
	gr.GroupType = f.str("groupType", "CLASS_C")
	if f.failed() != nil {
		return f.failed()
	}
	defDR, defFreq := g.plan.RX2DR, g.plan.RX2Freq
	if gr.GroupType == "CLASS_B" {
		defDR, defFreq = g.plan.PingSlotDR, g.plan.PingSlotFreq
	}
	gr.DR = f.integer("dr", defDR, false)
	gr.Frequency = f.integer("frequency", defFreq, false)
	gr.PingSlot = f.integer("pingSlotPeriod", 128, false)
	if f.failed() != nil {
		return f.failed()
	}
	if gr.Name == "" || len(gr.Name) > 128 {
		f.fail(nsapi.CodeParameter, "name", "want 1–128 characters")
	}
	f.rangeCheck("fCnt", gr.FCnt, 0, 4294967295)
	if gr.GroupType != "CLASS_B" && gr.GroupType != "CLASS_C" {
		f.fail(nsapi.CodeParameter, "groupType", "want CLASS_B or CLASS_C")
	}
	g.checkDR(f, "dr", gr.DR)
	g.checkFreq(f, "frequency", gr.Frequency)
	if !slices.Contains(band.PingSlotPeriods, gr.PingSlot) {
		f.fail(nsapi.CodeParameter, "pingSlotPeriod", "want one of 32, 64, 128, 256, 512, 1024, 2048, 4096")
	}
	return f.failed()
}

func (g *Gateway) groupNamed(name string) *groupRec {
	return find(g.st.Groups, func(gr *groupRec) bool { return gr.Name == name })
}

func (g *Gateway) createGroup(req *request, _ string) any {
	gr := &groupRec{Members: []string{}}
	if e := g.readGroup(req, gr, false); e != nil {
		return e
	}
	if g.groupNamed(gr.Name) != nil {
		return errf(nsapi.CodeAlreadyExists, "multicast group %q", gr.Name)
	}
	gr.ID = newUUID()
	gr.CreatedAt = g.opts.Now()
	gr.UpdatedAt = gr.CreatedAt
	g.st.Groups = append(g.st.Groups, gr)
	g.st.idx.group[gr.ID] = gr
	g.st.putGroup(gr)
	return struct {
		ID string `json:"id"`
	}{gr.ID}
}

func (g *Gateway) updateGroup(req *request, id string) any {
	cur := g.st.group(id)
	if cur == nil {
		return notFound(req, "multicast group %s", id)
	}
	gr := *cur
	if e := g.readGroup(req, &gr, true); e != nil {
		return e
	}
	gr.UpdatedAt = g.opts.Now()
	if e := replace(cur, gr, g.groupNamed(gr.Name), "multicast group %q", gr.Name); e != nil {
		return e
	}
	g.st.putGroup(cur)
	return blankBody
}

func (g *Gateway) deleteGroup(_ *request, id string) any {
	gr := g.st.group(id)
	if gr == nil {
		return errf(nsapi.CodeNotFound, "multicast group %s", id)
	}
	g.st.Groups = without(g.st.Groups, gr)
	delete(g.st.idx.group, gr.ID)
	g.st.delGroup(gr)
	return blankBody
}

// readMembers reads {"devEUIs":[…]}: each must be a device on the gateway.
func (g *Gateway) readMembers(req *request, id string) (*groupRec, []string, *apiError) {
	f, e := readBody(req.Body)
	if e != nil {
		return nil, nil, e
	}
	euis := f.strs("devEUIs")
	if f.failed() != nil {
		return nil, nil, f.failed()
	}
	gr := g.st.group(id)
	if gr == nil {
		return nil, nil, errf(nsapi.CodeNotFound, "multicast group %s", id)
	}
	out := make([]string, 0, len(euis))
	for _, eui := range euis {
		if !isHex(eui, 16) {
			return nil, nil, errf(nsapi.CodeParameter, "devEUIs: %q: want 16 hex digits", eui)
		}
		d := g.st.device(eui)
		if d == nil {
			return nil, nil, errf(nsapi.CodeNotFound, "device %s", strings.ToUpper(eui))
		}
		out = append(out, d.DevEUI)
	}
	return gr, out, nil
}

func (g *Gateway) addGroupDevices(req *request, id string) any {
	gr, euis, e := g.readMembers(req, id)
	if e != nil {
		return e
	}
	for _, eui := range euis {
		if !slices.Contains(gr.Members, eui) {
			gr.Members = append(gr.Members, eui)
		}
	}
	gr.UpdatedAt = g.opts.Now()
	g.st.putGroup(gr)
	return blankBody
}

func (g *Gateway) removeGroupDevices(req *request, id string) any {
	gr, euis, e := g.readMembers(req, id)
	if e != nil {
		return e
	}
	gr.Members = slices.DeleteFunc(gr.Members, func(m string) bool { return slices.Contains(euis, m) })
	gr.UpdatedAt = g.opts.Now()
	g.st.putGroup(gr)
	return blankBody
}
