package gwsim

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
)

// Traffic is what radio traffic does to a device's record: an OTAA device
// without a session joins (it gets a device address and session keys, and
// its counters start at 0), then its uplink and downlink frame counters
// move on by up and down. A gateway keeps these values itself; a site
// never sets them after create, and no write may take them back.
func (g *Gateway) Traffic(devEUI string, up, down int64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	d := g.st.device(strings.ToUpper(devEUI))
	if d == nil {
		return fmt.Errorf("traffic: device %s is not on the gateway", strings.ToUpper(devEUI))
	}
	if p := g.st.profile(d.ProfileID); p != nil && p.S.SupportsJoin && d.DevAddr == "" {
		d.DevAddr = strings.ToUpper(randomHex(4))
		d.NwkSKey, d.AppSKey = randomHex(16), randomHex(16)
		d.FCntUp, d.FCntDown = 0, 0
	}
	d.FCntUp += up
	d.FCntDown += down
	g.st.putDevice(d)
	return g.persistLocked()
}

// MulticastTraffic moves the frame counter of multicast group name on by
// frames, as multicast downlinks do.
func (g *Gateway) MulticastTraffic(name string, frames int64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	gr := g.groupNamed(name)
	if gr == nil {
		return fmt.Errorf("multicast traffic: group %q is not on the gateway", name)
	}
	gr.FCnt += frames
	g.st.putGroup(gr)
	return g.persistLocked()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
