// FUOTA tasks: the checks a task the plan writes must pass against the
// gateway (start time, the firmware's devices of spec 6.8, the class of
// each device) and the estimate of its session shown in the plan.

package planner

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gwsync/gwsync/band"
	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/site"
)

// startsLater checks, with Options.Now, that a task the plan creates (or
// replaces, or whose start it moves) starts in the future: the gateway
// starts a task whose start time has passed at once, which is seldom what
// a site written for a night-time campaign means.
func (b *builder) startsLater(st *site.FirmwareUpdate, path string) bool {
	if b.opts.Now == nil {
		return true
	}
	start, err := time.Parse(time.RFC3339Nano, st.StartAt)
	if err != nil {
		return true // the site's own check reports it
	}
	now := b.opts.Now()
	if start.After(now) {
		return true
	}
	b.problem(st.Pos, path+".startAt", "%s is not in the future (it is now %s): the gateway would start the task at once; give a later start",
		st.StartAt, now.UTC().Format(time.RFC3339))
	return false
}

// firmwareFits checks, with Options.FirmwareDevices, that the task's
// firmware fits each of its devices that the gateway holds (spec 6.8: the
// gateway lists the devices a firmware fits), and notes each device whose
// profile takes no multicast session. Devices the plan creates are not on
// the gateway yet: they are noted, not checked.
func (b *builder) firmwareFits(st *site.FirmwareUpdate, path, addr string, t *nsapi.FuotaTask) bool {
	if b.opts.FirmwareDevices == nil {
		return true
	}
	fw := taskFirmwareName(t)
	fits, err := b.opts.FirmwareDevices(t)
	if err != nil {
		b.note(addr, "the devices were not checked against firmware %s: the gateway's device list for it (spec 6.8) could not be read: %v", fw, err)
		return true
	}
	in := map[string]bool{}
	var models []string
	for _, d := range fits {
		in[strings.ToUpper(d.DevEUI)] = true
		if d.ProductModel != "" {
			models = append(models, d.ProductModel)
		}
	}
	slices.Sort(models)
	models = slices.Compact(models)
	ok := true
	for j, e := range st.Devices {
		eui := strings.ToUpper(e)
		dpath := fmt.Sprintf("%s.devices[%d]", path, j)
		switch {
		case in[eui]:
		case b.liveDevices[eui] == nil:
			b.note(addr, "device %s is created by this plan: the gateway cannot yet say whether firmware %s fits it", eui, fw)
		default:
			hint := "it lists no device"
			if len(fits) > 0 {
				hint = fmt.Sprintf("it lists %d (model %s)", len(fits), strings.Join(models, ", "))
				if len(models) == 0 {
					hint = fmt.Sprintf("it lists %d", len(fits))
				}
			}
			b.problem(st.Pos, dpath, "device %s (%s) does not fit firmware %s: the gateway's list of the devices this firmware fits (POST /api/fuota/devices/firmware) leaves it out; %s",
				eui, b.devLabel(eui), fw, hint)
			ok = false
			continue
		}
		if prof, known, classBC := b.deviceClass(eui); known && !classBC {
			b.note(addr, "device %s (%s) has profile %s, which supports neither class B nor class C: it may not take the task's multicast session (6.1: class C) and fail it",
				eui, b.devLabel(eui), prof)
		}
	}
	return ok
}

// taskFirmwareName names a task's firmware for messages.
func taskFirmwareName(t *nsapi.FuotaTask) string {
	if t.IsOfficialFirmware && t.OfficialFirmwareInfo != nil {
		o := t.OfficialFirmwareInfo
		return cmp.Or(o.Name, strings.TrimSpace(o.Model+" "+o.FirmwareVersion))
	}
	return cmp.Or(t.FirmwareName, liveFirmwareName(t))
}

// devLabel is the device's name, or its EUI when it has none.
func (b *builder) devLabel(eui string) string { return cmp.Or(b.deviceName(eui), eui) }

// deviceClass finds the profile a device has once the plan is applied (the
// site's, else the gateway's) and whether it supports class B or C. known
// is false when the profile cannot be found (another check reports it).
func (b *builder) deviceClass(eui string) (profile string, known, classBC bool) {
	profile, known, classB, classC := b.deviceClasses(eui)
	return profile, known, classB || classC
}

// deviceClasses is deviceClass with class B and class C apart.
func (b *builder) deviceClasses(eui string) (profile string, known, classB, classC bool) {
	name := ""
	if d := b.siteDevByEUI[strings.ToUpper(eui)]; d != nil {
		name = cmp.Or(d.Profile, nsapi.DefaultProfile)
	} else if d := b.liveDevices[eui]; d != nil {
		if lp := b.liveProfByID[d.ProfileID]; lp != nil {
			return lp.Name, true, lp.Profile.SupportsClassB, lp.Profile.SupportsClassC
		}
		return "", false, false, false
	}
	if p := b.siteProfByName[name]; p != nil {
		return name, true, deref(p.SupportsClassB, false), deref(p.SupportsClassC, false)
	}
	lp := b.liveProfiles[name]
	if lp == nil {
		lp = b.liveProfByID[name]
	}
	if lp == nil {
		return "", false, false, false
	}
	return lp.Name, true, lp.Profile.SupportsClassB, lp.Profile.SupportsClassC
}

// ---- the estimate ----

// Downlink frames carry, besides the fragment and its FUOTA header
// (band.FragmentHeader), the LoRaWAN frame: MHDR (1), DevAddr (4), FCtrl
// (1), FCnt (2), FPort (1) and MIC (4).
const macOverhead = 13

// modulation is the LoRa spreading factor and bandwidth (Hz) of a data
// rate in a channel plan, as the spec's appendix (Default RX2/Ping Slot
// Settings) lists them; ok is false for a data rate it does not list.
func modulation(plan string, dr int64) (sf int, bw int, ok bool) {
	switch plan {
	case "US915", "AU915":
		switch {
		case dr >= 0 && dr <= 3:
			return 10 - int(dr), 125000, true
		case dr == 4:
			return 8, 500000, true
		case dr >= 8 && dr <= 13:
			return 12 - int(dr-8), 500000, true
		}
		return 0, 0, false
	}
	switch {
	case dr >= 0 && dr <= 5:
		return 12 - int(dr), 125000, true
	case dr == 6 && plan == "CN470":
		return 7, 500000, true
	case dr == 6 && plan != "IN865" && plan != "KR920":
		return 7, 250000, true
	}
	return 0, 0, false
}

// airtime is the LoRa time on air of a downlink of payloadLen PHY payload
// bytes (Semtech AN1200.13): 8 preamble symbols, explicit header, coding
// rate 4/5, no payload CRC (downlinks carry none), low data rate
// optimisation when a symbol lasts more than 16 ms.
func airtime(sf, bw, payloadLen int) time.Duration {
	tsym := float64(int(1)<<sf) / float64(bw)
	de := 0
	if tsym > 0.016 {
		de = 1
	}
	num := float64(8*payloadLen - 4*sf + 28)
	den := float64(4 * (sf - 2*de))
	symbols := 8 + math.Max(math.Ceil(num/den)*5, 0)
	return time.Duration((12.25 + symbols) * tsym * float64(time.Second))
}

// Estimate is what sending a FUOTA task's firmware takes: the fragments
// (with the redundancy) go out one per interval, each on air for Each.
type Estimate struct {
	FirmwareBytes int64
	Fragments     int64 // without redundancy
	Sent          int64 // with redundancy
	Each          time.Duration
	SF, BW        int
	Duration      time.Duration // Sent × interval
	Airtime       time.Duration // Sent × Each
}

// EstimateTask estimates the fragment session of a task on channel plan p
// for a firmware of size bytes: ceil(size/fragment) fragments, plus
// redundancy % of them (rounded up), one every fragment interval, each a
// downlink of fragment + FUOTA header + LoRaWAN frame at the multicast
// data rate. It leaves out the multicast and fragment session set-up and
// the devices' status reports (minutes, whatever the size). ok is false
// when the data rate is not LoRa in p or the size is unknown.
func EstimateTask(p *band.Plan, t *nsapi.FuotaTask, size int64) (Estimate, bool) {
	frag, intv, red := int64(t.FragmentInfo.FragmentSize), int64(t.FragmentInfo.FragmentInterval), int64(t.FragmentInfo.FragmentRedundancy)
	sf, bw, ok := modulation(p.Name, int64(t.TmpMcInfo.DR))
	if !ok || size <= 0 || frag <= 0 || intv <= 0 || red < 0 {
		return Estimate{}, false
	}
	n := (size + frag - 1) / frag
	sent := (n*(100+red) + 99) / 100
	each := airtime(sf, bw, int(frag)+band.FragmentHeader+macOverhead)
	return Estimate{FirmwareBytes: size, Fragments: n, Sent: sent, Each: each, SF: sf, BW: bw,
		Duration: time.Duration(sent*intv) * time.Millisecond, Airtime: time.Duration(sent) * each}, true
}

// firmwareBytes is the size of a task's firmware: the local file's, or
// the official catalogue's; 0 when unknown (an official firmware planned
// offline).
func firmwareBytes(t *nsapi.FuotaTask) int64 {
	if t.IsOfficialFirmware {
		if t.OfficialFirmwareInfo != nil {
			n, _ := strconv.ParseInt(strings.TrimSpace(string(t.OfficialFirmwareInfo.Size)), 10, 64)
			return n
		}
		return 0
	}
	if t.FirmwareInfo == nil {
		return 0
	}
	data, err := base64.StdEncoding.DecodeString(t.FirmwareInfo.FileContent)
	if err != nil {
		return 0
	}
	return int64(len(data))
}

// estimate notes the session estimate of a task the plan writes.
func (b *builder) estimate(addr string, t *nsapi.FuotaTask) {
	if !b.opts.Estimates {
		return
	}
	size := firmwareBytes(t)
	e, ok := EstimateTask(b.band, t, size)
	switch {
	case ok:
		b.note(addr, "estimate: %d-byte firmware in %d fragments of %d bytes (%d + %d%% redundancy), one every %s at DR%d (SF%d, %g kHz, %s on air each): about %s to send, %s of airtime (%.1f%% of that time)",
			e.FirmwareBytes, e.Sent, int64(t.FragmentInfo.FragmentSize), e.Fragments, int64(t.FragmentInfo.FragmentRedundancy),
			time.Duration(t.FragmentInfo.FragmentInterval)*time.Millisecond, int64(t.TmpMcInfo.DR), e.SF, float64(e.BW)/1000,
			e.Each.Round(time.Millisecond), e.Duration.Round(time.Second), e.Airtime.Round(time.Second),
			100*e.Airtime.Seconds()/e.Duration.Seconds())
	case size <= 0:
		b.note(addr, "no estimate: the firmware's size is known only from the gateway's official catalogue (plan against the gateway)")
	}
	if ok {
		b.note(addr, "%s", DutyCycleNote(b.band, int64(t.TmpMcInfo.Frequency), e))
	}
}

// DutyCycleNote compares an estimate's airtime share with the duty-cycle
// limit of channel plan p at the task's downlink frequency freq: a warning
// when over it, and, where the plan states no limit at that frequency, a
// word that it could not be checked.
func DutyCycleNote(p *band.Plan, freq int64, e Estimate) string {
	share := 100 * e.Airtime.Seconds() / e.Duration.Seconds()
	db, ok := p.DutyCycleAt(freq)
	limit := 100 * db.DutyCycle
	switch {
	case !ok:
		return fmt.Sprintf("duty cycle: the fragments are on air %.1f%% of the time; gwsync knows no duty-cycle limit for %s at %d Hz (REGIONS.md states none), so this is not checked: compare it with the rules where the gateway stands", share, p.Name, freq)
	case share > limit:
		return fmt.Sprintf("warning: duty cycle: the fragments are on air %.1f%% of the time, over the %g%% limit at %d Hz (%s): the gateway holds them back and the task takes longer, or fails; use a longer fragment interval or a faster data rate", share, limit, freq, db.Source)
	}
	return fmt.Sprintf("duty cycle: the fragments are on air %.1f%% of the time, within the %g%% limit at %d Hz (%s)", share, limit, freq, db.Source)
}
