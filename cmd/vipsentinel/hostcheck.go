package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/config"
	"github.com/vipsentinel/vipsentinel/agent/peerproof"
)

// hostProblems checks what check-config can only see on the host that will
// run the agent, and returns errors (the agent would fail or misbehave) and
// warnings:
//   - dir must be a writable directory (the state file lives there); and
//     the packaged unit's sandbox (ProtectSystem=strict) leaves only its
//     StateDirectory, config.DefaultDir, writable, so for the packaged
//     configuration file any other dir is an error: a sentinel.conf copied
//     as is keeps dir /var/lib/redis and the agent would fail at every
//     start;
//   - every VIP's interface must exist;
//   - the API port must be free, or held by a vipsentinel agent (this one,
//     running): a redis-sentinel still enabled on it would make the
//     agent's unit restart forever.
func hostProblems(f *config.File, packaged bool) (errs, warns []string) {
	if err := dirWritable(f.Dir); err != nil {
		errs = append(errs, fmt.Sprintf("dir %s: %v", f.Dir, err))
	}
	if f.Dir != config.DefaultDir {
		msg := fmt.Sprintf("dir %s: the packaged unit can write only %s (ProtectSystem=strict, StateDirectory=vipsentinel); set dir %s", f.Dir, config.DefaultDir, config.DefaultDir)
		if packaged {
			errs = append(errs, msg)
		} else {
			warns = append(warns, msg)
		}
	}
	seen := map[string]bool{}
	for _, m := range f.Masters {
		for _, v := range m.VIPs {
			if seen[v.Interface] {
				continue
			}
			seen[v.Interface] = true
			if _, err := net.InterfaceByName(v.Interface); err != nil {
				errs = append(errs, fmt.Sprintf("sentinel vip %s %s %s: no interface %q on this host", m.Name, v.Prefix, v.Interface, v.Interface))
			}
		}
	}
	binds := f.Bind
	if len(binds) == 0 {
		binds = []string{""}
	}
	for _, b := range binds {
		addr := net.JoinHostPort(b, strconv.Itoa(f.Port))
		switch who := portHolder(addr); who {
		case "":
		case "vipsentinel":
			warns = append(warns, fmt.Sprintf("port %s is held by a running vipsentinel agent (fine if it is this configuration's)", addr))
		default:
			errs = append(errs, fmt.Sprintf("port %s is in use by %s: stop it first (a redis-sentinel: systemctl disable --now redis-sentinel), or the agent cannot listen", addr, who))
		}
	}
	return errs, warns
}

// dirWritable checks that dir is a directory this process can create a
// file in.
func dirWritable(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return errors.New("does not exist (the packaged unit creates " + config.DefaultDir + ")")
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return errors.New("not a directory")
	}
	f, err := os.CreateTemp(dir, ".check-config-*")
	if err != nil {
		if errors.Is(err, syscall.EROFS) || errors.Is(err, os.ErrPermission) {
			return fmt.Errorf("not writable: %w", err)
		}
		return err
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// portHolder binds addr to see whether it is free: "" if it is,
// "vipsentinel" if a vipsentinel agent answers there (VIPSENTINEL PROVE is
// served before AUTH), otherwise a description of the holder.
func portHolder(addr string) string {
	l, err := net.Listen("tcp", addr)
	if err == nil {
		l.Close()
		return ""
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		return "" // not ours to judge here (e.g. an address not on this host)
	}
	host, port, _ := net.SplitHostPort(addr)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	c, err := net.DialTimeout("tcp", net.JoinHostPort(host, port), time.Second)
	if err != nil {
		return "another process"
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	nonce := strings.Repeat("0", 2*peerproof.NonceLen)
	fmt.Fprintf(c, "*3\r\n$11\r\nVIPSENTINEL\r\n$5\r\nPROVE\r\n$%d\r\n%s\r\n", len(nonce), nonce)
	line, err := bufio.NewReader(c).ReadString('\n')
	switch {
	case err == nil && strings.HasPrefix(line, "*2"):
		return "vipsentinel"
	case err == nil && strings.Contains(strings.ToLower(line), "unknown command"):
		return "a redis-sentinel or redis-server"
	}
	return "another process"
}
