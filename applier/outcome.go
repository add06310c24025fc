package applier

import (
	"context"
	"errors"
	"time"

	"github.com/gwsync/gwsync/nsapi"
)

// refused says the gateway answered err and, by the spec, did not carry the
// request out: a parameter, not-found, already-exists, precondition, JSON,
// URL, method, gateway-EUI or FUOTA validation answer. Every other answer
// (2 unknown, 23 internal error, 24 the gateway's own timeout) and every
// lost answer leaves the outcome unknown: only a re-read settles it.
func refused(err error) bool {
	var re *nsapi.RemoteError
	if !errors.As(err, &re) {
		return false
	}
	switch re.Code {
	case nsapi.CodeUnknown, nsapi.CodeInternal, nsapi.CodeRequestTimeout:
		return false
	}
	return true
}

// readAttempts bounds how often a read whose answer was lost is sent
// again. Reads change nothing, so sending them again is always safe; a
// lost read answer must not turn a complete apply into a failed one.
const readAttempts = 4

// reread runs read until it gets an answer (a value or an error answer from
// the gateway), at most readAttempts times, with a short pause between
// tries. Only lost answers (and the gateway's "unknown", "internal error"
// and "timeout" answers) are retried.
func reread[T any](ctx context.Context, read func(context.Context) (T, error)) (T, error) {
	var v T
	var err error
	for i := 0; i < readAttempts; i++ {
		if i > 0 {
			select {
			case <-time.After(time.Duration(i) * 50 * time.Millisecond):
			case <-ctx.Done():
				return v, errors.Join(err, ctx.Err())
			}
		}
		v, err = read(ctx)
		if err == nil || refused(err) {
			return v, err
		}
	}
	return v, err
}

// resendAttempts bounds how often a write is sent again after a re-read
// proved that it never took effect (its request was lost on the way).
const resendAttempts = 2
