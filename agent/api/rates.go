package api

import (
	"sync"
	"time"
)

// Instantaneous rates (INFO's instantaneous_ops_per_sec and
// instantaneous_*_kbps) are estimated the way Redis does: every
// sampleInterval the running totals are sampled, each sample gives a rate
// over the time since the previous one, and the reported rate is the mean
// of the last rateSamples rates (about 1.6 s).
const (
	sampleInterval = 100 * time.Millisecond
	rateSamples    = 16
)

// rateMeter turns samples of one running total into a recent rate per
// second. The zero value is ready; it is not safe for concurrent use.
type rateMeter struct {
	started   bool
	lastTime  time.Time
	lastTotal int64
	rates     [rateSamples]float64
	next      int
}

// sample records total as seen at now. The first sample only sets the
// starting point; a sample at or before the previous one is ignored, so a
// clock step cannot make a rate negative or infinite.
func (m *rateMeter) sample(now time.Time, total int64) {
	if !m.started {
		m.started, m.lastTime, m.lastTotal = true, now, total
		return
	}
	d := now.Sub(m.lastTime)
	if d <= 0 {
		return
	}
	m.rates[m.next] = float64(total-m.lastTotal) / d.Seconds()
	m.next = (m.next + 1) % rateSamples
	m.lastTime, m.lastTotal = now, total
}

// rate returns the mean of the last rateSamples rates per second; samples
// not yet taken count as 0, as in Redis just after start.
func (m *rateMeter) rate() float64 {
	var sum float64
	for _, r := range m.rates {
		sum += r
	}
	return sum / rateSamples
}

// rates holds the meters of the API's counters.
type rates struct {
	mu           sync.Mutex
	ops, in, out rateMeter
}

// sample takes one sample of the server's counters.
func (r *rates) sample(now time.Time, st *stats) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops.sample(now, st.commands.Load())
	r.in.sample(now, st.netIn.Load())
	r.out.sample(now, st.netOut.Load())
}

// get returns commands per second and input and output bytes per second.
func (r *rates) get() (ops, in, out float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ops.rate(), r.in.rate(), r.out.rate()
}

// sampleRates samples the counters every sampleInterval until stop is
// closed.
func (s *Server) sampleRates(stop <-chan struct{}) {
	defer s.wg.Done()
	t := time.NewTicker(sampleInterval)
	defer t.Stop()
	s.rates.sample(time.Now(), &s.stats)
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			s.rates.sample(now, &s.stats)
		}
	}
}
