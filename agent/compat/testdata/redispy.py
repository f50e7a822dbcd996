"""redis-py against vipsentinel agents: discovery, the SENTINEL wrappers,
and a master that follows a SENTINEL FAILOVER.

Usage: redispy.py <host:port,...> <master-name>
Prints one JSON object on stdout; the Go test (clients_test.go) checks it.
Every step records what it got rather than asserting, so that one failure
does not hide the others.
"""

import json
import sys
import time
import traceback

import redis
from redis.sentinel import Sentinel


def addr(hp):
    return "%s:%d" % (hp[0], int(hp[1]))


def main():
    sentinels = []
    for a in sys.argv[1].split(","):
        host, port = a.rsplit(":", 1)
        sentinels.append((host, int(port)))
    name = sys.argv[2]
    out = {"redis_py": redis.__version__, "errors": []}

    def step(key, fn):
        try:
            out[key] = fn()
        except Exception as e:  # record and go on
            out["errors"].append("%s: %s: %s" % (key, type(e).__name__, e))

    s = Sentinel(sentinels, socket_timeout=1.0)
    step("master_before", lambda: addr(s.discover_master(name)))
    step("slaves_before", lambda: sorted(addr(x) for x in s.discover_slaves(name)))

    # The wrappers of the first sentinel's client parse the replies with
    # redis-py's own callbacks (type casts, flag sets).
    sc = s.sentinels[0]

    def masters():
        m = sc.sentinel_masters()[name]
        return {
            "ip": m["ip"],
            "port": m["port"],
            "is_master": m["is_master"],
            "is_sdown": m["is_sdown"],
            "is_odown": m["is_odown"],
            "num_other_sentinels": m["num-other-sentinels"],
            "num_slaves": m["num-slaves"],
            "quorum": m["quorum"],
            "int_fields_are_int": all(
                isinstance(m[k], int)
                for k in ("port", "quorum", "num-slaves", "config-epoch", "down-after-milliseconds",
                          "failover-timeout", "parallel-syncs", "info-refresh", "role-reported-time")
            ),
        }

    step("masters", masters)
    step("master", lambda: {k: sc.sentinel_master(name)[k] for k in ("name", "ip", "port", "flags", "is_master")})
    step("slaves", lambda: [{"name": r["name"], "port": r["port"], "is_slave": r["is_slave"],
                             "master_port": r["master-port"], "master_link_status": r["master-link-status"]}
                            for r in sc.sentinel_slaves(name)])
    step("sentinels", lambda: sorted("%s:%d" % (x["ip"], x["port"]) for x in sc.sentinel_sentinels(name)))
    step("get_master_addr", lambda: [x.decode() if isinstance(x, bytes) else x
                                     for x in sc.sentinel_get_master_addr_by_name(name)])
    step("get_master_addr_unknown", lambda: sc.sentinel_get_master_addr_by_name("nosuch"))
    # redis-py 4.3's sentinel_ckquorum and sentinel_reset pass once=True on
    # to the reply callback and fail with a TypeError whatever the server
    # says (and its CKQUORUM callback compares the whole status line with
    # "OK"), so these two go through execute_command unparsed.
    step("ckquorum", lambda: sc.execute_command("SENTINEL", "CKQUORUM", name).decode())
    step("flushconfig", lambda: sc.sentinel_flushconfig())
    step("reset_nomatch", lambda: sc.execute_command("SENTINEL", "RESET", "nosuch*"))

    master = s.master_for(name, socket_timeout=1.0)
    step("set1", lambda: master.set("compat:k1", "v1"))
    # Wait for the replica to have it: a failover right after a write may
    # otherwise lose it (as with Redis Sentinel).
    step("replicas_acked", lambda: master.execute_command("WAIT", 1, 2000))
    step("get1", lambda: master.get("compat:k1").decode())

    # The failover: ask one agent, then keep writing through the same
    # client until a write lands on a different master.
    step("failover", lambda: sc.sentinel_failover(name))
    before = out.get("master_before")
    start = time.monotonic()
    deadline = start + 25
    writes_failed = 0
    out["master_after"] = None
    i = 0
    while time.monotonic() < deadline:
        i += 1
        try:
            master.set("compat:k2", str(i))
            now = addr(master.connection_pool.get_master_address())
            if now != before:
                out["master_after"] = now
                out["failover_seconds"] = round(time.monotonic() - start, 3)
                break
        except (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError, redis.ResponseError) as e:
            writes_failed += 1
            out["last_write_error"] = "%s: %s" % (type(e).__name__, e)
        time.sleep(0.05)
    out["writes_failed"] = writes_failed
    step("get2", lambda: master.get("compat:k2").decode())
    out["k2_written"] = str(i)
    step("get1_after", lambda: master.get("compat:k1").decode())
    step("discover_after", lambda: addr(s.discover_master(name)))
    step("slaves_after", lambda: sorted(addr(x) for x in s.discover_slaves(name)))
    print(json.dumps(out, default=tagged))


def tagged(o):
    # redis-py returns bytes where it does not decode; keep them visible.
    if isinstance(o, bytes):
        return {"bytes": o.decode("utf-8", "replace")}
    return repr(o)


if __name__ == "__main__":
    try:
        main()
    except Exception:
        print(json.dumps({"fatal": traceback.format_exc()}))
        sys.exit(1)
