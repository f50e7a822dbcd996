package config

import (
	"testing"

	"github.com/vipsentinel/vipsentinel/agent/redisrule"
)

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
		got, err := redisrule.SplitArgs("k " + q + " z")
		if err != nil || len(got) != 3 || got[1] != s || got[2] != "z" {
			t.Errorf("quote(%q) = %s, read back as %q, %v", s, q, got, err)
		}
	}
	if q := quote("plain"); q != "plain" {
		t.Errorf("quote(plain) = %s, want it bare", q)
	}
}
