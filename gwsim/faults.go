package gwsim

import (
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// Fault is one injected failure. A request matches when its method and url
// match; the fault fires on the Nth match (counted from when it was added,
// every match when Nth is 0) and then on following matches until it has
// fired Times times. A request to gwsync's own records (the payload codecs
// with a reserved name: its lock, its digests of write-only values) is
// neither counted nor faulted by them, and logged as "ok (a gwsync
// record)": faults strike the user's resources, whatever gwsync adds
// around them. A fault with OwnRecords strikes those records only.
type Fault struct {
	// Method is "GET", "POST", "PUT" or "DELETE"; "" matches any write
	// (POST, PUT, DELETE).
	Method string
	// URLContains matches urls containing it; "" matches any url.
	URLContains string
	// Nth is 1-based: the first match the fault fires on; 0 is the first.
	Nth int
	// Code answers with this ns-api code; the request is not performed.
	Code int
	// DropResponse performs the request but sends no answer (an unknown
	// outcome for the client).
	DropResponse bool
	// DropRequest neither performs nor answers the request.
	DropRequest bool
	// Disconnect drops the requester's connection instead of answering
	// (transport and broker level; the request is not performed).
	Disconnect bool
	// Times is how many times the fault fires: 0 once, < 0 without end.
	Times int
	// OwnRecords makes the fault match requests about gwsync's own
	// records, and only those.
	OwnRecords bool
}

// Faults holds the injected faults and the answer delay. It is safe for
// concurrent use.
type Faults struct {
	mu     sync.Mutex
	active []*activeFault
	base   time.Duration
	jitter time.Duration
}

type activeFault struct {
	Fault
	seen  int
	fired int
}

// Add adds a fault; faults are tried in the order they were added and the
// first that fires decides.
func (f *Faults) Add(x Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	x.Method = strings.ToUpper(x.Method)
	f.active = append(f.active, &activeFault{Fault: x})
}

// Clear removes every fault (the delay stays).
func (f *Faults) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.active = nil
}

// SetDelay sets the answer delay of transports and servers: base plus a
// random part up to jitter.
func (f *Faults) SetDelay(base, jitter time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.base, f.jitter = max(base, 0), max(jitter, 0)
}

// delay is the delay for one answer.
func (f *Faults) delay() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.base
	if f.jitter > 0 {
		d += rand.N(f.jitter)
	}
	return d
}

// Pending is the number of faults that have not fired out yet.
func (f *Faults) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.active)
}

// match counts the request against every fault and returns the one that
// fires, if any.
func (f *Faults) match(method, url string, own bool) (Fault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	write := method == "POST" || method == "PUT" || method == "DELETE"
	var fired *activeFault
	for _, a := range f.active {
		if a.OwnRecords != own || a.Method == "" && !write || a.Method != "" && a.Method != method {
			continue
		}
		if a.URLContains != "" && !strings.Contains(url, a.URLContains) {
			continue
		}
		a.seen++
		if fired != nil || a.seen < a.Nth {
			continue
		}
		fired = a
		a.fired++
	}
	if fired == nil {
		return Fault{}, false
	}
	out := f.active[:0]
	for _, a := range f.active {
		if a.Times < 0 || a.fired < max(a.Times, 1) {
			out = append(out, a)
		}
	}
	f.active = out
	return fired.Fault, true
}
