package metrics

// FaultSource counts what the agent's network code refused or recovered
// from. *runtime.Runtime implements it.
type FaultSource interface {
	Faults() Faults
}

// FaultFunc adapts a function to FaultSource.
type FaultFunc func() Faults

// Faults calls f.
func (f FaultFunc) Faults() Faults { return f() }

// Faults are counters since the agent started.
type Faults struct {
	// BadReplies counts replies from Redis instances and peer agents
	// refused as malformed or over a limit; each closed its link.
	BadReplies uint64
	// Panics counts panics recovered in goroutines that serve one
	// connection, by component ("redislink", "api"; "vip" counts received
	// frames dropped); each closed its connection.
	Panics map[string]uint64
	// StateSaveFailures counts failed writes of the state file; while
	// they fail the agent holds its commands, replies and VIP changes.
	StateSaveFailures uint64
}
