package sentinel

import (
	"strconv"
	"strings"
)

// Info is the part of a Redis INFO reply the algorithm uses.
type Info struct {
	RunID   string
	Role    string // "master", "slave", or "" when absent
	Version string // redis_version, "" when absent

	// Master side: replicas listed as slaveN:ip=..,port=..,state=..,offset=..
	Replicas []InfoReplica

	// Replica side.
	MasterHost              string
	MasterPort              int
	MasterLinkUp            bool  // master_link_status:up
	MasterLinkDownSinceSecs int64 // master_link_down_since_seconds, 0 if absent; -1: never connected since it became a replica
	MasterSyncInProgress    bool  // master_sync_in_progress:1, a full sync is being received
	SlavePriority           int   // 100 when absent
	SlaveReplOffset         int64
	ReplicaAnnounced        bool // true when absent

	MasterReplOffset int64 // master_repl_offset (both roles)
	Loading          bool  // loading:1, the dataset is being loaded (both roles)
	// Guarded: min_slaves_good_slaves is present, i.e. the master runs
	// Redis's guard (min-replicas-to-write and min-replicas-max-lag set).
	Guarded bool
}

// InfoReplica is one slaveN line of a master's INFO.
type InfoReplica struct {
	Addr   Addr
	State  string
	Offset int64 // the offset the replica last acknowledged
	Lag    int64 // seconds since its last acknowledgement; -1 when absent
}

// pausesWrites reports whether the Redis that sent i knows CLIENT PAUSE
// WRITE (6.2 and later). An INFO without redis_version is given the benefit
// of the doubt: the CLIENT PAUSE reply settles it.
func (i *Info) pausesWrites() bool {
	major, rest, _ := strings.Cut(i.Version, ".")
	minor, _, _ := strings.Cut(rest, ".")
	ma, err1 := strconv.Atoi(major)
	mi, err2 := strconv.Atoi(minor)
	if i.Version == "" || err1 != nil || err2 != nil {
		return true
	}
	return ma > 6 || ma == 6 && mi >= 2
}
