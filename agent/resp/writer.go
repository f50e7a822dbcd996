package resp

import (
	"math"
	"strconv"
	"strings"
)

// Writer encodes replies into a byte buffer in the protocol version the
// client chose with HELLO (2 or 3). Where RESP3 has a richer type than RESP2
// (maps, sets, push, null, verbatim strings), the RESP2 form is the one
// Redis uses: flat arrays, "$-1" or "*-1" for null, a bulk string.
type Writer struct {
	buf   []byte
	Proto int // 2 or 3
}

// NewWriter returns a Writer for protocol version proto.
func NewWriter(proto int) *Writer { return &Writer{Proto: proto} }

// Bytes returns the encoded replies. The slice is valid until the next write
// or Reset.
func (w *Writer) Bytes() []byte { return w.buf }

// Len returns the number of encoded bytes.
func (w *Writer) Len() int { return len(w.buf) }

// Reset discards the encoded replies, keeping the buffer.
func (w *Writer) Reset() { w.buf = w.buf[:0] }

// oneLine keeps a simple string or error on one line: a CR or LF inside it
// would end the reply early and desynchronise the client.
func oneLine(s string) string {
	if strings.ContainsAny(s, "\r\n") {
		return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
	}
	return s
}

// Status writes a simple string ("+OK").
func (w *Writer) Status(s string) {
	w.buf = append(w.buf, '+')
	w.buf = append(w.buf, oneLine(s)...)
	w.buf = append(w.buf, '\r', '\n')
}

// Error writes an error reply; s starts with the error code ("ERR ...").
func (w *Writer) Error(s string) {
	w.buf = append(w.buf, '-')
	w.buf = append(w.buf, oneLine(s)...)
	w.buf = append(w.buf, '\r', '\n')
}

// Int writes an integer reply.
func (w *Writer) Int(n int64) {
	w.buf = append(w.buf, ':')
	w.buf = strconv.AppendInt(w.buf, n, 10)
	w.buf = append(w.buf, '\r', '\n')
}

// Bulk writes a bulk string.
func (w *Writer) Bulk(s string) {
	w.buf = append(w.buf, '$')
	w.buf = strconv.AppendInt(w.buf, int64(len(s)), 10)
	w.buf = append(w.buf, '\r', '\n')
	w.buf = append(w.buf, s...)
	w.buf = append(w.buf, '\r', '\n')
}

// Double writes a floating-point reply: a RESP3 double, or in RESP2 a bulk
// string, both with 17 significant digits as Redis writes them.
func (w *Writer) Double(f float64) {
	var s string
	switch {
	case math.IsInf(f, 1):
		s = "inf"
	case math.IsInf(f, -1):
		s = "-inf"
	case math.IsNaN(f):
		s = "nan"
	default:
		s = strconv.FormatFloat(f, 'g', 17, 64)
	}
	if w.Proto != 3 {
		w.Bulk(s)
		return
	}
	w.buf = append(w.buf, ',')
	w.buf = append(w.buf, s...)
	w.buf = append(w.buf, '\r', '\n')
}

// BulkInt writes n as a bulk string, as Sentinel does for numeric fields.
func (w *Writer) BulkInt(n int64) {
	var digits [20]byte
	d := strconv.AppendInt(digits[:0], n, 10)
	w.buf = append(w.buf, '$')
	w.buf = strconv.AppendInt(w.buf, int64(len(d)), 10)
	w.buf = append(w.buf, '\r', '\n')
	w.buf = append(w.buf, d...)
	w.buf = append(w.buf, '\r', '\n')
}

// NullBulk writes a null string ("$-1" in RESP2).
func (w *Writer) NullBulk() {
	if w.Proto == 3 {
		w.buf = append(w.buf, "_\r\n"...)
		return
	}
	w.buf = append(w.buf, "$-1\r\n"...)
}

// NullArray writes a null array ("*-1" in RESP2).
func (w *Writer) NullArray() {
	if w.Proto == 3 {
		w.buf = append(w.buf, "_\r\n"...)
		return
	}
	w.buf = append(w.buf, "*-1\r\n"...)
}

func (w *Writer) header(c byte, n int) {
	w.buf = append(w.buf, c)
	w.buf = strconv.AppendInt(w.buf, int64(n), 10)
	w.buf = append(w.buf, '\r', '\n')
}

// Array starts an array of n elements.
func (w *Writer) Array(n int) { w.header('*', n) }

// Map starts a map of n key/value pairs (a flat array of 2n in RESP2).
func (w *Writer) Map(n int) {
	if w.Proto == 3 {
		w.header('%', n)
		return
	}
	w.header('*', 2*n)
}

// Set starts a set of n elements (an array in RESP2).
func (w *Writer) Set(n int) {
	if w.Proto == 3 {
		w.header('~', n)
		return
	}
	w.header('*', n)
}

// Push starts an out-of-band push message of n elements (an array in RESP2,
// which is how pub/sub messages look there).
func (w *Writer) Push(n int) {
	if w.Proto == 3 {
		w.header('>', n)
		return
	}
	w.header('*', n)
}

// Verbatim writes a verbatim string of format "txt" or "mkd" (a bulk string
// in RESP2). INFO replies use it.
func (w *Writer) Verbatim(format, s string) {
	if w.Proto != 3 {
		w.Bulk(s)
		return
	}
	w.header('=', len(format)+1+len(s))
	w.buf = append(w.buf, format...)
	w.buf = append(w.buf, ':')
	w.buf = append(w.buf, s...)
	w.buf = append(w.buf, '\r', '\n')
}

// Bulks writes an array of bulk strings.
func (w *Writer) Bulks(ss ...string) {
	w.Array(len(ss))
	for _, s := range ss {
		w.Bulk(s)
	}
}
