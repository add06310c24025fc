package nsapi

// SetBeforeLost makes c's MQTT transport run f first in its handler of a
// lost connection (see MQTTTransport.beforeLost).
func SetBeforeLost(c *Client, f func()) {
	m := c.t.(*MQTTTransport)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.beforeLost = f
}

// ConnectionOpen says whether paho holds c's MQTT connection open.
func ConnectionOpen(c *Client) bool {
	return c.t.(*MQTTTransport).client.IsConnectionOpen()
}

// SetSharedBeforeLost is SetBeforeLost for a shared connection.
func SetSharedBeforeLost(s *SharedMQTT, f func()) {
	s.base.mu.Lock()
	defer s.base.mu.Unlock()
	s.base.beforeLost = f
}

// SharedConnectionOpen says whether paho holds s's connection open.
func SharedConnectionOpen(s *SharedMQTT) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.client.IsConnectionOpen()
}
