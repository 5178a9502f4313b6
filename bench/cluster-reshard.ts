/**
 * Resharding a RedisCluster under writes (`cluster.reshard` in results.json): the default chart
 * (Valkey 9.1, atomic slot migration) with a data set loaded through ioredis `Cluster`, then the
 * chart applied with `shards: 4` while writers (SET then `WAIT 1`, and plain SET) run, at two data-set
 * sizes, each on its own cluster in the same run:
 * - `ms`: from the apply to every node healthy and every shard holding its share;
 * - `longestPauseMs`: the longest any writer loop (one client waiting for one key) went without an
 *   acknowledgement meanwhile;
 * - `lost`: acknowledged writes (both kinds) no longer there afterwards, and the data set read back.
 */
import { Duration } from 'cdk8s';
import { RedisClusterProps } from '../src';
import { ClusterEnv } from '../test/e2e/cluster-env';
import { ClusterWriter } from '../test/e2e/cluster-writer';
import { sleep } from '../test/e2e/harness';

const HEAL_MS = 180_000;
const RESHARD_MS = 900_000;
const VALUE_BYTES = 4000;
/** The two data-set sizes, in MiB of values (`BENCH_RESHARD_MB=a,b` for a quick try; the report's are the defaults). */
export const RESHARD_SIZES_MB = (process.env.BENCH_RESHARD_MB ?? '100,500').split(',').map(Number);

export interface ReshardRun {
  readonly dataSetMb: number;
  readonly keys: number;
  /** Apply to balanced and healthy. */
  readonly ms: number;
  readonly longestPauseMs: number;
  /** Acknowledged writes lost, both writers, and keys of the data set not read back whole. */
  readonly lost: number;
  readonly waitAcked: number;
  readonly waitLost: number;
  readonly plainAcked: number;
  readonly plainLost: number;
  readonly dataSetMissing: number;
}

export interface ReshardFigure {
  /** The largest data set's run: the headline. */
  readonly ms: number;
  readonly longestPauseMs: number;
  readonly lost: number;
  readonly dataSetMb: number;
  readonly runs: ReshardRun[];
}

const valueOf = (i: number) => `${i}:`.padEnd(VALUE_BYTES, 'v');

/** Runs `fn` on every item, `width` at a time. */
async function inParallel<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

async function reshardOnce(subnet: number, dataSetMb: number, log: (m: string) => void): Promise<ReshardRun> {
  const props: RedisClusterProps = { nodeTimeout: Duration.seconds(5), extraConfig: { 'maxmemory': '900mb', 'maxmemory-policy': 'noeviction' } };
  const env = await ClusterEnv.create({ subnet, name: `bench-reshard-${dataSetMb}`, props });
  try {
    await env.waitHealthy('the cluster formed', HEAL_MS);
    const keys = Math.ceil((dataSetMb * 1024 * 1024) / VALUE_BYTES);
    const loader = env.ioredis();
    const loadStarted = Date.now();
    const ids = Array.from({ length: keys }, (_, i) => i);
    // As a bulk loader must: NOREPLICAS is the master's back-pressure (its replica acknowledged nothing
    // for over min-replicas-max-lag, 1 s, while 128 writers stream into it), so the write waits and retries.
    let backPressure = 0;
    await inParallel(ids, 128, async (i) => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        try {
          await loader.set(`data:${i}`, valueOf(i));
          return;
        } catch (e) {
          if (!/^NOREPLICAS/.test((e as Error).message) || Date.now() > deadline) throw e;
          backPressure++;
          await sleep(50);
        }
      }
    });
    log(`cluster: reshard ${dataSetMb} MiB: ${keys} keys loaded in ${Date.now() - loadStarted} ms (${backPressure} NOREPLICAS answers retried)`);
    const waiting = new ClusterWriter(env.ioredis(), 3, Array.from({ length: 1200 }, (_, i) => `rw:${i}`), 4);
    const plain = new ClusterWriter(env.ioredis(), 3, Array.from({ length: 1200 }, (_, i) => `rp:${i}`), 2, { wait: false });
    waiting.start();
    plain.start();
    let from = 0;
    let to = 0;
    try {
      await sleep(2000);
      from = Date.now();
      await env.apply({ ...props, shards: 4 });
      await env.waitHealthy('balanced over 4 shards', RESHARD_MS);
      to = Date.now();
      await sleep(1000);
    } finally {
      await waiting.stop();
      await plain.stop();
    }
    const reader = env.ioredis();
    const w = await waiting.verify(reader);
    const p = await plain.verify(reader);
    let dataSetMissing = 0;
    await inParallel(ids, 128, async (i) => {
      if ((await reader.get(`data:${i}`).catch(() => null)) !== valueOf(i)) dataSetMissing++;
    });
    const pause = Math.max(waiting.longestLoopPause(from, to).ms, plain.longestLoopPause(from, to).ms);
    const run: ReshardRun = {
      dataSetMb, keys, ms: to - from, longestPauseMs: pause,
      lost: w.lost + p.lost + dataSetMissing, waitAcked: w.replicated, waitLost: w.replicatedLost, plainAcked: p.acked, plainLost: p.lost, dataSetMissing,
    };
    log(`cluster: reshard ${dataSetMb} MiB, 3 → 4 shards: ${JSON.stringify(run)}; failures ${waiting.describeFailures()} ${plain.describeFailures()}`);
    return run;
  } finally {
    await env.shutdown().catch(() => undefined);
  }
}

export async function measureReshard(o: { subnets: number[]; log: (m: string) => void }): Promise<ReshardFigure> {
  const runs: ReshardRun[] = [];
  for (let i = 0; i < RESHARD_SIZES_MB.length; i++) runs.push(await reshardOnce(o.subnets[i], RESHARD_SIZES_MB[i], o.log));
  const big = runs[runs.length - 1];
  return { ms: big.ms, longestPauseMs: big.longestPauseMs, lost: big.lost, dataSetMb: big.dataSetMb, runs };
}
