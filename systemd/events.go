package systemd

// Event names, the values of the "event" log attribute: the pub/sub channel
// names the agent publishes, Sentinel's own (+switch-master, +tilt, ...) and
// vipsentinel's (+vip-acquired, +quorum-lost, +fence, ...; package vip and
// agent/sentinel emit them). Every event type has a MESSAGE_ID in the
// journal (see Events) so that operators can filter and alert on it:
// `journalctl MESSAGE_ID=<id>`.
const (
	EventFailoverStart   = "+try-failover"
	EventFailoverEnd     = "+failover-end"
	EventFailoverTimeout = "+failover-end-for-timeout"
	EventSwitchMaster    = "+switch-master"
	EventTiltEnter       = "+tilt"
	EventTiltExit        = "-tilt"
	EventVIPAcquired     = "+vip-acquired"
	EventVIPReleased     = "+vip-released"
	EventVIPConflict     = "+vip-conflict"
	EventQuorumLost      = "+quorum-lost"
	EventQuorumRegained  = "+quorum-regained"
	EventFenceStart      = "+fence"
	EventFenceEnd        = "-fence"
)

// EventType describes one event type for the journal: its MESSAGE_ID and
// the text of its entry in the journal's message catalog
// (/usr/lib/systemd/catalog/vipsentinel.catalog, shown by journalctl -x).
type EventType struct {
	Name      string // the event, as published: "+switch-master"
	MessageID string // 32 lower-case hex digits
	Summary   string // one line, lower case, no final period
	Help      string // what happened and what to do, in sentences
}

// events is the one table of event types; the message catalog, the
// MESSAGE_ID of log records and the documentation are generated from it.
// The MESSAGE_IDs were generated once (systemd-id128 new) and must never
// change: operators' journal filters, alerts and catalog entries refer to
// them. A new event type gets a new one.
var events = []EventType{
	{"+sdown", "afb5a5179540432f8f7c941e27fe76d5", "an instance is subjectively down",
		"This agent got no valid reply from the instance (a master, replica or other agent) for down-after-milliseconds. It is this agent's view only; a failover needs +odown."},
	{"-sdown", "d8aa3dbb48d949418776171663b2246c", "an instance is no longer subjectively down",
		"The instance answers again."},
	{"+odown", "d5c86e566aa64ffc94d270ea95edab54", "a master is objectively down",
		"A quorum of agents sees the master down (sentinel monitor's quorum). A failover follows if a majority of agents elects a leader; watch for +try-failover and +switch-master."},
	{"-odown", "7aa46c606b064418823de11c54b3f886", "a master is no longer objectively down",
		"Fewer than a quorum of agents see the master down now."},
	{"+reboot", "4b9ab0bc06cb4908897eb2cdcef93c67", "an instance restarted",
		"The instance reports a new run id: it restarted. With master-reboot-down-after-period, a restarted master is treated as down for that long."},
	{"+role-change", "009c8a94a7c54d9fbc6ed5fe165a53a7", "an instance reports a new role",
		"An instance now reports the role the agent expects (a replica became a master after a promotion, a demoted master reports role:slave)."},
	{"-role-change", "0b758289044345ff85f34c7eda16520d", "an instance reports an unexpected role",
		"An instance reports a role the agent did not expect, for example a replica that says it is a master. Sentinel's convert-to-slave reconfigures it once the condition lasts."},
	{"+auth-error", "49a7048a964a46af96f034affc38d5f6", "authentication to an instance failed",
		"The instance refused the credentials (sentinel auth-pass/auth-user for Redis, sentinel-pass/sentinel-user for agents). Until this is fixed the instance is not monitored: check the passwords on both sides."},
	{"-cmd-link-reconnection", "214805b71dfd4909baed0be432054f94", "the command link to an instance is reconnecting",
		"The command connection to the instance was closed (timeout, error or reset) and is being re-established."},
	{"-pubsub-link-reconnection", "c2aa7b84aeb74127a0e63a0cfca7e08e", "the pub/sub link to an instance is reconnecting",
		"The connection subscribed to the instance's hello channel was closed and is being re-established."},
	{"+slave", "80ea726f159c4579942cfd48d349b6f4", "a new replica was found",
		"The master's INFO lists a replica the agent did not know; it is monitored from now on."},
	{"+sentinel", "73026e576d8e4c17855b68cbf338417e", "a new agent was found",
		"A hello introduced another agent (or redis-sentinel) for the master, and it was verified; it counts in quorums and elections from now on."},
	{"+sentinel-address-switch", "7df636598859431ea1a766a968cc5470", "an agent changed address",
		"A known agent (same run id) announced a new address."},
	{"+sentinel-address-update", "5f746c21edf142dd980a557883a3151b", "agents at an address were updated",
		"Another agent's address moved and the agents that shared its old address were updated."},
	{"+sentinel-invalid-addr", "4cd4f09ff2544ef08871119f5800ecb6", "an agent with an invalid address was removed",
		"An agent announced an address that cannot be used (such as 0.0.0.0); it was dropped."},
	{"-sentinel-unverified", "a9d6ff5931d14b9685168af7acc00cb7", "an unverified agent was forgotten",
		"A hello proposed an agent that could not be verified in time (VIPSENTINEL PROVE, or the run id of a listed redis-sentinel). It is not counted. If this is a real peer, check its sentinel-pass and that it can be reached; for a real redis-sentinel add a known-sentinel line with its run id."},
	{"+hello-rejected", "24219620084645fb85950646004929f6", "a hello changed nothing",
		"A hello was ignored for lack of evidence: its sender is not a verified agent, it came over an unauthenticated path, or its epoch is too far ahead. Repeated rejections may be an attack or a misconfigured peer; similar rejections are logged at most once per period."},
	{"+vote-rejected", "714712ee68884f709b71d03428031337", "a vote request was refused",
		"A vote request came from an agent that is not a verified peer, or with an epoch too far above this agent's."},
	{"+config-update-from", "768d44e885a44ecc888c8f74554bfe4c", "a newer configuration was taken from an agent",
		"Another agent announced a newer configuration (higher config epoch) for the master, and this agent adopted it."},
	{"+new-epoch", "f4760f3d5b41407bb979b2df94afba3d", "the current epoch changed",
		"The agent's current epoch rose, after an election it took part in or a hello that announced a higher one."},
	{"+monitor", "4442a8960de74a43866c1b497c976ae9", "a master was added",
		"SENTINEL MONITOR added a master at run time (it is kept in the state file)."},
	{"-monitor", "dd954e558efa4e4a8daa8ff1075e06e6", "a master was removed",
		"SENTINEL REMOVE stopped monitoring a master."},
	{"+set", "42dcfafd9d194f92955ef8fb04851fe7", "a master's settings were changed",
		"SENTINEL SET changed a setting of the master (kept in the state file, not in the configuration file)."},
	{"+reset-master", "9eb4b2d38ebf4c06bd0ef8512b094822", "a master was reset",
		"SENTINEL RESET forgot the master's replicas, agents and failover state; they are rediscovered."},
	{"+fix-slave-config", "80c1d15d8dbc4cb5b10451a26e3794d3", "a replica was re-pointed at the master",
		"A replica replicated from the wrong master (or none) and was told to follow the current master."},
	{"+convert-to-slave", "be95075767a1487dafa2bf0ce595f2b9", "an old master was turned into a replica",
		"An instance that reports the master role but is not the current master was told to replicate from the current master."},
	{"+try-failover", "314e814b585348c6975146be802f3481", "a failover was started",
		"The master is objectively down and this agent starts an election to lead its failover. Expect +elected-leader or another agent's +switch-master; -failover-abort-* says why an attempt stopped."},
	{"+vote-for-leader", "77c4ede20f024b7cb0d78619b823d5c6", "a vote was given",
		"This agent voted for a leader (possibly itself) for the master's failover in the epoch shown."},
	{"+elected-leader", "ed4193eb5e164efe9b1809660f6b5d2d", "this agent leads a failover",
		"A majority of agents voted for this agent: it performs the failover."},
	{"-failover-abort-not-elected", "a077406b54024053bd5e05aaaab951ba", "a failover attempt was not elected",
		"This agent did not get a majority of votes before the election timed out; another agent may lead, or it retries after twice the failover timeout."},
	{"+failover-state-select-slave", "ca45b86040c2452c9460bda8785f9c27", "the failover is selecting a replica",
		"The leader is choosing the replica to promote."},
	{"-failover-abort-no-good-slave", "21c9aa3a25e14c65bc42ac7ac0776d75", "no replica can be promoted",
		"Every replica was rejected (down, disconnected from the master too long, priority 0, not synced, ...). The event's detail and vipsentinel status list each replica's reason. Nothing was changed; the agent retries later."},
	{"+selected-slave", "de400f9930754634b4ad89d4e47b8ec3", "a replica was selected for promotion",
		"The leader selected the replica it will promote."},
	{"+failover-pause-master", "c61af3fd6de943e9843a672cea5df438", "the master's writes were paused for a switchover",
		"A forced failover (SENTINEL FAILOVER) of a healthy master paused its writes (CLIENT PAUSE WRITE) so that the replica can catch up and no acknowledged write is lost."},
	{"-failover-pause-master", "30119fa9d8a345edbec2004cd7e81d1a", "the master's write pause was lifted",
		"The pause set for a forced failover was lifted."},
	{"+failover-wait-replica-offset", "7080a58c1c5e4b89a3a13db32a0e81b3", "the failover waits for the replica to catch up",
		"The master is paused; the leader waits for the selected replica's replication offset to reach the master's."},
	{"+failover-replica-caught-up", "5df8146db5c140af914953840e5b6616", "the replica caught up with the paused master",
		"The selected replica acknowledged every write of the paused master; it is promoted now."},
	{"-failover-abort-replica-lagging", "9e6301260ceb4bb7a50df26d17806697", "the replica did not catch up",
		"During a forced failover the selected replica did not reach the paused master's offset in time; the failover was aborted and the pause lifted. Nothing was lost."},
	{"-failover-abort-pause-failed", "5d1f0afdd5ea49029f4d18d25b03ebfd", "the master could not be paused",
		"The master refused CLIENT PAUSE or it was disabled during a forced failover; the failover was aborted."},
	{"+failover-no-pause", "406998a0b47b4debad5d869c1780a6ab", "failing over without pausing the master",
		"The master cannot be paused (Redis before 6.2, or CLIENT renamed away): the forced failover goes on as redis-sentinel's does, and writes the old master acknowledges meanwhile may be lost."},
	{"+replica-not-receiving", "a75c11d2c0b7489d87d16d6baa348854", "a replica stopped receiving the master's writes and was disconnected",
		"The local master's replica acknowledged no new offset for the replication bound (2 s) while Redis's min-replicas guard still counted it as good (its acknowledgements arrive: a one-way cut). The agent disconnected it on the master (CLIENT KILL ID) so that Redis refuses writes no replica receives (-NOREPLICAS); a healthy replica reconnects at once. Payload: the replica, its acknowledged offset, the master offset it did not reach, and that offset's age in ms. Check the network path from the master to the replica. Off with sentinel allow-unreplicated-writes."},
	{"+failover-state-send-slaveof-noone", "0de887b44dab4623bc1ae05a59802743", "the selected replica is being promoted",
		"The leader sent REPLICAOF NO ONE to the selected replica."},
	{"-failover-abort-slave-timeout", "c4dd72a72ec44626942dfd5f34182db2", "the promotion timed out",
		"The selected replica did not report the master role within the failover timeout; the failover was aborted."},
	{"+failover-state-wait-promotion", "3a6d7a1a53bc4eceb3ed6bbc0fac2572", "waiting for the promoted replica",
		"The leader waits for the selected replica to report the master role."},
	{"+promoted-slave", "074eda69e3dd452189b37066a5950d65", "a replica was promoted",
		"The selected replica reports the master role."},
	{"+failover-state-reconf-slaves", "4ad6ce9dd3094b75a82293f2395e2f94", "the other replicas are being re-pointed",
		"The leader tells the remaining replicas to replicate from the new master, parallel-syncs at a time."},
	{"+slave-reconf-sent", "b0a2dad2c5cb4933b1a18f730a14e726", "a replica was told to follow the new master",
		"REPLICAOF was sent to the replica."},
	{"+slave-reconf-sent-be", "0d6116004fcf4f179999bd3907c79d2e", "a replica was told to follow the new master (best effort)",
		"After the failover timeout, the leader sent REPLICAOF to a replica that was not yet reconfigured, without waiting for it."},
	{"-slave-reconf-sent-timeout", "4b05c34f84af41c1b848d73ff7177bd2", "a replica did not start following the new master",
		"The replica did not start replicating from the new master in time; it is re-sent."},
	{"+slave-reconf-inprog", "7bb02069b8a34854ba3886b2583df266", "a replica is syncing with the new master",
		"The replica follows the new master and synchronises."},
	{"+slave-reconf-done", "a12991c4965b4d1b8a74e67779b54ea4", "a replica follows the new master",
		"The replica finished synchronising with the new master."},
	{"-failover-abort-newer-config", "e67ba203aa6e497087f0756cd03bceb2", "a failover was overtaken",
		"Another agent announced a newer configuration for the master while this agent's failover ran; that configuration wins."},
	{"+failover-end-for-timeout", "8db5f3eaac0a4eb4976235ed3a5d1781", "the failover ended at its timeout",
		"The failover timeout passed before every replica was reconfigured; the remaining ones were told to follow the new master without waiting."},
	{"+failover-end", "11ffe81fd3064357bc5236cf36f73b23", "the failover ended",
		"Every replica follows the new master."},
	{"+switch-master", "43c8dbbd01be415cbbef36d64b050b08", "the master changed address",
		"The master's address changed: a failover promoted a replica (here or on another agent). Clients using the Sentinel API or the VIP follow it; the client-reconfig-script runs."},
	{"+tilt", "58f50efc70e14e59a7308d2d41e88c1f", "the agent entered TILT mode",
		"The agent's timer jumped (clock change, the process was stopped, the host overloaded): for 30 s it acts on nothing, VIPs included. Frequent TILTs mean an overloaded host or clock problems."},
	{"-tilt", "d6ab6e57b7324cc1bf8ab2647c5e8d09", "the agent left TILT mode",
		"The agent acts again after 30 s without timer anomalies."},
	{"+vip-acquired", "cd279bb6682642c794f9f6c91372a9e5", "this host took the floating IP",
		"The agent added the master's VIP to the interface and announced it (gratuitous ARP / unsolicited neighbour advertisement)."},
	{"+vip-released", "be2ccd086034420a808c4a5c02fcf034", "this host released the floating IP",
		"The agent removed the VIP: the master moved, it was fenced, or the agent stopped with vip-release-on-stop yes."},
	{"+vip-conflict", "92dd16f8ac3a4bfc8361bb0d7c53ea5c", "another host claims the floating IP",
		"While this host holds the VIP, another hardware address answered for it on the network. Two hosts may hold the VIP: check the other host (ip addr, its agent's status) at once."},
	{"+handover", "8771b17768234ccb89315f417d57ff7b", "a VIP lease was handed over to a new agent process",
		"The agent was restarted on the VIP host (systemctl restart, a package upgrade, a reload that needs a start) and the new process adopted its predecessor's VIP lease: the VIP stayed up and no client connection was cut. The payload starts with the kind: reexec (same PID) or restart (systemd started a new process)."},
	{"-handover", "6a9d698fa7cd479fae2bb8f86f7168d0", "a VIP lease could not be handed over",
		"A restart of the agent on the VIP host could not keep the VIP: the handover failed (the payload says why), the inherited lease ended before the new process adopted it, or the unit stopped before a successor took it (the VIPs were then removed by release-handover). Clients reconnect after a short outage; nothing else is affected."},
	{"+quorum-lost", "af1d465d4f3f49f4ad07840043d5f4dd", "no majority of agents is reachable",
		"This agent has not heard from a majority of agents within the lease. If it holds the master, fencing releases the VIP and pauses writes until a majority is back."},
	{"+quorum-regained", "7424c059623846e7a8520cf3b26d1342", "a majority of agents is reachable again",
		"This agent hears from a majority of agents again."},
	{"+fence", "a0f5f1d038344d419c54fb3e65747c20", "the local master was fenced",
		"The local master's writes are paused (and the VIP released) because its agent cannot reach a majority or lost the master role, so that no second writable master exists."},
	{"-fence", "90e865c6f4374e0cb03774c31c704a1e", "the local master is no longer fenced",
		"A majority of agents is reachable again and the local instance is the current master: writes resume."},
	{"+lease-pause", "17a76ef6f30044d1a1eb5a7d9f63cb34", "the local master's writes were paused early: the lease renewals stopped",
		"No majority of agents answered this holder's lease requests within two renewal rounds and a half (longer, up to a round before the lease ends, after recent stalls of a peer's link), while the lease still runs: the local master's writes are paused (the VIP stays), so that a master cut off from the other hosts acknowledges as few writes as possible before a failover drops them. Lifted as soon as answers arrive again (-lease-pause); if grants do not come back within the lease, +fence follows. Frequent pauses mean a lossy or overloaded network between the agents."},
	{"-lease-pause", "3fb84258b0274dc680589b671288dbc9", "the early pause of the local master was lifted",
		"A majority of agents answers the lease requests again: writes resume."},
	{"+lease-release", "8e3efe842f404d448f2b5e466291ece9", "this agent released the VIP lease of a master that left its host",
		"The master moved to another host (a switchover or a failover) and this host's VIP manager confirmed that the floating address is gone from its interfaces: the agent stops counting the lease grants it had for the old address and tells the other agents (the payload counts them), which free those grants at once, so the new master's host is granted the lease without waiting for them to lapse. Nothing to do."},
	{"+lease-freed", "7b42eb276c7b46efa86b466a5cb6965b", "a lease grant this agent gave was released by its holder",
		"The agent that held the VIP lease of the named address released it (its VIP is gone from its host): this agent no longer stays bound to that address and may grant the lease to the master's new host at once. Only a verified peer's release, over an authenticated path, for a grant given to that agent alone, frees a grant."},
	{"+config-unconfirmed", "3a5c05965c0a4507bce097cb989d2a23", "restarted naming this host's master: not served until confirmed",
		"The agent started from saved state that names this host's Redis as the master while other agents are known. Until a majority of agents confirms that configuration (or a newer one names another master, the previous process handed over its lease, no agent answers at all, or 10 × down-after passes), SENTINEL GET-MASTER-ADDR-BY-NAME answers null and the VIP is not taken: a host powered off during a failover must not send clients back to its old master. Logged again, naming a replica, when that replica reports role:master: the group may have failed over while this host was down, so the time limits no longer apply and the agent waits for a majority of agents or a newer configuration. If the other agents cannot come back, find which Redis holds the newest data, then SENTINEL REMOVE the master and SENTINEL MONITOR that one."},
	{"-config-unconfirmed", "88e78b3cf7564a4eb36de22a71527dd3", "the restored configuration is served again",
		"The wait that began with +config-unconfirmed ended; the payload says why (confirmed by a majority, a newer configuration, a handed-over lease, no agent answering, or the time limit)."},
	{"-script-error", "5e0d968e6f0e42989320a6346da36a0c", "a hook script failed",
		"A notification-script or client-reconfig-script could not be started, or exited non-zero or on a signal (the payload gives the path, signal and exit code). A script that exits with 1 or is killed by a signal is retried with a doubling delay, up to 10 times; other exit codes are not retried. Scripts run inside the service's sandbox: read-only file system, no new privileges (no sudo)."},
	{"-script-timeout", "482cb1d21ab54783a7ea5ce159fee40e", "a hook script was killed after 60 s",
		"A notification-script or client-reconfig-script ran for 60 s and was killed."},
	{"+maintenance", "64d430a41652400e8c45d54009eaee8c", "a master was put in maintenance",
		"An operator paused failovers of the master (vipsentinel pause, VIPSENTINEL PAUSE); the payload says until when. The agent still detects failures, keeps the VIP and fences, but starts no failover of this master and votes for none. It ends with vipsentinel resume or when its time runs out, also across restarts."},
	{"-maintenance", "58580c9a9dbe40789943c3f52b0ac032", "a master's maintenance ended",
		"The pause of failovers for the master ended: resumed by an operator, or expired (the payload says which). Failures are handled again as usual."},
	{"-failover-suppressed-maintenance", "f03c73b57f7e4ecbab6f35ed14067347", "a failover was not started because the master is in maintenance",
		"The master is objectively down but paused for maintenance, so this agent starts no failover and votes for none. Resume (vipsentinel resume) if the outage is not planned."},
	{"+tls-certificate-expiring", "fcb7da46675e450797ef750eef38c8ed", "a TLS certificate expires within 14 days",
		"A certificate the agent uses (server, client or CA) expires within 14 days; the payload names the file and its notAfter. Replace it on disk and run systemctl reload vipsentinel: certificates are re-read without dropping the VIP or links. The warning repeats daily."},
}

// Events returns every event type, in the order of a failover's life (detection,
// discovery, failover, TILT, VIP and fencing, scripts).
func Events() []EventType { return append([]EventType(nil), events...) }

// messageIDs indexes events by name; it is built once and only read.
var messageIDs = func() map[string]string {
	m := make(map[string]string, len(events))
	for _, e := range events {
		m[e.Name] = e.MessageID
	}
	return m
}()

// MESSAGE_IDs that code and tests name directly; the same values as in
// events (TestMessageIDs checks).
const (
	MessageIDFailoverStart   = "314e814b585348c6975146be802f3481"
	MessageIDFailoverEnd     = "11ffe81fd3064357bc5236cf36f73b23"
	MessageIDFailoverTimeout = "8db5f3eaac0a4eb4976235ed3a5d1781"
	MessageIDSwitchMaster    = "43c8dbbd01be415cbbef36d64b050b08"
	MessageIDTiltEnter       = "58f50efc70e14e59a7308d2d41e88c1f"
	MessageIDTiltExit        = "d6ab6e57b7324cc1bf8ab2647c5e8d09"
	MessageIDVIPAcquired     = "cd279bb6682642c794f9f6c91372a9e5"
	MessageIDVIPReleased     = "be2ccd086034420a808c4a5c02fcf034"
	MessageIDQuorumLost      = "af1d465d4f3f49f4ad07840043d5f4dd"
	MessageIDQuorumRegained  = "7424c059623846e7a8520cf3b26d1342"
	MessageIDVIPConflict     = "92dd16f8ac3a4bfc8361bb0d7c53ea5c"
	MessageIDFenceStart      = "a0f5f1d038344d419c54fb3e65747c20"
	MessageIDFenceEnd        = "90e865c6f4374e0cb03774c31c704a1e"
)

// MessageID returns the journal MESSAGE_ID of an event name, and false for
// a name that is not an event type.
func MessageID(event string) (string, bool) {
	id, ok := messageIDs[event]
	return id, ok
}
