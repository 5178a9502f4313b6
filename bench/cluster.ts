/**
 * The sharded mode (`RedisCluster`, the default 3 shards x master + replica on Valkey 9.1) in the
 * harness's pod networks, writers through ioredis `Cluster`:
 * - failover: SIGKILL of a shard's master, 3 kills (one per shard), the killed pod started again as
 *   soon as its replica is promoted (as kubelet restarts a crashed container): the write gap on that
 *   shard, and the longest pause of the other shards meanwhile;
 * - nodeLoss: a shard's master, then (in another run) a shard's replica, SIGKILLed and held down 120 s
 *   (a Kubernetes node lost for good): how soon its shard acknowledges a plain SET again, and the
 *   writes (WAIT 1 and plain) lost once the pod is back;
 * - upgrade: a new image for every node in one apply, writers through it: the longest write pause of
 *   each shard (its master hands over once), and acknowledged writes lost;
 * - restart: the chart deleted but its claims (every pod stopped and every Service gone at once):
 *   delete to every pod gone; applied again on the same claims (every address new): apply to
 *   cluster_state ok on every node, and acknowledged writes lost;
 * - capacity: 2.5 x one node's maxmemory written through a cluster client and read back whole, and
 *   the same data set into one RedisHa master with the same maxmemory, in the same run;
 * - throughput: valkey-benchmark SET and GET, `--cluster` against the cluster, and through the
 *   RedisHa proxy, in the same run.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Duration } from 'cdk8s';
import { Redis } from 'ioredis';
import { RedisClusterProps, RedisEngine } from '../src';
import { ClusterEnv } from '../test/e2e/cluster-env';
import { ClusterWriter } from '../test/e2e/cluster-writer';
import { Pod, cachedBuild, sleep, waitUntil } from '../test/e2e/harness';
import { HaEnv } from '../test/e2e/redis-ha-env';

const HEAL_MS = 180_000;
// Large enough that the fixed overheads (replication backlog, the keyspace's tables) leave room for
// 2.5 x maxmemory of values across 3 shards: at 64 MiB they took 9% of it.
const MAXMEMORY_MB = 256;
// Below 4096 with the value's own header, so each value takes one 4 KiB allocation.
const VALUE_BYTES = 4000;
const BENCH_REQUESTS = 100_000;
const BENCH_CLIENTS = 50;

export interface ClusterKill {
  readonly shard: number;
  readonly promotedMs: number;
  readonly gapMs: number;
  readonly otherShardsPauseMs: number;
  readonly waitAcked: number;
  readonly waitLost: number;
}

export interface NodeLoss {
  /** Which node was lost: the shard's master or its replica. */
  readonly lost: 'master' | 'replica';
  /** Kill to the shard's first acknowledged plain SET. */
  readonly writableMs: number;
  /** The longest pause of the other shards while the pod was down. */
  readonly otherShardsPauseMs: number;
  readonly waitAcked: number;
  readonly waitLost: number;
  readonly plainAcked: number;
  readonly plainLost: number;
}

export interface ClusterFigure {
  readonly nodeLoss: { readonly writableMs: number; readonly lost: number; readonly holdMs: number; readonly runs: NodeLoss[] };
  readonly failover: { readonly gapMs: number; readonly promotedMs: number; readonly otherShardsPauseMs: number; readonly kills: ClusterKill[] };
  readonly upgrade: { readonly longestPauseMs: number; readonly pauseMsPerShard: number[]; readonly ms: number; readonly lost: number; readonly waitLost: number; readonly waitAcked: number };
  readonly restart: { readonly deleteMs: number; readonly healMs: number; readonly lost: number; readonly acked: number };
  readonly capacity: {
    readonly maxmemoryMb: number; readonly dataSetMb: number; readonly keys: number;
    readonly cluster: { readonly written: number; readonly readBack: number; readonly errors: number };
    readonly redisHa: { readonly written: number; readonly refused: number; readonly firstError: string };
  };
  readonly throughput: { readonly cluster: { readonly set: number; readonly get: number }; readonly redisHa: { readonly set: number; readonly get: number } };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

/** valkey-benchmark (bounded), SET and GET requests per second from its --csv output. */
function benchmark(args: string[]): Promise<{ set: number; get: number }> {
  const bin = path.join(cachedBuild('valkey', '9.1') ?? '/nonexistent', 'valkey-benchmark');
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ['-p', '6379', '-c', String(BENCH_CLIENTS), '-n', String(BENCH_REQUESTS), '-t', 'set,get', '--csv', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const rps: Record<string, number> = {};
      for (const line of out.split('\n')) {
        const f = line.split(',').map((x) => x.replace(/"/g, ''));
        if (f.length >= 2 && f[0] !== 'test') rps[f[0]] = Number(f[1]);
      }
      if (code !== 0 || !rps.SET || !rps.GET) reject(new Error(`valkey-benchmark ${args.join(' ')}: code ${code}: ${out.slice(0, 200)} ${err.slice(-300)}`));
      else resolve({ set: Math.round(rps.SET), get: Math.round(rps.GET) });
    });
  });
}

/** Runs `fn` over `items` with at most `width` at a time. */
async function inParallel<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

const valueOf = (i: number) => `${i}:`.padEnd(VALUE_BYTES, String.fromCharCode(97 + (i % 26)));

async function killOne(env: ClusterEnv, shard: number, log: (m: string) => void): Promise<ClusterKill> {
  const client = env.ioredis();
  // Two loops a shard: a loop stuck on the killed shard does not hold up the other shards' writes.
  const writer = new ClusterWriter(client, 3, Array.from({ length: 120 }, (_, i) => `bk${shard}:${i}`), 2);
  writer.start(true);
  try {
    await waitUntil(() => [0, 1, 2].every((s) => writer.acks.some((a) => a.shard === s && a.replicated)), 30_000, 'replicated writes on every shard');
    await sleep(2000);
    const victim = (await env.masterOf(shard)) as Pod;
    const replica = env.pods.find((p) => env.shardOf(p) === shard && p !== victim) as Pod;
    const killedAt = Date.now();
    await victim.kill('SIGKILL');
    await waitUntil(async () => (await env.masterOf(shard)) === replica, HEAL_MS, `${replica.name} promoted`, { intervalMs: 100 });
    const promotedAt = Date.now();
    await victim.start();
    await waitUntil(() => writer.acks.some((a) => a.shard === shard && a.at > promotedAt), HEAL_MS, `shard ${shard} acknowledging again`, { intervalMs: 100 });
    const resumedAt = (writer.acks.find((a) => a.shard === shard && a.at > promotedAt) as { at: number }).at;
    const lastBefore = Math.max(...writer.acks.filter((a) => a.shard === shard && a.at <= killedAt).map((a) => a.at));
    await env.waitHealthy('healthy after the kill', HEAL_MS);
    await sleep(1000);
    await writer.stop();
    const v = await writer.verify(client);
    const kill = {
      shard,
      promotedMs: promotedAt - killedAt,
      gapMs: resumedAt - lastBefore,
      otherShardsPauseMs: Math.max(...[0, 1, 2].filter((s) => s !== shard).map((s) => writer.longestGap(s, killedAt, resumedAt))),
      waitAcked: v.replicated,
      waitLost: v.replicatedLost,
    };
    log(`cluster: kill of shard ${shard}'s master: ${JSON.stringify(kill)}`);
    return kill;
  } finally {
    await writer.stop();
  }
}

/** How long a lost pod stays down: a Kubernetes node lost for good (eviction, then the volume moves). */
const HOLD_MS = 120_000;

/**
 * A shard's master (or replica) SIGKILLed and held down {@link HOLD_MS}, writers on every shard: SET +
 * WAIT 1, and plain SETs for when the shard acknowledges at all (no WAIT timeout in the figure).
 */
async function loseNode(env: ClusterEnv, shard: number, lost: NodeLoss['lost'], log: (m: string) => void): Promise<NodeLoss> {
  const client = env.ioredis();
  const durable = new ClusterWriter(client, 3, Array.from({ length: 120 }, (_, i) => `bl${shard}:${i}`), 2);
  // Its own client: ioredis sends a node's commands over one connection, where a WAIT that no replica
  // answers holds every command behind it for its timeout.
  const plain = new ClusterWriter(env.ioredis({ commandTimeoutMs: 1000 }), 3, Array.from({ length: 120 }, (_, i) => `bp${shard}:${i}`), 4, { wait: false });
  const master = (await env.masterOf(shard)) as Pod;
  const victim = lost === 'master' ? master : env.pods.find((p) => env.shardOf(p) === shard && p !== master) as Pod;
  durable.start(true);
  plain.start(true);
  try {
    await waitUntil(() => [0, 1, 2].every((s) => durable.acks.some((a) => a.shard === s && a.replicated)), 30_000, 'replicated writes on every shard');
    await sleep(2000);
    const killedAt = Date.now();
    await victim.kill('SIGKILL');
    await waitUntil(() => plain.acks.some((a) => a.shard === shard && a.at > killedAt + 2000), HEAL_MS, `shard ${shard} acknowledging again`, { intervalMs: 100 });
    await sleep(Math.max(0, killedAt + HOLD_MS - Date.now()));
    const backAt = Date.now();
    await victim.start();
    await env.waitHealthy('the lost pod back', HEAL_MS);
    await sleep(1000);
    await Promise.all([durable.stop(), plain.stop()]);
    const [d, p] = [await durable.verify(client), await plain.verify(client)];
    // The first acknowledgement after the kill that came once the shard had been refusing (the ones in
    // flight at the kill are answered before min-replicas-max-lag is over).
    const gap = plain.longestGapAt(shard, killedAt, backAt);
    const run: NodeLoss = {
      lost,
      writableMs: gap.at + gap.ms - killedAt,
      otherShardsPauseMs: Math.max(...[0, 1, 2].filter((s) => s !== shard).map((s) => plain.longestGap(s, killedAt, backAt))),
      waitAcked: d.replicated, waitLost: d.replicatedLost, plainAcked: p.acked, plainLost: p.lost,
    };
    log(`cluster: ${lost} of shard ${shard} lost for ${HOLD_MS} ms: ${JSON.stringify(run)}`);
    return run;
  } finally {
    await Promise.all([durable.stop(), plain.stop()]);
    if (!victim.anyRunning) await victim.start();
  }
}

/**
 * A new image for every node in one apply (each Deployment's pod replaced, as with `Recreate`), with
 * two writer loops a shard: the longest time each shard went without an acknowledged write.
 */
async function upgradeOnce(env: ClusterEnv, props: RedisClusterProps, log: (m: string) => void): Promise<ClusterFigure['upgrade']> {
  const client = env.ioredis();
  const writer = new ClusterWriter(client, 3, Array.from({ length: 120 }, (_, i) => `bu:${i}`), 2);
  writer.start(true);
  let from = 0;
  let to = 0;
  try {
    await waitUntil(() => [0, 1, 2].every((s) => writer.acks.filter((a) => a.shard === s && a.replicated).length > 20), 30_000, 'replicated writes on every shard');
    from = Date.now();
    const next = ClusterEnv.synth({ ...props, engine: RedisEngine.valkey({ image: 'valkey/valkey:9.1.3' }) }).manifests;
    const replaced = await env.cluster.rollout(next);
    await env.waitHealthy('healthy after the upgrade', HEAL_MS);
    to = Date.now();
    await sleep(1000);
    log(`cluster: upgrade: ${replaced.length} nodes replaced in ${to - from} ms`);
  } finally {
    await writer.stop();
  }
  const v = await writer.verify(client);
  const pauses = [0, 1, 2].map((s) => writer.longestGap(s, from, to));
  const figure = { longestPauseMs: Math.max(...pauses), pauseMsPerShard: pauses, ms: to - from, lost: v.lost, waitLost: v.replicatedLost, waitAcked: v.replicated };
  log(`cluster: upgrade: ${JSON.stringify(figure)}; failures ${writer.describeFailures()}`);
  return figure;
}

export async function measureCluster(o: { subnets: [number, number, number]; log: (m: string) => void }): Promise<ClusterFigure> {
  const props: RedisClusterProps = { nodeTimeout: Duration.seconds(5), extraConfig: { 'maxmemory': `${MAXMEMORY_MB}mb`, 'maxmemory-policy': 'noeviction' } };
  let env = await ClusterEnv.create({ subnet: o.subnets[0], name: 'bench-cluster', props });
  let ha: HaEnv | undefined;
  try {
    await env.waitHealthy('the cluster formed', HEAL_MS);
    o.log('cluster: formed');
    const kills: ClusterKill[] = [];
    for (const shard of [0, 1, 2]) kills.push(await killOne(env, shard, o.log));
    await env.waitHealthy('healthy before the node losses', HEAL_MS);
    const losses = [await loseNode(env, 1, 'master', o.log)];
    await env.waitHealthy('healthy before the replica loss', HEAL_MS);
    losses.push(await loseNode(env, 2, 'replica', o.log));
    await env.waitHealthy('healthy before the upgrade', HEAL_MS);
    const upgrade = await upgradeOnce(env, props, o.log);

    // Capacity: 2.5 x one node's maxmemory, through the cluster client, read back whole.
    const dataSetMb = MAXMEMORY_MB * 2.5;
    const keys = Math.ceil((dataSetMb * 1024 * 1024) / VALUE_BYTES);
    const ids = Array.from({ length: keys }, (_, i) => i);
    const client = env.ioredis();
    let written = 0;
    let errors = 0;
    await inParallel(ids, 64, async (i) => {
      try {
        await client.set(`cap:${i}`, valueOf(i));
        written++;
      } catch {
        errors++;
      }
    });
    let readBack = 0;
    await inParallel(ids, 64, async (i) => {
      if ((await client.get(`cap:${i}`).catch(() => null)) === valueOf(i)) readBack++;
    });
    o.log(`cluster: capacity: ${written} of ${keys} keys (${dataSetMb} MiB of values) written, ${readBack} read back whole, ${errors} errors`);
    const clusterCapacity = { written, readBack, errors };

    // Throughput through a cluster client, on emptied masters (as the RedisHa master below).
    for (const shard of [0, 1, 2]) await env.ask((await env.masterOf(shard)) as Pod, 'FLUSHALL');
    const clusterRps = await benchmark(['--cluster', '-h', env.vipOf(env.pods[0])]);
    o.log(`cluster: throughput ${JSON.stringify(clusterRps)}`);

    // Restart: the chart deleted but its claims, then applied again on the same claims.
    const writer = new ClusterWriter(client, 3, Array.from({ length: 120 }, (_, i) => `br:${i}`));
    writer.start();
    await waitUntil(() => [0, 1, 2].every((s) => writer.acks.filter((a) => a.shard === s && a.replicated).length > 20), 30_000, 'replicated writes on every shard');
    await writer.stop();
    const deletedAt = Date.now();
    await env.deleteChart();
    const deleteMs = Date.now() - deletedAt;
    const claimsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-claims-'));
    const claims = env.saveClaims(claimsDir);
    await env.shutdown();
    const applied = Date.now();
    try {
      env = await ClusterEnv.create({ subnet: o.subnets[1], name: 'bench-cluster-reapplied', props, claims });
    } finally {
      fs.rmSync(claimsDir, { recursive: true, force: true });
    }
    await env.waitHealthy('the re-applied cluster healed', HEAL_MS);
    const healMs = Date.now() - applied;
    const after = await writer.verify(env.ioredis());
    o.log(`cluster: deleted in ${deleteMs} ms; re-applied: cluster_state ok on every node ${healMs} ms after the apply; ${after.lost} of ${after.acked} acknowledged writes lost`);
    await env.shutdown();

    // One RedisHa master, the same maxmemory and data set, and its throughput through the proxy, in the same run.
    ha = await HaEnv.create({ subnet: o.subnets[2], name: 'bench-cluster-ha', network: 'netns', props: { redis: { extraConfig: props.extraConfig } } });
    await ha.settle(120_000, { proxy: true });
    await ha.waitProxiesReady(60_000);
    const proxy = ha.cluster.endpointsOf(ha.ha.proxy.host)[0];
    const single = new Redis({ host: proxy.address, port: 6379, maxRetriesPerRequest: 1, commandTimeout: 5000 });
    single.on('error', () => undefined);
    let haWritten = 0;
    let refused = 0;
    let firstError = '';
    try {
      await inParallel(ids, 64, async (i) => {
        try {
          await single.set(`cap:${i}`, valueOf(i));
          haWritten++;
        } catch (e) {
          refused++;
          firstError ||= String((e as Error).message).slice(0, 120);
        }
      });
    } finally {
      single.disconnect();
    }
    o.log(`cluster: the same data set into one RedisHa master: ${haWritten} written, ${refused} refused (${firstError})`);
    const flusher = new Redis({ host: proxy.address, port: 6379, maxRetriesPerRequest: 1, commandTimeout: 5000 });
    flusher.on('error', () => undefined);
    try {
      await flusher.flushall();
    } finally {
      flusher.disconnect();
    }
    const haRps = await benchmark(['-h', proxy.address]);
    o.log(`cluster: RedisHa through its proxy, throughput ${JSON.stringify(haRps)}`);

    return {
      nodeLoss: {
        writableMs: Math.max(...losses.map((l) => l.writableMs)),
        lost: losses.reduce((n, l) => n + l.waitLost + l.plainLost, 0),
        holdMs: HOLD_MS,
        runs: losses,
      },
      failover: { gapMs: median(kills.map((k) => k.gapMs)), promotedMs: median(kills.map((k) => k.promotedMs)), otherShardsPauseMs: Math.max(...kills.map((k) => k.otherShardsPauseMs)), kills },
      upgrade,
      restart: { deleteMs, healMs, lost: after.lost, acked: after.acked },
      capacity: { maxmemoryMb: MAXMEMORY_MB, dataSetMb, keys, cluster: clusterCapacity, redisHa: { written: haWritten, refused, firstError } },
      throughput: { cluster: clusterRps, redisHa: haRps },
    };
  } finally {
    await env.shutdown().catch(() => undefined);
    await ha?.shutdown().catch(() => undefined);
  }
}
