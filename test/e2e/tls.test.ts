/**
 * The chart with TLS on every hop, from a CA and certificate generated with openssl: bring-up and
 * failover through the proxy, and plain-text connections refused.
 */
import { Duration } from 'cdk8s';
import { RedisTls } from '../../src';
import { makeCerts } from '../util/certs';
import { Writer, sleep, waitUntil } from './harness';
import { HaEnv } from './redis-ha-env';

jest.setTimeout(180_000);

describe('RedisHa with TLS (short timings)', () => {
  let env: HaEnv;
  beforeAll(async () => {
    const tls = RedisTls.fromSecret('redis-ha-e2e-tls');
    const { manifests } = HaEnv.synth({ tls });
    // One certificate for every Service name, short and in-cluster, as a wildcard Certificate would give.
    const names = manifests.filter((o) => o.kind === 'Service').flatMap((o) => [o.metadata.name, `${o.metadata.name}.default.svc.cluster.local`]);
    const certs = makeCerts(names);
    env = await HaEnv.create({
      subnet: 237, name: 'tls', certs,
      props: { tls, sentinel: { downAfter: Duration.millis(2000), failoverTimeout: Duration.millis(6000) } },
    });
  });
  afterAll(async () => env?.shutdown());

  test('bring-up over TLS: sentinels agree, a write through the proxy reaches every replica', async () => {
    await env.waitTopology(env.redis[0], 40_000, 'TLS bring-up');
    await env.waitProxiesReady(30_000);
    const c = await env.connectProxy();
    try {
      expect(await c.command('SET', 'tls:hello', 'world')).toBe('OK');
    } finally {
      c.close();
    }
    for (const r of env.redis.slice(1)) {
      await waitUntil(async () => (await env.on(r, ['GET', 'tls:hello'])) === 'world', 5000, `replica ${r.name} has the write`);
    }
  });

  test('plain-text connections are refused by Redis, the sentinels and the proxy', async () => {
    const plain = async (host: string, port: number) => {
      const { RedisClient } = await import('./harness');
      try {
        const c = await RedisClient.connect(host, port, { timeoutMs: 1000 });
        try {
          return String(await c.command('PING'));
        } finally {
          c.close();
        }
      } catch {
        return 'refused';
      }
    };
    expect(await plain(env.redis[0].address, 6379)).toBe('refused');
    expect(await plain(env.sentinels[0].address, 26379)).toBe('refused');
    expect(await plain(env.proxies[0].address, 6379)).toBe('refused');
  });

  test('master SIGKILL over TLS: a replica is promoted and writes through the proxy resume without loss of WAIT-acked writes', async () => {
    const master = env.redis[0];
    await env.waitSentinelsConverged(master, 30_000);
    const watcher = await env.watchSentinels();
    const plainW = new Writer(() => env.connectProxy(), { mode: 'set', prefix: 'tls:plain' }).start();
    const durable = new Writer(() => env.connectProxy(), { mode: 'wait', prefix: 'tls:wait', waitMs: 1000 }).start();
    try {
      await waitUntil(() => plainW.acked.length > 50 && durable.waitAcked.length > 20, 10_000, 'writers warmed up');
      const killAt = Date.now();
      await master.kill('SIGKILL');
      await waitUntil(() => plainW.firstAckAfter(killAt), 30_000, 'a write through the proxy after the kill');
      await sleep(500);
      await plainW.stop();
      await durable.stop();
      const next = await env.waitNewMaster(master, 10_000);
      await env.waitTopology(next, 20_000, 'after the TLS failover');
      const c = await env.connectPod(next);
      const vd = await durable.verify(c).finally(() => c.close());
      const sw = watcher.first('+switch-master', killAt);
      console.log(`[e2e] tls master-kill: writeGap=${plainW.gapAfter(killAt)}ms switchMaster=${sw ? sw.at - killAt : 'n/a'}ms waitAcked=${durable.waitAcked.length} waitAckedLost=${vd.missingWaitAcked.length}`);
      expect(vd.missingWaitAcked).toEqual([]);
      expect(await env.masters()).toEqual([next]);
    } finally {
      await plainW.stop();
      await durable.stop();
      await watcher.stop();
    }
  });
});
