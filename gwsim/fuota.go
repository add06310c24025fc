package gwsim

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gwsync/gwsync/nsapi"
)

// FUOTA progress, in gateway seconds after a run starts (divided by
// Options.TimeScale in wall time): the multicast session is set up during
// the first minute (task waiting), the fragment session during the next,
// then the fragments go out (fragment count × (1 + redundancy) × interval),
// then each device in turn reports completion, ten seconds apart.
const (
	setupMcSeconds   = 30.0 // multicast status 1, then 2 until 60
	setupFragSeconds = 90.0 // fragment status 1 from 60, 2 from 90, 3 from 120
	transferStart    = 120.0
	deviceReport     = 10.0
)

// catalogue is the official firmware the gateway "fetches" (a small fixed
// list standing in for the vendor's server).
var catalogue = []nsapi.OfficialFirmware{
	{ID: "1888828394920153089", Model: "CT303", Name: "CT303 v1.4", FirmwareVersion: "v1.4", HardwareVersion: "v1.0",
		SupportMinHardwareVersion: "v1.0", SupportMinFirmwareVersion: "v1.3",
		URL: "https://firmware.example.invalid/CT303-v1.4.bin", MD5: "8f5c6beaf3ac56d829b178203fa9d610", CRC32: "d67cf42e",
		Size: "182581", FrequencyBands: []string{"ALL"}, FirmwareNotesEn: "CT303 v1.4"},
	{ID: "1888828394920153090", Model: "WT201", Name: "WT201 v1.4", FirmwareVersion: "v1.4", HardwareVersion: "v1.1",
		SupportMinHardwareVersion: "v1.0", SupportMinFirmwareVersion: "v1.2",
		URL: "https://firmware.example.invalid/WT201-v1.4.bin", MD5: "0c6f1e1e3b5a4d7e9f2a8b1c3d5e7f90", CRC32: "1a2b3c4d",
		Size: "120320", FrequencyBands: []string{"EU868", "US915"}, FirmwareNotesEn: "WT201 v1.4"},
	{ID: "1888828394920153091", Model: "WT201", Name: "WT201 v1.3", FirmwareVersion: "v1.3", HardwareVersion: "v1.1",
		SupportMinHardwareVersion: "v1.0", SupportMinFirmwareVersion: "v1.1",
		URL: "https://firmware.example.invalid/WT201-v1.3.bin", MD5: "9a8b7c6d5e4f30211203f4e5d6c7b8a9", CRC32: "5e6f7a8b",
		Size: "118272", FrequencyBands: []string{"EU868", "US915"}, FirmwareNotesEn: "WT201 v1.3"},
	{ID: "1888828394920153092", Model: "WT101", Name: "WT101 v1.2", FirmwareVersion: "v1.2", HardwareVersion: "v1.0",
		SupportMinHardwareVersion: "v1.0", SupportMinFirmwareVersion: "v1.0",
		URL: "https://firmware.example.invalid/WT101-v1.2.bin", MD5: "11223344556677889900aabbccddeeff", CRC32: "9c8d7e6f",
		Size: "98304", FrequencyBands: []string{"ALL"}, FirmwareNotesEn: "WT101 v1.2"},
}

// ---- output shapes (spec 6.2, 6.7, 6.10) ----

type firmwareInfoOut struct {
	FirmwareName           string `json:"firmwareName"`
	Description            string `json:"description"`
	FileContent            string `json:"fileContent"`
	ProductModel           string `json:"productModel"`
	FirmwareVersion        string `json:"firmwareVersion"`
	SupportHardwareVersion string `json:"supportHardwareVersion"`
	SupportFirmwareVersion string `json:"supportFirmwareVersion"`
	OfficialFirmwareURL    string `json:"officialFirmwareUrl"`
}

// officialOut is an official firmware as the gateway shows it: size is a
// string in a task's officialFirmwareInfo (spec 6.2) and a number in the
// official firmware list (spec 6.10).
type officialOut[S string | int64] struct {
	ID                        string   `json:"id"`
	Model                     string   `json:"model"`
	Name                      string   `json:"name"`
	FirmwareVersion           string   `json:"firmwareVersion"`
	HardwareVersion           string   `json:"hardwareVersion"`
	SupportMinHardwareVersion string   `json:"supportMinHardwareVersion"`
	SupportMinFirmwareVersion string   `json:"supportMinFirmwareVersion"`
	URL                       string   `json:"url"`
	MD5                       string   `json:"md5"`
	CRC32                     string   `json:"crc32"`
	Size                      S        `json:"size"`
	FrequencyBands            []string `json:"frequencyBands"`
	FirmwareNotesCn           string   `json:"firmwareNotesCn"`
	FirmwareNotesEn           string   `json:"firmwareNotesEn"`
}

// newOfficialOut is f as the gateway shows it, with size as given.
func newOfficialOut[S string | int64](f *nsapi.OfficialFirmware, size S) officialOut[S] {
	return officialOut[S]{ID: string(f.ID), Model: f.Model, Name: f.Name, FirmwareVersion: f.FirmwareVersion,
		HardwareVersion: f.HardwareVersion, SupportMinHardwareVersion: f.SupportMinHardwareVersion,
		SupportMinFirmwareVersion: f.SupportMinFirmwareVersion, URL: f.URL, MD5: f.MD5, CRC32: f.CRC32,
		Size: size, FrequencyBands: append([]string{}, f.FrequencyBands...),
		FirmwareNotesCn: f.FirmwareNotesCn, FirmwareNotesEn: f.FirmwareNotesEn}
}

type fragOut struct {
	FragmentSize       int64 `json:"fragmentSize"`
	FragmentInterval   int64 `json:"fragmentInterval"`
	FragmentRedundancy int64 `json:"fragmentRedundancy"`
}

type tmpMcOut struct {
	SessionTimeDelay int64 `json:"sessionTimeDelay"`
	SessionTimeOut   int64 `json:"sessionTimeOut"`
	Status           int64 `json:"status"`
	GroupType        int64 `json:"groupType"`
	DR               int64 `json:"dr"`
	Frequency        int64 `json:"frequency"`
}

type taskOut struct {
	ID                   int64                `json:"id"`
	Name                 string               `json:"name"`
	Description          string               `json:"description"`
	Status               int                  `json:"status"`
	StartedAt            string               `json:"startedAt"`
	StoppedAt            string               `json:"stoppedAt"`
	CreatedAt            string               `json:"createdAt"`
	UpdatedAt            string               `json:"updatedAt"`
	FirmwareName         string               `json:"firmwareName"`
	DoneDevices          int                  `json:"doneDevices"`
	TotalDevices         int                  `json:"totalDevices"`
	DevEUIs              []string             `json:"deveui"`
	FirmwareInfo         firmwareInfoOut      `json:"firmwareInfo"`
	FragmentInfo         fragOut              `json:"fragmentInfo"`
	TmpMcInfo            tmpMcOut             `json:"tmpMcInfo"`
	OfficialFirmwareInfo *officialOut[string] `json:"officialFirmwareInfo,omitempty"`
	IsOfficialFirmware   bool                 `json:"isOfficialFirmware"`
}

type taskList struct {
	Total int       `json:"total"`
	Tasks []taskOut `json:"tasks"`
}

type fuotaDeviceOut struct {
	DevEui                 string `json:"devEui"`
	Name                   string `json:"name"`
	ProfileID              string `json:"profileId"`
	ProfileName            string `json:"profileName"`
	HardwareVersion        string `json:"hardwareVersion"`
	FirmwareVersion        string `json:"firmwareVersion"`
	FragmentSessionStatus  int    `json:"fragmentSessionStatus"`
	MulticastSessionStatus int    `json:"multicastSessionStatus"`
	Status                 int    `json:"status"`
	ProductModel           string `json:"productModel"`
	TaskID                 int64  `json:"taskId"`
}

type fuotaDeviceList struct {
	Total   int              `json:"total"`
	Devices []fuotaDeviceOut `json:"devices"`
}

// ---- progress ----

// devProgress is one device's state in a task run.
type devProgress struct{ mc, frag, status int }

// runProgress is a task's state at one instant.
type runProgress struct {
	status  int
	done    int
	stopped time.Time
	devices []devProgress
}

// firmwareSize is the firmware's size in bytes.
func firmwareSize(t *taskRec) int64 {
	if t.Official && t.OfficialFW != nil {
		if n, err := strconv.ParseInt(string(t.OfficialFW.Size), 10, 64); err == nil && n > 0 {
			return n
		}
		return 1024
	}
	if t.Firmware != nil {
		if b, err := decodeBase64(t.Firmware.FileContent); err == nil {
			return int64(len(b))
		}
	}
	return 1024
}

func decodeBase64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(s)
	}
	return b, err
}

// transferSeconds is how long the fragments take to go out.
func transferSeconds(t *taskRec) float64 {
	size, frag := firmwareSize(t), max(t.FragSize, 1)
	n := (size + frag - 1) / frag
	n = (n*(100+t.FragRed) + 99) / 100
	return float64(n) * float64(t.FragIntv) / 1000
}

// progress computes t's state now.
func (g *Gateway) progress(t *taskRec) runProgress {
	now := g.opts.Now()
	n := len(t.DevEUIs)
	rp := runProgress{status: nsapi.TaskPending, devices: make([]devProgress, n)}
	if now.Before(t.RunFrom) {
		return rp
	}
	e := now.Sub(t.RunFrom).Seconds() * g.opts.TimeScale
	end := transferStart + transferSeconds(t)
	set := func(status, mc, frag int) {
		rp.status = status
		for i := range rp.devices {
			rp.devices[i] = devProgress{mc: mc, frag: frag, status: status}
		}
	}
	switch {
	case e < setupMcSeconds:
		set(nsapi.TaskWaiting, 1, 0)
	case e < 2*setupMcSeconds:
		set(nsapi.TaskWaiting, 2, 0)
	case e < setupFragSeconds:
		set(nsapi.TaskExecuting, 3, 1)
	case e < transferStart:
		set(nsapi.TaskExecuting, 3, 2)
	case e < end:
		set(nsapi.TaskExecuting, 4, 3)
	default:
		failed := false
		for i, eui := range t.DevEUIs {
			switch {
			case e < end+deviceReport*float64(i+1):
				rp.devices[i] = devProgress{mc: 5, frag: 12, status: nsapi.TaskExecuting}
			case slices.Contains(t.Failing, eui):
				rp.devices[i] = devProgress{mc: 5, frag: 10, status: nsapi.TaskFailed}
				failed = true
			default:
				rp.devices[i] = devProgress{mc: 5, frag: 13, status: nsapi.TaskSucceeded}
				rp.done++
			}
		}
		finish := end + deviceReport*float64(n)
		switch {
		case e < finish:
			rp.status = nsapi.TaskExecuting
		case failed:
			rp.status = nsapi.TaskFailed
		default:
			rp.status = nsapi.TaskSucceeded
		}
		if e >= finish {
			rp.stopped = t.RunFrom.Add(time.Duration(finish / g.opts.TimeScale * float64(time.Second)))
		}
	}
	return rp
}

// statusName is the 6.2 name of a task status.
func statusName(s int) string {
	switch s {
	case nsapi.TaskPending:
		return "pending"
	case nsapi.TaskWaiting:
		return "waiting"
	case nsapi.TaskExecuting:
		return "executing"
	case nsapi.TaskSucceeded:
		return "done (upgrade success)"
	case nsapi.TaskFailed:
		return "done (upgrade failed)"
	}
	return "status " + strconv.Itoa(s)
}

// ---- task list ----

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func (g *Gateway) taskOut(t *taskRec) taskOut {
	rp := g.progress(t)
	o := taskOut{
		ID: t.ID, Name: t.Name, Description: t.Description, Status: rp.status,
		StartedAt: fmtTime(t.StartedAt), StoppedAt: fmtTime(rp.stopped),
		CreatedAt: fmtTime(t.CreatedAt), UpdatedAt: fmtTime(t.UpdatedAt),
		DoneDevices: rp.done, TotalDevices: len(t.DevEUIs), DevEUIs: []string{},
		FragmentInfo:       fragOut{FragmentSize: t.FragSize, FragmentInterval: t.FragIntv, FragmentRedundancy: t.FragRed},
		TmpMcInfo:          tmpMcOut{GroupType: t.McGroupType, DR: t.McDR, Frequency: t.McFreq},
		IsOfficialFirmware: t.Official,
	}
	for _, e := range t.DevEUIs {
		o.DevEUIs = append(o.DevEUIs, strings.ToLower(e))
	}
	if t.Official && t.OfficialFW != nil {
		f := t.OfficialFW
		o.FirmwareName = f.Name
		o.FirmwareInfo = firmwareInfoOut{FirmwareName: f.Name, ProductModel: f.Model, FirmwareVersion: f.FirmwareVersion,
			SupportHardwareVersion: f.SupportMinHardwareVersion, SupportFirmwareVersion: f.SupportMinFirmwareVersion}
		info := newOfficialOut(f, string(f.Size))
		o.OfficialFirmwareInfo = &info
	} else if t.Firmware != nil {
		o.FirmwareName = t.Firmware.FirmwareName
		o.FirmwareInfo = firmwareInfoOut{FirmwareName: t.Firmware.FirmwareName, Description: t.Firmware.Description,
			OfficialFirmwareURL: t.Firmware.OfficialFirmwareURL}
		if g.opts.ListFileContent {
			o.FirmwareInfo.FileContent = t.Firmware.FileContent // write-only on a gateway: "" in 6.2
		}
	}
	return o
}

func (g *Gateway) listTasks(req *request, _ string) any {
	limit, offset, e := paging(req.query)
	if e != nil {
		return e
	}
	search := req.query.Get("search")
	var found []*taskRec
	for _, t := range g.st.Tasks {
		if matches(search, t.Name) {
			found = append(found, t)
		}
	}
	out := taskList{Total: len(found), Tasks: []taskOut{}}
	lo, hi := page(len(found), limit, offset)
	for _, t := range found[lo:hi] {
		out.Tasks = append(out.Tasks, g.taskOut(t))
	}
	return out
}

// ---- create, update ----

// parseStart reads a task start time: RFC 3339, as every example of the
// spec gives it ("2025-04-15T00:50:00.000Z"); a space for the T is code
// 10310004 on a gateway.
func parseStart(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.000Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// readTask reads and checks {"fuotaTask":{…}} with the codes of 6.11.
func (g *Gateway) readTask(req *request, put bool) (*taskRec, *apiError) {
	body, e := readBody(req.Body)
	if e != nil {
		return nil, e
	}
	body.require("fuotaTask")
	f := body.object("fuotaTask")
	if body.failed() != nil {
		return nil, body.failed()
	}
	t := &taskRec{}
	if put {
		f.require("id")
		t.ID = f.bounded("id", 0, true, 0, maxID)
		if f.failed() != nil {
			return nil, f.failed()
		}
		cur := g.st.task(t.ID)
		if cur == nil {
			return nil, errf(nsapi.CodeNotFound, "FUOTA task %d", t.ID)
		}
		// A task is changed only while it is pending (6.2 status 0): once
		// it is waiting, executing or done, 10310014.
		if st := g.progress(cur).status; st != nsapi.TaskPending {
			return nil, errf(nsapi.CodeFuotaTaskStatus, "FUOTA task %d is %s, not pending", t.ID, statusName(st))
		}
	}
	t.Name = f.str("name", "")
	t.Description = f.str("description", "")
	start := f.str("startedAt", "")
	t.DevEUIs = f.strs("deveui")
	t.Official = f.boolean("isOfficialFirmware", false)
	if f.failed() != nil {
		return nil, f.failed()
	}
	if strings.TrimSpace(t.Name) == "" || len(t.Name) > 127 {
		return nil, errf(nsapi.CodeFuotaTaskName, "name: want 1–127 characters")
	}
	var ok bool
	if t.StartedAt, ok = parseStart(start); !ok {
		return nil, errf(nsapi.CodeFuotaStartTime, "startedAt: want an RFC 3339 time, got %q", start)
	}
	if len(t.DevEUIs) == 0 {
		return nil, errf(nsapi.CodeParameter, "deveui: required")
	}
	var euis []string
	for _, eui := range t.DevEUIs {
		if !isHex(eui, 16) {
			return nil, errf(nsapi.CodeParameter, "deveui: %q: want 16 hex digits", eui)
		}
		d := g.st.device(eui)
		if d == nil {
			return nil, errf(nsapi.CodeNotFound, "device %s", strings.ToUpper(eui))
		}
		if !slices.Contains(euis, d.DevEUI) {
			euis = append(euis, d.DevEUI)
		}
	}
	t.DevEUIs = euis

	frag := f.object("fragmentInfo")
	if f.failed() != nil {
		return nil, f.failed()
	}
	if frag == nil {
		return nil, errf(nsapi.CodeFuotaMissFragmentInfo, "fragmentInfo")
	}
	mc := f.object("tmpMcInfo")
	if f.failed() != nil {
		return nil, f.failed()
	}
	if mc == nil {
		return nil, errf(nsapi.CodeFuotaMissTmpMcInfo, "tmpMcInfo")
	}
	t.FragSize = frag.integer("fragmentSize", 0, false)
	t.FragIntv = frag.integer("fragmentInterval", 0, false)
	t.FragRed = frag.integer("fragmentRedundancy", 0, false)
	mc.require("dr", "frequency")
	t.McGroupType = mc.integer("groupType", 0, false)
	t.McDR = mc.integer("dr", 0, false)
	t.McFreq = mc.integer("frequency", 0, false)
	if f.failed() != nil {
		return nil, f.failed()
	}
	if t.McGroupType != 0 {
		mc.fail(nsapi.CodeParameter, "groupType", "want 0 (class C)")
	}
	g.checkDR(mc, "dr", t.McDR)
	g.checkFreq(mc, "frequency", t.McFreq)
	if f.failed() != nil {
		return nil, f.failed()
	}
	if maxFrag := g.plan.MaxFragment(t.McDR); t.FragSize < 1 || t.FragSize > 250 || t.FragSize > maxFrag {
		return nil, errf(nsapi.CodeFuotaFragmentSize, "fragmentSize: want 1–%d for DR%d, got %d", min(250, maxFrag), t.McDR, t.FragSize)
	}
	if t.FragIntv < 1000 || t.FragIntv > 10000 {
		return nil, errf(nsapi.CodeFuotaFragmentInterval, "fragmentInterval: want 1000–10000 ms, got %d", t.FragIntv)
	}
	if t.FragRed < 0 || t.FragRed > 100 {
		return nil, errf(nsapi.CodeFuotaRedundancy, "fragmentRedundancy: want 0–100 %%, got %d", t.FragRed)
	}

	if t.Official {
		key := "officialFirmwareInfo"
		if !f.has(key) {
			key = "officialFirmwarInfo"
		}
		if !f.has(key) {
			return nil, errf(nsapi.CodeFuotaMissOfficialInfo, "officialFirmwareInfo")
		}
		var of nsapi.OfficialFirmware
		if err := json.Unmarshal(f.raw(key), &of); err != nil {
			return nil, errf(nsapi.CodeParameter, "%s: %v", key, err)
		}
		if of.ID == "" || of.Model == "" {
			return nil, errf(nsapi.CodeFuotaMissOfficialInfo, "%s: id and model required", key)
		}
		i := slices.IndexFunc(catalogue, func(c nsapi.OfficialFirmware) bool { return c.ID == of.ID })
		if i < 0 {
			return nil, errf(nsapi.CodeFuotaOfficialFetch, "official firmware %s", of.ID)
		}
		c := catalogue[i]
		t.OfficialFW = &c
	} else {
		fw := f.object("firmwareInfo")
		if f.failed() != nil {
			return nil, f.failed()
		}
		if fw == nil {
			return nil, errf(nsapi.CodeFuotaMissFirmwareInfo, "firmwareInfo")
		}
		info := nsapi.FirmwareInfo{
			FirmwareName:        fw.str("firmwareName", ""),
			Description:         fw.str("description", ""),
			FileContent:         fw.str("fileContent", ""),
			OfficialFirmwareURL: fw.str("officialFirmwareUrl", ""),
		}
		if f.failed() != nil {
			return nil, f.failed()
		}
		if info.FirmwareName == "" || info.FileContent == "" {
			return nil, errf(nsapi.CodeFuotaMissCustomFirmware, "firmwareInfo: firmwareName and fileContent required")
		}
		if _, err := decodeBase64(info.FileContent); err != nil {
			return nil, errf(nsapi.CodeParameter, "firmwareInfo.fileContent: want base64")
		}
		t.Firmware = &info
	}
	if o := g.taskNamed(t.Name); o != nil && o.ID != t.ID {
		return nil, errf(nsapi.CodeAlreadyExists, "FUOTA task %q", t.Name)
	}
	return t, nil
}

func (g *Gateway) taskNamed(name string) *taskRec {
	return find(g.st.Tasks, func(t *taskRec) bool { return t.Name == name })
}

// failing lists the devices of t marked to fail (FailFuotaDevice, or
// Options.FailFuotaDevices).
func (g *Gateway) failing(t *taskRec) []string {
	var out []string
	for _, e := range t.DevEUIs {
		if slices.Contains(g.st.FailDevices, e) || slices.ContainsFunc(g.opts.FailFuotaDevices, func(f string) bool { return strings.EqualFold(f, e) }) {
			out = append(out, e)
		}
	}
	return out
}

// later is the later of two times: a run cannot start before the task
// was created or updated.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (g *Gateway) createTask(req *request, _ string) any {
	t, e := g.readTask(req, false)
	if e != nil {
		return e
	}
	if len(g.st.Tasks) >= g.opts.MaxTasks {
		return errf(nsapi.CodeFuotaTooManyTasks, "at most %d tasks", g.opts.MaxTasks)
	}
	t.ID = g.st.NextTaskID
	g.st.NextTaskID++
	t.CreatedAt = g.opts.Now()
	t.UpdatedAt = t.CreatedAt
	t.RunFrom = later(t.StartedAt, t.CreatedAt)
	t.Failing = g.failing(t)
	g.st.Tasks = append(g.st.Tasks, t)
	g.st.putTask(t)
	g.st.putMeta()
	return struct {
		ID int64 `json:"id"`
	}{t.ID}
}

func (g *Gateway) updateTask(req *request, _ string) any {
	t, e := g.readTask(req, true)
	if e != nil {
		return e
	}
	cur := g.st.task(t.ID)
	t.CreatedAt = cur.CreatedAt
	t.UpdatedAt = g.opts.Now()
	t.RunFrom = later(t.StartedAt, t.UpdatedAt)
	t.Failing = g.failing(t)
	*cur = *t
	g.st.putTask(cur)
	return okBody
}

// readIDs reads {"ids":[…]}: every id must name a task.
func (g *Gateway) readIDs(req *request) ([]*taskRec, *apiError) {
	f, e := readBody(req.Body)
	if e != nil {
		return nil, e
	}
	f.require("ids")
	ids := f.ints("ids")
	for _, id := range ids {
		f.rangeCheck("ids", id, 0, maxID)
	}
	if f.failed() != nil {
		return nil, f.failed()
	}
	if len(ids) == 0 {
		return nil, errf(nsapi.CodeParameter, "ids: required")
	}
	var out []*taskRec
	for _, id := range ids {
		t := g.st.task(id)
		if t == nil {
			return nil, errf(nsapi.CodeNotFound, "FUOTA task %d", id)
		}
		out = append(out, t)
	}
	return out, nil
}

func (g *Gateway) deleteTasks(req *request, _ string) any {
	ts, e := g.readIDs(req)
	if e != nil {
		return e
	}
	// A delete is taken in any status: it stops a running task.
	g.st.Tasks = slices.DeleteFunc(g.st.Tasks, func(x *taskRec) bool { return slices.Contains(ts, x) })
	for _, t := range ts {
		g.st.delTask(t)
	}
	return okBody
}

func (g *Gateway) retryTasks(req *request, _ string) any {
	ts, e := g.readIDs(req)
	if e != nil {
		return e
	}
	for _, t := range ts {
		if g.progress(t).status != nsapi.TaskFailed {
			return errf(nsapi.CodeFuotaTaskStatus, "FUOTA task %d has not failed", t.ID)
		}
	}
	now := g.opts.Now()
	for _, t := range ts {
		t.RunFrom = now
		t.UpdatedAt = now
		t.Failing = g.failing(t)
		g.st.putTask(t)
	}
	return okBody
}

// ---- other FUOTA calls ----

func (g *Gateway) payloadSizes(*request, string) any {
	type entry struct {
		DR             int64 `json:"dr"`
		MaxPayloadSize int64 `json:"maxPayloadSize"`
	}
	out := struct {
		Map []entry `json:"maxPayloadSizeMap"`
	}{Map: []entry{}}
	for _, dr := range g.plan.DataRates {
		out.Map = append(out.Map, entry{DR: dr, MaxPayloadSize: g.plan.MaxFragment(dr)})
	}
	return out
}

// modelName is a Milesight product model at the start of a name: two to
// four letters, two to four digits and an optional letter (WT201, EM300,
// CT303), followed by the end of the name or a separator.
var modelName = regexp.MustCompile(`^([A-Za-z]{2,4}[0-9]{2,4}[A-Za-z]?)(?:$|[-_ .])`)

// productModel is the product model a name starts with, upper case, or ""
// when it starts with none. The simulator knows a device's model by its
// name, as the spec's 6.7 example names a WT201 "WT201-1", and a local
// firmware's by its file name ("WT101.0000.0100.0101.bin" in 6.1): a real
// gateway learns the model from the device.
func productModel(name string) string {
	if m := modelName.FindStringSubmatch(name); m != nil {
		return strings.ToUpper(m[1])
	}
	return ""
}

// fits reports whether a firmware for model fits device d: when either
// model is unknown, the simulator cannot tell and says it fits.
func fits(d *devRec, model string) bool {
	dm := productModel(d.Name)
	return dm == "" || model == "" || strings.EqualFold(dm, model)
}

// fuotaDevice is d's entry in a FUOTA device list, with its state in t (nil: none).
func (g *Gateway) fuotaDevice(d *devRec, t *taskRec, rp *runProgress, upper bool, model string) fuotaDeviceOut {
	o := fuotaDeviceOut{DevEui: strings.ToLower(d.DevEUI), Name: d.Name, ProfileID: d.ProfileID, ProductModel: cmp.Or(productModel(d.Name), model)}
	if upper {
		o.DevEui = d.DevEUI
	}
	if p := g.st.profile(d.ProfileID); p != nil {
		o.ProfileName = p.Name
	}
	if t != nil {
		o.TaskID = t.ID
		if i := slices.Index(t.DevEUIs, d.DevEUI); i >= 0 && rp != nil {
			dp := rp.devices[i]
			o.MulticastSessionStatus, o.FragmentSessionStatus, o.Status = dp.mc, dp.frag, dp.status
		}
		if o.ProductModel == "" && t.OfficialFW != nil {
			o.ProductModel = t.OfficialFW.Model
		}
	}
	return o
}

func (g *Gateway) taskDevices(req *request, _ string) any {
	limit, offset, e := paging(req.query)
	if e != nil {
		return e
	}
	id, e := queryInt(req.query, "taskId", -1, 0, maxID)
	if e != nil {
		return e
	}
	t := g.st.task(id)
	if t == nil {
		return errf(nsapi.CodeNotFound, "FUOTA task %d", id)
	}
	rp := g.progress(t)
	search := req.query.Get("search")
	var found []fuotaDeviceOut
	for _, eui := range t.DevEUIs {
		d := g.st.device(eui)
		if d == nil || !matches(search, d.Name, d.DevEUI) {
			continue
		}
		found = append(found, g.fuotaDevice(d, t, &rp, false, ""))
	}
	lo, hi := page(len(found), limit, offset)
	return fuotaDeviceList{Total: len(found), Devices: append([]fuotaDeviceOut{}, found[lo:hi]...)}
}

func (g *Gateway) firmwareDevices(req *request, _ string) any {
	f, e := readBody(req.Body)
	if e != nil {
		return e
	}
	name := f.str("firmwareName", "")
	content := f.str("fileContent", "")
	taskID := f.bounded("taskId", 0, true, 0, maxID)
	search := f.str("search", "")
	limit := f.bounded("limit", 9999, true, 0, maxPaging)
	offset := f.bounded("offset", 0, true, 0, maxPaging)
	if f.failed() != nil {
		return f.failed()
	}
	model := ""
	if f.has("officialFirmwareInfo") {
		var of nsapi.OfficialFirmware
		if err := json.Unmarshal(f.raw("officialFirmwareInfo"), &of); err != nil {
			return errf(nsapi.CodeParameter, "officialFirmwareInfo: %v", err)
		}
		if of.Model == "" {
			return errf(nsapi.CodeFuotaMissOfficialInfo, "officialFirmwareInfo: model required")
		}
		model = of.Model
	} else if name == "" || content == "" {
		return errf(nsapi.CodeFuotaMissFirmwareInfo, "firmwareName and fileContent, or officialFirmwareInfo")
	} else {
		model = productModel(name)
	}
	var scope []*devRec
	if taskID > 0 {
		t := g.st.task(taskID)
		if t == nil {
			return errf(nsapi.CodeNotFound, "FUOTA task %d", taskID)
		}
		for _, eui := range t.DevEUIs {
			if d := g.st.device(eui); d != nil {
				scope = append(scope, d)
			}
		}
	} else {
		scope = g.st.Devices
	}
	progress := map[int64]runProgress{}
	var found []fuotaDeviceOut
	for _, d := range scope {
		if !matches(search, d.Name, d.DevEUI) || !fits(d, model) {
			continue
		}
		var t *taskRec
		if taskID > 0 {
			t = g.st.task(taskID)
		} else if ts := g.st.tasksOf(d.DevEUI); len(ts) > 0 {
			t = ts[0]
		}
		var rp *runProgress
		if t != nil {
			p, ok := progress[t.ID]
			if !ok {
				p = g.progress(t)
				progress[t.ID] = p
			}
			rp = &p
		}
		found = append(found, g.fuotaDevice(d, t, rp, true, model))
	}
	lo, hi := page(len(found), int(limit), int(offset))
	return fuotaDeviceList{Total: len(found), Devices: append([]fuotaDeviceOut{}, found[lo:hi]...)}
}

func (g *Gateway) officialModels(req *request, _ string) any {
	dc := strings.ToLower(strings.TrimSpace(req.query.Get("dateCenter")))
	switch dc {
	case "eu", "us", "cn", "sg":
	default:
		return errf(nsapi.CodeParameter, "dateCenter: want eu, us, cn or sg")
	}
	var models []string
	for _, c := range catalogue {
		if !slices.Contains(models, c.Model) {
			models = append(models, c.Model)
		}
	}
	sort.Strings(models)
	return struct {
		Models []string `json:"models"`
	}{models}
}

func (g *Gateway) officialFirmware(req *request, _ string) any {
	limit, offset, e := paging(req.query)
	if e != nil {
		return e
	}
	model := strings.TrimSpace(req.query.Get("model"))
	if model == "" {
		return errf(nsapi.CodeParameter, "model: required")
	}
	search := req.query.Get("search")
	var found []officialOut[int64]
	for i := range catalogue {
		c := &catalogue[i]
		if !strings.EqualFold(c.Model, model) || !matches(search, c.Name, c.FirmwareVersion) {
			continue
		}
		size, _ := strconv.ParseInt(string(c.Size), 10, 64)
		found = append(found, newOfficialOut(c, size))
	}
	lo, hi := page(len(found), limit, offset)
	return struct {
		Total int                  `json:"total"`
		Data  []officialOut[int64] `json:"data"`
	}{len(found), append([]officialOut[int64]{}, found[lo:hi]...)}
}
