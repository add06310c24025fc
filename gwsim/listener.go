package gwsim

import (
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/mochi-mqtt/server/v2/listeners"
)

// tcpListener is the embedded broker's TCP listener. mochi-mqtt's own
// starts each connection on a goroutine that registers it with the
// broker's wait group only once running, so a broker closed while a client
// connects waits on that group while it is being added to (a data race,
// and a shutdown that may not wait for the client). This one counts each
// connection before its goroutine starts, and its Close returns only when
// every connection is over; the broker's wait then has nothing left to
// race with.
type tcpListener struct {
	id, address string
	ln          net.Listener

	mu      sync.Mutex
	serving bool          // Serve has started (under mu)
	closed  bool          // Close has started (under mu)
	served  chan struct{} // closed when Serve returns
	active  sync.WaitGroup
}

func newTCPListener(id, address string) *tcpListener {
	return &tcpListener{id: id, address: address, served: make(chan struct{})}
}

func (l *tcpListener) ID() string       { return l.id }
func (l *tcpListener) Protocol() string { return "tcp" }

// Address is the address listened on (the port resolved once Init ran).
func (l *tcpListener) Address() string {
	if l.ln != nil {
		return l.ln.Addr().String()
	}
	return l.address
}

func (l *tcpListener) Init(*slog.Logger) error {
	ln, err := net.Listen("tcp", l.address)
	l.ln = ln
	return err
}

// Serve accepts connections until the listener is closed, each counted in
// active before its goroutine starts.
func (l *tcpListener) Serve(establish listeners.EstablishFn) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.serving = true
	l.mu.Unlock()
	defer close(l.served)
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.active.Add(1)
		go func() {
			defer l.active.Done()
			_ = establish(l.id, conn)
		}()
	}
}

// Close stops accepting, then disconnects the listener's clients until
// every connection is over: one accepted a moment ago may not be a client
// yet when the first disconnection runs. It gives up after 5 seconds.
func (l *tcpListener) Close(closeClients listeners.CloseFn) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	serving := l.serving
	l.mu.Unlock()
	if l.ln != nil {
		_ = l.ln.Close()
	}
	if serving {
		<-l.served // no connection is counted after this
	}
	over := make(chan struct{})
	go func() {
		l.active.Wait()
		close(over)
	}()
	deadline := time.After(5 * time.Second)
	for {
		closeClients(l.id)
		select {
		case <-over:
			return
		case <-deadline:
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}
