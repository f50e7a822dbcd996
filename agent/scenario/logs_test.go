package scenario

import (
	"maps"
	"testing"
)

func TestParseLogfmt(t *testing.T) {
	tests := []struct {
		line string
		want map[string]string
	}{
		{`time=2026-12-06T11:20:42.123Z level=WARN msg="+fence demo 198.18.0.1 6379" event=+fence payload="master demo 198.18.0.1 6379" master=demo detail="agents heard 1/3"`,
			map[string]string{"time": "2026-12-06T11:20:42.123Z", "level": "WARN", "msg": "+fence demo 198.18.0.1 6379", "event": "+fence",
				"payload": "master demo 198.18.0.1 6379", "master": "demo", "detail": "agents heard 1/3"}},
		{`time=t event=+switch-master payload="demo 1 2 3 4" epoch=7`,
			map[string]string{"time": "t", "event": "+switch-master", "payload": "demo 1 2 3 4", "epoch": "7"}},
		{`a="quoted \"inner\" value" b=x`, map[string]string{"a": `quoted "inner" value`, "b": "x"}},
		{`a=1 b="unterminated`, map[string]string{"a": "1"}},
		{`redis: 2026/12/06 pool.go:770: failed`, map[string]string{}},
		{``, map[string]string{}},
	}
	for _, tt := range tests {
		if got := parseLogfmt(tt.line); !maps.Equal(got, tt.want) {
			t.Errorf("parseLogfmt(%q) = %v, want %v", tt.line, got, tt.want)
		}
	}
}
