package cli

import (
	"context"
	"fmt"

	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/site"
)

// earlyRead reads the gateway while the site loads. Loading a large site
// takes about as long as reading the gateway, and the read needs only the
// site's gateway and connection blocks, which site.Peek finds at once. The
// read is used only if the loaded site gives the same connection settings;
// otherwise it is closed and the gateway is read again, as if it never
// happened. It only reads.
type earlyRead struct {
	key    connKey
	cancel context.CancelFunc
	done   chan struct{}

	cl         *nsapi.Client
	closer     func() error
	connectErr error
	st         *nsapi.State
	readErr    error
}

// connKey is every setting connect uses: the simulated gateway also takes
// the channel plan for a new state file.
type connKey struct {
	conn        connection
	channelPlan string
}

// startEarlyRead starts reading the gateway the site's files name, or
// returns nil when they name none that can be reached without the full
// load.
func startEarlyRead(ctx context.Context, env *Env, flags ConnFlags, opts site.Options, siteArgs []string) *earlyRead {
	conn, gw, ok := site.Peek(opts, siteArgs...)
	if !ok {
		return nil
	}
	c := resolve(env, flags, &conn, gw)
	if c.broker == "" {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	e := &earlyRead{key: connKey{c, gw.ChannelPlan}, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(e.done)
		e.read(ctx, env, flags, &conn, gw)
	}()
	return e
}

// take waits for the read and hands it over when it was made with the
// settings of the loaded site; ok is false when it was not (it is then
// closed), or when there was none.
func (e *earlyRead) take(env *Env, flags ConnFlags, s *site.Site) (r *earlyRead, ok bool) {
	if e == nil {
		return nil, false
	}
	<-e.done
	if e.key != (connKey{resolve(env, flags, &s.Connection, s.Gateway), s.Gateway.ChannelPlan}) {
		e.discard()
		return nil, false
	}
	if e.closer != nil {
		closer := e.closer
		e.closer = func() error {
			defer e.cancel()
			return closer()
		}
	}
	return e, true
}

// discard stops the read and closes its client.
func (e *earlyRead) discard() {
	if e == nil {
		return
	}
	e.cancel()
	<-e.done
	if e.closer != nil {
		_ = e.closer()
	}
}

// read connects and reads the state.
func (e *earlyRead) read(ctx context.Context, env *Env, flags ConnFlags, conn *site.Connection, gw site.Gateway) {
	e.cl, e.closer, e.connectErr = connect(ctx, env, flags, conn, gw)
	if e.connectErr == nil {
		e.st, e.readErr = e.cl.ReadState(ctx)
	}
}

// result is the read's client, its closer and the state, or an error;
// after an error nothing is left open.
func (e *earlyRead) result() (*nsapi.Client, func() error, *nsapi.State, error) {
	if e.connectErr != nil {
		if e.cancel != nil {
			e.cancel()
		}
		return nil, nil, nil, e.connectErr
	}
	if e.readErr != nil {
		_ = e.closer() // cancels too, when taken from an early read
		return nil, nil, nil, fmt.Errorf("reading the gateway: %w", e.readErr)
	}
	return e.cl, e.closer, e.st, nil
}

// readGateway connects to the gateway of the loaded site s and reads its
// state, or takes what early read of it. On success the caller closes the
// client with closer.
func readGateway(ctx context.Context, env *Env, flags ConnFlags, s *site.Site, early *earlyRead) (*nsapi.Client, func() error, *nsapi.State, error) {
	if e, ok := early.take(env, flags, s); ok {
		return e.result()
	}
	var e earlyRead
	e.read(ctx, env, flags, &s.Connection, s.Gateway)
	return e.result()
}
