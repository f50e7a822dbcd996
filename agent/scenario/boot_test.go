package scenario

import (
	"context"
	"flag"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/lab"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

var bootDelay = flag.Duration("boot.delay", 2*time.Second, "TestBootHostByHost: delay between one host's boot and the next")

// TestBootHostByHost boots three hosts one after another, each its
// redis-server and then its agent, the master holding 200,000 keys and the
// replicas syncing while the agents start (issue 13): the boot must not fail
// the healthy master over, pause its writes, or lose a key.
func TestBootHostByHost(t *testing.T) {
	lab.RequireRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := RunBoot(ctx, Recommended("boot", binary), BootOptions{Delay: *bootDelay})
	if res != nil {
		testenv.LogLines(t, "timeline", res.Timeline)
		t.Logf("failovers %d (attempts %d, config epoch %d), pauses %d, fences %d, keys lost %d, writes lost %d of %d, settled after %v",
			res.Failovers, res.Attempts, res.ConfigEpoch, res.Pauses, res.Fences, res.KeysLost, res.WritesLost, res.Acked, res.Settled.Round(time.Millisecond))
	}
	if err != nil {
		t.Fatal(err)
	}
	if res.Failovers != 0 || res.Attempts != 0 || res.ConfigEpoch != 0 || res.FinalMaster != res.FirstMaster {
		t.Errorf("the boot failed the healthy master over: %d failovers (%d attempts), config epoch %d, master %s -> %s",
			res.Failovers, res.Attempts, res.ConfigEpoch, res.FirstMaster, res.FinalMaster)
	}
	if res.Pauses != 0 || res.Fences != 0 {
		t.Errorf("the boot paused the master's writes: %d CLIENT PAUSE executed, %d +fence events", res.Pauses, res.Fences)
	}
	if res.KeysLost != 0 || res.WritesLost != 0 {
		t.Errorf("the boot lost data: %d of the preloaded keys, %d of %d acknowledged writes", res.KeysLost, res.WritesLost, res.Acked)
	}
}
