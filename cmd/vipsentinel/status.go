package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vipsentinel/vipsentinel/agent/config"
	"github.com/vipsentinel/vipsentinel/agent/runtime"
)

// cmdStatus asks a running agent (or any Sentinel) for its view and prints
// it for a person. It uses only the Sentinel API, plus INFO's VIPSentinel
// section when the peer is a vipsentinel agent.
func cmdStatus(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:26379", "address of the agent's API")
	confPath := fs.String("config", defaultConfigPath, "configuration file to read the password from (requirepass; sentinel-pass for another agent's --addr)")
	password := fs.String("password", "", "deprecated: visible to every user in the process list; use REDISCLI_AUTH or the configuration file")
	timeout := fs.Duration("timeout", 2*time.Second, "give up after this long")
	asJSON := fs.Bool("json", false, "print the status document as JSON (schema: docs/status-json.md)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: vipsentinel status [--json] [--addr host:port] [--config file]\n\n"+
			"Prints the masters a running agent monitors, with their address, epoch, replicas, the\n"+
			"agents it knows and reaches, and its floating-IP, fencing and firewall state.\n"+
			"The password is REDISCLI_AUTH from the environment, or else read from the configuration file.\n"+
			"With the configuration file's Redis credentials it also reads each master's and replica's\n"+
			"min-replicas-to-write, and warns when writes may be acknowledged with no replica receiving them.\n"+
			"Exit status: 0 healthy, 1 degraded (TILT, paused, fenced, down, no quorum, no promotable\n"+
			"replica, VIP or firewall trouble, a master refusing writes for want of replicas; the reasons\n"+
			"are printed), 2 unreachable.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	if explicit["password"] {
		fmt.Fprintln(stderr, "vipsentinel status: warning: --password is deprecated (other users can read it in the process list); use REDISCLI_AUTH or the configuration file")
	}
	pass, err := statusPassword(*password, *addr, *confPath, explicit["config"], os.LookupEnv)
	if err != nil {
		fmt.Fprintf(stderr, "vipsentinel status: %v\n", err)
		return exitUsage
	}
	*password = pass
	tlsCfg, certs, err := statusTLS(*confPath, addr, explicit["addr"], explicit["config"])
	if err != nil {
		fmt.Fprintf(stderr, "vipsentinel status: %v\n", err)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	cl := redis.NewClient(&redis.Options{
		Addr: *addr, Password: *password, Protocol: 2, MaxRetries: -1,
		DialTimeout: *timeout, ReadTimeout: *timeout, DisableIdentity: true, TLSConfig: tlsCfg,
	})
	defer cl.Close()
	// The replica guard is checked on the redis-servers themselves, with
	// the configuration's credentials (replguard.go).
	guard := func() (warns, refusing []string) {
		if f, _, err := config.Load(*confPath); err == nil {
			return checkGuards(f, agentAddrs(cl), guardBudget)
		}
		return nil, nil
	}
	if *asJSON {
		return printStatusJSON(ctx, cl, *addr, guard, stdout, stderr)
	}
	h, err := printStatus(ctx, cl, *addr, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "vipsentinel status: %s: %v\n", *addr, err)
		return exitUnreachable
	}
	printCertificates(stdout, certs, time.Now())
	guardWarns, refusing := guard()
	h = h.degradedBy(refusing)
	fmt.Fprintf(stdout, "\nhealth: %s\n", h.State)
	for _, r := range h.Reasons {
		fmt.Fprintf(stdout, "  - %s\n", r)
	}
	for _, w := range guardWarns {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	return h.exitCode()
}

// StatusDocument is what `vipsentinel status --json` prints: the agent's
// VIPSENTINEL STATUS document with the command's verdict added as health.
type StatusDocument struct {
	runtime.Status
	Health Health `json:"health"`
}

// printStatusJSON prints the status document; when the agent cannot be
// asked, a document with only health (state unreachable) and exit 2. A
// master refusing writes (guard) is a reason of the health; the guard's
// warnings go to stderr.
func printStatusJSON(ctx context.Context, cl *redis.Client, addr string, guard func() (warns, refusing []string), stdout, stderr io.Writer) int {
	st, err := fetchStatus(ctx, cl)
	var doc any
	var h Health
	if err != nil {
		fmt.Fprintf(stderr, "vipsentinel status: %s: %v\n", addr, err)
		h = Health{State: "unreachable", Reasons: []string{fmt.Sprintf("%s: %v", addr, err)}}
		doc = struct {
			Health Health `json:"health"`
		}{h}
	} else {
		warns, refusing := guard()
		for _, w := range warns {
			fmt.Fprintf(stderr, "vipsentinel status: warning: %s\n", w)
		}
		h = assess(st).degradedBy(refusing)
		doc = StatusDocument{Status: *st, Health: h}
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		fmt.Fprintf(stderr, "vipsentinel status: %v\n", err)
		return exitUnreachable
	}
	return h.exitCode()
}

// fetchStatus asks a vipsentinel agent for VIPSENTINEL STATUS.
func fetchStatus(ctx context.Context, cl *redis.Client) (*runtime.Status, error) {
	raw, err := cl.Do(ctx, "VIPSENTINEL", "STATUS").Text()
	if err != nil {
		return nil, fmt.Errorf("VIPSENTINEL STATUS: %w", err)
	}
	var st runtime.Status
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		return nil, fmt.Errorf("VIPSENTINEL STATUS: %w", err)
	}
	return &st, nil
}

// defaultConfigPath is where the packages install the configuration.
const defaultConfigPath = "/etc/vipsentinel/vipsentinel.conf"

// statusPassword picks the password status authenticates with, never
// requiring it on the command line: the deprecated --password flag if
// given, else REDISCLI_AUTH (as redis-cli), else the configuration file's
// requirepass, or its sentinel-pass when addr is another host's agent. The
// default configuration file may be missing or unreadable (then no
// password); one named with --config must load.
func statusPassword(flagPass, addr, path string, explicitPath bool, env func(string) (string, bool)) (string, error) {
	if flagPass != "" {
		return flagPass, nil
	}
	if v, ok := env("REDISCLI_AUTH"); ok {
		return v, nil
	}
	f, _, err := config.Load(path)
	if err != nil {
		if explicitPath {
			return "", fmt.Errorf("read the password from %s: %w", path, err)
		}
		return "", nil
	}
	if f.SentinelPass != "" && !loopbackHost(addr) {
		return f.SentinelPass, nil
	}
	return f.RequirePass, nil
}

// loopbackHost reports whether addr's host is a loopback address or
// "localhost".
func loopbackHost(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// printStatus prints an agent's status for a person and judges its health
// (for a redis-sentinel, from TILT alone).
func printStatus(ctx context.Context, cl *redis.Client, addr string, w io.Writer) (Health, error) {
	info, err := cl.Info(ctx, "server", "sentinel", "vipsentinel").Result()
	if err != nil {
		return Health{}, err
	}
	kv := parseInfo(info)
	myid, err := cl.Do(ctx, "SENTINEL", "MYID").Text()
	if err != nil {
		myid = "?"
	}
	mode := "vipsentinel " + kv["vipsentinel_version"]
	if kv["vipsentinel_version"] == "" {
		mode = "redis-sentinel " + kv["redis_version"]
	}
	tilt := "no"
	if kv["sentinel_tilt"] == "1" {
		tilt = "YES (since " + kv["sentinel_tilt_since_seconds"] + "s) - failover disabled"
	}
	fmt.Fprintf(w, "agent %s (%s), id %s, tilt %s\n", addr, strings.TrimSpace(mode), short(myid), tilt)

	h := Health{State: "healthy"}
	if kv["sentinel_tilt"] == "1" {
		h = Health{State: "degraded", Reasons: []string{"TILT mode: no failover until it ends"}}
	}
	var st *runtime.Status
	if kv["vipsentinel_version"] != "" {
		if st, err = fetchStatus(ctx, cl); err != nil {
			return Health{}, err
		}
		h = assess(st)
	}
	promo := promotions(st)
	masters, err := maps(ctx, cl, "SENTINEL", "MASTERS")
	if err != nil {
		return Health{}, fmt.Errorf("SENTINEL MASTERS: %w", err)
	}
	if len(masters) == 0 {
		fmt.Fprintln(w, "no masters monitored")
	}
	for _, m := range masters {
		name := m["name"]
		fmt.Fprintf(w, "\nmaster %s at %s:%s  [%s]\n", name, m["ip"], m["port"], m["flags"])
		fmt.Fprintf(w, "  config-epoch %s, quorum %s, down-after %sms, failover-timeout %sms\n",
			m["config-epoch"], m["quorum"], m["down-after-milliseconds"], m["failover-timeout"])
		if st := m["failover-state"]; st != "" && st != "none" {
			fmt.Fprintf(w, "  failover in progress: %s\n", st)
		}
		reps, err := maps(ctx, cl, "SENTINEL", "REPLICAS", name)
		if err == nil {
			for _, r := range reps {
				fmt.Fprintf(w, "  replica %s:%s  [%s] link %s, offset %s, priority %s\n",
					r["ip"], r["port"], r["flags"], r["master-link-status"], r["slave-repl-offset"], r["slave-priority"])
				if p, ok := promo[name][net.JoinHostPort(r["ip"], r["port"])]; ok {
					fmt.Fprintf(w, "    lag %d bytes; promotion: %s\n", p.LagBytes, p)
				}
			}
		}
		sents, err := maps(ctx, cl, "SENTINEL", "SENTINELS", name)
		if err == nil {
			reach := 0
			for _, s := range sents {
				if !strings.Contains(s["flags"], "disconnected") && !strings.Contains(s["flags"], "s_down") {
					reach++
				}
			}
			fmt.Fprintf(w, "  agents: %d others known, %d reachable (+ this one)\n", len(sents), reach)
			for _, s := range sents {
				fmt.Fprintf(w, "    %s:%s id %s [%s] last hello %sms ago\n", s["ip"], s["port"], short(s["runid"]), s["flags"], s["last-hello-message"])
			}
		}
		if v := vipsentinelMaster(kv, name); v != nil {
			local := "the master is on another host"
			if v["local"] == "1" {
				local = "the master is on this host"
			}
			fmt.Fprintf(w, "  this host: %s; agents reachable %s of %s\n", local, v["agents_reachable"], v["agents_known"])
			if v["vip"] == "1" {
				fmt.Fprintf(w, "  floating IP: %s here (epoch %s)\n", yesNo(v["vip_held"] == "1", "HELD", "not held"), v["config_epoch"])
			} else {
				fmt.Fprintf(w, "  floating IP: none configured\n")
			}
			if v["fence"] == "1" {
				fmt.Fprintf(w, "  fencing: on, %s\n", yesNo(v["fenced"] == "1", "ACTIVE (local writes paused, VIP released)", "not active"))
			}
		}
		if ms := statusOf(st, name); ms != nil && ms.Paused {
			until := "until resumed (vipsentinel resume)"
			if ms.PausedUntil != "" {
				until = "until " + ms.PausedUntil
			}
			fmt.Fprintf(w, "  MAINTENANCE: paused %s; no failover is started or voted for\n", until)
		}
	}
	if st != nil {
		for _, v := range st.VIPs {
			fmt.Fprintf(w, "\nfloating IP %s on %s (master %s): %s", v.Address, v.Interface, v.Master, yesNo(v.Held, "HELD by this host", "not held by this host"))
			if v.Error != "" {
				fmt.Fprintf(w, ", ERROR: %s", v.Error)
			}
			fmt.Fprintln(w)
		}
		if fw := st.Firewall; fw != nil {
			fmt.Fprintf(w, "\nfirewall (%s): %s%s\n", fw.Mode, yesNo(fw.Open, "open", "NOT open"), yesNo(fw.Fenced, ", fenced", ""))
			for _, c := range fw.Conflicts {
				fmt.Fprintf(w, "  conflict%s: %s\n", yesNo(c.Handled, " (handled)", ""), c.Description)
				if !c.Handled && c.Fix != "" {
					fmt.Fprintf(w, "    fix: %s\n", c.Fix)
				}
			}
		}
	}
	var other []string
	for _, k := range sortedKeys(kv) {
		if strings.HasPrefix(k, "firewall") {
			other = append(other, fmt.Sprintf("%s: %s", k, kv[k]))
		}
	}
	if len(other) > 0 {
		fmt.Fprintln(w)
		for _, l := range other {
			fmt.Fprintln(w, l)
		}
	}
	return h, nil
}

func statusOf(st *runtime.Status, name string) *runtime.MasterStatus {
	if st == nil {
		return nil
	}
	for i := range st.Masters {
		if st.Masters[i].Name == name {
			return &st.Masters[i]
		}
	}
	return nil
}

// promotion is how a replica would fare in a failover now, from
// VIPSENTINEL STATUS.
type promotion runtime.ReplicaStatus

func (p promotion) String() string {
	switch {
	case p.Eligible:
		return "eligible"
	case p.Unsynced:
		return "NOT ELIGIBLE: " + p.Rejected + " (allow-unsynced-promotion yes would allow it as a last resort)"
	}
	return "NOT ELIGIBLE: " + p.Rejected
}

// promotions indexes st's promotion verdicts by master and replica
// address; nil without st.
func promotions(st *runtime.Status) map[string]map[string]promotion {
	if st == nil {
		return nil
	}
	out := map[string]map[string]promotion{}
	for _, m := range st.Masters {
		out[m.Name] = map[string]promotion{}
		for _, r := range m.Replicas {
			out[m.Name][r.Address] = promotion(r)
		}
	}
	return out
}

// vipsentinelMaster returns the fields of the vmasterN line of INFO's
// VIPSentinel section for master name, or nil.
func vipsentinelMaster(kv map[string]string, name string) map[string]string {
	for k, v := range kv {
		if !strings.HasPrefix(k, "vmaster") {
			continue
		}
		fields := map[string]string{}
		for _, f := range strings.Split(v, ",") {
			if a, b, ok := strings.Cut(f, "="); ok {
				fields[a] = b
			}
		}
		if fields["name"] == name {
			return fields
		}
	}
	return nil
}

func yesNo(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

// maps runs a command whose reply is an array of flat key/value arrays (the
// RESP2 form of SENTINEL MASTERS, REPLICAS and SENTINELS).
func maps(ctx context.Context, cl *redis.Client, args ...any) ([]map[string]string, error) {
	v, err := cl.Do(ctx, args...).Slice()
	if err != nil {
		return nil, err
	}
	var out []map[string]string
	for _, e := range v {
		flat, ok := e.([]any)
		if !ok {
			return nil, fmt.Errorf("unexpected reply element %T", e)
		}
		m := map[string]string{}
		for i := 0; i+1 < len(flat); i += 2 {
			m[fmt.Sprint(flat[i])] = fmt.Sprint(flat[i+1])
		}
		out = append(out, m)
	}
	return out, nil
}

func parseInfo(s string) map[string]string {
	kv := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			kv[k] = v
		}
	}
	return kv
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
