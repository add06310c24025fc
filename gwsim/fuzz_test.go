package gwsim

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gwsync/gwsync/nsapi"
)

// fuzzSeeds are requests of every route, well formed, to start mutating
// from, and the ones that once crashed the simulator or made it answer
// with invalid JSON.
var fuzzSeeds = []struct {
	method, url, body, id string
}{
	{"GET", "/api/urprofiles?limit=9223372036854775807&offset=1", "", "1"},
	{"GET", "/api/urdevices?limit=9223372036854775807&offset=1", "", "00000"},
	{"GET", "/api/urprofiles?limit=9999&offset=0", "", "00000"},
	{"GET", "/api/urprofiles", "", "+5"},
	{"GET", "/api/urprofiles", "", "-0"},
	{"GET", "/api/urdevices?search=&limit=10&offset=0&applicationID=1", "", "42"},
	{"POST", "/api/urdevices", `{"devEUI":"24E124136A456466","applicationID":"1","fPort":85,"fCntUp":4294967296}`, "a"},
	{"PUT", "/api/urdevices/24E124136A456465", `{"applicationID":"9223372036854775808","payloadCodecID":"-1","mbTcpPort":70000}`, "b"},
	{"DELETE", "/api/urdevices/24E124136A456465", "", "c"},
	{"POST", "/api/urprofiles", profileBody("fz"), "d"},
	{"POST", "/api/multicast-groups", `{"multicastGroup":{"name":"g","dr":9223372036854775807,"frequency":-1,"fCnt":-1}}`, "e"},
	{"GET", "/api/multicast-groups?search=&order=asc&offset=0&limit=9999", "", "f"},
	{"POST", "/api/payloadcodecs", `{"name":"c","templateID":-1,"fPort":256,"codecJson":"{}"}`, "g"},
	{"GET", "/api/payloadcodecs-short?type=custom&limit=2147483648", "", "h"},
	{"GET", "/api/fuota/task?limit=10&offset=0", "", "i"},
	{"POST", "/api/fuota/task", taskBody("t", time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), []string{"24E124136A456465"}, nil), "j"},
	{"PUT", "/api/fuota/task", `{"fuotaTask":{"id":"99999999999999999999","name":"t"}}`, "k"},
	{"POST", "/api/fuota/task/delete", `{"ids":[1,-1,9223372036854775807]}`, "l"},
	{"POST", "/api/fuota/task/retry", `{"ids":[1e3]}`, "m"},
	{"GET", "/api/fuota/task/payloadsize", "", "n"},
	{"GET", "/api/fuota/devices?taskId=1&limit=10&offset=9223372036854775807", "", "o"},
	{"POST", "/api/fuota/devices/firmware", `{"firmwareName":"WT101.bin","fileContent":"AA==","limit":"9223372036854775807","offset":1}`, "p"},
	{"GET", "/api/fuota/official/models?dateCenter=eu", "", "q"},
	{"GET", "/api/fuota/official/firmware?model=WT101&limit=1&offset=-1", "", "r"},
	{"POST", "/api/multicast-groups/x/devices", `{"devEUIs":["24E124136A456465"]}`, "s"},
	{"GET", "/api/urprofiles?limit=%zz", "", "t"},
}

// FuzzHandle sends random request envelopes (method, URL with its query,
// body, id given as a string or as a number) to a gateway in both modes.
// Whatever the request, Handle does not panic, and answers with valid
// JSON that carries the request's id and, in an error body, one of the
// spec's codes; an internal error (code 23, which a panic becomes) is a
// failure too. With raw set, the body is the whole message instead.
func FuzzHandle(f *testing.F) {
	for _, s := range fuzzSeeds {
		for _, ex := range []bool{false, true} {
			f.Add(ex, false, s.method, s.url, s.body, s.id, false)
		}
	}
	f.Add(true, false, "GET", "/api/urprofiles", "", "00000", true)
	f.Add(true, true, "", "", `{"type":"ns-api","id":00000,"method":"GET","url":"/api/urprofiles"}`, "", false)
	f.Add(false, true, "", "", `{"type":"ns-api","id":"x","method":"GET","url":"/api/urprofiles","body":[}`, "", false)
	f.Fuzz(func(t *testing.T, examples, raw bool, method, url, body, id string, numericID bool) {
		mode := QuirksTables
		if examples {
			mode = QuirksSpecExamples
		}
		g := fuzzGateway(t, mode)
		var msg []byte
		if raw {
			msg = []byte(body)
		} else {
			env := map[string]any{"type": "ns-api", "id": id, "method": method, "url": url}
			if numericID && json.Valid([]byte(id)) && strings.TrimSpace(id) != "" {
				env["id"] = json.RawMessage(id)
			}
			if json.Valid([]byte(body)) {
				env["body"] = json.RawMessage(body)
			} else if body != "" {
				env["body"] = body
			}
			var err error
			if msg, err = json.Marshal(env); err != nil {
				t.Skip() // an id that is valid JSON but no value to embed
			}
		}
		out := g.Handle(msg)
		var req request
		reqOK := json.Unmarshal(msg, &req) == nil
		if out == nil {
			if reqOK && req.Type == "ns-api" {
				t.Fatalf("%s: no answer", msg)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("%s: answer is not JSON: %s", msg, out)
		}
		var resp nsapi.Response
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatalf("%s: answer %s: %v", msg, out, err)
		}
		if reqOK && resp.ID != string(req.ID) {
			t.Fatalf("%s: answer id %q, want %q", msg, resp.ID, req.ID)
		}
		if !bytes.HasPrefix(bytes.TrimSpace(resp.Body), []byte("{")) {
			return // a success body of another shape
		}
		var eb struct {
			Code *json.Number `json:"code"`
		}
		if err := json.Unmarshal(resp.Body, &eb); err != nil {
			t.Fatalf("%s: answer body %s: %v", msg, resp.Body, err)
		}
		if eb.Code == nil {
			return
		}
		code, err := eb.Code.Int64()
		if err != nil || nsapi.CodeText(int(code)) == "" {
			t.Fatalf("%s: answer code %s is not one of the spec's", msg, eb.Code)
		}
		if code == nsapi.CodeInternal {
			t.Fatalf("%s: internal error: %s", msg, out)
		}
	})
}

// fuzzGateway is a gateway in memory holding a device and a FUOTA task
// (id 1) for the fuzzed requests to reach.
func fuzzGateway(t *testing.T, mode Quirks) *Gateway {
	clk := newClock()
	g := newGateway(t, Options{Now: clk.Now, Quirks: mode})
	addDevice(t, g, "24E124136A456465", "d1")
	mustOK(t, g, "POST", "/api/fuota/task", taskBody("t", clk.Now().Add(time.Hour), []string{"24E124136A456465"}, nil))
	return g
}
