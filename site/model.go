package site

// This file is the site model: what a site file declares once it is loaded,
// merged, defaulted from deviceDefaults and resolved (secrets, script and
// firmware files). Pointer fields are "left out": the planner fills them with
// the spec's default for the gateway's channel plan.

// Pos is where a value stands in a site file (1-based line and column).
type Pos struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
}

// Site is a loaded site: one file, or a directory of files merged into one.
type Site struct {
	Version         int
	Files           []string // every file read, in the order read
	Gateway         Gateway
	Connection      Connection
	Prune           Prune
	Profiles        []Profile
	Codecs          []Codec
	Devices         []Device
	MulticastGroups []MulticastGroup
	FirmwareUpdates []FirmwareUpdate
	// External lists the references the site does not resolve itself
	// (applications, profiles and codecs it does not declare), once per
	// kind and name, at their first use: the gateway must hold them.
	External []Ref

	digest string // of the bytes Load read (Digest)
}

// Ref is a reference by name that the site does not resolve itself.
type Ref struct {
	Kind string // "application", "profile" or "codec"
	Name string
	Pos  Pos    // the first use
	Path string // the first use's field path, e.g. devices[2].profile
}

// Gateway is the site's `gateway:` block.
type Gateway struct {
	EUI         string // upper case; "" when not given
	ChannelPlan string // "" when not given
	Pos         Pos    // where the channelPlan value stands; zero when not given
	EUIPos      Pos    // where the eui value stands; zero when not given
	// DwellTime is whether the gateway keeps the 400 ms dwell-time limit
	// (AS923 only); nil means on, the conservative reading (band.Plan.Dwell).
	DwellTime    *bool
	DwellTimePos Pos
}

// Connection is the site's `connection:` block; flags and GWSYNC_* variables
// override it in the CLI.
type Connection struct {
	Broker             string
	RequestTopic       string // may contain {eui}
	ResponseTopic      string
	Username           string
	Password           Secret
	ClientID           string
	CAFile             string // resolved relative to the site file
	CertFile           string
	KeyFile            string
	InsecureSkipVerify bool
}

// Prune says, per kind, whether what the gateway holds and the site does not
// is deleted. `prune: true` sets every kind.
type Prune struct {
	Pos             Pos // where the prune value stands; zero when not given
	Profiles        bool
	Devices         bool
	Codecs          bool
	MulticastGroups bool
	FirmwareUpdates bool
}

// Profile is a device profile (spec 2.1). Identity: Name.
type Profile struct {
	Pos                  Pos
	Name                 string
	RenamedFrom          string
	SupportsJoin         *bool
	SupportsClassB       *bool
	SupportsClassC       *bool
	MacVersion           *string
	RegParamsRevision    *string
	RxDROffset1          *int64
	RxDataRate2          *int64
	RxFreq2              *int64
	FactoryPresetFreqs   []int64
	EnableUplinkChannels []int64
	MaxEIRP              *int64
	Supports32bitFCnt    *bool
	PingSlotPeriod       *int64
	PingSlotDR           *int64
	PingSlotFreq         *int64
	ClassBTimeout        *int64
	ClassCTimeout        *int64
}

// Codec is a custom payload codec (spec 5.1). Identity: Name. Scripts given
// as files are read at load time.
type Codec struct {
	Pos           Pos
	Name          string
	RenamedFrom   string
	Description   string
	TemplateID    int64
	EncoderScript string
	DecoderScript string
	TestEnabled   bool
	FPort         int64
	CodecJSON     string
}

// Device is an end device (spec 3.1). Identity: DevEUI (upper case).
// Application, Profile and Codec are references by name (or id).
type Device struct {
	Pos           Pos
	DevEUI        string
	Name          string // "" means the gateway's default, the DevEUI
	Description   *string
	Application   string
	Profile       string // "" means ClassA-OTAA
	Codec         string // "" means none
	FPort         *int64
	SkipFCntCheck *bool
	AppKey        Secret
	DevAddr       string // upper case
	NwkSKey       Secret
	AppSKey       Secret
	FCntUp        *int64
	FCntDown      *int64
	MbMode        string
	MbFramePort   *int64
	MbTcpPort     *int64
	// Fields is where each field given for the device stands, by field
	// name ("profile", "appKey", ...): in its YAML mapping, its CSV row, or
	// deviceDefaults when the value came from there. Left-out fields are
	// not in it.
	Fields map[string]FieldPos
}

// FieldPos is where a field's value stands, and the field's path as
// messages name it (devices[2].profile, deviceDefaults.codec, or the
// column name for a CSV row, whose file and line name the device).
type FieldPos struct {
	Pos  Pos
	Path string
}

// At is where the device's field stands and its path, and whether the
// field is given.
func (d *Device) At(field string) (FieldPos, bool) {
	f, ok := d.Fields[field]
	return f, ok
}

// MulticastGroup is a multicast group and its whole membership (spec 4.1).
// Identity: Name. Devices are DevEUIs, upper case.
type MulticastGroup struct {
	Pos            Pos
	Name           string
	RenamedFrom    string
	McAddr         string // upper case; "" means the gateway default
	McNwkSKey      Secret
	McAppSKey      Secret
	FCnt           *int64
	GroupType      string // CLASS_B or CLASS_C; "" means CLASS_C
	DR             *int64
	Frequency      *int64
	PingSlotPeriod *int64
	Devices        []string
}

// FirmwareUpdate is a FUOTA task (spec 6.1). Identity: Name. Exactly one of
// FirmwareFile and Official is set.
type FirmwareUpdate struct {
	Pos          Pos
	Name         string
	RenamedFrom  string
	Description  string
	StartAt      string   // RFC 3339, normalised at load to WireTime (UTC, whole seconds)
	Devices      []string // DevEUIs, upper case
	FirmwareFile string   // resolved path; its content is read at plan time
	FirmwareName string   // defaults to the file's base name
	Official     *OfficialFirmwareRef
	Fragment     Fragment
	Multicast    Multicast
}

// OfficialFirmwareRef names an official firmware (spec 6.10).
type OfficialFirmwareRef struct {
	Model   string
	Version string
	ID      string // optional: the firmware id, when the version is ambiguous
}

// Fragment is a FUOTA task's fragmentation settings.
type Fragment struct {
	Size       int64
	IntervalMs int64
	Redundancy int64
}

// Multicast is a FUOTA task's temporary multicast session (class C).
type Multicast struct {
	DR        *int64
	Frequency *int64
}

// Secret is a key or password: its value, and the reference it came from.
// It never prints its value: fmt, JSON and YAML all show "(sensitive value)".
type Secret struct {
	Value string
	Ref   string // "${env:NAME}" or "${file:PATH}"; "" when written in clear
	Pos   Pos
	// Unset marks a reference that could not be resolved in an offline
	// load (Options.Offline): Value is "" and a warning says so.
	Unset bool
}

// Masked is what every output shows in place of a secret.
const Masked = "(sensitive value)"

// IsSet reports whether the secret has a value.
func (s Secret) IsSet() bool { return s.Value != "" }

// String masks the value.
func (s Secret) String() string { return Masked }

// GoString masks the value for %#v.
func (s Secret) GoString() string { return Masked }

// MarshalJSON masks the value.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Masked + `"`), nil }

// MarshalText masks the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(Masked), nil }

// DwellTimeOn reports whether the 400 ms dwell-time limit applies where the
// channel plan has one (AS923): unless the site says dwellTime: false.
// Gateways in AS923 countries are commonly bound by it, and the limited
// table is the one that never sends a fragment the air cannot carry.
func (g Gateway) DwellTimeOn() bool { return g.DwellTime == nil || *g.DwellTime }

// HasBandValues says whether the site sets a value whose range depends on
// the channel plan: a profile's RX2 or ping-slot frequency or data rate, a
// multicast group's frequency or data rate, or any FUOTA task (fragment
// sizes). Fields left out take the plan's defaults, which are in range, so
// a site without such values needs no check against a channel plan.
func (s *Site) HasBandValues() bool {
	for _, p := range s.Profiles {
		if p.RxFreq2 != nil || p.RxDataRate2 != nil || p.PingSlotFreq != nil || p.PingSlotDR != nil {
			return true
		}
	}
	for _, g := range s.MulticastGroups {
		if g.Frequency != nil || g.DR != nil {
			return true
		}
	}
	return len(s.FirmwareUpdates) > 0
}
