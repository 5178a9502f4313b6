/**
 * What the established charts learned the hard way (anchor-lessons.md), each proven with real
 * redis-server, redis-sentinel and haproxy processes run by the e2e harness.
 */
import { Duration } from 'cdk8s';
import { ConnectionError, Pod, RedisClient, errText, sleep, waitUntil } from './harness';
import { HaEnv } from './redis-ha-env';

jest.setTimeout(180_000);

const SHORT = { downAfter: Duration.millis(2000), failoverTimeout: Duration.millis(6000) };
/**
 * Sentinels stopped as `kubectl delete --grace-period=2` does: these tests count sentinels, and a full
 * grace would have each stop wait out its turn (up to 50 s) for the one before it, which upgrade.test.ts tests.
 */
const DELETE_GRACE_MS = 2000;

/** Waits for a converged topology around the sentinels' current master and returns it. */
function settled(env: HaEnv, timeoutMs = 30_000): Promise<Pod> {
  return env.settle(timeoutMs);
}

/** Asks the sentinels to fail over and waits for another master. */
async function failover(env: HaEnv, from: Pod): Promise<Pod> {
  expect(await env.on(env.sentinels[0], ['SENTINEL', 'FAILOVER', env.masterName], env.sentinelPort)).toBe('OK');
  const next = await waitUntil(async () => {
    const m = await env.currentMasterPod().catch(() => undefined);
    return m && m !== from ? m : undefined;
  }, 30_000, 'a new master after SENTINEL FAILOVER');
  await env.waitTopology(next, 30_000, 'after failover');
  return next;
}

function pairs(v: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < v.length; i += 2) out[v[i]] = v[i + 1];
  return out;
}

describe('sentinel settings (lesson 7): chart-owned lines re-applied, learned state kept', () => {
  let env: HaEnv;
  beforeAll(async () => {
    env = await HaEnv.create({ subnet: 236, name: 'reapply', props: { sentinel: SHORT } });
  });
  afterAll(async () => env?.shutdown());

  test('re-synthesized with down-after 3000 and quorum 3, restarted sentinels show the new values and the current master', async () => {
    const first = await settled(env);
    const current = await failover(env, first);
    await env.waitSentinelsConverged(current, 30_000);
    const before = await Promise.all(env.sentinels.map(async (s) =>
      pairs(await env.on<string[]>(s, ['SENTINEL', 'MASTER', env.masterName], env.sentinelPort))));
    const ids = await Promise.all(env.sentinels.map((s) => env.on(s, ['SENTINEL', 'MYID'], env.sentinelPort)));

    const { manifests } = HaEnv.synth({ sentinel: { ...SHORT, downAfter: Duration.millis(3000), quorum: 3 } });
    await Promise.all(env.sentinels.map((s) => s.stop()));
    env.cluster.apply(manifests);
    const restartedAt = Date.now();
    await Promise.all(env.sentinels.map((s) => s.start()));
    await waitUntil(async () => (await env.sentinelMasters()).every((m) => m !== '?'), 15_000, 'the sentinels answering');

    for (const [i, s] of env.sentinels.entries()) {
      const m = pairs(await env.on<string[]>(s, ['SENTINEL', 'MASTER', env.masterName], env.sentinelPort));
      expect(m.ip).toBe(env.hostOf(current));
      expect(m.ip).not.toBe(env.hostOf(first));
      expect(m.quorum).toBe('3');
      expect(m['down-after-milliseconds']).toBe('3000');
      expect(Number(m['config-epoch'])).toBe(Number(before[i]['config-epoch']));
      expect(m['num-slaves']).toBe('2');
      expect(await env.on(s, ['SENTINEL', 'MYID'], env.sentinelPort)).toBe(ids[i]);
    }
    await env.waitSentinelsConverged(current, 30_000);
    expect(await env.masters()).toEqual([current]);
    const events = await env.watchSentinels();
    try {
      await sleep(4000); // longer than the new down-after: a needless failover would show by now
      expect(events.on('+switch-master', restartedAt)).toEqual([]);
    } finally {
      await events.stop();
    }
  });
});

describe('sentinel identity (lesson 7: deterministic myid)', () => {
  let env: HaEnv;
  beforeAll(async () => {
    env = await HaEnv.create({ subnet: 231, name: 'myid', props: { sentinel: SHORT } });
  });
  afterAll(async () => env?.shutdown());

  test('a sentinel whose volume is wiped returns with the same id: no ghost, no duplicate, failover still works', async () => {
    const master = await settled(env);
    const victim = env.sentinels[1];
    const id = await env.on(victim, ['SENTINEL', 'MYID'], env.sentinelPort);
    await victim.stop();
    env.cluster.wipeClaim(victim.claims.get('data')!);
    await victim.start();
    await waitUntil(async () => (await env.sentinelMaster(victim)) !== undefined, 15_000, 'the wiped sentinel answers');
    expect(await env.on(victim, ['SENTINEL', 'MYID'], env.sentinelPort)).toBe(id);
    // Every sentinel lists exactly the n-1 others, each once.
    await waitUntil(async () => {
      for (const s of env.sentinels) {
        const peers = (await env.on<string[][]>(s, ['SENTINEL', 'SENTINELS', env.masterName], env.sentinelPort)).map(pairs);
        const ids = peers.map((p) => p.runid);
        if (ids.length !== env.sentinels.length - 1 || new Set(ids).size !== ids.length) return false;
      }
      return true;
    }, 30_000, 'every sentinel lists the n-1 others exactly once');
    const next = await failover(env, master);
    expect(next).not.toBe(master);
    expect(await env.masters()).toEqual([next]);
  });
});

describe('proxy quorum (lesson 5): 5 sentinels, quorum 3', () => {
  let env: HaEnv;
  beforeAll(async () => {
    env = await HaEnv.create({ subnet: 232, name: 'quorum5', props: { sentinel: { ...SHORT, sentinels: 5, quorum: 3 } } });
  });
  afterAll(async () => env?.shutdown());

  async function proxyWrites(): Promise<boolean> {
    let c: RedisClient | undefined;
    try {
      c = await env.connectProxy();
      return (await c.command('SET', 'quorum:probe', '1')) === 'OK';
    } catch {
      return false;
    } finally {
      c?.close();
    }
  }

  test('the threshold is the chart\'s quorum: serves with 3 of 5 sentinels naming the master, not with 2', async () => {
    await settled(env);
    await env.waitProxiesReady(30_000);
    expect(env.ha.sentinels.quorum).toBe(3);
    const ready = async () => Promise.all(env.proxies.map((p) => p.probe('readiness')));
    try {
      await env.sentinels[4].stop(DELETE_GRACE_MS);
      await env.sentinels[3].stop(DELETE_GRACE_MS);
      await sleep(3000); // several check intervals
      expect(await proxyWrites()).toBe(true);
      expect(await ready()).toEqual(env.proxies.map(() => true));
      await env.sentinels[2].stop(DELETE_GRACE_MS);
      // Each proxy converges on its own: wait until every one refuses and reports itself unready.
      await waitUntil(async () => !(await proxyWrites()), 10_000, 'the proxy refusing with 2 of 5 sentinels naming the master');
      await waitUntil(async () => (await ready()).every((r) => !r), 10_000, 'every proxy unready with 2 of 5 sentinels naming the master');
      await env.sentinels[2].start();
      await waitUntil(proxyWrites, 15_000, 'the proxy serving again with 3 sentinels');
    } finally {
      await Promise.all(env.sentinels.filter((p) => !p.running).map((p) => p.start()));
    }
  });

  test('a client session is closed once fewer than the quorum of sentinels name its master', async () => {
    await settled(env);
    await env.waitProxiesReady(30_000);
    const c = await env.connectProxy();
    try {
      expect(await c.command('SET', 'guard:before', '1')).toBe('OK');
      await env.sentinels[4].stop(DELETE_GRACE_MS);
      await env.sentinels[3].stop(DELETE_GRACE_MS);
      await sleep(1000); // 3 of 5 still name the master: the session stays
      expect(await c.command('SET', 'guard:three', '1')).toBe('OK');
      await env.sentinels[2].stop(DELETE_GRACE_MS);
      await waitUntil(() => c.closed, 5000, 'the proxy closing the session with 2 of 5 sentinels naming the master');
    } finally {
      c.close();
      await Promise.all(env.sentinels.filter((p) => !p.running).map((p) => p.start()));
    }
  });

  test('a client session to a server that stops being master is closed at once', async () => {
    const master = await settled(env);
    await env.waitProxiesReady(30_000);
    const c = await env.connectProxy();
    try {
      expect(await c.command('SET', 'session:before', '1')).toBe('OK');
      const next = await failover(env, master);
      expect(next).not.toBe(master);
      // The old session must not reach the demoted server: it is cut, not answered with READONLY.
      const outcome = await c.command('SET', 'session:after', '1').then((r) => `reply ${String(r)}`, (e) => e);
      expect(outcome).toBeInstanceOf(ConnectionError);
    } finally {
      c.close();
    }
  });
});

describe('readiness probes (lesson 8), run as kubelet would', () => {
  let env: HaEnv;
  beforeAll(async () => {
    env = await HaEnv.create({ subnet: 233, name: 'probes', props: { sentinel: SHORT } });
  });
  afterAll(async () => env?.shutdown());

  test('Redis: ready as master and as a linked replica; a replica whose master is gone is not', async () => {
    const master = await settled(env);
    const replicas = env.redis.filter((p) => p !== master);
    await waitUntil(async () => (await Promise.all([master, ...replicas].map((p) => p.probe('readiness')))).every(Boolean), 15_000,
      'the master and its linked replicas ready');
    // Freeze the sentinels so no failover heals the link while we look.
    for (const s of env.sentinels) s.freeze();
    try {
      await master.kill('SIGKILL');
      await waitUntil(async () => !(await replicas[0].probe('readiness')), 10_000, 'the orphaned replica turning unready');
      expect(await replicas[0].probe('liveness')).toBe(true);
    } finally {
      for (const s of env.sentinels) s.thaw();
      if (!master.running) await master.start();
    }
    await settled(env);
  });

  test('sentinel: ready while it names a real master, not while it names a loopback address', async () => {
    const master = await settled(env);
    const s = env.sentinels[2];
    await waitUntil(() => s.probe('readiness'), 15_000, 'the sentinel ready');
    const masterHost = env.hostOf(master);
    try {
      await env.on(s, ['SENTINEL', 'REMOVE', env.masterName], env.sentinelPort);
      expect(await s.probe('readiness')).toBe(false); // no master at all
      expect(await s.probe('liveness')).toBe(true);
      // The other sentinels send this one a hello every 2 s; one naming the real master with a newer
      // epoch moves the entry there at once. So: a probe counts only if the sentinel named the loopback
      // address both before and after it.
      const named = async () => (await env.on<string[] | null>(s, ['SENTINEL', 'get-master-addr-by-name', env.masterName], env.sentinelPort))?.[0];
      let loopbackProbe: boolean | undefined;
      for (let attempt = 0; attempt < 5 && loopbackProbe === undefined; attempt++) {
        await env.on(s, ['SENTINEL', 'REMOVE', env.masterName], env.sentinelPort).catch(() => undefined);
        await env.on(s, ['SENTINEL', 'MONITOR', env.masterName, '127.0.0.1', 6379, 2], env.sentinelPort);
        const before = await named();
        const ready = await s.probe('readiness');
        if (before === '127.0.0.1' && (await named()) === '127.0.0.1') loopbackProbe = ready;
      }
      expect(loopbackProbe).toBe(false);
    } finally {
      await env.on(s, ['SENTINEL', 'REMOVE', env.masterName], env.sentinelPort).catch(() => undefined);
      await env.on(s, ['SENTINEL', 'MONITOR', env.masterName, masterHost, 6379, env.ha.sentinels.quorum], env.sentinelPort);
      await env.on(s, ['SENTINEL', 'SET', env.masterName, 'down-after-milliseconds', 2000], env.sentinelPort);
    }
    await waitUntil(() => s.probe('readiness'), 15_000, 'the sentinel ready again, naming the real master');
  });

  test('proxy: ready while it has a master to route to, not when no quorum names one', async () => {
    await settled(env);
    await env.waitProxiesReady(30_000);
    const proxy = env.proxies[0];
    expect(await proxy.probe('readiness')).toBe(true);
    for (const s of env.sentinels) await s.stop(DELETE_GRACE_MS);
    try {
      await waitUntil(async () => !(await proxy.probe('readiness')), 10_000, 'the proxy turning unready without sentinels');
      expect(await proxy.probe('liveness')).toBe(true);
    } finally {
      await Promise.all(env.sentinels.map((s) => s.start()));
    }
    await waitUntil(() => proxy.probe('readiness'), 15_000, 'the proxy ready again');
  });
});

describe('start without sentinels (lesson 2): bounded wait, no self-promotion on a guess', () => {
  let env: HaEnv;
  beforeAll(async () => {
    env = await HaEnv.create({
      // The chart's default down-after (5 s): with 2 s, sentinels starting after a power loss could mark the
      // named master down before its pod, polling them, has even started (a race of the harness, not the chart).
      subnet: 234, name: 'cold', props: { redis: { masterDiscoveryTimeout: Duration.seconds(10) } },
    });
  });
  afterAll(async () => env?.shutdown());

  test('cold restart with the sentinels last: Redis pods wait, then take the roles the sentinels name', async () => {
    const first = await settled(env);
    const master = await failover(env, first); // the current master is no longer the initial one
    const c = await env.connectPod(master);
    await c.command('SET', 'cold:key', 'kept').finally(() => c.close());
    await waitUntil(async () => (await env.on(first, ['GET', 'cold:key'])) === 'kept', 5000, 'replicated');

    await Promise.all(env.cluster.pods.map((p) => p.kill('SIGKILL'))); // power loss
    await Promise.all(env.redis.map((p) => p.start()));
    await sleep(4000); // the Redis pods are asking, and retrying
    for (const p of env.redis) {
      expect(p.running).toBe(true);
      expect(p.logs({ lines: 50 })).toMatch(/no sentinel answered for \S+ yet; retrying/);
    }
    await Promise.all([...env.sentinels, ...env.proxies].map((p) => p.start()));
    await env.waitTopology(master, 40_000, 'after the cold restart');
    expect(await env.masters()).toEqual([master]);
    expect(await env.on(master, ['GET', 'cold:key'])).toBe('kept');
    expect(master.logs({ lines: 80 })).toMatch(/sentinels name this instance \(\S+\) as master; starting as master/);
  });

  test('the initial master whose volume was last a replica refuses to promote itself when no sentinel answers', async () => {
    const initial = env.redis[0];
    let master = await settled(env);
    if (master === initial) master = await failover(env, master); // instance 1 must be a replica now
    // Restart it once as that replica, so its volume records the role.
    await initial.restart();
    await env.waitTopology(master, 30_000, 'instance 1 restarted as a replica');
    await Promise.all(env.cluster.pods.map((p) => p.kill('SIGKILL'))); // power loss
    await initial.start();
    await waitUntil(() => !initial.main.running, 40_000, 'instance 1 giving up after its discovery timeout');
    expect(initial.main.exitCode).toBe(1);
    expect(initial.logs({ lines: 50 })).toContain('no sentinel answered and this volume was last a replica; refusing to promote it on a guess');
    // With the sentinels back, the same pod starts as the replica it was.
    await Promise.all([...env.sentinels, ...env.redis.filter((p) => p !== initial), ...env.proxies].map((p) => p.start()));
    await initial.start();
    await env.waitTopology(master, 40_000, 'after instance 1 came back');
    expect(await env.masters()).toEqual([master]);
  });
});

describe('min-replicas-to-write (lesson 10)', () => {
  let env: HaEnv;
  beforeAll(async () => {
    env = await HaEnv.create({ subnet: 235, name: 'minrepl', props: { sentinel: SHORT } });
  });
  afterAll(async () => env?.shutdown());

  test('with both replicas stopped the master refuses writes (NOREPLICAS); with one back it accepts them', async () => {
    const master = await settled(env);
    const replicas = env.redis.filter((p) => p !== master);
    // Sentinels would not fail over (the master is up), but freeze them so nothing reconfigures.
    for (const s of env.sentinels) s.freeze();
    try {
      await Promise.all(replicas.map((r) => r.stop()));
      const refused = await env.on(master, ['SET', 'minrepl:a', '1']).then((r) => `reply ${String(r)}`, (e) => errText(e));
      expect(refused).toMatch(/NOREPLICAS Not enough good replicas to write/);
      for (const s of env.sentinels) s.thaw();
      await replicas[0].start();
      await waitUntil(async () => {
        try {
          return (await env.on(master, ['SET', 'minrepl:b', '1'])) === 'OK';
        } catch {
          return false;
        }
      }, 30_000, 'writes accepted with one replica back');
    } finally {
      for (const s of env.sentinels) s.thaw();
    }
  });
});
