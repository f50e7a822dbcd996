package compat

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/internal/redistest"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// TestAuthChangeReconnects changes the monitored servers' ACL as an
// operator rotating credentials would (a new user, the old one deleted,
// which closes its connections), then gives the agent the new ones with
// SENTINEL SET auth-user/auth-pass: the agent must reconnect to the master
// and the replica as the new user and see the group healthy again.
func TestAuthChangeReconnects(t *testing.T) {
	t.Parallel()
	acl := []string{"user default off", "user mon on >old ~* &* +@all"}
	master := redistest.Start(t, acl...)
	replica := redistest.Start(t, append(acl, fmt.Sprintf("replicaof 127.0.0.1 %d", master.Port), "masteruser mon", "masterauth old")...)
	a := startAgent(t, append(sentinelLines("mymaster", master, 1), "sentinel auth-user mymaster mon", "sentinel auth-pass mymaster old")...)
	testenv.Eventually(t, 20*time.Second, "the agent to see the replica as mon", func() error {
		return settled(a.Addr(), "mymaster", 1, 0)
	})

	for _, s := range []*redistest.Server{master, replica} {
		mustDo(t, s.Addr(), "mon", "old", "ACL", "SETUSER", "mon2", "on", ">new2", "~*", "&*", "+@all")
	}
	mustDo(t, replica.Addr(), "mon2", "new2", "CONFIG", "SET", "masteruser", "mon2", "masterauth", "new2")
	for _, s := range []*redistest.Server{master, replica} {
		// Deleting mon closes every connection authenticated as mon: the
		// agent's, and the replica's replication link.
		mustDo(t, s.Addr(), "mon2", "new2", "ACL", "DELUSER", "mon")
	}
	c, err := dial(a.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if v, err := c.do("SENTINEL", "SET", "mymaster", "auth-user", "mon2", "auth-pass", "new2"); err != nil || v.str != "OK" {
		t.Fatalf("SENTINEL SET auth-user/auth-pass: %v %s", err, v.str)
	}
	for _, s := range []*redistest.Server{master, replica} {
		testenv.Eventually(t, 20*time.Second, "the agent's links to "+s.Addr()+" as mon2", func() error {
			v, err := asUser(s.Addr(), "mon2", "new2", "CLIENT", "LIST")
			if err != nil {
				return err
			}
			var links []string
			for _, l := range strings.Split(v.str, "\n") {
				if strings.Contains(l, " name=sentinel-") && strings.Contains(l, " user=mon2 ") {
					links = append(links, l)
				}
			}
			if len(links) < 2 {
				return fmt.Errorf("%d agent links authenticated as mon2 (want cmd and pubsub):\n%s", len(links), v.str)
			}
			return nil
		})
	}
	testenv.Eventually(t, 20*time.Second, "the agent to see the group healthy", func() error {
		if err := settled(a.Addr(), "mymaster", 1, 0); err != nil {
			return err
		}
		m, err := fields(a.Addr(), "SENTINEL", "MASTER", "mymaster")
		if err != nil {
			return err
		}
		if m["last-ok-ping-reply"] == "" || len(m["last-ok-ping-reply"]) > 4 {
			return fmt.Errorf("last-ok-ping-reply %s ms", m["last-ok-ping-reply"])
		}
		return nil
	})
}

// asUser runs one command on addr authenticated as user.
func asUser(addr, user, pass string, args ...string) (value, error) {
	c, err := dial(addr)
	if err != nil {
		return value{}, err
	}
	defer c.Close()
	if v, err := c.do("AUTH", user, pass); err != nil || v.kind == kError {
		return value{}, fmt.Errorf("AUTH %s: %v %s", user, err, v.str)
	}
	v, err := c.do(args...)
	if err == nil && v.kind == kError {
		err = fmt.Errorf("%v: %s", args, v.str)
	}
	return v, err
}

func mustDo(t *testing.T, addr, user, pass string, args ...string) {
	t.Helper()
	if _, err := asUser(addr, user, pass, args...); err != nil {
		t.Fatalf("%s: %v", addr, err)
	}
}
