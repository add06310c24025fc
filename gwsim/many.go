package gwsim

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// attachIDs numbers the inline subscriptions of attached gateways.
var attachIDs atomic.Int64

// Attach serves another gateway on s's embedded broker, on its own
// topics ({eui} replaced by g's EUI), so that many simulated gateways share
// one broker as a fleet's gateways share one in the field. The returned
// Server's Close unsubscribes it; closing s stops the broker for all.
func (s *Server) Attach(g *Gateway, requestTopic, responseTopic string) (*Server, error) {
	if s.mq == nil {
		return nil, errors.New("gwsim server: attach: needs the embedded broker (ServeEmbedded)")
	}
	if requestTopic == "" || responseTopic == "" {
		return nil, errors.New("gwsim server: request and response topics are required")
	}
	a := &Server{g: g, requestTopic: expandTopic(requestTopic, g.EUI()), responseTopic: expandTopic(responseTopic, g.EUI()),
		addr: s.addr, wsAddr: s.wsAddr, mq: s.mq, attached: int(attachIDs.Add(1)) + 1, stop: make(chan struct{})}
	if !mqtt.IsValidFilter(a.requestTopic, false) || strings.ContainsAny(a.responseTopic, "+#") {
		return nil, fmt.Errorf("gwsim server: invalid topics %q, %q", a.requestTopic, a.responseTopic)
	}
	if err := s.mq.Subscribe(a.requestTopic, a.attached, func(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
		a.request(pk.Payload, pk.Origin)
	}); err != nil {
		return nil, fmt.Errorf("gwsim server: subscribe %s: %w", a.requestTopic, err)
	}
	return a, nil
}

// StateDir lists the gateways of a state directory: every *.json file in
// dir is one gateway's state file, named by its EUI. With n > 0, state
// files are added (EUIs counting up from base) until there are n; it
// returns the paths, sorted.
func StateDir(dir string, n int, base uint64) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("gwsim state dir: %w", err)
	}
	found, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("gwsim state dir: %w", err)
	}
	have := map[string]bool{}
	for _, f := range found {
		have[filepath.Base(f)] = true
	}
	for i := uint64(0); len(found) < n; i++ {
		name := fmt.Sprintf("%016X.json", base+i)
		if have[name] {
			continue
		}
		have[name] = true
		found = append(found, filepath.Join(dir, name))
	}
	sort.Strings(found)
	return found, nil
}

// EUIOfStateFile is the gateway EUI a state directory's file is named
// by ("" when the name is not 16 hex digits).
func EUIOfStateFile(path string) string {
	name := strings.TrimSuffix(filepath.Base(path), ".json")
	if isHex(name, 16) {
		return strings.ToUpper(name)
	}
	return ""
}

// PeakClients is the most network clients the embedded broker has had
// connected at once (0 for a gateway served on another broker).
func (s *Server) PeakClients() int64 {
	if s.mq == nil {
		return 0
	}
	return s.mq.Info.Clone().ClientsMaximum
}
