package lab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Sweep deletes what crashed runs left behind: every namespace and temporary
// directory named by a lab whose Config.Name starts with prefix ("" matches
// all labs) and whose creating process no longer exists, after killing the
// processes inside those namespaces. Labs of live processes, including
// concurrently running tests, and namespaces not named by this package are
// never touched. It returns the namespaces it deleted.
func Sweep(prefix string) ([]string, error) {
	var swept []string
	var errs []error
	entries, err := os.ReadDir(netnsDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("lab: sweep: %w", err)
	}
	for _, e := range entries {
		if !stale(e.Name(), prefix) {
			continue
		}
		if err := killNamespace(e.Name()); err != nil {
			errs = append(errs, err)
		}
		if err := deleteNS(e.Name()); err != nil {
			errs = append(errs, err)
			continue
		}
		swept = append(swept, e.Name())
	}
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), nsPrefix+"*"))
	for _, d := range dirs {
		if stale(filepath.Base(d), prefix) {
			if err := os.RemoveAll(d); err != nil {
				errs = append(errs, fmt.Errorf("lab: sweep %s: %w", d, err))
			}
		}
	}
	return swept, errors.Join(errs...)
}

func stale(name, prefix string) bool {
	labName, pid, ok := parseName(name)
	return ok && strings.HasPrefix(labName, prefix) && !pidAlive(pid)
}

func pidAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// killNamespace SIGKILLs every process whose network namespace is the named
// one, repeating until none is left, so processes that forked or daemonised
// away from the process groups the lab tracks die too. This process itself
// is never killed (a thread of it may be inside the namespace during Do).
func killNamespace(name string) error {
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(netnsDir, name), &st); err != nil {
		if errors.Is(err, syscall.ENOENT) {
			return nil
		}
		return fmt.Errorf("lab: stat namespace %s: %w", name, err)
	}
	want := fmt.Sprintf("net:[%d]", st.Ino)
	self := os.Getpid()
	var left []int
	for range 100 {
		left = left[:0]
		procs, err := os.ReadDir("/proc")
		if err != nil {
			return fmt.Errorf("lab: kill processes in %s: %w", name, err)
		}
		for _, p := range procs {
			pid, err := strconv.Atoi(p.Name())
			if err != nil || pid == self {
				continue
			}
			if link, err := os.Readlink(filepath.Join("/proc", p.Name(), "ns", "net")); err == nil && link == want {
				syscall.Kill(pid, syscall.SIGKILL)
				left = append(left, pid)
			}
		}
		if len(left) == 0 {
			return nil
		}
		time.Sleep(20 * time.Millisecond) // let the kernel tear them down before looking again
	}
	return fmt.Errorf("lab: processes %v in namespace %s survive SIGKILL", left, name)
}
