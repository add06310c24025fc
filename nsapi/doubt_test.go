package nsapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gwsync/gwsync/nsapi"
)

// The tests of this file hold the client to doubting the gateway: ids a
// gateway echoes as numbers, pages of any size, hostile pages, answers it
// ignores, a search that does not match EUIs.

var doubtSeed = flag.Uint64("doubt.seed", 0, "seed of TestPagingRandomGateways (0: from the clock)")

// numericIDGateway answers as a gateway that parses the request id as an
// integer and echoes it as a JSON number: an id that is not an integer is
// echoed as 0.
func numericIDGateway(t *testing.T, body func(req nsapi.Request) any) *fakeGW {
	return &fakeGW{handle: func(req nsapi.Request, _ []byte) [][]byte {
		id, err := strconv.ParseInt(req.ID, 10, 64)
		if err != nil {
			id = 0
		}
		b := []byte(answer(req, "", body(req)))
		// answer wrote "id":"<id>" first; the gateway writes a number.
		quoted := `"id":` + strconv.Quote(req.ID)
		if !strings.Contains(string(b), quoted) {
			t.Errorf("answer %s carries no %s", b, quoted)
		}
		return [][]byte{[]byte(strings.Replace(string(b), quoted, `"id":`+strconv.FormatInt(id, 10), 1))}
	}}
}

// TestNumericIDEcho: every request is answered although the gateway echoes
// its id as a JSON number.
func TestNumericIDEcho(t *testing.T) {
	list := pager(t, 7, true, "totalCount", "result")
	f := numericIDGateway(t, func(req nsapi.Request) any {
		var m map[string]any
		if err := json.Unmarshal(list(req, nil)[0], &m); err != nil {
			t.Fatal(err)
		}
		return m["body"]
	})
	c := newClient(t, f, nsapi.Config{PageSize: 3, RequestTimeout: 5 * time.Second})
	l, err := c.ListProfiles(context.Background())
	if err != nil {
		t.Fatalf("ListProfiles against a gateway echoing numeric ids: %v", err)
	}
	if len(l.Result) != 7 {
		t.Errorf("profiles = %d, want 7", len(l.Result))
	}
}

// TestTimeoutNamesIgnoredAnswers: answers that came but were not taken are
// counted by reason in the timeout's error, instead of "never answered".
func TestTimeoutNamesIgnoredAnswers(t *testing.T) {
	f := &fakeGW{handle: func(req nsapi.Request, _ []byte) [][]byte {
		var out [][]byte
		for range 3 {
			out = append(out, answer(req, "AABBCCDDEEFF0011", map[string]any{"totalCount": 0, "result": []any{}}))
		}
		for i := range 2 {
			other := req
			other.ID = "9" + strconv.Itoa(i) + req.ID
			out = append(out, answer(other, gwEUI, map[string]any{"totalCount": 0, "result": []any{}}))
		}
		out = append(out, []byte("<html>not json</html>"))
		return out
	}}
	// Delivered before Publish returns: the answers a gateway sends
	// before the client has done with its publish count too.
	f.inPublish = true
	c := newClient(t, f, nsapi.Config{GatewayEUI: gwEUI, RequestTimeout: 300 * time.Millisecond})
	_, err := c.ListProfiles(context.Background())
	if !errors.Is(err, nsapi.ErrUnknownOutcome) {
		t.Fatalf("ListProfiles error = %v, want an unknown outcome", err)
	}
	for _, want := range []string{"3 answers carried another gateway's EUI", "2 answers had an unknown id", "1 answer was not JSON"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	// ReadState says the same, and not that the gateway never answered.
	_, err = c.ReadState(context.Background())
	if err == nil || strings.Contains(err.Error(), "never answered") || !strings.Contains(err.Error(), "carried another gateway's EUI") {
		t.Errorf("ReadState error = %v, want the ignored answers named and no \"never answered\"", err)
	}
}

// hostilePage is a device list page: total and the devices at offsets
// from..to-1 of a list of n (EUIs 24E12400000000XX).
func hostilePage(req nsapi.Request, total any, euis ...int) []byte {
	devs := []map[string]any{}
	for _, i := range euis {
		devs = append(devs, map[string]any{"devEUI": fmt.Sprintf("24E124000000%04X", i), "name": "d-" + strconv.Itoa(i)})
	}
	return answer(req, "", map[string]any{"devTotalCount": total, "deviceResult": devs})
}

func span(from, to int) []int {
	var s []int
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

// TestHostilePagesAreErrors: every way a gateway's pages can contradict
// themselves ends the read with a *ListError that names the request, in a
// bounded number of requests.
func TestHostilePagesAreErrors(t *testing.T) {
	offsetOf := func(t *testing.T, req nsapi.Request) int {
		o, _ := strconv.Atoi(queryOf(t, req.URL).Get("offset"))
		return o
	}
	cases := []struct {
		name   string
		answer func(t *testing.T, req nsapi.Request) []byte
		want   string
		most   int64 // requests
	}{
		{"the same full page repeated with a large total", func(t *testing.T, req nsapi.Request) []byte {
			return hostilePage(req, "50000", span(0, 10)...)
		}, "listed twice", 1 + 4},
		{"an item on two pages, counted twice in the total", func(t *testing.T, req nsapi.Request) []byte {
			if offsetOf(t, req) == 0 {
				return hostilePage(req, 21, span(0, 10)...)
			}
			return hostilePage(req, 21, span(offsetOf(t, req)-1, min(offsetOf(t, req)+9, 20))...)
		}, "listed twice", 5},
		{"a duplicate within one page", func(t *testing.T, req nsapi.Request) []byte {
			return hostilePage(req, 3, 1, 2, 1)
		}, "listed twice (items 0 and 2)", 1},
		{"body null", func(t *testing.T, req nsapi.Request) []byte {
			return []byte(`{"id":"` + req.ID + `","method":"GET","url":"x","body":null}`)
		}, "empty or null where a list belongs", 1},
		{"body missing", func(t *testing.T, req nsapi.Request) []byte {
			return answer(req, "", nil)
		}, "empty or null where a list belongs", 1},
		{"body a string", func(t *testing.T, req nsapi.Request) []byte {
			return answer(req, "", "")
		}, "empty or null where a list belongs", 1},
		{"body an array", func(t *testing.T, req nsapi.Request) []byte {
			return answer(req, "", []any{})
		}, "not a list page", 1},
		{"a device list of the wrong type", func(t *testing.T, req nsapi.Request) []byte {
			return answer(req, "", map[string]any{"devTotalCount": 1, "deviceResult": "24E1240000000000"})
		}, "not a list page", 1},
		{"a total that changes", func(t *testing.T, req nsapi.Request) []byte {
			o := offsetOf(t, req)
			return hostilePage(req, 30+o, span(o, o+10)...)
		}, "the total changed", 5},
		{"more items than the total", func(t *testing.T, req nsapi.Request) []byte {
			return hostilePage(req, 2, 0, 1, 2)
		}, "more items than the total", 1},
		{"a negative total", func(t *testing.T, req nsapi.Request) []byte {
			return hostilePage(req, -1, 0)
		}, "outside what gwsync reads", 1},
		{"a total too large", func(t *testing.T, req nsapi.Request) []byte {
			return hostilePage(req, nsapi.MaxListItems+1, span(0, 10)...)
		}, "outside what gwsync reads", 1},
		{"items but no total", func(t *testing.T, req nsapi.Request) []byte {
			return answer(req, "", map[string]any{"deviceResult": []any{map[string]any{"devEUI": "24E1240000000000"}}})
		}, "more items than the total", 1},
		{"offsets past the cap give the first page again", func(t *testing.T, req nsapi.Request) []byte {
			o := offsetOf(t, req)
			if o >= 20 {
				o = 0
			}
			return hostilePage(req, 35, span(o, o+10)...)
		}, "listed twice", 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeGW{handle: func(req nsapi.Request, _ []byte) [][]byte { return [][]byte{tc.answer(t, req)} }}
			c := newClient(t, f, nsapi.Config{PageSize: 500, Window: 4, RequestTimeout: 2 * time.Second})
			start := time.Now()
			l, err := c.ListDevices(context.Background(), nsapi.DeviceQuery{})
			var le *nsapi.ListError
			if !errors.As(err, &le) {
				t.Fatalf("ListDevices = %d devices, error %v; want a *ListError", lenDevices(l), err)
			}
			if le.Method != "GET" || !strings.HasPrefix(le.URL, "/api/urdevices?") || !strings.Contains(err.Error(), "GET /api/urdevices?") {
				t.Errorf("error %q does not name the request", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if n := c.Requests(); n > tc.most {
				t.Errorf("requests = %d, want at most %d", n, tc.most)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %s", d)
			}
		})
	}
}

func lenDevices(l *nsapi.DeviceList) int {
	if l == nil {
		return 0
	}
	return len(l.DeviceResult)
}

// TestPagingRandomGateways: gateways that cap pages at a size of their
// own (whatever limit is asked), vary it from page to page, and answer in
// any order give the whole list, in order, within the window; the same
// gateway with one random corruption (a repeated item, a lost item, a
// changed total, a null body) gives an error and never a list.
func TestPagingRandomGateways(t *testing.T) {
	seed := *doubtSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	// On stderr, not t.Logf: a panic in a page's goroutine ends the test
	// binary before a log of the test is printed, and the seed is what
	// replays it.
	fmt.Fprintf(os.Stderr, "TestPagingRandomGateways: seed %d (replay: go test ./nsapi -run TestPagingRandomGateways -doubt.seed=%d)\n", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	for trial := range 60 {
		n := rng.IntN(1200)
		capAt := 1 + rng.IntN(150)
		vary := rng.IntN(3) == 0 // some pages shorter than the cap
		corrupt := rng.IntN(5)   // 0..3: a corruption; 4: none
		if n < 3 {
			corrupt = 4
		}
		at := rng.IntN(max(n, 1))
		window := 1 + rng.IntN(6)
		pageSize := []int{1, 7, 100, 500, 9999}[rng.IntN(5)]
		var vmu = make(chan struct{}, 1)
		vrng := rand.New(rand.NewPCG(seed, uint64(trial)+1))
		f := &fakeGW{handle: func(req nsapi.Request, _ []byte) [][]byte {
			q := queryOf(t, req.URL)
			limit, _ := strconv.Atoi(q.Get("limit"))
			offset, _ := strconv.Atoi(q.Get("offset"))
			size := min(limit, capAt)
			if vary {
				vmu <- struct{}{}
				size = 1 + vrng.IntN(size)
				<-vmu
			}
			var euis []int
			for i := offset; i < n && i < offset+size; i++ {
				euis = append(euis, i)
			}
			total := any(strconv.Itoa(n))
			switch {
			case corrupt == 0 && len(euis) > 0 && offset <= at && at < offset+len(euis) && offset > 0:
				euis[0] = 0 // an item of the first page again
			case corrupt == 1 && len(euis) > 0 && offset <= at && at < offset+len(euis):
				euis = append(euis[:at-offset:at-offset], euis[at-offset+1:]...) // lost
			case corrupt == 2 && offset > 0:
				total = n + 1
			case corrupt == 3 && offset <= at && at < offset+max(len(euis), 1):
				return [][]byte{[]byte(`{"id":"` + req.ID + `","body":null}`)}
			}
			return [][]byte{hostilePage(req, total, euis...)}
		}}
		c := newClient(t, f, nsapi.Config{PageSize: pageSize, Window: window, RequestTimeout: 2 * time.Second})
		l, err := c.ListDevices(context.Background(), nsapi.DeviceQuery{})
		what := fmt.Sprintf("trial %d (seed %d): %d devices, cap %d, vary %v, corruption %d at %d, window %d, limit %d",
			trial, seed, n, capAt, vary, corrupt, at, window, pageSize)
		// A repeated item or a changed total on the first page is no
		// corruption (nothing to contradict yet); a lost item and a null
		// body always show. A read that succeeds must give the list.
		if err == nil {
			if corrupt == 1 || corrupt == 3 {
				t.Fatalf("%s: no error", what)
			}
			if len(l.DeviceResult) != n {
				t.Fatalf("%s: %d devices", what, len(l.DeviceResult))
			}
			for i, d := range l.DeviceResult {
				if want := fmt.Sprintf("24E124000000%04X", i); d.DevEUI != want {
					t.Fatalf("%s: device %d is %s, want %s", what, i, d.DevEUI, want)
				}
			}
			continue
		}
		if corrupt == 4 {
			t.Fatalf("%s: %v", what, err)
		}
		var le *nsapi.ListError
		if !errors.As(err, &le) {
			t.Fatalf("%s: ListDevices = %d devices, error %v; want a *ListError", what, lenDevices(l), err)
		}
		if most := int64(n + window + 1); c.Requests() > most {
			t.Errorf("%s: %d requests, want at most %d", what, c.Requests(), most)
		}
	}
}

// searchGateway is a gateway of n devices whose search matches names
// only, or names and EUIs.
func searchGateway(t *testing.T, n int, matchesEUI bool) *fakeGW {
	return &fakeGW{handle: func(req nsapi.Request, _ []byte) [][]byte {
		q := queryOf(t, req.URL)
		limit, _ := strconv.Atoi(q.Get("limit"))
		offset, _ := strconv.Atoi(q.Get("offset"))
		s := strings.ToLower(q.Get("search"))
		var found []int
		for i := range n {
			eui := strings.ToLower(fmt.Sprintf("24E124000000%04X", i))
			if s == "" || strings.Contains("d-"+strconv.Itoa(i), s) || matchesEUI && strings.Contains(eui, s) {
				found = append(found, i)
			}
		}
		var page []int
		for i := offset; i < len(found) && i < offset+limit; i++ {
			page = append(page, found[i])
		}
		return [][]byte{hostilePage(req, len(found), page...)}
	}}
}

// TestGetDeviceSearchFallback: a gateway whose search does not match EUIs
// still finds a device: by a paged read, and at once for later look-ups; a
// gateway whose search matches EUIs costs one request per look-up, and
// once search is seen to work a miss is believed.
func TestGetDeviceSearchFallback(t *testing.T) {
	t.Run("search matches names only", func(t *testing.T) {
		f := searchGateway(t, 25, false)
		c := newClient(t, f, nsapi.Config{PageSize: 10})
		d, err := c.GetDevice(context.Background(), "24e1240000000007")
		if err != nil || d.DevEUI != "24E1240000000007" {
			t.Fatalf("GetDevice = %+v, %v; want the device", d, err)
		}
		if got := c.Requests(); got != 1+3 {
			t.Errorf("requests = %d, want 4 (the search, then 3 pages)", got)
		}
		before := c.Requests()
		if _, err := c.GetDevice(context.Background(), "24E1240000000011"); err != nil {
			t.Fatalf("GetDevice: %v", err)
		}
		if got := c.Requests() - before; got != 3 {
			t.Errorf("second look-up: %d requests, want 3 pages (no search once it missed)", got)
		}
		_, err = c.GetDevice(context.Background(), "24E12400000000FF")
		if !nsapi.IsCode(err, nsapi.CodeNotFound) {
			t.Errorf("a missing device: %v, want code 5", err)
		}
	})
	t.Run("search matches EUIs", func(t *testing.T) {
		f := searchGateway(t, 25, true)
		c := newClient(t, f, nsapi.Config{PageSize: 10})
		if _, err := c.GetDevice(context.Background(), "24E1240000000007"); err != nil {
			t.Fatalf("GetDevice: %v", err)
		}
		if _, err := c.GetDevice(context.Background(), "24E12400000000FF"); !nsapi.IsCode(err, nsapi.CodeNotFound) {
			t.Errorf("a missing device: %v, want code 5", err)
		}
		if got := c.Requests(); got != 2 {
			t.Errorf("requests = %d, want 2 (one search each)", got)
		}
	})
}
