package compat

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// This file is a small, independent RESP2/RESP3 client: the differential
// test must not trust agent/resp, the code under test.

// kind is a RESP type, named by its prefix byte.
type kind byte

const (
	kSimple   kind = '+'
	kError    kind = '-'
	kInt      kind = ':'
	kBulk     kind = '$'
	kArray    kind = '*'
	kMap      kind = '%'
	kSet      kind = '~'
	kNull     kind = '_'
	kBool     kind = '#'
	kDouble   kind = ','
	kBigNum   kind = '('
	kVerbatim kind = '='
	kPush     kind = '>'
	kBlobErr  kind = '!'
	kAttr     kind = '|'
)

func (k kind) String() string {
	switch k {
	case kSimple:
		return "simple"
	case kError:
		return "error"
	case kInt:
		return "int"
	case kBulk:
		return "bulk"
	case kArray:
		return "array"
	case kMap:
		return "map"
	case kSet:
		return "set"
	case kNull:
		return "null"
	case kBool:
		return "bool"
	case kDouble:
		return "double"
	case kBigNum:
		return "bignum"
	case kVerbatim:
		return "verbatim"
	case kPush:
		return "push"
	case kBlobErr:
		return "bloberror"
	case kAttr:
		return "attribute"
	}
	return fmt.Sprintf("kind(%q)", byte(k))
}

// value is one parsed reply. A RESP2 null bulk or null array is kind bulk or
// array with null set, so that "$-1" and "*-1" stay distinguishable from
// RESP3's "_".
type value struct {
	kind  kind
	str   string  // simple, error, bulk, double, bignum, verbatim, bool ("t"/"f"), int (decimal)
	null  bool    // $-1 or *-1
	elems []value // array, set, push; map: key, value, key, value, ...
}

// pairs returns a map's (or a RESP2 flat key/value array's) entries.
func (v value) pairs() (keys []string, vals []*value, ok bool) {
	if (v.kind != kMap && v.kind != kArray) || len(v.elems)%2 != 0 {
		return nil, nil, false
	}
	for i := 0; i < len(v.elems); i += 2 {
		k := v.elems[i]
		if k.kind != kBulk && k.kind != kSimple {
			return nil, nil, false
		}
		keys = append(keys, k.str)
		vals = append(vals, &v.elems[i+1])
	}
	return keys, vals, true
}

// render prints v indented, one scalar per line, in the spirit of redis-cli.
func (v value) render() string {
	var b strings.Builder
	v.renderTo(&b, 0)
	return b.String()
}

func (v value) renderTo(b *strings.Builder, depth int) {
	ind := strings.Repeat("  ", depth)
	switch v.kind {
	case kArray, kSet, kPush:
		if v.null {
			fmt.Fprintf(b, "%s%s(nil)\n", ind, v.kind)
			return
		}
		fmt.Fprintf(b, "%s%s[%d]\n", ind, v.kind, len(v.elems))
		for _, e := range v.elems {
			e.renderTo(b, depth+1)
		}
	case kMap, kAttr:
		fmt.Fprintf(b, "%s%s{%d}\n", ind, v.kind, len(v.elems)/2)
		for i := 0; i+1 < len(v.elems); i += 2 {
			v.elems[i].renderTo(b, depth+1)
			v.elems[i+1].renderTo(b, depth+2)
		}
	case kNull:
		fmt.Fprintf(b, "%snull\n", ind)
	default:
		if v.null {
			fmt.Fprintf(b, "%s%s(nil)\n", ind, v.kind)
			return
		}
		fmt.Fprintf(b, "%s%s %q\n", ind, v.kind, v.str)
	}
}

// conn is one raw TCP connection to a server. It keeps the bytes it
// received since the last takeRaw, for mismatch reports.
type conn struct {
	c   net.Conn
	r   *bufio.Reader
	raw *bytes.Buffer
}

func dial(addr string) (*conn, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	if c, err = secure(c, addr); err != nil {
		return nil, err
	}
	raw := new(bytes.Buffer)
	return &conn{c: c, r: bufio.NewReader(io.TeeReader(c, raw)), raw: raw}, nil
}

// takeRaw returns the bytes received since the last call.
func (c *conn) takeRaw() string {
	s := c.raw.String()
	c.raw.Reset()
	return s
}

func (c *conn) Close() error { return c.c.Close() }

// encode builds a RESP multi-bulk request.
func encode(args ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return []byte(b.String())
}

// send writes raw bytes.
func (c *conn) send(raw []byte) error {
	_ = c.c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	_, err := c.c.Write(raw)
	return err
}

// do sends one command and reads one reply.
func (c *conn) do(args ...string) (value, error) {
	if err := c.send(encode(args...)); err != nil {
		return value{}, err
	}
	return c.read(3 * time.Second)
}

// read reads one reply within timeout.
func (c *conn) read(timeout time.Duration) (value, error) {
	_ = c.c.SetReadDeadline(time.Now().Add(timeout))
	return readValue(c.r)
}

// closed reports whether the server closed the connection (EOF within
// timeout, with nothing else sent first).
func (c *conn) closed(timeout time.Duration) bool {
	_ = c.c.SetReadDeadline(time.Now().Add(timeout))
	_, err := c.r.ReadByte()
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err)
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

func readLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	if !strings.HasSuffix(line, "\r\n") {
		return "", fmt.Errorf("line %q not terminated by CRLF", line)
	}
	return line[:len(line)-2], nil
}

func readValue(r *bufio.Reader) (value, error) {
	line, err := readLine(r)
	if err != nil {
		return value{}, err
	}
	if line == "" {
		return value{}, errors.New("empty line where a reply was expected")
	}
	k, rest := kind(line[0]), line[1:]
	switch k {
	case kSimple, kError, kDouble, kBigNum:
		return value{kind: k, str: rest}, nil
	case kInt:
		if _, err := strconv.ParseInt(rest, 10, 64); err != nil {
			return value{}, fmt.Errorf("bad integer reply %q", line)
		}
		return value{kind: k, str: rest}, nil
	case kBool:
		if rest != "t" && rest != "f" {
			return value{}, fmt.Errorf("bad boolean %q", line)
		}
		return value{kind: k, str: rest}, nil
	case kNull:
		if rest != "" {
			return value{}, fmt.Errorf("bad null %q", line)
		}
		return value{kind: k}, nil
	case kBulk, kVerbatim, kBlobErr:
		n, err := strconv.Atoi(rest)
		if err != nil || n < -1 {
			return value{}, fmt.Errorf("bad length in %q", line)
		}
		if n == -1 {
			return value{kind: k, null: true}, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return value{}, err
		}
		if string(buf[n:]) != "\r\n" {
			return value{}, fmt.Errorf("%s of %d bytes not followed by CRLF", k, n)
		}
		return value{kind: k, str: string(buf[:n])}, nil
	case kArray, kSet, kPush, kMap, kAttr:
		n, err := strconv.Atoi(rest)
		if err != nil || n < -1 {
			return value{}, fmt.Errorf("bad length in %q", line)
		}
		if n == -1 {
			return value{kind: k, null: true}, nil
		}
		if k == kMap || k == kAttr {
			n *= 2
		}
		v := value{kind: k, elems: make([]value, 0, n)}
		for i := 0; i < n; i++ {
			e, err := readValue(r)
			if err != nil {
				return value{}, err
			}
			v.elems = append(v.elems, e)
		}
		if k == kAttr {
			// An attribute precedes the real reply; keep the reply only.
			return readValue(r)
		}
		return v, nil
	}
	return value{}, fmt.Errorf("unknown reply type in %q", line)
}

// mismatch is one structural difference between two replies.
type mismatch struct {
	path      string
	want, got string
}

// compare reports where got differs from want. Both must already be
// normalised.
func compare(path string, want, got value) []mismatch {
	desc := func(v value) string {
		switch {
		case v.null:
			return v.kind.String() + "(nil)"
		case v.kind == kArray || v.kind == kSet || v.kind == kPush:
			return fmt.Sprintf("%s[%d]", v.kind, len(v.elems))
		case v.kind == kMap:
			return fmt.Sprintf("map{%d}", len(v.elems)/2)
		case v.kind == kNull:
			return "null"
		}
		return fmt.Sprintf("%s %q", v.kind, v.str)
	}
	if want.kind != got.kind || want.null != got.null {
		return []mismatch{{path, desc(want), desc(got)}}
	}
	switch want.kind {
	case kMap:
		wk, wv, _ := want.pairs()
		gk, gv, _ := got.pairs()
		if strings.Join(wk, "\x00") != strings.Join(gk, "\x00") {
			return []mismatch{{path + " keys", strings.Join(wk, ","), strings.Join(gk, ",")}}
		}
		var out []mismatch
		for i, k := range wk {
			out = append(out, compare(path+"."+k, *wv[i], *gv[i])...)
		}
		return out
	case kArray, kSet, kPush:
		var out []mismatch
		if len(want.elems) != len(got.elems) {
			out = append(out, mismatch{path + " length", strconv.Itoa(len(want.elems)), strconv.Itoa(len(got.elems))})
		}
		// A flat RESP2 map: name the elements by their keys.
		wk, _, wok := want.pairs()
		gk, _, gok := got.pairs()
		if wok && gok && len(wk) > 0 && looksLikeKeys(wk) {
			if strings.Join(wk, "\x00") != strings.Join(gk, "\x00") {
				return append(out, mismatch{path + " keys", strings.Join(wk, ","), strings.Join(gk, ",")})
			}
			for i := 1; i < len(want.elems); i += 2 {
				out = append(out, compare(path+"."+want.elems[i-1].str, want.elems[i], got.elems[i])...)
			}
			return out
		}
		for i := 0; i < len(want.elems) && i < len(got.elems); i++ {
			out = append(out, compare(fmt.Sprintf("%s[%d]", path, i), want.elems[i], got.elems[i])...)
		}
		return out
	}
	if want.str != got.str {
		return []mismatch{{path, desc(want), desc(got)}}
	}
	return nil
}

// looksLikeKeys guesses whether the even elements of a flat array are field
// names, only to make mismatch paths readable.
func looksLikeKeys(keys []string) bool {
	for _, k := range keys {
		if k == "" || strings.ContainsAny(k, " \r\n") {
			return false
		}
		if _, err := strconv.Atoi(k); err == nil {
			return false
		}
	}
	return true
}
