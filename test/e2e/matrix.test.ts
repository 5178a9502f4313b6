/**
 * The core scenarios on every engine line and HAProxy version the chart supports besides the
 * default (Valkey 9.1 with HAProxy 3.0, which the whole e2e suite runs): bring-up, auth, TLS, a
 * master crash, the stale master's return, a restart of every sentinel, the Jepsen partition, and a
 * sentinel cut off alone after a failover (issue 19).
 * Each row runs the real binaries of its lines (Debian 12's, or a build from
 * scripts/ensure-engines.sh; see harness/images.ts) and first proves which ones answered.
 * A row whose line the package mirror did not provide is skipped, loudly.
 * `npm test` runs the Redis 8.0 row (the chart's other engine); `npm run test:matrix` (test/run-matrix.sh,
 * E2E_MATRIX=extra) runs the others, repetitions on lines the chart does not default to; E2E_MATRIX=all
 * runs every row.
 */
import { Duration } from 'cdk8s';
import { ProxyEngine, RedisAuth, RedisEngine, RedisHaProps, RedisTls } from '../../src';
import { makeCerts } from '../util/certs';
import { RedisClient, RedisError, SentinelWatcher, canRun, engineLine, errText, parseInfo, waitUntil } from './harness';
import { AUTH_KEY, AUTH_SECRET, HaEnv } from './redis-ha-env';
import { guard, masterKill, report, sentinelsRestart, staleMasterRejoins, summary } from './core-scenarios';
import { FailoverCause, jepsenCut, loneSentinelsAfterFailover, runPartition } from './partition-scenario';
import { plainText } from './tls-checks';

jest.setTimeout(240_000);

const DOWN_AFTER_MS = 2000;
const FAILOVER_TIMEOUT_MS = 6000;
const SENTINEL = { downAfter: Duration.millis(DOWN_AFTER_MS), failoverTimeout: Duration.millis(FAILOVER_TIMEOUT_MS) };
const PASSWORD = 'matrix p@ss "w0rd\' \\ $HOME';

interface Row {
  /** For test names: the engine line and the HAProxy line. */
  readonly name: string;
  readonly engine: RedisEngine;
  readonly proxy: ProxyEngine;
  /** Subnet of the auth environment; the partition environment uses subnet + 1, the TLS one subnet + 2. */
  readonly subnet: number;
  /** Run by `npm test` (CI); the other rows by `npm run test:matrix`. */
  readonly everyRun: boolean;
}

// Each image names the version that runs (the harness maps it to the build of its line).
const ROWS: Row[] = [
  { name: 'redis 7.0 (Debian 12) + haproxy 2.6 (Debian 12)', subnet: 221, everyRun: false,
    engine: RedisEngine.redis({ image: 'redis:7.0.15' }), proxy: ProxyEngine.haproxy({ image: 'haproxy:2.6.12' }) },
  { name: 'redis 8.0 + haproxy 3.0', subnet: 224, everyRun: true,
    engine: RedisEngine.redis({ image: 'redis:8.0.6' }), proxy: ProxyEngine.haproxy() },
  { name: 'valkey 8.1 + haproxy 2.6 (Debian 12)', subnet: 227, everyRun: false,
    engine: RedisEngine.valkey({ image: 'valkey/valkey:8.1.1' }), proxy: ProxyEngine.haproxy({ image: 'haproxy:2.6.12' }) },
  { name: 'valkey 9.1 + haproxy 3.2', subnet: 251, everyRun: false,
    engine: RedisEngine.valkey(), proxy: ProxyEngine.haproxy({ image: 'haproxy:3.2.26' }) },
];

/** The error code a command gets without the password (over TLS when the chart has it). */
async function noPassword(env: HaEnv, host: string, port: number, args: string[]): Promise<string> {
  const c = await RedisClient.connect(host, port, { timeoutMs: 1000, tls: env.tls });
  try {
    const r = await c.commandRaw(args);
    return r instanceof RedisError ? r.code : `accepted: ${JSON.stringify(r)}`;
  } finally {
    c.close();
  }
}

afterAll(() => {
  console.log(`[e2e] ===== engine matrix summary =====\n${summary.join('\n')}`);
});

const MATRIX = process.env.E2E_MATRIX ?? 'every-run';
if (!['every-run', 'extra', 'all'].includes(MATRIX)) throw new Error(`E2E_MATRIX=${MATRIX}: expected every-run (the default), extra or all`);
const selected = ROWS.filter((r) => MATRIX === 'all' || r.everyRun === (MATRIX === 'every-run'));
const runnable = (row: Row) => [row.engine.image, row.proxy.image].every((i) => canRun(i));
for (const row of selected.filter((r) => !runnable(r))) {
  const missing = [row.engine.image, row.proxy.image].filter((i) => !canRun(i)).map((i) => engineLine(i));
  console.warn(`[e2e] SKIPPED matrix row "${row.name}": no build of ${missing.map((m) => `${m?.engine} ${m?.line}`).join(', ')}` +
    ' in the engine cache (scripts/ensure-engines.sh builds each line whose source package the mirror serves)');
}

describe.each(selected.filter(runnable).map((r) => [r.name, r] as const))('%s', (_name, row) => {
  const props: RedisHaProps = { engine: row.engine, proxy: { engine: row.proxy }, sentinel: SENTINEL };

  // TLS pods start slower in the harness (their /etc/redis-ha mounts need a layer over the host's /etc),
  // so the restart scenarios run with auth only and TLS has its own environment.
  describe('auth', () => {
    let env: HaEnv;
    let watcher: SentinelWatcher;
    const g = (fn: () => Promise<void>) => guard(() => env, fn);
    beforeAll(async () => {
      env = await HaEnv.create({
        subnet: row.subnet, name: `matrix${row.subnet}`, password: PASSWORD,
        props: { ...props, auth: RedisAuth.fromSecret(AUTH_SECRET, AUTH_KEY) },
      });
      watcher = await env.watchSentinels();
    });
    afterAll(async () => {
      await watcher?.stop();
      await env?.shutdown();
    });

    test('bring-up: the row\'s own binaries answer, sentinels agree, a proxied write reaches every replica', g(async () => {
      await env.waitTopology(env.redis[0], 40_000, 'bring-up');
      await env.waitProxiesReady(30_000);
      const want = engineLine(row.engine.image)!;
      const info = parseInfo(await env.on<string>(env.redis[0], ['INFO', 'server']));
      const server = want.engine === 'valkey' ? info.valkey_version : info.redis_version;
      const sentinelInfo = parseInfo(await env.on<string>(env.sentinels[0], ['INFO', 'server'], env.sentinelPort));
      // Valkey 9 says server_mode unless extended-redis-compatibility is on.
      const sentinelMode = sentinelInfo.redis_mode ?? sentinelInfo.server_mode;
      const proxyVersion = (await env.proxies[0].exec(['haproxy', '-v'])).stdout.split('\n')[0];
      report(`matrix ${row.name} bring-up`, { server: `${want.engine} ${server}`, sentinelMode, proxy: proxyVersion });
      expect(server.startsWith(`${want.line}.`)).toBe(true);
      expect(sentinelMode).toBe('sentinel');
      expect(proxyVersion).toContain(`version ${engineLine(row.proxy.image)!.line}.`);
      // The proxy's own Prometheus exporter, built into every supported HAProxy image.
      const metrics = await (await fetch(`http://${env.proxies[0].address}:8404/metrics`)).text();
      expect(metrics).toMatch(/^haproxy_backend_active_servers\{proxy="redis-master"\} \d+$/m);
      const c = await env.connectProxy();
      try {
        expect(await c.command('SET', 'matrix', row.name)).toBe('OK');
      } finally {
        c.close();
      }
      for (const replica of env.redis.slice(1)) {
        await waitUntil(async () => (await env.on(replica, ['GET', 'matrix'])) === row.name, 5000, `replica ${replica.name} has the write`);
      }
    }));

    test('auth: without the password Redis, the sentinels and the proxy answer NOAUTH', g(async () => {
      const seen = {
        redis: await noPassword(env, env.redis[0].address, 6379, ['GET', 'matrix']),
        sentinel: await noPassword(env, env.sentinels[0].address, env.sentinelPort, ['SENTINEL', 'get-master-addr-by-name', env.masterName]),
        proxy: await noPassword(env, env.proxies[0].address, 6379, ['GET', 'matrix']),
      };
      report(`matrix ${row.name} auth`, seen);
      expect(seen).toEqual({ redis: 'NOAUTH', sentinel: 'NOAUTH', proxy: 'NOAUTH' });
    }));

    let killed: Awaited<ReturnType<typeof masterKill>> | undefined;
    test('master crash: a replica is promoted, writes resume, WAIT-acked writes survive', g(async () => {
      killed = await masterKill(env, `matrix ${row.name} master-kill`, 30_000, watcher);
    }));

    test('the stale master returns on its volume as a replica and never serves proxied writes', g(async () => {
      expect(killed).toBeDefined();
      await staleMasterRejoins(env, killed!, watcher);
    }));

    test('every sentinel restarts: same master, same ids, no failover', g(async () => {
      await sentinelsRestart(env, watcher, DOWN_AFTER_MS);
    }));
  });

  describe('TLS on every hop', () => {
    let env: HaEnv;
    let watcher: SentinelWatcher;
    const g = (fn: () => Promise<void>) => guard(() => env, fn);
    beforeAll(async () => {
      const tls = RedisTls.fromSecret('redis-ha-e2e-tls');
      const { manifests } = HaEnv.synth({ ...props, tls });
      const names = manifests.filter((o) => o.kind === 'Service').flatMap((o) => [o.metadata.name, `${o.metadata.name}.default.svc.cluster.local`]);
      env = await HaEnv.create({ subnet: row.subnet + 2, name: `matrixtls${row.subnet}`, certs: makeCerts(names), props: { ...props, tls } });
      watcher = await env.watchSentinels();
    });
    afterAll(async () => {
      await watcher?.stop();
      await env?.shutdown();
    });

    test('bring-up over TLS; plain text is refused by Redis, the sentinels and the proxy', g(async () => {
      await env.settle(60_000, { proxy: true });
      const seen = {
        redis: await plainText(env.redis[0].address, 6379),
        sentinel: await plainText(env.sentinels[0].address, env.sentinelPort),
        proxy: await plainText(env.proxies[0].address, 6379),
      };
      report(`matrix ${row.name} tls`, seen);
      expect(seen).toEqual({ redis: 'refused', sentinel: 'refused', proxy: 'refused' });
    }));

    test('master crash over TLS: a replica is promoted, writes resume, WAIT-acked writes survive', g(async () => {
      await masterKill(env, `matrix ${row.name} master-kill tls`, 30_000, watcher);
    }));
  });

  describe('partition (network: netns)', () => {
    let env: HaEnv;
    beforeAll(async () => {
      env = await HaEnv.create({ subnet: row.subnet + 1, name: `matrixnet${row.subnet}`, props, network: 'netns' });
    });
    afterAll(async () => env?.shutdown());

    test('Jepsen: the master and one proxy cut off for 3 x down-after; one master after, no WAIT-acked write lost', async () => {
      try {
        const o = await runPartition(env, `matrix-${row.subnet}`, { cuts: jepsenCut(env), durationMs: 3 * DOWN_AFTER_MS });
        report(`matrix ${row.name} jepsen`, {
          master: `redis${o.masterBefore}->redis${o.masterAfter}`, acked: o.plainAcked, lost: o.plainLost,
          latestLostAckMs: o.latestLostAckMs, waitAcked: o.waitAcked, waitLost: o.waitLost,
        });
        expect(o.mastersAfter).toBe(1);
        expect(o.masterAfter).not.toBe(o.masterBefore);
        expect(o.waitLost).toBe(0);
        // As test/e2e/partition.test.ts: what a cut may cost is bounded to 3 s after it.
        expect(o.latestLostAckMs).toBeLessThanOrEqual(3000);
      } catch (e) {
        console.log(`MATRIX PARTITION FAILED (${row.name}): ${errText(e)}\n${env.dumpLogs(30)}`);
        throw e;
      }
    });

    // Issue 19 (docs/sentinel-stale-down-flags): after a failover, a sentinel cut off alone must not fail the healthy master over.
    test('one sentinel alone after a failover: the healthy master stays, no WAIT-acked write lost', async () => {
      try {
        const o = await loneSentinelsAfterFailover(env, `matrix-lone-${row.subnet}`, {
          cause: FailoverCause.KILL, count: 1, downAfterMs: DOWN_AFTER_MS, failoverTimeoutMs: FAILOVER_TIMEOUT_MS,
        });
        report(`matrix ${row.name} lone-sentinel`, {
          master: `redis${o.masterBefore}->redis${o.masterAfter}`, cut: o.lone.join(','), odownAfterCut: o.odownAfterCut,
          switchAfterCut: o.switchAfterCut, acked: o.plainAcked, lost: o.plainLost, waitAcked: o.waitAcked, waitLost: o.waitLost,
        });
        expect(o.masterAfter).toBe(o.masterBefore);
        expect(o.odownAfterCut).toBe(0);
        expect(o.switchAfterCut).toBe(0);
        expect(o.mastersAfter).toBe(1);
        expect(o.waitLost).toBe(0);
      } catch (e) {
        console.log(`MATRIX LONE SENTINEL FAILED (${row.name}): ${errText(e)}\n${env.dumpLogs(30)}`);
        throw e;
      }
    });
  });
});
