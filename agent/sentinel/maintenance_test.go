package sentinel

import (
	"strings"
	"testing"
	"time"
)

// TestMaintenanceExpiry checks a timed pause: it survives a restart (the
// state carries it) and ends on the first Tick whose wall clock reaches
// its end, never on a Tick without a wall clock.
func TestMaintenanceExpiry(t *testing.T) {
	h := newHarness(t, testConfig())
	const wall = int64(1_800_000_000_000)
	for _, bad := range []int64{wall, wall - 1, wall + MaxMaintenance.Milliseconds() + 1} {
		if err := h.n.Pause(h.now, "mymaster", bad, wall); err == nil {
			t.Errorf("Pause until %d at %d accepted", bad, wall)
		}
	}
	if err := h.n.Pause(h.now, "nosuch", 0, wall); err != ErrNoSuchMaster {
		t.Errorf("unknown master: %v", err)
	}
	until := wall + time.Hour.Milliseconds()
	if err := h.n.Pause(h.now, "", until, wall); err != nil {
		t.Fatal(err)
	}
	rd := h.n.Ready()
	if rd.State == nil || rd.State.Masters[0].Maintenance != (Maintenance{On: true, Until: until}) {
		t.Fatalf("state %+v", rd.State)
	}
	ev, ok := findEvent(rd.Events, "+maintenance")
	if !ok || !strings.HasSuffix(ev.Payload, "until 2027-01-15T09:00:00Z") {
		t.Fatalf("+maintenance event %+v", ev)
	}

	// A restart keeps the pause.
	n2, err := New(testConfig(), rd.State)
	if err != nil {
		t.Fatal(err)
	}
	if mt, _ := n2.Maintenance("mymaster"); !mt.On || mt.Until != until {
		t.Fatalf("after restart: %+v", mt)
	}
	n2.Step(h.now, Tick{})
	n2.Step(h.now+time.Second, Tick{Wall: until - 1})
	if mt, _ := n2.Maintenance("mymaster"); !mt.On {
		t.Fatal("ended early")
	}
	n2.Ready()
	n2.Step(h.now+2*time.Second, Tick{Wall: until})
	rd = n2.Ready()
	if mt, _ := n2.Maintenance("mymaster"); mt.On {
		t.Fatal("did not end")
	}
	if ev, ok := findEvent(rd.Events, "-maintenance"); !ok || !strings.HasSuffix(ev.Payload, " expired") {
		t.Fatalf("-maintenance event %+v in %v", ev, rd.Events)
	}
	if rd.State == nil || rd.State.Masters[0].Maintenance.On {
		t.Fatalf("end not persisted: %+v", rd.State)
	}
}
