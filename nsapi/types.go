package nsapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/gwsync/gwsync/internal/reserved"
)

// This file holds the wire types of the ns-api: the request/response
// envelope and one struct per resource. Reading is tolerant (numbers given as
// strings, the spec's alternative field names); writing is canonical (the
// field names of the spec's parameter tables). See ../shared/spec/NOTES.md.

// Request is the envelope gwsync publishes on the request topic.
type Request struct {
	Type       string          `json:"type"`
	ID         string          `json:"id"`
	Method     string          `json:"method"`
	URL        string          `json:"url"`
	GatewayEUI string          `json:"gatewayEUI,omitempty"`
	Body       json.RawMessage `json:"body,omitempty"`
}

// Response is the envelope the gateway publishes on the response topic.
// The spec's example carries gatewayEUI twice; the non-empty one wins
// (encoding/json keeps the last, so UnmarshalJSON reads it as
// scanResponse does).
type Response struct {
	ID         string          `json:"id"`
	GatewayEUI string          `json:"gatewayEUI"`
	Method     string          `json:"method"`
	URL        string          `json:"url"`
	Body       json.RawMessage `json:"body"`
}

// UnmarshalJSON reads the envelope tolerantly: an id given as a number, and
// a duplicated gatewayEUI key of which the non-empty value is kept.
func (r *Response) UnmarshalJSON(b []byte) error {
	resp, _, err := scanResponse(b)
	if err != nil {
		return err
	}
	*r = resp // its body is a copy
	return nil
}

// FlexString is a string on the wire that some responses give as a number
// ("applicationID": "1" or 1). It always marshals as a JSON string.
type FlexString string

// UnmarshalJSON accepts a JSON string, number or null.
func (s *FlexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*s = ""
	case b[0] == '"':
		if v, ok := plainString(b); ok {
			*s = FlexString(v)
			return nil
		}
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = FlexString(v)
	case b[0] == '-' || (b[0] >= '0' && b[0] <= '9'):
		*s = FlexString(string(b))
	default:
		return fmt.Errorf("want a string or number, got %s", b)
	}
	return nil
}

// FlexInt is an integer on the wire that some responses give as a string
// ("totalCount": "1", "mbFramePort": "0"). It always marshals as a number.
// An empty string reads as 0.
type FlexInt int64

// UnmarshalJSON accepts a JSON number, a string holding a number, or null.
func (n *FlexInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		*n = 0
		return nil
	}
	num := b // the number's text, read without a copy when it is plain
	if b[0] == '"' {
		if in, ok := plainContent(b); ok {
			num = in
		} else {
			var s string
			if err := json.Unmarshal(b, &s); err != nil {
				return err
			}
			num = []byte(s)
		}
		num = bytes.TrimSpace(num)
		if len(num) == 0 || string(num) == "-" {
			*n = 0
			return nil
		}
	}
	v, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(string(num), 64)
		if ferr != nil || f != float64(int64(f)) {
			return fmt.Errorf("want an integer, got %s", b)
		}
		v = int64(f)
	}
	*n = FlexInt(v)
	return nil
}

// ErrorBody is the body of a failed call: {"code":N,"error":"…"}. Code 200
// (or no code at all) means success.
type ErrorBody struct {
	Code  FlexInt `json:"code"`
	Error string  `json:"error"`
}

// ---- Profiles (spec section 2) ----

// ProfileSettings is the "profile" object of a device profile.
type ProfileSettings struct {
	ProfileID            string  `json:"profileID,omitempty"`
	SupportsClassB       bool    `json:"supportsClassB"`
	ClassBTimeout        FlexInt `json:"classBTimeout"`
	PingSlotPeriod       FlexInt `json:"pingSlotPeriod"`
	PingSlotDR           FlexInt `json:"pingSlotDR"`
	PingSlotFreq         FlexInt `json:"pingSlotFreq"`
	SupportsClassC       bool    `json:"supportsClassC"`
	ClassCTimeout        FlexInt `json:"classCTimeout"`
	MacVersion           string  `json:"macVersion"`
	RegParamsRevision    string  `json:"regParamsRevision"`
	RxDROffset1          FlexInt `json:"rxDROffset1"`
	RxDataRate2          FlexInt `json:"rxDataRate2"`
	RxFreq2              FlexInt `json:"rxFreq2"`
	FactoryPresetFreqs   []int64 `json:"factoryPresetFreqs"`
	MaxEIRP              FlexInt `json:"maxEIRP"`
	MaxDutyCycle         FlexInt `json:"maxDutyCycle,omitempty"` // server-owned
	SupportsJoin         bool    `json:"supportsJoin"`
	RfRegion             string  `json:"rfRegion,omitempty"` // server-owned
	Supports32bitFCnt    bool    `json:"supports32bitFCnt"`
	EnableUplinkChannels []int64 `json:"enableUplinkChannels"`
}

// Profile is one entry of GET /api/urprofiles, and (without the read-only
// fields) the body of POST and PUT /api/urprofiles.
type Profile struct {
	Name            string          `json:"name"`
	Profile         ProfileSettings `json:"profile"`
	OrganizationID  FlexString      `json:"organizationID,omitempty"`  // server-owned
	NetworkServerID FlexString      `json:"networkServerID,omitempty"` // server-owned
	Using           bool            `json:"using,omitempty"`           // server-owned
	IsDefault       bool            `json:"isDefault,omitempty"`       // server-owned
}

// ID is the profile's server id.
func (p *Profile) ID() string { return p.Profile.ProfileID }

// ProfileWrite is the canonical body of POST and PUT /api/urprofiles.
type ProfileWrite struct {
	Name    string          `json:"name"`
	Profile ProfileSettings `json:"profile"`
}

// ProfileList is the body of GET /api/urprofiles.
type ProfileList struct {
	TotalCount  FlexInt   `json:"totalCount"`
	Disable     bool      `json:"disable"`
	Result      []Profile `json:"result"`
	ChannelPlan string    `json:"channelPlan"`
}

// ---- Devices (spec section 3) ----

// Device is one entry of GET /api/urdevices. The spec's example names two
// fields differently from its table (nwksKey, payloadCodeID); both are read.
type Device struct {
	DevEUI         string     `json:"devEUI"`
	Name           string     `json:"name"`
	ApplicationID  FlexString `json:"applicationID"`
	AppName        string     `json:"appName,omitempty"`
	Description    string     `json:"description"`
	ProfileID      string     `json:"profileID"`
	ProfileName    string     `json:"profileName,omitempty"`
	FCntUp         FlexInt    `json:"fCntUp"`
	FCntDown       FlexInt    `json:"fCntDown"`
	SkipFCntCheck  bool       `json:"skipFCntCheck"`
	AppKey         string     `json:"appKey"`
	DevAddr        string     `json:"devAddr"`
	AppSKey        string     `json:"appSKey"`
	NwkSKey        string     `json:"nwkSKey"`
	SupportsJoin   bool       `json:"supportsJoin"`
	Active         bool       `json:"active,omitempty"`
	LastSeenAt     string     `json:"lastSeenAt,omitempty"`
	MbMode         string     `json:"mbMode"`
	MbFramePort    FlexInt    `json:"mbFramePort"`
	MbTcpPort      FlexInt    `json:"mbTcpPort"`
	LastSeenAtTime string     `json:"lastSeenAtTime,omitempty"`
	FPort          FlexInt    `json:"fPort"`
	PayloadCodecID FlexString `json:"payloadCodecID"`
	PayloadName    string     `json:"payloadName,omitempty"`
}

// UnmarshalJSON reads the table's names and the example's (nwksKey,
// payloadCodeID); a non-empty table name wins.
func (d *Device) UnmarshalJSON(b []byte) error {
	var w deviceWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*d = w.device()
	return nil
}

// devicePlain is Device without its UnmarshalJSON.
type devicePlain Device

// deviceWire is a device as a list gives it, with the example's names
// besides the table's. A page of them decodes in one pass: a []Device
// would have each device scanned again by Device.UnmarshalJSON.
type deviceWire struct {
	devicePlain
	NwksKey       *string     `json:"nwksKey"`
	PayloadCodeID *FlexString `json:"payloadCodeID"`
}

// device is w as a Device: a non-empty table name wins.
func (w *deviceWire) device() Device {
	d := Device(w.devicePlain)
	if d.NwkSKey == "" && w.NwksKey != nil {
		d.NwkSKey = *w.NwksKey
	}
	if d.PayloadCodecID == "" && w.PayloadCodeID != nil {
		d.PayloadCodecID = *w.PayloadCodeID
	}
	return d
}

// deviceListWire is a DeviceList page whose devices decode as deviceWire.
type deviceListWire struct {
	DeviceList
	DeviceResult []deviceWire `json:"deviceResult"`
}

// plainString is the content of a JSON string of plain ASCII; ok is
// false when it holds an escape or another byte (or is not a string),
// which encoding/json has to read.
func plainString(b []byte) (string, bool) {
	in, ok := plainContent(b)
	if !ok {
		return "", false
	}
	return string(in), true
}

// plainContent is plainString's content as the bytes of b between the
// quotes.
func plainContent(b []byte) ([]byte, bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return nil, false
	}
	in := b[1 : len(b)-1]
	for _, c := range in {
		if c == '\\' || c == '"' || c < 0x20 || c >= 0x80 {
			return nil, false
		}
	}
	return in, true
}

// DeviceWrite is the canonical body of POST /api/urdevices and PUT
// /api/urdevices/{devEUI}: IDs as strings, ports and counters as numbers,
// as the spec's examples send them. Every field that can be cleared is sent
// with its empty value ("" or 0), as the 3.4 PUT example does: a field left
// out keeps its value on the gateway, so leaving it out could never clear
// it. Left out when empty: devEUI (the PUT names the device in its URL),
// name, profileID and fPort (a device always has them; "" and 0 are not
// values the gateway takes), and the frame counters (nil: not sent).
// The network session key is sent under both of the spec's spellings
// (nwkSKey of the tables, nwksKey of the 3.3 and 3.4 examples) with the
// same value, so that the gateway reads it whichever one it takes.
type DeviceWrite struct {
	DevEUI         string `json:"devEUI,omitempty"` // POST only
	Name           string `json:"name,omitempty"`
	Description    string `json:"description"`
	ApplicationID  string `json:"applicationID"`
	ProfileID      string `json:"profileID,omitempty"`
	PayloadCodecID string `json:"payloadCodecID"` // "0": no codec
	FPort          int64  `json:"fPort,omitempty"`
	SkipFCntCheck  bool   `json:"skipFCntCheck"`
	AppKey         string `json:"appKey"`
	DevAddr        string `json:"devAddr"`
	NwkSKey        string `json:"nwkSKey"` // also sent as nwksKey
	AppSKey        string `json:"appSKey"`
	FCntUp         *int64 `json:"fCntUp,omitempty"`
	FCntDown       *int64 `json:"fCntDown,omitempty"`
	MbMode         string `json:"mbMode"`
	MbFramePort    int64  `json:"mbFramePort"`
	MbTcpPort      int64  `json:"mbTcpPort"`
}

// MarshalJSON writes w with the network session key under both spellings.
func (w DeviceWrite) MarshalJSON() ([]byte, error) {
	type plain DeviceWrite
	return json.Marshal(struct {
		plain
		NwksKey string `json:"nwksKey"`
	}{plain(w), w.NwkSKey})
}

// Application is an entry of the device list's appResult.
type Application struct {
	ApplicationID FlexString `json:"applicationID"`
	AppName       string     `json:"appName"`
}

// ProfileRef is an entry of the device list's profileResult.
type ProfileRef struct {
	ProfileID    string `json:"profileID"`
	ProfileName  string `json:"profileName"`
	SupportsJoin bool   `json:"supportsJoin"`
}

// DeviceList is the body of GET /api/urdevices.
type DeviceList struct {
	DevTotalCount FlexInt       `json:"devTotalCount"`
	DeviceResult  []Device      `json:"deviceResult"`
	AppTotalCount FlexInt       `json:"appTotalCount"`
	AppResult     []Application `json:"appResult"`
	PfTotalCount  FlexInt       `json:"pfTotalCount"`
	ProfileResult []ProfileRef  `json:"profileResult"`
	ChannelPlan   string        `json:"channelPlan"`
	Disable       bool          `json:"disable"`
}

// ---- Multicast groups (spec section 4) ----

// MulticastGroup is the writable part of a multicast group: the body of POST
// and PUT /api/multicast-groups inside {"multicastGroup": …}.
type MulticastGroup struct {
	Name           string  `json:"name"`
	McAddr         string  `json:"mcAddr"`
	McNwkSKey      string  `json:"mcNwkSKey"`
	McAppSKey      string  `json:"mcAppSKey"`
	FCnt           FlexInt `json:"fCnt"`
	GroupType      string  `json:"groupType"`
	DR             FlexInt `json:"dr"`
	Frequency      FlexInt `json:"frequency"`
	PingSlotPeriod FlexInt `json:"pingSlotPeriod"`
}

// GroupMember is an entry of a group's "devices" in the group list.
type GroupMember struct {
	DevEUI              string     `json:"devEUI"`
	Name                string     `json:"name"`
	ApplicationID       FlexString `json:"applicationID"`
	Description         string     `json:"description"`
	DeviceProfileID     string     `json:"deviceProfileID"`
	DeviceProfileName   string     `json:"deviceProfileName"`
	DeviceStatusBattery FlexInt    `json:"deviceStatusBattery"`
	DeviceStatusMargin  FlexInt    `json:"deviceStatusMargin"`
	LastSeenAt          string     `json:"lastSeenAt"`
}

// MulticastGroupInfo is one entry of GET /api/multicast-groups.
type MulticastGroupInfo struct {
	ID string `json:"id"`
	MulticastGroup
	CreatedAt string        `json:"createdAt,omitempty"` // server-owned
	UpdatedAt string        `json:"updatedAt,omitempty"` // server-owned
	Devices   []GroupMember `json:"devices"`
}

// MulticastGroupList is the body of GET /api/multicast-groups.
type MulticastGroupList struct {
	TotalCount FlexInt              `json:"totalCount"`
	Result     []MulticastGroupInfo `json:"result"`
}

// ---- Payload codecs (spec section 5) ----

// Codec is a payload codec as listed by GET /api/payloadcodecs, and (without
// id and devEUIPrefix) the body of POST and PUT.
type Codec struct {
	ID            FlexString `json:"id,omitempty"`
	Name          string     `json:"name"`
	Description   string     `json:"description"`
	TemplateID    FlexInt    `json:"templateID"`
	DevEUIPrefix  string     `json:"devEUIPrefix,omitempty"`
	EncoderScript string     `json:"encoderScript"`
	DecoderScript string     `json:"decoderScript"`
	TestEnabled   bool       `json:"testEnabled"`
	FPort         FlexInt    `json:"fPort"`
	CodecJSON     string     `json:"codecJson"`
	// ClearCodecJSON makes Write send an empty CodecJSON, which is
	// otherwise not sent (see CodecWrite): a rollback restoring a
	// codecJson known to have been empty.
	ClearCodecJSON bool `json:"-"`
}

// CodecWrite is the canonical body of POST and PUT /api/payloadcodecs.
type CodecWrite struct {
	Name          string `json:"name"`
	Description   string `json:"description"`
	TemplateID    int64  `json:"templateID"`
	EncoderScript string `json:"encoderScript"`
	DecoderScript string `json:"decoderScript"`
	TestEnabled   bool   `json:"testEnabled"`
	FPort         int64  `json:"fPort"`
	// CodecJSON is write-only (no read returns it, spec 5.3): an empty one
	// is not sent, so that a codecJson the site does not declare is kept
	// as it is on the gateway, never wiped; unless ClearCodecJSON.
	CodecJSON      string `json:"codecJson,omitempty"`
	ClearCodecJSON bool   `json:"-"`
}

// MarshalJSON sends codecJson when it is set, or when ClearCodecJSON asks
// for an empty one.
func (w CodecWrite) MarshalJSON() ([]byte, error) {
	type plain CodecWrite
	if w.CodecJSON == "" && w.ClearCodecJSON {
		return json.Marshal(struct {
			plain
			CodecJSON string `json:"codecJson"`
		}{plain(w), ""})
	}
	return json.Marshal(plain(w))
}

// CodecShort is an entry of GET /api/payloadcodecs-short.
type CodecShort struct {
	ID   FlexString `json:"id"`
	Name string     `json:"name"`
}

// CodecList is the body of GET /api/payloadcodecs.
type CodecList struct {
	TotalCount FlexInt `json:"totalCount"`
	Result     []Codec `json:"result"`
}

// CodecShortList is the body of GET /api/payloadcodecs-short.
type CodecShortList struct {
	TotalCount FlexInt      `json:"totalCount"`
	Result     []CodecShort `json:"result"`
}

// Codec list types (the "type" query parameter).
const (
	CodecTypeCustom  = "custom"
	CodecTypeDefault = "default"
)

// ---- FUOTA (spec section 6) ----

// FirmwareInfo is a task's local firmware.
type FirmwareInfo struct {
	FirmwareName           string `json:"firmwareName"`
	Description            string `json:"description,omitempty"`
	FileContent            string `json:"fileContent"` // base64
	OfficialFirmwareURL    string `json:"officialFirmwareUrl,omitempty"`
	ProductModel           string `json:"productModel,omitempty"`           // read only
	FirmwareVersion        string `json:"firmwareVersion,omitempty"`        // read only
	SupportHardwareVersion string `json:"supportHardwareVersion,omitempty"` // read only
	SupportFirmwareVersion string `json:"supportFirmwareVersion,omitempty"` // read only
}

// OfficialFirmware is an entry of GET /api/fuota/official/firmware and a
// task's officialFirmwareInfo.
type OfficialFirmware struct {
	ID                        FlexString `json:"id"`
	Model                     string     `json:"model"`
	Name                      string     `json:"name"`
	FirmwareVersion           string     `json:"firmwareVersion"`
	HardwareVersion           string     `json:"hardwareVersion"`
	SupportMinHardwareVersion string     `json:"supportMinHardwareVersion"`
	SupportMinFirmwareVersion string     `json:"supportMinFirmwareVersion"`
	URL                       string     `json:"url"`
	MD5                       string     `json:"md5"`
	CRC32                     string     `json:"crc32"`
	Size                      FlexString `json:"size"`
	FrequencyBands            []string   `json:"frequencyBands"`
	FirmwareNotesCn           string     `json:"firmwareNotesCn"`
	FirmwareNotesEn           string     `json:"firmwareNotesEn"`
}

// FragmentInfo is a task's fragmentation settings.
type FragmentInfo struct {
	FragmentSize       FlexInt `json:"fragmentSize"`
	FragmentInterval   FlexInt `json:"fragmentInterval"`
	FragmentRedundancy FlexInt `json:"fragmentRedundancy"`
}

// TmpMcInfo is a task's temporary multicast session.
type TmpMcInfo struct {
	SessionTimeDelay FlexInt `json:"sessionTimeDelay,omitempty"` // read only
	SessionTimeOut   FlexInt `json:"sessionTimeOut,omitempty"`   // read only
	Status           FlexInt `json:"status,omitempty"`           // read only
	GroupType        FlexInt `json:"groupType"`
	DR               FlexInt `json:"dr"`
	Frequency        FlexInt `json:"frequency"`
}

// FuotaTask is one entry of GET /api/fuota/task, and the body of POST and
// PUT inside {"fuotaTask": …}. Read-only fields are left out when zero.
type FuotaTask struct {
	ID                   FlexInt           `json:"id,omitempty"`
	Name                 string            `json:"name"`
	Description          string            `json:"description"`
	Status               FlexInt           `json:"status,omitempty"`    // server-owned
	StartedAt            string            `json:"startedAt"`           // RFC 3339
	StoppedAt            string            `json:"stoppedAt,omitempty"` // server-owned
	CreatedAt            string            `json:"createdAt,omitempty"` // server-owned
	UpdatedAt            string            `json:"updatedAt,omitempty"` // server-owned
	FirmwareName         string            `json:"firmwareName,omitempty"`
	DoneDevices          FlexInt           `json:"doneDevices,omitempty"`  // server-owned
	TotalDevices         FlexInt           `json:"totalDevices,omitempty"` // server-owned
	DevEUIs              []string          `json:"deveui"`
	FirmwareInfo         *FirmwareInfo     `json:"firmwareInfo,omitempty"`
	FragmentInfo         FragmentInfo      `json:"fragmentInfo"`
	TmpMcInfo            TmpMcInfo         `json:"tmpMcInfo"`
	IsOfficialFirmware   bool              `json:"isOfficialFirmware"`
	OfficialFirmwareInfo *OfficialFirmware `json:"officialFirmwareInfo,omitempty"`
}

// UnmarshalJSON also reads the table's misspelling officialFirmwarInfo.
func (t *FuotaTask) UnmarshalJSON(b []byte) error {
	type plain FuotaTask
	var aux struct {
		plain
		Misspelt *OfficialFirmware `json:"officialFirmwarInfo"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*t = FuotaTask(aux.plain)
	if t.OfficialFirmwareInfo == nil && aux.Misspelt != nil {
		t.OfficialFirmwareInfo = aux.Misspelt
	}
	return nil
}

// FUOTA task statuses (6.2).
const (
	TaskPending   = 0
	TaskWaiting   = 1
	TaskExecuting = 2
	TaskSucceeded = 3
	TaskFailed    = 4
)

// FuotaTaskList is the body of GET /api/fuota/task.
type FuotaTaskList struct {
	Total FlexInt     `json:"total"`
	Tasks []FuotaTask `json:"tasks"`
}

// FuotaDevice is an entry of GET /api/fuota/devices and POST
// /api/fuota/devices/firmware.
type FuotaDevice struct {
	DevEUI                 string  `json:"devEui"`
	Name                   string  `json:"name"`
	ProfileID              string  `json:"profileId"`
	ProfileName            string  `json:"profileName"`
	HardwareVersion        string  `json:"hardwareVersion"`
	FirmwareVersion        string  `json:"firmwareVersion"`
	FragmentSessionStatus  FlexInt `json:"fragmentSessionStatus"`
	MulticastSessionStatus FlexInt `json:"multicastSessionStatus"`
	Status                 FlexInt `json:"status"`
	ProductModel           string  `json:"productModel"`
	TaskID                 FlexInt `json:"taskId"`
}

// FuotaDeviceList is the body of the FUOTA device lists.
type FuotaDeviceList struct {
	Total   FlexInt       `json:"total"`
	Devices []FuotaDevice `json:"devices"`
}

// FirmwareDevicesQuery is the body of POST /api/fuota/devices/firmware.
type FirmwareDevicesQuery struct {
	FirmwareName         string            `json:"firmwareName,omitempty"`
	FileContent          string            `json:"fileContent,omitempty"`
	OfficialFirmwareInfo *OfficialFirmware `json:"officialFirmwareInfo,omitempty"`
	TaskID               int64             `json:"taskId"`
	Search               string            `json:"search"`
	Limit                int               `json:"limit"`
	Offset               int               `json:"offset"`
}

// PayloadSize is an entry of GET /api/fuota/task/payloadsize.
type PayloadSize struct {
	DR             FlexInt `json:"dr"`
	MaxPayloadSize FlexInt `json:"maxPayloadSize"`
}

// PayloadSizeList is the body of GET /api/fuota/task/payloadsize.
type PayloadSizeList struct {
	MaxPayloadSizeMap []PayloadSize `json:"maxPayloadSizeMap"`
}

// OfficialModels is the body of GET /api/fuota/official/models.
type OfficialModels struct {
	Models []string `json:"models"`
}

// OfficialFirmwareList is the body of GET /api/fuota/official/firmware.
type OfficialFirmwareList struct {
	Total FlexInt            `json:"total"`
	Data  []OfficialFirmware `json:"data"`
}

// IDList is the body of the FUOTA delete and retry calls.
type IDList struct {
	IDs []int64 `json:"ids"`
}

// DevEUIList is the body of the multicast membership calls.
type DevEUIList struct {
	DevEUIs []string `json:"devEUIs"`
}

// ---- Live state ----

// State is everything gwsync reads from a gateway for a plan: the snapshot
// that `gwsync snapshot` writes and `plan --state` reads. Slices are sorted
// by identity (profile name, devEUI, group name, codec name, task name) so
// the same gateway gives the same bytes.
type State struct {
	FormatVersion int                  `json:"format_version"`
	GatewayEUI    string               `json:"gatewayEUI,omitempty"`
	ChannelPlan   string               `json:"channelPlan"`
	Applications  []Application        `json:"applications"`
	Profiles      []Profile            `json:"profiles"`
	Devices       []Device             `json:"devices"`
	Codecs        []Codec              `json:"codecs"`        // custom
	BuiltinCodecs []CodecShort         `json:"builtinCodecs"` // type=default, read only
	Groups        []MulticastGroupInfo `json:"multicastGroups"`
	Tasks         []FuotaTask          `json:"fuotaTasks"`
	// NoFuota is set when the gateway answered the FUOTA task list with
	// code 21, "type or url not supported": a firmware from before FUOTA
	// support (such as 60.0.0.45). It holds no tasks and takes none.
	NoFuota bool `json:"noFuota,omitempty"`
	// Records are gwsync's own records on the gateway: the custom codecs
	// with a reserved name (package reserved), taken out of Codecs by
	// ReadState so that nothing treats them as the user's resources. They
	// are not part of the Fingerprint.
	Records []Codec `json:"gwsyncRecords,omitempty"`
}

// SplitRecords moves the codecs with a reserved name from Codecs to
// Records.
func (s *State) SplitRecords() {
	kept := s.Codecs[:0:0]
	for _, c := range s.Codecs {
		if reserved.Codec(c.Name) {
			s.Records = append(s.Records, c)
			continue
		}
		kept = append(kept, c)
	}
	s.Codecs = kept
}

// StateFormatVersion is the current State.FormatVersion.
const StateFormatVersion = 1

// ---- From what is read to what is written ----

// Write returns the canonical create/update body for p.
func (p *Profile) Write() ProfileWrite {
	s := p.Profile
	s.ProfileID, s.MaxDutyCycle, s.RfRegion = "", 0, ""
	if s.FactoryPresetFreqs == nil {
		s.FactoryPresetFreqs = []int64{}
	}
	if s.EnableUplinkChannels == nil {
		s.EnableUplinkChannels = []int64{}
	}
	return ProfileWrite{Name: p.Name, Profile: s}
}

// Write returns the canonical create body for d (PUT leaves DevEUI out).
// Frame counters are sent only for ABP devices, where the spec allows them.
func (d *Device) Write() DeviceWrite {
	w := DeviceWrite{
		DevEUI:         d.DevEUI,
		Name:           d.Name,
		Description:    d.Description,
		ApplicationID:  string(d.ApplicationID),
		ProfileID:      d.ProfileID,
		PayloadCodecID: string(d.PayloadCodecID),
		FPort:          int64(d.FPort),
		SkipFCntCheck:  d.SkipFCntCheck,
		AppKey:         d.AppKey,
		DevAddr:        d.DevAddr,
		NwkSKey:        d.NwkSKey,
		AppSKey:        d.AppSKey,
		MbMode:         d.MbMode,
		MbFramePort:    int64(d.MbFramePort),
		MbTcpPort:      int64(d.MbTcpPort),
	}
	if w.PayloadCodecID == "" {
		w.PayloadCodecID = "0" // the gateway's "none": an empty field could not remove a codec
	}
	if !d.SupportsJoin {
		up, down := int64(d.FCntUp), int64(d.FCntDown)
		w.FCntUp, w.FCntDown = &up, &down
	}
	return w
}

// Write returns the canonical create/update body for c.
func (c *Codec) Write() CodecWrite {
	return CodecWrite{
		Name:           c.Name,
		Description:    c.Description,
		TemplateID:     int64(c.TemplateID),
		EncoderScript:  c.EncoderScript,
		DecoderScript:  c.DecoderScript,
		TestEnabled:    c.TestEnabled,
		FPort:          int64(c.FPort),
		CodecJSON:      c.CodecJSON,
		ClearCodecJSON: c.ClearCodecJSON,
	}
}

// Write returns the canonical create body for t: server-owned fields
// cleared, and the read-only firmware fields left out.
func (t *FuotaTask) Write() FuotaTask {
	w := FuotaTask{
		ID:                 t.ID,
		Name:               t.Name,
		Description:        t.Description,
		StartedAt:          t.StartedAt,
		DevEUIs:            append([]string{}, t.DevEUIs...),
		FragmentInfo:       t.FragmentInfo,
		TmpMcInfo:          TmpMcInfo{GroupType: t.TmpMcInfo.GroupType, DR: t.TmpMcInfo.DR, Frequency: t.TmpMcInfo.Frequency},
		IsOfficialFirmware: t.IsOfficialFirmware,
	}
	if t.FirmwareInfo != nil {
		w.FirmwareInfo = &FirmwareInfo{
			FirmwareName:        t.FirmwareInfo.FirmwareName,
			Description:         t.FirmwareInfo.Description,
			FileContent:         t.FirmwareInfo.FileContent,
			OfficialFirmwareURL: t.FirmwareInfo.OfficialFirmwareURL,
		}
	}
	if t.OfficialFirmwareInfo != nil {
		o := *t.OfficialFirmwareInfo
		w.OfficialFirmwareInfo = &o
	}
	return w
}
