package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"time"

	"github.com/redis/go-redis/v9"
)

// agentFlags are the flags of the commands that talk to running agents
// (pause, resume, failover): where the local agent listens, where the
// password comes from, and how long to wait.
type agentFlags struct {
	addr, config string
	timeout      time.Duration
	fs           *flag.FlagSet
}

func (a *agentFlags) register(fs *flag.FlagSet) {
	a.fs = fs
	fs.StringVar(&a.addr, "addr", "127.0.0.1:26379", "address of the local agent's API")
	fs.StringVar(&a.config, "config", defaultConfigPath, "configuration file to read the password from (requirepass; sentinel-pass for other agents)")
	fs.DurationVar(&a.timeout, "timeout", 2*time.Second, "give up on an agent after this long")
}

// client connects to the agent at addr with the password statusPassword
// picks for it (REDISCLI_AUTH, else the configuration file).
func (a *agentFlags) client(addr string) (*redis.Client, error) {
	explicit := false
	a.fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "config" })
	pass, err := statusPassword("", addr, a.config, explicit, os.LookupEnv)
	if err != nil {
		return nil, err
	}
	return redis.NewClient(&redis.Options{
		Addr: addr, Password: pass, Protocol: 2, MaxRetries: -1,
		DialTimeout: a.timeout, ReadTimeout: a.timeout, WriteTimeout: a.timeout, DisableIdentity: true,
	}), nil
}

// parseInterleaved parses fs's flags wherever they appear among args
// (`vipsentinel pause mymaster --for 1h`: package flag stops at the first
// argument that is not a flag) and returns the other arguments in order.
// Everything after "--" is an argument.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// parseCommand is parseInterleaved with a command's answer to a bad
// command line: when ok is false the command exits with code (0 after
// --help, which fs has printed; the usage code after an error fs reported).
func parseCommand(fs *flag.FlagSet, args []string) (pos []string, code int, ok bool) {
	pos, err := parseInterleaved(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return nil, exitOK, false
	case err != nil:
		return nil, exitUsage, false
	}
	return pos, 0, true
}

// quietRedis silences go-redis's own log lines ("connection pool: failed
// to dial after 5 attempts") in the commands that talk to agents: they
// report the error themselves, once, on standard error.
func quietRedis() { redis.SetLogger(discardLogger{}) }

type discardLogger struct{}

func (discardLogger) Printf(context.Context, string, ...any) {}
