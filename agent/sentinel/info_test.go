package sentinel

import (
	"strings"
	"testing"
)

func TestParseInfo(t *testing.T) {
	master := "# Server\r\nredis_version:7.0.15\r\nrun_id:abc\r\n\r\n# Replication\r\nrole:master\r\nconnected_slaves:2\r\n" +
		"slave0:ip=198.18.0.2,port=6379,state=online,offset=42,lag=0\r\n" +
		"slave1:fd00::3,6380,online\r\n" +
		"slave2:ip=,port=6379,state=online\r\n" + // no address: skipped
		"slave_read_only:1\r\nmaster_repl_offset:42\r\nweird line without colon\r\nnew_field_from_the_future:yes\r\n"
	in, err := ParseInfo(master)
	if err != nil {
		t.Fatal(err)
	}
	if in.Role != "master" || in.RunID != "abc" || in.MasterReplOffset != 42 || len(in.Replicas) != 2 {
		t.Fatalf("%+v", in)
	}
	if in.Replicas[0] != (InfoReplica{Addr: Addr{"198.18.0.2", 6379}, State: "online", Offset: 42}) ||
		in.Replicas[1] != (InfoReplica{Addr: Addr{"fd00::3", 6380}, State: "online", Lag: -1}) {
		t.Errorf("replicas %+v", in.Replicas)
	}
	replica := "role:slave\nmaster_host:198.18.0.1\nmaster_port:6379\nmaster_link_status:down\n" +
		"master_link_down_since_seconds:-1\nslave_priority:0\nslave_repl_offset:99\nreplica_announced:0\n"
	in, err = ParseInfo(replica)
	if err != nil {
		t.Fatal(err)
	}
	want := Info{Role: "slave", MasterHost: "198.18.0.1", MasterPort: 6379, MasterLinkDownSinceSecs: -1,
		SlavePriority: 0, SlaveReplOffset: 99, ReplicaAnnounced: false}
	if in.Role != want.Role || in.MasterHost != want.MasterHost || in.MasterPort != want.MasterPort || in.MasterLinkUp ||
		in.MasterLinkDownSinceSecs != -1 || in.SlavePriority != 0 || in.SlaveReplOffset != 99 || in.ReplicaAnnounced {
		t.Errorf("%+v", in)
	}
	if in, _ := ParseInfo("role:slave\r\nmaster_link_status:up\r\n"); !in.MasterLinkUp || in.SlavePriority != 100 || !in.ReplicaAnnounced {
		t.Errorf("defaults %+v", in)
	}
	for _, bad := range []struct{ text, want string }{
		{"", "no fields"},
		{"ERR unknown command", "not key:value"},
		{"role:master\x00", "binary"},
		{"master_port:abc", "master_port"},
		{"slave_priority:1.5", "slave_priority"},
		{"slave_repl_offset:x", "slave_repl_offset"},
		{"\xff\xfe", "binary"},
	} {
		_, err := ParseInfo(bad.text)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: err %v, want %q", bad.text, err, bad.want)
		}
	}
}

func FuzzParseInfo(f *testing.F) {
	f.Add("# Replication\r\nrole:master\r\nslave0:ip=1.2.3.4,port=6379,state=online,offset=1,lag=0\r\n")
	f.Add("role:slave\nmaster_host:h\nmaster_port:1\nmaster_link_status:up\nslave0:1.2.3.4,1,online\n")
	f.Add("slave1:ip=::1,port=99999\r\n")
	f.Add(":\n:\n")
	f.Fuzz(func(t *testing.T, text string) {
		in, err := ParseInfo(text)
		if err != nil {
			if in != nil {
				t.Fatal("info with error")
			}
			return
		}
		if in.MasterPort < 0 || in.MasterPort > 65535 {
			t.Fatalf("port %d", in.MasterPort)
		}
		for _, r := range in.Replicas {
			if r.Addr.Host == "" || r.Addr.Port < 1 || r.Addr.Port > 65535 {
				t.Fatalf("replica %+v", r)
			}
		}
	})
}

func FuzzParseHello(f *testing.F) {
	f.Add("198.18.0.1,26379," + strings.Repeat("a", 40) + ",1,mymaster,198.18.0.2,6379,1")
	f.Add(",,,,,,,")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHello(s)
		if err != nil {
			return
		}
		if got, err := ParseHello(FormatHello(h)); err != nil || got != h {
			t.Fatalf("round trip of %q: %+v %v", s, got, err)
		}
	})
}
