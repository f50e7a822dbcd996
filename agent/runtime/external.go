package runtime

import "github.com/vipsentinel/vipsentinel/agent/sentinel"

// Publish logs an event that happened outside the core — the VIP manager's
// +vip-acquired, +vip-released and +vip-conflict, the firewall's — and
// publishes it on the API's pub/sub like the core's own events. It is safe to
// call from any goroutine.
func (r *Runtime) Publish(ev sentinel.Event) { r.scriptEvent(ev) }
