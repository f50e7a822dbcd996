package main

import (
	"testing"

	"github.com/vipsentinel/vipsentinel/agent/config"
	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/agent/tlsconf"
)

// TestFirewallConfigPorts checks that the firewall opens every port the API
// listens on (port, tls-port or both) and the first master's Redis port.
func TestFirewallConfigPorts(t *testing.T) {
	for _, tc := range []struct {
		name                       string
		port, tlsPort              int
		wantAgent, wantTLS, wantRd int
	}{
		{"plain only", 26379, 0, 26379, 0, 6380},
		{"TLS only", 0, 26380, 26380, 0, 6380},
		{"plain and TLS", 26379, 26380, 26379, 26380, 6380},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &config.Master{}
			m.Name, m.Addr = "m", sentinel.Addr{Host: "198.18.0.1", Port: 6380}
			f := &config.File{Port: tc.port, TLS: tlsconf.Settings{Port: tc.tlsPort},
				Firewall: config.Firewall{Enabled: true, Mode: config.FirewallOwn},
				Masters:  []*config.Master{m}}
			cfg, err := firewallConfig(f)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.AgentPort != tc.wantAgent || cfg.AgentTLSPort != tc.wantTLS || cfg.RedisPort != tc.wantRd {
				t.Errorf("ports agent %d, agent TLS %d, redis %d; want %d, %d, %d",
					cfg.AgentPort, cfg.AgentTLSPort, cfg.RedisPort, tc.wantAgent, tc.wantTLS, tc.wantRd)
			}
			if err := cfg.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}
