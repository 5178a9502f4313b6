/**
 * Upgrades: a re-synthesized chart applied the way `kubectl apply` applies it (every changed
 * Deployment's pod stopped at once, preStop hooks run, each new pod started when the old one is
 * gone). The preStop hooks take turns: at no moment are two Redis instances or two sentinels down,
 * the master goes last after a hand-over, and nothing acknowledged is lost.
 */
import { Duration } from 'cdk8s';
import { RedisEngine, RedisHaProps } from '../../src';
import { HaEnv } from './redis-ha-env';
import { Pod, errText, sleep } from './harness';
import { rolloutUnderWrites } from './upgrade-scenario';

jest.setTimeout(300_000);

/** The chart's default timings; a settings change the test can see in every pod. */
/**
 * The chart as the previous default synthesized it (Redis 7.0.15), so that the first upgrade is the one
 * existing users meet: to the default engine, Valkey, which reads Redis 7's data and replicates from it.
 */
const BASE: RedisHaProps = { engine: RedisEngine.redis({ image: 'redis:7.0.15' }), redis: { extraConfig: { 'maxmemory-policy': 'noeviction' } } };

interface Watch {
  /** Most Redis pods down at one sample, and most sentinels. */
  maxRedisDown: number;
  maxSentinelsDown: number;
  stop(): Promise<void>;
}

/**
 * Samples every 100 ms which Redis instances and sentinels serve (INFO replication, SENTINEL
 * get-master-addr-by-name). A pod is down while its process is not running or it refuses or fails
 * the request; an answer slower than 2 s (a loaded machine) leaves its state as it was.
 */
function watchPods(env: HaEnv): Watch {
  const w: Watch = { maxRedisDown: 0, maxSentinelsDown: 0, stop: () => Promise.resolve() };
  const pods = [...env.redis, ...env.sentinels];
  const up = new Map<Pod, boolean>(pods.map((p) => [p, true]));
  const serves = async (p: Pod): Promise<boolean | undefined> => {
    if (!p.running) return false;
    const ask = env.redis.includes(p)
      ? env.role(p).then(() => true)
      : env.on<string[] | null>(p, ['SENTINEL', 'get-master-addr-by-name', env.masterName], env.sentinelPort).then((r) => r !== null);
    const slow = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 2000).unref());
    return Promise.race([ask.catch((e) => (/timed out/.test(errText(e)) ? undefined : false)), slow]);
  };
  let on = true;
  const loop = (async () => {
    while (on) {
      const t = Date.now();
      const results = await Promise.all(pods.map(serves));
      pods.forEach((p, i) => {
        up.set(p, results[i] ?? (up.get(p) as boolean));
      });
      w.maxRedisDown = Math.max(w.maxRedisDown, env.redis.filter((p) => !up.get(p)).length);
      w.maxSentinelsDown = Math.max(w.maxSentinelsDown, env.sentinels.filter((p) => !up.get(p)).length);
      await sleep(Math.max(0, 100 - (Date.now() - t)));
    }
  })();
  w.stop = async () => {
    on = false;
    await loop;
  };
  return w;
}

describe('upgrades: one instance at a time, the master last', () => {
  let env: HaEnv;
  beforeAll(async () => {
    env = await HaEnv.create({ subnet: 219, name: 'upgrade', props: BASE, network: 'netns' });
  });
  afterAll(async () => env?.shutdown());

  async function upgrade(label: string, next: RedisHaProps): Promise<void> {
    const master = await env.settle(60_000, { proxy: true });
    const watch = watchPods(env);
    const { replaced, from, to, after, plain, durable, plainResult: vp, durableResult: vd } =
      await rolloutUnderWrites(env, label, HaEnv.synth(next).manifests, { resumeTimeoutMs: 30_000, onResumed: () => watch.stop() });
    const others = env.redis.filter((p) => p !== master);
    console.log(`[e2e] upgrade ${label}: replaced ${replaced.length} pods in ${to - from} ms; master redis${env.num(master)} -> redis${env.num(after)}; ` +
      `longest write pause ${plain.maxAckPause(from, to)} ms; most down at once: redis ${watch.maxRedisDown}, sentinels ${watch.maxSentinelsDown}; ` +
      `plain acked ${vp.checked}, lost ${vp.missing.length}; WAIT-acked ${durable.waitAcked.length}, lost ${vd.missingWaitAcked.length}; ` +
      `failures ${JSON.stringify(plain.failureSummary())}`);

    expect(replaced.map((r) => r.pod)).toEqual(expect.arrayContaining([...env.redis, ...env.sentinels]));
    // Never two Redis instances or two sentinels down at once (the master included, so when it went
    // down every other instance was serving).
    expect(watch.maxRedisDown).toBe(1);
    expect(watch.maxSentinelsDown).toBe(1);
    // The master went last: its pod was gone only after every other instance's new pod had started.
    const at = (p: Pod) => replaced.find((r) => r.pod === p) as { stoppedAt: number; startedAt: number };
    for (const p of others) expect(at(p).startedAt).toBeLessThan(at(master).stoppedAt);
    expect(after).not.toBe(master);
    expect(vp.missing).toEqual([]);
    expect(vd.missingWaitAcked).toEqual([]);
    expect(await env.masters()).toEqual([after]);
  }

  test('an image change: from the previous default, Redis 7.0.15, to the default Valkey', async () => {
    await upgrade('image', { redis: BASE.redis });
    for (const p of [...env.redis, ...env.sentinels]) {
      expect((await p.exec(['sh', '-c', 'exec "$SERVER_BIN" --version'])).stdout).toMatch(/^Valkey server v=9\.1\./);
    }
  });

  test('a settings change of the Redis instances and the sentinels', async () => {
    const next: RedisHaProps = {
      redis: { extraConfig: { 'maxmemory-policy': 'volatile-lru' } },
      sentinel: { failoverTimeout: Duration.seconds(20) },
    };
    await upgrade('config', next);
    for (const p of env.redis) {
      const c = await env.connectPod(p);
      try {
        expect(await c.command('CONFIG', 'GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'volatile-lru']);
      } finally {
        c.close();
      }
    }
    for (const s of env.sentinels) {
      const m = await env.on<string[]>(s, ['SENTINEL', 'MASTER', env.masterName], env.sentinelPort);
      expect(m[m.indexOf('failover-timeout') + 1]).toBe('20000');
    }
  });
});
