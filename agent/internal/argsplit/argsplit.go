// Package argsplit splits a line into arguments as Redis does for its
// configuration and ACL files, and quotes an argument so that it reads
// back the same: the configuration file and the aclfile share these rules.
package argsplit

import (
	"errors"
	"strings"
)

// Split's errors.
var (
	ErrUnbalanced = errors.New("unbalanced quotes")
	ErrAfterQuote = errors.New("closing quote must be followed by a space or the end of the line")
	ErrNUL        = errors.New("NUL byte in line")
)

// IsSpace reports whether c separates arguments. It is C's isspace, as used by
// Redis's argument splitter.
func IsSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func IsHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}

// Split splits one line into arguments with the quoting rules of Redis
// configuration files, so that a sentinel.conf means the same thing to both:
//
//   - arguments are separated by white space;
//   - "..." understands \n \r \t \b \a, \xHH (two hex digits) and \<c> for any
//     other c (so \\ and \" are a backslash and a quote);
//   - '...' is literal except for \', which is a single quote;
//   - a quote may start in the middle of an unquoted argument (a"b c" is the
//     one argument "ab c"), but a closing quote must be followed by white space
//     or the end of the line.
func Split(s string) ([]string, error) {
	var args []string
	i := 0
	for {
		for i < len(s) && IsSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			return args, nil
		}
		var cur strings.Builder
		inDouble, inSingle := false, false
	token:
		for {
			if i >= len(s) {
				if inDouble || inSingle {
					return nil, ErrUnbalanced
				}
				break
			}
			c := s[i]
			switch {
			case inDouble:
				switch {
				case c == '\\' && i+3 < len(s) && s[i+1] == 'x' && IsHex(s[i+2]) && IsHex(s[i+3]):
					cur.WriteByte(unhex(s[i+2])<<4 | unhex(s[i+3]))
					i += 3
				case c == '\\' && i+1 < len(s):
					i++
					switch s[i] {
					case 'n':
						cur.WriteByte('\n')
					case 'r':
						cur.WriteByte('\r')
					case 't':
						cur.WriteByte('\t')
					case 'b':
						cur.WriteByte('\b')
					case 'a':
						cur.WriteByte('\a')
					default:
						cur.WriteByte(s[i])
					}
				case c == '"':
					if i+1 < len(s) && !IsSpace(s[i+1]) {
						return nil, ErrAfterQuote
					}
					i++
					break token
				default:
					cur.WriteByte(c)
				}
			case inSingle:
				switch {
				case c == '\\' && i+1 < len(s) && s[i+1] == '\'':
					i++
					cur.WriteByte('\'')
				case c == '\'':
					if i+1 < len(s) && !IsSpace(s[i+1]) {
						return nil, ErrAfterQuote
					}
					i++
					break token
				default:
					cur.WriteByte(c)
				}
			default:
				switch {
				case IsSpace(c):
					break token
				case c == '"':
					inDouble = true
				case c == '\'':
					inSingle = true
				default:
					cur.WriteByte(c)
				}
			}
			i++
		}
		args = append(args, cur.String())
	}
}

// Quote renders s as one argument that Split reads back as s: bare when
// that is unambiguous, otherwise double-quoted with escapes.
func Quote(s string) string {
	bare := s != ""
	for i := 0; i < len(s) && bare; i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == '\'' || c == '\\' || (i == 0 && c == '#') {
			bare = false
		}
	}
	if bare {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\a':
			b.WriteString(`\a`)
		case '\b':
			b.WriteString(`\b`)
		default:
			if c < ' ' || c >= 0x7f {
				const hex = "0123456789abcdef"
				b.WriteString(`\x`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&15])
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
