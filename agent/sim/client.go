package sim

import "time"

// client writes through the VIP: it resolves the address with ARP (its cache
// follows gratuitous ARPs), sends one write at a time and records the writes
// the server acknowledged, so that the run can count acknowledged writes that
// the final master no longer has.
type client struct {
	w    *world
	id   int
	host int
	arp  int // host the VIP resolves to; -1 when unresolved
}

const clientTimeout = time.Second

func (c *client) tick() {
	w := c.w
	if w.stopWrites {
		return
	}
	w.at(w.now+w.opts.WriteEvery, c.tick)
	if c.arp < 0 || !w.vip.holds(c.arp) && !w.passable(c.host, c.arp) {
		c.resolve()
	}
	h := c.arp
	if h < 0 {
		return
	}
	w.nextWrite++
	id := w.nextWrite
	w.writes++
	sent := w.now
	if !w.passable(c.host, h) || w.lost(c.host, h) {
		c.arp = -1 // timed out: resolve again next time
		return
	}
	w.at(w.now+w.delay(c.host, h), func() {
		if !w.vip.holds(h) || !w.hosts[h].up {
			c.timeout(h) // the host drops packets for an address it lacks
			return
		}
		w.redis[h].whenWritable(func() {
			if w.now-sent > clientTimeout {
				return // the client gave up and closed: Redis drops the blocked write
			}
			err := w.redis[h].write(id)
			if !w.passable(h, c.host) || w.lost(h, c.host) {
				c.timeout(h)
				return
			}
			w.at(w.now+w.delay(h, c.host), func() {
				if err != "" || w.now-sent > clientTimeout {
					return
				}
				w.ack(id)
			})
		})
	})
}

func (c *client) timeout(h int) {
	if c.arp == h {
		c.arp = -1
	}
}

// resolve broadcasts an ARP request; the most recent holder that can answer
// wins.
func (c *client) resolve() {
	w := c.w
	c.arp = -1
	best := time.Duration(-1)
	for _, x := range w.vip.holders {
		if w.twoWay(c.host, x.host) && x.since > best {
			best, c.arp = x.since, x.host
		}
	}
}
