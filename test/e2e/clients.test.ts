/**
 * Real client libraries from npm (ioredis, node-redis), each connecting the way the README shows from
 * a pod in another namespace than the chart's: sentinel-aware (ioredis `sentinels` + `name`, node-redis
 * `createSentinel`) and plainly through the proxy. The pods run on the harness's pod networks with the
 * resolv.conf of their own namespace (search domains, ndots:5, the harness DNS), so the names the
 * sentinels announce must resolve from there as they would under Kubernetes DNS. All four write through
 * one SIGKILL of the master, reconnect on their own, and no WAIT-acknowledged write is lost.
 */
import { Duration } from 'cdk8s';
import { RedisAuth } from '../../src';
import { APP_NAMESPACE, appPod, envValue } from './app-pod';
import { K8sObject, Pod, errText, waitUntil } from './harness';
import { AUTH_KEY, AUTH_SECRET, HaEnv } from './redis-ha-env';

jest.setTimeout(300_000);

const CLIENTS = ['ioredis-sentinel', 'node-redis-sentinel', 'ioredis-proxy', 'node-redis-proxy'] as const;
type ClientName = typeof CLIENTS[number];
const WRITER = '/app/test/e2e/fixtures/client-writer.js';

interface Summary {
  client: ClientName;
  acked: number[];
  setOnly: number[];
  errors: number;
  lastError: string;
  maxGapMs: number;
}

function clientPod(client: ClientName, hosts: { sentinel: string; proxy: string }, masterName: string, auth: boolean): K8sObject {
  return appPod(client, WRITER, [
    envValue('CLIENT', client),
    envValue('SENTINEL_HOST', hosts.sentinel), envValue('SENTINEL_PORT', 26379), envValue('MASTER_NAME', masterName),
    envValue('PROXY_HOST', hosts.proxy), envValue('PROXY_PORT', 6379),
    envValue('KEY_PREFIX', `clients:${client}`),
    // The application's copy of the chart's Secret (the harness supplies Secrets by name).
    ...(auth ? [{ name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: AUTH_SECRET, key: AUTH_KEY } } }] : []),
  ]);
}

/** The JSON lines a client pod wrote. */
function lines(pod: Pod): Array<Record<string, any>> {
  return pod.logs().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
}

function progress(pod: Pod): number {
  const p = lines(pod).filter((l) => l.progress !== undefined);
  return p.length ? p[p.length - 1].progress : 0;
}

describe.each([
  // Loopback: every pod on its own 127.x address, names from per-pod hosts files as Kubernetes DNS would
  // answer them in the pod's namespace (a short Service name only in its own), the DNS stand-in behind.
  { title: 'chart without a namespace (pods announce their own), no auth, hosts files', subnet: 221, namespace: undefined, auth: false, network: 'loopback' as const },
  // Pod networks: ClusterIP VIPs that follow readiness, every name from the DNS stand-in.
  { title: 'chart in namespace "cache", with auth, pod networks and DNS', subnet: 222, namespace: 'cache', auth: true, network: 'netns' as const },
])('real clients from namespace "app": $title', ({ subnet, namespace, auth, network }) => {
  let env: HaEnv;
  let clients: Pod[];
  const chartNamespace = namespace ?? 'default';

  beforeAll(async () => {
    const props = {
      auth: auth ? RedisAuth.fromSecret(AUTH_SECRET, AUTH_KEY) : undefined,
      sentinel: { downAfter: Duration.millis(2000), failoverTimeout: Duration.millis(6000) },
    };
    const { ha } = HaEnv.synth(props, namespace);
    // What the README tells an application in another namespace to use: the Services' full names.
    const fq = (service: string) => `${service}.${chartNamespace}.svc.cluster.local`;
    const hosts = { sentinel: fq(ha.sentinelHost), proxy: fq(ha.host) };
    env = await HaEnv.create({
      subnet, name: `clients-${subnet}`, network, namespace, props, password: auth ? 'app s3cret "pw"' : undefined,
      extraManifests: CLIENTS.map((c) => clientPod(c, hosts, ha.masterName, auth)),
    });
    clients = CLIENTS.map((c) => env.cluster.pod(c));
  });
  afterAll(async () => env?.shutdown());

  test('the announced names resolve from the application namespace; the short ones do not', logsOnFailure(() => env, async () => {
    const master = await env.settle(120_000, { proxy: true });
    const announced = env.hostOf(master);
    expect(announced).toBe(`${env.ha.instances[env.num(master) - 1].host}.${chartNamespace}.svc.cluster.local`);
    // settle() saw every sentinel name it; ask again (a busy machine may drop one 1 s connection).
    const view = await waitUntil(() => env.sentinelMaster(env.sentinels[0]), 10_000, 'a sentinel answering');
    expect(view).toBe(`${announced}:6379`);
    const app = clients[0];
    expect(app.namespace).toBe(APP_NAMESPACE);
    const full = await app.exec(['getent', 'hosts', announced]);
    expect(full.code).toBe(0);
    // The Service's address: its ClusterIP on pod networks, the pod's in loopback mode (hosts files).
    expect(full.stdout.split(/\s+/)[0]).toBe(env.cluster.addressesOf(env.ha.instances[env.num(master) - 1].host)[0]);
    const short = await app.exec(['getent', 'hosts', announced.split('.')[0]]);
    expect(short.code).not.toBe(0);
  }));

  test('ioredis and node-redis, sentinel-aware and through the proxy, survive a SIGKILL of the master with every acknowledged write', logsOnFailure(() => env, async () => {
    const master = await env.settle(120_000, { proxy: true });
    await waitUntil(() => clients.every((c) => progress(c) >= 50), 60_000, 'every client writing',
      { intervalMs: 250 }).catch((e) => { throw new Error(`${errText(e)}\n${clients.map((c) => `${c.name}: ${c.logs({ lines: 5 })}`).join('\n')}`); });

    const killedAt = Date.now();
    await master.kill('SIGKILL');
    // Bounded well above a failover: a CPU-starved sentinel enters TILT mode and stays out of votes for 30 s.
    const next = await env.waitNewMaster(master, 90_000);
    const atSwitch = clients.map(progress);
    // Each client writes again on its own, well after the switch.
    await waitUntil(() => clients.every((c, i) => progress(c) >= atSwitch[i] + 100), 90_000, 'every client writing after the failover',
      { intervalMs: 250 }).catch((e) => { throw new Error(`${errText(e)}\n${clients.map((c) => `${c.name}: ${c.logs({ lines: 5 })}`).join('\n')}`); });
    await master.start();

    await Promise.all(clients.map((c) => c.stop()));
    const summaries = clients.map((c) => {
      const s = lines(c).find((l) => l.summary)?.summary as Summary | undefined;
      if (!s) throw new Error(`${c.name} wrote no summary:\n${c.logs({ lines: 20 })}`);
      return s;
    });
    for (const s of summaries) {
      // Every WAIT-acknowledged key is on the new master.
      const keys = s.acked.map((i) => `clients:${s.client}:${i}`);
      let missing = 0;
      const c = await waitUntil(() => next.connect(6379, { timeoutMs: 10_000, password: env.password }).catch(() => undefined), 30_000, `a connection to ${next.name}`);
      try {
        for (let i = 0; i < keys.length; i += 500) {
          const got = (await c.command('MGET', ...keys.slice(i, i + 500))) as Array<string | null>;
          got.forEach((v, j) => { if (v !== String(s.acked[i + j])) missing++; });
        }
      } finally {
        c.close();
      }
      console.log(`[e2e] ${s.client}: ${s.acked.length} WAIT-acknowledged writes, ${missing} missing on the new master; ` +
        `${s.setOnly.length} SET-only acks, ${s.errors} errors during the failover, longest pause between acks ${s.maxGapMs} ms ` +
        `(master killed ${new Date(killedAt).toISOString()})`);
      expect({ client: s.client, missing }).toEqual({ client: s.client, missing: 0 });
      expect(s.acked.length).toBeGreaterThan(atSwitch[CLIENTS.indexOf(s.client)]);
    }
  }));
});

/** Prints the chart's and the clients' logs when a test fails. */
function logsOnFailure(get: () => HaEnv, fn: () => Promise<void>): () => Promise<void> {
  return async () => {
    try {
      await fn();
    } catch (e) {
      console.log(`TEST FAILED: ${errText(e)}\n${get()?.dumpLogs(30)}`);
      throw e;
    }
  };
}
