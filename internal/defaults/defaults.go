// Package defaults fills in options their callers left unset, the same way
// in every package: a size, count or duration that is zero (or negative,
// which no option means) takes its default, and a nil logger discards.
package defaults

import "log/slog"

// Positive returns v when it is above zero and def otherwise.
func Positive[T ~int | ~int64 | ~float64](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Logger returns l, or a logger that discards every record when l is nil,
// so that code can log without checking.
func Logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
