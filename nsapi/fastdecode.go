package nsapi

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// A device list page is the largest answer gwsync reads (500 devices, some
// 250 kB), and decoding it with encoding/json was most of the client's CPU
// for reading a gateway. A page as gateways write it is read here in one
// pass, without reflection, and the strings of the page are taken from one
// copy of its bytes rather than allocated one by one (so the devices of a
// page share that copy).
//
// The result must be exactly the one json.Unmarshal gives into a zero
// deviceListWire. So this reader takes only what it is sure of and refuses
// everything else: a string with an escape or invalid UTF-8, a key that
// encoding/json might match to a field although it is not exactly the
// field's name (it matches keys without regard to case, Unicode case
// included), a key given twice (encoding/json merges the second value into
// the first), a value of another type than the field's, invalid JSON or
// data after the page. A refused page is decoded by encoding/json from the
// start, so errors and odd inputs behave exactly as they did before.

// fastDecoder is a decode target that can read its body faster than
// encoding/json. decodeFast reports whether it did; when it did not, the
// target is untouched and the body must be decoded with encoding/json.
type fastDecoder interface {
	decodeFast(body []byte) bool
}

var _ fastDecoder = (*deviceListWire)(nil)

// maxSkipDepth is the deepest nesting accepted in the value of an unknown
// key. encoding/json accepts 10,000 levels in all; staying far below keeps
// the reader from accepting what encoding/json would refuse.
const maxSkipDepth = 100

// The JSON names of the fields of a page, of a device, of an application
// and of a profile reference. A key that is none of them exactly, but is one
// of them in another letter case, is refused.
var (
	pageNames = []string{"devTotalCount", "deviceResult", "appTotalCount", "appResult",
		"pfTotalCount", "profileResult", "channelPlan", "disable"}
	deviceNames = []string{"devEUI", "name", "applicationID", "appName", "description",
		"profileID", "profileName", "fCntUp", "fCntDown", "skipFCntCheck", "appKey", "devAddr",
		"appSKey", "nwkSKey", "supportsJoin", "active", "lastSeenAt", "mbMode", "mbFramePort",
		"mbTcpPort", "lastSeenAtTime", "fPort", "payloadCodecID", "payloadName",
		"nwksKey", "payloadCodeID"}
	applicationNames = []string{"applicationID", "appName"}
	profileRefNames  = []string{"profileID", "profileName", "supportsJoin"}
)

// decodeFast reads a device list page into w, which must be zero (a page is
// decoded into a new value; encoding/json would merge into a non-zero one).
func (w *deviceListWire) decodeFast(body []byte) bool {
	if !w.isZero() {
		return false
	}
	d := pageDecoder{b: body, s: string(body)}
	var page deviceListWire
	l := &page.DeviceList
	var seen fieldSet
	ok := d.object(func(key string) bool {
		switch key {
		case "devTotalCount":
			return seen.first(0) && d.flexInt(&l.DevTotalCount)
		case "deviceResult":
			return seen.first(1) && d.devices(&page.DeviceResult)
		case "appTotalCount":
			return seen.first(2) && d.flexInt(&l.AppTotalCount)
		case "appResult":
			return seen.first(3) && d.applications(&l.AppResult)
		case "pfTotalCount":
			return seen.first(4) && d.flexInt(&l.PfTotalCount)
		case "profileResult":
			return seen.first(5) && d.profileRefs(&l.ProfileResult)
		case "channelPlan":
			return seen.first(6) && d.str(&l.ChannelPlan)
		case "disable":
			return seen.first(7) && d.boolean(&l.Disable)
		}
		return d.unknown(key, pageNames)
	})
	if !ok || !d.end() {
		return false
	}
	page.compact()
	*w = page
	return true
}

// compact moves the page's strings, which are cut from the copy of the
// page's bytes, into one buffer of their own: they are about a third of
// the page, which is then not kept alive by them (20,000 devices: 10.8 MB
// of pages, 4 MB of strings).
func (w *deviceListWire) compact() {
	var fields []*string
	for i := range w.DeviceResult {
		dv := &w.DeviceResult[i]
		p := &dv.devicePlain
		fields = append(fields, &p.DevEUI, &p.Name, (*string)(&p.ApplicationID), &p.AppName, &p.Description,
			&p.ProfileID, &p.ProfileName, &p.AppKey, &p.DevAddr, &p.AppSKey, &p.NwkSKey, &p.LastSeenAt,
			&p.MbMode, &p.LastSeenAtTime, (*string)(&p.PayloadCodecID), &p.PayloadName)
		if dv.NwksKey != nil {
			fields = append(fields, dv.NwksKey)
		}
		if dv.PayloadCodeID != nil {
			fields = append(fields, (*string)(dv.PayloadCodeID))
		}
	}
	l := &w.DeviceList
	for i := range l.AppResult {
		a := &l.AppResult[i]
		fields = append(fields, (*string)(&a.ApplicationID), &a.AppName)
	}
	for i := range l.ProfileResult {
		r := &l.ProfileResult[i]
		fields = append(fields, &r.ProfileID, &r.ProfileName)
	}
	fields = append(fields, &l.ChannelPlan)
	n := 0
	for _, f := range fields {
		n += len(*f)
	}
	var b strings.Builder
	b.Grow(n)
	for _, f := range fields {
		b.WriteString(*f)
	}
	all := b.String()
	for _, f := range fields {
		k := len(*f)
		*f, all = all[:k], all[k:]
	}
}

// isZero reports whether w is the zero value.
func (w *deviceListWire) isZero() bool {
	l := &w.DeviceList
	return l.DevTotalCount == 0 && l.DeviceResult == nil && l.AppTotalCount == 0 && l.AppResult == nil &&
		l.PfTotalCount == 0 && l.ProfileResult == nil && l.ChannelPlan == "" && !l.Disable &&
		w.DeviceResult == nil
}

// device reads one device object into dev, which is zero.
func (d *pageDecoder) device(dev *deviceWire) bool {
	p := &dev.devicePlain
	var seen fieldSet
	return d.object(func(key string) bool {
		switch key {
		case "devEUI":
			return seen.first(0) && d.str(&p.DevEUI)
		case "name":
			return seen.first(1) && d.str(&p.Name)
		case "applicationID":
			return seen.first(2) && d.flexString(&p.ApplicationID)
		case "appName":
			return seen.first(3) && d.str(&p.AppName)
		case "description":
			return seen.first(4) && d.str(&p.Description)
		case "profileID":
			return seen.first(5) && d.str(&p.ProfileID)
		case "profileName":
			return seen.first(6) && d.str(&p.ProfileName)
		case "fCntUp":
			return seen.first(7) && d.flexInt(&p.FCntUp)
		case "fCntDown":
			return seen.first(8) && d.flexInt(&p.FCntDown)
		case "skipFCntCheck":
			return seen.first(9) && d.boolean(&p.SkipFCntCheck)
		case "appKey":
			return seen.first(10) && d.str(&p.AppKey)
		case "devAddr":
			return seen.first(11) && d.str(&p.DevAddr)
		case "appSKey":
			return seen.first(12) && d.str(&p.AppSKey)
		case "nwkSKey":
			return seen.first(13) && d.str(&p.NwkSKey)
		case "supportsJoin":
			return seen.first(14) && d.boolean(&p.SupportsJoin)
		case "active":
			return seen.first(15) && d.boolean(&p.Active)
		case "lastSeenAt":
			return seen.first(16) && d.str(&p.LastSeenAt)
		case "mbMode":
			return seen.first(17) && d.str(&p.MbMode)
		case "mbFramePort":
			return seen.first(18) && d.flexInt(&p.MbFramePort)
		case "mbTcpPort":
			return seen.first(19) && d.flexInt(&p.MbTcpPort)
		case "lastSeenAtTime":
			return seen.first(20) && d.str(&p.LastSeenAtTime)
		case "fPort":
			return seen.first(21) && d.flexInt(&p.FPort)
		case "payloadCodecID":
			return seen.first(22) && d.flexString(&p.PayloadCodecID)
		case "payloadName":
			return seen.first(23) && d.str(&p.PayloadName)
		case "nwksKey":
			return seen.first(24) && d.strPtr(&dev.NwksKey)
		case "payloadCodeID":
			return seen.first(25) && d.flexStringPtr(&dev.PayloadCodeID)
		}
		return d.unknown(key, deviceNames)
	})
}

// application reads one appResult entry into a, which is zero.
func (d *pageDecoder) application(a *Application) bool {
	var seen fieldSet
	return d.object(func(key string) bool {
		switch key {
		case "applicationID":
			return seen.first(0) && d.flexString(&a.ApplicationID)
		case "appName":
			return seen.first(1) && d.str(&a.AppName)
		}
		return d.unknown(key, applicationNames)
	})
}

// profileRef reads one profileResult entry into p, which is zero.
func (d *pageDecoder) profileRef(p *ProfileRef) bool {
	var seen fieldSet
	return d.object(func(key string) bool {
		switch key {
		case "profileID":
			return seen.first(0) && d.str(&p.ProfileID)
		case "profileName":
			return seen.first(1) && d.str(&p.ProfileName)
		case "supportsJoin":
			return seen.first(2) && d.boolean(&p.SupportsJoin)
		}
		return d.unknown(key, profileRefNames)
	})
}

// devices reads the deviceResult array into *list, which is nil. Once the
// first device is read, the list is made long enough for as many devices
// of its size as the rest of the page can hold (taking a device to be at
// least minDeviceBytes long, so that a first device given as null or {}
// does not make the list huge).
func (d *pageDecoder) devices(list *[]deviceWire) bool {
	const minDeviceBytes = 256
	return d.array(func() bool {
		start := d.i
		*list = append(*list, deviceWire{})
		ok := d.element(func() bool { return d.device(&(*list)[len(*list)-1]) })
		if ok && len(*list) == 1 {
			*list = slices.Grow(*list, (len(d.b)-d.i)/max(d.i-start, minDeviceBytes))
		}
		return ok
	}, func() { *list = []deviceWire{} })
}

// applications reads the appResult array into *list, which is nil.
func (d *pageDecoder) applications(list *[]Application) bool {
	return d.array(func() bool {
		*list = append(*list, Application{})
		return d.element(func() bool { return d.application(&(*list)[len(*list)-1]) })
	}, func() { *list = []Application{} })
}

// profileRefs reads the profileResult array into *list, which is nil.
func (d *pageDecoder) profileRefs(list *[]ProfileRef) bool {
	return d.array(func() bool {
		*list = append(*list, ProfileRef{})
		return d.element(func() bool { return d.profileRef(&(*list)[len(*list)-1]) })
	}, func() { *list = []ProfileRef{} })
}

// fieldSet is the fields of one object already read, by their number.
type fieldSet uint32

// first marks field n read and reports whether it was not yet: a key given
// twice is refused.
func (s *fieldSet) first(n uint) bool {
	if *s&(1<<n) != 0 {
		return false
	}
	*s |= 1 << n
	return true
}

// pageDecoder is the reader of one page: a tokenizer over its bytes that
// accepts only valid JSON.
type pageDecoder struct {
	b []byte // the page
	s string // the page as a string: strings are substrings of it
	i int    // the next byte to read

	// Pointer fields point into these, a few dozen at a time.
	strs  []string
	flexs []FlexString
}

// peek skips white space and returns the next byte, or 0 at the end.
func (d *pageDecoder) peek() byte {
	if d.i < len(d.b) && d.b[d.i] > ' ' {
		return d.b[d.i]
	}
	return d.skipSpace()
}

// skipSpace is peek past white space.
func (d *pageDecoder) skipSpace() byte {
	for d.i < len(d.b) {
		switch c := d.b[d.i]; c {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return c
		}
	}
	return 0
}

// consume skips white space and reads c, if it is next.
func (d *pageDecoder) consume(c byte) bool {
	if d.peek() == c {
		d.i++
		return true
	}
	return false
}

// end reports whether only white space is left.
func (d *pageDecoder) end() bool {
	d.peek()
	return d.i == len(d.b)
}

// object reads an object, calling member after each key to read its value.
func (d *pageDecoder) object(member func(key string) bool) bool {
	if !d.consume('{') {
		return false
	}
	if d.consume('}') {
		return true
	}
	for {
		key, ok := d.plainString()
		if !ok || !d.consume(':') || !member(key) {
			return false
		}
		if !d.consume(',') {
			return d.consume('}')
		}
	}
}

// array reads an array or null. It calls elem for each element, and empty
// for an empty array (encoding/json makes it an empty slice, and leaves a
// slice nil for null).
func (d *pageDecoder) array(elem func() bool, empty func()) bool {
	if d.peek() == 'n' {
		return d.literal("null")
	}
	if !d.consume('[') {
		return false
	}
	if d.consume(']') {
		empty()
		return true
	}
	for {
		if !elem() {
			return false
		}
		if !d.consume(',') {
			return d.consume(']')
		}
	}
}

// element reads an array element that is an object (read by obj) or null,
// which encoding/json leaves a zero struct.
func (d *pageDecoder) element(obj func() bool) bool {
	switch d.peek() {
	case '{':
		return obj()
	case 'n':
		return d.literal("null")
	}
	return false
}

// literal reads word (true, false or null).
func (d *pageDecoder) literal(word string) bool {
	if !strings.HasPrefix(d.s[d.i:], word) {
		return false
	}
	d.i += len(word)
	return true
}

// plainString reads a string and returns its content, a substring of the
// page. It refuses an escape (left to encoding/json), a control character
// (invalid JSON) and invalid UTF-8 (which encoding/json replaces with
// U+FFFD); anything else encoding/json takes as it is.
func (d *pageDecoder) plainString() (string, bool) {
	if d.peek() != '"' {
		return "", false
	}
	start := d.i + 1
	ascii := true
	for i := start; i < len(d.b); i++ {
		for i < len(d.b) && plainASCII[d.b[i]] {
			i++
		}
		if i == len(d.b) {
			break
		}
		switch c := d.b[i]; {
		case c == '"':
			if !ascii && !utf8.Valid(d.b[start:i]) {
				return "", false
			}
			d.i = i + 1
			return d.s[start:i], true
		case c >= utf8.RuneSelf:
			ascii = false
		default: // a backslash or a control character
			return "", false
		}
	}
	return "", false
}

// plainASCII holds the bytes that plainString takes without a second look:
// ASCII but for control characters, the quote and the backslash.
var plainASCII = func() (t [256]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// number reads a number and returns its text.
func (d *pageDecoder) number() (string, bool) {
	d.peek()
	s := jsonScanner{b: d.b, i: d.i}
	if s.number() != nil {
		return "", false
	}
	start := d.i
	d.i = s.i
	return d.s[start:d.i], true
}

// str reads a string field. null leaves it as it is, as encoding/json does
// for a string.
func (d *pageDecoder) str(dst *string) bool {
	switch d.peek() {
	case '"':
		v, ok := d.plainString()
		*dst = v
		return ok
	case 'n':
		return d.literal("null")
	}
	return false
}

// boolean reads a bool field. null leaves it as it is.
func (d *pageDecoder) boolean(dst *bool) bool {
	switch d.peek() {
	case 't':
		*dst = true
		return d.literal("true")
	case 'f':
		*dst = false
		return d.literal("false")
	case 'n':
		return d.literal("null")
	}
	return false
}

// flexString reads a FlexString as FlexString.UnmarshalJSON does: a
// string, a number's text, or "" for null.
func (d *pageDecoder) flexString(dst *FlexString) bool {
	switch c := d.peek(); {
	case c == '"':
		v, ok := d.plainString()
		*dst = FlexString(v)
		return ok
	case c == '-' || '0' <= c && c <= '9':
		v, ok := d.number()
		*dst = FlexString(v)
		return ok
	case c == 'n':
		*dst = ""
		return d.literal("null")
	}
	return false
}

// flexInt reads a FlexInt. The common forms (a number or a string of at
// most 18 digits, no sign but '-') are read here; any other number or
// string is handed to FlexInt.UnmarshalJSON, as encoding/json does with
// the same bytes, and its error refuses the page.
func (d *pageDecoder) flexInt(dst *FlexInt) bool {
	var (
		start int
		text  string
		ok    bool
	)
	switch c := d.peek(); {
	case c == '"':
		start = d.i
		text, ok = d.plainString()
	case c == '-' || '0' <= c && c <= '9':
		start = d.i
		text, ok = d.number()
	case c == 'n':
		*dst = 0
		return d.literal("null")
	}
	if !ok {
		return false
	}
	if n, ok := smallInt(text); ok {
		*dst = FlexInt(n)
		return true
	}
	return dst.UnmarshalJSON(d.b[start:d.i]) == nil
}

// smallInt is s as an integer when s is at most 18 decimal digits after an
// optional '-': strconv.ParseInt reads those the same, and they cannot
// overflow.
func smallInt(s string) (int64, bool) {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// strPtr reads a *string field: nil for null, as encoding/json sets it.
func (d *pageDecoder) strPtr(dst **string) bool {
	if d.peek() == 'n' {
		*dst = nil
		return d.literal("null")
	}
	if len(d.strs) == 0 {
		d.strs = make([]string, 64)
	}
	p := &d.strs[0]
	if !d.str(p) {
		return false
	}
	d.strs = d.strs[1:]
	*dst = p
	return true
}

// flexStringPtr reads a *FlexString field: nil for null.
func (d *pageDecoder) flexStringPtr(dst **FlexString) bool {
	if d.peek() == 'n' {
		*dst = nil
		return d.literal("null")
	}
	if len(d.flexs) == 0 {
		d.flexs = make([]FlexString, 64)
	}
	p := &d.flexs[0]
	if !d.flexString(p) {
		return false
	}
	d.flexs = d.flexs[1:]
	*dst = p
	return true
}

// unknown skips the value of a key that is none of names, as encoding/json
// ignores it. It refuses a key that encoding/json could still match to one
// of names: one in another letter case (strings.EqualFold folds as
// encoding/json does, the Kelvin sign to k and the long s to s too), and,
// to be safe, any key that is not ASCII.
func (d *pageDecoder) unknown(key string, names []string) bool {
	for i := 0; i < len(key); i++ {
		if key[i] >= utf8.RuneSelf {
			return false
		}
	}
	for _, n := range names {
		if strings.EqualFold(key, n) {
			return false
		}
	}
	// The scanner checks the value as encoding/json does; its depth
	// starts so that it refuses values nested deeper than maxSkipDepth.
	s := jsonScanner{b: d.b, i: d.i, depth: maxDepth - maxSkipDepth}
	if _, _, err := s.value(); err != nil {
		return false
	}
	d.i = s.i
	return true
}
