package config

import (
	"fmt"
	"strconv"
)

// Error is a configuration error tied to one line of one file. Every error
// returned by Load and Parse is, or wraps (through errors.Join), one or more
// *Error values, so a caller can tell a bad configuration (exit status 78,
// EX_CONFIG) from other failures with errors.As.
type Error struct {
	File      string // the file the directive is in
	Line      int    // 1-based line number; 0 when the problem is not on one line
	Directive string // "port", "sentinel monitor", ...; empty for syntax errors before the directive is known
	Err       error
}

// Error renders e as file:line: directive: problem.
func (e *Error) Error() string {
	s := e.File
	if e.Line > 0 {
		s += ":" + strconv.Itoa(e.Line)
	}
	if e.Directive != "" {
		s += ": " + e.Directive
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the underlying problem.
func (e *Error) Unwrap() error { return e.Err }

// Warning is a directive that was accepted but has no effect, or an effect the
// operator may not expect. Load and Parse return warnings for the caller to
// log; they never stop the agent from starting.
type Warning struct {
	File      string
	Line      int
	Directive string
	Msg       string
}

// String renders w as file:line: directive: message.
func (w Warning) String() string {
	return (&Error{File: w.File, Line: w.Line, Directive: w.Directive, Err: fmt.Errorf("%s", w.Msg)}).Error()
}
