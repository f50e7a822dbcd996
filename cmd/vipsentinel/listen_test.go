package main

import (
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/vipsentinel/vipsentinel/agent/config"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

func TestListen(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct {
		name    string
		bind    string
		want    int // listeners at least
		wantErr bool
	}{
		{"all IPv4 and optional all IPv6 on one port", "bind * -::*", 2, false},
		{"loopback", "bind 127.0.0.1", 1, false},
		{"optional address not on this host", "bind 127.0.0.1 -198.51.100.7", 1, false},
		{"required address not on this host", "bind 198.51.100.7", 0, true},
		{"no bind", "", 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port := testenv.FreePort(t)
			f, _, err := config.Parse("t.conf", []byte(fmt.Sprintf("port %d\ndir %s\n%s\n", port, t.TempDir(), tt.bind)))
			if err != nil {
				t.Fatal(err)
			}
			ls, err := listen(f, log)
			for _, l := range ls {
				defer l.Close()
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("listen: err %v, want error %v", err, tt.wantErr)
			}
			if len(ls) < tt.want {
				t.Errorf("%d listeners, want at least %d", len(ls), tt.want)
			}
		})
	}
}
