package sentinel

// Info is the part of a Redis INFO reply the algorithm uses.
type Info struct {
	RunID string
	Role  string // "master", "slave", or "" when absent

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
}

// InfoReplica is one slaveN line of a master's INFO.
type InfoReplica struct {
	Addr   Addr
	State  string
	Offset int64
}
