package config

import (
	"slices"
	"strings"
	"testing"
)

func TestUsers(t *testing.T) {
	f, _ := mustParse(t, "user default off\nuser admin on >pw +@all ~* &*\nuser peer on #"+strings.Repeat("ab", 32)+" +@all\n")
	want := [][]string{{"default", "off"}, {"admin", "on", ">pw", "+@all", "~*", "&*"}, {"peer", "on", "#" + strings.Repeat("ab", 32), "+@all"}}
	if !slices.EqualFunc(f.Users, want, slices.Equal) {
		t.Errorf("users %q, want %q", f.Users, want)
	}
	if eff := f.Effective(); !strings.Contains(eff, "user admin on >******") || strings.Contains(eff, ">pw") {
		t.Errorf("effective config shows a password or drops the user:\n%s", eff)
	}

	if f.ACLPubsubAllChannels {
		t.Error("acl-pubsub-default is allchannels by default; 7.0's is resetchannels")
	}
	f, _ = mustParse(t, "dir /var/lib/x\naclfile users.acl\nacl-pubsub-default allchannels\n")
	if !f.ACLPubsubAllChannels {
		t.Error("acl-pubsub-default allchannels not set")
	}
	if f.ACLFile != "/var/lib/x/users.acl" {
		t.Errorf("aclfile %q, want it under dir", f.ACLFile)
	}
}

func TestUserErrors(t *testing.T) {
	tests := []struct{ text, want string }{
		{"user\n", "wrong number of arguments"},
		{"user bob +nosuch\n", "Unknown command or category name in ACL"},
		{"user bob on >secret bogus\n", "Syntax error"},
		{"user bob on <secret\n", "The password you are trying to remove from the user does not exist"},
		{"user bob on\nuser bob off\n", `user "bob" is already defined`},
		{"user bob on\naclfile /etc/users.acl\n", "users are defined both by user lines"},
	}
	for _, tt := range tests {
		_, _, err := Parse(testPath, []byte(tt.text))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", tt.text, err, tt.want)
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("Parse(%q): error quotes a password: %v", tt.text, err)
		}
	}
}
