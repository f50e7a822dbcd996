package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, that every failure is a
// *Error, and that whatever parses renders (Effective) into text that parses
// to the same rendering again.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.conf")
	if pkg, err := filepath.Glob("../../packaging/vipsentinel.conf"); err == nil {
		seeds = append(seeds, pkg...)
	}
	for _, name := range seeds {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"",
		"port 26379\n",
		`sentinel auth-pass m "a\x00b\"c"` + "\nsentinel monitor m 198.18.0.1 6379 1\n",
		"sentinel monitor m 198.18.0.1 6379 1\nsentinel vip m fd00::1/64 eth0\nsentinel vip-garp m 1 10 1\n",
		"include x\n",
		"'a\\'b' \"c\\xzz\"\n",
		"sentinel known-sentinel m 1.2.3.4 1 0123456789abcdef0123456789abcdef01234567\n",
		"firewall yes\nfirewall-allow ::/0 0.0.0.0/0\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, _, err := Parse("/etc/vipsentinel/fuzz.conf", data, NoInclude())
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *config.Error", err)
			}
			return
		}
		eff := cfg.Effective()
		again, _, err := Parse("/etc/vipsentinel/fuzz.conf", []byte(eff), NoInclude())
		if err != nil {
			t.Fatalf("effective config does not parse: %v\n%s", err, eff)
		}
		if got := again.Effective(); got != eff {
			t.Fatalf("effective config is not a fixed point:\n%s\n---\n%s", eff, got)
		}
	})
}
