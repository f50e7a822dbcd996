#!/bin/sh
# Regenerates redis-rewritten.conf: a sentinel.conf as redis-sentinel 7.0
# rewrites it after discovery, a failover and SENTINEL SET / CONFIG SET.
# Everything runs on 127.0.0.1 with random ports; all processes are killed
# on exit. Usage: sh gen-rewritten.sh > redis-rewritten.conf
set -eu
work=$(mktemp -d)
base=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 30000))
m=$base; r=$((base + 1)); o=$((base + 2)); s1=$((base + 3)); s2=$((base + 4))
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT INT TERM
srv() { port=$1; shift; redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" --requirepass "s3cret" --masterauth "s3cret" "$@" >/dev/null 2>&1 & pids="$pids $!"; }
srv $m
srv $r --replicaof 127.0.0.1 $m
srv $o
for s in $s1 $s2; do
	cat > "$work/s$s.conf" <<CONF
# Operator-written part: kept by the rewrite engine (comments too).
port $s
bind 127.0.0.1
dir "$work"
sentinel monitor mymaster 127.0.0.1 $m 1
sentinel down-after-milliseconds mymaster 5000
sentinel auth-pass mymaster "s3cret"
sentinel monitor other 127.0.0.1 $o 1
sentinel auth-pass other "s3cret"
CONF
	redis-sentinel "$work/s$s.conf" >>"${LOG:-/dev/null}" 2>&1 & pids="$pids $!"
done
wait_for() { i=0; until eval "$1" >/dev/null 2>&1; do i=$((i + 1)); [ $i -lt 200 ] || { echo "timeout: $1" >&2; exit 1; }; sleep 0.1; done; }
wait_for "redis-cli -p $s1 sentinel replicas mymaster | grep -q $r"
wait_for "[ \$(redis-cli -p $s1 sentinel master mymaster | grep -A1 '^num-other-sentinels' | tail -1) = 1 ]"
cli() { redis-cli -p $s1 "$@" >/dev/null; }
cli sentinel set mymaster failover-timeout 60000
cli sentinel set mymaster parallel-syncs 2
cli sentinel set other quorum 1
cli sentinel set other master-reboot-down-after-period 1000
cli sentinel config set announce-ip 127.0.0.1
cli sentinel config set resolve-hostnames yes
cli sentinel config set sentinel-user sentuser
cli sentinel failover mymaster
wait_for "redis-cli -p $s1 sentinel get-master-addr-by-name mymaster | grep -q $r"
wait_for "redis-cli -p $s1 sentinel replicas mymaster | grep -q $m"
# After the failover: renaming CONFIG before it would make the promotion's
# MULTI abort (the replica knows no MYCONFIG).
cli sentinel set mymaster rename-command CONFIG MYCONFIG
cli sentinel flushconfig
sed "s|$work|/var/lib/redis|g" "$work/s$s1.conf"
