package nsapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// This file holds one method per endpoint of spec sections 2–6, and ReadState.

// query builds "path?k=v&…" keeping the order given (the spec's order).
func query(path string, kv ...string) string {
	var b strings.Builder
	b.WriteString(path)
	for i := 0; i+1 < len(kv); i += 2 {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(kv[i])
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(kv[i+1]))
	}
	return b.String()
}

func itoa(n int) string { return strconv.Itoa(n) }

// ---- Profiles ----

// ListProfiles reads every profile (GET /api/urprofiles, paged).
func (c *Client) ListProfiles(ctx context.Context) (*ProfileList, error) {
	all := &ProfileList{}
	var err error
	all.Result, err = listAll(ctx, c, nil,
		func(limit, offset int) pageRequest {
			return get(query("/api/urprofiles", "limit", itoa(limit), "offset", itoa(offset)))
		},
		func(p *ProfileList) ([]Profile, FlexInt) { return p.Result, p.TotalCount },
		func(offset int, p *ProfileList) {
			if offset == 0 {
				all.Disable, all.ChannelPlan = p.Disable, p.ChannelPlan
			}
			all.TotalCount = p.TotalCount
		},
		func(p *Profile) []string { return []string{key("profile id", p.ID()), key("profile name", p.Name)} })
	if err != nil {
		return nil, err
	}
	return all, nil
}

// CreateProfile adds a profile (POST /api/urprofiles) and returns its id.
func (c *Client) CreateProfile(ctx context.Context, p ProfileWrite) (string, error) {
	var out struct {
		ProfileID string `json:"profileID"`
	}
	const u = "/api/urprofiles"
	if err := c.do(ctx, "POST", u, p, &out); err != nil {
		return "", err
	}
	if out.ProfileID == "" {
		return "", fmt.Errorf("POST %s: the answer carries no profileID", u)
	}
	return out.ProfileID, nil
}

// UpdateProfile replaces a profile (PUT /api/urprofiles/{profileID}).
func (c *Client) UpdateProfile(ctx context.Context, profileID string, p ProfileWrite) error {
	if profileID == "" {
		return errors.New("update profile: empty profile id")
	}
	return c.do(ctx, "PUT", "/api/urprofiles/"+url.PathEscape(profileID), p, nil)
}

// DeleteProfile deletes a profile (DELETE /api/urprofiles/{profileID}).
func (c *Client) DeleteProfile(ctx context.Context, profileID string) error {
	if profileID == "" {
		return errors.New("delete profile: empty profile id")
	}
	return c.do(ctx, "DELETE", "/api/urprofiles/"+url.PathEscape(profileID), nil, nil)
}

// ---- Devices ----

// ListDevices reads devices (GET /api/urdevices, paged), merging every
// page's deviceResult; appResult and profileResult come from the first page.
func (c *Client) ListDevices(ctx context.Context, q DeviceQuery) (*DeviceList, error) {
	app := q.ApplicationID
	if app == "" {
		app = "0"
	}
	all := &DeviceList{}
	var err error
	all.DeviceResult, err = listAll(ctx, c, nil,
		func(limit, offset int) pageRequest {
			return get(query("/api/urdevices", "search", q.Search, "limit", itoa(limit), "offset", itoa(offset), "applicationID", app))
		},
		func(p *deviceListWire) ([]Device, FlexInt) {
			if p.DeviceList.DeviceResult == nil && p.DeviceResult != nil {
				p.DeviceList.DeviceResult = make([]Device, len(p.DeviceResult))
				for i := range p.DeviceResult {
					p.DeviceList.DeviceResult[i] = p.DeviceResult[i].device()
				}
				p.DeviceResult = nil
			}
			return p.DeviceList.DeviceResult, p.DevTotalCount
		},
		func(offset int, p *deviceListWire) {
			if offset == 0 {
				all.AppTotalCount, all.AppResult = p.AppTotalCount, p.AppResult
				all.PfTotalCount, all.ProfileResult = p.PfTotalCount, p.ProfileResult
				all.ChannelPlan, all.Disable = p.ChannelPlan, p.Disable
			}
			all.DevTotalCount = p.DevTotalCount
		},
		func(d *Device) []string { return []string{upperKey("device", d.DevEUI)} })
	if err != nil {
		return nil, err
	}
	return all, nil
}

// GetDevice finds one device by EUI; a missing device is a *RemoteError
// with CodeNotFound. It asks search=<devEUI> and compares EUIs without
// regard to case; but the spec never says that search matches EUIs (3.3),
// so until a search has been seen to find a device by its EUI, a search
// that finds nothing is checked with a paged read of every device. A
// device that the full read finds and the search missed makes every later
// GetDevice of this client read the full list at once.
func (c *Client) GetDevice(ctx context.Context, devEUI string) (*Device, error) {
	if !c.searchMissesEUI.Load() {
		l, err := c.ListDevices(ctx, DeviceQuery{Search: devEUI})
		if err != nil {
			return nil, err
		}
		if d := findDevice(l.DeviceResult, devEUI); d != nil {
			c.searchFindsEUI.Store(true)
			return d, nil
		}
		if c.searchFindsEUI.Load() {
			return nil, deviceNotFound(devEUI)
		}
	}
	l, err := c.ListDevices(ctx, DeviceQuery{})
	if err != nil {
		return nil, err
	}
	d := findDevice(l.DeviceResult, devEUI)
	if d == nil {
		return nil, deviceNotFound(devEUI)
	}
	if !c.searchMissesEUI.Swap(true) {
		c.logf("ns-api: search=%s did not find the device a full read holds: the gateway's search does not match EUIs; devices are found by reading the whole list from now on", strings.ToUpper(devEUI))
	}
	return d, nil
}

// findDevice is the device of ds whose EUI is devEUI (without regard to
// case), or nil.
func findDevice(ds []Device, devEUI string) *Device {
	for i := range ds {
		if strings.EqualFold(ds[i].DevEUI, devEUI) {
			d := ds[i]
			return &d
		}
	}
	return nil
}

func deviceNotFound(devEUI string) error {
	return &RemoteError{Method: "GET", URL: query("/api/urdevices", "search", devEUI), Code: CodeNotFound, Message: "device " + strings.ToUpper(devEUI) + " not found"}
}

// CreateDevice adds a device (POST /api/urdevices).
func (c *Client) CreateDevice(ctx context.Context, d DeviceWrite) error {
	if d.DevEUI == "" {
		return errors.New("create device: empty devEUI")
	}
	return c.do(ctx, "POST", "/api/urdevices", d, nil)
}

// UpdateDevice changes a device (PUT /api/urdevices/{devEUI}); the body
// leaves devEUI out.
func (c *Client) UpdateDevice(ctx context.Context, devEUI string, d DeviceWrite) error {
	if devEUI == "" {
		return errors.New("update device: empty devEUI")
	}
	d.DevEUI = ""
	return c.do(ctx, "PUT", "/api/urdevices/"+url.PathEscape(devEUI), d, nil)
}

// DeleteDevice deletes a device (DELETE /api/urdevices/{devEUI}).
func (c *Client) DeleteDevice(ctx context.Context, devEUI string) error {
	if devEUI == "" {
		return errors.New("delete device: empty devEUI")
	}
	return c.do(ctx, "DELETE", "/api/urdevices/"+url.PathEscape(devEUI), nil, nil)
}

// ---- Multicast groups ----

type groupBody struct {
	MulticastGroup MulticastGroup `json:"multicastGroup"`
}

// ListGroups reads multicast groups with their members (GET
// /api/multicast-groups, paged).
func (c *Client) ListGroups(ctx context.Context, search string) ([]MulticastGroupInfo, error) {
	return listAll(ctx, c, nil,
		func(limit, offset int) pageRequest {
			return get(query("/api/multicast-groups", "search", search, "order", "asc", "offset", itoa(offset), "limit", itoa(limit)))
		},
		func(p *MulticastGroupList) ([]MulticastGroupInfo, FlexInt) { return p.Result, p.TotalCount }, nil,
		func(g *MulticastGroupInfo) []string { return []string{key("multicast group id", g.ID)} })
}

// CreateGroup adds a multicast group (POST /api/multicast-groups) and
// returns its id.
func (c *Client) CreateGroup(ctx context.Context, g MulticastGroup) (string, error) {
	var out struct {
		ID FlexString `json:"id"`
	}
	const u = "/api/multicast-groups"
	if err := c.do(ctx, "POST", u, groupBody{g}, &out); err != nil {
		return "", err
	}
	if out.ID == "" {
		return "", fmt.Errorf("POST %s: the answer carries no id", u)
	}
	return string(out.ID), nil
}

// UpdateGroup replaces a multicast group (PUT /api/multicast-groups/{id}).
func (c *Client) UpdateGroup(ctx context.Context, id string, g MulticastGroup) error {
	if id == "" {
		return errors.New("update multicast group: empty id")
	}
	return c.do(ctx, "PUT", "/api/multicast-groups/"+url.PathEscape(id), groupBody{g}, nil)
}

// DeleteGroup deletes a multicast group (DELETE /api/multicast-groups/{id}).
func (c *Client) DeleteGroup(ctx context.Context, id string) error {
	if id == "" {
		return errors.New("delete multicast group: empty id")
	}
	return c.do(ctx, "DELETE", "/api/multicast-groups/"+url.PathEscape(id), nil, nil)
}

// AddGroupDevices adds members to a group (POST
// /api/multicast-groups/{id}/devices).
func (c *Client) AddGroupDevices(ctx context.Context, id string, devEUIs []string) error {
	if id == "" {
		return errors.New("add multicast group devices: empty id")
	}
	return c.do(ctx, "POST", "/api/multicast-groups/"+url.PathEscape(id)+"/devices", DevEUIList{DevEUIs: nonNil(devEUIs)}, nil)
}

// RemoveGroupDevices removes members from a group (POST
// /api/multicast-groups/{id}/deletedevices, or /deleteddevices when the
// gateway refuses the former with code 21).
func (c *Client) RemoveGroupDevices(ctx context.Context, id string, devEUIs []string) error {
	if id == "" {
		return errors.New("remove multicast group devices: empty id")
	}
	return c.call(ctx, c.deleteDevicesFallback(), "POST", "/api/multicast-groups/"+url.PathEscape(id)+"/deletedevices", DevEUIList{DevEUIs: nonNil(devEUIs)}, nil)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// ---- Payload codecs ----

// ListCodecs reads payload codecs in full (GET /api/payloadcodecs, paged).
func (c *Client) ListCodecs(ctx context.Context, typ, search string) ([]Codec, error) {
	return listAll(ctx, c, c.codecFallback("GET"),
		func(limit, offset int) pageRequest {
			return get(query("/api/payloadcodecs", "type", typ, "search", search, "limit", itoa(limit), "offset", itoa(offset)))
		},
		func(p *CodecList) ([]Codec, FlexInt) { return p.Result, p.TotalCount }, nil,
		func(c *Codec) []string { return []string{key("payload codec id", string(c.ID))} })
}

// ListCodecsShort reads payload codec ids and names (GET
// /api/payloadcodecs-short, paged).
func (c *Client) ListCodecsShort(ctx context.Context, typ, search string) ([]CodecShort, error) {
	return listAll(ctx, c, nil,
		func(limit, offset int) pageRequest {
			return get(query("/api/payloadcodecs-short", "type", typ, "search", search, "limit", itoa(limit), "offset", itoa(offset)))
		},
		func(p *CodecShortList) ([]CodecShort, FlexInt) { return p.Result, p.TotalCount }, nil,
		func(c *CodecShort) []string { return []string{key("payload codec id", string(c.ID))} })
}

// CreateCodec adds a custom payload codec (POST /api/payloadcodecs) and
// returns its id.
func (c *Client) CreateCodec(ctx context.Context, w CodecWrite) (string, error) {
	var out struct {
		ID FlexString `json:"id"`
	}
	const u = "/api/payloadcodecs"
	if err := c.call(ctx, c.codecFallback("POST"), "POST", u, w, &out); err != nil {
		return "", err
	}
	if out.ID == "" {
		return "", fmt.Errorf("POST %s: the answer carries no id", u)
	}
	return string(out.ID), nil
}

// UpdateCodec replaces a custom payload codec (PUT /api/payloadcodecs/{id}).
func (c *Client) UpdateCodec(ctx context.Context, id string, w CodecWrite) error {
	if id == "" {
		return errors.New("update payload codec: empty id")
	}
	return c.call(ctx, c.codecFallback("PUT"), "PUT", "/api/payloadcodecs/"+url.PathEscape(id), w, nil)
}

// DeleteCodec deletes a custom payload codec (DELETE /api/payloadcodecs/{id}).
func (c *Client) DeleteCodec(ctx context.Context, id string) error {
	if id == "" {
		return errors.New("delete payload codec: empty id")
	}
	return c.call(ctx, c.codecFallback("DELETE"), "DELETE", "/api/payloadcodecs/"+url.PathEscape(id), nil, nil)
}

// ---- FUOTA ----

type taskBody struct {
	FuotaTask taskWrite `json:"fuotaTask"`
}

// taskWrite is the body of POST and PUT /api/fuota/task (6.1, 6.3): the
// writable fields only, each clearable one sent even when empty (a
// firmware's description and officialFirmwareUrl included), as the
// examples send them.
type taskWrite struct {
	ID                   FlexInt            `json:"id,omitempty"` // PUT only
	Name                 string             `json:"name"`
	StartedAt            string             `json:"startedAt"`
	Description          string             `json:"description"`
	DevEUIs              []string           `json:"deveui"`
	FirmwareInfo         *firmwareInfoWrite `json:"firmwareInfo,omitempty"` // local firmware only
	IsOfficialFirmware   bool               `json:"isOfficialFirmware"`
	OfficialFirmwareInfo *OfficialFirmware  `json:"officialFirmwareInfo,omitempty"` // official firmware only
	FragmentInfo         FragmentInfo       `json:"fragmentInfo"`
	TmpMcInfo            tmpMcWrite         `json:"tmpMcInfo"`
}

type firmwareInfoWrite struct {
	FirmwareName        string `json:"firmwareName"`
	Description         string `json:"description"`
	FileContent         string `json:"fileContent"`
	OfficialFirmwareURL string `json:"officialFirmwareUrl"`
}

type tmpMcWrite struct {
	GroupType FlexInt `json:"groupType"`
	DR        FlexInt `json:"dr"`
	Frequency FlexInt `json:"frequency"`
}

// taskBodyOf is the request body for t (its Write form).
func taskBodyOf(t FuotaTask) taskBody {
	w := t.Write()
	b := taskWrite{
		ID: w.ID, Name: w.Name, StartedAt: w.StartedAt, Description: w.Description,
		DevEUIs: nonNil(w.DevEUIs), IsOfficialFirmware: w.IsOfficialFirmware,
		OfficialFirmwareInfo: w.OfficialFirmwareInfo, FragmentInfo: w.FragmentInfo,
		TmpMcInfo: tmpMcWrite{GroupType: w.TmpMcInfo.GroupType, DR: w.TmpMcInfo.DR, Frequency: w.TmpMcInfo.Frequency},
	}
	if fi := w.FirmwareInfo; fi != nil {
		b.FirmwareInfo = &firmwareInfoWrite{FirmwareName: fi.FirmwareName, Description: fi.Description,
			FileContent: fi.FileContent, OfficialFirmwareURL: fi.OfficialFirmwareURL}
	}
	return taskBody{b}
}

// CreateTask adds a FUOTA task (POST /api/fuota/task) and returns its id.
// The body is t.Write() without an id.
func (c *Client) CreateTask(ctx context.Context, t FuotaTask) (int64, error) {
	body := taskBodyOf(t)
	body.FuotaTask.ID = 0
	var out struct {
		ID FlexInt `json:"id"`
	}
	const u = "/api/fuota/task"
	if err := c.do(ctx, "POST", u, body, &out); err != nil {
		return 0, err
	}
	if out.ID == 0 {
		return 0, fmt.Errorf("POST %s: the answer carries no task id", u)
	}
	return int64(out.ID), nil
}

// ListTasks reads FUOTA tasks (GET /api/fuota/task, paged).
func (c *Client) ListTasks(ctx context.Context, search string) ([]FuotaTask, error) {
	return listAll(ctx, c, nil,
		func(limit, offset int) pageRequest {
			return get(query("/api/fuota/task", "limit", itoa(limit), "offset", itoa(offset), "search", search))
		},
		func(p *FuotaTaskList) ([]FuotaTask, FlexInt) { return p.Tasks, p.Total }, nil,
		func(t *FuotaTask) []string { return []string{key("FUOTA task id", strconv.FormatInt(int64(t.ID), 10))} })
}

// UpdateTask replaces the FUOTA task t.ID (PUT /api/fuota/task, body
// t.Write()).
func (c *Client) UpdateTask(ctx context.Context, t FuotaTask) error {
	if t.ID == 0 {
		return errors.New("update FUOTA task: no task id")
	}
	return c.do(ctx, "PUT", "/api/fuota/task", taskBodyOf(t), nil)
}

// DeleteTasks deletes FUOTA tasks (POST /api/fuota/task/delete).
func (c *Client) DeleteTasks(ctx context.Context, ids []int64) error {
	return c.do(ctx, "POST", "/api/fuota/task/delete", IDList{IDs: nonNil(ids)}, nil)
}

// RetryTasks retries FUOTA tasks (POST /api/fuota/task/retry).
func (c *Client) RetryTasks(ctx context.Context, ids []int64) error {
	return c.do(ctx, "POST", "/api/fuota/task/retry", IDList{IDs: nonNil(ids)}, nil)
}

// PayloadSizes reads the max payload per data rate (GET
// /api/fuota/task/payloadsize).
func (c *Client) PayloadSizes(ctx context.Context) ([]PayloadSize, error) {
	var p PayloadSizeList
	if err := c.do(ctx, "GET", "/api/fuota/task/payloadsize", nil, &p); err != nil {
		return nil, err
	}
	return nonNil(p.MaxPayloadSizeMap), nil
}

// TaskDevices reads the devices of a FUOTA task (GET /api/fuota/devices,
// paged).
func (c *Client) TaskDevices(ctx context.Context, taskID int64, search string) ([]FuotaDevice, error) {
	return listAll(ctx, c, nil,
		func(limit, offset int) pageRequest {
			return get(query("/api/fuota/devices", "taskId", strconv.FormatInt(taskID, 10), "limit", itoa(limit), "offset", itoa(offset), "search", search))
		},
		func(p *FuotaDeviceList) ([]FuotaDevice, FlexInt) { return p.Devices, p.Total }, nil,
		func(d *FuotaDevice) []string { return []string{upperKey("device", d.DevEUI)} })
}

// FirmwareDevices reads the devices a firmware fits (POST
// /api/fuota/devices/firmware, paged: q.Limit and q.Offset are set per page).
func (c *Client) FirmwareDevices(ctx context.Context, q FirmwareDevicesQuery) ([]FuotaDevice, error) {
	return listAll(ctx, c, nil,
		func(limit, offset int) pageRequest {
			q.Limit, q.Offset = limit, offset
			return pageRequest{method: "POST", url: "/api/fuota/devices/firmware", body: q}
		},
		func(p *FuotaDeviceList) ([]FuotaDevice, FlexInt) { return p.Devices, p.Total }, nil,
		func(d *FuotaDevice) []string { return []string{upperKey("device", d.DevEUI)} })
}

// OfficialModels reads the official firmware models of a data center (GET
// /api/fuota/official/models?dateCenter=…; eu, us, cn or sg).
func (c *Client) OfficialModels(ctx context.Context, dataCenter string) ([]string, error) {
	var p OfficialModels
	if err := c.do(ctx, "GET", query("/api/fuota/official/models", "dateCenter", dataCenter), nil, &p); err != nil {
		return nil, err
	}
	return nonNil(p.Models), nil
}

// OfficialFirmware reads the official firmware of a model (GET
// /api/fuota/official/firmware, paged).
func (c *Client) OfficialFirmware(ctx context.Context, model, search string) ([]OfficialFirmware, error) {
	return listAll(ctx, c, nil,
		func(limit, offset int) pageRequest {
			return get(query("/api/fuota/official/firmware", "model", model, "limit", itoa(limit), "offset", itoa(offset), "search", search))
		},
		func(p *OfficialFirmwareList) ([]OfficialFirmware, FlexInt) { return p.Data, p.Total }, nil, nil)
}

// ---- The whole state ----

// ReadState reads everything a plan needs: profiles, devices (with the
// applications and channel plan of the device list), custom codecs in full,
// built-in codecs (short list), multicast groups and FUOTA tasks. The lists
// run concurrently within the window; every slice is sorted by identity.
func (c *Client) ReadState(ctx context.Context) (*State, error) {
	s := &State{FormatVersion: StateFormatVersion}
	// A read that goes unanswered ends the others: a gateway that does not
	// answer costs one timeout, not one per read. Error answers are all
	// reported.
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		profiles *ProfileList
		devices  *DeviceList
		wg       sync.WaitGroup
		mu       sync.Mutex
		errs     []error
		silent   bool
	)
	run := func(what string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := f()
			if err == nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, context.Canceled) && parent.Err() == nil:
				// Ended by another read's silence.
			case errors.Is(err, ErrUnknownOutcome):
				if !silent {
					silent = true
					errs = append(errs, fmt.Errorf("read %s: %w", what, err))
					cancel()
				}
			default:
				errs = append(errs, fmt.Errorf("read %s: %w", what, err))
			}
		}()
	}
	run("profiles", func() (err error) { profiles, err = c.ListProfiles(ctx); return })
	run("devices", func() (err error) { devices, err = c.ListDevices(ctx, DeviceQuery{}); return })
	run("payload codecs", func() (err error) { s.Codecs, err = c.ListCodecs(ctx, CodecTypeCustom, ""); return })
	run("built-in payload codecs", func() (err error) {
		s.BuiltinCodecs, err = c.ListCodecsShort(ctx, CodecTypeDefault, "")
		return
	})
	run("multicast groups", func() (err error) { s.Groups, err = c.ListGroups(ctx, ""); return })
	run("FUOTA tasks", func() (err error) {
		s.Tasks, err = c.ListTasks(ctx, "")
		if IsCode(err, CodeUnsupportedURL) { // a firmware before FUOTA support
			s.Tasks, s.NoFuota, err = nil, true, nil
		}
		return
	})
	wg.Wait()
	if len(errs) > 0 {
		sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
		err := errors.Join(errs...)
		if silent && c.answers.Load() == 0 {
			if hint := c.silenceHint(); hint != "" {
				err = fmt.Errorf("%w: %s", err, hint)
			}
		}
		return nil, err
	}
	s.Profiles = profiles.Result
	s.Devices = devices.DeviceResult
	s.Applications = nonNil(devices.AppResult)
	s.ChannelPlan = profiles.ChannelPlan
	if s.ChannelPlan == "" {
		s.ChannelPlan = devices.ChannelPlan
	}
	s.GatewayEUI = c.GatewayEUI()
	s.SplitRecords()
	s.sort()
	return s, nil
}

// sort orders every slice of s by identity, so the same gateway gives the
// same bytes.
func (s *State) sort() {
	s.Applications = nonNil(s.Applications)
	s.Profiles = nonNil(s.Profiles)
	s.Devices = nonNil(s.Devices)
	s.Codecs = nonNil(s.Codecs)
	s.BuiltinCodecs = nonNil(s.BuiltinCodecs)
	s.Groups = nonNil(s.Groups)
	s.Tasks = nonNil(s.Tasks)
	sort.SliceStable(s.Applications, func(i, j int) bool {
		return lessID(string(s.Applications[i].ApplicationID), string(s.Applications[j].ApplicationID))
	})
	sort.SliceStable(s.Profiles, func(i, j int) bool { return s.Profiles[i].Name < s.Profiles[j].Name })
	sort.SliceStable(s.Devices, func(i, j int) bool {
		return strings.ToUpper(s.Devices[i].DevEUI) < strings.ToUpper(s.Devices[j].DevEUI)
	})
	sort.SliceStable(s.Codecs, func(i, j int) bool { return s.Codecs[i].Name < s.Codecs[j].Name })
	sort.SliceStable(s.BuiltinCodecs, func(i, j int) bool {
		a, b := s.BuiltinCodecs[i], s.BuiltinCodecs[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return lessID(string(a.ID), string(b.ID))
	})
	sort.SliceStable(s.Groups, func(i, j int) bool { return s.Groups[i].Name < s.Groups[j].Name })
	for i := range s.Groups {
		m := nonNil(s.Groups[i].Devices)
		sort.SliceStable(m, func(a, b int) bool { return strings.ToUpper(m[a].DevEUI) < strings.ToUpper(m[b].DevEUI) })
		s.Groups[i].Devices = m
	}
	sort.SliceStable(s.Tasks, func(i, j int) bool {
		a, b := s.Tasks[i], s.Tasks[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.ID < b.ID
	})
	for i := range s.Tasks {
		e := nonNil(s.Tasks[i].DevEUIs)
		sort.SliceStable(e, func(a, b int) bool { return strings.ToUpper(e[a]) < strings.ToUpper(e[b]) })
		s.Tasks[i].DevEUIs = e
	}
}

// lessID orders ids numerically when both are numbers, else as strings.
func lessID(a, b string) bool {
	x, errA := strconv.ParseInt(a, 10, 64)
	y, errB := strconv.ParseInt(b, 10, 64)
	if errA == nil && errB == nil {
		return x < y
	}
	return a < b
}

// SecretDigest is what a snapshot holds in place of a key: "sha256:" and the
// hex SHA-256 of the lower-cased value, so two snapshots tell whether a key
// differs without holding it. Empty stays empty; a digest stays as it is.
func SecretDigest(v string) string { return secretDigest(v) }

// MaskSecrets replaces every key of s (devices' appKey, nwkSKey and appSKey;
// multicast groups' mcNwkSKey and mcAppSKey) by its SecretDigest.
func (s *State) MaskSecrets() {
	for i := range s.Devices {
		d := &s.Devices[i]
		d.AppKey, d.NwkSKey, d.AppSKey = SecretDigest(d.AppKey), SecretDigest(d.NwkSKey), SecretDigest(d.AppSKey)
	}
	for i := range s.Groups {
		g := &s.Groups[i]
		g.McNwkSKey, g.McAppSKey = SecretDigest(g.McNwkSKey), SecretDigest(g.McAppSKey)
	}
}

// MarshalIndent is the snapshot form of s: indented JSON ending in a
// newline. It is deterministic: the same state gives the same bytes.
func (s *State) MarshalIndent() ([]byte, error) {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("state: encode: %w", err)
	}
	return append(b, '\n'), nil
}
