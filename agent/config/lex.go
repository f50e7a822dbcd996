package config

import "github.com/vipsentinel/vipsentinel/agent/internal/argsplit"

// The configuration file's quoting rules are Redis's, shared with the
// aclfile (agent/internal/argsplit).
var (
	errUnbalanced = argsplit.ErrUnbalanced
	errAfterQuote = argsplit.ErrAfterQuote
	errNUL        = argsplit.ErrNUL
)

func splitArgs(s string) ([]string, error) { return argsplit.Split(s) }
func quote(s string) string                { return argsplit.Quote(s) }
func isHex(c byte) bool                    { return argsplit.IsHex(c) }
func isSpace(c byte) bool                  { return argsplit.IsSpace(c) }
