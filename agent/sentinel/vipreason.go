package sentinel

import (
	"strings"

	"github.com/vipsentinel/vipsentinel/agent/redisrule"
)

const (
	notLocalPrefix = "master "
	notLocalSuffix = " is not on this host"
)

// notLocalReason is the VIP reason for a master at a on another host. It is
// rebuilt on every pass, so the previous reason is reused when it already
// names a: an idle Step then allocates nothing for it.
func notLocalReason(prev string, a Addr) string {
	if mid, ok := strings.CutPrefix(prev, notLocalPrefix); ok {
		if mid, ok = strings.CutSuffix(mid, notLocalSuffix); ok {
			if h, p, err := redisrule.SplitAddr(mid); err == nil && h == a.Host && p == a.Port {
				return prev
			}
		}
	}
	return notLocalPrefix + a.String() + notLocalSuffix
}
