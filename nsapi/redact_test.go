package nsapi

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestBrokerErrorsNeverShowThePassword: a broker URL whose password does
// not parse, and connect errors of every kind, name the broker without it.
func TestBrokerErrorsNeverShowThePassword(t *testing.T) {
	const pw = "Pw-H4NT-nsapi"
	for _, broker := range []string{
		"tcp://gw:" + pw + "%zz@127.0.0.1:1",
		"tcp://gw:" + pw + " x@127.0.0.1:1",
		"tcp://gw:" + pw + "\x1b[2J@127.0.0.1:1",
		"tcp://gw:" + pw + "/x@127.0.0.1:1",
		"tcp://gw:" + pw + "@127.0.0.1:1",
		"ws://gw:" + pw + "@127.0.0.1:1/mqtt",
		"ftp://gw:" + pw + "@127.0.0.1:1",
	} {
		cfg := Config{Broker: broker, Password: pw, RequestTopic: "q", ResponseTopic: "r",
			ConnectTimeout: 2 * time.Second, RequestTimeout: time.Second}
		_, err := Dial(context.Background(), cfg)
		if err == nil {
			t.Fatalf("%q: Dial succeeded", broker)
		}
		if strings.Contains(err.Error(), "H4NT") {
			t.Errorf("%q: the error shows the password: %v", broker, err)
		}
		if !strings.Contains(err.Error(), "127.0.0.1:1") {
			t.Errorf("%q: the error does not name the broker: %v", broker, err)
		}
	}
}

// TestRemoteErrorMessageIsOneLine: the gateway's error text cannot start a
// line of its own or carry an escape sequence.
func TestRemoteErrorMessageIsOneLine(t *testing.T) {
	for msg, want := range map[string]string{
		"name: want 1–64 characters": "name: want 1–64 characters",
		"bad\n::add-mask::x":         `"bad\n::add-mask::x"`,
		"\x1b[2J\x1b[H No changes.":  `"\x1b[2J\x1b[H No changes."`,
		"name \u202eevil":            `"name \u202eevil"`,
		"température trop élevée":    "température trop élevée",
	} {
		e := &RemoteError{Method: "PUT", URL: "/api/urdevices/X", Code: 3, Message: msg}
		if got := e.Error(); !strings.HasSuffix(got, ": "+want) || strings.Contains(got, "\n") {
			t.Errorf("message %q: Error() = %q, want it to end with %q", msg, got, want)
		}
	}
}
