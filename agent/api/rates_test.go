package api

import (
	"context"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestRateMeter(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	type sample struct {
		ms    int
		total int64
	}
	// steady returns n samples 100 ms apart of a total growing by perStep.
	steady := func(n int, perStep int64) []sample {
		var out []sample
		for i := 0; i < n; i++ {
			out = append(out, sample{i * 100, int64(i) * perStep})
		}
		return out
	}
	cases := []struct {
		name    string
		samples []sample
		want    float64
	}{
		{"no samples", nil, 0},
		{"first sample is only a baseline", []sample{{0, 500}}, 0},
		{"full window at 10/100ms", steady(rateSamples+1, 10), 100},
		{"half window counts missing samples as 0", steady(rateSamples/2+1, 10), 50},
		{"window slides past old traffic", append(steady(rateSamples+1, 10), func() []sample {
			var out []sample
			last := int64(rateSamples * 10)
			for i := 1; i <= rateSamples; i++ {
				out = append(out, sample{(rateSamples + i) * 100, last})
			}
			return out
		}()...), 0},
		{"uneven intervals", []sample{{0, 0}, {50, 10}, {250, 30}}, (200.0 + 100.0) / rateSamples},
		{"clock going back is ignored", []sample{{0, 0}, {100, 10}, {50, 20}, {200, 30}}, (100.0 + 200.0) / rateSamples},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var m rateMeter
			for _, s := range tc.samples {
				m.sample(at(s.ms), s.total)
			}
			if got := m.rate(); math.Abs(got-tc.want) > 1e-9 {
				t.Fatalf("rate = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestInstantaneousOps checks that INFO's rates follow the traffic: they
// rise while commands arrive and fall back to 0 once they stop.
func TestInstantaneousOps(t *testing.T) {
	_, addr := startServer(t, Config{})
	rc := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, PoolSize: 1})
	defer rc.Close()
	ctx := context.Background()
	stat := func(name string) float64 {
		t.Helper()
		s, err := rc.Info(ctx, "stats").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(s, "\r\n") {
			if v, ok := strings.CutPrefix(line, name+":"); ok {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					t.Fatalf("%s: %v", line, err)
				}
				return f
			}
		}
		t.Fatalf("INFO stats lacks %s:\n%s", name, s)
		return 0
	}
	deadline := time.Now().Add(20 * time.Second)
	for stat("instantaneous_ops_per_sec") == 0 || stat("instantaneous_input_kbps") == 0 || stat("instantaneous_output_kbps") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("instantaneous rates stayed 0 under load")
		}
		pipe := rc.Pipeline()
		for i := 0; i < 200; i++ {
			pipe.Ping(ctx)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Nearly idle: INFO itself is a command, so poll slowly (2/s) and
	// wait for the 1.6 s window to forget the load.
	for stat("instantaneous_ops_per_sec") > 5 {
		if time.Now().After(deadline) {
			t.Fatal("instantaneous_ops_per_sec did not fall once idle")
		}
		time.Sleep(500 * time.Millisecond)
	}
}
