package vip

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// goneHarness is a harness whose Manager reports OnGone into a log.
func goneHarness(t *testing.T, cfgs []Config, addrs ...string) (*harness, *[]string) {
	t.Helper()
	h := newHarness(t, cfgs, addrs...)
	var got []string
	h.m.onGone = func(master string, gen uint64) { got = append(got, fmt.Sprintf("%s %d", master, gen)) }
	return h, &got
}

func takeGone(got *[]string) string {
	s := strings.Join(*got, "; ")
	*got = nil
	return s
}

// TestOnGoneAfterConfirmedRemoval: the removal of a master's VIPs is
// reported once per Gen, only once every VIP of the master is off its
// interface, and never for an owned intent or while a delete fails.
func TestOnGoneAfterConfirmedRemoval(t *testing.T) {
	h, got := goneHarness(t, []Config{cfg("m1", "198.18.0.10/32", "eth0"), cfg("m1", "fd00::10/128", "eth0"), cfg("m2", "198.18.0.20/32", "eth0")})
	set := func(intents ...Intent) { h.m.Set(intents) }
	set(Intent{Master: "m1", Own: true, Gen: 1}, Intent{Master: "m2", Own: true, Gen: 1})
	h.m.step(h.t0, true)
	h.n.take()
	if s := takeGone(got); s != "" {
		t.Fatalf("reported %q while owned", s)
	}

	// The IPv6 delete fails: m1 is not gone, though its IPv4 VIP is.
	h.n.failDel = errors.New("operation not permitted")
	set(Intent{Master: "m1", Own: false, Gen: 2}, Intent{Master: "m2", Own: true, Gen: 1})
	h.m.step(h.t0.Add(ms), true)
	if s := takeGone(got); s != "" {
		t.Fatalf("reported %q with the VIPs still on the interface", s)
	}
	h.n.failDel = nil
	h.m.step(h.t0.Add(2*ms), true)
	if s := takeGone(got); s != "m1 2" {
		t.Fatalf("reported %q, want m1 2", s)
	}
	// Once per Gen, however often the manager reconciles.
	h.m.step(h.t0.Add(3*ms), true)
	if s := takeGone(got); s != "" {
		t.Fatalf("reported %q again", s)
	}
	// Owned again, then dropped: a new Gen, reported once removed.
	set(Intent{Master: "m1", Own: true, Gen: 3}, Intent{Master: "m2", Own: false, Gen: 2})
	h.m.step(h.t0.Add(4*ms), true)
	if s := takeGone(got); s != "m2 2" {
		t.Fatalf("reported %q, want m2 2", s)
	}
	set(Intent{Master: "m1", Own: false, Gen: 4}, Intent{Master: "m2", Own: false, Gen: 2})
	h.m.step(h.t0.Add(5*ms), true)
	if s := takeGone(got); s != "m1 4" {
		t.Fatalf("reported %q, want m1 4", s)
	}
	h.state(``)
}

// TestOnGoneNotBeforeApplied: an intent that was Set but not yet applied
// is never reported: the report follows the reconcile that removed the VIP.
func TestOnGoneNotBeforeApplied(t *testing.T) {
	h, got := goneHarness(t, []Config{cfg("m1", "198.18.0.10/32", "eth0")})
	h.m.Set([]Intent{{Master: "m1", Own: true, Gen: 1}})
	h.m.step(h.t0, true)
	h.m.Set([]Intent{{Master: "m1", Own: false, Gen: 2}})
	h.m.step(h.t0.Add(ms), false) // the timer path: nothing applied
	if s := takeGone(got); s != "" {
		t.Fatalf("reported %q before the removal", s)
	}
	h.state(`eth0 198.18.0.10/32 ours`)
	h.m.step(h.t0.Add(2*ms), true)
	if s := takeGone(got); s != "m1 2" {
		t.Fatalf("reported %q, want m1 2", s)
	}
	h.state(``)
}
