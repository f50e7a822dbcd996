// Package resp reads Redis protocol requests with hard limits and writes
// RESP2 and RESP3 replies.
//
// The request reader exists because the agent's port faces the network:
// every length a client declares is checked before anything is allocated for
// it, and nothing is buffered beyond the Limits in force, which are much
// lower before a client has authenticated (Redis's fix for CVE-2021-32675
// allows 10 arguments of 16 KiB each to unauthenticated clients; so do we).
package resp

import (
	"bufio"
	"errors"
	"io"
	"slices"
	"strconv"

	"github.com/vipsentinel/vipsentinel/agent/redisrule"
)

// Limits bounds what one request may make the server buffer.
type Limits struct {
	MaxArgs    int // arguments in one multibulk request
	MaxBulk    int // bytes in one argument
	MaxInline  int // bytes in one inline (telnet-style) request line
	MaxRequest int // bytes of all arguments of one request together
	// Unauthenticated selects Redis's error wording for the pre-AUTH caps.
	Unauthenticated bool
}

// Limits in force before and after authentication.
var (
	// Unauthenticated are Redis's pre-AUTH limits.
	Unauthenticated = Limits{MaxArgs: 10, MaxBulk: 16 << 10, MaxInline: 16 << 10, MaxRequest: 160 << 10, Unauthenticated: true}
	// Authenticated are generous for a Sentinel API (no command needs
	// megabytes) yet keep a single request from exhausting memory.
	Authenticated = Limits{MaxArgs: 64 << 10, MaxBulk: 1 << 20, MaxInline: 64 << 10, MaxRequest: 8 << 20}
)

// countLineMax bounds a "*<n>" or "$<n>" header line.
const countLineMax = 1 << 10

// ProtocolError is a malformed or over-limit request. The server replies
// "-ERR Protocol error: <Msg>" and closes the connection, as Redis does.
type ProtocolError struct{ Msg string }

// Error returns the text Redis puts after "ERR ".
func (e *ProtocolError) Error() string { return "Protocol error: " + e.Msg }

func protoErr(msg string) error { return &ProtocolError{Msg: msg} }

// Reader reads requests from a client connection.
type Reader struct {
	br      *bufio.Reader
	line    []byte   // reused for header and inline lines
	args    [][]byte // reused for the arguments of a multibulk request
	data    []byte   // reused for their bytes
	maxSeen int      // largest request (bytes of arguments) read so far
}

// keepMax is the most argument storage a Reader keeps between requests;
// after a larger request it is given back, so that an idle connection does
// not hold on to it.
const keepMax = 64 << 10

// NewReader returns a Reader on r. Its read buffer is small (4 KiB) because
// every idle connection holds one; longer lines and arguments are assembled
// beyond it, within the Limits.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 4<<10)}
}

// MaxRequestSeen returns the largest request, in bytes of arguments, read so
// far. Tests use it to check that limits hold.
func (r *Reader) MaxRequestSeen() int { return r.maxSeen }

// Buffered returns the number of bytes read from the connection but not yet
// consumed.
func (r *Reader) Buffered() int { return r.br.Buffered() }

// ReadRequest reads the next request, skipping empty ones. It returns the
// arguments, a *ProtocolError for a malformed or over-limit request, or the
// connection's error. The arguments are valid until the next call: their
// storage is reused.
func (r *Reader) ReadRequest(lim Limits) ([][]byte, error) {
	if cap(r.data) > keepMax {
		r.data = nil
	}
	if cap(r.args) > keepMax/8 {
		r.args = nil
	}
	for {
		b, err := r.br.Peek(1)
		if err != nil {
			return nil, err
		}
		var args [][]byte
		if b[0] == '*' {
			args, err = r.readMultibulk(lim)
		} else {
			args, err = r.readInline(lim)
		}
		if err != nil {
			return nil, err
		}
		if len(args) > 0 {
			return args, nil
		}
	}
}

// readLine reads one line terminated by "\n" of at most max bytes, without
// the terminator (and without a preceding "\r"). tooLong is the protocol
// error message used when the line exceeds max.
func (r *Reader) readLine(max int, tooLong string) ([]byte, error) {
	r.line = r.line[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		if len(r.line)+len(chunk) > max+2 {
			return nil, protoErr(tooLong)
		}
		r.line = append(r.line, chunk...)
		if err == nil {
			break
		}
		if err != bufio.ErrBufferFull {
			return nil, err
		}
	}
	line := r.line[:len(r.line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if len(line) > max {
		return nil, protoErr(tooLong)
	}
	return line, nil
}

func (r *Reader) readMultibulk(lim Limits) ([][]byte, error) {
	line, err := r.readLine(countLineMax, "too big mbulk count string")
	if err != nil {
		return nil, err
	}
	n, err := strconv.ParseInt(string(line[1:]), 10, 64)
	if err != nil || n > 1<<20 {
		return nil, protoErr("invalid multibulk length")
	}
	if n <= 0 {
		return nil, nil // Redis ignores empty requests
	}
	if n > int64(lim.MaxArgs) {
		if lim.Unauthenticated {
			return nil, protoErr("unauthenticated multibulk length")
		}
		return nil, protoErr("invalid multibulk length")
	}
	// Arguments are appended to r.data; where it has to grow, earlier
	// arguments stay in the array they were read into, which is never
	// written again, so they remain valid.
	args := r.args[:0]
	if cap(args) < int(n) {
		args = make([][]byte, 0, n)
	}
	r.data = r.data[:0]
	total := 0
	for i := int64(0); i < n; i++ {
		line, err := r.readLine(countLineMax, "too big bulk count string")
		if err != nil {
			return nil, err
		}
		if len(line) == 0 || line[0] != '$' {
			got := "\\n"
			if len(line) > 0 {
				got = string(line[:1])
			}
			return nil, protoErr("expected '$', got '" + got + "'")
		}
		size, err := strconv.ParseInt(string(line[1:]), 10, 64)
		if err != nil || size < 0 || size > 512<<20 {
			return nil, protoErr("invalid bulk length")
		}
		if size > int64(lim.MaxBulk) {
			if lim.Unauthenticated {
				return nil, protoErr("unauthenticated bulk length")
			}
			return nil, protoErr("invalid bulk length")
		}
		total += int(size)
		if total > lim.MaxRequest {
			return nil, protoErr("request too large")
		}
		arg, err := r.readBulk(int(size))
		if err != nil {
			return nil, err
		}
		args = append(args, arg)
	}
	r.args = args
	if total > r.maxSeen {
		r.maxSeen = total
	}
	return args, nil
}

// readBulk reads size bytes plus "\r\n" into r.data and returns them.
// Memory grows with the bytes that actually arrive, not with the declared
// size.
func (r *Reader) readBulk(size int) ([]byte, error) {
	const chunk = 64 << 10
	start := len(r.data)
	if cap(r.data)-start < size {
		// Start the argument in a fresh array if the current one cannot
		// hold it, so that growing copies only this argument; make it
		// roomier than the last, so that requests soon fit in one.
		r.data = make([]byte, 0, max(min(size, chunk), min(2*cap(r.data), chunk), 256))
		start = 0
	}
	for len(r.data)-start < size {
		n := min(size-(len(r.data)-start), chunk)
		at := len(r.data)
		r.data = slices.Grow(r.data, n)[:at+n]
		if _, err := io.ReadFull(r.br, r.data[at:]); err != nil {
			return nil, unexpectedEOF(err)
		}
	}
	// Two more bytes for the terminator, checked in place.
	crlf := r.br.Buffered() >= 2
	var term []byte
	if crlf {
		term, _ = r.br.Peek(2)
	} else {
		var b [2]byte
		if _, err := io.ReadFull(r.br, b[:]); err != nil {
			return nil, unexpectedEOF(err)
		}
		term = b[:]
	}
	if term[0] != '\r' || term[1] != '\n' {
		return nil, protoErr("invalid bulk length")
	}
	if crlf {
		_, _ = r.br.Discard(2)
	}
	return r.data[start : start+size : start+size], nil
}

func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (r *Reader) readInline(lim Limits) ([][]byte, error) {
	line, err := r.readLine(lim.MaxInline, "too big inline request")
	if err != nil {
		return nil, err
	}
	args, err := redisrule.SplitArgs(line)
	if err != nil {
		return nil, protoErr("unbalanced quotes in request")
	}
	if len(args) > lim.MaxArgs {
		if lim.Unauthenticated {
			return nil, protoErr("unauthenticated multibulk length")
		}
		return nil, protoErr("invalid multibulk length")
	}
	if len(line) > r.maxSeen {
		r.maxSeen = len(line)
	}
	return args, nil
}
