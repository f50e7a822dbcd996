package campaign

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/lab"
	"github.com/vipsentinel/vipsentinel/agent/scenario"
)

// Guard is the redis-servers' own refusal of writes no replica receives:
// min-replicas-to-write and min-replicas-max-lag. A master with fewer than
// ToWrite replicas whose last acknowledgement (REPLCONF ACK, sent every
// second) is at most MaxLag seconds old answers writes with -NOREPLICAS,
// so a master whose replicas are cut off or still loading stops
// acknowledging writes that would be lost with it.
type Guard struct {
	ToWrite, MaxLag int
	Off             bool // run without the guard (min-replicas-to-write 0)
}

// RecommendedGuard is the README's recommendation, which the campaign
// uses unless told otherwise.
var RecommendedGuard = Guard{ToWrite: 1, MaxLag: 2}

func (g Guard) String() string {
	if g.Off {
		return "min-replicas-to-write 0 (no guard)"
	}
	return fmt.Sprintf("min-replicas-to-write %d, min-replicas-max-lag %d", g.ToWrite, g.MaxLag)
}

// redisLines are the redis.conf lines of the guard.
func (g Guard) redisLines() []string {
	if g.Off {
		return []string{"min-replicas-to-write 0"}
	}
	return []string{fmt.Sprintf("min-replicas-to-write %d", g.ToWrite), fmt.Sprintf("min-replicas-max-lag %d", g.MaxLag)}
}

// Refusals are the writes the servers refused: not acknowledged, hence
// never lost, and the price of the guard when it refuses.
type Refusals struct {
	PerCode map[string]int // both clients' refused writes by error code
	// NoReplicas are the episodes of -NOREPLICAS of the client writing
	// through the floating IP: refusals with no acknowledged write between
	// them are one episode; Longest is the longest from its first refusal
	// to its last.
	NoReplicas int
	Longest    time.Duration
	// Episodes are the NOREPLICAS episodes' starts (since the campaign's
	// start) and lengths, for the timeline.
	Episodes []Episode
}

// Episode is one run of refused writes.
type Episode struct{ At, Len time.Duration }

// refusals summarises what the two writers were refused. The episodes are
// the floating-IP client's (the follower redials after every refusal, so
// its pattern says more about its discovery than about the servers);
// offset is the floating-IP writer's clock at the campaign's start.
func refusals(offset time.Duration, vipRef []scenario.Refusal, vipAcks []scenario.Ack, folRef []scenario.Refusal) Refusals {
	out := Refusals{PerCode: map[string]int{}}
	for _, ref := range slices.Concat(vipRef, folRef) {
		out.PerCode[ref.Code]++
	}
	var cur *Episode
	var last time.Duration
	for _, ref := range vipRef {
		if ref.Code != "NOREPLICAS" {
			continue
		}
		if cur != nil && !ackedBetween(vipAcks, last, ref.At) {
			cur.Len = ref.At - offset - cur.At
			last = ref.At
			continue
		}
		out.Episodes = append(out.Episodes, Episode{At: ref.At - offset})
		cur = &out.Episodes[len(out.Episodes)-1]
		last = ref.At
	}
	out.NoReplicas = len(out.Episodes)
	for _, e := range out.Episodes {
		out.Longest = max(out.Longest, e.Len)
	}
	return out
}

// ackedBetween reports whether a write was acknowledged in (from, to).
func ackedBetween(acks []scenario.Ack, from, to time.Duration) bool {
	i := sort.Search(len(acks), func(i int) bool { return acks[i].At > from })
	return i < len(acks) && acks[i].At < to
}

func (r Refusals) String() string {
	codes := make([]string, 0, len(r.PerCode))
	for c := range r.PerCode {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%s %d", c, r.PerCode[c]))
	}
	if len(parts) == 0 {
		parts = []string{"none"}
	}
	return fmt.Sprintf("writes refused (not acknowledged, so not lost): %s; NOREPLICAS episodes through the floating IP: %d, longest %v",
		strings.Join(parts, ", "), r.NoReplicas, r.Longest.Round(time.Millisecond))
}

// lagSample is the replica-lag monitor: every lagSample it reads INFO
// replication of the redis-servers that say they are masters and counts
// the smallest lag among their online replicas (0, 1, 2, 3 s or more, or
// no online replica), the figure min-replicas-max-lag is compared with.
const lagSample = 100 * time.Millisecond

// LagHistogram counts lag samples: Lag[i] samples whose best replica lag
// was i seconds (the last bucket: 3 or more), None with no online replica,
// Short the samples where the master's min_slaves_good_slaves was below
// min-replicas-to-write. Each[i] counts every online replica's lag, one
// per replica and sample: with one replica left, that is the figure the
// guard compares.
type LagHistogram struct {
	Lag   [4]int
	None  int
	Short int
	Each  [4]int
}

func (h LagHistogram) String() string {
	return fmt.Sprintf("master's best replica lag, %v samples: 0s %d, 1s %d, 2s %d, >=3s %d, no online replica %d; below min-replicas-to-write %d; "+
		"each online replica's lag: 0s %d, 1s %d, 2s %d, >=3s %d",
		lagSample, h.Lag[0], h.Lag[1], h.Lag[2], h.Lag[3], h.None, h.Short, h.Each[0], h.Each[1], h.Each[2], h.Each[3])
}

func (m *monitors) sampleLag() func(context.Context) {
	r := m.r
	probes := r.probes()
	return func(ctx context.Context) {
		for h := range r.c.Hosts {
			raw, err := probes[h].Info(ctx, "replication").Result()
			if err != nil {
				continue
			}
			info := lab.ParseInfo(raw)
			if info["role"] == "slave" {
				m.sampleReceived(h, info)
			}
			if info["role"] != "master" {
				continue
			}
			best := -1
			var each []int
			master := r.c.Hosts[h].IP4.String()
			for k, v := range info {
				if !strings.HasPrefix(k, "slave") {
					continue
				}
				if rh := r.hostOf(net.JoinHostPort(stringField(v, "ip"), "6379")); rh >= 0 {
					off, ok := field(v, "offset")
					m.noteLoading(rh, master, time.Now(), strings.Contains(v, "state=online") && ok && off == 0)
				}
				if !strings.Contains(v, "state=online") {
					continue
				}
				if l, ok := field(v, "lag"); ok {
					// Redis computes lag from two clock readings that may
					// straddle a second: -1 is "just now".
					l = max(l, 0)
					each = append(each, l)
					if best < 0 || l < best {
						best = l
					}
				}
			}
			m.lagMu.Lock()
			for _, l := range each {
				m.lag.Each[min(l, 3)]++
			}
			if best < 0 {
				m.lag.None++
			} else {
				m.lag.Lag[min(best, 3)]++
			}
			good, err := strconv.Atoi(info["min_slaves_good_slaves"])
			if err != nil { // no guard: its online replicas
				good = len(each)
			}
			if !r.cfg.Guard.Off && good < r.cfg.Guard.ToWrite {
				m.lag.Short++
			}
			m.goods = append(m.goods, goodSample{at: time.Now(), host: h, good: good})
			m.lagMu.Unlock()
		}
	}
}

// goodSample is one lag sample of a master: its replicas within
// min-replicas-max-lag (min_slaves_good_slaves; without the guard, its
// online replicas).
type goodSample struct {
	at   time.Time
	host int
	good int
}

// goodAt returns host's good replica count at the last sample at or before
// t, taken while it was a master, if there is one within a second.
func (m *monitors) goodAt(host int, t time.Time) (int, bool) {
	m.lagMu.Lock()
	defer m.lagMu.Unlock()
	i := sort.Search(len(m.goods), func(i int) bool { return m.goods[i].at.After(t) })
	for j := i - 1; j >= 0 && t.Sub(m.goods[j].at) <= time.Second; j-- {
		if m.goods[j].host == host {
			return m.goods[j].good, true
		}
	}
	return 0, false
}

// recvSample is a replica's own replication offset (slave_repl_offset)
// at a lag sample where it advanced or the replica's master changed.
type recvSample struct {
	at     time.Time
	host   int
	master string // master_host
	offset int64
	// upTo is when the master stream it holds was received: at, except
	// for the first move after a full sync, whose offset is that of the
	// RDB, received when the transfer ended (see loadMark), not when the
	// load finished and the offset moved.
	upTo time.Time
}

// loadMark is a master's first sample showing a replica online at offset 0.
type loadMark struct {
	at     time.Time
	master string // the master's IP
}

// noteLoading records, from the master at IP master's sample at, whether it
// shows replica host online at offset 0: Redis 7.0 reports a fully synced
// replica so from the end of the transfer until its first ACK after loading
// the RDB, during which it receives nothing more.
func (m *monitors) noteLoading(host int, master string, at time.Time, zero bool) {
	m.lagMu.Lock()
	defer m.lagMu.Unlock()
	if m.loadSeen == nil {
		m.loadSeen = map[int]loadMark{}
	}
	switch mark, ok := m.loadSeen[host]; {
	case !zero:
		if ok && mark.master == master {
			delete(m.loadSeen, host)
		}
	case !ok || mark.master != master:
		m.loadSeen[host] = loadMark{at: at, master: master}
	}
}

// sampleReceived records replica h's offset when it moved.
func (m *monitors) sampleReceived(h int, info map[string]string) {
	off, err := strconv.ParseInt(info["slave_repl_offset"], 10, 64)
	if err != nil {
		return
	}
	now := time.Now()
	s := recvSample{at: now, host: h, master: info["master_host"], offset: off, upTo: now}
	m.lagMu.Lock()
	defer m.lagMu.Unlock()
	if m.lastRecv == nil {
		m.lastRecv, m.syncing = map[int]recvSample{}, map[int]bool{}
	}
	wasSyncing := m.syncing[h]
	m.syncing[h] = info["master_sync_in_progress"] == "1"
	if last, ok := m.lastRecv[h]; ok && last.master == s.master && last.offset >= s.offset {
		return
	}
	// The first move after a full sync (master_sync_in_progress went from
	// 1 to 0 by now) is the RDB's offset: the replica received it no later
	// than when its master first showed it online at offset 0, and
	// nothing since; without that sample, the sync's end is all we know.
	if mark, ok := m.loadSeen[h]; wasSyncing && ok && mark.master == s.master && mark.at.Before(now) {
		s.upTo = mark.at
	}
	m.lastRecv[h] = s
	m.recv = append(m.recv, s)
}

// stoppedReceiving returns when host, replicating from the master at IP
// from, last received anything before t: the point up to which the last
// lag sample at or before t where its offset had advanced had received
// (after a full sync, the RDB's point). ok is false when it was never seen
// replicating from that master.
func (m *monitors) stoppedReceiving(host int, from string, t time.Time) (time.Time, bool) {
	m.lagMu.Lock()
	defer m.lagMu.Unlock()
	i := sort.Search(len(m.recv), func(i int) bool { return m.recv[i].at.After(t) })
	for j := i - 1; j >= 0; j-- {
		if s := m.recv[j]; s.host == host && s.master == from {
			return s.upTo, true
		}
	}
	return time.Time{}, false
}

// stringField reads a field of an INFO slaveN line, "" if absent.
func stringField(v, name string) string {
	for _, kv := range strings.Split(v, ",") {
		if k, val, ok := strings.Cut(kv, "="); ok && k == name {
			return val
		}
	}
	return ""
}

// field reads an integer field of an INFO slaveN line
// ("ip=...,port=...,state=online,offset=...,lag=0").
func field(v, name string) (int, bool) {
	for _, kv := range strings.Split(v, ",") {
		if k, val, ok := strings.Cut(kv, "="); ok && k == name {
			n, err := strconv.Atoi(val)
			return n, err == nil
		}
	}
	return 0, false
}
