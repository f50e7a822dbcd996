package api

import (
	"fmt"
	"testing"
	"time"
)

func TestACLLog(t *testing.T) {
	t0 := time.Unix(1000, 0)
	auth := func(user string) aclLogEntry {
		return aclLogEntry{reason: "auth", context: "toplevel", object: "AUTH", username: user}
	}
	type add struct {
		user string
		at   time.Duration
	}
	type want struct {
		user  string
		count int64
	}
	cases := []struct {
		name string
		adds []add
		want []want
	}{
		{"repeats group", []add{{"a", 0}, {"a", time.Second}}, []want{{"a", 2}}},
		{"newest first", []add{{"a", 0}, {"b", 0}}, []want{{"b", 1}, {"a", 1}}},
		{"a repeat moves to the front", []add{{"a", 0}, {"b", 0}, {"a", time.Second}}, []want{{"a", 2}, {"b", 1}}},
		{"grouping window runs from the last repeat", []add{{"a", 0}, {"a", 50 * time.Second}, {"a", 100 * time.Second}}, []want{{"a", 3}}},
		{"after a minute a new entry", []add{{"a", 0}, {"a", aclLogGroup}}, []want{{"a", 1}, {"a", 1}}},
		{"only recent entries are merged into", func() []add {
			adds := []add{{"old", 0}}
			for i := 0; i < aclLogScan; i++ {
				adds = append(adds, add{fmt.Sprint(i), 0})
			}
			return append(adds, add{"old", time.Second})
		}(), []want{{"old", 1}, {"9", 1}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var l aclLog
			for _, a := range tc.adds {
				l.add(auth(a.user), "id=1", t0.Add(a.at))
			}
			got := l.list(len(tc.want))
			if len(got) != len(tc.want) {
				t.Fatalf("%d entries, want %d", len(got), len(tc.want))
			}
			for i, w := range tc.want {
				if got[i].username != w.user || got[i].count != w.count {
					t.Errorf("entry %d = %s×%d, want %s×%d", i, got[i].username, got[i].count, w.user, w.count)
				}
			}
		})
	}
	t.Run("bounded", func(t *testing.T) {
		var l aclLog
		for i := 0; i < 3*aclLogMax; i++ {
			l.add(auth(fmt.Sprint(i)), "", t0)
		}
		got := l.list(1 << 20)
		if len(got) != aclLogMax || got[0].username != fmt.Sprint(3*aclLogMax-1) {
			t.Fatalf("%d entries, newest %q", len(got), got[0].username)
		}
	})
}
