package vip

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestGARPValidate: what the configuration passes in is checked again,
// naming the field out of range.
func TestGARPValidate(t *testing.T) {
	tests := []struct {
		g       GARPConfig
		wantErr string
	}{
		{GARPConfig{Count: 5, Interval: 1100 * ms}, ""},
		{GARPConfig{Count: 3, Interval: 500 * ms, Refresh: time.Minute}, ""},
		{GARPConfig{}, ""}, // announcements off
		{GARPConfig{Count: 1, Refresh: 30 * s}, ""},
		{GARPConfig{Count: -1, Interval: time.Second}, "count -1 out of range"},
		{GARPConfig{Count: 500, Interval: time.Second}, "count 500 out of range"},
		{GARPConfig{Count: 5, Interval: 5 * ms}, "interval 5ms out of range"},
		{GARPConfig{Count: 5, Interval: time.Second, Refresh: 500 * ms}, "refresh 500ms out of range"},
		{GARPConfig{Count: 5, Interval: time.Second, Refresh: 99999999 * s}, "refresh"},
	}
	for _, tt := range tests {
		err := tt.g.Validate()
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("%+v: %v", tt.g, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%+v: err %v, want it to mention %q", tt.g, err, tt.wantErr)
		}
	}
}

func TestSchedule(t *testing.T) {
	tests := []struct {
		g    GARPConfig
		want []time.Duration
	}{
		{DefaultGARP(), []time.Duration{0, 1 * s, 2 * s, 3 * s, 4 * s}},
		{GARPConfig{Count: 5, Interval: 1100 * ms}, []time.Duration{0, 1100 * ms, 2200 * ms, 3300 * ms, 4400 * ms}},
		// All rounds within locktime: one more lands past it.
		{GARPConfig{Count: 3, Interval: 200 * ms}, []time.Duration{0, 200 * ms, 400 * ms, 1100 * ms}},
		{GARPConfig{Count: 1}, []time.Duration{0, 1100 * ms}},
		// Exactly one locktime later is not past it (time_after is strict).
		{GARPConfig{Count: 2, Interval: time.Second}, []time.Duration{0, time.Second, 1100 * ms}},
		{GARPConfig{Count: 2, Interval: 2 * time.Second}, []time.Duration{0, 2 * time.Second}},
		{GARPConfig{Count: 0, Refresh: time.Minute}, nil},
	}
	for _, tt := range tests {
		if got := tt.g.schedule(); !slices.Equal(got, tt.want) {
			t.Errorf("%+v: schedule %v, want %v", tt.g, got, tt.want)
		}
	}
}
