package sim

import (
	"hash/fnv"
	"math/rand"
)

// splitmix64 is the SplitMix64 finaliser; it spreads one seed into
// independent-looking streams.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// newRand derives the generator for one purpose from the run's seed, so that
// adding draws for one purpose (say, client writes) does not shift the
// sequence another purpose (say, the fault schedule) sees.
func newRand(seed uint64, purpose string, n int) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(purpose))
	x := splitmix64(seed ^ h.Sum64() ^ splitmix64(uint64(n)+1))
	return rand.New(rand.NewSource(int64(x)))
}
