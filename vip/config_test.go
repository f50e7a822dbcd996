package vip

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseGARP(t *testing.T) {
	tests := []struct {
		args    string
		want    GARPConfig
		wantErr string
	}{
		{"5 1100", GARPConfig{Count: 5, Interval: 1100 * ms}, ""},
		{"3 500 60", GARPConfig{Count: 3, Interval: 500 * ms, Refresh: time.Minute}, ""},
		{"0 0", GARPConfig{}, ""}, // announcements off
		{"1 0 30", GARPConfig{Count: 1, Refresh: 30 * s}, ""},
		{"5", GARPConfig{}, "want <count> <interval-ms>"},
		{"5 1000 1 2", GARPConfig{}, "got 4 arguments"},
		{"five 1000", GARPConfig{}, "count \"five\" is not an integer"},
		{"5 1s", GARPConfig{}, "interval \"1s\" is not a number"},
		{"5 -1", GARPConfig{}, "interval \"-1\""},
		{"5 1000 x", GARPConfig{}, "refresh \"x\""},
		{"-1 1000", GARPConfig{}, "count -1 out of range"},
		{"500 1000", GARPConfig{}, "count 500 out of range"},
		{"5 5", GARPConfig{}, "interval 5ms out of range"},
		{"5 1000 0", GARPConfig{Count: 5, Interval: time.Second}, ""},
		{"5 1000 99999999", GARPConfig{}, "refresh"},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			got, err := ParseGARP(strings.Fields(tt.args))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
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
