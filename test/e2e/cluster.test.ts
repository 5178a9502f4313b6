/**
 * The sharded mode end to end: the default RedisCluster chart (3 shards x master + replica, Valkey
 * 9.1) in the harness's pod networks, every node behind its own Service VIP, which it announces.
 * The first start forms the cluster with no manual step; a Kubernetes node lost for good (a shard's
 * master and another shard's replica killed and held down) leaves every shard acknowledging within
 * node timeout + 3 s, its lone masters acknowledging on one copy until the pods are back (the write
 * guarantee, node-guarantee.ts); nothing WAIT-acknowledged is lost. A master back on an empty volume,
 * a master cut off with its clients, a rolling upgrade, and the whole chart deleted under writes and
 * applied again follow.
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
/** How long a lost pod stays down: a Kubernetes node lost for good (eviction, then the volume moves). */
const HOLD_MS = Number(process.env.NODE_LOSS_HOLD_MS ?? 120_000);

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

  test('a Kubernetes node lost for good (shard 0\'s master and shard 1\'s replica killed, held down 120 s): shards 0 and 1 acknowledge again after a failover\'s time, with the pods still down, shard 2 never waits for one, the pods rejoin and the guarantee is back, nothing acknowledged lost', async () => {
    const client = env.ioredis();
    const keys = Array.from({ length: 120 }, (_, i) => `cw:${i}`);
    // Per shard, so that a shard without a master cannot hold up another's loops: WAIT 1 writers (what
    // is safe), and plain SET writers (when a shard acknowledges at all, without WAIT's 1 s timeout).
    // Each with its own client: ioredis sends a node's commands over one connection, where a WAIT that
    // no replica answers holds every command behind it for its timeout.
    const durable = new ClusterWriter(client, 3, keys);
    // A 1 s command timeout: what a latency-minded application sets, and the resolution of these figures.
    const plain = new ClusterWriter(env.ioredis({ commandTimeoutMs: 1000 }), 3, Array.from({ length: 120 }, (_, i) => `cp:${i}`), 4, { wait: false });
    const master = (await env.masterOf(0)) as Pod;
    const promoted = env.pods.find((p) => env.shardOf(p) === 0 && p !== master) as Pod;
    const master1 = (await env.masterOf(1)) as Pod;
    const replica1 = env.pods.find((p) => env.shardOf(p) === 1 && p !== master1) as Pod;
    durable.start(true);
    plain.start(true);
    let killedAt = 0;
    let backAt = 0;
    try {
      await env.waitReplicatedWrites(durable, 0, 'replicated writes on every shard');
      await sleep(1000);
      killedAt = Date.now();
      await Promise.all([master.kill('SIGKILL'), replica1.kill('SIGKILL')]);
      await waitUntil(async () => (await env.masterOf(0)) === promoted, HEAL_MS, `${promoted.name} promoted`, { intervalMs: 200 });
      for (const s of [0, 1]) await acknowledgingAgain(plain, s);
      // Held down as a lost Kubernetes node holds them (eviction, then the volume moves).
      await sleep(Math.max(0, killedAt + HOLD_MS - Date.now()));
      backAt = Date.now();
      await Promise.all([master.start(), replica1.start()]);
      await env.waitHealthy('the lost pods back as replicas', HEAL_MS);
      expect((await env.myself(master))?.master).toBe((await env.myself(promoted))?.id);
      // The full guarantee is back: min-replicas-to-write 1 on both masters, and WAIT 1 answered by a replica again.
      const minReplicas = async (p: Pod) => (JSON.parse((await env.ask(p, 'CONFIG', 'GET', 'min-replicas-to-write')) ?? '[]') as string[])[1];
      await waitUntil(async () => (await Promise.all([promoted, master1].map(minReplicas))).every((v) => v === '1'), 30_000, 'min-replicas-to-write 1 again on shards 0 and 1');
      await waitUntil(() => [0, 1].every((s) => durable.acks.some((a) => a.shard === s && a.replicated && a.at > backAt)), 60_000, 'WAIT 1 answered by a replica on shards 0 and 1 again');
    } finally {
      await Promise.all([durable.stop(), plain.stop()]);
      if (!master.anyRunning) await master.start();
      if (!replica1.anyRunning) await replica1.start();
    }
    // Writable again: the end of the shard's longest pause after the kill (the writes in flight at the
    // kill are answered before the refusals begin).
    const writableAt = (s: number) => { const g = plain.longestGapAt(s, killedAt, backAt); return g.at + g.ms; };
    const figures = {
      shard0WritableMs: writableAt(0) - killedAt, shard1WritableMs: writableAt(1) - killedAt,
      shard2LongestPauseMs: plain.longestGap(2, killedAt, backAt),
      shard0AcksWhileDown: plain.acks.filter((a) => a.shard === 0 && a.at > killedAt && a.at < backAt).length,
      shard0LongestPauseAfterWritableMs: plain.longestGap(0, writableAt(0), backAt),
    };
    const hooks = [promoted, master1].map((p) => p.logs({ lines: 400 }).split('\n').filter((l) => l.includes('cluster-guarantee')).join(' | '));
    console.log(`node loss: ${JSON.stringify(figures)}; guarantee: ${hooks.join(' || ')}; failures ${plain.describeFailures()} ${durable.describeFailures()}`);
    // How soon is a figure (issue 28's targets: node timeout + 3 s for shard 0, + 5 s for shard 1, 1 s for
    // shard 2), logged above and measured by the bench (cluster.nodeLoss), not a timing assertion. What
    // is asserted is the behaviour, at bounds that waiting for the lost pods (down HOLD_MS) could never
    // meet: shard 0's promoted replica and shard 1's master (once the majority marked its replica failed,
    // never on its own suspicion) acknowledge again within a failover's time and keep acknowledging;
    // shard 2, which lost nothing, never waits for a failover.
    const failoverMs = 3 * NODE_TIMEOUT_MS;
    expect(figures.shard0WritableMs).toBeLessThanOrEqual(failoverMs);
    expect(figures.shard1WritableMs).toBeLessThanOrEqual(failoverMs);
    expect(figures.shard0LongestPauseAfterWritableMs).toBeLessThan(NODE_TIMEOUT_MS);
    expect(figures.shard2LongestPauseMs).toBeLessThan(NODE_TIMEOUT_MS);
    // The promoted replica held 0 as a replica and was raised once the lost master was back as its
    // replica; shard 1's master lowered its guarantee only once the cluster marked its replica failed.
    expect(hooks[0]).toMatch(/a replica: min-replicas-to-write 1 -> 0.*in sync again: min-replicas-to-write 0 -> 1/);
    expect(hooks[1]).toMatch(/marks this shard's members \S+ failed.*min-replicas-to-write 1 -> 0.*in sync again: min-replicas-to-write 0 -> 1/);
    const [d, p] = [await durable.verify(client), await plain.verify(env.ioredis())];
    console.log(`node loss: WAIT 1 ${JSON.stringify({ ...d, lostKeys: d.lostKeys.slice(0, 5) })}; plain ${JSON.stringify({ ...p, lostKeys: p.lostKeys.slice(0, 5) })}`);
    expect(d.replicated).toBeGreaterThan(100);
    expect(d.lostKeys).toEqual([]);
    expect(d.replicatedLost).toBe(0);
    // No second fault: not even the writes a lone master acknowledged are lost.
    expect(p.lostKeys).toEqual([]);
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
      await env.waitReplicatedWrites(writer, 20, 'replicated writes on every shard');
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
    // What each hook did (the harness logs a hook's last output), shown with any failure below.
    const hooks = env.cluster.events(2000).split('\n').filter((l) => / preStop: /.test(l));
    expect(away.length).toBeGreaterThan(20);
    expect({ overlaps, hooks }).toEqual({ overlaps: [], hooks });
    // Replicas first, the masters last.
    expect({ mastersLast: order.slice(3).every((r) => mastersBefore.has(r.pod)), hooks }).toEqual({ mastersLast: true, hooks });
    // Three replicas in turn, three hand-overs.
    expect({ replicas: hooks.filter((l) => l.includes('replica stopping in its turn')).length, handovers: hooks.filter((l) => l.includes('owns the slots now')).length })
      .toEqual({ replicas: 3, handovers: 3 });
    const result = await writer.verify(client);
    console.log(`upgrade: ${JSON.stringify({ ...result, lostKeys: result.lostKeys.slice(0, 5) })}`);
    expect(result.lostKeys).toEqual([]);
    expect(result.replicatedLost).toBe(0);
  });

  test('the whole chart deleted under writes (every Service, Deployment and ConfigMap; the claims kept) stops within 20 s, lowers no master\'s guarantee; applied again on the same claims (every address new), it heals with every WAIT-acknowledged key there', async () => {
    await env.waitHealthy('healthy before the delete', HEAL_MS);
    const client = env.ioredis();
    const writer = new ClusterWriter(client, 3, Array.from({ length: 120 }, (_, i) => `ra:${i}`));
    const ids = await Promise.all(env.pods.map(async (p) => (await env.myself(p))?.id));
    const oldVips = env.pods.map((p) => env.vipOf(p));
    const events = env.cluster.events(4000).split('\n').length;
    writer.start();
    let deleteMs: number;
    let deletedAt = 0;
    try {
      await env.waitReplicatedWrites(writer, 20, 'replicated writes on every shard');
      // kubectl delete of everything but the claims: every pod stops (preStop, SIGTERM, its grace period)
      // while its Service goes; the writers keep writing through it.
      deletedAt = Date.now();
      await env.deleteChart();
      deleteMs = Date.now() - deletedAt;
    } finally {
      // Every node gone: ioredis holds the loops' last commands in its queue for ever.
      client.disconnect();
      await writer.stop(5000);
    }
    const hooks = env.cluster.events(4000).split('\n').slice(events).filter((l) => / preStop: /.test(l));
    console.log(`delete: every pod gone ${deleteMs} ms after the delete; hooks: ${hooks.join(' | ')}`);
    expect({ deleteMs: deleteMs <= 20_000, hooks }).toEqual({ deleteMs: true, hooks });
    // No master was told to acknowledge alone for a node that was leaving for good.
    expect(hooks.filter((l) => /min-replicas-to-write \d+ -> \d+/.test(l))).toEqual([]);
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
    const during = writer.acks.filter((a) => a.at >= deletedAt);
    console.log(`re-apply: ${JSON.stringify({ ...result, lostKeys: result.lostKeys.slice(0, 5) })}; acknowledged during the delete: `
      + `${during.filter((a) => a.replicated).length} with WAIT 1, ${during.filter((a) => !a.replicated).length} by a master alone; failures ${writer.describeFailures()}`);
    expect(result.replicated).toBeGreaterThan(60);
    expect(result.replicatedLost).toBe(0);
  });
});
