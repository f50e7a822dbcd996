// Package panics turns a panic in a goroutine that serves one connection
// into the end of that connection.
//
// Such goroutines (a link to a Redis instance or a peer, an API client)
// process input from the network. A bug that input triggers must cost the
// connection, not the process: an agent that dies takes the floating IP and
// the failover vote of its host with it, and an input that kills one agent
// usually kills them all.
package panics

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
)

// Counter counts recovered panics. The zero value is ready to use.
type Counter struct{ n atomic.Uint64 }

// Load returns how many panics were recovered.
func (c *Counter) Load() uint64 {
	if c == nil {
		return 0
	}
	return c.n.Load()
}

// Error is a recovered panic.
type Error struct {
	Value any    // what was passed to panic
	Stack string // the panicking goroutine's stack
}

// Error returns "panic: " and the value; the stack is logged, not repeated.
func (e *Error) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Recover must be deferred directly by the goroutine's function (recover
// works only there). When the goroutine panics, Recover logs the panic with
// its stack at error level under msg and attrs, counts it in c (if not
// nil), and calls then (if not nil) with the *Error, which closes the
// connection. Otherwise it does nothing.
func Recover(log *slog.Logger, c *Counter, msg string, then func(*Error), attrs ...any) {
	v := recover()
	if v == nil {
		return
	}
	e := &Error{Value: v, Stack: string(debug.Stack())}
	if c != nil {
		c.n.Add(1)
	}
	if log != nil {
		log.Error(msg, append(attrs, "panic", fmt.Sprint(v), "stack", e.Stack)...)
	}
	if then != nil {
		then(e)
	}
}
