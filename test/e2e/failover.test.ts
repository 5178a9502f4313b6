/**
 * End-to-end failover scenarios of the RedisHa chart, run as local processes by the e2e harness.
 * Every scenario reports the client-visible write gap (kill -> first acknowledged write through the
 * proxy) and the time to the first +switch-master.
 */
import { Duration } from 'cdk8s';
import { RedisAuth } from '../../src';
import { RedisClient, RedisError, SentinelWatcher, Writer, errText, sleep, waitUntil } from './harness';
import { AUTH_KEY, AUTH_SECRET, HaEnv } from './redis-ha-env';
import { KillResult, guard, healthy, masterKill, ms, report, sentinelsRestart, staleMasterRejoins, summary } from './core-scenarios';

jest.setTimeout(180_000);

const SHORT_DOWN_AFTER_MS = 2000;
const SHORT = { sentinel: { downAfter: Duration.millis(SHORT_DOWN_AFTER_MS), failoverTimeout: Duration.millis(6000) } };

afterAll(() => {
  console.log(`[e2e] ===== failover summary =====\n${summary.join('\n')}`);
});

// ------------------------------------------------------------------ scenarios, short timings

describe('RedisHa with short sentinel timings (down-after 2000ms)', () => {
  let env: HaEnv;
  let watcher: SentinelWatcher;
  const g = (fn: () => Promise<void>) => guard(() => env, fn);

  beforeAll(async () => {
    env = await HaEnv.create({ subnet: 211, name: 'short', props: SHORT });
    watcher = await env.watchSentinels();
  });
  afterAll(async () => {
    await watcher?.stop();
    await env?.shutdown();
  });

  it('1. bring-up: sentinels agree instance 1 is master; a proxied write is readable on every replica', g(async () => {
    const t0 = Date.now();
    await env.waitTopology(env.redis[0], 30_000, 'bring-up');
    await env.waitProxiesReady(30_000);
    const readyMs = Date.now() - t0;
    const c = await env.connectProxy();
    try {
      expect(await c.command('SET', 'bringup', 'hello')).toBe('OK');
    } finally {
      c.close();
    }
    for (const replica of env.redis.slice(1)) {
      await waitUntil(async () => (await env.on(replica, ['GET', 'bringup'])) === 'hello', 5000, `replica ${replica.name} has the write`);
    }
    const initial = `${env.hosts[0]}:6379`;
    await waitUntil(async () => (await env.sentinelMasters()).every((m) => m === initial), 15_000, `every sentinel naming ${initial}`);
    report('1 bring-up', { readyAfterStart: ms(readyMs) });
  }));

  let killed: KillResult | undefined;
  it('2a. master SIGKILL (short timings): a replica is promoted, writes resume, WAIT-acked writes survive', g(async () => {
    killed = await masterKill(env, '2a master-kill short', 30_000, watcher);
  }));

  it('3. old master restarts on its volume: rejoins as replica, never receives proxied writes while stale', g(async () => {
    expect(killed).toBeDefined();
    await staleMasterRejoins(env, killed!, watcher);
  }));

  it('8. a replica restarts: it resyncs from the current master', g(async () => {
    const master = await healthy(env);
    const replica = env.redis.find((p) => p !== master)!;
    const plain = new Writer(() => env.connectProxy(), { mode: 'set', prefix: '8:plain' }).start();
    try {
      await waitUntil(() => plain.acked.length > 20, 10_000, 'writer warmed up');
      await replica.kill('SIGKILL');
      const n0 = plain.acked.length;
      await waitUntil(() => plain.acked.length > n0 + 50, 10_000, 'writes while the replica is down');
      await replica.start();
      await env.waitTopology(master, 30_000, 'replica resynced');
      await sleep(300);
    } finally {
      await plain.stop();
    }
    expect(await env.on(master, ['WAIT', 2, 5000])).toBe(2);
    const c = await env.connectPod(replica);
    const v = await plain.verify(c).finally(() => c.close());
    const r = await env.role(replica);
    report('8 replica-restart', { replica: `redis${env.num(replica)}`, master: r.masterHost, acked: v.checked, missingOnReplica: v.missing.length });
    expect(r.masterHost).toBe(env.hostOf(master));
    expect(v.missing).toEqual([]);
  }));

  it('4. all sentinels restart on their volumes: same master (not the initial one), same ids, no failover', g(async () => {
    await sentinelsRestart(env, watcher, SHORT_DOWN_AFTER_MS);
  }));

  it('6. one proxy replica killed: reconnecting clients reach the master through the other', g(async () => {
    const master = await healthy(env);
    const plain = new Writer(() => env.connectProxy(), { mode: 'set', prefix: '6:plain' }).start();
    const victim = env.proxies[0];
    let killAt: number;
    let killedAt = 0;
    let endAt: number;
    try {
      await waitUntil(() => plain.acked.length > 50, 10_000, 'writer warmed up');
      killAt = Date.now();
      await victim.kill('SIGKILL');
      killedAt = Date.now();
      await waitUntil(() => plain.firstAckAfter(killedAt), 10_000, 'write through the remaining proxy');
      await sleep(300);
      endAt = Date.now();
    } finally {
      await plain.stop();
    }
    // Fresh connections through the Service all land on the master.
    for (let i = 0; i < 6; i++) {
      const c = await env.connectProxy();
      try {
        expect(await c.command('SET', `6:fresh:${i}`, 'x')).toBe('OK');
      } finally {
        c.close();
      }
    }
    const c = await env.connectPod(master);
    const v = await plain.verify(c).finally(() => c.close());
    report('6 proxy-kill', { writeGap: ms(plain.gapAfter(killAt, killedAt)), maxPause: ms(plain.maxAckPause(killAt, endAt)), acked: v.checked, lost: v.missing.length, failures: plain.failureSummary(3) });
    expect(v.missing).toEqual([]);
    await victim.start();
    await victim.waitReady(20_000);
  }));

  it('7. cold restart of every pod at once: exactly one master, all acknowledged data present', g(async () => {
    const master = await healthy(env);
    const plain = new Writer(() => env.connectProxy(), { mode: 'set', prefix: '7:plain' }).start();
    try {
      await waitUntil(() => plain.acked.length > 200, 10_000, 'writes before the cold restart');
    } finally {
      await plain.stop();
    }
    const t0 = Date.now();
    await Promise.all(env.cluster.pods.map((p) => p.kill('SIGKILL')));
    await Promise.all(env.cluster.pods.map((p) => p.start()));
    const after = await healthy(env, 60_000);
    const upMs = Date.now() - t0;
    // stays single-master for a while
    const masterCounts: number[] = [];
    for (let i = 0; i < 10; i++) {
      masterCounts.push((await env.masters()).length);
      await sleep(300);
    }
    const c = await env.connectPod(after);
    const v = await plain.verify(c).finally(() => c.close());
    report('7 cold-restart', { masterBefore: `redis${env.num(master)}`, masterAfter: `redis${env.num(after)}`, writableAfter: ms(upMs), acked: v.checked, lost: v.missing.length, masterCounts: masterCounts.join('') });
    expect(masterCounts.every((n) => n === 1)).toBe(true);
    expect(v.missing).toEqual([]);
  }));
  it('10. graceful stop of the master (SIGTERM, preStop hand-over): short gap, no acknowledged write lost', g(async () => {
    const master = await healthy(env);
    const plain = new Writer(() => env.connectProxy(), { mode: 'set', prefix: '10:plain' }).start();
    let stopAt = 0;
    let stopMs = 0;
    let endAt: number;
    try {
      await waitUntil(() => plain.acked.length > 50, 10_000, 'writer warmed up');
      stopAt = Date.now();
      await master.stop();
      stopMs = Date.now() - stopAt;
      await waitUntil(() => plain.firstAckAfter(stopAt + stopMs), 30_000, 'write through the proxy after the graceful stop');
      await sleep(500);
      endAt = Date.now();
    } finally {
      await plain.stop();
    }
    const next = await env.waitNewMaster(master, 10_000);
    await env.waitTopology(next, 20_000, 'after graceful stop');
    const c = await env.connectPod(next);
    const v = await plain.verify(c).finally(() => c.close());
    const sw = watcher.first('+switch-master', stopAt);
    report('10 graceful-master-stop', {
      stopped: `redis${env.num(master)}`,
      promoted: `redis${env.num(next)}`,
      stopTook: ms(stopMs),
      exit: `code=${master.main.exitCode} signal=${master.main.exitSignal}`,
      maxPause: ms(plain.maxAckPause(stopAt, endAt)),
      writeGapAfterStopReturned: ms(plain.gapAfter(stopAt + stopMs)),
      switchMaster: ms(sw && sw.at - stopAt),
      acked: v.checked,
      lost: v.missing.length,
      failures: plain.failureSummary(3),
    });
    expect(next).not.toBe(master);
    expect(v.missing).toEqual([]);
    await master.start();
    await env.waitTopology(next, 30_000, 'stopped master rejoined');
  }));
});

// ------------------------------------------------------------------ failure right after deployment

describe('RedisHa master failure right after bring-up (short timings)', () => {
  let env: HaEnv;
  let watcher: SentinelWatcher;
  beforeAll(async () => {
    // The replica pods start 2s after the others, as pods of a real deployment do not start together.
    env = await HaEnv.create({ subnet: 215, name: 'early', props: SHORT, replicaStartDelayMs: 2000 });
    watcher = await env.watchSentinels();
  });
  afterAll(async () => {
    await watcher?.stop();
    await env?.shutdown();
  });

  it('2c. master SIGKILL as soon as the chart is up (replicas started 2s late; sentinels agree, proxies ready): a replica is promoted', async () => {
    await guard(() => env, async () => {
      await masterKill(env, '2c master-kill right after bring-up', 30_000, watcher, { converged: false });
    })();
  });
});

// ------------------------------------------------------------------ chart defaults

describe('RedisHa with the chart defaults', () => {
  let env: HaEnv;
  let watcher: SentinelWatcher;
  beforeAll(async () => {
    env = await HaEnv.create({ subnet: 212, name: 'defaults' });
    watcher = await env.watchSentinels();
  });
  afterAll(async () => {
    await watcher?.stop();
    await env?.shutdown();
  });

  it('2b. master SIGKILL (default timings): a replica is promoted, writes resume, WAIT-acked writes survive', async () => {
    await guard(() => env, async () => {
      await masterKill(env, '2b master-kill defaults', 90_000, watcher);
    })();
  });
});

// ------------------------------------------------------------------ sentinel quorum

describe('RedisHa sentinel quorum (short timings)', () => {
  let env: HaEnv;
  let watcher: SentinelWatcher;
  const g = (fn: () => Promise<void>) => guard(() => env, fn);
  beforeAll(async () => {
    env = await HaEnv.create({ subnet: 213, name: 'quorum', props: SHORT });
    watcher = await env.watchSentinels();
  });
  afterAll(async () => {
    await watcher?.stop();
    await env?.shutdown();
  });

  it('5a. one sentinel down, then master crash: failover happens', g(async () => {
    await healthy(env);
    await env.sentinels[2].kill('SIGKILL');
    const r = await masterKill(env, '5a one-sentinel-down', 30_000, watcher, { heal: false });
    // restore: sentinel and old master back
    await env.sentinels[2].start();
    await r.oldMaster.start();
    await env.waitTopology(r.newMaster, 30_000, 'restored');
  }));

  it('5b. two of three sentinels down, then master crash: no failover, no second master', g(async () => {
    const master = await healthy(env);
    // Warmed up first: once fewer than the quorum of sentinels name the master, the proxy closes its sessions.
    const plain = new Writer(() => env.connectProxy(), { mode: 'set', prefix: '5b:plain' }).start();
    let killAt = Date.now();
    let mastersSeen: string[];
    try {
      await waitUntil(() => plain.acked.length > 20, 10_000, 'writer warmed up');
      await env.sentinels[0].kill('SIGKILL');
      await env.sentinels[1].kill('SIGKILL');
      killAt = Date.now();
      await master.kill('SIGKILL');
      const until = Date.now() + 4 * SHORT_DOWN_AFTER_MS + 4000;
      const seen = new Set<string>();
      while (Date.now() < until) {
        for (const m of await env.masters()) seen.add(m.name);
        await sleep(250);
      }
      mastersSeen = [...seen];
    } finally {
      await plain.stop();
    }
    const survivorView = await env.sentinelMaster(env.sentinels[2]);
    report('5b two-sentinels-down', {
      switchMaster: watcher.on('+switch-master', killAt).length,
      odown: watcher.on('+odown', killAt).length,
      sdown: watcher.on('+sdown', killAt).map((e) => e.message.split(' ')[0]).join(','),
      survivorView: survivorView?.split('-service')[0],
      writesAckedAfterKill: plain.acked.filter((r) => r.sentAt > killAt).length,
      mastersSeen,
    });
    expect(watcher.on('+switch-master', killAt)).toEqual([]);
    expect(mastersSeen).toEqual([]);
    expect(survivorView).toBe(`${env.hostOf(master)}:6379`);
    expect(plain.acked.filter((r) => r.sentAt > killAt + 1000)).toEqual([]);
  }));
});

// ------------------------------------------------------------------ auth

describe('RedisHa with auth from a Secret (short timings)', () => {
  const PASSWORD = `e2e p@ss "w0rd' \\ $HOME %s`;
  let env: HaEnv;
  let watcher: SentinelWatcher;
  const g = (fn: () => Promise<void>) => guard(() => env, fn);
  beforeAll(async () => {
    env = await HaEnv.create({
      subnet: 214,
      name: 'auth',
      props: { ...SHORT, auth: RedisAuth.fromSecret(AUTH_SECRET, AUTH_KEY) },
      password: PASSWORD,
    });
    watcher = await env.watchSentinels();
  });
  afterAll(async () => {
    await watcher?.stop();
    await env?.shutdown();
  });

  it('9a. bring-up with auth; commands without the password are refused directly and through the proxy', g(async () => {
    await env.waitTopology(env.redis[0], 30_000, 'bring-up with auth');
    await env.waitProxiesReady(30_000);
    const c = await env.connectProxy();
    try {
      expect(await c.command('SET', 'auth', 'ok')).toBe('OK');
    } finally {
      c.close();
    }
    const refused = async (host: string, port: number, args: string[] = ['GET', 'auth']): Promise<string> => {
      const n = await RedisClient.connect(host, port, { timeoutMs: 1000 });
      try {
        const r = await n.commandRaw(args);
        return r instanceof RedisError ? r.code : `accepted: ${JSON.stringify(r)}`;
      } catch (e) {
        return errText(e);
      } finally {
        n.close();
      }
    };
    const direct = await refused(env.redis[0].address, 6379);
    const replica = await refused(env.redis[1].address, 6379);
    const sentinel = await refused(env.sentinels[0].address, env.sentinelPort, ['SENTINEL', 'get-master-addr-by-name', env.masterName]);
    const viaProxy = await refused(env.proxies[0].address, 6379);
    report('9a auth', { direct, replica, sentinel, viaProxy });
    expect(direct).toBe('NOAUTH');
    expect(replica).toBe('NOAUTH');
    expect(viaProxy).toBe('NOAUTH');
    expect(sentinel).toBe('NOAUTH');
  }));

  it('9b. master SIGKILL with auth: failover, writes resume, WAIT-acked writes survive', g(async () => {
    await masterKill(env, '9b master-kill auth', 30_000, watcher);
  }));
});
