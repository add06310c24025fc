package nsapi

import "context"

// Transport carries request and response messages between a Client and a
// gateway. The MQTT transport (paho) is the real one; gwsim provides an
// in-process one for sim:// brokers and tests.
type Transport interface {
	// Connect starts the transport. deliver is called for every message that
	// arrives on the response topic (from any goroutine, one at a time or
	// concurrently); lost is called when an established connection drops
	// (the transport may reconnect on its own afterwards).
	Connect(ctx context.Context, deliver func(payload []byte), lost func(error)) error
	// Publish sends one request message on the request topic.
	Publish(ctx context.Context, payload []byte) error
	// Close ends the transport; it is safe to call more than once.
	Close() error
}

// A readier is a Transport that can say when a message would go out: its
// Ready waits until then (a connection back after a loss), or fails
// saying nothing was sent. The Client waits for it before it takes a
// request in flight, so that the loss of a connection fails only the
// requests that could have gone out on it.
type readier interface {
	Ready(ctx context.Context) error
}
