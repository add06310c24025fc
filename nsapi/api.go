package nsapi

import (
	"context"
	"time"
)

// API is the typed ns-api: a call for every endpoint of spec sections 2–6.
// *Client implements it. List calls page through (Config.PageSize per page)
// until the reported total and return every item.
type API interface {
	// Profiles (2).
	ListProfiles(ctx context.Context) (*ProfileList, error)
	CreateProfile(ctx context.Context, p ProfileWrite) (profileID string, err error)
	UpdateProfile(ctx context.Context, profileID string, p ProfileWrite) error
	DeleteProfile(ctx context.Context, profileID string) error

	// Devices (3). ListDevices merges every page's deviceResult; the other
	// lists (appResult, profileResult) come from the first page.
	ListDevices(ctx context.Context, q DeviceQuery) (*DeviceList, error)
	// GetDevice finds one device by EUI (search=<devEUI>); a missing device
	// is a *RemoteError with CodeNotFound.
	GetDevice(ctx context.Context, devEUI string) (*Device, error)
	CreateDevice(ctx context.Context, d DeviceWrite) error
	UpdateDevice(ctx context.Context, devEUI string, d DeviceWrite) error
	DeleteDevice(ctx context.Context, devEUI string) error

	// Multicast groups (4).
	ListGroups(ctx context.Context, search string) ([]MulticastGroupInfo, error)
	CreateGroup(ctx context.Context, g MulticastGroup) (id string, err error)
	UpdateGroup(ctx context.Context, id string, g MulticastGroup) error
	DeleteGroup(ctx context.Context, id string) error
	AddGroupDevices(ctx context.Context, id string, devEUIs []string) error
	RemoveGroupDevices(ctx context.Context, id string, devEUIs []string) error

	// Payload codecs (5). typ is CodecTypeCustom or CodecTypeDefault.
	ListCodecs(ctx context.Context, typ, search string) ([]Codec, error)
	ListCodecsShort(ctx context.Context, typ, search string) ([]CodecShort, error)
	CreateCodec(ctx context.Context, c CodecWrite) (id string, err error)
	UpdateCodec(ctx context.Context, id string, c CodecWrite) error
	DeleteCodec(ctx context.Context, id string) error

	// FUOTA (6).
	CreateTask(ctx context.Context, t FuotaTask) (id int64, err error)
	ListTasks(ctx context.Context, search string) ([]FuotaTask, error)
	UpdateTask(ctx context.Context, t FuotaTask) error // t.ID names the task
	DeleteTasks(ctx context.Context, ids []int64) error
	RetryTasks(ctx context.Context, ids []int64) error
	PayloadSizes(ctx context.Context) ([]PayloadSize, error)
	TaskDevices(ctx context.Context, taskID int64, search string) ([]FuotaDevice, error)
	FirmwareDevices(ctx context.Context, q FirmwareDevicesQuery) ([]FuotaDevice, error)
	OfficialModels(ctx context.Context, dataCenter string) ([]string, error)
	OfficialFirmware(ctx context.Context, model, search string) ([]OfficialFirmware, error)

	// ReadState reads everything a plan needs with paged list calls per
	// kind (never one call per device), sorted by identity.
	ReadState(ctx context.Context) (*State, error)
}

// DeviceQuery filters GET /api/urdevices.
type DeviceQuery struct {
	Search        string
	ApplicationID string // "" or "0": every application
}

// Config configures a Client.
type Config struct {
	// Broker is tcp://, ssl://, ws:// or wss:// host:port (Dial only).
	Broker   string
	Username string
	Password string
	ClientID string // "" picks a random one
	// TLS (ssl:// and wss://).
	CAFile             string
	CertFile           string
	KeyFile            string
	InsecureSkipVerify bool

	RequestTopic  string
	ResponseTopic string
	// GatewayEUI is sent in every request and, when set, responses from
	// other gateways are ignored.
	GatewayEUI string

	ConnectTimeout time.Duration // default 10s
	RequestTimeout time.Duration // default 10s; the unknown-outcome limit
	Window         int           // requests in flight at once, default 4
	PageSize       int           // list page size, default 500

	// Logf, when set, receives debug lines (never a secret).
	Logf func(format string, args ...any)
}
