// Package gwsim is a simulated Milesight gateway: the whole ns-api of the
// vendor's MQTT API specification (profiles, devices, multicast groups,
// payload codecs, FUOTA tasks) held in memory, optionally kept in a JSON
// state file, with fault injection for tests. It answers requests through
// Handle, an in-process nsapi.Transport, an embedded MQTT broker
// (ServeEmbedded) or as a client of another broker (ServeOnBroker).
//
// It is not a LoRaWAN network server: no radio, no uplinks, no joins. Device
// activity (lastSeenAt, frame counters of running devices) never moves on
// its own; only FUOTA tasks progress, computed from the clock at read time.
// Where the specification contradicts itself (URL spellings, field names,
// types), it follows the parameter tables by default and the examples with
// QuirksSpecExamples, so that a client can be tested against either
// reading; write-only fields (a codec's codecJson, a FUOTA firmware's
// fileContent) are never listed, as the spec's lists show.
package gwsim

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gwsync/gwsync/band"
	"github.com/gwsync/gwsync/nsapi"
)

// DefaultEUI is the gateway EUI used when Options.EUI is empty.
const DefaultEUI = "24E124FFFEF5A6A8"

// DefaultChannelPlan is the channel plan used when Options.ChannelPlan is empty.
const DefaultChannelPlan = "EU868"

// DefaultMaxTasks is the number of FUOTA tasks a gateway holds when
// Options.MaxTasks is zero; one more is refused with code 10310013.
const DefaultMaxTasks = 10

// DefaultKey is the spec's default key for appKey, session keys and
// multicast keys. It is public.
const DefaultKey = nsapi.DefaultKey

// Options configure a Gateway.
type Options struct {
	// EUI is the gateway EUI (16 hex digits), default DefaultEUI.
	EUI string
	// ChannelPlan is the channel plan (band.Lookup names), default EU868.
	ChannelPlan string
	// StatePath is the JSON state file; "" keeps state in memory only.
	// Writes are appended to a log beside it (StatePath + ".log") before
	// they are answered, and compacted into it on Close: read the file of
	// a gateway that may not have been closed with ReadStateFile.
	StatePath string
	// Now is the clock; default time.Now.
	Now func() time.Time
	// TimeScale speeds FUOTA progress up (2 = twice as fast); 0 means 1.
	TimeScale float64
	// Latency and Jitter delay every answer of the transports and servers
	// (not of Handle): base + a random part up to Jitter.
	Latency, Jitter time.Duration
	// Logf, when set, receives one line per request (never a secret).
	Logf func(format string, args ...any)
	// LegacyURLs makes the gateway answer only the spellings of the spec's
	// examples (/deleteddevices, /api/payloadcodec) and code 21 for the
	// canonical ones (/deletedevices, /api/payloadcodecs).
	LegacyURLs bool
	// MaxTasks is the most FUOTA tasks the gateway holds, default DefaultMaxTasks.
	MaxTasks int
	// Quirks picks the reading of the points where the spec contradicts
	// itself: QuirksTables (the default) or QuirksSpecExamples.
	Quirks Quirks
	// Applications are held besides the factory application "cloud" (id
	// 1): added to a new gateway, and to a loaded one that lacks them.
	// Applications cannot be made over the ns-api; a real gateway gets them
	// from its web UI.
	Applications []Application
	// ListFileContent makes the FUOTA task list show a local firmware's
	// fileContent. A gateway does not: its list shows "" (6.2), the field
	// is write-only.
	ListFileContent bool
	// PutReplaces makes a device PUT (3.4) replace the whole device: a
	// field the body leaves out takes its zero value, as a gateway that
	// reads the PUT as the whole object would ("enquire this device
	// first"). By default an absent field keeps its value.
	PutReplaces bool
	// NoFuota makes the gateway a firmware from before FUOTA support
	// (such as 60.0.0.45): every /api/fuota URL answers code 21, "type or
	// url not supported".
	NoFuota bool
	// FailFuotaDevices are devices whose firmware upgrade fails, in every
	// FUOTA task created, updated or retried (see FailFuotaDevice).
	FailFuotaDevices []string

	// For tests of a client that doubts its gateway (hostile.go):
	// PageCap answers at most that many items per page whatever limit
	// asks (0: no cap); NumericIDs echoes an integer request id as a JSON
	// number; SearchNamesOnly makes the device search match names and not
	// EUIs; Paging answers pages in a hostile way.
	PageCap         int
	NumericIDs      bool
	SearchNamesOnly bool
	Paging          PagingQuirk
}

// Application is an application the gateway holds (spec 3.3 appResult).
type Application struct {
	ID   string // a positive integer; "" takes the next free one
	Name string
}

// Quirks is how a Gateway reads the places where the spec contradicts
// itself (see nsapi/SPEC-NOTES.md).
type Quirks string

const (
	// QuirksTables reads the spec's parameter tables and headings: codec
	// calls on /api/payloadcodecs, membership removal on /deletedevices,
	// the session key as nwkSKey, the device list with the tables' names
	// and types (nwkSKey, payloadCodecID, ports as numbers), codec totals
	// and templateID as numbers, isDefault in the profile list.
	QuirksTables Quirks = ""
	// QuirksSpecExamples behaves exactly as the spec's examples show:
	// codec POST and PUT only on /api/payloadcodec and GET and DELETE only
	// on /api/payloadcodecs (the other spelling answers code 21),
	// membership removal only on /deleteddevices, the session key read only
	// as nwksKey, the device list with nwksKey, payloadCodeID and ports as
	// strings, every total and templateID as a string, no isDefault in the
	// profile list, the response envelope with gatewayEUI twice (the second
	// one blank), a numeric request id echoed as a number, and the FUOTA
	// create answered with url /api/fuota/tasks.
	QuirksSpecExamples Quirks = "spec-examples"
)

// ParseQuirks reads a Quirks name: "tables" (or "") or "spec-examples".
func ParseQuirks(s string) (Quirks, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "tables":
		return QuirksTables, nil
	case string(QuirksSpecExamples):
		return QuirksSpecExamples, nil
	}
	return "", fmt.Errorf("quirks %q: want tables or spec-examples", s)
}

// examples reports whether the gateway behaves as the spec's examples.
func (g *Gateway) examples() bool { return g.opts.Quirks == QuirksSpecExamples }

// ParseApplication reads "NAME" or "NAME=ID" (the flag form).
func ParseApplication(s string) (Application, error) {
	name, id, _ := strings.Cut(s, "=")
	a := Application{Name: strings.TrimSpace(name), ID: strings.TrimSpace(id)}
	if err := a.check(); err != nil {
		return Application{}, fmt.Errorf("application %q: %w", s, err)
	}
	return a, nil
}

func (a Application) check() error {
	if a.Name == "" {
		return errors.New("empty name")
	}
	if a.ID != "" {
		if n, err := strconv.ParseInt(a.ID, 10, 64); err != nil || n < 1 || strconv.FormatInt(n, 10) != a.ID {
			return fmt.Errorf("id %q: want a positive integer", a.ID)
		}
	}
	return nil
}

// addApplications adds apps that st lacks: an application of the same name
// and id is already there; one that shares only its name or its id with a
// held one is an error.
func (st *state) addApplications(apps []Application) error {
	for _, a := range apps {
		if err := a.check(); err != nil {
			return fmt.Errorf("application %q: %w", a.Name, err)
		}
		var byName, byID *appRec
		for i := range st.Applications {
			h := &st.Applications[i]
			if h.Name == a.Name {
				byName = h
			}
			if a.ID != "" && h.ID == a.ID {
				byID = h
			}
		}
		switch {
		case byName != nil && (a.ID == "" || byName.ID == a.ID):
			continue
		case byName != nil:
			return fmt.Errorf("application %q: the gateway holds it with id %s, not %s", a.Name, byName.ID, a.ID)
		case byID != nil:
			return fmt.Errorf("application %q: id %s is application %q", a.Name, a.ID, byID.Name)
		}
		id := a.ID
		if id == "" {
			var top int64
			for _, h := range st.Applications {
				if n, err := strconv.ParseInt(h.ID, 10, 64); err == nil && n > top {
					top = n
				}
			}
			id = strconv.FormatInt(top+1, 10)
		}
		st.Applications = append(st.Applications, appRec{ID: id, Name: a.Name})
	}
	return nil
}

// Gateway is a simulated gateway. Its methods are safe for concurrent use.
type Gateway struct {
	opts   Options
	eui    string
	plan   *band.Plan
	faults *Faults

	mu     sync.Mutex
	st     *state
	writes int
	closed bool
	dirty  bool // state changed since the state file was written

	log       *os.File // the state log, appended to; nil until the first save
	logBytes  int64    // its size
	baseBytes int64    // the size of the state file it applies to

	writeRequests atomic.Int64 // see WriteRequests
}

// New returns a gateway in factory state, or loaded from opts.StatePath
// when that file exists.
func New(opts Options) (*Gateway, error) {
	if opts.EUI != "" && !isHex(opts.EUI, 16) {
		return nil, fmt.Errorf("gateway EUI %q: want 16 hex digits", opts.EUI)
	}
	if _, err := ParseQuirks(string(opts.Quirks)); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	for _, e := range opts.FailFuotaDevices {
		if !isHex(e, 16) {
			return nil, fmt.Errorf("gateway: device to fail its FUOTA upgrade %q: want a devEUI of 16 hex digits", e)
		}
	}
	if _, err := ParsePagingQuirk(string(opts.Paging)); err != nil || opts.PageCap < 0 {
		return nil, fmt.Errorf("gateway: paging %q, page cap %d: want a known paging quirk and a cap of 0 or more", opts.Paging, opts.PageCap)
	}
	g := &Gateway{opts: opts}
	if g.opts.Now == nil {
		g.opts.Now = time.Now
	}
	if g.opts.TimeScale <= 0 {
		g.opts.TimeScale = 1
	}
	if g.opts.MaxTasks <= 0 {
		g.opts.MaxTasks = DefaultMaxTasks
	}
	g.faults = &Faults{}
	g.faults.SetDelay(opts.Latency, opts.Jitter)

	var st *state
	replayed := false // writes of the state log not yet in the state file
	if opts.StatePath != "" {
		b, err := os.ReadFile(opts.StatePath)
		switch {
		case err == nil:
			if st, err = decodeState(opts.StatePath, b); err != nil {
				return nil, err
			}
			st.reindex()
			n, err := replayLog(opts.StatePath, b, st)
			if err != nil {
				return nil, err
			}
			replayed = n > 0
			if opts.EUI != "" && !strings.EqualFold(opts.EUI, st.EUI) {
				return nil, fmt.Errorf("state file %s: holds gateway %s, not %s", opts.StatePath, st.EUI, strings.ToUpper(opts.EUI))
			}
			if opts.ChannelPlan != "" {
				p, err := band.Lookup(opts.ChannelPlan)
				if err != nil {
					return nil, fmt.Errorf("gateway: %w", err)
				}
				if p.Name != st.ChannelPlan {
					return nil, fmt.Errorf("state file %s: holds a %s gateway, not %s", opts.StatePath, st.ChannelPlan, p.Name)
				}
			}
		case errors.Is(err, os.ErrNotExist):
		default:
			return nil, fmt.Errorf("state file: %w", err)
		}
	}
	if st == nil {
		eui := opts.EUI
		if eui == "" {
			eui = DefaultEUI
		}
		cp := opts.ChannelPlan
		if cp == "" {
			cp = DefaultChannelPlan
		}
		p, err := band.Lookup(cp)
		if err != nil {
			return nil, fmt.Errorf("gateway: %w", err)
		}
		st = factoryState(strings.ToUpper(eui), p)
	}
	p, err := band.Lookup(st.ChannelPlan)
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", opts.StatePath, err)
	}
	held := len(st.Applications)
	if err := st.addApplications(opts.Applications); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	g.dirty = replayed || len(st.Applications) != held
	g.plan = p
	st.reindex()
	g.st = st
	g.eui = st.EUI
	return g, nil
}

// Open returns the gateway kept in the state file path: loaded when the
// file exists, in factory state (and written on the first write) when not.
func Open(path string, opts Options) (*Gateway, error) {
	if path == "" {
		return nil, errors.New("gateway state file: empty path")
	}
	// The state is written beside the file (temporary file + rename): a
	// folder that is missing would only fail at the first write, after the
	// caller has done its reads.
	if st, err := os.Stat(filepath.Dir(path)); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("gateway state file %s: folder %s does not exist", path, filepath.Dir(path))
	}
	opts.StatePath = path
	return New(opts)
}

// OpenURL opens the gateway that a sim:// broker URL names: ref is what
// follows "sim://", a state file path with an optional query,
//
//	PATH?applications=NAME[=ID],NAME[=ID]&quirks=spec-examples&put=replace&fuota=none&fail-fuota-devices=EUI,EUI
//
// applications (repeatable, comma-separated) adds to opts.Applications,
// quirks sets opts.Quirks ("tables" or "spec-examples"), put=replace sets
// opts.PutReplaces, fuota=none opts.NoFuota, and fail-fuota-devices
// (comma-separated EUIs) adds to opts.FailFuotaDevices; any other
// parameter is an error. The path is everything before the first "?".
func OpenURL(ref string, opts Options) (*Gateway, error) {
	path, rawQuery, _ := strings.Cut(ref, "?")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, fmt.Errorf("gateway URL query %q: %w", rawQuery, err)
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch k {
		case "applications", "application":
			for _, v := range q[k] {
				for _, one := range strings.Split(v, ",") {
					if strings.TrimSpace(one) == "" {
						continue
					}
					a, err := ParseApplication(one)
					if err != nil {
						return nil, fmt.Errorf("gateway URL: %w", err)
					}
					opts.Applications = append(opts.Applications, a)
				}
			}
		case "quirks":
			qk, err := ParseQuirks(q.Get(k))
			if err != nil {
				return nil, fmt.Errorf("gateway URL: %w", err)
			}
			opts.Quirks = qk
		case "put":
			switch v := q.Get(k); v {
			case "replace":
				opts.PutReplaces = true
			case "merge":
				opts.PutReplaces = false
			default:
				return nil, fmt.Errorf("gateway URL: put=%q: want replace or merge", v)
			}
		case "fuota":
			switch v := q.Get(k); v {
			case "none":
				opts.NoFuota = true
			case "yes":
				opts.NoFuota = false
			default:
				return nil, fmt.Errorf("gateway URL: fuota=%q: want none or yes", v)
			}
		case "fail-fuota-devices":
			for _, v := range q[k] {
				for _, one := range strings.Split(v, ",") {
					if one = strings.TrimSpace(one); one != "" {
						opts.FailFuotaDevices = append(opts.FailFuotaDevices, one)
					}
				}
			}
		default:
			ok, err := quirkParam(k, q[k], &opts)
			if err != nil {
				return nil, fmt.Errorf("gateway URL: %w", err)
			}
			if !ok {
				return nil, fmt.Errorf("gateway URL: unknown parameter %q (want applications, quirks, put, fuota, fail-fuota-devices, page-cap, numeric-ids, search or paging)", k)
			}
		}
	}
	return Open(path, opts)
}

// Close stops answering: later requests get no answer. Every write is
// saved before it is answered, appended to the state log beside the state
// file (see ReadStateFile); Close compacts that log into the state file
// and removes it. It also writes the state file when it does not exist yet
// (a gateway that was only read leaves its factory state) or holds less
// than the gateway (applications added by Options, a log replayed on open).
// It is safe to call more than once.
func (g *Gateway) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil
	}
	g.closed = true
	if g.opts.StatePath == "" {
		return nil
	}
	if _, err := os.Stat(g.opts.StatePath); g.dirty || g.log != nil || errors.Is(err, os.ErrNotExist) {
		return g.closeLogLocked()
	}
	return nil
}

// EUI is the gateway's EUI, upper case.
func (g *Gateway) EUI() string { return g.eui }

// ChannelPlan is the gateway's channel plan name (e.g. "EU868").
func (g *Gateway) ChannelPlan() string { return g.plan.Name }

// Faults is the gateway's fault injection.
func (g *Gateway) Faults() *Faults { return g.faults }

// Writes is the number of successful writes (POST, PUT, DELETE) performed
// so far, for tests; writes to gwsync's own records (its lock, its digests
// of write-only values) are not counted.
func (g *Gateway) Writes() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.writes
}

// FailFuotaDevice marks devEUI to fail (fail true) or succeed (false) the
// firmware upgrade of FUOTA tasks created, updated or retried afterwards;
// a task with a failing device ends in status 4 (failed).
func (g *Gateway) FailFuotaDevice(devEUI string, fail bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	eui := strings.ToUpper(devEUI)
	out := g.st.FailDevices[:0]
	for _, e := range g.st.FailDevices {
		if e != eui {
			out = append(out, e)
		}
	}
	if fail {
		out = append(out, eui)
	}
	g.st.FailDevices = out
	g.st.putMeta()
	if err := g.persistLocked(); err != nil {
		g.logf("gwsim: %v", err)
	}
}

func (g *Gateway) logf(format string, args ...any) {
	if g.opts.Logf != nil {
		g.opts.Logf(format, args...)
	}
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
