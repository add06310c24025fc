// Package band holds the channel-plan facts gwsync validates against: the
// spec appendix's RX2 and ping-slot defaults and ranges, the data rates each
// plan offers, and the LoRaWAN maximum application payload per data rate.
// It is pure data; it does no I/O.
package band

import (
	"fmt"
	"sort"
	"strings"
)

// Plan is one channel plan.
type Plan struct {
	Name string
	// Default RX2 frequency (Hz) and data rate; ping-slot defaults.
	RX2Freq      int64
	RX2DR        int64
	PingSlotFreq int64
	PingSlotDR   int64
	// MinFreq and MaxFreq bound RX2, ping-slot, multicast and FUOTA
	// downlink frequencies (Hz, inclusive).
	MinFreq int64
	MaxFreq int64
	// DataRates lists the data rates the plan offers, ascending.
	DataRates []int64
	// MaxPayload is the maximum application payload N per data rate
	// (Regional Parameters 1.0.2rB, no dwell-time limit).
	MaxPayload map[int64]int64
	// DwellMaxPayload is N per data rate under the 400 ms dwell-time limit
	// (AS923 with DownlinkDwellTime = 1), nil where the plan has no such
	// limit. Data rates missing from it carry no payload under the limit.
	DwellMaxPayload map[int64]int64
	// DwellTime says that MaxPayload is the dwell-time table (Dwell).
	DwellTime bool
	// DutyBands are the plan's sub-bands with the share of time a
	// transmitter may be on air in each, where the regulation the plan
	// follows states one (DutyCycleAt). nil where it states none for
	// generic devices.
	DutyBands []DutyBand
}

// DutyBand is a sub-band [MinFreq, MaxFreq] (Hz, inclusive) with its duty
// cycle (0.01 for 1 %) and where that limit is stated.
type DutyBand struct {
	MinFreq, MaxFreq int64
	DutyCycle        float64
	Source           string
}

// DutyCycleAt is the duty-cycle limit of the sub-band holding freq, and
// false when the plan states none there (a plan without sub-bands, or a
// frequency between them).
func (p *Plan) DutyCycleAt(freq int64) (DutyBand, bool) {
	for _, b := range p.DutyBands {
		if freq >= b.MinFreq && freq <= b.MaxFreq {
			return b, true
		}
	}
	return DutyBand{}, false
}

// etsi is the source of EU868's sub-bands. REGIONS.md states no duty
// cycle; LoRaWAN's Regional Parameters (EU863-870) defer to ETSI EN 300
// 220, whose part 2 (V3.2.1, 2018-04) gives, for non-specific short range
// devices without listen-before-talk, the bands below.
const etsi = "ETSI EN 300 220-2 V3.2.1, band "

var eu868Duty = []DutyBand{
	{863000000, 865000000, 0.001, etsi + "K, 863-865 MHz"},
	{865000000, 868000000, 0.01, etsi + "L, 865-868 MHz"},
	{868000000, 868600000, 0.01, etsi + "M, 868.0-868.6 MHz"},
	{868700000, 869200000, 0.001, etsi + "N, 868.7-869.2 MHz"},
	{869400000, 869650000, 0.1, etsi + "P, 869.4-869.65 MHz"},
	{869700000, 870000000, 0.01, etsi + "Q, 869.7-870.0 MHz"},
}

// HasDwellTime reports whether the plan knows a dwell-time limit (AS923).
func (p *Plan) HasDwellTime() bool { return p.DwellMaxPayload != nil }

// Dwell returns the plan with the 400 ms dwell-time limit on or off. For a
// plan with a limit (AS923) and on, MaxPayload is the limited table: DR0
// and DR1 carry nothing, DR2 11, DR3 53, DR4 125, DR5-7 242 bytes
// (Regional Parameters 1.0.2rB, AS923, DownlinkDwellTime = 1). Other plans
// come back unchanged.
func (p *Plan) Dwell(on bool) *Plan {
	if p.DwellMaxPayload == nil || p.DwellTime == on {
		return p
	}
	q := *p
	q.DwellTime = on
	if on {
		q.MaxPayload = p.DwellMaxPayload
	} else {
		q.MaxPayload = plans[p.Name].MaxPayload
	}
	return &q
}

// FragmentHeader is what a FUOTA fragment carries beyond its data: a
// fragment must fit MaxPayload − FragmentHeader.
const FragmentHeader = 5

func payload(pairs ...int64) map[int64]int64 {
	m := make(map[int64]int64, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		m[pairs[i]] = pairs[i+1]
	}
	return m
}

var plans = map[string]*Plan{
	"CN470": {Name: "CN470", RX2Freq: 505300000, RX2DR: 0, PingSlotFreq: 508300000, PingSlotDR: 2,
		MinFreq: 470400000, MaxFreq: 509700000, DataRates: []int64{0, 1, 2, 3, 4, 5, 6},
		MaxPayload: payload(0, 51, 1, 51, 2, 51, 3, 115, 4, 242, 5, 242, 6, 242)},
	"EU868": {Name: "EU868", RX2Freq: 869525000, RX2DR: 0, PingSlotFreq: 869525000, PingSlotDR: 3,
		MinFreq: 863000000, MaxFreq: 870000000, DataRates: []int64{0, 1, 2, 3, 4, 5, 6},
		MaxPayload: payload(0, 51, 1, 51, 2, 51, 3, 115, 4, 242, 5, 242, 6, 242, 7, 242),
		DutyBands:  eu868Duty},
	"IN865": {Name: "IN865", RX2Freq: 866550000, RX2DR: 2, PingSlotFreq: 866550000, PingSlotDR: 4,
		MinFreq: 863000000, MaxFreq: 870000000, DataRates: []int64{0, 1, 2, 3, 4, 5},
		MaxPayload: payload(0, 51, 1, 51, 2, 51, 3, 115, 4, 242, 5, 242, 7, 242)},
	"RU864": {Name: "RU864", RX2Freq: 869100000, RX2DR: 0, PingSlotFreq: 868900000, PingSlotDR: 3,
		MinFreq: 864000000, MaxFreq: 870000000, DataRates: []int64{0, 1, 2, 3, 4, 5, 6},
		MaxPayload: payload(0, 51, 1, 51, 2, 51, 3, 115, 4, 242, 5, 242, 6, 242, 7, 242)},
	"KR920": {Name: "KR920", RX2Freq: 921900000, RX2DR: 0, PingSlotFreq: 923100000, PingSlotDR: 3,
		MinFreq: 920900000, MaxFreq: 923300000, DataRates: []int64{0, 1, 2, 3, 4, 5},
		MaxPayload: payload(0, 51, 1, 51, 2, 51, 3, 115, 4, 242, 5, 242)},
	"US915": {Name: "US915", RX2Freq: 923300000, RX2DR: 8, PingSlotFreq: 923300000, PingSlotDR: 8,
		MinFreq: 923300000, MaxFreq: 927500000, DataRates: []int64{0, 1, 2, 3, 4, 8, 9, 10, 11, 12, 13},
		MaxPayload: payload(0, 11, 1, 53, 2, 125, 3, 242, 4, 242, 8, 53, 9, 129, 10, 242, 11, 242, 12, 242, 13, 242)},
	"AU915": {Name: "AU915", RX2Freq: 923300000, RX2DR: 8, PingSlotFreq: 923300000, PingSlotDR: 8,
		MinFreq: 923300000, MaxFreq: 927500000, DataRates: []int64{0, 1, 2, 3, 4, 8, 9, 10, 11, 12, 13},
		MaxPayload: payload(0, 51, 1, 51, 2, 51, 3, 115, 4, 242, 5, 242, 6, 242, 8, 53, 9, 129, 10, 242, 11, 242, 12, 242, 13, 242)},
}

func init() {
	as := []struct {
		n                 string
		rx2, ping, pingDR int64
	}{
		{"AS923-1", 923200000, 923400000, 3},
		{"AS923-2", 921400000, 921600000, 2},
		{"AS923-3", 916600000, 916800000, 2},
		{"AS923-4", 917300000, 917500000, 2},
	}
	for _, a := range as {
		plans[a.n] = &Plan{Name: a.n, RX2Freq: a.rx2, RX2DR: 2, PingSlotFreq: a.ping, PingSlotDR: a.pingDR,
			MinFreq: 915000000, MaxFreq: 928000000, DataRates: []int64{0, 1, 2, 3, 4, 5, 6},
			MaxPayload:      payload(0, 51, 1, 51, 2, 51, 3, 115, 4, 242, 5, 242, 6, 242, 7, 242),
			DwellMaxPayload: payload(2, 11, 3, 53, 4, 125, 5, 242, 6, 242, 7, 242)}
	}
}

// aliases are other spellings gateways and users give plans: the rfRegion
// names of the profile list, and AS923 for AS923-1.
var aliases = map[string]string{
	"CHINA470": "CN470", "EU_863_870": "EU868", "EU863-870": "EU868", "INDIA865": "IN865",
	"RUSSIA864": "RU864", "KOREA920": "KR920", "US902-928": "US915", "AUSTRALIA915": "AU915",
	"AS923": "AS923-1", "AS923_1": "AS923-1", "AS923_2": "AS923-2", "AS923_3": "AS923-3", "AS923_4": "AS923-4",
}

// Lookup returns the plan named name (case-insensitive; aliases accepted).
func Lookup(name string) (*Plan, error) {
	key := strings.ToUpper(strings.TrimSpace(name))
	if a, ok := aliases[key]; ok {
		key = a
	}
	if p, ok := plans[key]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("unknown channel plan %q (known: %s)", name, strings.Join(Names(), ", "))
}

// Names lists the plans, sorted.
func Names() []string {
	n := make([]string, 0, len(plans))
	for k := range plans {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// HasDR reports whether the plan offers data rate dr.
func (p *Plan) HasDR(dr int64) bool {
	for _, d := range p.DataRates {
		if d == dr {
			return true
		}
	}
	return false
}

// FreqInRange reports whether f (Hz) lies in the plan's downlink range.
func (p *Plan) FreqInRange(f int64) bool { return f >= p.MinFreq && f <= p.MaxFreq }

// MaxFragment is the largest FUOTA fragment for data rate dr: the maximum
// payload less the fragmentation header, or 0 when the plan lacks dr or dr
// carries no fragment (AS923 DR0-1 under the dwell-time limit, Dwell).
func (p *Plan) MaxFragment(dr int64) int64 {
	n, ok := p.MaxPayload[dr]
	if !ok || !p.HasDR(dr) {
		return 0
	}
	return max(n-FragmentHeader, 0)
}

// DataRatesText lists the offered data rates for messages: "0–6" or "0–4, 8–13".
func (p *Plan) DataRatesText() string {
	var parts []string
	for i := 0; i < len(p.DataRates); {
		j := i
		for j+1 < len(p.DataRates) && p.DataRates[j+1] == p.DataRates[j]+1 {
			j++
		}
		if i == j {
			parts = append(parts, fmt.Sprint(p.DataRates[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d–%d", p.DataRates[i], p.DataRates[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

// PingSlotPeriods are the allowed ping-slot periods (spec 2.1).
var PingSlotPeriods = []int64{32, 64, 128, 256, 512, 1024, 2048, 4096}
