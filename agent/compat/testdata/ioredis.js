// ioredis against vipsentinel agents: a master client with the failover
// detector, a replica client, and a SENTINEL FAILOVER that the master client
// must follow after seeing +switch-master.
//
// Usage: node ioredis.js <host:port,...> <master-name> <node_modules dir>
// Prints one JSON object on stdout; the Go test (clients_test.go) checks it.
// Every step records what it got rather than asserting, so that one failure
// does not hide the others.
"use strict";

const util = require("util");
const modules = process.argv[4];
const Redis = require(modules + "/ioredis");
const debug = require(modules + "/debug");

// ioredis says through its debug logger that its failover detector saw
// +switch-master; keep those lines.
const logs = [];
debug.log = (...args) => logs.push(util.format(...args));
debug.enable("ioredis:FailoverDetector,ioredis:SentinelConnector");

const sentinels = process.argv[2].split(",").map((a) => {
  const i = a.lastIndexOf(":");
  return { host: a.slice(0, i), port: Number(a.slice(i + 1)) };
});
const name = process.argv[3];
const out = { ioredis: require(modules + "/ioredis/package.json").version, errors: [] };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function step(key, fn) {
  try {
    out[key] = await fn();
  } catch (e) {
    out.errors.push(`${key}: ${e && e.message}`);
  }
}

function until(what, ms, fn) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    fn(() => {
      clearTimeout(t);
      resolve();
    });
  });
}

async function main() {
  const common = { connectTimeout: 1000, sentinelRetryStrategy: () => 100, retryStrategy: () => 50 };

  // Independent subscribers: the payload of +switch-master must be the
  // exact five tokens clients split on.
  const watchers = sentinels.map((s) => new Redis({ ...common, host: s.host, port: s.port }));
  const switches = [];
  for (const w of watchers) {
    w.on("error", (e) => out.errors.push(`watcher: ${e && e.message}`));
    w.on("message", (ch, msg) => switches.push(msg));
    // ioredis sends SUBSCRIBE at once on a connection that is not ready
    // yet (it may run during loading), so a SUBSCRIBE issued right after
    // construction can overtake the ready check: the check's INFO is then
    // refused in subscriber mode and ioredis reconnects, missing messages
    // meanwhile. Subscribe once the connection is ready.
    if (w.status !== "ready") await new Promise((resolve) => w.once("ready", resolve));
    await w.subscribe("+switch-master");
  }

  const master = new Redis({ ...common, sentinels, name, failoverDetector: true, sentinelMaxConnections: 10 });
  master.on("error", () => {});
  const readyAddrs = [];
  master.on("ready", () => readyAddrs.push(`${master.stream.remoteAddress}:${master.stream.remotePort}`));
  const subscribed = until("failoverSubscribed", 10000, (done) => master.once("failoverSubscribed", done));

  await step("set1", () => master.set("compat:io1", "v1"));
  await step("get1", () => master.get("compat:io1"));
  // Wait for the replica to have it: a failover right after a write may
  // otherwise lose it (as with Redis Sentinel).
  await step("replicas_acked", () => master.call("WAIT", 1, 2000));
  out.master_before = readyAddrs[readyAddrs.length - 1] || null;
  await step("detector_subscribed", () => subscribed.then(() => true));

  const replica = new Redis({ ...common, sentinels, name, role: "slave" });
  replica.on("error", () => {});
  await step("replica_role", async () => {
    const info = await replica.info("replication");
    return /role:(\w+)/.exec(info)[1];
  });
  await step("replica_addr", () => `${replica.stream.remoteAddress}:${replica.stream.remotePort}`);
  replica.disconnect();

  const admin = new Redis({ ...common, host: sentinels[0].host, port: sentinels[0].port });
  await step("failover", () => admin.call("SENTINEL", "FAILOVER", name));
  admin.disconnect();

  const start = Date.now();
  let i = 0;
  let failed = 0;
  out.master_after = null;
  while (Date.now() - start < 25000) {
    i++;
    try {
      await master.set("compat:io2", String(i));
      const now = `${master.stream.remoteAddress}:${master.stream.remotePort}`;
      if (now !== out.master_before) {
        out.master_after = now;
        out.failover_seconds = (Date.now() - start) / 1000;
        break;
      }
    } catch (e) {
      failed++;
      out.last_write_error = e.message;
    }
    await sleep(50);
  }
  out.writes_failed = failed;
  out.k2_written = String(i);
  await step("get2", () => master.get("compat:io2"));
  await step("get1_after", () => master.get("compat:io1"));
  out.reconnects = readyAddrs.length - 1;
  // Let the watchers receive +switch-master from every agent.
  const deadline = Date.now() + 5000;
  while (switches.length < sentinels.length && Date.now() < deadline) await sleep(50);
  out.switch_master = switches;
  out.detector_saw_switch = logs.some((l) => l.includes("Failover detected"));
  out.detector_logs = logs.filter((l) => l.includes("FailoverDetector")).slice(-5);
  master.disconnect();
  for (const w of watchers) w.disconnect();
}

main()
  .catch((e) => out.errors.push(`fatal: ${e && e.stack}`))
  .finally(() => {
    console.log(JSON.stringify(out));
    process.exit(0);
  });
