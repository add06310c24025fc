package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/site"
)

// countingTransport counts the connections made and closed.
type countingTransport struct {
	nsapi.Transport
	opened, closed *atomic.Int32
}

func (c countingTransport) Connect(ctx context.Context, deliver func([]byte), lost func(error)) error {
	c.opened.Add(1)
	return c.Transport.Connect(ctx, deliver, lost)
}

func (c countingTransport) Close() error {
	c.closed.Add(1)
	return c.Transport.Close()
}

// siteOn writes a site of one device whose gateway is the simulated one on
// state; head replaces its gateway and connection blocks when not "".
func siteOn(t *testing.T, dir, state, head string) string {
	t.Helper()
	if head == "" {
		head = "gateway:\n  eui: \"24E124FFFEF5A6A8\"\nconnection:\n  broker: sim://" + state + "\n"
	}
	p := filepath.Join(dir, "site.yaml")
	body := "version: 1\n" + head + `devices:
  - devEUI: "24E1241234567890"
    name: lamp
    application: cloud
    appKey: 000102030405060708090a0b0c0d0e0f
`
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPlanConnectsOnce: the gateway is read while the site loads, and that
// read is the plan's: one connection, whether the site's blocks are found
// ahead or not (a quoted key: read after the load).
func TestPlanConnectsOnce(t *testing.T) {
	for name, quoted := range map[string]bool{"found ahead": false, "not found ahead": true} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			state := filepath.Join(dir, "gw.json")
			head := ""
			if quoted {
				head = "gateway:\n  eui: \"24E124FFFEF5A6A8\"\n\"connection\":\n  broker: sim://" + state + "\n"
			}
			p := siteOn(t, dir, state, head)
			if c, _, _ := site.Peek(site.Options{}, p); (c.Broker != "") == quoted {
				t.Fatalf("Peek found broker %q", c.Broker)
			}
			var opened, closed atomic.Int32
			var out, errb bytes.Buffer
			env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" },
				WrapTransport: func(tr nsapi.Transport) nsapi.Transport {
					return countingTransport{tr, &opened, &closed}
				}}
			if code := Run(env, []string{"plan", p, "--detailed-exitcode"}); code != ExitChanges {
				t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
			}
			if !strings.Contains(out.String(), "Plan: 1 to add, 0 to change, 0 to destroy.") {
				t.Fatalf("plan:\n%s", out.String())
			}
			if opened.Load() != 1 || closed.Load() != 1 {
				t.Fatalf("%d connections opened, %d closed; want 1 and 1", opened.Load(), closed.Load())
			}
		})
	}
}

// TestEarlyReadOfAnotherGatewayIsDropped: when the loaded site names other
// settings than the blocks found ahead, what was read ahead is closed and
// the loaded site's gateway is read.
func TestEarlyReadOfAnotherGatewayIsDropped(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	siteA := siteOn(t, dirA, filepath.Join(dirA, "gw.json"), "")
	siteB := siteOn(t, dirB, filepath.Join(dirB, "gw.json"), "")
	// Gateway B holds the device already; A is empty.
	var out, errb bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	if code := Run(env, []string{"apply", siteB, "--auto-approve"}); code != ExitOK {
		t.Fatalf("apply B: exit %d\n%s%s", code, out.String(), errb.String())
	}
	var opened, closed atomic.Int32
	env.WrapTransport = func(tr nsapi.Transport) nsapi.Transport { return countingTransport{tr, &opened, &closed} }
	ctx := t.Context()
	early := startEarlyRead(ctx, env, ConnFlags{}, site.Options{}, []string{siteA})
	if early == nil {
		t.Fatal("no early read of site A")
	}
	sB, problems := site.Load(site.Options{}, siteB)
	if sB == nil {
		t.Fatalf("site B: %v", problems)
	}
	cl, closer, st, err := readGateway(ctx, env, ConnFlags{}, sB, early)
	if err != nil {
		t.Fatal(err)
	}
	defer closer()
	if cl == nil {
		t.Fatal("no client")
	}
	if len(st.Devices) != 1 {
		t.Fatalf("read %d devices: the state is not gateway B's", len(st.Devices))
	}
	if opened.Load() != 2 || closed.Load() != 1 {
		t.Fatalf("%d connections opened, %d closed; want 2 (A early, then B) and A's closed", opened.Load(), closed.Load())
	}
}
