/**
 * The sharded mode end to end: the default RedisCluster chart (3 shards x master + replica, Valkey
 * 9.1) in the harness's pod networks, every node behind its own Service VIP, which it announces.
 * The first start forms the cluster with no manual step; a SIGKILL of a shard's master under writes
 * through ioredis `Cluster` promotes its replica while the other shards keep acknowledging; the
 * promoted replica, alone in its shard, acknowledges nothing until the killed pod is back as its
 * replica (min-replicas-to-write 1, the default); nothing WAIT-acknowledged is lost.
 */
import * as fs from 'fs';
import { Duration } from 'cdk8s';
import { RedisEngine } from '../../src';
import { ClusterEnv } from './cluster-env';
import { ClusterWriter } from './cluster-writer';
import { Pod, sleep, waitUntil } from './harness';
import { tempDir } from '../util/temp';

jest.setTimeout(600_000);

const NODE_TIMEOUT_MS = 5000;
// Forming and healing take a few node timeouts on a quiet machine; under the suite's load, far more.
const HEAL_MS = 180_000;

/** Waits, bounded, until a shard acknowledges writes again; the timeout says what the writers got instead. */
async function acknowledgingAgain(writer: ClusterWriter, shard: number): Promise<void> {
  const since = Date.now();
  try {
    await waitUntil(() => writer.acks.some((a) => a.shard === shard && a.at > since), 60_000, `shard ${shard} acknowledging again`);
  } catch (e) {
    throw new Error(`${(e as Error).message}; the writers' failures: ${writer.describeFailures()}`);
  }
}

describe('RedisCluster, 3 shards x (master + replica), in pod networks', () => {
  let env: ClusterEnv;
  let formedMs = 0;

  beforeAll(async () => {
    env = await ClusterEnv.create({ subnet: 243, name: 'cluster', props: { nodeTimeout: Duration.millis(NODE_TIMEOUT_MS) } });
    formedMs = await env.waitHealthy('the first start forms the cluster', HEAL_MS);
  });
  afterAll(async () => {
    await env?.shutdown();
  });

  test('the first start forms it: every slot once, each shard a master with its replica, every pod ready', async () => {
    console.log(`cluster formed ${Date.now() - env.startedAt} ms after the pods started (healthy wait ${formedMs} ms)`);
    expect(await env.problems()).toEqual([]);
    // Each shard's first member claimed its range; the other replicated it.
    for (const pod of env.pods) {
      const first = env.rc.nodes[env.pods.indexOf(pod)].member === 0;
      expect(pod.logs({ lines: 400 })).toMatch(first ? /claiming slots/ : /replicating [0-9a-f]{40}, the live master of this shard/);
    }
    await waitUntil(() => env.pods.every((p) => env.cluster.isReady(p)), 60_000, 'every node pod ready');
    // What a client is told: each node's Service VIP.
    const slots = JSON.parse((await env.ask(env.pods[0], 'CLUSTER', 'SLOTS')) ?? '[]') as Array<[number, number, [string, number]]>;
    const announced = slots.map((s) => s[2][0]).sort();
    const masters = await Promise.all([0, 1, 2].map((s) => env.masterOf(s)));
    expect(announced).toEqual(masters.map((m) => env.vipOf(m as Pod)).sort());
  });

  test('a SIGKILL of a shard\'s master: its replica is promoted, the other shards keep acknowledging, nothing WAIT-acknowledged is lost', async () => {
    const client = env.ioredis();
    const writer = new ClusterWriter(client, 3, Array.from({ length: 120 }, (_, i) => `cw:${i}`));
    const victim = (await env.masterOf(0)) as Pod;
    const replica = env.pods.find((p) => env.shardOf(p) === 0 && p !== victim) as Pod;
    writer.start();
    try {
      await waitUntil(() => [0, 1, 2].every((s) => writer.acks.some((a) => a.shard === s && a.replicated)), 30_000, 'replicated writes on every shard');
      await sleep(1000);
      const killedAt = Date.now();
      await victim.kill('SIGKILL');
      await waitUntil(async () => (await env.masterOf(0)) === replica, HEAL_MS, `${replica.name} promoted`, { intervalMs: 200 });
      const promotedAt = Date.now();
      // The other shards never stopped: acknowledged writes all through the failover.
      const others = [1, 2].map((s) => ({
        shard: s, acked: writer.acks.filter((a) => a.shard === s && a.at > killedAt && a.at < promotedAt).length, longestGapMs: writer.longestGap(s, killedAt, promotedAt),
      }));
      for (const o of others) expect({ shard: o.shard, ackedDuringFailover: o.acked > 0 }).toEqual({ shard: o.shard, ackedDuringFailover: true });
      // The promoted master has no replica (min-replicas-to-write 1): it acknowledges nothing a second loss would take.
      await sleep(2000);
      const restartedAt = Date.now();
      const loneAcks = writer.acks.filter((a) => a.shard === 0 && a.at > killedAt + 200 && a.at < restartedAt);
      expect(loneAcks).toEqual([]);
      // The killed pod starts again on its volume (as kubelet restarts a crashed container) and follows the promoted replica.
      await victim.start();
      await env.waitHealthy('the killed master back as a replica', HEAL_MS);
      expect((await env.myself(victim))?.master).toBe((await env.myself(replica))?.id);
      await waitUntil(() => writer.acks.some((a) => a.shard === 0 && a.at > restartedAt), 60_000, 'shard 0 acknowledging again');
      const lastBefore = Math.max(...writer.acks.filter((a) => a.shard === 0 && a.at <= killedAt + 200).map((a) => a.at));
      const firstAfter = (writer.acks.find((a) => a.shard === 0 && a.at > restartedAt) as { at: number }).at;
      console.log(`master kill: promoted ${promotedAt - killedAt} ms after the kill; shard 0 acknowledged again ${firstAfter - restartedAt} ms after `
        + `the killed pod restarted (write gap ${firstAfter - lastBefore} ms, of which ${restartedAt - killedAt} ms with the pod down); other shards during the failover ${JSON.stringify(others)}`);
      await sleep(1000);
    } finally {
      await writer.stop();
    }
    const result = await writer.verify(client);
    console.log(`master kill: ${JSON.stringify({ ...result, lostKeys: result.lostKeys.slice(0, 5) })}; failures ${JSON.stringify([...writer.failures])}`);
    expect(result.replicated).toBeGreaterThan(100);
    expect(result.lostKeys).toEqual([]);
    expect(result.replicatedLost).toBe(0);
  });

  test('a master back on an empty volume never serves its slots as master: its replica takes over, it rejoins as that replica\'s replica, no ghost, nothing WAIT-acknowledged lost', async () => {
    await env.waitHealthy('healthy before the loss', HEAL_MS);
    const client = env.ioredis();
    const writer = new ClusterWriter(client, 3, Array.from({ length: 120 }, (_, i) => `ev:${i}`));
    const victim = (await env.masterOf(1)) as Pod;
    const replica = env.pods.find((p) => env.shardOf(p) === 1 && p !== victim) as Pod;
    const oldId = (await env.myself(victim))?.id;
    const servedEmpty: string[] = [];
    let polling = true;
    writer.start();
    try {
      await waitUntil(() => writer.acks.filter((a) => a.shard === 1 && a.replicated).length > 50, 30_000, 'replicated writes on shard 1');
      await victim.kill('SIGKILL');
      env.cluster.wipeClaim(env.claimOf(victim));
      // Back at once, before any node could count it failing: only its own entrypoint can make it safe.
      const started = Date.now();
      await victim.start();
      const poll = (async () => {
        while (polling) {
          const me = await env.myself(victim);
          if (me?.flags.includes('master') && me.slots.length > 0) servedEmpty.push(`${me.id} ${me.slots.join(' ')}`);
          await sleep(200);
        }
      })();
      try {
        await env.waitHealthy('the emptied master back as a replica', HEAL_MS);
      } finally {
        polling = false;
        await poll;
      }
      console.log(`empty volume: ${victim.name} back as a replica ${Date.now() - started} ms after its start`);
      expect(servedEmpty).toEqual([]);
      expect(await env.masterOf(1)).toBe(replica);
      expect((await env.myself(victim))?.master).toBe((await env.myself(replica))?.id);
      // No node lists the lost id (problems() also counts the nodes each one lists).
      for (const pod of env.pods) expect((await env.view(pod)).map((l) => l.id)).not.toContain(oldId);
      await acknowledgingAgain(writer, 1);
    } finally {
      polling = false;
      await writer.stop();
    }
    const result = await writer.verify(client);
    console.log(`empty volume: ${JSON.stringify({ ...result, lostKeys: result.lostKeys.slice(0, 5) })}; failures ${JSON.stringify([...writer.failures])}`);
    expect(result.lostKeys).toEqual([]);
    expect(result.replicatedLost).toBe(0);
  });

  test('a shard\'s master cut off with the clients: nothing acknowledged more than 3 s after the cut is lost, one master per shard after the heal', async () => {
    await env.waitHealthy('healthy before the cut', HEAL_MS);
    const client = env.ioredis();
    const writer = new ClusterWriter(client, 3, Array.from({ length: 120 }, (_, i) => `pt:${i}`));
    const victim = (await env.masterOf(2)) as Pod;
    const replica = env.pods.find((p) => env.shardOf(p) === 2 && p !== victim) as Pod;
    writer.start();
    let cutAt = 0;
    try {
      await waitUntil(() => writer.acks.filter((a) => a.shard === 2 && a.replicated).length > 50, 30_000, 'replicated writes on shard 2');
      // The minority: shard 2's master and the test process (every writer); the majority: every other node.
      // Counted from before the rules are applied: a write acknowledged while they go in counts as after the cut.
      cutAt = Date.now();
      const cut = await env.cluster.partition([victim, 'test-client'], env.pods.filter((p) => p !== victim));
      try {
        await sleep(NODE_TIMEOUT_MS * 3);
      } finally {
        await cut.heal();
      }
      await env.waitHealthy('one master per shard after the heal', HEAL_MS);
      await acknowledgingAgain(writer, 2);
    } finally {
      await writer.stop();
    }
    const promoted = (await env.masterOf(2)) === replica;
    const result = await writer.verify(client);
    // Which acknowledged writes were lost, by when they were acknowledged after the cut.
    const values = new Map<string, number>();
    for (const k of writer.keys) values.set(k, Number((await client.get(k)) ?? 0));
    const lostAcks = writer.acks.filter((a) => a.seq > (values.get(a.key) ?? 0));
    const latestLostMs = lostAcks.length ? Math.max(...lostAcks.map((a) => a.at - cutAt)) : 0;
    const ackedAfterCut = writer.acks.filter((a) => a.shard === 2 && a.at > cutAt);
    console.log(`partition: replica promoted ${promoted}; shard 2 acknowledged ${ackedAfterCut.filter((a) => a.at < cutAt + NODE_TIMEOUT_MS * 3).length} writes during the cut, `
      + `the last ${ackedAfterCut.length ? Math.max(...ackedAfterCut.filter((a) => a.at < cutAt + NODE_TIMEOUT_MS * 3).map((a) => a.at - cutAt), 0) : 0} ms after it; `
      + `lost ${lostAcks.length} acknowledged (latest ${latestLostMs} ms after the cut, WAIT-acknowledged ${result.replicatedLost}); failures ${JSON.stringify([...writer.failures])}`);
    expect(result.replicatedLost).toBe(0);
    expect(latestLostMs).toBeLessThanOrEqual(3000);
  });

  test('a new image for every node in one apply: one node at a time, replicas first, each master hands its slots over, nothing WAIT-acknowledged lost', async () => {
    await env.waitHealthy('healthy before the upgrade', HEAL_MS);
    const client = env.ioredis();
    const writer = new ClusterWriter(client, 3, Array.from({ length: 120 }, (_, i) => `up:${i}`));
    const mastersBefore = new Set(await Promise.all([0, 1, 2].map((s) => env.masterOf(s))));
    writer.start();
    let replaced: Array<{ pod: Pod; stoppedAt: number; startedAt: number }>;
    let from = 0;
    let away: Array<{ at: number; away: string[] }>;
    const watch = env.watchServing();
    try {
      await waitUntil(() => [0, 1, 2].every((s) => writer.acks.filter((a) => a.shard === s && a.replicated).length > 20), 30_000, 'replicated writes on every shard');
      from = Date.now();
      const next = ClusterEnv.synth({ nodeTimeout: Duration.millis(NODE_TIMEOUT_MS), engine: RedisEngine.valkey({ image: 'valkey/valkey:9.1.3' }) }).manifests;
      replaced = await env.cluster.rollout(next);
      await env.waitHealthy('healthy after the upgrade', HEAL_MS);
      await sleep(2000);
    } finally {
      away = await watch.stop();
      await writer.stop();
    }
    const to = Date.now();
    const order = [...replaced].sort((a, b) => a.stoppedAt - b.stoppedAt);
    // Logged, not asserted (the bench times pauses, with its own loops per shard). These loops each
    // write every shard in turn, and ioredis sends them all over one connection per node: while a
    // shard has no replica in sync (one of its nodes away), each WAIT 1 holds that connection for its
    // 1 s timeout, the loops' commands queue behind one another there (some reach the 3 s command
    // timeout), and the other shards wait on the same loops. So these pauses are longer than what a
    // client writing one shard sees (cluster.upgrade in the bench).
    const pauses = [0, 1, 2].map((s) => writer.longestGap(s, from, to));
    // When each pod went and came back, and when each shard's longest pause began, in ms after the apply.
    const timeline = order.map((r) => `${r.pod.name.replace(/^e2e-cache-|-deployment-.*/g, '')} ${r.stoppedAt - from}..${r.startedAt - from}`);
    const gapsAt = [0, 1, 2].map((s) => { const g = writer.longestGapAt(s, from, to); return `shard ${s}: ${g.ms} ms from ${g.at - from}`; });
    console.log(`upgrade timeline: ${timeline.join(', ')}; ${gapsAt.join('; ')}`);
    console.log(`upgrade failures: ${writer.failureLog.filter((f) => f.at >= from).map((f) => `${f.at - from} ms shard ${f.shard}: ${f.message}`).join('; ')}`);
    console.log(`upgrade: ${order.map((r) => `${r.pod.name.replace(/-deployment-.*/, '')}${mastersBefore.has(r.pod) ? ' (master)' : ''}`).join(' -> ')}; `
      + `longest write pause per shard ${JSON.stringify(pauses)} ms; took ${to - from} ms; failures ${writer.describeFailures()}`);
    expect(replaced).toHaveLength(6);
    // One at a time: sampled every 300 ms from the apply on, never two nodes away (down, or a replica
    // not in sync) at once, so each node went only once the one before it was back and in sync.
    const overlaps = away.filter((x) => x.away.length > 1).map((x) => `${x.at - from} ms: ${x.away.join(', ')}`);
    console.log(`upgrade: ${away.length} samples, ${away.filter((x) => x.away.length === 1).length} with one node away, overlaps ${JSON.stringify(overlaps)}`);
    expect(away.length).toBeGreaterThan(20);
    expect(overlaps).toEqual([]);
    // Replicas first, the masters last.
    expect(order.slice(3).every((r) => mastersBefore.has(r.pod))).toBe(true);
    // What each hook did (the harness logs a hook's last output): three replicas in turn, three hand-overs.
    const hooks = env.cluster.events(2000).split('\n').filter((l) => / preStop: exec code=0/.test(l));
    expect({ replicas: hooks.filter((l) => l.includes('replica stopping in its turn')).length, handovers: hooks.filter((l) => l.includes('owns the slots now')).length })
      .toEqual({ replicas: 3, handovers: 3 });
    const result = await writer.verify(client);
    console.log(`upgrade: ${JSON.stringify({ ...result, lostKeys: result.lostKeys.slice(0, 5) })}`);
    expect(result.lostKeys).toEqual([]);
    expect(result.replicatedLost).toBe(0);
  });

  test('the whole chart deleted and applied again on the same claims (every pod and Service address new): heals with no manual step, every key there', async () => {
    await env.waitHealthy('healthy before the delete', HEAL_MS);
    const client = env.ioredis();
    const writer = new ClusterWriter(client, 3, Array.from({ length: 120 }, (_, i) => `ra:${i}`));
    writer.start();
    try {
      await waitUntil(() => [0, 1, 2].every((s) => writer.acks.filter((a) => a.shard === s && a.replicated).length > 20), 30_000, 'replicated writes on every shard');
    } finally {
      await writer.stop();
    }
    const ids = await Promise.all(env.pods.map(async (p) => (await env.myself(p))?.id));
    const oldVips = env.pods.map((p) => env.vipOf(p));
    // kubectl delete: every pod stops (SIGTERM, its grace period), every Service goes; the claims stay.
    await Promise.all(env.pods.map((p) => p.stop()));
    // Removed after this file, pass or fail; at once once the new pods have their copies.
    const claimsDir = tempDir('cluster-claims');
    const claims = env.saveClaims(claimsDir);
    await env.shutdown();
    const applied = Date.now();
    env = await ClusterEnv.create({ subnet: 244, name: 'cluster-reapplied', props: { nodeTimeout: Duration.millis(NODE_TIMEOUT_MS) }, claims });
    fs.rmSync(claimsDir, { recursive: true, force: true });
    const healMs = await env.waitHealthy('the re-applied cluster healed', HEAL_MS);
    console.log(`re-apply: cluster_state ok on every node ${Date.now() - applied} ms after the apply (healthy wait ${healMs} ms)`);
    expect(env.pods.map((p) => env.vipOf(p)).filter((v) => oldVips.includes(v))).toEqual([]);
    expect(await Promise.all(env.pods.map(async (p) => (await env.myself(p))?.id))).toEqual(ids);
    const result = await writer.verify(env.ioredis());
    console.log(`re-apply: ${JSON.stringify({ ...result, lostKeys: result.lostKeys.slice(0, 5) })}`);
    expect(result.lost).toBe(0);
  });
});
