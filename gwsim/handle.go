package gwsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/gwsync/gwsync/nsapi"
)

// apiError is an ns-api error answer.
type apiError struct {
	code int
	msg  string
}

func errf(code int, format string, args ...any) *apiError {
	return &apiError{code: code, msg: fmt.Sprintf(format, args...)}
}

// notFound answers an update of a record that is not there: a body that
// does not parse is reported first, as it is for a record that is there.
func notFound(req *request, format string, args ...any) any {
	if _, e := readBody(req.Body); e != nil {
		return e
	}
	return errf(nsapi.CodeNotFound, format, args...)
}

// replace stores next over *cur, unless holder (the record that has next's
// name, or nil) is another record: then it stores nothing and the answer is
// an already-exists error worded by format and args.
func replace[R any](cur *R, next R, holder *R, format string, args ...any) *apiError {
	if holder != nil && holder != cur {
		return errf(nsapi.CodeAlreadyExists, format, args...)
	}
	*cur = next
	return nil
}

// text is the answer's "error": the spec's description and the detail.
func (e *apiError) text() string {
	t := nsapi.CodeText(e.code)
	if e.msg == "" {
		return t
	}
	if t == "" {
		return e.msg
	}
	return t + ": " + e.msg
}

// request is a parsed ns-api request.
type request struct {
	Type       string           `json:"type"`
	ID         nsapi.FlexString `json:"id"`
	Method     string           `json:"method"`
	URL        string           `json:"url"`
	GatewayEUI string           `json:"gatewayEUI"`
	Body       json.RawMessage  `json:"body"`

	path  string
	query url.Values
	// own says the request is about one of gwsync's own records
	// (ownRecord): not a write Writes counts.
	own bool
}

// response is the answer envelope, in the order of the spec's example;
// answer writes it by hand around the body (TestAnswerEnvelope holds the
// two equal).
type response struct {
	ID         string `json:"id"`
	GatewayEUI string `json:"gatewayEUI"`
	Method     string `json:"method"`
	URL        string `json:"url"`
	Body       any    `json:"body"`
}

// action tells a transport what to do beyond sending the answer.
type action int

const (
	actAnswer     action = iota // send the answer (nil: nothing to send)
	actDisconnect               // drop the requester's connection, send nothing
)

var (
	reID     = regexp.MustCompile(`"id"\s*:\s*"?([^",}\s]*)`)
	reNsType = regexp.MustCompile(`"type"\s*:\s*"ns-api"`)
)

// Handle answers one request message: the answer message, or nil when
// there is nothing to answer (not an ns-api request, such as a response
// echoed on a shared topic; a gateway closed; an injected drop fault).
// Disconnect faults give nil here (only transports can disconnect).
func (g *Gateway) Handle(payload []byte) []byte {
	b, _ := g.handle(payload, true)
	return b
}

// handle answers one request; canDisconnect false makes Disconnect faults
// ignored (logged), for servers that cannot drop a requester.
//
// A request that panics all the same is answered code 23 and logged: one
// message must not stop a simulator that others share.
func (g *Gateway) handle(payload []byte, canDisconnect bool) (out []byte, act action) {
	var req request
	defer func() {
		if r := recover(); r != nil {
			g.logf("gwsim: %s %s: internal error: %v", req.Method, req.URL, r)
			out, act = g.answer(&req, string(req.ID), errf(nsapi.CodeInternal, "%v", r)), actAnswer
		}
	}()
	if err := json.Unmarshal(payload, &req); err != nil {
		// Not JSON, or an envelope of the wrong shape: answer code 20 if it
		// claims to be an ns-api request, else it is not for us.
		if !reNsType.Match(payload) {
			return nil, actAnswer
		}
		id := ""
		if m := reID.FindSubmatch(payload); m != nil {
			id = string(m[1])
		}
		g.logf("gwsim: unparsable request: %v", err)
		return g.answer(&req, id, errf(nsapi.CodeBadJSON, "%v", err)), actAnswer
	}
	if req.Type != "ns-api" {
		return nil, actAnswer
	}
	g.mu.Lock()
	closed := g.closed
	g.mu.Unlock()
	if closed {
		return nil, actAnswer
	}
	method := strings.ToUpper(req.Method)
	own := g.ownRecord(&req)
	req.own = own
	if f, ok := g.faults.match(method, req.URL, own); ok {
		switch {
		case f.Disconnect && !canDisconnect:
			g.logf("gwsim: %s %s: fault: Disconnect is not supported on another broker; ignored", method, req.URL)
		case f.Disconnect:
			g.logf("gwsim: %s %s: fault: disconnect", method, req.URL)
			return nil, actDisconnect
		case f.DropRequest:
			g.logf("gwsim: %s %s: fault: request dropped", method, req.URL)
			return nil, actAnswer
		case f.Code != 0:
			g.logf("gwsim: %s %s: fault: code %d", method, req.URL, f.Code)
			return g.answer(&req, string(req.ID), errf(f.Code, "injected fault")), actAnswer
		case f.DropResponse:
			body := g.serveQuirks(&req)
			if e, ok := body.(*apiError); ok {
				g.logf("gwsim: %s %s: %d (response dropped)", method, req.URL, e.code)
			} else {
				g.logf("gwsim: %s %s: ok (response dropped)", method, req.URL)
			}
			return nil, actAnswer
		}
	}
	body := g.serveQuirks(&req)
	switch e, ok := body.(*apiError); {
	case ok:
		g.logf("gwsim: %s %s: code %d", method, req.URL, e.code)
	case own:
		g.logf("gwsim: %s %s: ok (a gwsync record)", method, req.URL)
	default:
		g.logf("gwsim: %s %s: ok", method, req.URL)
	}
	return g.answerQuirks(g.answer(&req, string(req.ID), body), string(req.ID)), actAnswer
}

// answer builds the response message for body (data or *apiError).
func (g *Gateway) answer(req *request, id string, body any) []byte {
	if e, ok := body.(*apiError); ok {
		body = nsapiError{Code: e.code, Error: e.text()}
	}
	if body == nil {
		body = struct{}{}
	}
	b, err := json.Marshal(body)
	if err != nil {
		b, _ = json.Marshal(nsapiError{Code: nsapi.CodeInternal, Error: nsapi.CodeText(nsapi.CodeInternal)})
	}
	str := func(v string) string { q, _ := json.Marshal(v); return string(q) }
	if !g.examples() {
		// The envelope of response, written around the body as it is: a
		// json.RawMessage would be checked and copied again, which for a
		// 500-device page was a third of the gateway's time answering it.
		head := `{"id":` + str(id) + `,"gatewayEUI":` + str(g.EUI()) + `,"method":` + str(req.Method) + `,"url":` + str(req.URL) + `,"body":`
		out := make([]byte, 0, len(head)+len(b)+1)
		out = append(append(append(out, head...), b...), '}')
		return out
	}
	// The spec's response format (1): gatewayEUI twice, the second blank;
	// the 6.2 example echoes a numeric id as a number; the 6.1 example
	// answers the task create with url /api/fuota/tasks.
	url := req.URL
	if strings.EqualFold(req.Method, "POST") && strings.TrimRight(url, "/") == "/api/fuota/task" {
		url = "/api/fuota/tasks"
	}
	idJSON := []byte(str(id))
	if jsonInteger(id) {
		idJSON = []byte(id)
	}
	var out bytes.Buffer
	out.WriteString(`{"id":` + string(idJSON) + `,"gatewayEUI":` + str(g.EUI()) + `,"method":` + str(req.Method) +
		`,"gatewayEUI":"","url":` + str(url) + `,"body":`)
	out.Write(b)
	out.WriteByte('}')
	return out.Bytes()
}

// jsonInteger reports whether id, written bare, is a JSON integer that
// reads back as the same text: "42" and "-7" are, "00000", "+5", "-0"
// and "1e3" are not (the first two are not JSON, the others read back
// otherwise), so those are echoed as strings.
func jsonInteger(id string) bool {
	n, err := strconv.ParseInt(id, 10, 64)
	return err == nil && strconv.FormatInt(n, 10) == id
}

// nsapiError is an error body, and the spec's {"code":200,"error":""}.
type nsapiError struct {
	Code  int    `json:"code"`
	Error string `json:"error"`
}

// okBody is the success body of the calls whose examples show one.
var okBody = nsapiError{Code: nsapi.CodeSuccess, Error: ""}

// blankBody is the "Body is blank if success" answer.
var blankBody = struct{}{}

// route is one URL pattern's handlers by method.
type handler struct {
	fn    func(g *Gateway, req *request, arg string) any
	write bool
}

// serve checks the gateway EUI, routes the request and runs it. It returns
// the answer body, or an *apiError.
func (g *Gateway) serve(req *request) any {
	if req.GatewayEUI != "" && !strings.EqualFold(req.GatewayEUI, g.EUI()) {
		return errf(nsapi.CodeGatewayMismatch, "request for gateway %s, this is %s", req.GatewayEUI, g.EUI())
	}
	u, err := url.Parse(req.URL)
	if err != nil {
		return errf(nsapi.CodeUnsupportedURL, "url %q: %v", req.URL, err)
	}
	req.path = strings.TrimRight(u.Path, "/")
	req.query, err = url.ParseQuery(u.RawQuery)
	if err != nil {
		return errf(nsapi.CodeParameter, "query: %v", err)
	}
	handlers, arg := g.routes(req.path)
	if handlers == nil {
		return errf(nsapi.CodeUnsupportedURL, "%s", req.path)
	}
	h, ok := handlers[strings.ToUpper(req.Method)]
	if !ok {
		return errf(nsapi.CodeMethodNotSupported, "%s %s", req.Method, req.path)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return errf(nsapi.CodeInternal, "gateway closed")
	}
	out := h.fn(g, req, arg)
	if _, failed := out.(*apiError); failed || !h.write {
		// A refused write changes nothing, so records nothing; whatever
		// was recorded all the same is saved.
		if err := g.persistLocked(); err != nil {
			g.logf("gwsim: %v", err)
		}
		return out
	}
	if !req.own {
		g.writes++
	}
	if err := g.persistLocked(); err != nil {
		g.logf("gwsim: %v", err)
		return errf(nsapi.CodeInternal, "saving state failed")
	}
	return out
}

type methods map[string]handler

// unsupported is the code 21 answer of a URL spelling the gateway does not
// take for that method.
var unsupported = handler{fn: func(_ *Gateway, req *request, _ string) any {
	return errf(nsapi.CodeUnsupportedURL, "%s %s", req.Method, req.path)
}}

// codecRoutes are the payload codec routes: every call on the heading's
// /api/payloadcodecs (tables), every call on /api/payloadcodec
// (LegacyURLs), or as the examples of 5.1–5.4 show them: POST and PUT on
// the singular, GET and DELETE on the plural, code 21 otherwise.
func (g *Gateway) codecRoutes(path string) (methods, string, bool) {
	list := methods{"GET": {fn: (*Gateway).listCodecs}, "POST": {fn: (*Gateway).createCodec, write: true}}
	one := methods{"PUT": {fn: (*Gateway).updateCodec, write: true}, "DELETE": {fn: (*Gateway).deleteCodec, write: true}}
	for _, base := range []string{"/api/payloadcodecs", "/api/payloadcodec"} {
		var ms methods
		var arg string
		if path == base {
			ms = list
		} else if id, ok := cutPrefix(path, base+"/"); ok {
			ms, arg = one, id
		} else {
			continue
		}
		singular := base == "/api/payloadcodec"
		switch {
		case g.examples():
			out := methods{}
			for m, h := range ms {
				if (m == "POST" || m == "PUT") == singular {
					out[m] = h
				} else {
					out[m] = unsupported
				}
			}
			return out, arg, true
		case singular != g.opts.LegacyURLs:
			return nil, "", true
		}
		return ms, arg, true
	}
	return nil, "", false
}

// routes finds the handlers for path, and the path's variable part.
func (g *Gateway) routes(path string) (methods, string) {
	deleteDevices := "deletedevices"
	if g.opts.LegacyURLs || g.examples() {
		deleteDevices = "deleteddevices"
	}
	if g.opts.NoFuota && (path == "/api/fuota" || strings.HasPrefix(path, "/api/fuota/")) {
		return nil, "" // a firmware before FUOTA support: code 21
	}
	if ms, arg, ok := g.codecRoutes(path); ok {
		return ms, arg
	}
	switch path {
	case "/api/urprofiles":
		return methods{"GET": {fn: (*Gateway).listProfiles}, "POST": {fn: (*Gateway).createProfile, write: true}}, ""
	case "/api/urdevices":
		return methods{"GET": {fn: (*Gateway).listDevices}, "POST": {fn: (*Gateway).createDevice, write: true}}, ""
	case "/api/multicast-groups":
		return methods{"GET": {fn: (*Gateway).listGroups}, "POST": {fn: (*Gateway).createGroup, write: true}}, ""
	case "/api/payloadcodecs-short":
		return methods{"GET": {fn: (*Gateway).listCodecsShort}}, ""
	case "/api/fuota/task":
		return methods{"GET": {fn: (*Gateway).listTasks}, "POST": {fn: (*Gateway).createTask, write: true},
			"PUT": {fn: (*Gateway).updateTask, write: true}}, ""
	case "/api/fuota/task/delete":
		return methods{"POST": {fn: (*Gateway).deleteTasks, write: true}}, ""
	case "/api/fuota/task/retry":
		return methods{"POST": {fn: (*Gateway).retryTasks, write: true}}, ""
	case "/api/fuota/task/payloadsize":
		return methods{"GET": {fn: (*Gateway).payloadSizes}}, ""
	case "/api/fuota/devices":
		return methods{"GET": {fn: (*Gateway).taskDevices}}, ""
	case "/api/fuota/devices/firmware":
		return methods{"POST": {fn: (*Gateway).firmwareDevices}}, ""
	case "/api/fuota/official/models":
		return methods{"GET": {fn: (*Gateway).officialModels}}, ""
	case "/api/fuota/official/firmware":
		return methods{"GET": {fn: (*Gateway).officialFirmware}}, ""
	}
	if id, ok := cutPrefix(path, "/api/urprofiles/"); ok {
		return methods{"PUT": {fn: (*Gateway).updateProfile, write: true}, "DELETE": {fn: (*Gateway).deleteProfile, write: true}}, id
	}
	if id, ok := cutPrefix(path, "/api/urdevices/"); ok {
		return methods{"PUT": {fn: (*Gateway).updateDevice, write: true}, "DELETE": {fn: (*Gateway).deleteDevice, write: true}}, id
	}
	if rest, ok := strings.CutPrefix(path, "/api/multicast-groups/"); ok && rest != "" {
		id, sub, _ := strings.Cut(rest, "/")
		switch {
		case sub == "":
			return methods{"PUT": {fn: (*Gateway).updateGroup, write: true}, "DELETE": {fn: (*Gateway).deleteGroup, write: true}}, id
		case sub == "devices":
			return methods{"POST": {fn: (*Gateway).addGroupDevices, write: true}}, id
		case sub == deleteDevices:
			return methods{"POST": {fn: (*Gateway).removeGroupDevices, write: true}}, id
		}
	}
	return nil, ""
}

// cutPrefix returns the single path segment after prefix.
func cutPrefix(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix)
	if !ok || rest == "" || strings.Contains(rest, "/") {
		return "", false
	}
	return rest, true
}

// ---- query parameters ----

// maxPaging bounds limit and offset: the spec types them int, read here
// as 32 bits, the narrowest reading and far above any list a gateway
// holds. Larger values are code 3.
const maxPaging = math.MaxInt32

// maxID bounds ids and other counts that are only typed integer.
const maxID = math.MaxInt64

// maxEIRP is the highest EIRP, in dBm, LoRaWAN's TxParamSetupReq can
// express (its MaxEIRP table ends at 36).
const maxEIRP = 36

// maxFrequency is the highest frequency, in Hz, a LoRaWAN MAC command can
// carry (24 bits of 100 Hz).
const maxFrequency = (1<<24 - 1) * 100

// paging reads limit (default 9999) and offset (default 0), each 0–maxPaging.
func paging(q url.Values) (limit, offset int, e *apiError) {
	l, e := queryInt(q, "limit", 9999, 0, maxPaging)
	if e != nil {
		return 0, 0, e
	}
	o, e := queryInt(q, "offset", 0, 0, maxPaging)
	return int(l), int(o), e
}

// queryInt is the one reader of numeric query parameters: key as a
// decimal integer in lo–hi, def when absent or blank. Anything else (not a
// number, out of range, beyond int64) is code 3; a def outside lo–hi makes
// the parameter required.
func queryInt(q url.Values, key string, def, lo, hi int64) (int64, *apiError) {
	s := strings.TrimSpace(q.Get(key))
	if s == "" {
		if def < lo || def > hi {
			return 0, errf(nsapi.CodeParameter, "%s: required", key)
		}
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, errf(nsapi.CodeParameter, "%s: want an integer %d–%d, got %s", key, lo, hi, clip(s))
	}
	return n, nil
}

// clip quotes s for an error message, cut to a readable length: a
// parameter can be as long as the message that carries it.
func clip(s string) string {
	const most = 40
	if len(s) <= most {
		return strconv.Quote(s)
	}
	return strconv.Quote(strings.ToValidUTF8(s[:most], "")) + "…"
}

// page returns the [offset, offset+limit) window of n items; it never
// reaches past n, whatever limit and offset are.
func page(n, limit, offset int) (lo, hi int) {
	lo = min(max(offset, 0), n)
	hi = lo + min(max(limit, 0), n-lo)
	return lo, hi
}

// matches reports whether search (case-insensitive) is in any of values.
func matches(search string, values ...string) bool {
	if search == "" {
		return true
	}
	s := strings.ToLower(search)
	for _, v := range values {
		if strings.Contains(strings.ToLower(v), s) {
			return true
		}
	}
	return false
}

// ---- body fields ----

// fields reads a JSON object's members with the spec's types: a wrong type
// is code 3. The first error is kept (shared with sub-objects).
type fields struct {
	m   map[string]json.RawMessage
	at  string
	err *errSlot
}

type errSlot struct{ e *apiError }

// readBody parses a request body; a missing body is an empty object, one
// that is not an object is code 20.
func readBody(raw json.RawMessage) (*fields, *apiError) {
	f := &fields{m: map[string]json.RawMessage{}, err: &errSlot{}}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return f, nil
	}
	if raw[0] != '{' {
		return nil, errf(nsapi.CodeBadJSON, "body is not a JSON object")
	}
	if err := json.Unmarshal(raw, &f.m); err != nil {
		return nil, errf(nsapi.CodeBadJSON, "body: %v", err)
	}
	return f, nil
}

func (f *fields) failed() *apiError { return f.err.e }

func (f *fields) fail(code int, key, format string, args ...any) {
	if f.err.e == nil {
		f.err.e = errf(code, "%s%s: %s", f.at, key, fmt.Sprintf(format, args...))
	}
}

// has reports whether key is present and not null.
func (f *fields) has(key string) bool {
	raw, ok := f.m[key]
	return ok && string(bytes.TrimSpace(raw)) != "null"
}

func (f *fields) raw(key string) []byte { return bytes.TrimSpace(f.m[key]) }

// str reads a JSON string (def when absent).
func (f *fields) str(key, def string) string {
	if !f.has(key) {
		return def
	}
	var s string
	if err := json.Unmarshal(f.raw(key), &s); err != nil {
		f.fail(nsapi.CodeParameter, key, "want a string")
		return def
	}
	return s
}

// integer reads a JSON integer (def when absent); strOK also accepts a
// string holding one, as the spec's examples send some IDs.
func (f *fields) integer(key string, def int64, strOK bool) int64 {
	if !f.has(key) {
		return def
	}
	raw := f.raw(key)
	s := string(raw)
	if raw[0] == '"' {
		if !strOK {
			f.fail(nsapi.CodeParameter, key, "want a number, got a string")
			return def
		}
		_ = json.Unmarshal(raw, &s)
		s = strings.TrimSpace(s)
		if s == "" {
			return def
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f.fail(nsapi.CodeParameter, key, "want an integer")
		return def
	}
	return n
}

// boolean reads a JSON boolean (def when absent).
func (f *fields) boolean(key string, def bool) bool {
	if !f.has(key) {
		return def
	}
	var b bool
	if err := json.Unmarshal(f.raw(key), &b); err != nil {
		f.fail(nsapi.CodeParameter, key, "want true or false")
		return def
	}
	return b
}

// ints reads an array of integers (nil when absent).
func (f *fields) ints(key string) []int64 {
	if !f.has(key) {
		return nil
	}
	var v []json.RawMessage
	if err := json.Unmarshal(f.raw(key), &v); err != nil {
		f.fail(nsapi.CodeParameter, key, "want an array of integers")
		return nil
	}
	out := make([]int64, 0, len(v))
	for _, n := range v {
		i, err := strconv.ParseInt(string(bytes.TrimSpace(n)), 10, 64)
		if err != nil {
			f.fail(nsapi.CodeParameter, key, "want an array of integers")
			return nil
		}
		out = append(out, i)
	}
	return out
}

// strs reads an array of strings (nil when absent).
func (f *fields) strs(key string) []string {
	if !f.has(key) {
		return nil
	}
	var v []string
	if err := json.Unmarshal(f.raw(key), &v); err != nil {
		f.fail(nsapi.CodeParameter, key, "want an array of strings")
		return nil
	}
	return v
}

// object reads a nested object (nil when absent).
func (f *fields) object(key string) *fields {
	if !f.has(key) {
		return nil
	}
	sub := &fields{m: map[string]json.RawMessage{}, at: f.at + key + ".", err: f.err}
	raw := f.raw(key)
	if raw[0] != '{' || json.Unmarshal(raw, &sub.m) != nil {
		f.fail(nsapi.CodeParameter, key, "want an object")
		return nil
	}
	return sub
}

// require fails with code 3 for each key that is absent.
func (f *fields) require(keys ...string) {
	for _, k := range keys {
		if !f.has(k) {
			f.fail(nsapi.CodeParameter, k, "required")
		}
	}
}

// hexField reads a string of n hex digits; "" is allowed when optional.
func (f *fields) hexField(key string, n int, def string, optional bool) string {
	s := f.str(key, def)
	if s == "" && optional {
		return s
	}
	if !isHex(s, n) {
		f.fail(nsapi.CodeParameter, key, "want %d hex digits", n)
	}
	return s
}

// rangeCheck fails unless lo <= v <= hi.
func (f *fields) rangeCheck(key string, v, lo, hi int64) {
	if v < lo || v > hi {
		f.fail(nsapi.CodeParameter, key, "want %d–%d, got %d", lo, hi, v)
	}
}

// bounded reads an integer as integer does and fails with code 3 unless
// lo <= v <= hi: for the numbers whose range is the type's (ids, counts).
func (f *fields) bounded(key string, def int64, strOK bool, lo, hi int64) int64 {
	n := f.integer(key, def, strOK)
	if f.has(key) {
		f.rangeCheck(key, n, lo, hi)
	}
	return n
}
