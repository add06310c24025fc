package cli

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gwsync/gwsync/applier"
	"github.com/gwsync/gwsync/plan"
)

func TestProgress(t *testing.T) {
	events := []applier.Event{
		{Type: applier.EventStart, Address: "codec.em300", Action: plan.Create, Total: 3},
		{Type: applier.EventDone, Address: "codec.em300", Action: plan.Create, Done: 1, Total: 3, Elapsed: 12 * time.Millisecond},
		{Type: applier.EventStart, Address: "device.24E124136A456465", Action: plan.Update, Done: 1, Total: 3},
		{Type: applier.EventFailed, Address: "device.24E124136A456465", Action: plan.Update, Done: 2, Total: 3, Elapsed: 3 * time.Millisecond, Err: errors.New("ns-api error 3")},
		{Type: applier.EventVerify},
		{Type: applier.EventUndone, Address: "codec.em300", Action: plan.Delete, Done: 1, Total: 1, Elapsed: 2 * time.Millisecond},
	}
	for _, tc := range []struct {
		name     string
		terminal bool
		want     string
	}{
		{"lines", false, "codec.em300: creating… done (12ms)\n" +
			"device.24E124136A456465: updating… failed (3ms): ns-api error 3\n" +
			"Re-reading the gateway to verify the rollback…\n" +
			"codec.em300: rolling back: deleting… done (2ms)\n"},
		{"bar", true, "\rApplying [                              ] 0/3 codec.em300" +
			"\rApplying [==========                    ] 1/3 codec.em300" +
			"\rApplying [==========                    ] 1/3 device.24E124136A456465" +
			"\r" + strings.Repeat(" ", 69) + "\rdevice.24E124136A456465: updating… failed: ns-api error 3\n" +
			"\rApplying [====================          ] 2/3 device.24E124136A456465" +
			"\r" + strings.Repeat(" ", 69) + "\rRe-reading the gateway to verify the rollback…\n" +
			"\rRolling back [==============================] 1/1 codec.em300\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			p := newProgress(&Env{Stdout: &out, IsTerminal: tc.terminal})
			for _, e := range events {
				p.event(e)
			}
			p.finish()
			if d := cmp.Diff(tc.want, out.String()); d != "" {
				t.Errorf("output (-want +got):\n%s", d)
			}
		})
	}
}

func TestSiteDirOf(t *testing.T) {
	for _, tc := range []struct {
		files []string
		want  string
	}{
		{[]string{"site.yaml"}, "."},
		{[]string{"sites/north/a.yaml", "sites/north/sub/b.yaml"}, "sites/north"},
		{[]string{"sites/north/a.yaml", "sites/south/b.yaml"}, "sites"},
		{nil, "."},
	} {
		if got := siteDirOf(tc.files); got != tc.want {
			t.Errorf("siteDirOf(%q) = %q, want %q", tc.files, got, tc.want)
		}
	}
}

// TestProgressBarFitsTheTerminal: a bar line longer than the terminal
// wraps, and the \r that redraws it then only returns to the start of the
// last row, leaving a trail of old bars; every bar line fits in COLUMNS-1.
func TestProgressBarFitsTheTerminal(t *testing.T) {
	for _, cols := range []string{"", "60"} {
		t.Run("COLUMNS="+cols, func(t *testing.T) {
			var out bytes.Buffer
			env := &Env{Stdout: &out, IsTerminal: true, Getenv: func(k string) string {
				if k == "COLUMNS" {
					return cols
				}
				return ""
			}}
			width := 80
			if cols != "" {
				width = 60
			}
			p := newProgress(env)
			addr := "multicast_member.thermostats-on-the-second-floor-east-wing (12 devices)"
			p.event(applier.Event{Type: applier.EventStart, Address: addr, Action: plan.Create, Total: 120})
			p.event(applier.Event{Type: applier.EventDone, Address: addr, Action: plan.Create, Done: 1, Total: 120})
			p.finish()
			for _, seg := range strings.FieldsFunc(out.String(), func(r rune) bool { return r == '\r' || r == '\n' }) {
				if n := len([]rune(seg)); n > width-1 {
					t.Errorf("a bar line of %d characters on a %d-column terminal: %q", n, width, seg)
				}
			}
			if !strings.Contains(out.String(), "1/120") {
				t.Errorf("the bar lost its count: %q", out.String())
			}
		})
	}
}

// TestNullDeviceIsNotATerminal: /dev/null is a character device, not a
// terminal, so an apply reading its answer from it is told to pass
// --auto-approve instead of prompting.
func TestNullDeviceIsNotATerminal(t *testing.T) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Fatalf("%s is taken for a terminal", os.DevNull)
	}
	if stdinIsTerminal(&Env{Stdin: f}) {
		t.Fatalf("standard input %s is taken for a terminal", os.DevNull)
	}
}
