package scenario

import (
	"testing"
	"time"
)

func TestOutage(t *testing.T) {
	ms := time.Millisecond
	acks := func(ts ...int) []Ack {
		var out []Ack
		for i, v := range ts {
			out = append(out, Ack{Seq: i + 1, At: time.Duration(v) * ms})
		}
		return out
	}
	tests := []struct {
		name        string
		acks        []Ack
		fault       time.Duration
		gap, resume time.Duration
	}{
		{"no writes after fault", acks(1, 2, 3), 10 * ms, 0, -1},
		{"gap spanning fault", acks(1, 2, 3, 1100, 1102), 4 * ms, 1097 * ms, 1100 * ms},
		{"write just after fault then gap", acks(1, 2, 5, 900, 902), 4 * ms, 895 * ms, 900 * ms},
		{"steady writes", acks(0, 2, 4, 6), 3 * ms, 2 * ms, 4 * ms},
		{"first write ever after fault", acks(50), 10 * ms, 40 * ms, 50 * ms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gap, resume := Outage(tt.acks, tt.fault)
			if gap != tt.gap || resume != tt.resume {
				t.Errorf("Outage = %v, %v; want %v, %v", gap, resume, tt.gap, tt.resume)
			}
		})
	}
}
