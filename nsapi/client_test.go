package nsapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gwsync/gwsync/nsapi"
)

// fakeGW is a Transport that answers each request with whatever its handler
// returns (a list of raw messages, delivered in order on the response
// topic), each from its own goroutine.
type fakeGW struct {
	handle func(req nsapi.Request, raw []byte) [][]byte
	// inPublish delivers the answers before Publish returns, as a
	// gateway quicker than the client's own bookkeeping.
	inPublish bool

	mu      sync.Mutex
	deliver func([]byte)
	lost    func(error)
	reqs    []nsapi.Request
	wg      sync.WaitGroup
}

func (f *fakeGW) Connect(_ context.Context, deliver func([]byte), lost func(error)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deliver, f.lost = deliver, lost
	return nil
}

func (f *fakeGW) Publish(_ context.Context, payload []byte) error {
	var req nsapi.Request
	if err := json.Unmarshal(payload, &req); err != nil {
		return fmt.Errorf("fake gateway: bad request: %w", err)
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	deliver := f.deliver
	f.mu.Unlock()
	raw := append([]byte(nil), payload...)
	if f.inPublish {
		for _, m := range f.handle(req, raw) {
			deliver(m)
		}
		return nil
	}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for _, m := range f.handle(req, raw) {
			deliver(m)
		}
	}()
	return nil
}

func (f *fakeGW) Close() error { f.wg.Wait(); return nil }

func (f *fakeGW) urls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var u []string
	for _, r := range f.reqs {
		u = append(u, r.Method+" "+r.URL)
	}
	return u
}

// answer builds a response envelope for req.
func answer(req nsapi.Request, eui string, body any) []byte {
	m := map[string]any{"id": req.ID, "method": req.Method, "url": req.URL}
	if eui != "" {
		m["gatewayEUI"] = eui
	}
	if body != nil {
		m["body"] = body
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // test helper on plain data
	}
	return b
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

func newClient(t *testing.T, f *fakeGW, cfg nsapi.Config) *nsapi.Client {
	t.Helper()
	c, err := nsapi.New(context.Background(), f, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func queryOf(t *testing.T, u string) url.Values {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatalf("request url %q: %v", u, err)
	}
	return p.Query()
}

const gwEUI = "24E124FFFEF5A6A8"

func TestResponsesMatchedByIDAndGateway(t *testing.T) {
	f := &fakeGW{handle: func(req nsapi.Request, sent []byte) [][]byte {
		wrong := raw(`{"totalCount":"1","result":[{"name":"from-elsewhere","profile":{}}]}`)
		right := raw(`{"totalCount":"1","result":[{"name":"ClassA-OTAA","profile":{"profileID":"p-1"}}],"channelPlan":"EU868"}`)
		other := req
		other.ID = "123"
		return [][]byte{
			[]byte("not json at all"),
			[]byte(`{"id":`),
			[]byte(`["an","array"]`),
			sent,                                       // our own request echoed on a shared topic
			answer(other, gwEUI, wrong),                // another client's id
			answer(req, "0242ACFFFE160007", wrong),     // another gateway
			answer(req, strings.ToLower(gwEUI), right), // ours: EUI case does not matter
			answer(req, gwEUI, wrong),                  // a duplicate after ours
		}
	}}
	c := newClient(t, f, nsapi.Config{GatewayEUI: gwEUI, RequestTimeout: 5 * time.Second})
	got, err := c.ListProfiles(context.Background())
	if err != nil {
		t.Fatalf("ListProfiles: %v", err)
	}
	want := &nsapi.ProfileList{TotalCount: 1, ChannelPlan: "EU868",
		Result: []nsapi.Profile{{Name: "ClassA-OTAA", Profile: nsapi.ProfileSettings{ProfileID: "p-1"}}}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ListProfiles (-want +got):\n%s", d)
	}
	if f.reqs[0].GatewayEUI != gwEUI || f.reqs[0].Type != "ns-api" {
		t.Errorf("request envelope = %+v, want type ns-api and gatewayEUI %s", f.reqs[0], gwEUI)
	}
	if got := c.Requests(); got != 1 {
		t.Errorf("Requests() = %d, want 1", got)
	}
}

// TestRequestIDsAreDecimalBelow2p53: a request id is the decimal form of
// a number in [1, 2^53), without leading zeros, so that a gateway that
// reads it as a JSON number (a double) and echoes it as one still gives
// back the same id; ids do not repeat.
func TestRequestIDsAreDecimalBelow2p53(t *testing.T) {
	f := &fakeGW{handle: func(req nsapi.Request, _ []byte) [][]byte { return [][]byte{answer(req, "", nil)} }}
	c := newClient(t, f, nsapi.Config{})
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		if err := c.DeleteDevice(context.Background(), "24E124136A456465"); err != nil {
			t.Fatalf("DeleteDevice: %v", err)
		}
	}
	long := 0
	for _, r := range f.reqs {
		n, err := strconv.ParseUint(r.ID, 10, 64)
		if err != nil || n == 0 || n >= 1<<53 || strconv.FormatUint(n, 10) != r.ID {
			t.Errorf("request id %q is not a decimal number in [1, 2^53) without leading zeros", r.ID)
		}
		if float64(n) != float64(int64(n)) || uint64(float64(n)) != n {
			t.Errorf("request id %q does not survive a double", r.ID)
		}
		if n >= 1<<40 {
			long++
		}
		if seen[r.ID] {
			t.Errorf("request id %q used twice", r.ID)
		}
		seen[r.ID] = true
	}
	if long < len(f.reqs)/2 {
		t.Errorf("only %d of %d ids are at least 2^40: ids are not drawn from the whole range", long, len(f.reqs))
	}
}

// pager answers list calls from items, honouring limit and offset; the
// total is reported as a string or a number.
func pager(t *testing.T, n int, totalAsString bool, totalKey, listKey string) func(nsapi.Request, []byte) [][]byte {
	return func(req nsapi.Request, _ []byte) [][]byte {
		q := queryOf(t, req.URL)
		limit, _ := strconv.Atoi(q.Get("limit"))
		offset, _ := strconv.Atoi(q.Get("offset"))
		items := []map[string]any{}
		for i := offset; i < n && i < offset+limit; i++ {
			item := map[string]any{"name": fmt.Sprintf("item-%03d", i), "id": strconv.Itoa(i + 1)}
			switch listKey {
			case "deviceResult":
				item["devEUI"] = fmt.Sprintf("24E12400000000%02X", i)
			case "devices":
				item["devEui"] = fmt.Sprintf("24e12400000000%02x", i)
			}
			items = append(items, item)
		}
		var total any = n
		if totalAsString {
			total = strconv.Itoa(n)
		}
		return [][]byte{answer(req, "", map[string]any{totalKey: total, listKey: items})}
	}
}

func TestPagingUntilTotal(t *testing.T) {
	type lister func(c *nsapi.Client) (names []string, err error)
	cases := []struct {
		name      string
		totalKey  string
		listKey   string
		asString  bool
		list      lister
		wantCalls int
	}{
		{"profiles, string total", "totalCount", "result", true, func(c *nsapi.Client) ([]string, error) {
			l, err := c.ListProfiles(context.Background())
			if err != nil {
				return nil, err
			}
			var n []string
			for _, p := range l.Result {
				n = append(n, p.Name)
			}
			return n, nil
		}, 3},
		{"devices, number total", "devTotalCount", "deviceResult", false, func(c *nsapi.Client) ([]string, error) {
			l, err := c.ListDevices(context.Background(), nsapi.DeviceQuery{})
			if err != nil {
				return nil, err
			}
			var n []string
			for _, d := range l.DeviceResult {
				n = append(n, d.Name)
			}
			return n, nil
		}, 3},
		{"groups, string total", "totalCount", "result", true, func(c *nsapi.Client) ([]string, error) {
			l, err := c.ListGroups(context.Background(), "")
			var n []string
			for _, g := range l {
				n = append(n, g.Name)
			}
			return n, err
		}, 3},
		{"codecs, number total", "totalCount", "result", false, func(c *nsapi.Client) ([]string, error) {
			l, err := c.ListCodecs(context.Background(), nsapi.CodecTypeCustom, "")
			var n []string
			for _, k := range l {
				n = append(n, k.Name)
			}
			return n, err
		}, 3},
		{"short codecs, string total", "totalCount", "result", true, func(c *nsapi.Client) ([]string, error) {
			l, err := c.ListCodecsShort(context.Background(), nsapi.CodecTypeDefault, "")
			var n []string
			for _, k := range l {
				n = append(n, k.Name)
			}
			return n, err
		}, 3},
		{"FUOTA tasks, string total", "total", "tasks", true, func(c *nsapi.Client) ([]string, error) {
			l, err := c.ListTasks(context.Background(), "")
			var n []string
			for _, k := range l {
				n = append(n, k.Name)
			}
			return n, err
		}, 3},
		{"FUOTA devices, number total", "total", "devices", false, func(c *nsapi.Client) ([]string, error) {
			l, err := c.TaskDevices(context.Background(), 7, "")
			var n []string
			for _, k := range l {
				n = append(n, k.Name)
			}
			return n, err
		}, 3},
		{"official firmware, number total", "total", "data", false, func(c *nsapi.Client) ([]string, error) {
			l, err := c.OfficialFirmware(context.Background(), "WT201", "")
			var n []string
			for _, k := range l {
				n = append(n, k.Name)
			}
			return n, err
		}, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeGW{handle: pager(t, 5, tc.asString, tc.totalKey, tc.listKey)}
			c := newClient(t, f, nsapi.Config{PageSize: 2})
			got, err := tc.list(c)
			if err != nil {
				t.Fatalf("list: %v", err)
			}
			want := []string{"item-000", "item-001", "item-002", "item-003", "item-004"}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("items (-want +got):\n%s", d)
			}
			var offsets []string
			for _, r := range f.reqs {
				q := queryOf(t, r.URL)
				if q.Get("limit") != "2" {
					t.Errorf("%s: limit = %q, want 2", r.URL, q.Get("limit"))
				}
				offsets = append(offsets, q.Get("offset"))
			}
			// The first page comes first; the others are read
			// concurrently, in any order, each once.
			if len(offsets) > 1 {
				sort.Strings(offsets[1:])
			}
			if d := cmp.Diff([]string{"0", "2", "4"}, offsets); d != "" {
				t.Errorf("page offsets (-want +got):\n%s", d)
			}
		})
	}
}

func TestFirmwareDevicesPagesInTheBody(t *testing.T) {
	f := &fakeGW{handle: func(req nsapi.Request, _ []byte) [][]byte {
		var q nsapi.FirmwareDevicesQuery
		if err := json.Unmarshal(req.Body, &q); err != nil {
			return [][]byte{answer(req, "", map[string]any{"code": 20, "error": err.Error()})}
		}
		var devs []nsapi.FuotaDevice
		for i := q.Offset; i < 3 && i < q.Offset+q.Limit; i++ {
			devs = append(devs, nsapi.FuotaDevice{DevEUI: fmt.Sprintf("24e12471512345%02x", i), ProductModel: q.FirmwareName})
		}
		return [][]byte{answer(req, "", map[string]any{"total": 3, "devices": devs})}
	}}
	c := newClient(t, f, nsapi.Config{PageSize: 2})
	got, err := c.FirmwareDevices(context.Background(), nsapi.FirmwareDevicesQuery{FirmwareName: "WT201", FileContent: "AAAA"})
	if err != nil {
		t.Fatalf("FirmwareDevices: %v", err)
	}
	want := []nsapi.FuotaDevice{
		{DevEUI: "24e1247151234500", ProductModel: "WT201"},
		{DevEUI: "24e1247151234501", ProductModel: "WT201"},
		{DevEUI: "24e1247151234502", ProductModel: "WT201"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("FirmwareDevices (-want +got):\n%s", d)
	}
	if len(f.reqs) != 2 {
		t.Errorf("requests = %d, want 2 pages", len(f.reqs))
	}
}

// TestPagingEmptyPageBeforeTheTotalIsAnError: the gateway claims 1000
// devices but has only 3. The read ends at the page that adds nothing,
// one page at a time (window 1) or with a window of pages in flight (at
// most that many more requests, never 500 pages), with an error naming
// that page's request: a silent partial read would make apply re-create
// what it did not see.
func TestPagingEmptyPageBeforeTheTotalIsAnError(t *testing.T) {
	for _, window := range []int{1, 4} {
		f := &fakeGW{handle: func(req nsapi.Request, _ []byte) [][]byte {
			offset, _ := strconv.Atoi(queryOf(t, req.URL).Get("offset"))
			var devs []map[string]any
			for i := offset; i < 3 && i < offset+2; i++ {
				devs = append(devs, map[string]any{"devEUI": fmt.Sprintf("24E12400000000%02X", i)})
			}
			return [][]byte{answer(req, "", map[string]any{"devTotalCount": "1000", "deviceResult": devs})}
		}}
		c := newClient(t, f, nsapi.Config{PageSize: 2, Window: window})
		_, err := c.ListDevices(context.Background(), nsapi.DeviceQuery{})
		var le *nsapi.ListError
		if !errors.As(err, &le) || le.Method != "GET" || !strings.Contains(le.URL, "/api/urdevices?") ||
			!strings.Contains(err.Error(), "cannot be read completely") {
			t.Fatalf("window %d: ListDevices error = %v, want a *ListError naming the request of an empty page", window, err)
		}
		if got, most := c.Requests(), int64(3+window-1); got < 2 || got > most {
			t.Errorf("window %d: requests = %d, want 2 to %d (the first page, an empty one, and pages already in flight)", window, got, most)
		}
	}
}

// TestPagesReadConcurrently: after the first page, the pages of a list
// are read within the window at once, and come back in order whatever
// order their answers arrive in.
func TestPagesReadConcurrently(t *testing.T) {
	var (
		mu            sync.Mutex
		inFlight, top int
	)
	const n = 23
	list := pager(t, n, false, "devTotalCount", "deviceResult")
	f := &fakeGW{handle: func(req nsapi.Request, raw []byte) [][]byte {
		mu.Lock()
		inFlight++
		top = max(top, inFlight)
		mu.Unlock()
		offset, _ := strconv.Atoi(queryOf(t, req.URL).Get("offset"))
		// Later pages answer first.
		time.Sleep(time.Duration(30-offset) * time.Millisecond)
		mu.Lock()
		inFlight--
		mu.Unlock()
		return list(req, raw)
	}}
	c := newClient(t, f, nsapi.Config{PageSize: 2, Window: 4})
	l, err := c.ListDevices(context.Background(), nsapi.DeviceQuery{})
	if err != nil {
		t.Fatalf("ListDevices: %v", err)
	}
	var got, want []string
	for i := range n {
		want = append(want, fmt.Sprintf("item-%03d", i))
	}
	for _, d := range l.DeviceResult {
		got = append(got, d.Name)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("devices (-want +got):\n%s", d)
	}
	if top != 4 {
		t.Errorf("at most %d pages in flight, want the window's 4", top)
	}
	if c.Requests() != 12 {
		t.Errorf("requests = %d, want 12 pages", c.Requests())
	}
}

// TestPagingShortPageInTheMiddle: a page shorter than the first leaves
// offsets no page covered; they are read, one page at a time, until the
// total is reached, and the list comes back whole and in order.
func TestPagingShortPageInTheMiddle(t *testing.T) {
	f := &fakeGW{handle: func(req nsapi.Request, _ []byte) [][]byte {
		offset, _ := strconv.Atoi(queryOf(t, req.URL).Get("offset"))
		var devs []map[string]any
		switch offset {
		case 0:
			devs = []map[string]any{{"devEUI": "24E1240000000000"}, {"devEUI": "24E1240000000001"}}
		case 2:
			devs = []map[string]any{{"devEUI": "24E1240000000002"}}
		case 3:
			devs = []map[string]any{{"devEUI": "24E1240000000003"}}
		case 4:
			devs = []map[string]any{{"devEUI": "24E1240000000004"}, {"devEUI": "24E1240000000005"}}
		}
		return [][]byte{answer(req, "", map[string]any{"devTotalCount": 6, "deviceResult": devs})}
	}}
	c := newClient(t, f, nsapi.Config{PageSize: 2, Window: 4})
	l, err := c.ListDevices(context.Background(), nsapi.DeviceQuery{})
	if err != nil {
		t.Fatalf("ListDevices: %v", err)
	}
	var got []string
	for _, d := range l.DeviceResult {
		got = append(got, d.DevEUI)
	}
	want := []string{"24E1240000000000", "24E1240000000001", "24E1240000000002", "24E1240000000003", "24E1240000000004", "24E1240000000005"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("devices (-want +got):\n%s", d)
	}
	if c.Requests() != 4 {
		t.Errorf("requests = %d, want 4 (offsets 0, 2, 4, then 3)", c.Requests())
	}
}

func TestFallbacksOnCode21(t *testing.T) {
	unsupported := map[string]any{"code": 21, "error": "type or url not supported"}
	cases := []struct {
		name   string
		refuse func(method, url string) bool
		run    func(c *nsapi.Client) error
		want   []string
		code   int
	}{
		{
			name:   "deletedevices falls back to deleteddevices, remembered",
			refuse: func(_, u string) bool { return strings.HasSuffix(u, "/deletedevices") },
			run: func(c *nsapi.Client) error {
				for range 2 {
					if err := c.RemoveGroupDevices(context.Background(), "g-1", []string{"24E124136A456467"}); err != nil {
						return err
					}
				}
				return nil
			},
			want: []string{
				"POST /api/multicast-groups/g-1/deletedevices",
				"POST /api/multicast-groups/g-1/deleteddevices",
				"POST /api/multicast-groups/g-1/deleteddevices",
			},
		},
		{
			name:   "the canonical URL is kept when it works",
			refuse: func(_, u string) bool { return false },
			run: func(c *nsapi.Client) error {
				return c.RemoveGroupDevices(context.Background(), "g-1", []string{"24E124136A456467"})
			},
			want: []string{"POST /api/multicast-groups/g-1/deletedevices"},
		},
		{
			name:   "payloadcodecs falls back to payloadcodec, remembered per method",
			refuse: func(_, u string) bool { return strings.HasPrefix(u, "/api/payloadcodecs") },
			run: func(c *nsapi.Client) error {
				for range 2 {
					if _, err := c.CreateCodec(context.Background(), nsapi.CodecWrite{Name: "k"}); err != nil {
						return err
					}
					if err := c.UpdateCodec(context.Background(), "285", nsapi.CodecWrite{Name: "k"}); err != nil {
						return err
					}
					if _, err := c.ListCodecs(context.Background(), nsapi.CodecTypeCustom, ""); err != nil {
						return err
					}
					if err := c.DeleteCodec(context.Background(), "285"); err != nil {
						return err
					}
				}
				return nil
			},
			want: []string{
				"POST /api/payloadcodecs",
				"POST /api/payloadcodec",
				"PUT /api/payloadcodecs/285",
				"PUT /api/payloadcodec/285",
				"GET /api/payloadcodecs?type=custom&search=&limit=500&offset=0",
				"GET /api/payloadcodec?type=custom&search=&limit=500&offset=0",
				"DELETE /api/payloadcodecs/285",
				"DELETE /api/payloadcodec/285",
				"POST /api/payloadcodec",
				"PUT /api/payloadcodec/285",
				"GET /api/payloadcodec?type=custom&search=&limit=500&offset=0",
				"DELETE /api/payloadcodec/285",
			},
		},
		{
			// Spec 5.1–5.4 examples: singular for POST and PUT, plural for
			// GET and DELETE. A POST that learnt the singular must not send
			// the list and the delete there.
			name: "the spec examples' spellings: writes singular, reads and deletes plural",
			refuse: func(m, u string) bool {
				singular := strings.HasPrefix(u, "/api/payloadcodec") && !strings.HasPrefix(u, "/api/payloadcodecs")
				if m == "POST" || m == "PUT" {
					return !singular
				}
				return singular
			},
			run: func(c *nsapi.Client) error {
				for range 2 {
					if _, err := c.CreateCodec(context.Background(), nsapi.CodecWrite{Name: "k"}); err != nil {
						return err
					}
					if _, err := c.ListCodecs(context.Background(), nsapi.CodecTypeCustom, ""); err != nil {
						return err
					}
					if err := c.UpdateCodec(context.Background(), "285", nsapi.CodecWrite{Name: "k"}); err != nil {
						return err
					}
					if err := c.DeleteCodec(context.Background(), "285"); err != nil {
						return err
					}
				}
				return nil
			},
			want: []string{
				"POST /api/payloadcodecs",
				"POST /api/payloadcodec",
				"GET /api/payloadcodecs?type=custom&search=&limit=500&offset=0",
				"PUT /api/payloadcodecs/285",
				"PUT /api/payloadcodec/285",
				"DELETE /api/payloadcodecs/285",
				"POST /api/payloadcodec",
				"GET /api/payloadcodecs?type=custom&search=&limit=500&offset=0",
				"PUT /api/payloadcodec/285",
				"DELETE /api/payloadcodecs/285",
			},
		},
		{
			name:   "both spellings refused: code 21, nothing remembered",
			refuse: func(_, u string) bool { return true },
			run: func(c *nsapi.Client) error {
				err := c.DeleteCodec(context.Background(), "285")
				if !nsapi.IsCode(err, nsapi.CodeUnsupportedURL) {
					return fmt.Errorf("first delete: got %v, want code 21", err)
				}
				return c.DeleteCodec(context.Background(), "286")
			},
			want: []string{
				"DELETE /api/payloadcodecs/285",
				"DELETE /api/payloadcodec/285",
				"DELETE /api/payloadcodecs/286",
				"DELETE /api/payloadcodec/286",
			},
			code: nsapi.CodeUnsupportedURL,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeGW{handle: func(req nsapi.Request, _ []byte) [][]byte {
				if tc.refuse(req.Method, req.URL) {
					return [][]byte{answer(req, "", unsupported)}
				}
				if req.Method == "POST" && strings.HasPrefix(req.URL, "/api/payloadcodec") {
					return [][]byte{answer(req, "", map[string]any{"id": "285", "code": 200, "error": ""})}
				}
				if req.Method == "GET" {
					return [][]byte{answer(req, "", map[string]any{"totalCount": "0", "result": []any{}})}
				}
				return [][]byte{answer(req, "", nil)}
			}}
			c := newClient(t, f, nsapi.Config{})
			err := tc.run(c)
			if tc.code == 0 && err != nil {
				t.Fatalf("run: %v", err)
			}
			if tc.code != 0 && !nsapi.IsCode(err, tc.code) {
				t.Fatalf("run: got %v, want code %d", err, tc.code)
			}
			if d := cmp.Diff(tc.want, f.urls()); d != "" {
				t.Errorf("requests (-want +got):\n%s", d)
			}
		})
	}
}

func TestRemoteErrors(t *testing.T) {
	codes := []int{
		nsapi.CodeUnknown, nsapi.CodeParameter, nsapi.CodeNotFound, nsapi.CodeAlreadyExists,
		nsapi.CodeFailedPrecondition, nsapi.CodeBadJSON, nsapi.CodeUnsupportedURL,
		nsapi.CodeMethodNotSupported, nsapi.CodeInternal, nsapi.CodeRequestTimeout, nsapi.CodeGatewayMismatch,
		nsapi.CodeFuotaDeviceInTask, nsapi.CodeFuotaDevicesInTasks, nsapi.CodeFuotaTaskName,
		nsapi.CodeFuotaStartTime, nsapi.CodeFuotaMissFragmentInfo, nsapi.CodeFuotaMissTmpMcInfo,
		nsapi.CodeFuotaMissFirmwareInfo, nsapi.CodeFuotaMissOfficialInfo, nsapi.CodeFuotaMissCustomFirmware,
		nsapi.CodeFuotaFragmentSize, nsapi.CodeFuotaFragmentInterval, nsapi.CodeFuotaRedundancy,
		nsapi.CodeFuotaTooManyTasks, nsapi.CodeFuotaTaskStatus, nsapi.CodeFuotaOfficialFetch,
	}
	for _, code := range codes {
		for _, asString := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d string=%v", code, asString), func(t *testing.T) {
				f := &fakeGW{handle: func(req nsapi.Request, _ []byte) [][]byte {
					var c any = code
					if asString {
						c = strconv.Itoa(code)
					}
					return [][]byte{answer(req, "", map[string]any{"code": c, "error": "refused: " + strconv.Itoa(code)})}
				}}
				c := newClient(t, f, nsapi.Config{})
				err := c.UpdateProfile(context.Background(), "p-1", nsapi.ProfileWrite{Name: "x"})
				var re *nsapi.RemoteError
				if !errors.As(err, &re) {
					t.Fatalf("got %v, want a *RemoteError", err)
				}
				want := &nsapi.RemoteError{Method: "PUT", URL: "/api/urprofiles/p-1", Code: code, Message: "refused: " + strconv.Itoa(code)}
				if code == nsapi.CodeGatewayMismatch {
					want.Message = "the request named gateway (none): check the configured gateway EUI (refused: 25)"
				}
				if d := cmp.Diff(want, re); d != "" {
					t.Errorf("error (-want +got):\n%s", d)
				}
				if errors.Is(err, nsapi.ErrUnknownOutcome) {
					t.Errorf("a refusal is not an unknown outcome")
				}
			})
		}
	}
}

func TestSuccessBodies(t *testing.T) {
	for _, body := range []string{"", `{}`, `null`, `""`, `{"code":200,"error":""}`, `{"code":"200","error":""}`} {
		t.Run(body, func(t *testing.T) {
			f := &fakeGW{handle: func(req nsapi.Request, _ []byte) [][]byte {
				m := map[string]any{"id": req.ID, "method": req.Method, "url": req.URL}
				if body != "" {
					m["body"] = raw(body)
				}
				b, _ := json.Marshal(m)
				return [][]byte{b}
			}}
			c := newClient(t, f, nsapi.Config{})
			if err := c.DeleteGroup(context.Background(), "g-1"); err != nil {
				t.Errorf("DeleteGroup with body %q: %v, want success", body, err)
			}
		})
	}
}

func TestCreateReturnsTheNewID(t *testing.T) {
	f := &fakeGW{handle: func(req nsapi.Request, _ []byte) [][]byte {
		switch req.URL {
		case "/api/urprofiles":
			return [][]byte{answer(req, "", map[string]any{"profileID": "c6686391-55a3-40fe-a347-acd431211c58"})}
		case "/api/multicast-groups":
			return [][]byte{answer(req, "", map[string]any{"id": "03881b5e-9af0-4a38-860c-bdc25347f739"})}
		case "/api/payloadcodecs":
			return [][]byte{answer(req, "", map[string]any{"id": "285", "error": "", "code": 200})}
		case "/api/fuota/task":
			return [][]byte{answer(req, "", map[string]any{"id": 184})}
		}
		return [][]byte{answer(req, "", map[string]any{"code": 21})}
	}}
	c := newClient(t, f, nsapi.Config{})
	ctx := context.Background()
	var got []string
	p, err := c.CreateProfile(ctx, nsapi.ProfileWrite{Name: "test"})
	got = append(got, p, fmt.Sprint(err))
	g, err := c.CreateGroup(ctx, nsapi.MulticastGroup{Name: "group1"})
	got = append(got, g, fmt.Sprint(err))
	k, err := c.CreateCodec(ctx, nsapi.CodecWrite{Name: "k"})
	got = append(got, k, fmt.Sprint(err))
	id, err := c.CreateTask(ctx, nsapi.FuotaTask{ID: 99, Name: "t", Status: 3})
	got = append(got, strconv.FormatInt(id, 10), fmt.Sprint(err))
	want := []string{
		"c6686391-55a3-40fe-a347-acd431211c58", "<nil>",
		"03881b5e-9af0-4a38-860c-bdc25347f739", "<nil>",
		"285", "<nil>",
		"184", "<nil>",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ids (-want +got):\n%s", d)
	}
	// The task body is the canonical write: no id, no server-owned status.
	var body struct {
		FuotaTask map[string]any `json:"fuotaTask"`
	}
	if err := json.Unmarshal(f.reqs[3].Body, &body); err != nil {
		t.Fatalf("task body: %v", err)
	}
	for _, k := range []string{"id", "status"} {
		if _, ok := body.FuotaTask[k]; ok {
			t.Errorf("create task body carries %q: %s", k, f.reqs[3].Body)
		}
	}
}

func TestCreateWithoutIDIsAnError(t *testing.T) {
	f := &fakeGW{handle: func(req nsapi.Request, _ []byte) [][]byte { return [][]byte{answer(req, "", map[string]any{})} }}
	c := newClient(t, f, nsapi.Config{})
	if _, err := c.CreateProfile(context.Background(), nsapi.ProfileWrite{Name: "x"}); err == nil || !strings.Contains(err.Error(), "profileID") {
		t.Errorf("CreateProfile with an empty answer: got %v, want an error naming profileID", err)
	}
}

func TestDroppedResponseIsUnknownOutcome(t *testing.T) {
	f := &fakeGW{handle: func(req nsapi.Request, _ []byte) [][]byte { return nil }}
	c := newClient(t, f, nsapi.Config{RequestTimeout: 100 * time.Millisecond})
	err := c.CreateDevice(context.Background(), nsapi.DeviceWrite{DevEUI: "24E124136A456465", ApplicationID: "1"})
	var oe *nsapi.OutcomeError
	if !errors.As(err, &oe) || !errors.Is(err, nsapi.ErrUnknownOutcome) {
		t.Fatalf("got %v, want an *OutcomeError wrapping ErrUnknownOutcome", err)
	}
	if oe.Method != "POST" || oe.URL != "/api/urdevices" {
		t.Errorf("OutcomeError names %s %s, want POST /api/urdevices", oe.Method, oe.URL)
	}
	if !strings.Contains(err.Error(), "outcome of the write is unknown") {
		t.Errorf("message %q does not say the outcome is unknown", err)
	}
}

func TestConnectionLostFailsEveryRequestInFlight(t *testing.T) {
	const n = 4
	arrived := make(chan struct{}, n)
	f := &fakeGW{handle: func(req nsapi.Request, _ []byte) [][]byte {
		arrived <- struct{}{}
		return nil // never answered
	}}
	c := newClient(t, f, nsapi.Config{Window: n, RequestTimeout: time.Minute})
	errs := make(chan error, n)
	for i := range n {
		go func() {
			errs <- c.UpdateDevice(context.Background(), fmt.Sprintf("24E124136A4564%02X", i), nsapi.DeviceWrite{ApplicationID: "1"})
		}()
	}
	for range n {
		<-arrived
	}
	f.lost(errors.New("connection reset by peer"))
	for range n {
		err := <-errs
		var oe *nsapi.OutcomeError
		if !errors.As(err, &oe) || !errors.Is(err, nsapi.ErrUnknownOutcome) {
			t.Errorf("got %v, want an *OutcomeError", err)
			continue
		}
		if !strings.Contains(err.Error(), "connection reset by peer") {
			t.Errorf("error %q does not name the cause", err)
		}
	}
}

func TestWindowBoundsRequestsInFlight(t *testing.T) {
	const window = 3
	var mu sync.Mutex
	inFlight, maxInFlight := 0, 0
	release := make(chan struct{})
	var releaseOnce sync.Once // the window can fill more than once
	f := &fakeGW{handle: func(req nsapi.Request, _ []byte) [][]byte {
		mu.Lock()
		inFlight++
		if inFlight > maxInFlight {
			maxInFlight = inFlight
		}
		full := inFlight == window
		mu.Unlock()
		if full {
			releaseOnce.Do(func() { close(release) })
		}
		<-release
		mu.Lock()
		inFlight--
		mu.Unlock()
		return [][]byte{answer(req, "", nil)}
	}}
	c := newClient(t, f, nsapi.Config{Window: window, RequestTimeout: time.Minute})
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.DeleteDevice(context.Background(), fmt.Sprintf("24E124136A4564%02X", i)); err != nil {
				t.Errorf("DeleteDevice: %v", err)
			}
		}()
	}
	wg.Wait()
	if maxInFlight != window {
		t.Errorf("most requests in flight = %d, want the window, %d", maxInFlight, window)
	}
}

func TestClosedClientRefusesRequests(t *testing.T) {
	f := &fakeGW{handle: func(req nsapi.Request, _ []byte) [][]byte { return [][]byte{answer(req, "", nil)} }}
	c := newClient(t, f, nsapi.Config{})
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := c.DeleteDevice(context.Background(), "24E124136A456465"); !errors.Is(err, nsapi.ErrClosed) {
		t.Errorf("request after Close: got %v, want ErrClosed", err)
	}
	if len(f.reqs) != 0 {
		t.Errorf("a closed client sent %d requests", len(f.reqs))
	}
}

func TestGetDevice(t *testing.T) {
	f := &fakeGW{handle: func(req nsapi.Request, _ []byte) [][]byte {
		q := queryOf(t, req.URL)
		var devs []map[string]any
		if strings.EqualFold(q.Get("search"), "24E124136A456465") {
			// A search may match more than the one device asked for.
			devs = append(devs,
				map[string]any{"devEUI": "24E124136A4564650", "name": "other"},
				map[string]any{"devEUI": "24e124136a456465", "name": "em300", "nwksKey": "k", "payloadCodeID": 9})
		}
		return [][]byte{answer(req, "", map[string]any{"devTotalCount": strconv.Itoa(len(devs)), "deviceResult": devs})}
	}}
	c := newClient(t, f, nsapi.Config{})
	d, err := c.GetDevice(context.Background(), "24E124136A456465")
	if err != nil {
		t.Fatalf("GetDevice: %v", err)
	}
	want := &nsapi.Device{DevEUI: "24e124136a456465", Name: "em300", NwkSKey: "k", PayloadCodecID: "9"}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("GetDevice (-want +got):\n%s", diff)
	}
	if q := queryOf(t, f.reqs[0].URL); q.Get("search") != "24E124136A456465" {
		t.Errorf("GetDevice searched %q", f.reqs[0].URL)
	}
	_, err = c.GetDevice(context.Background(), "24E1241300000000")
	if !nsapi.IsCode(err, nsapi.CodeNotFound) {
		t.Errorf("missing device: got %v, want code %d", err, nsapi.CodeNotFound)
	}
}

func TestDebugLogNeverCarriesBodies(t *testing.T) {
	const key = "5572404c696e6b4c6f52613230313823"
	f := &fakeGW{handle: func(req nsapi.Request, _ []byte) [][]byte {
		if req.Method == "GET" {
			return [][]byte{answer(req, "", map[string]any{"devTotalCount": 1, "deviceResult": []any{map[string]any{"devEUI": "24E124136A456465", "appKey": key}}})}
		}
		return [][]byte{answer(req, "", map[string]any{"code": 3, "error": "bad appKey " + key})}
	}}
	var mu sync.Mutex
	var lines []string
	c := newClient(t, f, nsapi.Config{Logf: func(format string, args ...any) {
		mu.Lock()
		lines = append(lines, fmt.Sprintf(format, args...))
		mu.Unlock()
	}})
	_ = c.CreateDevice(context.Background(), nsapi.DeviceWrite{DevEUI: "24E124136A456465", ApplicationID: "1", AppKey: key})
	if _, err := c.ListDevices(context.Background(), nsapi.DeviceQuery{}); err != nil {
		t.Fatalf("ListDevices: %v", err)
	}
	if len(lines) < 2 {
		t.Fatalf("debug lines = %q, want one per request", lines)
	}
	for _, l := range lines {
		if strings.Contains(strings.ToLower(l), key) {
			t.Errorf("debug line carries a key: %s", l)
		}
	}
	if !strings.Contains(lines[0], "POST /api/urdevices") || !strings.Contains(lines[0], "code=3") {
		t.Errorf("debug line %q lacks method, url or code", lines[0])
	}
}
