package nsapi

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The oracle of these tests is encoding/json: whatever page the fast reader
// takes, json.Unmarshal must take too and give the same deviceListWire; and
// decodeBody (the fast reader, or encoding/json when it refuses) must give
// what json.Unmarshal gives, error or not.

var fastDecodeSeed = flag.Uint64("seed", 0, "seed of TestFastDecodeAgrees (0: a new one)")

// CheckFastDecode is checkFastDecode for the tests of package nsapi_test,
// which can use gwsim.
func CheckFastDecode(t *testing.T, page []byte) (fast bool) {
	t.Helper()
	return checkFastDecode(t, page)
}

// DecodeDevicePage decodes a device list page as a page answer is decoded:
// with the fast reader first when fast is set, else with encoding/json. It
// is for the benchmarks of package nsapi_test.
func DecodeDevicePage(page []byte, fast bool) (int, error) {
	var w deviceListWire
	if fast && w.decodeFast(page) {
		return len(w.DeviceResult), nil
	}
	err := json.Unmarshal(page, &w)
	return len(w.DeviceResult), err
}

// checkFastDecode checks one device page against encoding/json and
// reports whether the fast reader took it.
func checkFastDecode(t *testing.T, page []byte) (fast bool) {
	t.Helper()
	return checkFast[deviceListWire](t, "/api/urdevices", page)
}

// checkFast checks one answer body decoded into a T against encoding/json
// and reports whether the fast reader took it: what it takes, json.Unmarshal
// must take too and give the same T; what it refuses, it leaves untouched;
// and decodeBody (the fast reader, or encoding/json when it refuses) must
// give what json.Unmarshal gives, error or not. url names the answer.
func checkFast[T any, P interface {
	*T
	fastDecoder
}](t *testing.T, url string, page []byte) (fast bool) {
	t.Helper()
	diff := func(want, got T) string { return cmp.Diff(want, got, cmp.AllowUnexported(deviceWire{})) }
	var zero, want, got T
	wantErr := json.Unmarshal(page, &want)
	fast = P(&got).decodeFast(page)
	if fast {
		if wantErr != nil {
			t.Fatalf("the fast reader took an answer encoding/json refuses (%v):\n%s", wantErr, page)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("the fast reader and encoding/json differ (-json +fast):\n%s\nanswer:\n%s", diff(want, got), page)
		}
	} else if !reflect.DeepEqual(got, zero) {
		t.Fatalf("the fast reader refused an answer but changed its target:\n%s", page)
	}

	// decodeBody reads the body without the white space around it
	// (bytes.TrimSpace, which trims more than JSON white space), and an
	// empty or null body as no answer at all.
	b := bytes.TrimSpace(page)
	if len(b) == 0 || string(b) == "null" || string(b) == `""` {
		return fast
	}
	want = zero
	wantErr = json.Unmarshal(b, &want)
	var viaBody T
	_, bodyErr := decodeBody("GET", url, page, bodyStatus{}, &viaBody)
	if (bodyErr == nil) != (wantErr == nil) {
		t.Fatalf("decodeBody error %v, encoding/json error %v, answer:\n%s", bodyErr, wantErr, page)
	}
	if wantErr != nil && !strings.HasSuffix(bodyErr.Error(), ": "+wantErr.Error()) {
		t.Fatalf("decodeBody error %q, want it to end with encoding/json's %q", bodyErr, wantErr)
	}
	if !reflect.DeepEqual(viaBody, want) {
		t.Fatalf("decodeBody and encoding/json differ (-json +decodeBody):\n%s\nanswer:\n%s", diff(want, viaBody), page)
	}
	return fast
}

// TestFastDecodeAgrees decodes random pages with the fast reader and with
// encoding/json: clean pages (what a gateway may send, which the fast
// reader must all take) and odd ones (escapes, unknown and duplicate keys,
// keys in another case, wrong types, broken JSON).
func TestFastDecodeAgrees(t *testing.T) {
	seed := *fastDecodeSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	// Logged first, so that any failure shows it.
	t.Logf("seed %d; replay: go test ./nsapi -run TestFastDecodeAgrees -seed %d", seed, seed)
	g := newPageGen(t, rand.New(rand.NewPCG(seed, 0)))

	const clean, odd = 400, 4000
	for i := range clean {
		g.odd = false
		page := g.page()
		if !checkFastDecode(t, page) {
			t.Fatalf("clean page %d: the fast reader refused it:\n%s", i, page)
		}
	}
	fast := 0
	for range odd {
		g.odd = true
		if checkFastDecode(t, g.page()) {
			fast++
		}
	}
	t.Logf("odd pages: %d of %d taken by the fast reader", fast, odd)
	// Most odd pages hold something the fast reader refuses, but not all:
	// a generator that never reached it would prove nothing.
	if fast == 0 || fast == odd {
		t.Errorf("%d of %d odd pages taken by the fast reader: the generator is broken", fast, odd)
	}
}

// FuzzDeviceListDecode holds the fast reader to encoding/json on any input.
func FuzzDeviceListDecode(f *testing.F) {
	for _, s := range []string{
		`{}`,
		`{"devTotalCount":"1","deviceResult":[{"devEUI":"24E124136A456465","name":"em300","applicationID":"1","fCntUp":0,"mbFramePort":"0","nwksKey":"","payloadCodeID":"0"}],"appTotalCount":"1","appResult":[{"appName":"cloud","applicationID":"1"}],"pfTotalCount":"1","profileResult":[{"profileID":"p","profileName":"A","supportsJoin":true}],"channelPlan":"EU868","disable":false}`,
		`{"deviceResult":[null,{"fPort":1.5e1,"fCntUp":"-7","applicationID":12,"payloadCodeID":null}],"x":{"y":[1,"\u00e9",{}]}}`,
		`{"devTotalCount":"9223372036854775808","deviceResult":[{"devEUI":"a","devEUI":"b"}]}`,
		`{"DeviceResult":[{"devEUI":"a"}],"deviceresult":[]}`,
		"{\"deviceResult\":[{\"nwKSKey\":\"\xe2\x84\xaa\"}]}",
		`{"channelPlan":"EU868"} x`,
		`{"deviceResult":[{"name":"caf` + "\xc3\xa9" + `","description":"a\"b"}]`,
	} {
		f.Add([]byte(s))
	}
	g := newPageGen(f, rand.New(rand.NewPCG(1, 2)))
	for i := range 8 {
		g.odd = i%2 == 1
		f.Add(g.page())
	}
	f.Fuzz(func(t *testing.T, page []byte) {
		checkFastDecode(t, page)
	})
}

// TestFastDecodeSpecExample: the spec's device list answer (3.3) takes the
// fast path.
func TestFastDecodeSpecExample(t *testing.T) {
	raw, err := readSpecBody("3.3-device-list-all.response.json")
	if err != nil {
		t.Fatal(err)
	}
	if !checkFastDecode(t, raw) {
		t.Fatalf("the fast reader refused the spec's example:\n%s", raw)
	}
	var w deviceListWire
	w.decodeFast(raw)
	if len(w.DeviceResult) != 1 || w.DeviceResult[0].device().NwkSKey != "" || w.DevTotalCount != 1 || len(w.ProfileResult) != 3 {
		t.Errorf("the spec's example read as %+v", w)
	}
}

func readSpecBody(name string) ([]byte, error) {
	var msg struct {
		Body json.RawMessage `json:"body"`
	}
	b, err := os.ReadFile(filepath.Join("testdata", "spec", name))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &msg); err != nil {
		return nil, err
	}
	return msg.Body, nil
}

// TestFastDecodeRefuses: pages the fast reader must leave to encoding/json,
// each of which it would otherwise read wrongly.
func TestFastDecodeRefuses(t *testing.T) {
	for _, page := range []string{
		`{"deviceResult":[{"name":"a\u00e9"}]}`,                        // escape
		`{"deviceResult":[{"Name":"a"}]}`,                              // another case
		"{\"deviceResult\":[{\"nwk\xc5\xbfKey\":\"a\"}]}",              // long s folds to s
		`{"deviceResult":[{"name":"a","name":"b"}]}`,                   // duplicate
		`{"deviceResult":[{"name":"a"}],"deviceResult":[{"fPort":1}]}`, // merged by encoding/json
		"{\"channelPlan\":\"\xff\"}",                                   // invalid UTF-8
		`{"disable":"true"}`,                                           // wrong type
		`{"devTotalCount":1.5}`,                                        // FlexInt error
		`{"devTotalCount":1}{}`,                                        // trailing data
		`{"devTotalCount":1`,                                           // truncated
		`{"x":` + strings.Repeat("[", maxSkipDepth+1) + strings.Repeat("]", maxSkipDepth+1) + `}`,
		`null`,
		`[]`,
	} {
		var w deviceListWire
		if w.decodeFast([]byte(page)) {
			t.Errorf("the fast reader took %s", page)
		}
		checkFastDecode(t, []byte(page))
	}
	var w deviceListWire
	w.ChannelPlan = "set"
	if w.decodeFast([]byte(`{}`)) {
		t.Errorf("the fast reader decoded into a target that is not zero")
	}
}

// TestFastDecodeKnowsEveryField: the fast reader's name lists are the JSON
// names of the types it fills, so that a field added to them is not
// skipped as an unknown key.
func TestFastDecodeKnowsEveryField(t *testing.T) {
	for _, c := range []struct {
		typ   reflect.Type
		names []string
	}{
		{reflect.TypeFor[deviceListWire](), pageNames},
		{reflect.TypeFor[deviceWire](), deviceNames},
		{reflect.TypeFor[Application](), applicationNames},
		{reflect.TypeFor[ProfileRef](), profileRefNames},
	} {
		var want []string
		for _, f := range jsonFields(c.typ) {
			want = append(want, f.name)
		}
		got := slices.Clone(c.names)
		slices.Sort(got)
		slices.Sort(want)
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%v: names (-fields +list):\n%s", c.typ, d)
		}
	}
}

// jsonField is a field as encoding/json sees it: its JSON name and type.
type jsonField struct {
	name string
	typ  reflect.Type
}

// jsonFields lists the JSON fields of struct type t, embedded structs'
// fields included; of two fields of the same name the shallower wins (the
// only rule of encoding/json these types need).
func jsonFields(t reflect.Type) []jsonField {
	type found struct {
		jsonField
		depth int
	}
	var all []found
	var walk func(t reflect.Type, depth int)
	walk = func(t reflect.Type, depth int) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if f.Anonymous && name == "" {
				walk(f.Type, depth+1)
				continue
			}
			if name == "" {
				name = f.Name
			}
			all = append(all, found{jsonField{name, f.Type}, depth})
		}
	}
	walk(t, 0)
	var out []jsonField
	for _, f := range all {
		shadowed := slices.ContainsFunc(all, func(g found) bool { return g.name == f.name && g.depth < f.depth })
		if !shadowed {
			out = append(out, f.jsonField)
		}
	}
	return out
}

// pageGen writes random device list pages. Field names come from the
// types (jsonFields), not from the fast reader's lists. A clean page is
// valid JSON with every known field at most once and of its type; an odd
// page may hold anything.
type pageGen struct {
	tb  testing.TB
	r   *rand.Rand
	odd bool
	buf []byte

	pageFields, deviceFields, appFields, profileFields []jsonField
}

func newPageGen(tb testing.TB, r *rand.Rand) *pageGen {
	return &pageGen{
		tb: tb, r: r,
		pageFields:    jsonFields(reflect.TypeFor[deviceListWire]()),
		deviceFields:  jsonFields(reflect.TypeFor[deviceWire]()),
		appFields:     jsonFields(reflect.TypeFor[Application]()),
		profileFields: jsonFields(reflect.TypeFor[ProfileRef]()),
	}
}

// chance is true with probability 1/n.
func (g *pageGen) chance(n int) bool { return g.r.IntN(n) == 0 }

func (g *pageGen) pick(s ...string) string { return s[g.r.IntN(len(s))] }

func (g *pageGen) emit(s string) { g.buf = append(g.buf, s...) }

// ws writes white space, mostly none.
func (g *pageGen) ws() {
	if g.chance(3) {
		for range g.r.IntN(3) + 1 {
			g.emit(g.pick(" ", "\t", "\n", "\r", "  "))
		}
	}
}

// page returns a new page.
func (g *pageGen) page() []byte {
	g.buf = g.buf[:0]
	g.ws()
	if g.odd && g.chance(40) {
		g.emit(g.pick(`[]`, `"x"`, `5`, `true`, `null`, `[{}]`))
	} else {
		g.object(g.pageFields)
	}
	g.ws()
	if g.odd && g.chance(4) {
		g.mutate()
	}
	return slices.Clone(g.buf)
}

// mutate breaks the page: truncates it, adds, removes or changes a byte,
// or appends data.
func (g *pageGen) mutate() {
	n := len(g.buf)
	switch g.r.IntN(5) {
	case 0:
		g.buf = g.buf[:1+g.r.IntN(n)]
	case 1:
		i := g.r.IntN(n + 1)
		const chars = `{}[]:,"\ 0-1eE.tfnx`
		g.buf = slices.Insert(g.buf, i, chars[g.r.IntN(len(chars))])
	case 2:
		i := g.r.IntN(n)
		g.buf = slices.Delete(g.buf, i, i+1)
	case 3:
		g.buf[g.r.IntN(n)] = byte(g.r.IntN(256))
	case 4:
		g.emit(g.pick("x", "{}", ",", "]", "}", " ", "\n\t", "null"))
	}
}

// object writes an object of a random subset of fields in random order;
// an odd one also has unknown keys, keys in another case and duplicates.
func (g *pageGen) object(fields []jsonField) {
	g.emit("{")
	n := 0
	member := func(key string, value func()) {
		if n > 0 {
			g.ws()
			g.emit(",")
		}
		n++
		g.ws()
		g.emit(key)
		g.ws()
		g.emit(":")
		g.ws()
		value()
	}
	order := g.r.Perm(len(fields))
	if !g.odd && g.chance(2) {
		order = order[:g.r.IntN(len(order)+1)]
	}
	for _, i := range order {
		f := fields[i]
		if g.odd && g.chance(3) {
			continue
		}
		member(g.key(f.name), func() { g.value(f.typ) })
		if g.odd && g.chance(30) {
			member(g.key(f.name), func() { g.value(f.typ) })
		}
		if g.odd && g.chance(15) {
			member(g.quote(g.unknownKey()), func() { g.anyValue(0) })
		}
	}
	g.ws()
	g.emit("}")
}

// key is the quoted key of name: in an odd page, sometimes in another
// case, with a letter that folds to one of it, or with an escape.
func (g *pageGen) key(name string) string {
	if !g.odd || !g.chance(20) {
		return `"` + name + `"`
	}
	b := []byte(name)
	i := g.r.IntN(len(b))
	switch g.r.IntN(4) {
	case 0: // another letter case
		b[i] ^= 0x20
		return `"` + string(b) + `"`
	case 1: // a letter that encoding/json folds to one of the name's
		for j, c := range b {
			if alt := foldsTo[c]; alt != "" && (j >= i || g.chance(2)) {
				return `"` + name[:j] + alt + name[j+1:] + `"`
			}
		}
		return `"` + strings.ToUpper(name) + `"`
	case 2: // an escaped letter
		return `"` + name[:i] + fmt.Sprintf(`\u%04x`, name[i]) + name[i+1:] + `"`
	default: // a longer name
		return `"` + name + "x" + `"`
	}
}

// foldsTo holds, for some ASCII letters, a letter that is not ASCII and
// that encoding/json matches to it: the Kelvin sign and the long s fold to
// k and s.
var foldsTo = map[byte]string{'k': "\u212a", 'K': "\u212a", 's': "\u017f", 'S': "\u017f"}

func (g *pageGen) unknownKey() string {
	return g.pick("extra", "x", "devices", "appKeyX", "deviceResults", "", "names", "q1")
}

func (g *pageGen) quote(s string) string { return `"` + s + `"` }

// value writes a value for a field of type t.
func (g *pageGen) value(t reflect.Type) {
	if g.odd && g.chance(12) {
		g.anyValue(0)
		return
	}
	switch t {
	case reflect.TypeFor[string](), reflect.TypeFor[*string]():
		g.stringValue()
	case reflect.TypeFor[bool]():
		if g.odd && g.chance(4) {
			g.emit(g.pick("null", `"true"`, "1", "0"))
		} else {
			g.emit(g.pick("true", "false"))
		}
	case reflect.TypeFor[FlexInt]():
		g.flexIntValue()
	case reflect.TypeFor[FlexString](), reflect.TypeFor[*FlexString]():
		g.flexStringValue()
	case reflect.TypeFor[[]deviceWire]():
		g.array(func() { g.object(g.deviceFields) })
	case reflect.TypeFor[[]Application]():
		g.array(func() { g.object(g.appFields) })
	case reflect.TypeFor[[]ProfileRef]():
		g.array(func() { g.object(g.profileFields) })
	default:
		g.tb.Fatalf("no values for a field of type %v", t)
	}
}

// array writes null, or an array of up to 4 elements (and in an odd page
// sometimes null or something else as an element).
func (g *pageGen) array(elem func()) {
	if g.chance(20) {
		g.emit("null")
		return
	}
	g.emit("[")
	g.ws()
	for i := range g.r.IntN(5) {
		if i > 0 {
			g.ws()
			g.emit(",")
			g.ws()
		}
		switch {
		case g.chance(15):
			g.emit("null")
		case g.odd && g.chance(15):
			g.anyValue(1)
		default:
			elem()
		}
	}
	g.ws()
	g.emit("]")
}

// stringValue writes a string, or null.
func (g *pageGen) stringValue() {
	if g.chance(15) {
		g.emit("null")
		return
	}
	s := g.pick("", "-", "d-1", "24E124136A456465", "5572404c696e6b4c6f52613230313823",
		"ClassA-OTAA", "Zürich ✓", "日本", "🙂", "a b", "\u2028", "\xef\xbf\xbd")
	if g.odd && g.chance(4) {
		s = g.pick(`a\"b`, `\u00e9`, `\n`, `\\`, `\/`, `\ud83d\ude42`, `\ud800`, "\xff", "\xed\xa0\x80", "\xc3", "a\tb", "\x01", `\x`)
	}
	g.emit(`"` + s + `"`)
	if g.odd && g.chance(20) {
		g.buf = g.buf[:len(g.buf)-len(s)-2]
		g.emit(g.pick("1", "true", "{}", "[]", `["a"]`))
	}
}

// flexIntValue writes what a FlexInt may be given.
func (g *pageGen) flexIntValue() {
	n := g.r.Int64N(2000000) - 1000
	switch g.r.IntN(4) {
	case 0:
		g.emit(fmt.Sprint(n))
	case 1:
		g.emit(fmt.Sprintf(`"%d"`, n))
	case 2:
		g.emit(g.pick("0", `"0"`, "null", `""`, "123456789012345678", "-123456789012345678", `"000012"`))
	default:
		if !g.odd {
			g.emit(fmt.Sprint(n))
			return
		}
		g.emit(g.pick("1.0", "1e3", "1.5", "-0", `"-0"`, `" 5 "`, `"-"`, `"+5"`, `"1e3"`, `"1.5"`, `"abc"`,
			"9223372036854775807", "-9223372036854775808", "9223372036854775808", "1234567890123456789",
			"99999999999999999999", "1e400", `"\u0031"`, "true", "{}", "[]", "007", "-", "1.", ".5", "+1",
			`"９"`, "1E2", "-1e-2", "0.0000", "1e18", "1e19", `"9223372036854775807"`))
	}
}

// flexStringValue writes what a FlexString may be given.
func (g *pageGen) flexStringValue() {
	switch g.r.IntN(3) {
	case 0:
		g.emit(fmt.Sprint(g.r.IntN(1000)))
	case 1:
		g.emit(g.pick("null", `"0"`, `"12"`, `""`, "-3", "0"))
	default:
		if !g.odd {
			g.stringValue()
			return
		}
		g.emit(g.pick("1.5e3", "-0", "1E+2", "true", "false", "{}", "[1]", `"\u0032"`, "01", "1e", `"é"`))
	}
}

// anyValue writes a random valid JSON value (and now and then an invalid
// one), nested at most a few levels.
func (g *pageGen) anyValue(depth int) {
	switch k := g.r.IntN(8); {
	case k == 0 && depth < 4:
		g.emit("{")
		for i := range g.r.IntN(3) {
			if i > 0 {
				g.emit(",")
			}
			g.ws()
			g.emit(g.quote(g.pick("a", "name", "devEUI", `\u0041`, "", "é")))
			g.emit(":")
			g.anyValue(depth + 1)
		}
		g.emit("}")
	case k == 1 && depth < 4:
		g.emit("[")
		for i := range g.r.IntN(3) {
			if i > 0 {
				g.emit(",")
			}
			g.anyValue(depth + 1)
			g.ws()
		}
		g.emit("]")
	case k == 2:
		g.stringValue()
	case k == 3:
		g.flexIntValue()
	default:
		g.emit(g.pick("true", "false", "null", "0", "-1.5e-3", `"x"`, `"\"\\\/\b\f\n\r\t\u00e9"`, `"\u12"`, "tru", "nul"))
	}
}
