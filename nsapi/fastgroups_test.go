package nsapi

import (
	"encoding"
	"encoding/json"
	"flag"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The oracle of these tests is encoding/json, as for the device list pages
// (fastdecode_test.go): whatever group list the fast reader takes,
// json.Unmarshal must take too and give the same MulticastGroupList; and
// decodeBody must give what json.Unmarshal gives, error or not.

var groupSeed = flag.Uint64("groupseed", 0, "seed of TestFastGroupsAgree (0: a new one)")

// CheckFastGroups is checkFastGroups for the tests of package nsapi_test,
// which can use gwsim.
func CheckFastGroups(t *testing.T, page []byte) (fast bool) {
	t.Helper()
	return checkFastGroups(t, page)
}

// DecodeGroupPage decodes a group list as a page answer is decoded: with
// the fast reader first when fast is set, else with encoding/json. It is
// for the benchmarks of package nsapi_test.
func DecodeGroupPage(page []byte, fast bool) (int, error) {
	var l MulticastGroupList
	if fast && l.decodeFast(page) {
		return len(l.Result), nil
	}
	err := json.Unmarshal(page, &l)
	return len(l.Result), err
}

// checkFastGroups checks one group list against encoding/json and reports
// whether the fast reader took it.
func checkFastGroups(t *testing.T, page []byte) (fast bool) {
	t.Helper()
	return checkFast[MulticastGroupList](t, "/api/multicast-groups", page)
}

// TestFastGroupsAgree decodes random group lists with the fast reader and
// with encoding/json: clean ones (what a gateway may send, which the fast
// reader must all take) and odd ones (escapes, unknown and duplicate keys,
// keys in another case, wrong types, broken JSON).
func TestFastGroupsAgree(t *testing.T) {
	seed := *groupSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	// Logged first, so that any failure shows it.
	t.Logf("seed %d; replay: go test ./nsapi -run TestFastGroupsAgree -groupseed %d", seed, seed)
	g := newGroupGen(t, rand.New(rand.NewPCG(seed, 0)))

	const clean, odd = 400, 4000
	for i := range clean {
		g.odd = false
		page := g.page()
		if !checkFastGroups(t, page) {
			t.Fatalf("clean group list %d: the fast reader refused it:\n%s", i, page)
		}
	}
	fast := 0
	for range odd {
		g.odd = true
		if checkFastGroups(t, g.page()) {
			fast++
		}
	}
	t.Logf("odd group lists: %d of %d taken by the fast reader", fast, odd)
	// Most odd lists hold something the fast reader refuses, but not all:
	// a generator that never reached it would prove nothing.
	if fast == 0 || fast == odd {
		t.Errorf("%d of %d odd group lists taken by the fast reader: the generator is broken", fast, odd)
	}
}

// FuzzGroupListDecode holds the fast reader to encoding/json on any input.
func FuzzGroupListDecode(f *testing.F) {
	for _, s := range []string{
		`{}`,
		`{"totalCount":"1","result":[{"id":"0663aff7","name":"group1","mcAddr":"11111111","mcNwkSKey":"5572404c696e6b4c6f52613230313823",` +
			`"mcAppSKey":"5572404c696e6b4c6f52613230313823","fCnt":0,"groupType":"CLASS_C","dr":0,"frequency":505300000,"pingSlotPeriod":128,` +
			`"createdAt":"2023-02-02 01:18:10","updatedAt":"2023-02-02 01:27:10","devices":[{"devEUI":"24E124136A456467","name":"em300-470",` +
			`"applicationID":"1","description":"em300","deviceProfileID":"940dcdbe","deviceProfileName":"ClassA-OTAA",` +
			`"deviceStatusBattery":0,"deviceStatusMargin":0,"lastSeenAt":""}]}]}`,
		`{"result":[null,{"devices":null},{"devices":[]},{"devices":[null,{"applicationID":12,"deviceStatusBattery":"-7"}]}],"x":{"y":[1,"\u00e9",{}]}}`,
		`{"totalCount":"9223372036854775808","result":[{"id":"a","id":"b"}]}`,
		`{"Result":[{"id":"a"}],"result":[]}`,
		"{\"result\":[{\"mcNwk\xc5\xbfKey\":\"a\"}]}",
		`{"result":[{"devices":[{"name":"a"}],"devices":[{"devEUI":"b"}]}]}`,
		`{"totalCount":1} x`,
		`{"result":[{"name":"caf` + "\xc3\xa9" + `","groupType":"a\"b"}]`,
	} {
		f.Add([]byte(s))
	}
	g := newGroupGen(f, rand.New(rand.NewPCG(1, 2)))
	for i := range 8 {
		g.odd = i%2 == 1
		f.Add(g.page())
	}
	f.Fuzz(func(t *testing.T, page []byte) {
		checkFastGroups(t, page)
	})
}

// TestFastGroupsSpecExample: the spec's group list answer (4.5) takes the
// fast path.
func TestFastGroupsSpecExample(t *testing.T) {
	raw, err := readSpecBody("4.5-group-list-all.response.json")
	if err != nil {
		t.Fatal(err)
	}
	if !checkFastGroups(t, raw) {
		t.Fatalf("the fast reader refused the spec's example:\n%s", raw)
	}
	var l MulticastGroupList
	l.decodeFast(raw)
	if l.TotalCount != 1 || len(l.Result) != 1 || l.Result[0].Frequency != 505300000 || l.Result[0].Name != "group1" ||
		len(l.Result[0].Devices) != 1 || l.Result[0].Devices[0].DeviceProfileName != "ClassA-OTAA" {
		t.Errorf("the spec's example read as %+v", l)
	}
}

// TestFastGroupsRefuse: group lists the fast reader must leave to
// encoding/json, each of which it would otherwise read wrongly.
func TestFastGroupsRefuse(t *testing.T) {
	for _, page := range []string{
		`{"result":[{"name":"a\u00e9"}]}`,                                    // escape
		`{"result":[{"Name":"a"}]}`,                                          // another case
		`{"result":[{"devices":[{"DEVEUI":"a"}]}]}`,                          // another case, in a member
		"{\"result\":[{\"mcNwk\xc5\xbfKey\":\"a\"}]}",                        // long s folds to s
		`{"result":[{"name":"a","name":"b"}]}`,                               // duplicate
		`{"result":[{"devices":[{"devEUI":"a"}],"devices":[{"name":"b"}]}]}`, // merged by encoding/json
		`{"result":[{"name":"a"}],"result":[{"dr":1}]}`,                      // merged by encoding/json
		"{\"result\":[{\"groupType\":\"\xff\"}]}",                            // invalid UTF-8
		`{"result":[{"devices":{}}]}`,                                        // wrong type
		`{"result":[{"fCnt":1.5}]}`,                                          // FlexInt error
		`{"result":["x"]}`,                                                   // not a group
		`{"totalCount":1}{}`,                                                 // trailing data
		`{"totalCount":1`,                                                    // truncated
		`{"x":` + strings.Repeat("[", maxSkipDepth+1) + strings.Repeat("]", maxSkipDepth+1) + `}`,
		`null`,
		`[]`,
	} {
		var l MulticastGroupList
		if l.decodeFast([]byte(page)) {
			t.Errorf("the fast reader took %s", page)
		}
		checkFastGroups(t, []byte(page))
	}
	for _, l := range []MulticastGroupList{{TotalCount: 1}, {Result: []MulticastGroupInfo{}}} {
		if l.decodeFast([]byte(`{}`)) {
			t.Errorf("the fast reader decoded into a target that is not zero: %+v", l)
		}
	}
}

// TestFastGroupsKnowEveryField: the fast reader's name lists are the JSON
// names of the types it fills (the embedded MulticastGroup's included, as
// encoding/json takes them), so that a field added to them is not skipped
// as an unknown key; and none of those types decodes itself, which would
// make encoding/json read them otherwise.
func TestFastGroupsKnowEveryField(t *testing.T) {
	for _, c := range []struct {
		typ   reflect.Type
		names []string
	}{
		{reflect.TypeFor[MulticastGroupList](), groupListNames},
		{reflect.TypeFor[MulticastGroupInfo](), groupNames},
		{reflect.TypeFor[GroupMember](), memberNames},
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
		// Two names that fold to the same would make encoding/json
		// pick one by its own rules.
		for i, n := range c.names {
			for _, m := range c.names[i+1:] {
				if strings.EqualFold(n, m) {
					t.Errorf("%v: %q and %q are the same name to encoding/json", c.typ, n, m)
				}
			}
		}
		p := reflect.PointerTo(c.typ)
		if p.Implements(reflect.TypeFor[json.Unmarshaler]()) || p.Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
			t.Errorf("%v decodes itself: the fast reader does not read it as encoding/json does", c.typ)
		}
	}
	p := reflect.PointerTo(reflect.TypeFor[MulticastGroup]())
	if p.Implements(reflect.TypeFor[json.Unmarshaler]()) || p.Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
		t.Errorf("MulticastGroup decodes itself: embedded, it would decode the whole group")
	}
}

// TestCompactGroupsTakesEveryString: compact moves every string of a group
// list into one buffer, so a field it forgot would keep the page's bytes
// alive. Every string field of the list's types (found by reflection) is
// set, and after compact each must hold its value and lie inside the one
// buffer.
func TestCompactGroupsTakesEveryString(t *testing.T) {
	l := MulticastGroupList{Result: make([]MulticastGroupInfo, 2)}
	for i := range l.Result {
		l.Result[i].Devices = make([]GroupMember, 3)
	}
	checkCompact(t, &l, l.compact)
}

// TestFastGroupsMembersApart: the members of each group are a slice of
// their own, not a view of the reader's scratch list that the next group
// would write over.
func TestFastGroupsMembersApart(t *testing.T) {
	page := `{"result":[{"devices":[{"devEUI":"a1"},{"devEUI":"a2"}]},{"devices":[{"devEUI":"b1"}]},{"devices":[]},{"devices":null}]}`
	var l MulticastGroupList
	if !l.decodeFast([]byte(page)) {
		t.Fatalf("the fast reader refused %s", page)
	}
	var got [][]string
	for _, g := range l.Result {
		var euis []string
		for _, m := range g.Devices {
			euis = append(euis, m.DevEUI)
		}
		got = append(got, euis)
	}
	if d := cmp.Diff([][]string{{"a1", "a2"}, {"b1"}, nil, nil}, got); d != "" {
		t.Errorf("members (-want +got):\n%s", d)
	}
	if l.Result[2].Devices == nil || l.Result[3].Devices != nil {
		t.Errorf("an empty devices array read as %#v, null as %#v; want empty and nil", l.Result[2].Devices, l.Result[3].Devices)
	}
	l.Result[0].Devices = append(l.Result[0].Devices, GroupMember{DevEUI: "a3"})
	if l.Result[1].Devices[0].DevEUI != "b1" {
		t.Errorf("growing the members of one group changed another's: %+v", l.Result[1].Devices)
	}
}

// groupGen writes random group lists with the generator of device pages'
// values (pageGen). Field names come from the types (jsonFields), not from
// the fast reader's lists.
type groupGen struct {
	*pageGen
	listFields, groupFields, memberFields []jsonField
}

func newGroupGen(tb testing.TB, r *rand.Rand) *groupGen {
	return &groupGen{
		pageGen:      newPageGen(tb, r),
		listFields:   jsonFields(reflect.TypeFor[MulticastGroupList]()),
		groupFields:  jsonFields(reflect.TypeFor[MulticastGroupInfo]()),
		memberFields: jsonFields(reflect.TypeFor[GroupMember]()),
	}
}

// page returns a new group list.
func (g *groupGen) page() []byte {
	g.buf = g.buf[:0]
	g.ws()
	if g.odd && g.chance(40) {
		g.emit(g.pick(`[]`, `"x"`, `5`, `true`, `null`, `[{}]`))
	} else {
		g.object(g.listFields)
	}
	g.ws()
	if g.odd && g.chance(4) {
		g.mutate()
	}
	return slices.Clone(g.buf)
}

// object is pageGen.object with the values of a group list.
func (g *groupGen) object(fields []jsonField) {
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
			member(g.quote(g.pick("extra", "members", "device", "group", "totalcounts", "")), func() { g.anyValue(0) })
		}
	}
	g.ws()
	g.emit("}")
}

// value writes a value for a field of type t.
func (g *groupGen) value(t reflect.Type) {
	if g.odd && g.chance(12) {
		g.anyValue(0)
		return
	}
	switch t {
	case reflect.TypeFor[[]MulticastGroupInfo]():
		g.array(func() { g.object(g.groupFields) })
	case reflect.TypeFor[[]GroupMember]():
		g.array(func() { g.object(g.memberFields) })
	default:
		g.pageGen.value(t)
	}
}
