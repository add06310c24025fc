package nsapi

// Defaults the spec's parameter tables give for fields a request leaves out,
// beyond the channel plan's RX2 and ping-slot defaults (package band). The
// planner fills them in for fields a site leaves out, so that a site means
// what the gateway will hold; export leaves out exactly these values.
const (
	DefaultProfile           = "ClassA-OTAA" // a device's profile (3.1)
	DefaultMacVersion        = "1.0.2"       // 2.1
	DefaultRegParamsRevision = "B"           // 2.1
	DefaultClassTimeout      = 10            // classBTimeout, classCTimeout (2.1)
	DefaultPingSlotPeriod    = 128           // 2.1, 4.1
	DefaultFPort             = 1             // a device's fPort (3.1)
	DefaultMcAddr            = "11111111"    // 4.1
	DefaultGroupType         = "CLASS_C"     // 4.1
	// DefaultSupports32bitFCnt: every profile example of the spec (2.1,
	// 2.3, 2.4) carries true, and the table gives no other default.
	DefaultSupports32bitFCnt = true
	// DefaultKey is the spec's published default key (appKey, session keys,
	// multicast keys). It is public: a site that relies on it is insecure.
	DefaultKey = "5572404c696e6b4c6f52613230313823"
)
