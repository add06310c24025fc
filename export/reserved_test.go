package export_test

import (
	"strings"
	"testing"

	"github.com/gwsync/gwsync/export"
	"github.com/gwsync/gwsync/internal/reserved"
	"github.com/gwsync/gwsync/nsapi"
)

// TestExportSkipsGwsyncRecords: gwsync's own records on the gateway (the
// lock, the digests of write-only values) are never exported as codecs,
// also from a state that still lists them among the codecs.
func TestExportSkipsGwsyncRecords(t *testing.T) {
	st := &nsapi.State{FormatVersion: nsapi.StateFormatVersion, ChannelPlan: "EU868",
		Codecs:  []nsapi.Codec{{ID: "1", Name: reserved.LockCodec, DecoderScript: `{"run":"x"}`}, {ID: "2", Name: "mine", DecoderScript: "d"}},
		Records: []nsapi.Codec{{ID: "3", Name: reserved.StateCodec, DecoderScript: "{}"}}}
	b, err := export.Site(st, export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "gwsync-") || !strings.Contains(string(b), "name: mine") {
		t.Errorf("export:\n%s", b)
	}
	if len(st.Codecs) != 2 {
		t.Errorf("Export changed the state it was given: %d codecs", len(st.Codecs))
	}
}
