package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gwsync/gwsync/gwsim"
	"github.com/gwsync/gwsync/nsapi"
)

// doubtSite writes a site of the devices first..last-1 (EUIs
// 24E12499000000XX) on broker, and of a multicast group of members
// when there are any, and returns its path.
func doubtSite(t *testing.T, dir, name, broker string, first, last int, members ...int) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\ngateway:\n  eui: \"24E124FFFEF5A6A8\"\nconnection:\n  broker: %s\ndeviceDefaults:\n  application: cloud\ndevices:\n", broker)
	for i := first; i < last; i++ {
		fmt.Fprintf(&b, "  - devEUI: \"24E12499%08X\"\n    name: d-%d\n    appKey: \"A1A1A1A1%024X\"\n", i, i, i)
	}
	if len(members) > 0 {
		b.WriteString("multicastGroups:\n  - name: g\n    mcAddr: \"01020304\"\n    mcNwkSKey: \"B2B2B2B2B2B2B2B2B2B2B2B2B2B2B2B2\"\n    mcAppSKey: \"C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3C3\"\n    devices: [")
		for i, m := range members {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "\"24E12499%08X\"", m)
		}
		b.WriteString("]\n")
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func runCLI(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = Main(args, strings.NewReader(""), &o, &e)
	return code, o.String(), e.String()
}

// TestHostileGatewayStopsBeforeWrites: against a gateway whose pages
// contradict themselves (the same page repeated with a large total, a
// device on two pages, a null body), plan and apply end with an error that
// names the offending request, quickly, and the gateway receives no write.
func TestHostileGatewayStopsBeforeWrites(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "gw.json")
	if code, _, e := runCLI("apply", doubtSite(t, dir, "seed.yaml", "sim://"+state, 0, 250), "--auto-approve"); code != ExitOK {
		t.Fatalf("seeding apply: exit %d\n%s", code, e)
	}
	for _, paging := range []gwsim.PagingQuirk{gwsim.PagingRepeat, gwsim.PagingOverlap, gwsim.PagingNullBody} {
		t.Run(string(paging), func(t *testing.T) {
			g, err := gwsim.Open(state, gwsim.Options{Paging: paging, PageCap: 100})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			srv, err := gwsim.ServeEmbedded(context.Background(), g, "127.0.0.1:0", DefaultRequestTopic, DefaultResponseTopic)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			// One device fewer, three more: a delete and creates would follow.
			site := doubtSite(t, t.TempDir(), "site.yaml", "tcp://"+srv.Addr(), 1, 253)
			for _, cmd := range [][]string{{"plan", site}, {"apply", site, "--auto-approve"}} {
				start := time.Now()
				code, _, e := runCLI(cmd...)
				took := time.Since(start)
				if code != ExitError {
					t.Errorf("%s: exit %d, want %d\n%s", cmd[0], code, ExitError, e)
				}
				if !strings.Contains(e, "GET /api/") {
					t.Errorf("%s: the error does not name the request:\n%s", cmd[0], e)
				}
				if n := g.WriteRequests(); n != 0 {
					t.Fatalf("%s: the gateway received %d writes, want 0", cmd[0], n)
				}
				if took > 10*time.Second {
					t.Errorf("%s took %s", cmd[0], took)
				}
				t.Logf("%s: exit %d in %s, 0 writes: %s", cmd[0], code, took.Round(time.Millisecond), headLine(e))
			}
		})
	}
}

// headLine is the first line of s that names a request.
func headLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, "GET /api/") {
			return l
		}
	}
	return ""
}

// TestDoubtfulButHonestGateways: plan and apply work, and leave the
// gateway matching the site, against a gateway that caps its pages at 100
// whatever limit is asked, one that echoes request ids as JSON numbers,
// and one whose device search does not match EUIs (the creates of a small
// apply are confirmed by reading the list instead).
func TestDoubtfulButHonestGateways(t *testing.T) {
	// Each case has its own folder and simulated gateway (sim://), and
	// sets no environment.
	t.Parallel()
	for _, query := range []string{"page-cap=100", "numeric-ids=1", "search=names", "page-cap=7&numeric-ids=1&search=names"} {
		t.Run(query, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			broker := "sim://" + filepath.Join(dir, "gw.json") + "?" + query
			if code, _, e := runCLI("apply", doubtSite(t, dir, "a.yaml", broker, 0, 230), "--auto-approve"); code != ExitOK {
				t.Fatalf("first apply: exit %d\n%s", code, e)
			}
			// A small change: two creates, confirmed one by one before the
			// multicast group that holds them is made (device 0, left out
			// of the site, is not managed and stays).
			b := doubtSite(t, dir, "b.yaml", broker, 1, 232, 230, 231)
			if code, _, e := runCLI("apply", b, "--auto-approve"); code != ExitOK {
				t.Fatalf("second apply: exit %d\n%s", code, e)
			}
			code, out, e := runCLI("plan", b, "--detailed-exitcode")
			if code != ExitOK {
				t.Fatalf("plan after apply: exit %d, want 0 (no changes)\n%s\n%s", code, out, e)
			}
			// The whole state was read: the snapshot holds all 232 devices.
			snap := filepath.Join(dir, "snap.json")
			if code, _, e := runCLI("snapshot", b, "--out", snap); code != ExitOK {
				t.Fatalf("snapshot: exit %d\n%s", code, e)
			}
			raw, err := os.ReadFile(snap)
			if err != nil {
				t.Fatal(err)
			}
			var st nsapi.State
			if err := json.Unmarshal(raw, &st); err != nil {
				t.Fatal(err)
			}
			if len(st.Devices) != 232 || len(st.Groups) != 1 || len(st.Groups[0].Devices) != 2 {
				t.Errorf("snapshot holds %d devices and %d groups, want 232 and one of 2 members", len(st.Devices), len(st.Groups))
			}
		})
	}
}

// TestSimClientQuirkFlags: the sim flags set the gateway's options; a bad
// value is an error.
func TestSimClientQuirkFlags(t *testing.T) {
	var opts gwsim.Options
	q := simClientQuirks{PageCap: 100, NumericIDs: true, SearchNamesOnly: true, Paging: "overlap"}
	if err := q.apply(&opts); err != nil {
		t.Fatal(err)
	}
	if opts.PageCap != 100 || !opts.NumericIDs || !opts.SearchNamesOnly || opts.Paging != gwsim.PagingOverlap {
		t.Errorf("options %+v", opts)
	}
	for _, bad := range []simClientQuirks{{PageCap: -1, Paging: "honest"}, {Paging: "evil"}} {
		if err := bad.apply(&opts); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
	if code, _, e := runCLI("sim", "--paging", "evil", "--state", filepath.Join(t.TempDir(), "gw.json")); code == ExitOK || !strings.Contains(e, "paging") {
		t.Errorf("sim --paging evil: exit %d, %s", code, e)
	}
}
