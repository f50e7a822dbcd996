<?php
// phpredis's RedisSentinel against vipsentinel agents: every method, and a
// SENTINEL FAILOVER that the agents and a plain Redis client then follow.
//
// Usage: php phpredis.php <host:port,...> <master-name>
// Prints one JSON object on stdout; the Go test (clients_test.go) checks it.
// Every step records what it got rather than asserting, so that one failure
// does not hide the others.

$addrs = explode(',', $argv[1]);
$name = $argv[2];
$out = ['phpredis' => phpversion('redis'), 'errors' => []];

function sentinel($addr) {
    [$host, $port] = explode(':', $addr);
    if (version_compare(phpversion('redis'), '6.0', '>=')) {
        return new RedisSentinel(['host' => $host, 'port' => (int)$port, 'connectTimeout' => 1.0, 'readTimeout' => 1.0]);
    }
    return new RedisSentinel($host, (int)$port, 1.0, null, 0, 1.0);
}

function step($key, $fn) {
    global $out;
    try {
        $out[$key] = $fn();
    } catch (Throwable $e) {
        $out['errors'][] = $key . ': ' . get_class($e) . ': ' . $e->getMessage();
    }
}

function addr($pair) {
    return is_array($pair) && count($pair) == 2 ? $pair[0] . ':' . $pair[1] : $pair;
}

$s = sentinel($addrs[0]);
step('ping', fn() => $s->ping());
// RedisSentinel::myid() came with phpredis 6.
$out['myid_supported'] = method_exists($s, 'myid');
if ($out['myid_supported']) {
    step('myid', fn() => $s->myid());
}
step('master_before', fn() => addr($s->getMasterAddrByName($name)));
step('unknown_master_addr', fn() => $s->getMasterAddrByName('nosuch'));
step('master', function () use ($s, $name) {
    $m = $s->master($name);
    return ['name' => $m['name'], 'ip' => $m['ip'], 'port' => $m['port'], 'flags' => $m['flags'],
            'num-slaves' => $m['num-slaves'], 'num-other-sentinels' => $m['num-other-sentinels'],
            'quorum' => $m['quorum'], 'fields' => count($m)];
});
step('unknown_master', fn() => $s->master('nosuch'));
step('masters', fn() => array_map(fn($m) => $m['name'] . '@' . $m['ip'] . ':' . $m['port'], $s->masters()));
step('slaves', fn() => array_map(fn($r) => $r['name'] . ' ' . $r['flags'] . ' ' . $r['master-link-status'], $s->slaves($name)));
step('sentinels', function () use ($s, $name) {
    $l = array_map(fn($x) => $x['ip'] . ':' . $x['port'], $s->sentinels($name));
    sort($l);
    return $l;
});
step('ckquorum', fn() => $s->ckquorum($name));
step('ckquorum_unknown', fn() => $s->ckquorum('nosuch'));
step('flushconfig', fn() => $s->flushconfig());
step('reset_nomatch', fn() => $s->reset('nosuch*'));

$before = $out['master_before'] ?? '';
step('set1', function () use ($before) {
    [$h, $p] = explode(':', $before);
    $r = new Redis();
    $r->connect($h, (int)$p, 1.0);
    $ok = $r->set('compat:php1', 'v1');
    // Wait for the replica to have it: a failover right after a write
    // may otherwise lose it (as with Redis Sentinel).
    return ['set' => $ok, 'replicas_acked' => $r->rawCommand('WAIT', 1, 2000)];
});

step('failover', fn() => $s->failover($name));
step('failover_unknown', fn() => $s->failover('nosuch'));

// Every agent must move to the new master.
$start = microtime(true);
$after = [];
while (microtime(true) - $start < 25) {
    $after = [];
    foreach ($addrs as $a) {
        try {
            $after[$a] = addr(sentinel($a)->getMasterAddrByName($name));
        } catch (Throwable $e) {
            $after[$a] = 'error: ' . $e->getMessage();
        }
    }
    $moved = array_filter($after, fn($x) => $x !== $before && strpos($x, 'error') !== 0);
    if (count($moved) == count($addrs) && count(array_unique($after)) == 1) {
        $out['failover_seconds'] = round(microtime(true) - $start, 3);
        break;
    }
    usleep(50000);
}
$out['master_after'] = $after;

$new = reset($after);
step('set2', function () use ($new) {
    [$h, $p] = explode(':', $new);
    $r = new Redis();
    $r->connect($h, (int)$p, 1.0);
    $ok = $r->set('compat:php2', 'v2');
    return ['set' => $ok, 'php1' => $r->get('compat:php1'), 'php2' => $r->get('compat:php2'),
            'role' => $r->info('replication')['role']];
});
step('reset', fn() => $s->reset($name));
step('master_after_reset', fn() => addr($s->getMasterAddrByName($name)));

echo json_encode($out), "\n";
