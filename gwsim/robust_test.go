package gwsim

import (
	"testing"

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
