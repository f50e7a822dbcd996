package redisrule

import "errors"

// Errors of SplitArgs. Redis reports both as "unbalanced quotes"; callers
// that can say more (the configuration parser) tell them apart.
var (
	ErrUnbalanced = errors.New("unbalanced quotes")
	ErrAfterQuote = errors.New("closing quote must be followed by a space or the end of the line")
)

// SplitArgs splits one line into arguments as Redis does for inline requests
// and configuration lines:
//
//   - arguments are separated by runs of white space (C's isspace);
//   - "..." understands \n \r \t \b \a, \xHH (two hex digits) and \<c> for any
//     other c (so \\ and \" are a backslash and a quote);
//   - '...' is literal except for \', which is a single quote;
//   - a quote may open in the middle of an argument (a"b c" is the one
//     argument "ab c"), but a closing quote must be followed by white space or
//     the end of the line (ErrAfterQuote), and every quote must close
//     (ErrUnbalanced);
//   - outside quotes only space, \t, \r and \n end an argument: \v and \f
//     separate arguments where white space is skipped but are kept inside one;
//   - a NUL byte outside quotes ends the line (Redis works on C strings), and
//     inside quotes it is an unbalanced quote.
//
// An empty or blank line has no arguments and no error.
func SplitArgs[S ~string | ~[]byte](line S) ([]S, error) {
	var args []S
	at := func(i int) byte { // the byte at i, or NUL past the end
		if i < len(line) {
			return line[i]
		}
		return 0
	}
	i := 0
	for {
		for at(i) != 0 && isSpace(at(i)) {
			i++
		}
		if at(i) == 0 {
			return args, nil
		}
		cur := []byte{}
		var quote byte // the open quote, or 0
		for done := false; !done; {
			c := at(i)
			switch {
			case quote == 0:
				switch c {
				case ' ', '\n', '\r', '\t', 0:
					done = true
				case '"', '\'':
					quote = c
				default:
					cur = append(cur, c)
				}
			case c == 0:
				return nil, ErrUnbalanced
			case c == quote:
				if at(i+1) != 0 && !isSpace(at(i+1)) {
					return nil, ErrAfterQuote
				}
				done = true
			case quote == '\'' && c == '\\' && at(i+1) == '\'':
				i++
				cur = append(cur, '\'')
			case quote == '"' && c == '\\' && at(i+1) == 'x' && isHex(at(i+2)) && isHex(at(i+3)):
				cur = append(cur, unhex(at(i+2))<<4|unhex(at(i+3)))
				i += 3
			case quote == '"' && c == '\\' && at(i+1) != 0:
				i++
				cur = append(cur, unescape(at(i)))
			default:
				cur = append(cur, c)
			}
			if c != 0 {
				i++
			}
		}
		args = append(args, S(cur))
	}
}

// isSpace is C's isspace in the "C" locale.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func isHex(c byte) bool {
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

// unescape is the byte that \c stands for inside double quotes.
func unescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'b':
		return '\b'
	case 'a':
		return '\a'
	}
	return c
}
