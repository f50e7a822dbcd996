package systemd

// Event names, the values of the "event" log attribute: the pub/sub channel
// names the agent publishes, Sentinel's own (+switch-master, +tilt, ...) and
// vipsentinel's (+vip-acquired, +quorum-lost, +fence, ...; package vip and
// agent/sentinel emit them). Each has a MESSAGE_ID in the journal so that
// operators can filter and alert on it: `journalctl MESSAGE_ID=<id>`.
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

// Journal MESSAGE_IDs, one per event type. They were generated once with
// `systemd-id128 new` and must never change: operators' journal filters,
// alerts and catalog entries refer to them.
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
// events without one.
func MessageID(event string) (string, bool) {
	switch event {
	case EventFailoverStart:
		return MessageIDFailoverStart, true
	case EventFailoverEnd:
		return MessageIDFailoverEnd, true
	case EventFailoverTimeout:
		return MessageIDFailoverTimeout, true
	case EventSwitchMaster:
		return MessageIDSwitchMaster, true
	case EventTiltEnter:
		return MessageIDTiltEnter, true
	case EventTiltExit:
		return MessageIDTiltExit, true
	case EventVIPAcquired:
		return MessageIDVIPAcquired, true
	case EventVIPReleased:
		return MessageIDVIPReleased, true
	case EventQuorumLost:
		return MessageIDQuorumLost, true
	case EventQuorumRegained:
		return MessageIDQuorumRegained, true
	case EventVIPConflict:
		return MessageIDVIPConflict, true
	case EventFenceStart:
		return MessageIDFenceStart, true
	case EventFenceEnd:
		return MessageIDFenceEnd, true
	}
	return "", false
}
