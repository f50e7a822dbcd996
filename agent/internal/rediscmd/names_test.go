package rediscmd

import "testing"

func TestIsCommand(t *testing.T) {
	for _, tt := range []struct {
		name string
		want bool
	}{
		{"FLUSHALL", true}, {"flushall", true}, {"Info", true}, {"config", true}, {"slaveof", true},
		{"replicaof", true}, {"failover", true}, {"shutdown", true}, {"debug", true},
		{"", false}, {"CONFIG_a8f2", false}, {"MYCONFIG", false}, {"config|get", false}, {"flush all", false},
	} {
		if got := IsCommand(tt.name); got != tt.want {
			t.Errorf("IsCommand(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
	// COMMAND COUNT on redis-server 7.0.15.
	if len(names) != 240 {
		t.Errorf("%d names, want 240", len(names))
	}
}
