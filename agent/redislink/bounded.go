package redislink

import (
	"context"
	"fmt"
	"net"
)

// Limits on what one reply from a monitored instance or a peer agent may
// declare. Every connection the Transport opens reads through a boundedConn,
// which checks the RESP framing of the byte stream against them before
// go-redis sees it.
//
// The check is hand-written because go-redis has no limits of its own: it
// allocates whatever length a reply header declares ("$9223372036854775806"
// panics in make, "*99999999" allocates gigabytes), reads lines of any
// length, and recurses once per nesting level. A hostile peer or a fake
// Redis announced in a hello must cost us one link, not the process.
const (
	// maxReplyBulk is the longest bulk string a reply may declare. The
	// largest reply the agent asks for is INFO, so this is the INFO cap:
	// sentinel.ParseInfo refuses texts longer than 4 MiB, and
	// TestReplyBulkCapIsInfoCap keeps the two the same rule. Hellos,
	// PONGs and the replies to SENTINEL commands are tiny by comparison.
	maxReplyBulk = 4 << 20
	// maxReplyLine bounds a line: a status, an error, a number, a length
	// header. Redis's longest (error messages quoting arguments) are a few
	// hundred bytes.
	maxReplyLine = 64 << 10
	// maxReplyElements bounds the elements all aggregate headers of one
	// reply declare together (a map's count is doubled). go-redis
	// allocates 16 bytes per declared element before any arrives; the
	// largest reply the agent expects is a transaction's EXEC, a handful of
	// elements.
	maxReplyElements = 1 << 16
	// maxReplyDepth bounds nesting (go-redis recurses per level). The
	// deepest real reply the agent sees is 2 (EXEC of a command returning
	// an array).
	maxReplyDepth = 16
	// maxReplySize bounds all bytes of one reply, framing included: at
	// most one INFO-sized bulk plus room for the rest.
	maxReplySize = maxReplyBulk + 1<<20
)

// ReplyError reports a reply refused by the bounds above or as malformed
// RESP. The link that received it is closed.
type ReplyError struct {
	Msg string
}

// Error says what was wrong with the reply.
func (e *ReplyError) Error() string { return "refused reply: " + e.Msg }

func replyErrorf(format string, args ...any) error {
	return &ReplyError{Msg: fmt.Sprintf(format, args...)}
}

// boundedConn is a net.Conn whose reads fail, with a *ReplyError, at the
// first byte that breaks RESP framing or the limits. The bytes of the read
// that found the problem are not returned, so go-redis never parses the
// offending header. After a failure every read fails the same way and the
// connection is closed.
type boundedConn struct {
	net.Conn
	v      replyValidator
	err    error
	onFail func(error) // called once, from the reading goroutine
}

// boundedDialer returns a dialer whose connections are dial's, wrapped so
// that what the server sends is validated; onFail (if not nil) hears about
// each connection's first violation.
func boundedDialer(dial func(ctx context.Context, network, addr string) (net.Conn, error), onFail func(error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &boundedConn{Conn: c, onFail: onFail}, nil
	}
}

// Read implements net.Conn.
func (c *boundedConn) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		if verr := c.v.feed(p[:n]); verr != nil {
			c.err = verr
			_ = c.Conn.Close()
			if c.onFail != nil {
				c.onFail(verr)
			}
			return 0, verr
		}
	}
	return n, err
}

// replyValidator follows the RESP2/RESP3 framing of a stream of replies
// byte by byte, keeping only counters, so it costs no allocation whatever
// the stream declares.
type replyValidator struct {
	state   vstate
	typ     byte  // type byte of the current line
	lineLen int   // bytes of the current line after the type byte
	num     int64 // value of a length header so far
	neg     bool  // the length header started with '-'
	cr      bool  // the previous byte of the line was '\r'
	bulk    int64 // bulk body bytes still to come (CRLF excluded)

	stack [maxReplyDepth]int64 // elements still to come per open aggregate
	depth int
	size  int64 // bytes of the current reply so far
	elems int64 // elements declared by the current reply so far
}

type vstate uint8

const (
	stType   vstate = iota // expecting a type byte
	stLine                 // inside a line
	stBody                 // inside a bulk body
	stBodyCR               // expecting the '\r' after a bulk body
	stBodyLF               // expecting the '\n' after a bulk body
)

// feed checks the next bytes of the stream.
func (v *replyValidator) feed(p []byte) error {
	for i := 0; i < len(p); {
		if v.state == stBody {
			n := min(int64(len(p)-i), v.bulk)
			i += int(n)
			v.bulk -= n
			v.size += n
			if v.size > maxReplySize {
				return replyErrorf("reply longer than %d bytes", maxReplySize)
			}
			if v.bulk == 0 {
				v.state = stBodyCR
			}
			continue
		}
		b := p[i]
		i++
		v.size++
		if v.size > maxReplySize {
			return replyErrorf("reply longer than %d bytes", maxReplySize)
		}
		var err error
		switch v.state {
		case stType:
			err = v.startLine(b)
		case stLine:
			err = v.lineByte(b)
		case stBodyCR:
			if b != '\r' {
				return replyErrorf("bulk string not followed by CRLF (got %q)", b)
			}
			v.state = stBodyLF
		case stBodyLF:
			if b != '\n' {
				return replyErrorf("bulk string not followed by CRLF (got %q)", b)
			}
			v.elementDone()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (v *replyValidator) startLine(b byte) error {
	switch b {
	case '+', '-', ':', '$', '*', // RESP2
		'_', ',', '#', '(', '!', '=', '%', '~', '>': // RESP3
	case '|':
		// go-redis discards attributes recursively, one stack frame per
		// attribute; no server sends them unless asked (we never ask).
		return replyErrorf("RESP3 attribute replies are not accepted")
	default:
		return replyErrorf("invalid reply type byte %q", b)
	}
	v.typ, v.lineLen, v.num, v.neg, v.cr = b, 0, 0, false, false
	v.state = stLine
	return nil
}

// isLength reports whether a type's line is a length.
func isLength(typ byte) bool {
	switch typ {
	case '$', '!', '=', '*', '%', '~', '>':
		return true
	}
	return false
}

func isBulk(typ byte) bool { return typ == '$' || typ == '!' || typ == '=' }

// lengthCap is the largest value a length header of typ may hold.
func (v *replyValidator) lengthCap() int64 {
	if isBulk(v.typ) {
		return maxReplyBulk
	}
	left := maxReplyElements - v.elems
	if v.typ == '%' {
		left /= 2
	}
	return left
}

func (v *replyValidator) lineByte(b byte) error {
	if v.cr {
		if b != '\n' {
			return replyErrorf("CR without LF in a %q line", v.typ)
		}
		return v.endLine()
	}
	switch b {
	case '\r':
		v.cr = true
		return nil
	case '\n':
		return replyErrorf("line of a %q reply ends in LF without CR", v.typ)
	}
	v.lineLen++
	if v.lineLen > maxReplyLine {
		return replyErrorf("%q line longer than %d bytes", v.typ, maxReplyLine)
	}
	switch {
	case isLength(v.typ), v.typ == ':':
		if b == '-' && v.lineLen == 1 {
			v.neg = true
			return nil
		}
		if b < '0' || b > '9' {
			return replyErrorf("invalid character %q in a %q length or number", b, v.typ)
		}
		if v.typ == ':' {
			if v.lineLen > 20 {
				return replyErrorf("integer reply longer than 20 digits")
			}
			return nil
		}
		v.num = v.num*10 + int64(b-'0')
		if !v.neg {
			if c := v.lengthCap(); v.num > c {
				// Refused as soon as the digits exceed the cap, before the
				// line (and go-redis's allocation) completes.
				if isBulk(v.typ) {
					return replyErrorf("bulk length over %d bytes declared", c)
				}
				return replyErrorf("%q aggregate over the %d elements a reply may declare", v.typ, maxReplyElements)
			}
		} else if v.num > 1 {
			return replyErrorf("negative %q length", v.typ)
		}
	case v.typ == '_':
		return replyErrorf("null reply with content")
	case v.typ == '#':
		if v.lineLen > 1 || (b != 't' && b != 'f') {
			return replyErrorf("boolean reply is not t or f")
		}
	}
	return nil
}

// endLine handles a complete line (its CRLF just read).
func (v *replyValidator) endLine() error {
	switch {
	case v.typ == ':' && (v.lineLen == 0 || v.neg && v.lineLen == 1):
		return replyErrorf("integer reply without digits")
	case v.typ == '#' && v.lineLen == 0:
		return replyErrorf("boolean reply is not t or f")
	case !isLength(v.typ):
		v.elementDone()
		return nil
	case v.lineLen == 0 || v.neg && v.lineLen == 1:
		return replyErrorf("%q header without a length", v.typ)
	case v.neg:
		// "-1" is RESP2's null bulk string and null array.
		if v.typ != '$' && v.typ != '*' || v.num != 1 {
			return replyErrorf("negative %q length", v.typ)
		}
		v.elementDone()
		return nil
	case isBulk(v.typ):
		v.bulk = v.num
		v.state = stBody
		if v.bulk == 0 {
			v.state = stBodyCR
		}
		return nil
	}
	n := v.num
	if v.typ == '%' {
		n *= 2
	}
	v.elems += n
	if n == 0 {
		v.elementDone()
		return nil
	}
	if v.depth == maxReplyDepth {
		return replyErrorf("reply nested deeper than %d levels", maxReplyDepth)
	}
	v.stack[v.depth] = n
	v.depth++
	v.state = stType
	return nil
}

// elementDone accounts for one complete value: it fills a slot of the
// innermost open aggregate (closing those it completes), or ends the reply.
func (v *replyValidator) elementDone() {
	v.state = stType
	for v.depth > 0 {
		v.stack[v.depth-1]--
		if v.stack[v.depth-1] > 0 {
			return
		}
		v.depth-- // the aggregate is complete: one value of its parent
	}
	v.size, v.elems = 0, 0
}
