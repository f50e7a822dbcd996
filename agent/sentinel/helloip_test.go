package sentinel

import "testing"

// TestFallbackHelloIP: before a link reports our side's address, the hello
// announces a routable local address of the instance's family, never
// loopback while another exists.
func TestFallbackHelloIP(t *testing.T) {
	tests := []struct {
		local []string
		host  string // the instance's
		want  string
	}{
		{nil, "198.18.0.1", ""},
		{[]string{"127.0.0.1", "198.18.0.3"}, "198.18.0.1", "198.18.0.3"},
		{[]string{"::1", "127.0.0.1", "fd00::3", "198.18.0.3"}, "198.18.0.1", "198.18.0.3"},
		{[]string{"::1", "127.0.0.1", "fd00::3", "198.18.0.3"}, "fd00::1", "fd00::3"},
		{[]string{"127.0.0.1", "fd00::3"}, "198.18.0.1", "fd00::3"},
		{[]string{"127.0.0.1", "::1"}, "fd00::1", "127.0.0.1"},
		{[]string{"198.18.0.9", "198.18.0.3"}, "198.18.0.1", "198.18.0.3"},
		{[]string{"198.18.0.3", "fd00::3"}, "redis.example", "198.18.0.3"},
	}
	for _, tt := range tests {
		m := map[string]bool{}
		for _, ip := range tt.local {
			m[ip] = true
		}
		if got := fallbackHelloIP(m, tt.host); got != tt.want {
			t.Errorf("fallbackHelloIP(%v, %s) = %q, want %q", tt.local, tt.host, got, tt.want)
		}
	}
}
