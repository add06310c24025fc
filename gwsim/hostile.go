package gwsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Gateway behaviours the spec allows or that a broken gateway shows, for
// testing a client that must doubt what it is told (nsapi/SPEC-NOTES.md,
// "Paging", "Request ids", "Search"). Each is opt-in (Options.PageCap,
// NumericIDs, SearchNamesOnly, Paging) and off by default; a sim:// URL
// sets them with page-cap=N, numeric-ids=1, search=names and
// paging=repeat|overlap|null-body.

// PagingQuirk is a hostile way of answering list pages.
type PagingQuirk string

const (
	// PagingHonest answers pages as asked (the default).
	PagingHonest PagingQuirk = ""
	// PagingRepeat answers every page with the first one and a total of
	// HostileTotal: a client that believes it reads forever.
	PagingRepeat PagingQuirk = "repeat"
	// PagingOverlap lists the last item of each page again as the first
	// of the next, and counts it in the total: one record on two pages.
	PagingOverlap PagingQuirk = "overlap"
	// PagingNullBody answers every page with "body": null.
	PagingNullBody PagingQuirk = "null-body"
)

// HostileTotal is the total PagingRepeat reports.
const HostileTotal = 50000

// ParsePagingQuirk reads a PagingQuirk name: "", "honest", "repeat",
// "overlap" or "null-body".
func ParsePagingQuirk(s string) (PagingQuirk, error) {
	switch q := PagingQuirk(strings.ToLower(strings.TrimSpace(s))); q {
	case "", "honest":
		return PagingHonest, nil
	case PagingRepeat, PagingOverlap, PagingNullBody:
		return q, nil
	}
	return "", fmt.Errorf("paging %q: want honest, repeat, overlap or null-body", s)
}

// quirkParam applies the sim:// URL parameter k (values v) to opts; ok is
// false when k is none of this file's.
func quirkParam(k string, v []string, opts *Options) (ok bool, err error) {
	last := ""
	if len(v) > 0 {
		last = v[len(v)-1]
	}
	switch k {
	case "page-cap":
		n, err := strconv.Atoi(last)
		if err != nil || n < 1 || n > 1<<20 {
			return true, fmt.Errorf("page-cap %q: want an integer from 1 to %d", last, 1<<20)
		}
		opts.PageCap = n
	case "numeric-ids":
		b, err := strconv.ParseBool(last)
		if err != nil {
			return true, fmt.Errorf("numeric-ids %q: want true or false", last)
		}
		opts.NumericIDs = b
	case "search":
		switch last {
		case "names":
			opts.SearchNamesOnly = true
		case "names-and-euis", "":
			opts.SearchNamesOnly = false
		default:
			return true, fmt.Errorf("search %q: want names or names-and-euis", last)
		}
	case "paging":
		p, err := ParsePagingQuirk(last)
		if err != nil {
			return true, err
		}
		opts.Paging = p
	default:
		return false, nil
	}
	return true, nil
}

// isPage reports whether a request asks for a list page: its query carries
// a limit or an offset.
func isPage(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	q := u.Query()
	return q.Has("limit") || q.Has("offset")
}

// withQuery is rawURL with the query parameter k set to v.
func withQuery(rawURL, k, v string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	q := u.Query()
	q.Set(k, v)
	u.RawQuery = q.Encode()
	return u.String()
}

// serveQuirks is serve with the options of this file: it counts write
// requests, caps and bends page requests before serving them and bends
// their answers after.
func (g *Gateway) serveQuirks(req *request) any {
	switch strings.ToUpper(req.Method) {
	case "POST", "PUT", "DELETE":
		if !strings.HasPrefix(req.URL, "/api/fuota/devices/firmware") { // a read
			g.writeRequests.Add(1)
		}
	}
	o := g.opts
	if (o.PageCap == 0 && o.Paging == PagingHonest) || !isPage(req.URL) {
		return g.serve(req)
	}
	orig := req.URL
	defer func() { req.URL = orig }()
	u, _ := url.Parse(req.URL)
	q := u.Query()
	if o.PageCap > 0 {
		if limit, err := strconv.Atoi(q.Get("limit")); err != nil || limit > o.PageCap || q.Get("limit") == "" {
			req.URL = withQuery(req.URL, "limit", strconv.Itoa(o.PageCap))
		}
	}
	offset, _ := strconv.Atoi(q.Get("offset"))
	switch o.Paging {
	case PagingRepeat:
		req.URL = withQuery(req.URL, "offset", "0")
	case PagingOverlap:
		if offset > 0 {
			req.URL = withQuery(req.URL, "offset", strconv.Itoa(offset-1))
		}
	}
	body := g.serve(req)
	if _, failed := body.(*apiError); failed {
		return body
	}
	switch o.Paging {
	case PagingNullBody:
		return json.RawMessage("null")
	case PagingRepeat:
		return withTotal(body, func(int64) int64 { return HostileTotal })
	case PagingOverlap:
		return withTotal(body, func(n int64) int64 {
			if n > 1 {
				return n + 1 // the item shown twice is counted twice
			}
			return n
		})
	}
	return body
}

// withTotal is body (a list page) with its total (totalCount,
// devTotalCount or total, a string or a number as it was) set to f of it.
func withTotal(body any, f func(int64) int64) any {
	b, err := json.Marshal(body)
	if err != nil {
		return body
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return body
	}
	for _, k := range []string{"totalCount", "devTotalCount", "total"} {
		raw, ok := m[k]
		if !ok {
			continue
		}
		s := strings.Trim(string(raw), `"`)
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			continue
		}
		v := strconv.FormatInt(f(n), 10)
		if bytes.HasPrefix(raw, []byte(`"`)) {
			v = strconv.Quote(v)
		}
		m[k] = json.RawMessage(v)
	}
	return m
}

// answerQuirks is the answer message out with Options.NumericIDs: the
// gateway reads the request id as an integer and echoes it as a JSON
// number, as the spec's 6.2 example echoes "id": 1 for "1"; an id that is
// not an integer (a 24-hex-digit one) reads as 0.
func (g *Gateway) answerQuirks(out []byte, id string) []byte {
	if !g.opts.NumericIDs || out == nil {
		return out
	}
	quoted := []byte(`{"id":` + strconv.Quote(id))
	if !bytes.HasPrefix(out, quoted) {
		return out
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		n = 0
	}
	return append([]byte(`{"id":`+strconv.FormatInt(n, 10)), out[len(quoted):]...)
}

// WriteRequests reports how many write requests (POST, PUT, DELETE but
// for the firmware-devices query) reached the gateway, performed or not.
func (g *Gateway) WriteRequests() int64 { return g.writeRequests.Load() }
