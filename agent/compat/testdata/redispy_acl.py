"""redis-py logging in to a sentinel as a named ACL user.

Usage: redispy_acl.py <host:port> <master-name>
Prints one JSON object on stdout; the Go test (acl_test.go) runs it against
redis-sentinel and against an agent with the same users and compares.
"""

import json
import sys

import redis
from redis.sentinel import Sentinel


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    name = sys.argv[2]
    out = {}

    def step(key, fn):
        try:
            out[key] = fn()
        except redis.exceptions.RedisError as e:
            out[key] = "%s: %s" % (type(e).__name__, e)

    app = redis.Redis(host=host, port=int(port), username="app", password="apppw", decode_responses=True)
    step("whoami", lambda: app.execute_command("ACL", "WHOAMI"))
    step("ping", app.ping)
    step("info", app.info)
    step("failover", lambda: app.execute_command("SENTINEL", "FAILOVER", name))
    bad = redis.Redis(host=host, port=int(port), username="app", password="wrong", decode_responses=True)
    step("wrong_password", bad.ping)
    anon = redis.Redis(host=host, port=int(port), decode_responses=True)
    step("anonymous", anon.ping)
    s = Sentinel([(host, int(port))], sentinel_kwargs={"username": "app", "password": "apppw"})
    step("discover", lambda: list(s.discover_master(name)))
    print(json.dumps(out))


main()
