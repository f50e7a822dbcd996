package runtime

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	goruntime "runtime"

	"golang.org/x/sys/unix"
)

// startWithoutCaps starts cmd so that it runs with none of the agent's
// capabilities.
//
// The agent holds CAP_NET_ADMIN and CAP_NET_RAW (the unit grants them as
// ambient capabilities to the vipsentinel user), and ambient capabilities
// survive execve: a notification script would move addresses and rewrite
// the firewall as freely as the agent. Go's SysProcAttr can only raise
// ambient capabilities, and nothing runs in the child between fork and
// exec, so the sets are emptied on the thread that forks instead:
// capabilities are per thread, and a child starts with its parent thread's.
// On a thread of its own (locked, and never unlocked, so Go discards the
// thread when the goroutine ends instead of running other goroutines on
// it), startWithoutCaps clears the ambient and inheritable sets and, when
// the agent may (CAP_SETPCAP, as root has), the bounding set, which is
// what keeps a root agent's scripts from getting every capability back at
// exec. Then it starts cmd from that thread.
//
// capset is unix.Capset, or a stand-in for tests.
func startWithoutCaps(cmd *exec.Cmd, capset func(*unix.CapUserHeader, *unix.CapUserData) error) error {
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		if err := dropThreadCaps(capset); err != nil {
			errc <- fmt.Errorf("drop capabilities before running a script: %w", err)
			return
		}
		errc <- cmd.Start()
	}()
	return <-errc
}

// dropThreadCaps empties the calling thread's ambient, inheritable and (if
// allowed) bounding capability sets.
func dropThreadCaps(capset func(*unix.CapUserHeader, *unix.CapUserData) error) error {
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
		// EINVAL: a kernel before 4.3 has no ambient set.
		return fmt.Errorf("clear the ambient set: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("read capabilities: %w", err)
	}
	switch {
	case data[0].Effective&(1<<unix.CAP_SETPCAP) != 0:
		for c := 0; ; c++ {
			if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
				if errors.Is(err, unix.EINVAL) {
					break // past the kernel's last capability
				}
				return fmt.Errorf("drop capability %d from the bounding set: %w", c, err)
			}
		}
	case os.Geteuid() == 0:
		// A root child gets the whole bounding set at exec.
		return errors.New("running as root without CAP_SETPCAP, a script would get every capability")
	}
	data[0].Inheritable, data[1].Inheritable = 0, 0
	if err := capset(&hdr, &data[0]); err != nil {
		if errors.Is(err, unix.EPERM) && os.Geteuid() != 0 {
			// The packaged unit's seccomp filter (SystemCallFilter=
			// ~@privileged) refuses capset. The script still gets no
			// capability: with the ambient set empty, a non-root exec
			// gains capabilities only from a file's own capability sets,
			// which the unit's NoNewPrivileges=yes disables. Only the
			// inheritable set stays as it was.
			return nil
		}
		return fmt.Errorf("clear the inheritable set: %w", err)
	}
	return nil
}
