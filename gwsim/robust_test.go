package gwsim

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gwsync/gwsync/nsapi"
)

// TestPagingOverflow: a limit at the top of int64 with an offset past 0
// once wrapped the page's end around and crashed the simulator; it is code 3
// now, and the gateway keeps serving.
func TestPagingOverflow(t *testing.T) {
	g := newGateway(t, Options{})
	addDevice(t, g, "24E124136A456465", "d1")
	for _, u := range []string{
		"/api/urprofiles?limit=9223372036854775807&offset=1",
		"/api/urdevices?limit=9223372036854775807&offset=1",
		"/api/payloadcodecs?limit=9223372036854775807&offset=1",
		"/api/multicast-groups?limit=1&offset=9223372036854775807",
		"/api/fuota/task?limit=9223372036854775807&offset=9223372036854775807",
		"/api/urprofiles?limit=9223372036854775808",
		"/api/urprofiles?limit=-1",
		"/api/urprofiles?offset=2147483648",
		"/api/urdevices?applicationID=-1",
		"/api/urdevices?applicationID=99999999999999999999",
		"/api/fuota/devices?taskId=-1",
		"/api/fuota/official/firmware?model=WT101&limit=9223372036854775807&offset=1",
	} {
		if code, b := call(t, g, "GET", u, nil); code != nsapi.CodeParameter {
			t.Errorf("GET %s: code %d, want %d: %s", u, code, nsapi.CodeParameter, b)
		}
	}
	if code, b := call(t, g, "POST", "/api/fuota/devices/firmware",
		`{"firmwareName":"WT101.bin","fileContent":"AA==","limit":9223372036854775807,"offset":1}`); code != nsapi.CodeParameter {
		t.Errorf("firmware devices with a huge limit: code %d: %s", code, b)
	}
	// Still serving, and the largest accepted values page as they should.
	b := mustOK(t, g, "GET", "/api/urprofiles?limit=2147483647&offset=1", nil)
	if pl := decode[nsapi.ProfileList](t, b); len(pl.Result) != 2 {
		t.Errorf("limit 2147483647 offset 1: %d profiles, want 2 of 3", len(pl.Result))
	}
}

// numericField is a number a request carries: at path (dots into nested
// objects; "[]" ending it for an array of them) in the body of method url
// built on base, or a query parameter when base is "?". Values outside
// lo–hi are answered code (3 unless the spec gives another).
type numericField struct {
	method, url, base, path string
	lo, hi                  int64
	code                    int
	strOK                   bool // a string holding the number is taken too
}

var numericFields = func() []numericField {
	dev := `{"devEUI":"24E1241300000001","applicationID":"1"}`
	group := `{"multicastGroup":{"name":"g"}}`
	prof := `{"name":"p1","profile":{}}`
	codec := `{"name":"c"}`
	task := taskBody("t", time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), []string{"24E124136A456465"}, nil)
	put := strings.Replace(task, `{"fuotaTask":{`, `{"fuotaTask":{"id":1,`, 1)
	fw := `{"firmwareName":"WT101.bin","fileContent":"AA=="}`
	var out []numericField
	for _, u := range []string{"/api/urprofiles", "/api/urdevices", "/api/multicast-groups", "/api/payloadcodecs",
		"/api/payloadcodecs-short", "/api/fuota/task", "/api/fuota/devices?taskId=1", "/api/fuota/official/firmware?model=WT101"} {
		out = append(out, numericField{"GET", u, "?", "limit", 0, maxPaging, 3, false},
			numericField{"GET", u, "?", "offset", 0, maxPaging, 3, false})
	}
	return append(out,
		numericField{"GET", "/api/urdevices", "?", "applicationID", 0, maxID, 3, false},
		numericField{"GET", "/api/fuota/devices", "?", "taskId", 0, maxID, 3, false},
		numericField{"POST", "/api/urdevices", dev, "applicationID", 0, maxID, 3, true},
		numericField{"POST", "/api/urdevices", dev, "payloadCodecID", 0, maxID, 3, true},
		numericField{"POST", "/api/urdevices", dev, "fPort", 1, 223, 3, false},
		numericField{"POST", "/api/urdevices", dev, "fCntUp", 0, 1<<32 - 1, 3, false},
		numericField{"POST", "/api/urdevices", dev, "fCntDown", 0, 1<<32 - 1, 3, false},
		numericField{"POST", "/api/urdevices", dev, "mbTcpPort", 0, 65535, 3, false},
		numericField{"PUT", "/api/urdevices/24E124136A456465", dev, "fCntUp", 0, 1<<32 - 1, 3, false},
		numericField{"POST", "/api/multicast-groups", group, "multicastGroup.fCnt", 0, 1<<32 - 1, 3, false},
		numericField{"POST", "/api/multicast-groups", group, "multicastGroup.dr", 0, 6, 3, false},
		numericField{"POST", "/api/multicast-groups", group, "multicastGroup.frequency", 863000000, 870000000, 3, false},
		numericField{"POST", "/api/urprofiles", prof, "profile.maxEIRP", 0, maxEIRP, 3, false},
		numericField{"POST", "/api/urprofiles", prof, "profile.rxDROffset1", 0, 5, 3, false},
		numericField{"POST", "/api/urprofiles", prof, "profile.rxDataRate2", 0, 6, 3, false},
		numericField{"POST", "/api/urprofiles", prof, "profile.rxFreq2", 863000000, 870000000, 3, false},
		numericField{"POST", "/api/urprofiles", prof, "profile.pingSlotDR", 0, 6, 3, false},
		numericField{"POST", "/api/urprofiles", prof, "profile.pingSlotFreq", 863000000, 870000000, 3, false},
		numericField{"POST", "/api/urprofiles", prof, "profile.classBTimeout", 0, 10, 3, false},
		numericField{"POST", "/api/urprofiles", prof, "profile.classCTimeout", 0, 10, 3, false},
		numericField{"POST", "/api/urprofiles", prof, "profile.factoryPresetFreqs[]", 1, maxFrequency, 3, false},
		numericField{"POST", "/api/urprofiles", prof, "profile.enableUplinkChannels[]", 0, 95, 3, false},
		numericField{"POST", "/api/payloadcodecs", codec, "fPort", 0, 255, 3, false},
		numericField{"POST", "/api/payloadcodecs", codec, "templateID", 0, maxID, 3, false},
		numericField{"POST", "/api/fuota/task", task, "fuotaTask.fragmentInfo.fragmentSize", 1, 110, nsapi.CodeFuotaFragmentSize, false},
		numericField{"POST", "/api/fuota/task", task, "fuotaTask.fragmentInfo.fragmentInterval", 1000, 10000, nsapi.CodeFuotaFragmentInterval, false},
		numericField{"POST", "/api/fuota/task", task, "fuotaTask.fragmentInfo.fragmentRedundancy", 0, 100, nsapi.CodeFuotaRedundancy, false},
		numericField{"POST", "/api/fuota/task", task, "fuotaTask.tmpMcInfo.dr", 0, 6, 3, false},
		numericField{"POST", "/api/fuota/task", task, "fuotaTask.tmpMcInfo.frequency", 863000000, 870000000, 3, false},
		numericField{"POST", "/api/fuota/task", task, "fuotaTask.tmpMcInfo.groupType", 0, 0, 3, false},
		numericField{"PUT", "/api/fuota/task", put, "fuotaTask.id", 0, maxID, 3, true},
		numericField{"POST", "/api/fuota/task/delete", `{"ids":[1]}`, "ids[]", 0, maxID, 3, false},
		numericField{"POST", "/api/fuota/task/retry", `{"ids":[1]}`, "ids[]", 0, maxID, 3, false},
		numericField{"POST", "/api/fuota/devices/firmware", fw, "limit", 0, maxPaging, 3, true},
		numericField{"POST", "/api/fuota/devices/firmware", fw, "offset", 0, maxPaging, 3, true},
		numericField{"POST", "/api/fuota/devices/firmware", fw, "taskId", 0, maxID, 3, true},
	)
}()

// notInt64 are numbers that are not integers of int64: code 3 wherever
// an integer belongs.
var notInt64 = []string{"9223372036854775808", "-9223372036854775809", "1" + strings.Repeat("0", 30), "1.5", "1e3", "-1e999"}

// outOfRange returns integers outside lo–hi, at its bounds, at int64's
// and at random beyond, drawn from r.
func outOfRange(r *rand.Rand, lo, hi int64) []string {
	var vals []string
	if lo > math.MinInt64 {
		vals = append(vals, strconv.FormatInt(lo-1, 10), strconv.FormatInt(math.MinInt64, 10),
			strconv.FormatInt(lo-1-int64(r.Uint64N(uint64(lo)+1<<63)), 10))
	}
	if hi < math.MaxInt64 {
		vals = append(vals, strconv.FormatInt(hi+1, 10), strconv.FormatInt(math.MaxInt64, 10),
			strconv.FormatInt(hi+1+int64(r.Uint64N(uint64(math.MaxInt64)-uint64(hi))), 10))
	}
	return vals
}

// withField sets path in the JSON object base to the raw JSON value v.
func withField(t *testing.T, base, path, v string) string {
	var m map[string]any
	if err := json.Unmarshal([]byte(base), &m); err != nil {
		t.Fatal(err)
	}
	cur := m
	keys := strings.Split(path, ".")
	for _, k := range keys[:len(keys)-1] {
		next, ok := cur[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[k] = next
		}
		cur = next
	}
	last := keys[len(keys)-1]
	if k, ok := strings.CutSuffix(last, "[]"); ok {
		cur[k] = []json.RawMessage{json.RawMessage(v)}
	} else {
		cur[last] = json.RawMessage(v)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("%s = %s: %v", path, v, err)
	}
	return string(b)
}

// TestNumericParameters sends every numeric parameter of the simulator
// values outside its range (at the bounds, random ones beyond, beyond
// int64, not integers), as a number and as a string: each is answered
// with the field's code and an error naming it, never a panic, and
// nothing is written; values at the bounds are not refused for that
// field. The random values come from a seed that a failure prints.
func TestNumericParameters(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	r := rand.New(rand.NewPCG(seed, 0))
	for _, mode := range []Quirks{QuirksTables, QuirksSpecExamples} {
		g := fuzzGateway(t, mode)
		for _, nf := range numericFields {
			if mode == QuirksSpecExamples && nf.method == "POST" && nf.url == "/api/payloadcodecs" {
				nf.url = "/api/payloadcodec" // the examples' spelling for a create
			}
			name := nf.method + " " + nf.url + " " + nf.path
			send := func(v string) (int, string) {
				if nf.base == "?" {
					sep := "?"
					if strings.Contains(nf.url, "?") {
						sep = "&"
					}
					code, b := call(t, g, nf.method, nf.url+sep+nf.path+"="+url.QueryEscape(v), nil)
					return code, string(b)
				}
				code, b := call(t, g, nf.method, nf.url, withField(t, nf.base, nf.path, v))
				return code, string(b)
			}
			field := strings.TrimSuffix(nf.path[strings.LastIndex(nf.path, ".")+1:], "[]")
			writes := g.Writes()
			list := append(outOfRange(r, nf.lo, nf.hi), notInt64...)
			for i, v := range list {
				vals := []string{v}
				if nf.base != "?" {
					vals = append(vals, strconv.Quote(v))
				}
				for _, v := range vals {
					code, b := send(v)
					want := nf.code
					if i >= len(list)-len(notInt64) || nf.base != "?" && strings.HasPrefix(v, `"`) && !nf.strOK {
						want = 3 // not an integer, or a string where a number belongs
					}
					if code != want || !strings.Contains(b, field) {
						t.Errorf("%s mode, %s = %s: code %d %s; want code %d naming %s (seed %d)", mode, name, v, code, b, want, field, seed)
					}
				}
			}
			if g.Writes() != writes {
				t.Errorf("%s mode, %s: refused values wrote %d times (seed %d)", mode, name, g.Writes()-writes, seed)
			}
			for _, v := range []int64{nf.lo, nf.hi, nf.lo + int64(r.Uint64N(uint64(nf.hi)-uint64(nf.lo)+1))} {
				if _, b := send(strconv.FormatInt(v, 10)); strings.Contains(b, `"error":"`+nsapi.CodeText(nf.code)+": "+field) ||
					strings.Contains(b, "."+field+": want") {
					t.Errorf("%s mode, %s = %d (in range): %s (seed %d)", mode, name, v, b, seed)
				}
			}
		}
	}
}

// TestHandlePanicAnswered: a request that panics inside the gateway (here
// through a fault table knocked out) is answered code 23 with its id
// instead of stopping the process, and is logged.
func TestHandlePanicAnswered(t *testing.T) {
	var logged []string
	g := newGateway(t, Options{Logf: func(format string, args ...any) { logged = append(logged, fmt.Sprintf(format, args...)) }})
	faults := g.faults
	g.faults = nil
	out := g.Handle([]byte(`{"type":"ns-api","id":"p1","method":"GET","url":"/api/urprofiles"}`))
	g.faults = faults
	var resp nsapi.Response
	if err := json.Unmarshal(out, &resp); err != nil || resp.ID != "p1" || !strings.Contains(string(resp.Body), `"code":23`) {
		t.Fatalf("answer %s (%v): want code 23 for request p1", out, err)
	}
	if len(logged) != 1 || !strings.Contains(logged[0], "GET /api/urprofiles: internal error") {
		t.Errorf("log %q", logged)
	}
	mustOK(t, g, "GET", "/api/urprofiles", nil)
}
