package main

import (
	"fmt"
	"log/slog"

	"github.com/vipsentinel/vipsentinel/agent/config"
	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/firewall"
	"github.com/vipsentinel/vipsentinel/vip"
)

type sentinelEvent = sentinel.Event

// newFirewall builds the nftables manager from the firewall-* directives.
func newFirewall(f *config.File, log *slog.Logger) (*firewall.Manager, error) {
	cfg, err := firewallConfig(f)
	if err != nil {
		return nil, err
	}
	return firewall.New(cfg, firewall.Options{Logger: log.With("component", "firewall")})
}

// firewallConfig is what the firewall opens for f. The Redis port opened is
// the port of the first monitored master: every host runs its Redis on the
// port the master uses, as Sentinel deployments do.
func firewallConfig(f *config.File) (firewall.Config, error) {
	mode, err := firewall.ParseMode(string(f.Firewall.Mode))
	if err != nil {
		return firewall.Config{}, fmt.Errorf("firewall-mode: %w", err)
	}
	redisPort := 6379
	if len(f.Masters) > 0 {
		redisPort = f.Masters[0].Addr.Port
	}
	// The API listens on port, tls-port or both: open each one it listens on.
	agentPort, agentTLSPort := f.Port, f.TLS.Port
	if agentPort == 0 {
		agentPort, agentTLSPort = f.TLS.Port, 0 // TLS only
	}
	return firewall.Config{
		AgentPort:    agentPort,
		AgentTLSPort: agentTLSPort,
		RedisPort:    redisPort,
		Allow:        f.Firewall.Allow,
		Mode:         mode,
		KeepOnStop:   f.Firewall.KeepOnStop,
		Fence:        f.Firewall.Fence,
	}, nil
}

// vipConfigs returns the floating addresses of the masters the core will
// monitor (a master removed at run time keeps no VIP).
func vipConfigs(f *config.File, monitored []sentinel.MasterConfig) []vip.Config {
	var out []vip.Config
	for _, mc := range monitored {
		m := f.Master(mc.Name)
		if m == nil {
			continue
		}
		garp := vip.GARPConfig{Count: m.GARP.Count, Interval: m.GARP.Interval, Refresh: m.GARP.Refresh}
		for _, v := range m.VIPs {
			out = append(out, vip.Config{
				Master:     v.Master,
				Prefix:     v.Prefix,
				Interface:  v.Interface,
				GARP:       &garp,
				KeepOnStop: !m.ReleaseOnStop,
			})
		}
	}
	return out
}

// newVIPs builds the VIP manager on this host's network namespace. Its events
// reach onEvent as the core's events, and its confirmed removals onGone.
func newVIPs(cfgs []vip.Config, log *slog.Logger, onEvent func(sentinel.Event), onGone func(master string, gen uint64)) (*vip.Manager, error) {
	nl, err := vip.NewNetlink(vip.NetlinkOptions{})
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	pk, err := vip.NewPacket(vip.PacketOptions{Logger: log.With("component", "vip")})
	if err != nil {
		return nil, fmt.Errorf("packet sockets: %w", err)
	}
	return vip.New(cfgs, vip.Options{Addrs: nl, Announcer: pk, Logger: log.With("component", "vip"),
		OnEvent: func(e vip.Event) { onEvent(vipEvent(e)) }, OnGone: onGone})
}

// vipEvent is e as an event of the core, for the runtime to log and publish.
func vipEvent(e vip.Event) sentinel.Event {
	level := sentinel.LevelNotice
	if e.Warning {
		level = sentinel.LevelWarning
	}
	return sentinel.Event{Type: e.Type, Level: level, Master: e.Master, Epoch: e.Epoch, Payload: e.Payload}
}

// vipSetter hands the core's VIP intents to a vip.Manager, which knows
// nothing of the core.
type vipSetter struct{ m *vip.Manager }

func (s vipSetter) Set(intents []sentinel.VIPIntent) {
	out := make([]vip.Intent, len(intents))
	for i, in := range intents {
		out[i] = vip.Intent{Master: in.Master, Own: in.Own, Epoch: in.Epoch, Reason: in.Reason, Gen: in.Gen}
	}
	s.m.Set(out)
}
