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
