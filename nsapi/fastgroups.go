package nsapi

import "strings"

// The multicast group list is the largest answer gwsync reads (100 groups
// of 100 members: some 2.5 MB in one page), and decoding it with
// encoding/json cost more CPU than reading all twenty device pages of a
// 10,000-device gateway with the fast reader. It is read here as a device
// list page is (fastdecode.go): in one pass, taking only what the reader is
// sure of and leaving every other page, whole, to encoding/json. The result
// must be exactly what json.Unmarshal gives into a zero MulticastGroupList.
//
// MulticastGroupInfo embeds MulticastGroup: encoding/json takes the fields
// of the embedded struct as fields of the group itself (no name of one is
// a name of the other, in any letter case), so one object holds both and
// one list of names covers both.

var _ fastDecoder = (*MulticastGroupList)(nil)

// The JSON names of the fields of a group list, of a group and of a
// member. A key that is none of them exactly, but is one of them in
// another letter case, is refused.
var (
	groupListNames = []string{"totalCount", "result"}
	groupNames     = []string{"id", "name", "mcAddr", "mcNwkSKey", "mcAppSKey", "fCnt", "groupType", "dr",
		"frequency", "pingSlotPeriod", "createdAt", "updatedAt", "devices"}
	memberNames = []string{"devEUI", "name", "applicationID", "description", "deviceProfileID",
		"deviceProfileName", "deviceStatusBattery", "deviceStatusMargin", "lastSeenAt"}
)

// decodeFast reads a group list into l, which must be zero (a page is
// decoded into a new value; encoding/json would merge into a non-zero one).
func (l *MulticastGroupList) decodeFast(body []byte) bool {
	if l.TotalCount != 0 || l.Result != nil {
		return false
	}
	d := groupDecoder{pageDecoder: pageDecoder{b: body, s: string(body)}}
	var page MulticastGroupList
	var seen fieldSet
	ok := d.object(func(key string) bool {
		switch key {
		case "totalCount":
			return seen.first(0) && d.flexInt(&page.TotalCount)
		case "result":
			return seen.first(1) && d.groups(&page.Result)
		}
		return d.unknown(key, groupListNames)
	})
	if !ok || !d.end() {
		return false
	}
	page.compact()
	*l = page
	return true
}

// groupDecoder is the reader of one group list.
type groupDecoder struct {
	pageDecoder
	// members holds the members of the group being read; they are then
	// copied to a slice of their exact length, so that a group's list
	// is not grown member by member.
	members []GroupMember
}

// groups reads the result array into *list, which is nil.
func (d *groupDecoder) groups(list *[]MulticastGroupInfo) bool {
	return d.array(func() bool {
		*list = append(*list, MulticastGroupInfo{})
		return d.element(func() bool { return d.group(&(*list)[len(*list)-1]) })
	}, func() { *list = []MulticastGroupInfo{} })
}

// group reads one group object into g, which is zero.
func (d *groupDecoder) group(g *MulticastGroupInfo) bool {
	m := &g.MulticastGroup
	var seen fieldSet
	return d.object(func(key string) bool {
		switch key {
		case "id":
			return seen.first(0) && d.str(&g.ID)
		case "name":
			return seen.first(1) && d.str(&m.Name)
		case "mcAddr":
			return seen.first(2) && d.str(&m.McAddr)
		case "mcNwkSKey":
			return seen.first(3) && d.str(&m.McNwkSKey)
		case "mcAppSKey":
			return seen.first(4) && d.str(&m.McAppSKey)
		case "fCnt":
			return seen.first(5) && d.flexInt(&m.FCnt)
		case "groupType":
			return seen.first(6) && d.str(&m.GroupType)
		case "dr":
			return seen.first(7) && d.flexInt(&m.DR)
		case "frequency":
			return seen.first(8) && d.flexInt(&m.Frequency)
		case "pingSlotPeriod":
			return seen.first(9) && d.flexInt(&m.PingSlotPeriod)
		case "createdAt":
			return seen.first(10) && d.str(&g.CreatedAt)
		case "updatedAt":
			return seen.first(11) && d.str(&g.UpdatedAt)
		case "devices":
			return seen.first(12) && d.groupMembers(&g.Devices)
		}
		return d.unknown(key, groupNames)
	})
}

// groupMembers reads a group's devices array into *list, which is nil.
func (d *groupDecoder) groupMembers(list *[]GroupMember) bool {
	d.members = d.members[:0]
	ok := d.array(func() bool {
		d.members = append(d.members, GroupMember{})
		return d.element(func() bool { return d.member(&d.members[len(d.members)-1]) })
	}, func() { *list = []GroupMember{} })
	if ok && len(d.members) > 0 {
		*list = append([]GroupMember(nil), d.members...)
	}
	return ok
}

// member reads one member object into m, which is zero.
func (d *groupDecoder) member(m *GroupMember) bool {
	var seen fieldSet
	return d.object(func(key string) bool {
		switch key {
		case "devEUI":
			return seen.first(0) && d.str(&m.DevEUI)
		case "name":
			return seen.first(1) && d.str(&m.Name)
		case "applicationID":
			return seen.first(2) && d.flexString(&m.ApplicationID)
		case "description":
			return seen.first(3) && d.str(&m.Description)
		case "deviceProfileID":
			return seen.first(4) && d.str(&m.DeviceProfileID)
		case "deviceProfileName":
			return seen.first(5) && d.str(&m.DeviceProfileName)
		case "deviceStatusBattery":
			return seen.first(6) && d.flexInt(&m.DeviceStatusBattery)
		case "deviceStatusMargin":
			return seen.first(7) && d.flexInt(&m.DeviceStatusMargin)
		case "lastSeenAt":
			return seen.first(8) && d.str(&m.LastSeenAt)
		}
		return d.unknown(key, memberNames)
	})
}

// compact moves the list's strings, which are cut from the copy of the
// page's bytes, into one buffer of their own, so that they do not keep the
// whole page alive.
func (l *MulticastGroupList) compact() {
	n := 0
	l.eachString(func(s *string) { n += len(*s) })
	var b strings.Builder
	b.Grow(n)
	l.eachString(func(s *string) { b.WriteString(*s) })
	all := b.String()
	l.eachString(func(s *string) {
		k := len(*s)
		*s, all = all[:k], all[k:]
	})
}

// eachString calls f with every string field of the list.
func (l *MulticastGroupList) eachString(f func(*string)) {
	for i := range l.Result {
		g := &l.Result[i]
		m := &g.MulticastGroup
		f(&g.ID)
		f(&m.Name)
		f(&m.McAddr)
		f(&m.McNwkSKey)
		f(&m.McAppSKey)
		f(&m.GroupType)
		f(&g.CreatedAt)
		f(&g.UpdatedAt)
		for j := range g.Devices {
			dv := &g.Devices[j]
			f(&dv.DevEUI)
			f(&dv.Name)
			f((*string)(&dv.ApplicationID))
			f(&dv.Description)
			f(&dv.DeviceProfileID)
			f(&dv.DeviceProfileName)
			f(&dv.LastSeenAt)
		}
	}
}
