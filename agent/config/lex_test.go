package config

import (
	"slices"
	"testing"
)

func TestSplitArgs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  error
	}{
		{"", nil, nil},
		{"   \t ", nil, nil},
		{"port 26379", []string{"port", "26379"}, nil},
		{"  a\tb   c  ", []string{"a", "b", "c"}, nil},
		{`a "b c" d`, []string{"a", "b c", "d"}, nil},
		{`""`, []string{""}, nil},
		{`''`, []string{""}, nil},
		{`a "" b`, []string{"a", "", "b"}, nil},
		{`"\n\r\t\b\a"`, []string{"\n\r\t\b\a"}, nil},
		{`"\\ \" \q"`, []string{`\ " q`}, nil},
		{`"\x41\x7a\xff\x00"`, []string{"Az\xff\x00"}, nil},
		{`"\x4"`, []string{"x4"}, nil},    // not two hex digits: \x is x
		{`"\xzz"`, []string{"xzz"}, nil},  // same
		{`'a\'b'`, []string{"a'b"}, nil},  // the only escape in single quotes
		{`'a\nb'`, []string{`a\nb`}, nil}, // literal
		{`'a"b'`, []string{`a"b`}, nil},   // literal
		{`"a'b"`, []string{`a'b`}, nil},   // literal
		{`a"b c"`, []string{"ab c"}, nil}, // quote opens mid-argument, as Redis
		{`a'b c' d`, []string{"ab c", "d"}, nil},
		{`plain\x41`, []string{`plain\x41`}, nil}, // no escapes outside quotes
		{"#notacomment here", []string{"#notacomment", "here"}, nil},
		{`"abc`, nil, errUnbalanced},
		{`'abc`, nil, errUnbalanced},
		{`a "b`, nil, errUnbalanced},
		{`s3cr"et`, nil, errUnbalanced}, // what Redis 7.0 writes for a password containing a quote
		{`"abc"d`, nil, errAfterQuote},
		{`'abc'd`, nil, errAfterQuote},
		{`"ab\"`, nil, errUnbalanced},
	}
	for _, tt := range tests {
		got, err := splitArgs(tt.in)
		if err != tt.err {
			t.Errorf("splitArgs(%q) error = %v, want %v", tt.in, err, tt.err)
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("splitArgs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestQuoteRoundTrip(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for _, s := range []string{
		"", "plain", "two words", `"`, `'`, `\`, `a"b`, "#hash", "a#b", "tab\there",
		"\n", "\x00\x01\xff", "ünï", string(all), "******", `\x41`,
	} {
		q := quote(s)
		got, err := splitArgs("k " + q + " z")
		if err != nil || len(got) != 3 || got[1] != s || got[2] != "z" {
			t.Errorf("quote(%q) = %s, read back as %q, %v", s, q, got, err)
		}
	}
	if q := quote("plain"); q != "plain" {
		t.Errorf("quote(plain) = %s, want it bare", q)
	}
}
