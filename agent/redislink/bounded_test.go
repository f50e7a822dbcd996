package redislink

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// feedAll feeds in to a fresh validator whole, then byte by byte, and
// returns the final state and the error (which both ways must agree on).
func feedAll(t testing.TB, in string) (replyValidator, error) {
	var whole replyValidator
	errWhole := whole.feed([]byte(in))
	var bytewise replyValidator
	var errBytes error
	for i := 0; i < len(in) && errBytes == nil; i++ {
		errBytes = bytewise.feed([]byte{in[i]})
	}
	if (errWhole == nil) != (errBytes == nil) {
		t.Fatalf("%.60q: whole feed says %v, byte by byte %v", in, errWhole, errBytes)
	}
	if errWhole == nil && whole != bytewise {
		t.Fatalf("%.60q: states differ: whole %+v, byte by byte %+v", in, whole, bytewise)
	}
	return whole, errWhole
}

func TestReplyValidator(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("*1\r\n", n) + ":1\r\n" }
	cases := []struct {
		name string
		in   string
		err  string // "" when the stream is valid
		open bool   // valid so far but the reply is incomplete
	}{
		{name: "status", in: "+PONG\r\n"},
		{name: "error", in: "-ERR unknown command\r\n"},
		{name: "empty status", in: "+\r\n"},
		{name: "integer", in: ":-12\r\n:0\r\n"},
		{name: "bulk", in: "$5\r\nhello\r\n"},
		{name: "empty bulk", in: "$0\r\n\r\n"},
		{name: "bulk with CRLF inside", in: "$4\r\n\r\n\r\n\r\n"},
		{name: "null bulk", in: "$-1\r\n"},
		{name: "null array", in: "*-1\r\n"},
		{name: "empty array", in: "*0\r\n"},
		{name: "exec reply", in: "*3\r\n+OK\r\n$2\r\nOK\r\n*2\r\n:1\r\n-ERR x\r\n"},
		{name: "pubsub message", in: "*3\r\n$7\r\nmessage\r\n$18\r\n__sentinel__:hello\r\n$5\r\nhello\r\n"},
		{name: "is-master-down", in: "*3\r\n:0\r\n$1\r\n*\r\n:0\r\n"},
		{name: "resp3 scalars", in: "_\r\n,1.5\r\n#t\r\n#f\r\n(123456789012345678901234567890\r\n!3\r\nERR\r\n=7\r\ntxt:abc\r\n"},
		{name: "resp3 aggregates", in: "%1\r\n+k\r\n~2\r\n:1\r\n:2\r\n>1\r\n+x\r\n"},
		{name: "nesting at the limit", in: deep(maxReplyDepth)},
		{name: "bulk at the cap", in: fmt.Sprintf("$%d\r\n", maxReplyBulk), open: true},
		{name: "array at the cap", in: fmt.Sprintf("*%d\r\n", maxReplyElements), open: true},
		{name: "map at the cap", in: fmt.Sprintf("%%%d\r\n", maxReplyElements/2), open: true},
		{name: "incomplete bulk", in: "$5\r\nhel", open: true},
		{name: "incomplete line", in: "+PO", open: true},

		{name: "huge bulk length", in: "$9223372036854775806\r\n", err: "bulk length over 4194304"},
		{name: "bulk over the cap", in: fmt.Sprintf("$%d\r\n", maxReplyBulk+1), err: "bulk length over"},
		{name: "huge blob error", in: "!99999999999\r\n", err: "bulk length over"},
		{name: "huge array", in: "*99999999999\r\n", err: "aggregate over the 65536 elements"},
		{name: "array over the cap", in: fmt.Sprintf("*%d\r\n", maxReplyElements+1), err: "aggregate over"},
		{name: "map over the cap", in: fmt.Sprintf("%%%d\r\n", maxReplyElements/2+1), err: "aggregate over"},
		{name: "huge map", in: "%40000\r\n", err: "aggregate over"},
		{name: "elements summed over a reply", in: "*2\r\n*40000\r\n" + strings.Repeat(":1\r\n", 40000) + "*40000\r\n", err: "aggregate over"},
		{name: "too deep", in: deep(maxReplyDepth + 1), err: "nested deeper than 16"},
		{name: "garbage", in: "HTTP/1.1 400 Bad Request\r\n", err: "invalid reply type byte 'H'"},
		{name: "bare CRLF", in: "\r\n", err: "invalid reply type byte"},
		{name: "line too long", in: "+" + strings.Repeat("a", maxReplyLine+1), err: "line longer than 65536"},
		{name: "LF without CR", in: "+OK\n", err: "LF without CR"},
		{name: "CR without LF", in: "+O\rK\r\n", err: "CR without LF"},
		{name: "negative bulk length", in: "$-5\r\n", err: "negative"},
		{name: "minus zero", in: "*-0\r\n", err: "negative"},
		{name: "negative map", in: "%-1\r\n", err: "negative"},
		{name: "length without digits", in: "$\r\n", err: "without a length"},
		{name: "minus alone", in: "*-\r\n", err: "without a length"},
		{name: "letters in length", in: "$1x\r\n", err: "invalid character 'x'"},
		{name: "integer with letters", in: ":12a\r\n", err: "invalid character"},
		{name: "integer without digits", in: ":\r\n", err: "without digits"},
		{name: "integer too long", in: ":" + strings.Repeat("9", 21) + "\r\n", err: "longer than 20"},
		{name: "bulk not followed by CRLF", in: "$2\r\nabc\r\n", err: "not followed by CRLF"},
		{name: "null with content", in: "_x\r\n", err: "null reply with content"},
		{name: "bad boolean", in: "#x\r\n", err: "not t or f"},
		{name: "empty boolean", in: "#\r\n", err: "not t or f"},
		{name: "attribute", in: "|1\r\n+a\r\n+b\r\n+OK\r\n", err: "attribute"},
		{name: "streamed string", in: "$?\r\n", err: "invalid character '?'"},
		{name: "reply too large", in: "*3\r\n" + fmt.Sprintf("$%d\r\n%s\r\n", maxReplyBulk, strings.Repeat("a", maxReplyBulk)) +
			fmt.Sprintf("$%d\r\n%s\r\n", maxReplyBulk, strings.Repeat("a", maxReplyBulk)), err: "reply longer than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := feedAll(t, tc.in)
			if tc.err == "" {
				if err != nil {
					t.Fatalf("valid stream refused: %v", err)
				}
				if done := v.state == stType && v.depth == 0; done == tc.open {
					t.Fatalf("reply complete = %v, want %v (state %+v)", done, !tc.open, v)
				}
				return
			}
			var re *ReplyError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error = %v, want a ReplyError containing %q", err, tc.err)
			}
		})
	}
}

// TestReplyValidatorCostsNothing: whatever a reply declares, validating it
// allocates nothing.
func TestReplyValidatorCostsNothing(t *testing.T) {
	in := []byte("*3\r\n$7\r\nmessage\r\n$18\r\n__sentinel__:hello\r\n$5\r\nhello\r\n$4194304\r\n")
	var v replyValidator
	if n := testing.AllocsPerRun(100, func() { v = replyValidator{}; _ = v.feed(in) }); n != 0 {
		t.Fatalf("%v allocations per feed", n)
	}
}

// TestReplyBulkCapIsInfoCap keeps the bulk cap and ParseInfo's limit one
// rule: the largest INFO reply ParseInfo accepts passes the link, and one
// byte more is refused by both.
func TestReplyBulkCapIsInfoCap(t *testing.T) {
	line := "role:master\r\n"
	text := strings.Repeat("#\r\n", (maxReplyBulk-len(line))/3) + line
	text += strings.Repeat("#", maxReplyBulk-len(text))
	if len(text) != maxReplyBulk {
		t.Fatalf("built %d bytes", len(text))
	}
	if _, err := sentinel.ParseInfo(text); err != nil {
		t.Fatalf("ParseInfo refuses %d bytes: %v", len(text), err)
	}
	if _, err := sentinel.ParseInfo(text + "#"); err == nil {
		t.Fatalf("ParseInfo accepts %d bytes, more than the reply bulk cap", len(text)+1)
	}
	if _, err := feedAll(t, fmt.Sprintf("$%d\r\n%s\r\n", len(text), text)); err != nil {
		t.Fatalf("largest INFO refused on the link: %v", err)
	}
}

func FuzzReplyValidator(f *testing.F) {
	for _, s := range []string{
		"+PONG\r\n", "$5\r\nhello\r\n", "*3\r\n:0\r\n$1\r\n*\r\n:0\r\n", "*-1\r\n$-1\r\n",
		"%1\r\n+k\r\n~2\r\n:1\r\n:2\r\n", "$9223372036854775806\r\n", "*1\r\n*1\r\n*1\r\n:1\r\n",
	} {
		f.Add([]byte(s), uint16(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, split uint16) {
		var whole replyValidator
		errWhole := whole.feed(in)
		// Any split of the stream into reads gives the same verdict.
		var parts replyValidator
		cut := int(split) % (len(in) + 1)
		errParts := parts.feed(in[:cut])
		if errParts == nil {
			errParts = parts.feed(in[cut:])
		}
		if (errWhole == nil) != (errParts == nil) {
			t.Fatalf("whole: %v; split at %d: %v", errWhole, cut, errParts)
		}
		if errWhole == nil {
			if whole != parts {
				t.Fatalf("states differ: %+v vs %+v", whole, parts)
			}
			if whole.size > maxReplySize || whole.elems > maxReplyElements || whole.depth > maxReplyDepth || whole.bulk > maxReplyBulk {
				t.Fatalf("accepted past a limit: %+v", whole)
			}
			return
		}
		var re *ReplyError
		if !errors.As(errWhole, &re) {
			t.Fatalf("error %T is not a ReplyError", errWhole)
		}
	})
}

// BenchmarkReplyValidator measures the validator's cost on the replies the
// agent reads most: an INFO reply (about 4 KiB) and a pub/sub hello.
func BenchmarkReplyValidator(b *testing.B) {
	info := strings.Repeat("some_field:some_value_1234\r\n", 150)
	hello := "127.0.0.1,26379," + strings.Repeat("a", 40) + ",7,mymaster,127.0.0.1,6379,3"
	for _, bc := range []struct{ name, reply string }{
		{"info", fmt.Sprintf("$%d\r\n%s\r\n", len(info), info)},
		{"hello", fmt.Sprintf("*3\r\n$7\r\nmessage\r\n$18\r\n__sentinel__:hello\r\n$%d\r\n%s\r\n", len(hello), hello)},
		{"pong", "+PONG\r\n"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			in := []byte(bc.reply)
			b.SetBytes(int64(len(in)))
			var v replyValidator
			for b.Loop() {
				if err := v.feed(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
