package gwsim

import (
	"slices"
	"strings"
	"time"

	"github.com/gwsync/gwsync/band"
	"github.com/gwsync/gwsync/nsapi"
)

// stateFormatVersion is the version of the state file's layout.
const stateFormatVersion = 1

// state is everything the gateway holds; it is the state file's content.
type state struct {
	FormatVersion int         `json:"format_version"`
	EUI           string      `json:"gatewayEUI"`
	ChannelPlan   string      `json:"channelPlan"`
	Applications  []appRec    `json:"applications"`
	Profiles      []*profRec  `json:"profiles"`
	Devices       []*devRec   `json:"devices"`
	Groups        []*groupRec `json:"multicastGroups"`
	Codecs        []*codecRec `json:"codecs"`
	Tasks         []*taskRec  `json:"fuotaTasks"`
	NextCodecID   int64       `json:"nextCodecID"`
	NextTaskID    int64       `json:"nextTaskID"`
	FailDevices   []string    `json:"failFuotaDevices,omitempty"`

	idx index // lookups by id; kept by the handlers that add and remove records

	// changes are the records written since the last save, for the
	// state log (see wal.go); changeErr is a record that could not be
	// encoded.
	changes   []change
	changeErr error
}

// index finds records by their id without a scan: devices by upper-case
// EUI and by name, profiles, codecs and groups by id. Handlers that add or
// remove a record, or rename a device, keep it (see reindex for the whole).
type index struct {
	dev     map[string]*devRec
	devName map[string]*devRec
	prof    map[string]*profRec
	codec   map[string]*codecRec
	group   map[string]*groupRec
}

// reindex builds st.idx from the records.
func (st *state) reindex() {
	st.idx = index{
		dev:     make(map[string]*devRec, len(st.Devices)),
		devName: make(map[string]*devRec, len(st.Devices)),
		prof:    make(map[string]*profRec, len(st.Profiles)),
		codec:   make(map[string]*codecRec, len(st.Codecs)),
		group:   make(map[string]*groupRec, len(st.Groups)),
	}
	for _, d := range st.Devices {
		st.idx.dev[strings.ToUpper(d.DevEUI)] = d
		if _, taken := st.idx.devName[d.Name]; !taken {
			st.idx.devName[d.Name] = d
		}
	}
	for _, p := range st.Profiles {
		st.idx.prof[p.ID] = p
	}
	for _, c := range st.Codecs {
		st.idx.codec[c.ID] = c
	}
	for _, gr := range st.Groups {
		st.idx.group[gr.ID] = gr
	}
}

// addDevice adds d to the records and the index.
func (st *state) addDevice(d *devRec) {
	st.Devices = append(st.Devices, d)
	st.idx.dev[strings.ToUpper(d.DevEUI)] = d
	st.idx.devName[d.Name] = d
}

// renameDevice moves d's name in the index from old to d.Name.
func (st *state) renameDevice(d *devRec, old string) {
	if old == d.Name {
		return
	}
	if st.idx.devName[old] == d {
		delete(st.idx.devName, old)
	}
	st.idx.devName[d.Name] = d
}

// removeDevice takes d out of the records and the index.
func (st *state) removeDevice(d *devRec) {
	st.Devices = without(st.Devices, d)
	delete(st.idx.dev, strings.ToUpper(d.DevEUI))
	if st.idx.devName[d.Name] == d {
		delete(st.idx.devName, d.Name)
	}
}

type appRec struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type profRec struct {
	ID      string                `json:"id"`
	Name    string                `json:"name"`
	Builtin bool                  `json:"builtin,omitempty"`
	S       nsapi.ProfileSettings `json:"profile"`
}

type devRec struct {
	DevEUI         string `json:"devEUI"`
	Name           string `json:"name"`
	Description    string `json:"description"`
	ApplicationID  string `json:"applicationID"`
	ProfileID      string `json:"profileID"`
	PayloadCodecID string `json:"payloadCodecID"`
	FPort          int64  `json:"fPort"`
	SkipFCntCheck  bool   `json:"skipFCntCheck"`
	AppKey         string `json:"appKey"`
	DevAddr        string `json:"devAddr"`
	NwkSKey        string `json:"nwkSKey"`
	AppSKey        string `json:"appSKey"`
	FCntUp         int64  `json:"fCntUp"`
	FCntDown       int64  `json:"fCntDown"`
	MbMode         string `json:"mbMode"`
	MbFramePort    int64  `json:"mbFramePort"`
	MbTcpPort      int64  `json:"mbTcpPort"`
}

type groupRec struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	McAddr    string    `json:"mcAddr"`
	McNwkSKey string    `json:"mcNwkSKey"`
	McAppSKey string    `json:"mcAppSKey"`
	FCnt      int64     `json:"fCnt"`
	GroupType string    `json:"groupType"`
	DR        int64     `json:"dr"`
	Frequency int64     `json:"frequency"`
	PingSlot  int64     `json:"pingSlotPeriod"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	Members   []string  `json:"devices"`
}

type codecRec struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	Description   string `json:"description"`
	TemplateID    int64  `json:"templateID"`
	DevEUIPrefix  string `json:"devEUIPrefix"`
	EncoderScript string `json:"encoderScript"`
	DecoderScript string `json:"decoderScript"`
	TestEnabled   bool   `json:"testEnabled"`
	FPort         int64  `json:"fPort"`
	CodecJSON     string `json:"codecJson"`
	Builtin       bool   `json:"builtin,omitempty"`
}

type taskRec struct {
	ID          int64                   `json:"id"`
	Name        string                  `json:"name"`
	Description string                  `json:"description"`
	StartedAt   time.Time               `json:"startedAt"`
	DevEUIs     []string                `json:"deveui"`
	Official    bool                    `json:"isOfficialFirmware"`
	Firmware    *nsapi.FirmwareInfo     `json:"firmwareInfo,omitempty"`
	OfficialFW  *nsapi.OfficialFirmware `json:"officialFirmwareInfo,omitempty"`
	FragSize    int64                   `json:"fragmentSize"`
	FragIntv    int64                   `json:"fragmentInterval"`
	FragRed     int64                   `json:"fragmentRedundancy"`
	McGroupType int64                   `json:"groupType"`
	McDR        int64                   `json:"dr"`
	McFreq      int64                   `json:"frequency"`
	CreatedAt   time.Time               `json:"createdAt"`
	UpdatedAt   time.Time               `json:"updatedAt"`
	// RunFrom is when the current run starts: startedAt, or the create,
	// update or retry time when that is later.
	RunFrom time.Time `json:"runFrom"`
	// Failing are the devices that fail this run.
	Failing []string `json:"failing,omitempty"`
}

// Built-in profile ids: fixed, so factory state is the same on every run.
const (
	profileIDClassA = "8f3c1b6e-4a2d-4e59-9b1a-0c7d2e5f6a01"
	profileIDClassB = "8f3c1b6e-4a2d-4e59-9b1a-0c7d2e5f6a02"
	profileIDClassC = "8f3c1b6e-4a2d-4e59-9b1a-0c7d2e5f6a03"
)

// rfRegions are the rfRegion names the profile list gives per plan.
var rfRegions = map[string]string{
	"CN470": "China470", "EU868": "EU_863_870", "IN865": "India865", "RU864": "Russia864",
	"KR920": "Korea920", "US915": "US902-928", "AU915": "Australia915",
	"AS923-1": "AS923_1", "AS923-2": "AS923_2", "AS923-3": "AS923_3", "AS923-4": "AS923_4",
}

// defaultProfileSettings are the create defaults of spec 2.1 for plan p.
func defaultProfileSettings(p *band.Plan) nsapi.ProfileSettings {
	return nsapi.ProfileSettings{
		ClassBTimeout:        10,
		PingSlotPeriod:       128,
		PingSlotDR:           nsapi.FlexInt(p.PingSlotDR),
		PingSlotFreq:         nsapi.FlexInt(p.PingSlotFreq),
		ClassCTimeout:        10,
		MacVersion:           "1.0.2",
		RegParamsRevision:    "B",
		RxDataRate2:          nsapi.FlexInt(p.RX2DR),
		RxFreq2:              nsapi.FlexInt(p.RX2Freq),
		FactoryPresetFreqs:   []int64{},
		Supports32bitFCnt:    true,
		EnableUplinkChannels: []int64{},
	}
}

// factoryState is a gateway as it leaves the factory: application "cloud",
// the three built-in OTAA profiles, a few built-in payload codecs.
func factoryState(eui string, p *band.Plan) *state {
	st := &state{
		FormatVersion: stateFormatVersion,
		EUI:           eui,
		ChannelPlan:   p.Name,
		Applications:  []appRec{{ID: "1", Name: "cloud"}},
		Devices:       []*devRec{},
		Groups:        []*groupRec{},
		Tasks:         []*taskRec{},
		NextCodecID:   100,
		NextTaskID:    1,
	}
	for _, b := range []struct {
		id, name string
		b, c     bool
	}{
		{profileIDClassA, "ClassA-OTAA", false, false},
		{profileIDClassB, "ClassB-OTAA", true, false},
		{profileIDClassC, "ClassC-OTAA", false, true},
	} {
		s := defaultProfileSettings(p)
		s.SupportsJoin = true
		s.SupportsClassB = b.b
		s.SupportsClassC = b.c
		st.Profiles = append(st.Profiles, &profRec{ID: b.id, Name: b.name, Builtin: true, S: s})
	}
	for _, c := range []struct{ id, name, prefix string }{
		{"1", "Milesight EM300", "24E124136"},
		{"2", "Milesight WT201", "24E124715"},
		{"3", "Milesight AM300", "24E124710"},
	} {
		st.Codecs = append(st.Codecs, &codecRec{
			ID: c.id, Name: c.name, Description: c.name + " decoder", DevEUIPrefix: c.prefix,
			DecoderScript: "function Decode(fPort, bytes) { return {}; }", FPort: 85, Builtin: true,
		})
	}
	return st
}

// ---- lookups (callers hold g.mu) ----

func (st *state) app(id string) *appRec {
	for i := range st.Applications {
		if st.Applications[i].ID == id {
			return &st.Applications[i]
		}
	}
	return nil
}

// find is the first record of rs that match accepts, or nil.
func find[R any](rs []*R, match func(*R) bool) *R {
	for _, r := range rs {
		if match(r) {
			return r
		}
	}
	return nil
}

// without is rs less the record r (the same record, not an equal one).
func without[R any](rs []*R, r *R) []*R {
	return slices.DeleteFunc(rs, func(x *R) bool { return x == r })
}

func (st *state) profile(id string) *profRec { return st.idx.prof[id] }

func (st *state) profileByName(name string) *profRec {
	return find(st.Profiles, func(p *profRec) bool { return p.Name == name })
}

func (st *state) device(eui string) *devRec { return st.idx.dev[strings.ToUpper(eui)] }

func (st *state) group(id string) *groupRec { return st.idx.group[id] }

func (st *state) codec(id string) *codecRec { return st.idx.codec[id] }

func (st *state) task(id int64) *taskRec {
	return find(st.Tasks, func(t *taskRec) bool { return t.ID == id })
}

// tasksOf lists the tasks devEUI belongs to.
func (st *state) tasksOf(eui string) []*taskRec {
	var out []*taskRec
	for _, t := range st.Tasks {
		for _, e := range t.DevEUIs {
			if strings.EqualFold(e, eui) {
				out = append(out, t)
				break
			}
		}
	}
	return out
}
