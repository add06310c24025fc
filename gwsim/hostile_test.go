package gwsim

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gwsync/gwsync/nsapi"
)

// devicePage reads one device list page: its total and EUIs.
func devicePage(t *testing.T, g *Gateway, url string) (string, []string) {
	t.Helper()
	b := mustOK(t, g, "GET", url, nil)
	var p struct {
		Total  string `json:"devTotalCount"`
		Result []struct {
			DevEUI string `json:"devEUI"`
		} `json:"deviceResult"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("%s: %s: %v", url, b, err)
	}
	var euis []string
	for _, d := range p.Result {
		euis = append(euis, d.DevEUI)
	}
	return p.Total, euis
}

func withDevices(t *testing.T, opts Options, n int) *Gateway {
	g := newGateway(t, Options{})
	for i := range n {
		addDevice(t, g, fmt.Sprintf("24E12400000000%02X", i), fmt.Sprintf("d-%d", i))
	}
	g.opts.PageCap, g.opts.NumericIDs, g.opts.SearchNamesOnly, g.opts.Paging = opts.PageCap, opts.NumericIDs, opts.SearchNamesOnly, opts.Paging
	return g
}

func TestPageCap(t *testing.T) {
	g := withDevices(t, Options{PageCap: 3}, 8)
	for _, u := range []string{"/api/urdevices?limit=500&offset=0", "/api/urdevices?offset=0", "/api/urdevices?limit=3&offset=0"} {
		if total, euis := devicePage(t, g, u); total != "8" || len(euis) != 3 {
			t.Errorf("%s: total %s, %d devices; want 8 and 3 (the cap)", u, total, len(euis))
		}
	}
	if _, euis := devicePage(t, g, "/api/urdevices?limit=2&offset=6"); len(euis) != 2 || euis[0] != "24E1240000000006" {
		t.Errorf("a limit under the cap: %v", euis)
	}
}

func TestPagingQuirks(t *testing.T) {
	g := withDevices(t, Options{Paging: PagingRepeat}, 5)
	if total, euis := devicePage(t, g, "/api/urdevices?limit=2&offset=4"); total != fmt.Sprint(HostileTotal) || euis[0] != "24E1240000000000" {
		t.Errorf("repeat: total %s, %v; want %d and the first page", total, euis, HostileTotal)
	}
	g = withDevices(t, Options{Paging: PagingOverlap}, 5)
	if total, euis := devicePage(t, g, "/api/urdevices?limit=2&offset=2"); total != "6" || euis[0] != "24E1240000000001" {
		t.Errorf("overlap: total %s, %v; want 6 and the last of the previous page first", total, euis)
	}
	g = withDevices(t, Options{Paging: PagingNullBody}, 5)
	out := g.Handle(envelope("GET", "/api/urprofiles?limit=10&offset=0", nil))
	if !strings.HasSuffix(string(out), `"body":null}`) {
		t.Errorf("null-body: %s", out)
	}
	// Not a page: answered as usual.
	if code, _ := call(t, g, "GET", "/api/fuota/task/payloadsize", nil); code != 200 {
		t.Errorf("payloadsize: code %d", code)
	}
	if g.WriteRequests() != 5 {
		t.Errorf("WriteRequests = %d after 5 creates and reads, want 5", g.WriteRequests())
	}
	call(t, g, "DELETE", "/api/urdevices/24E12400000000FF", nil) // refused: still a write request
	if g.WriteRequests() != 6 {
		t.Errorf("WriteRequests = %d, want 6", g.WriteRequests())
	}
}

func TestSearchNamesOnly(t *testing.T) {
	g := withDevices(t, Options{SearchNamesOnly: true}, 3)
	if _, euis := devicePage(t, g, "/api/urdevices?search=24E1240000000001&limit=10&offset=0"); len(euis) != 0 {
		t.Errorf("search by EUI found %v", euis)
	}
	if _, euis := devicePage(t, g, "/api/urdevices?search=d-1&limit=10&offset=0"); len(euis) != 1 {
		t.Errorf("search by name found %v", euis)
	}
}

func TestNumericIDs(t *testing.T) {
	g := newGateway(t, Options{NumericIDs: true})
	for id, want := range map[string]string{"123": `{"id":123,`, "abc0f": `{"id":0,`, "007": `{"id":7,`} {
		m, _ := json.Marshal(nsapi.Request{Type: "ns-api", ID: id, Method: "GET", URL: "/api/urprofiles"})
		if out := string(g.Handle(m)); !strings.HasPrefix(out, want) {
			t.Errorf("id %q: answer %.40s…, want it to start %s", id, out, want)
		}
	}
}

func TestQuirkURLParams(t *testing.T) {
	dir := t.TempDir()
	g, err := OpenURL(filepath.Join(dir, "gw.json")+"?page-cap=100&numeric-ids=1&search=names&paging=overlap", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if o := g.opts; o.PageCap != 100 || !o.NumericIDs || !o.SearchNamesOnly || o.Paging != PagingOverlap {
		t.Errorf("options %+v", o)
	}
	for _, bad := range []string{"page-cap=0", "page-cap=x", "numeric-ids=maybe", "search=eui", "paging=evil"} {
		if _, err := OpenURL(filepath.Join(dir, "b.json")+"?"+bad, Options{}); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
