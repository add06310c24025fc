package site

import (
	"bytes"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/gwsync/gwsync/internal/safefile"
)

// This file is the site's fields, one table per object: each row names a
// YAML key, the kind of its value, and where the value goes in the model
// (and, for a few, where its position is kept). One decoder walks a
// mapping with its table; the CSV rows of devicesFrom go through the
// device table as well. A new field is a new row.
//
// Unknown keys are not the decoder's: the schema reports them, with a
// "did you mean" when a known key is close.

// kind is the kind of a field's value.
type kind int

const (
	kString    kind = iota // a string
	kUpper                 // a string, kept in upper case (EUIs, addresses)
	kStrPtr                // a string that may be left out (nil)
	kInt                   // an integer; 0 when left out
	kIntPtr                // an integer that may be left out (nil)
	kBool                  // true or false; false when left out
	kBoolPtr               // true or false, or left out (nil)
	kInts                  // a list of integers
	kUpperList             // a list of strings, kept in upper case
	kSecret                // a key or password, or a ${env:…}/${file:…} reference
	kPath                  // a file name, relative to the site file
	kScript                // a script file, read now, in place of an inline field
	kObject                // a nested mapping with its own table
)

// value is a field's value, decoded as its kind says, with where it
// stands.
type value struct {
	s    string
	i    int64
	b    bool
	ints []int64
	strs []string
	sec  Secret
}

// field is one row of an object's table.
type field[T any] struct {
	key  string
	kind kind
	put  func(dst *T, v value)
	// inline is, for a script file (kScript), the field it replaces:
	// giving both is an error.
	inline string
	// object decodes a nested mapping (kObject), whose rows are sub.
	object func(l *loader, m *mapping, dst *T)
	sub    []row
	// at keeps where the value stands, when the model keeps it.
	at func(dst *T) *Pos
}

// pos returns the row with where its value stands kept in the model.
func (f field[T]) pos(at func(*T) *Pos) field[T] {
	f.at = at
	return f
}

func str[T any](key string, p func(*T) *string) field[T] {
	return field[T]{key: key, kind: kString, put: func(d *T, v value) { *p(d) = v.s }}
}

func upper[T any](key string, p func(*T) *string) field[T] {
	return field[T]{key: key, kind: kUpper, put: func(d *T, v value) { *p(d) = strings.ToUpper(v.s) }}
}

func strPtr[T any](key string, p func(*T) **string) field[T] {
	return field[T]{key: key, kind: kStrPtr, put: func(d *T, v value) { s := v.s; *p(d) = &s }}
}

func integer[T any](key string, p func(*T) *int64) field[T] {
	return field[T]{key: key, kind: kInt, put: func(d *T, v value) { *p(d) = v.i }}
}

func intPtr[T any](key string, p func(*T) **int64) field[T] {
	return field[T]{key: key, kind: kIntPtr, put: func(d *T, v value) { i := v.i; *p(d) = &i }}
}

func boolean[T any](key string, p func(*T) *bool) field[T] {
	return field[T]{key: key, kind: kBool, put: func(d *T, v value) { *p(d) = v.b }}
}

func boolPtr[T any](key string, p func(*T) **bool) field[T] {
	return field[T]{key: key, kind: kBoolPtr, put: func(d *T, v value) { b := v.b; *p(d) = &b }}
}

func ints[T any](key string, p func(*T) *[]int64) field[T] {
	return field[T]{key: key, kind: kInts, put: func(d *T, v value) { *p(d) = v.ints }}
}

func upperList[T any](key string, p func(*T) *[]string) field[T] {
	return field[T]{key: key, kind: kUpperList, put: func(d *T, v value) { *p(d) = v.strs }}
}

func secret[T any](key string, p func(*T) *Secret) field[T] {
	return field[T]{key: key, kind: kSecret, put: func(d *T, v value) { *p(d) = v.sec }}
}

func path[T any](key string, p func(*T) *string) field[T] {
	return field[T]{key: key, kind: kPath, put: func(d *T, v value) { *p(d) = v.s }}
}

// script is a file whose content is the value of the inline field.
func script[T any](key, inline string, p func(*T) *string) field[T] {
	return field[T]{key: key, kind: kScript, inline: inline, put: func(d *T, v value) { *p(d) = v.s }}
}

// object is a nested mapping, decoded with its own table.
func object[T, C any](key string, p func(*T) *C, table []field[C]) field[T] {
	return field[T]{key: key, kind: kObject, sub: rows(table), object: func(l *loader, m *mapping, d *T) {
		if c := m.child(key); c != nil {
			decodeFields(l, c, p(d), table)
		}
	}}
}

// optObject is a nested mapping that may be left out (nil).
func optObject[T, C any](key string, p func(*T) **C, table []field[C]) field[T] {
	return field[T]{key: key, kind: kObject, sub: rows(table), object: func(l *loader, m *mapping, d *T) {
		if c := m.child(key); c != nil {
			v := new(C)
			decodeFields(l, c, v, table)
			*p(d) = v
		}
	}}
}

var gatewayFields = []field[Gateway]{
	upper("eui", func(g *Gateway) *string { return &g.EUI }).pos(func(g *Gateway) *Pos { return &g.EUIPos }),
	str("channelPlan", func(g *Gateway) *string { return &g.ChannelPlan }).pos(func(g *Gateway) *Pos { return &g.Pos }),
	boolPtr("dwellTime", func(g *Gateway) **bool { return &g.DwellTime }).pos(func(g *Gateway) *Pos { return &g.DwellTimePos }),
}

var connectionFields = []field[Connection]{
	str("broker", func(c *Connection) *string { return &c.Broker }),
	str("requestTopic", func(c *Connection) *string { return &c.RequestTopic }),
	str("responseTopic", func(c *Connection) *string { return &c.ResponseTopic }),
	str("username", func(c *Connection) *string { return &c.Username }),
	secret("password", func(c *Connection) *Secret { return &c.Password }),
	str("clientID", func(c *Connection) *string { return &c.ClientID }),
	path("caFile", func(c *Connection) *string { return &c.CAFile }),
	path("certFile", func(c *Connection) *string { return &c.CertFile }),
	path("keyFile", func(c *Connection) *string { return &c.KeyFile }),
	boolean("insecureSkipVerify", func(c *Connection) *bool { return &c.InsecureSkipVerify }),
}

// pruneFields are prune's per-kind form; `prune: true` sets them all.
var pruneFields = []field[Prune]{
	boolean("profiles", func(p *Prune) *bool { return &p.Profiles }),
	boolean("devices", func(p *Prune) *bool { return &p.Devices }),
	boolean("codecs", func(p *Prune) *bool { return &p.Codecs }),
	boolean("multicastGroups", func(p *Prune) *bool { return &p.MulticastGroups }),
	boolean("firmwareUpdates", func(p *Prune) *bool { return &p.FirmwareUpdates }),
}

var profileFields = []field[Profile]{
	str("name", func(p *Profile) *string { return &p.Name }),
	str("renamedFrom", func(p *Profile) *string { return &p.RenamedFrom }),
	boolPtr("supportsJoin", func(p *Profile) **bool { return &p.SupportsJoin }),
	boolPtr("supportsClassB", func(p *Profile) **bool { return &p.SupportsClassB }),
	boolPtr("supportsClassC", func(p *Profile) **bool { return &p.SupportsClassC }),
	strPtr("macVersion", func(p *Profile) **string { return &p.MacVersion }),
	strPtr("regParamsRevision", func(p *Profile) **string { return &p.RegParamsRevision }),
	intPtr("rxDROffset1", func(p *Profile) **int64 { return &p.RxDROffset1 }),
	intPtr("rxDataRate2", func(p *Profile) **int64 { return &p.RxDataRate2 }),
	intPtr("rxFreq2", func(p *Profile) **int64 { return &p.RxFreq2 }),
	ints("factoryPresetFreqs", func(p *Profile) *[]int64 { return &p.FactoryPresetFreqs }),
	ints("enableUplinkChannels", func(p *Profile) *[]int64 { return &p.EnableUplinkChannels }),
	intPtr("maxEIRP", func(p *Profile) **int64 { return &p.MaxEIRP }),
	boolPtr("supports32bitFCnt", func(p *Profile) **bool { return &p.Supports32bitFCnt }),
	intPtr("pingSlotPeriod", func(p *Profile) **int64 { return &p.PingSlotPeriod }),
	intPtr("pingSlotDR", func(p *Profile) **int64 { return &p.PingSlotDR }),
	intPtr("pingSlotFreq", func(p *Profile) **int64 { return &p.PingSlotFreq }),
	intPtr("classBTimeout", func(p *Profile) **int64 { return &p.ClassBTimeout }),
	intPtr("classCTimeout", func(p *Profile) **int64 { return &p.ClassCTimeout }),
}

var codecFields = []field[Codec]{
	str("name", func(c *Codec) *string { return &c.Name }),
	str("renamedFrom", func(c *Codec) *string { return &c.RenamedFrom }),
	str("description", func(c *Codec) *string { return &c.Description }),
	integer("templateID", func(c *Codec) *int64 { return &c.TemplateID }),
	str("encoderScript", func(c *Codec) *string { return &c.EncoderScript }),
	str("decoderScript", func(c *Codec) *string { return &c.DecoderScript }),
	boolean("testEnabled", func(c *Codec) *bool { return &c.TestEnabled }),
	integer("fPort", func(c *Codec) *int64 { return &c.FPort }),
	str("codecJson", func(c *Codec) *string { return &c.CodecJSON }),
	script("decoderFile", "decoderScript", func(c *Codec) *string { return &c.DecoderScript }),
	script("encoderFile", "encoderScript", func(c *Codec) *string { return &c.EncoderScript }),
	script("codecJsonFile", "codecJson", func(c *Codec) *string { return &c.CodecJSON }),
}

var deviceFields = []field[Device]{
	upper("devEUI", func(d *Device) *string { return &d.DevEUI }),
	str("name", func(d *Device) *string { return &d.Name }),
	strPtr("description", func(d *Device) **string { return &d.Description }),
	str("application", func(d *Device) *string { return &d.Application }),
	str("profile", func(d *Device) *string { return &d.Profile }),
	str("codec", func(d *Device) *string { return &d.Codec }),
	intPtr("fPort", func(d *Device) **int64 { return &d.FPort }),
	boolPtr("skipFCntCheck", func(d *Device) **bool { return &d.SkipFCntCheck }),
	secret("appKey", func(d *Device) *Secret { return &d.AppKey }),
	upper("devAddr", func(d *Device) *string { return &d.DevAddr }),
	secret("nwkSKey", func(d *Device) *Secret { return &d.NwkSKey }),
	secret("appSKey", func(d *Device) *Secret { return &d.AppSKey }),
	intPtr("fCntUp", func(d *Device) **int64 { return &d.FCntUp }),
	intPtr("fCntDown", func(d *Device) **int64 { return &d.FCntDown }),
	str("mbMode", func(d *Device) *string { return &d.MbMode }),
	intPtr("mbFramePort", func(d *Device) **int64 { return &d.MbFramePort }),
	intPtr("mbTcpPort", func(d *Device) **int64 { return &d.MbTcpPort }),
}

// deviceDefaultFields are the device fields deviceDefaults may give.
var deviceDefaultFields = only(deviceFields, "description", "application", "profile", "codec", "fPort",
	"skipFCntCheck", "mbMode", "mbFramePort", "mbTcpPort")

// deviceField is the device table by key, for CSV columns.
var deviceField = func() map[string]*field[Device] {
	out := make(map[string]*field[Device], len(deviceFields))
	for i := range deviceFields {
		out[deviceFields[i].key] = &deviceFields[i]
	}
	return out
}()

var groupFields = []field[MulticastGroup]{
	str("name", func(g *MulticastGroup) *string { return &g.Name }),
	str("renamedFrom", func(g *MulticastGroup) *string { return &g.RenamedFrom }),
	upper("mcAddr", func(g *MulticastGroup) *string { return &g.McAddr }),
	secret("mcNwkSKey", func(g *MulticastGroup) *Secret { return &g.McNwkSKey }),
	secret("mcAppSKey", func(g *MulticastGroup) *Secret { return &g.McAppSKey }),
	intPtr("fCnt", func(g *MulticastGroup) **int64 { return &g.FCnt }),
	str("groupType", func(g *MulticastGroup) *string { return &g.GroupType }),
	intPtr("dr", func(g *MulticastGroup) **int64 { return &g.DR }),
	intPtr("frequency", func(g *MulticastGroup) **int64 { return &g.Frequency }),
	intPtr("pingSlotPeriod", func(g *MulticastGroup) **int64 { return &g.PingSlotPeriod }),
	upperList("devices", func(g *MulticastGroup) *[]string { return &g.Devices }),
}

var taskFields = []field[FirmwareUpdate]{
	str("name", func(t *FirmwareUpdate) *string { return &t.Name }),
	str("renamedFrom", func(t *FirmwareUpdate) *string { return &t.RenamedFrom }),
	str("description", func(t *FirmwareUpdate) *string { return &t.Description }),
	str("startAt", func(t *FirmwareUpdate) *string { return &t.StartAt }),
	upperList("devices", func(t *FirmwareUpdate) *[]string { return &t.Devices }),
	path("firmwareFile", func(t *FirmwareUpdate) *string { return &t.FirmwareFile }),
	str("firmwareName", func(t *FirmwareUpdate) *string { return &t.FirmwareName }),
	optObject("official", func(t *FirmwareUpdate) **OfficialFirmwareRef { return &t.Official }, officialFields),
	object("fragment", func(t *FirmwareUpdate) *Fragment { return &t.Fragment }, fragmentFields),
	object("multicast", func(t *FirmwareUpdate) *Multicast { return &t.Multicast }, multicastFields),
}

var officialFields = []field[OfficialFirmwareRef]{
	str("model", func(o *OfficialFirmwareRef) *string { return &o.Model }),
	str("version", func(o *OfficialFirmwareRef) *string { return &o.Version }),
	str("id", func(o *OfficialFirmwareRef) *string { return &o.ID }),
}

var fragmentFields = []field[Fragment]{
	integer("size", func(f *Fragment) *int64 { return &f.Size }),
	integer("intervalMs", func(f *Fragment) *int64 { return &f.IntervalMs }),
	integer("redundancy", func(f *Fragment) *int64 { return &f.Redundancy }),
}

var multicastFields = []field[Multicast]{
	intPtr("dr", func(m *Multicast) **int64 { return &m.DR }),
	intPtr("frequency", func(m *Multicast) **int64 { return &m.Frequency }),
}

// row is a row of a table without its type: its key and kind, and a
// nested object's rows.
type row struct {
	key  string
	kind kind
	sub  []row
}

// rows lists a table's rows.
func rows[T any](table []field[T]) []row {
	out := make([]row, len(table))
	for i, f := range table {
		out[i] = row{key: f.key, kind: f.kind, sub: f.sub}
	}
	return out
}

// only is the rows of table with the given keys.
func only[T any](table []field[T], keys ...string) []field[T] {
	var out []field[T]
	for _, f := range table {
		for _, k := range keys {
			if f.key == k {
				out = append(out, f)
			}
		}
	}
	return out
}

// decodeFields decodes mapping m into dst, a row of table at a time. A
// value of the wrong kind is reported at its file, line and column, and
// left out.
func decodeFields[T any](l *loader, m *mapping, dst *T, table []field[T]) {
	for i := range table {
		f := &table[i]
		if f.kind == kObject {
			f.object(l, m, dst)
			continue
		}
		if !m.has(f.key) {
			continue
		}
		var v value
		if !l.fieldValue(m, f.key, f.kind, f.inline, &v) {
			continue
		}
		f.put(dst, v)
		if f.at != nil {
			*f.at(dst) = m.pos(f.key)
		}
	}
}

// fieldValue decodes the given field k of m as kind says, reporting what
// is wrong with it.
func (l *loader) fieldValue(m *mapping, k string, kd kind, inline string, v *value) bool {
	var ok bool
	switch kd {
	case kString, kUpper, kStrPtr:
		v.s, ok = m.str(k)
	case kInt, kIntPtr:
		if p := m.int(k); p != nil {
			v.i, ok = *p, true
		}
	case kBool, kBoolPtr:
		if p := m.bool(k); p != nil {
			v.b, ok = *p, true
		}
	case kInts:
		v.ints = m.ints(k)
		ok = v.ints != nil
	case kUpperList:
		v.strs, _ = m.strs(k)
		for i := range v.strs {
			v.strs[i] = strings.ToUpper(v.strs[i])
		}
		ok = v.strs != nil
	case kSecret:
		var s string
		if s, ok = m.str(k); ok {
			v.sec = Secret{Value: s, Pos: m.pos(k)}
			if isRef(s) {
				v.sec.Ref = s
			}
		}
	case kPath:
		v.s, ok = m.str(k)
		v.s = relTo(filepath.Dir(m.file), v.s)
	case kScript:
		return l.scriptFile(m, k, inline, v)
	}
	return ok
}

// scriptFile reads the script file field k names, inside the site's
// folder, unless the inline field is given as well.
func (l *loader) scriptFile(m *mapping, k, inline string, v *value) bool {
	if m.has(inline) {
		l.add(m.pos(k), m.sub(k), "give %s or %s, not both", inline, k)
		return false
	}
	name, _ := m.str(k)
	b, p, err := l.readRef(m.file, name, safefile.Script)
	if err != nil {
		l.add(m.pos(k), m.sub(k), "cannot read %s: %v", p, err)
		return false
	}
	if !utf8.Valid(b) {
		// The gateway would store it altered, and plans never settle.
		line := 1 + bytes.Count(b[:invalidAt(b)], []byte("\n"))
		l.add(m.pos(k), m.sub(k), "%s is not UTF-8 text (line %d): save it as UTF-8", p, line)
		return false
	}
	v.s = string(b)
	return true
}
