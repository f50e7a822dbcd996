// Package state keeps what a vipsentinel agent must remember across
// restarts: the core's sentinel.HardState (its id, the current epoch, and per
// master the config epoch, the current master address, its vote, the known
// replicas and sentinels, and the master's settings as changed at run time
// by SENTINEL SET, MONITOR and REMOVE).
//
// It lives in a state file inside the configured dir (state-file, default
// vipsentinel.state), never in the operator's configuration file. Redis
// Sentinel rewrites its own sentinel.conf, moving lines, dropping comments and
// fighting configuration management; vipsentinel only ever reads the
// configuration file.
//
// # Format
//
// The state file is indented JSON:
//
//	{
//	  "format": "vipsentinel-state",
//	  "version": 1,
//	  "checksum": "sha256:<hex of the exact bytes of the state member>",
//	  "state": {
//	    "myid": "...", "current_epoch": 7,
//	    "masters": [{"name": ..., "current_addr": "10.0.0.2:6379", "config_epoch": 7,
//	                 "leader": ..., "leader_epoch": 7, "known_replicas": [...],
//	                 "known_sentinels": [...], "monitored": false, "config": {...},
//	                 "maintenance": {"until_unix_ms": 0}}],   (only while paused)
//	    "config_base": [{"name": ..., ...}]
//	  }
//	}
//
// JSON rather than Sentinel-style lines because the content is nested (per
// master lists and maps), because encoding/json gives a strict decoder for
// free (unknown fields, wrong types and trailing data are errors), and
// because an operator can still read it. Durations are milliseconds, as in
// Sentinel. Strings that are not valid UTF-8 (a password given with \xHH
// escapes) are written as {"base64": "..."} so that nothing is altered.
//
// The version comes first and is checked before anything else, so a file
// written by a newer release is reported as such. The checksum turns a torn
// or hand-edited file into a clear error. The file holds passwords
// (auth-pass), so it is written with mode 0600.
//
// # Durability
//
// Write replaces the file atomically: temporary file in the same directory,
// write, fsync, rename, fsync of the directory. A crash leaves the old or the
// new file, plus at worst a stray temporary file, which Open removes. Store
// holds an flock on <state file>.lock so that two agents cannot share one
// state file (and its votes), and refuses to write a current epoch lower than
// one it already wrote. The runtime must Save a Ready's State before acting
// on that Ready (see sentinel.Ready).
//
// Load never repairs: a missing file is a first start (an error satisfying
// errors.Is(err, fs.ErrNotExist)), but an empty, truncated, corrupt or
// unknown-version file is an *Error wrapping ErrCorrupt or ErrVersion that
// names the file and the problem, and the agent must not start. Starting
// from epoch 0 behind the operator's back could let this agent vote twice in
// an epoch it already voted in. To start afresh deliberately, move the file
// away.
//
// # First start and import
//
// Without a state file, Open imports the runtime state that Redis's CONFIG
// REWRITE leaves in a sentinel.conf (sentinel myid, current-epoch,
// config-epoch, leader-epoch, known-replica/known-slave, known-sentinel), so
// that vipsentinel can take over from redis-sentinel on the same host and
// keep its identity and epochs (see Import). After that these lines in the
// configuration file are ignored; the state file is authoritative.
//
// # Merge rule
//
// At every start Merge reconciles the configuration file with the state of
// the previous run. The state file records, per master, the configuration
// file's settings it was last reconciled with (config_base), which tells an
// operator's edit apart from a run-time change:
//
//   - What the algorithm learnt is always taken from the state: myid, current
//     epoch, config epoch, current master address, vote (leader, leader
//     epoch), known replicas and sentinels. The current epoch is then raised
//     to the highest config or leader epoch present, as Sentinel does.
//   - A per-master setting (quorum, down-after-milliseconds,
//     failover-timeout, parallel-syncs, master-reboot-down-after-period,
//     auth-user, auth-pass, notification-script, client-reconfig-script, and
//     rename-command, one command at a time) takes the configuration file's
//     value if the operator changed it in the file since the last run, and
//     otherwise keeps the state's value, which may have been changed by
//     SENTINEL SET.
//   - The monitor address works the same way: if the operator edited the
//     sentinel monitor line's address, that address becomes the current
//     master address (the operator says where the master is, as when editing
//     sentinel.conf with Sentinel stopped); the config epoch is kept, so a
//     newer configuration held by peers still wins through their hellos.
//     Otherwise the address learnt at run time (after a failover) is kept.
//   - sentinel vip and sentinel fence are not run-time settings: they always
//     come from the file. Global settings (port, announce-ip, ...) always
//     come from the file too: the HardState has no place for them.
//   - A master in the file but not in the previous run's file is added.
//     A master the previous run's file had but the state lacks was removed
//     with SENTINEL REMOVE: it stays removed until its sentinel monitor line
//     (address or quorum) is edited.
//   - A master in the state but not in the file: if the previous run's file
//     had it, the operator deleted it and it is dropped; otherwise it was
//     added with SENTINEL MONITOR and is kept.
//
// Merge reports each decision that differs from "nothing changed" as a
// Change for the log, secrets masked. The caller starts the core with the
// merged HardState and with MasterConfigs(hs) as its masters; VIP and
// firewall settings of a master that is no longer monitored do not apply.
package state
