package main
import (
 _ "github.com/vishvananda/netlink"
 _ "github.com/mdlayher/arp"
 _ "github.com/mdlayher/packet"
 _ "github.com/mdlayher/ndp"
 _ "github.com/mdlayher/ethernet"
 _ "github.com/redis/go-redis/v9"
 _ "github.com/coreos/go-systemd/v22/daemon"
 _ "github.com/google/nftables"
 _ "github.com/systemd/slog-journal"
 _ "github.com/prometheus/client_golang/prometheus"
 _ "github.com/tidwall/redcon"
)
func main(){}
