package driver

import (
	"math/rand"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

type recIO struct {
	readys []sentinel.Ready
	timers []time.Duration
}

func (r *recIO) Ready(rd sentinel.Ready)  { r.readys = append(r.readys, rd) }
func (r *recIO) SetTimer(d time.Duration) { r.timers = append(r.timers, d) }
func (r *recIO) Wall() int64              { return 0 }

func newDriver(t *testing.T) (*Driver, *recIO) {
	t.Helper()
	n, err := sentinel.New(sentinel.Config{LocalIPs: []string{"198.18.0.1"}, Port: 26379,
		Rand: rand.New(rand.NewSource(1))}, nil)
	if err != nil {
		t.Fatal(err)
	}
	io := &recIO{}
	return New(n, io), io
}

// TestArm: after the timer fired (or before it was ever set) it is set
// anew; otherwise only an earlier deadline moves it, so that a stream of
// inputs never holds a Tick back.
func TestArm(t *testing.T) {
	const ms = time.Millisecond
	type arm struct {
		now, wait time.Duration
		fired     bool
		fire      bool          // the timer fires before this call (Fired)
		want      time.Duration // SetTimer's argument, -1 when not called
	}
	tests := []struct {
		name string
		arms []arm
	}{
		{"first setting", []arm{{now: 0, wait: 10 * ms, want: 10 * ms}}},
		{"later deadline after an input is ignored", []arm{
			{now: 0, wait: 10 * ms, want: 10 * ms},
			{now: 5 * ms, wait: 10 * ms, want: -1},
		}},
		{"same deadline after an input is ignored", []arm{
			{now: 0, wait: 10 * ms, want: 10 * ms},
			{now: 5 * ms, wait: 5 * ms, want: -1},
		}},
		{"earlier deadline after an input moves it", []arm{
			{now: 0, wait: time.Second, want: time.Second},
			{now: 5 * ms, wait: 10 * ms, want: 10 * ms},
		}},
		{"after a tick the timer is set anew, even later", []arm{
			{now: 0, wait: 10 * ms, want: 10 * ms},
			{now: 10 * ms, wait: time.Second, fired: true, want: time.Second},
		}},
		{"fired and not rearmed: any setting sets it", []arm{
			{now: 0, wait: 10 * ms, want: 10 * ms},
			{now: 12 * ms, wait: time.Second, fire: true, want: time.Second},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, io := newDriver(t)
			for i, a := range tt.arms {
				if a.fire {
					d.Fired()
				}
				before := len(io.timers)
				d.Arm(a.now, a.wait, a.fired)
				switch {
				case a.want < 0 && len(io.timers) != before:
					t.Errorf("arm %d: timer set to %v, want unchanged", i, io.timers[before])
				case a.want >= 0 && (len(io.timers) != before+1 || io.timers[before] != a.want):
					t.Errorf("arm %d: timers %v, want %v set", i, io.timers[before:], a.want)
				}
			}
		})
	}
}

// TestPassAndFlush: Pass reports the gap since the previous pass (the
// TILT check's input), and Flush hands the Node's Ready to the IO: after
// the first pass it carries a fresh Node's state (its generated myid).
func TestPassAndFlush(t *testing.T) {
	d, io := newDriver(t)
	if gap := d.Pass(time.Second); gap != -1 {
		t.Errorf("first pass: gap %v, want -1", gap)
	}
	if gap := d.Pass(1500 * time.Millisecond); gap != 500*time.Millisecond {
		t.Errorf("second pass: gap %v, want 500ms", gap)
	}
	d.Flush()
	if len(io.readys) != 1 || io.readys[0].State == nil || io.readys[0].State.MyID != d.Node().MyID() {
		t.Fatalf("Flush handed %+v, want one Ready with the state of %s", io.readys, d.Node().MyID())
	}
	d.Schedule(1500*time.Millisecond, true)
	if len(io.timers) != 1 || io.timers[0] != d.Node().Quiet() {
		t.Errorf("Schedule set %v, want the Node's Quiet %v", io.timers, d.Node().Quiet())
	}
}
