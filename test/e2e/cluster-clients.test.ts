/**
 * Real cluster-aware client libraries from npm (ioredis `Cluster`, node-redis `createCluster`), each
 * run as a pod in another namespace than the chart's and seeded the way the README shows, with the
 * nodes' fully qualified Service names; after the first CLUSTER SLOTS they talk to the VIPs the nodes
 * announce. Both write through a SIGKILL of a shard's master: its replica is promoted, the killed pod
 * starts again (as kubelet restarts a crashed container) and replicates it, and each client follows on
 * its own, with no WAIT-acknowledged write lost. `valkey-cli -c` follows a redirect too.
 */
import { execFile } from 'child_process';
import * as path from 'path';
import { Duration } from 'cdk8s';
import { shardSlotRanges } from '../../src/cluster/slots';
import { keySlot } from '../cluster/util/test-cluster';
import { APP_NAMESPACE, appPod, envValue } from './app-pod';
import { ClusterEnv } from './cluster-env';
import { K8sObject, Pod, cachedBuild, errText, sleep, waitUntil } from './harness';

jest.setTimeout(900_000);

const CLIENTS = ['ioredis-cluster', 'node-redis-cluster'] as const;
type ClientName = typeof CLIENTS[number];
/** The chart's namespace: ClusterEnv.synth gives the chart none, the harness runs it in 'default'. */
const CHART_NAMESPACE = 'default';
const WRITER = '/app/test/e2e/fixtures/cluster-client-writer.js';
const KEYS = 60;
const NODE_TIMEOUT_MS = 5000;
// Forming and healing take a few node timeouts on a quiet machine; under load, far more.
const HEAL_MS = 180_000;

interface Summary {
  client: ClientName;
  started: number;
  keys: string[];
  acked: number;
  waitAcked: number;
  errors: number;
  errorKinds: Record<string, number>;
  lastError: string;
  maxGapMs: number;
  lastAcked: number[];
  lastWaitAcked: number[];
  /** [key index, seq, ms since started, 1 when WAIT counted a replica]. */
  events: Array<[number, number, number, number]>;
}

function clientPod(client: ClientName, seeds: string[]): K8sObject {
  return appPod(client, WRITER, [
    envValue('CLIENT', client), envValue('SEEDS', seeds.join(' ')), envValue('KEY_PREFIX', `cc:${client}`), envValue('KEYS', KEYS),
  ]);
}

/** The JSON lines a client pod wrote. */
function lines(pod: Pod): Array<Record<string, any>> {
  return pod.logs().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
}

/** The client's WAIT-acknowledged writes so far, by its last progress line. */
function progress(pod: Pod): number {
  const p = lines(pod).filter((l) => l.progress !== undefined);
  return p.length ? p[p.length - 1].progress : 0;
}

/** A pod's last log lines, each cut short (the summary line holds every acknowledgement). */
function tail(pod: Pod, n: number): string {
  return pod.logs({ lines: n }).split('\n').map((l) => (l.length > 400 ? `${l.slice(0, 400)}...` : l)).join('\n');
}

function tails(pods: Pod[]): string {
  return pods.map((c) => `${c.name}: ${tail(c, 5)}`).join('\n');
}

/** Runs the cached valkey-cli from the test process, bounded. */
function valkeyCli(args: string[]): Promise<{ code: number; out: string }> {
  const dir = cachedBuild('valkey', '9.1');
  if (!dir) throw new Error('no cached valkey 9.1 build: run scripts/ensure-engines.sh');
  return new Promise((resolve) => {
    execFile(path.join(dir, 'valkey-cli'), args, { timeout: 15_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, out: `${stdout}${stderr}` });
    });
  });
}

describe('real cluster clients from namespace "app": ioredis Cluster and node-redis createCluster', () => {
  let env: ClusterEnv;
  let clients: Pod[];
  const ranges = shardSlotRanges(3);
  const shardOfKey = (key: string) => ranges.findIndex((r) => keySlot(key) >= r.start && keySlot(key) <= r.end);

  beforeAll(async () => {
    const props = { nodeTimeout: Duration.millis(NODE_TIMEOUT_MS) };
    const { rc } = ClusterEnv.synth(props);
    // What the README tells an application in another namespace to use: the Services' full names.
    const seeds = rc.nodes.map((n) => `${n.host}.${CHART_NAMESPACE}.svc.cluster.local:6379`);
    env = await ClusterEnv.create({ subnet: 245, name: 'cluster-clients', props, extraManifests: CLIENTS.map((c) => clientPod(c, seeds)) });
    clients = CLIENTS.map((c) => env.cluster.pod(c));
  });
  afterAll(async () => {
    // The clients first (SIGTERM, their grace period), then every pod of the harness.
    if (clients) await Promise.all(clients.filter((c) => c.anyRunning).map((c) => c.stop().catch(() => undefined)));
    await env?.shutdown();
  });

  test('both follow a SIGKILL of a shard\'s master with no manual step; nothing WAIT-acknowledged is lost', logsOnFailure(() => env, () => clients, async () => {
    await env.waitHealthy('the first start forms the cluster', HEAL_MS);
    expect(clients.map((c) => c.namespace)).toEqual([APP_NAMESPACE, APP_NAMESPACE]);
    await waitUntil(() => clients.every((c) => progress(c) >= 200), 120_000, 'every client writing', { intervalMs: 250 })
      .catch((e) => { throw new Error(`${errText(e)}\n${tails(clients)}`); });

    const victim = (await env.masterOf(0)) as Pod;
    const replica = env.pods.find((p) => env.shardOf(p) === 0 && p !== victim) as Pod;
    const killedAt = Date.now();
    await victim.kill('SIGKILL');
    await waitUntil(async () => (await env.masterOf(0)) === replica, HEAL_MS, `${replica.name} promoted`, { intervalMs: 200 });
    const promotedAt = Date.now();
    // The promoted master acknowledges alone once the cluster marked the killed one failed (WAIT 1 answers
    // 0 then); the killed pod comes back on its volume.
    await sleep(2000);
    const restartedAt = Date.now();
    await victim.start();
    await env.waitHealthy('the killed master back as a replica', HEAL_MS);
    const healthyAt = Date.now();
    expect((await env.myself(victim))?.master).toBe((await env.myself(replica))?.id);
    const atHealthy = clients.map(progress);
    await waitUntil(() => clients.every((c, i) => progress(c) >= atHealthy[i] + 200), 120_000, 'every client writing after the failover', { intervalMs: 250 })
      .catch((e) => { throw new Error(`${errText(e)}\n${tails(clients)}`); });
    await sleep(3000);

    await Promise.all(clients.map((c) => c.stop()));
    const summaries = clients.map((c) => {
      const s = lines(c).find((l) => l.summary)?.summary as Summary | undefined;
      if (!s) throw new Error(`${c.name} wrote no summary:\n${tail(c, 20)}`);
      return s;
    });

    const reader = env.ioredis();
    for (const s of summaries) {
      expect(s.keys).toHaveLength(KEYS);
      // Every key read back through a cluster client of the test process.
      const values: number[] = [];
      for (const key of s.keys) {
        values.push(Number(await waitUntil(() => reader.get(key).then((v) => v ?? '0').catch(() => undefined), 30_000, `GET ${key}`)));
      }
      const lostKeys = s.keys.map((k, i) => (values[i] < s.lastWaitAcked[i] ? `${k}=${values[i]} < ${s.lastWaitAcked[i]}` : '')).filter((l) => l);
      const lostPlain = s.keys.filter((_, i) => values[i] < s.lastAcked[i]).length;
      // When the client had the failed shard's keys WAIT-acknowledged again, on its own: after the
      // promotion, only the promoted replica can have acknowledged them (the killed pod is down, then its
      // replica), and only once the killed pod replicates it (WAIT 1 needs a replica).
      const at = (e: [number, number, number, number]) => s.started + e[2];
      const shard0 = s.events.filter((e) => e[3] === 1 && shardOfKey(s.keys[e[0]]) === 0);
      const followed = shard0.filter((e) => at(e) > promotedAt);
      const first = followed.length ? at(followed[0]) : undefined;
      const lastBefore = Math.max(0, ...shard0.filter((e) => at(e) <= promotedAt).map(at));
      const otherShardsDuringFailover = s.events.filter((e) => e[3] === 1 && shardOfKey(s.keys[e[0]]) !== 0 && at(e) > killedAt && at(e) < promotedAt).length;
      const shardsWritten = new Set(s.events.map((e) => shardOfKey(s.keys[e[0]])));
      console.log(`[e2e] ${s.client}: ${s.acked} acknowledged, ${s.waitAcked} WAIT-acknowledged; lost: ${lostKeys.length} keys below their last WAIT-ack `
        + `(${lostPlain} below their last plain ack); shard 0 WAIT-acknowledged again ${first ? first - killedAt : 'never'} ms after the kill, `
        + `${first ? first - healthyAt : '-'} ms after the cluster was healthy again (its last shard-0 ack before: ${lastBefore ? lastBefore - killedAt : '-'} ms from the kill; `
        + `replica promoted after ${promotedAt - killedAt} ms, killed pod restarted after ${restartedAt - killedAt} ms, healthy after ${healthyAt - killedAt} ms); `
        + `${followed.length} shard-0 WAIT-acks after the promotion; other shards ${otherShardsDuringFailover} WAIT-acks between kill and promotion; `
        + `longest pause between WAIT-acks ${s.maxGapMs} ms; errors ${s.errors} ${JSON.stringify(s.errorKinds)}`);
      expect({ client: s.client, lostKeys }).toEqual({ client: s.client, lostKeys: [] });
      expect(s.waitAcked).toBeGreaterThan(400);
      expect([...shardsWritten].sort()).toEqual([0, 1, 2]);
      // It followed the failover by itself: the failed shard's keys WAIT-acknowledged by the promoted master.
      expect({ client: s.client, followed: followed.length > 0 }).toEqual({ client: s.client, followed: true });
    }
  }));

  test('valkey-cli -c follows a redirect from one node\'s VIP to the owner of the key', logsOnFailure(() => env, () => clients, async () => {
    await env.waitHealthy('healthy before valkey-cli', HEAL_MS);
    const node = (await env.masterOf(1)) as Pod;
    const owner = (await env.masterOf(2)) as Pod;
    const key = Array.from({ length: 1000 }, (_, i) => `cli:${i}`).find((k) => shardOfKey(k) === 2) as string;
    const value = `v-${Date.now()}`;
    const at = ['-h', env.vipOf(node), '-p', '6379'];
    // Without -c, the node only points elsewhere.
    const plain = await valkeyCli([...at, 'GET', key]);
    expect(plain.out).toMatch(new RegExp(`MOVED ${keySlot(key)} `));
    const set = await valkeyCli([...at, '-c', 'SET', key, value]);
    const get = await valkeyCli([...at, '-c', 'GET', key]);
    console.log(`[e2e] valkey-cli -c from ${env.vipOf(node)} (shard 1) for ${key} (slot ${keySlot(key)}, shard 2 at ${env.vipOf(owner)}): `
      + `GET without -c -> ${JSON.stringify(plain.out.trim())}; -c SET -> ${JSON.stringify(set.out.trim())}, -c GET -> ${JSON.stringify(get.out.trim())}`);
    expect({ code: set.code, last: set.out.trim().split('\n').pop() }).toEqual({ code: 0, last: 'OK' });
    expect({ code: get.code, last: get.out.trim().split('\n').pop() }).toEqual({ code: 0, last: value });
    // The value is on the owner itself.
    expect(await env.ask(owner, 'GET', key)).toBe(value);
  }));
});

/** Prints the chart's and the clients' logs when a test fails. */
function logsOnFailure(getEnv: () => ClusterEnv, getClients: () => Pod[], fn: () => Promise<void>): () => Promise<void> {
  return async () => {
    try {
      await fn();
    } catch (e) {
      const env = getEnv();
      console.log(`TEST FAILED: ${errText(e)}\n${env?.cluster.dumpLogs(env.pods, 30)}\n${(getClients() ?? []).map((c) => `${c.name}:\n${tail(c, 20)}`).join('\n')}`);
      throw e;
    }
  };
}
