package api

import (
	"slices"
	"testing"
)

// TestVIPSentinelAdmin checks the parsing of VIPSENTINEL PAUSE, RESUME and
// FAILOVER and what reaches the backend.
func TestVIPSentinelAdmin(t *testing.T) {
	b := &testBackend{}
	_, addr := startServer(t, Config{Backend: b, RequirePass: "pw"})
	r := dialRaw(t, addr)
	// Unauthenticated: refused before any parsing.
	r.roundTrip(cmd("VIPSENTINEL", "PAUSE", "mymaster"), "-NOAUTH Authentication required.\r\n")
	r.roundTrip(cmd("AUTH", "pw"), "+OK\r\n")
	cases := []struct {
		name, req, want string
		call            string // recorded backend call, "" for none
	}{
		{"pause", cmd("VIPSENTINEL", "PAUSE", "mymaster"), "+OK\r\n", `pause "mymaster" 0s`},
		{"pause for", cmd("vipsentinel", "pause", "mymaster", "3600000"), "+OK\r\n", `pause "mymaster" 1h0m0s`},
		{"pause all", cmd("VIPSENTINEL", "PAUSE", "*", "1500"), "+OK\r\n", `pause "" 1.5s`},
		{"pause zero", cmd("VIPSENTINEL", "PAUSE", "m", "0"), "-ERR the pause must be a number of milliseconds from 1 to 2592000000\r\n", ""},
		{"pause too long", cmd("VIPSENTINEL", "PAUSE", "m", "2592000001"), "-ERR the pause must be a number of milliseconds from 1 to 2592000000\r\n", ""},
		{"pause not a number", cmd("VIPSENTINEL", "PAUSE", "m", "1h"), "-ERR the pause must be a number of milliseconds from 1 to 2592000000\r\n", ""},
		{"pause arity", cmd("VIPSENTINEL", "PAUSE"), "-ERR wrong number of arguments for 'vipsentinel|pause' command\r\n", ""},
		{"pause too many", cmd("VIPSENTINEL", "PAUSE", "m", "1", "2"), "-ERR wrong number of arguments for 'vipsentinel|pause' command\r\n", ""},
		{"resume", cmd("VIPSENTINEL", "RESUME", "mymaster"), "+OK\r\n", `resume "mymaster"`},
		{"resume all", cmd("VIPSENTINEL", "RESUME", "*"), "+OK\r\n", `resume ""`},
		{"resume arity", cmd("VIPSENTINEL", "RESUME", "a", "b"), "-ERR wrong number of arguments for 'vipsentinel|resume' command\r\n", ""},
		{"failover", cmd("VIPSENTINEL", "FAILOVER", "mymaster", "198.18.0.2", "6379"), "+OK\r\n", `failover "mymaster" 198.18.0.2:6379`},
		{"failover v6", cmd("VIPSENTINEL", "FAILOVER", "mymaster", "fd00::2", "6380"), "+OK\r\n", `failover "mymaster" [fd00::2]:6380`},
		{"failover star is a name", cmd("VIPSENTINEL", "FAILOVER", "*", "198.18.0.2", "6379"), "+OK\r\n", `failover "*" 198.18.0.2:6379`},
		{"failover bad port", cmd("VIPSENTINEL", "FAILOVER", "mymaster", "198.18.0.2", "0"), "-ERR invalid port \"0\"\r\n", ""},
		{"failover arity", cmd("VIPSENTINEL", "FAILOVER", "mymaster", "198.18.0.2"), "-ERR wrong number of arguments for 'vipsentinel|failover' command\r\n", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r.t = t
			b.mu.Lock()
			b.admin = nil
			b.mu.Unlock()
			r.roundTrip(tc.req, tc.want)
			b.mu.Lock()
			defer b.mu.Unlock()
			var want []string
			if tc.call != "" {
				want = []string{tc.call}
			}
			if !slices.Equal(b.admin, want) {
				t.Errorf("backend calls %q, want %q", b.admin, want)
			}
		})
	}
}
