package gwsim

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestAnswerEnvelope: the envelope written around a body by hand is the
// bytes json.Marshal gives for the response struct, for ids, methods and
// URLs with characters JSON escapes, and bodies with and without them.
func TestAnswerEnvelope(t *testing.T) {
	g, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	for _, id := range []string{"1", "a\"b", "<&>", "é\u2028x", ""} {
		for _, url := range []string{"/api/urdevices?search=&limit=500", "/api/x?q=<b>&c=\"d\""} {
			for _, body := range []any{nil, map[string]any{"code": 200, "error": ""}, map[string]string{"name": "a<b>&\"c\"\u2029"}} {
				req := &request{Method: "GET", URL: url}
				got := g.answer(req, id, body)
				b := body
				if b == nil {
					b = struct{}{}
				}
				raw, _ := json.Marshal(b)
				want, err := json.Marshal(response{ID: id, GatewayEUI: g.EUI(), Method: "GET", URL: url, Body: json.RawMessage(raw)})
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("id %q url %q body %v:\n got %s\nwant %s", id, url, body, got, want)
				}
			}
		}
	}
}
