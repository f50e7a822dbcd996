package sim

import "testing"

// failedOnce lists the seeds that found a bug in long sweeps (outside the
// CI's first 2,000), so every run replays them.
var failedOnce = []uint64{
	// Full resync left the modelled Redis's durable length past its data.
	14616,
	// Stale VIP claims and fence-window overruns under heavy loss, stalls
	// and partitions, before VIP leases were granted by a majority.
	11708, 28696, 33050, 38930, 43920, 56289, 56817, 67260, 67538,
	69195, 76853, 79656, 84110, 88240, 91366, 92245,
	// A forged pub/sub hello pairing an election that never completed
	// with a replica promoted one epoch before was adopted.
	1000689,
}

// TestSeedsThatFailedOnce reruns failedOnce.
func TestSeedsThatFailedOnce(t *testing.T) {
	for _, seed := range failedOnce {
		if r := Run(Swarm(seed, 0)); r.Err != nil {
			t.Errorf("seed %d: %v (reproduce: go test ./agent/sim/ -run 'TestSeeds$' -sim.seed %d)", seed, r.Err, seed)
		}
	}
}
