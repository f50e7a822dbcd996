package runtime

// HostStatus is what VIPSENTINEL STATUS reports beyond the core: this
// host's floating addresses and firewall, as the VIP and firewall managers
// see them. The runtime links neither (package vip and firewall know
// nothing of agent/), so the command wires them in with
// Options.HostStatus.
type HostStatus struct {
	// VIPs lists every configured floating address, held or not.
	VIPs []VIPStatus `json:"vips"`
	// Firewall is nil when the agent manages no firewall.
	Firewall *FirewallStatus `json:"firewall"`
}

// VIPStatus is one floating address on this host.
type VIPStatus struct {
	Master    string `json:"master"`
	Address   string `json:"address"` // as configured, with its prefix length
	Interface string `json:"interface"`
	Held      bool   `json:"held"`             // installed on this host now
	Since     string `json:"since,omitempty"`  // RFC 3339 time Held last changed
	Epoch     uint64 `json:"epoch"`            // config epoch of the intent last acted on
	Reason    string `json:"reason,omitempty"` // why the core wants it held or not
	Conflicts uint64 `json:"conflicts"`        // claims by another MAC while held
	Error     string `json:"error,omitempty"`  // last failure, "" after a success
}

// FirewallStatus is the agent's nftables state.
type FirewallStatus struct {
	Mode      string             `json:"mode"`
	Open      bool               `json:"open"`   // the agent's table is installed
	Fenced    bool               `json:"fenced"` // ports restricted to the fencing allow-list
	Restores  int                `json:"restores"`
	Error     string             `json:"error,omitempty"`
	Conflicts []FirewallConflict `json:"conflicts"`
}

// FirewallConflict is a foreign chain that may drop the ports the agent
// opens.
type FirewallConflict struct {
	Description string `json:"description"`
	Handled     bool   `json:"handled"` // vipsentinel's injected accept rules override it
	Fix         string `json:"fix,omitempty"`
}
