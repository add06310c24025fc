package nsapi

// SetBeforeLost makes c's MQTT transport run f first in its handler of a
// lost connection (see MQTTTransport.beforeLost).
func SetBeforeLost(c *Client, f func()) {
	m := c.t.(*MQTTTransport)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.beforeLost = f
}
