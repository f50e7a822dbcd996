package resp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
)

func TestReadRequest(t *testing.T) {
	cases := []struct {
		name string
		in   string
		lim  Limits
		want []string
		err  string // protocol error message, "" for none
	}{
		{"multibulk", "*2\r\n$4\r\nPING\r\n$2\r\nhi\r\n", Authenticated, []string{"PING", "hi"}, ""},
		{"inline", "PING hello\r\n", Authenticated, []string{"PING", "hello"}, ""},
		{"inline lf", "ping\n", Authenticated, []string{"ping"}, ""},
		{"inline quotes", `set "a b" 'c\'d' "\x41\n"` + "\r\n", Authenticated, []string{"set", "a b", "c'd", "A\n"}, ""},
		{"empty lines skipped", "\r\n\r\n*0\r\nPING\r\n", Authenticated, []string{"PING"}, ""},
		{"empty bulk", "*1\r\n$0\r\n\r\n", Authenticated, []string{""}, ""},
		{"unbalanced", "set \"a\r\n", Authenticated, nil, "unbalanced quotes in request"},
		{"quote then char", "set \"a\"b\r\n", Authenticated, nil, "unbalanced quotes in request"},
		{"bad count", "*x\r\n", Authenticated, nil, "invalid multibulk length"},
		{"huge count", "*99999999\r\n", Authenticated, nil, "invalid multibulk length"},
		{"expected dollar", "*1\r\n:1\r\n", Authenticated, nil, "expected '$', got ':'"},
		{"bad bulk", "*1\r\n$-3\r\n", Authenticated, nil, "invalid bulk length"},
		{"bulk without crlf", "*1\r\n$1\r\nabc\r\n", Authenticated, nil, "invalid bulk length"},
		{"unauth args", "*11\r\n", Unauthenticated, nil, "unauthenticated multibulk length"},
		{"unauth bulk", "*1\r\n$16385\r\n", Unauthenticated, nil, "unauthenticated bulk length"},
		{"unauth bulk ok", "*1\r\n$16384\r\n" + strings.Repeat("a", 16384) + "\r\n", Unauthenticated, []string{strings.Repeat("a", 16384)}, ""},
		{"unauth inline args", strings.Repeat("a ", 11) + "\r\n", Unauthenticated, nil, "unauthenticated multibulk length"},
		{"inline too big", strings.Repeat("a", 70<<10) + "\r\n", Authenticated, nil, "too big inline request"},
		{"count line too big", "*" + strings.Repeat("1", 2000) + "\r\n", Authenticated, nil, "too big mbulk count string"},
		{"request too big", "*9\r\n" + strings.Repeat("$1048576\r\n"+strings.Repeat("x", 1<<20)+"\r\n", 9), Authenticated, nil, "request too large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(tc.in))
			args, err := r.ReadRequest(tc.lim)
			var pe *ProtocolError
			if tc.err != "" {
				if !errors.As(err, &pe) || pe.Msg != tc.err {
					t.Fatalf("err = %v, want protocol error %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			var got []string
			for _, a := range args {
				got = append(got, string(a))
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
				t.Fatalf("args = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestReadTruncated(t *testing.T) {
	r := NewReader(strings.NewReader("*2\r\n$4\r\nPING\r\n$5\r\nab"))
	if _, err := r.ReadRequest(Authenticated); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want unexpected EOF", err)
	}
}

// TestReadRequestReuse reads requests of growing and shrinking sizes from
// one Reader: arguments share reused storage, and none may be overwritten
// by a later argument of the same request.
func TestReadRequestReuse(t *testing.T) {
	var in strings.Builder
	var want [][]string
	for i, sizes := range [][]int{{3, 8, 23}, {1}, {300, 5, 70 << 10, 2}, {8, 23, 8}, {0, 0}, {200 << 10}, {4, 4}} {
		var req []string
		fmt.Fprintf(&in, "*%d\r\n", len(sizes))
		for j, n := range sizes {
			a := strings.Repeat(string(rune('a'+(i+j)%26)), n)
			fmt.Fprintf(&in, "$%d\r\n%s\r\n", n, a)
			req = append(req, a)
		}
		want = append(want, req)
	}
	r := NewReader(strings.NewReader(in.String()))
	for i, w := range want {
		args, err := r.ReadRequest(Authenticated)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if len(args) != len(w) {
			t.Fatalf("request %d: %d args, want %d", i, len(args), len(w))
		}
		for j := range w {
			if string(args[j]) != w[j] {
				t.Fatalf("request %d arg %d: %.20q (len %d), want %.20q (len %d)", i, j, args[j], len(args[j]), w[j], len(w[j]))
			}
		}
	}
}

func TestWriter(t *testing.T) {
	cases := []struct {
		name  string
		write func(w *Writer)
		v2    string
		v3    string
	}{
		{"status", func(w *Writer) { w.Status("OK") }, "+OK\r\n", "+OK\r\n"},
		{"error newline", func(w *Writer) { w.Error("ERR a\r\nb") }, "-ERR a  b\r\n", "-ERR a  b\r\n"},
		{"int", func(w *Writer) { w.Int(-3) }, ":-3\r\n", ":-3\r\n"},
		{"bulk", func(w *Writer) { w.Bulk("hey") }, "$3\r\nhey\r\n", "$3\r\nhey\r\n"},
		{"bulkint", func(w *Writer) { w.BulkInt(26379) }, "$5\r\n26379\r\n", "$5\r\n26379\r\n"},
		{"bulkint min", func(w *Writer) { w.BulkInt(math.MinInt64) }, "$20\r\n-9223372036854775808\r\n", "$20\r\n-9223372036854775808\r\n"},
		{"bulkint zero", func(w *Writer) { w.BulkInt(0) }, "$1\r\n0\r\n", "$1\r\n0\r\n"},
		{"null bulk", func(w *Writer) { w.NullBulk() }, "$-1\r\n", "_\r\n"},
		{"null array", func(w *Writer) { w.NullArray() }, "*-1\r\n", "_\r\n"},
		{"map", func(w *Writer) { w.Map(1); w.Bulk("a"); w.Bulk("b") }, "*2\r\n$1\r\na\r\n$1\r\nb\r\n", "%1\r\n$1\r\na\r\n$1\r\nb\r\n"},
		{"push", func(w *Writer) { w.Push(1); w.Bulk("m") }, "*1\r\n$1\r\nm\r\n", ">1\r\n$1\r\nm\r\n"},
		{"set", func(w *Writer) { w.Set(0) }, "*0\r\n", "~0\r\n"},
		{"verbatim", func(w *Writer) { w.Verbatim("txt", "x:1") }, "$3\r\nx:1\r\n", "=7\r\ntxt:x:1\r\n"},
		// Doubles as redis-sentinel 7.0 writes ACL LOG's age-seconds.
		{"double", func(w *Writer) { w.Double(2.563) }, "$18\r\n2.5630000000000002\r\n", ",2.5630000000000002\r\n"},
		{"double short", func(w *Writer) { w.Double(0.5) }, "$3\r\n0.5\r\n", ",0.5\r\n"},
		{"double exponent", func(w *Writer) { w.Double(1e-5) }, "$22\r\n1.0000000000000001e-05\r\n", ",1.0000000000000001e-05\r\n"},
		{"double inf", func(w *Writer) { w.Double(math.Inf(1)) }, "$3\r\ninf\r\n", ",inf\r\n"},
	}
	for _, tc := range cases {
		for _, proto := range []int{2, 3} {
			w := NewWriter(proto)
			tc.write(w)
			want := tc.v2
			if proto == 3 {
				want = tc.v3
			}
			if !bytes.Equal(w.Bytes(), []byte(want)) {
				t.Errorf("%s proto %d: %q, want %q", tc.name, proto, w.Bytes(), want)
			}
		}
	}
}

func FuzzReadRequest(f *testing.F) {
	f.Add([]byte("*2\r\n$4\r\nPING\r\n$2\r\nhi\r\n"))
	f.Add([]byte("PING \"a\\x41\" 'b'\r\n"))
	f.Add([]byte("*1\r\n$99999999\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, lim := range []Limits{Unauthenticated, Authenticated} {
			r := NewReader(bytes.NewReader(data))
			for {
				args, err := r.ReadRequest(lim)
				if err != nil {
					break
				}
				if len(args) > lim.MaxArgs {
					t.Fatalf("%d args over limit %d", len(args), lim.MaxArgs)
				}
			}
			if r.MaxRequestSeen() > lim.MaxRequest || r.MaxRequestSeen() > len(data) {
				t.Fatalf("buffered %d bytes, limit %d, input %d", r.MaxRequestSeen(), lim.MaxRequest, len(data))
			}
		}
	})
}
