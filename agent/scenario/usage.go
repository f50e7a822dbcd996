package scenario

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat. It
// is 100 on every Linux architecture Go supports.
const clockTicks = 100

// ProcUsage reads the CPU time a process has used so far and its resident
// set size from /proc.
func ProcUsage(pid int) (cpu time.Duration, rssKB int, err error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// The command name may contain spaces; fields resume after its ')'.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	// Fields 14 and 15 of stat(5) (utime, stime) are 11 and 12 here.
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("/proc/%d/stat: bad utime/stime", pid)
	}
	cpu = time.Duration(ut+st) * time.Second / clockTicks
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			rssKB, _ = strconv.Atoi(strings.Fields(line)[1])
		}
	}
	return cpu, rssKB, nil
}

// Idle is the measured idle cost of one agent process.
type Idle struct {
	CPUPercent float64 // of one core, averaged over the window
	RSSKB      int     // at the end of the window
}

// MeasureIdle samples agent i's CPU use over window, after the deployment has
// settled.
func (c *Cluster) MeasureIdle(ctx context.Context, i int, window time.Duration) (Idle, error) {
	pid := c.Agents[i].Pid()
	cpu0, _, err := ProcUsage(pid)
	if err != nil {
		return Idle{}, err
	}
	t0 := time.Now()
	select {
	case <-ctx.Done():
		return Idle{}, ctx.Err()
	case <-time.After(window):
	}
	cpu1, rss, err := ProcUsage(pid)
	if err != nil {
		return Idle{}, err
	}
	return Idle{CPUPercent: 100 * float64(cpu1-cpu0) / float64(time.Since(t0)), RSSKB: rss}, nil
}

var rpsRE = regexp.MustCompile(`([0-9.]+) requests per second`)

// APIRate runs redis-benchmark from the client namespace against host i's
// agent: SENTINEL GET-MASTER-ADDR-BY-NAME with the given number of clients
// and requests, and returns the requests per second it reports.
func (c *Cluster) APIRate(ctx context.Context, i, clients, requests int) (float64, error) {
	out, err := c.Client.Exec(ctx, "redis-benchmark", "-h", c.Hosts[i].IP4.String(), "-p", strconv.Itoa(AgentPort),
		"-c", strconv.Itoa(clients), "-n", strconv.Itoa(requests), "-q",
		"SENTINEL", "get-master-addr-by-name", MasterName)
	if err != nil {
		return 0, fmt.Errorf("redis-benchmark: %v: %s", err, out)
	}
	m := rpsRE.FindAllSubmatch(out, -1)
	if len(m) == 0 {
		return 0, fmt.Errorf("redis-benchmark printed no rate: %q", out)
	}
	return strconv.ParseFloat(string(m[len(m)-1][1]), 64)
}
