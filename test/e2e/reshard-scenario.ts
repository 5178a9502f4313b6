/**
 * Resharding under writes, shared by test/e2e/cluster-reshard.test.ts (Valkey 9.1, atomic slot
 * migration) and test/e2e/matrix-cluster.test.ts (the classic path): writers through ioredis
 * `Cluster` (SET then `WAIT 1`, and plain SET) on keys spread over every slot while a re-synthesized
 * chart is applied; after each step the cluster is healthy and balanced, no node keeps keys outside
 * its shard's slots, and every key holds its last acknowledged value. A move can be cut by a SIGKILL
 * of its source or its target master.
 */
import { Cluster as IoCluster } from 'ioredis';
import { ClusterEnv } from './cluster-env';
import { ClusterWriter } from './cluster-writer';
import { Pod, errText, sleep, waitUntil } from './harness';

/** Keys of each writer: spread over the slots by their hash (about one per 5 slots for both together). */
const KEYS_PER_WRITER = 1600;
/** Data loaded before a move is cut, so that it lasts long enough: about 96 MB. */
export const PRELOAD_KEYS = 24_000;
const PRELOAD_VALUE = 'x'.repeat(4000);

export interface StepResult {
  readonly name: string;
  /** From the apply until the cluster is healthy and balanced. */
  readonly ms: number;
  readonly acked: number;
  readonly replicated: number;
  readonly lost: number;
  readonly replicatedLost: number;
  readonly plainAcked: number;
  readonly plainLost: number;
  /** The longest a writer loop waited for a key during the step. */
  readonly longestPauseMs: number;
}

/** A move caught in flight: the pod killed and what it was doing. */
export interface CutMove {
  readonly pod: Pod;
  readonly state: string;
}

export class Resharding {
  readonly results: StepResult[] = [];
  private readonly waiting: ClusterWriter;
  private readonly plain: ClusterWriter;
  private readonly reader: IoCluster;
  private preloaded = false;

  /**
   * @param stepTimeoutMs bound of one step: new pods joining, slots moving, a failover healing
   * @param nodeTimeoutMs the chart's node timeout: a killed pod is started again after twice it
   */
  constructor(readonly env: ClusterEnv, private readonly stepTimeoutMs: number, private readonly nodeTimeoutMs: number) {
    this.waiting = new ClusterWriter(env.ioredis(), 3, Array.from({ length: KEYS_PER_WRITER }, (_, i) => `w:${i}`), 4);
    this.plain = new ClusterWriter(env.ioredis(), 3, Array.from({ length: KEYS_PER_WRITER }, (_, i) => `p:${i}`), 2, { wait: false });
    this.reader = env.ioredis();
  }

  async stop(): Promise<void> {
    await this.waiting.stop();
    await this.plain.stop();
    console.log(`resharding steps:\n${this.results.map((r) => JSON.stringify(r)).join('\n')}`);
  }

  /** Applies `props` under writes, waits until the cluster is healthy and balanced, then checks every key. */
  async step(name: string, props: Parameters<ClusterEnv['apply']>[0], during?: () => Promise<void>): Promise<StepResult> {
    this.waiting.start();
    this.plain.start();
    await sleep(1000);
    const started = Date.now();
    let ms: number;
    try {
      await this.env.apply(props);
      await during?.();
      await this.env.waitHealthy(`${name}: healthy and balanced`, this.stepTimeoutMs);
      ms = Date.now() - started;
      await sleep(1000);
    } finally {
      await this.waiting.stop();
      await this.plain.stop();
    }
    let stray: string[] = [];
    await waitUntil(async () => (stray = await this.env.strayKeys()).length === 0, 10_000, `${name}: no keys outside their shard's slots`, { intervalMs: 500 })
      .catch((e) => { throw new Error(`${(e as Error).message}: ${stray.join('; ')}`); });
    const w = await this.waiting.verify(this.reader);
    const p = await this.plain.verify(this.reader);
    const pause = Math.max(this.waiting.longestLoopPause(started, started + ms).ms, this.plain.longestLoopPause(started, started + ms).ms);
    const r: StepResult = {
      name, ms, acked: w.acked, replicated: w.replicated, lost: w.lost, replicatedLost: w.replicatedLost,
      plainAcked: p.acked, plainLost: p.lost, longestPauseMs: pause,
    };
    this.results.push(r);
    console.log(`${name}: balanced ${ms} ms after the apply; ${JSON.stringify(r)}; failures: ${this.waiting.describeFailures()} ${this.plain.describeFailures()}`
      + `${w.lostKeys.length + p.lostKeys.length ? `; lost: ${[...w.lostKeys, ...p.lostKeys].slice(0, 5).join(', ')}` : ''}`);
    return r;
  }

  /** Loads about 96 MB once (see {@link PRELOAD_KEYS}), so that a move lasts long enough to be cut. */
  async preload(): Promise<void> {
    if (this.preloaded) return;
    const loader = this.env.ioredis();
    let next = 0;
    let refused = 0;
    try {
      await Promise.all(Array.from({ length: 64 }, async () => {
        while (next < PRELOAD_KEYS) {
          const key = `bulk:${next++}`;
          // A master refuses writes while its replica's acknowledgement lags (min-replicas-max-lag 1 s),
          // as it may under this load on Redis 8.0: a loader waits and writes the key again, bounded.
          for (let tries = 1; ; tries++) {
            try {
              await loader.set(key, PRELOAD_VALUE);
              break;
            } catch (e) {
              if (tries >= 100 || !/NOREPLICAS|TRYAGAIN|CLUSTERDOWN|timed out/.test(errText(e))) throw e;
              refused++;
              await sleep(100);
            }
          }
        }
      }));
    } finally {
      loader.disconnect();
    }
    if (refused) console.log(`preload: ${refused} SETs refused and written again (NOREPLICAS, TRYAGAIN, CLUSTERDOWN or a timeout)`);
    this.preloaded = true;
  }

  /** The preloaded keys, one in 24, that do not hold their value: [] when intact. */
  async bulkDamaged(): Promise<string[]> {
    const keys = Array.from({ length: 1000 }, (_, i) => `bulk:${i * Math.floor(PRELOAD_KEYS / 1000)}`);
    const values = await Promise.all(keys.map((k) => this.reader.get(k)));
    return keys.filter((_, i) => values[i] !== PRELOAD_VALUE);
  }

  /**
   * Waits (bounded) until `find` names a pod in the middle of a move, SIGKILLs it there, and, as
   * kubelet does, starts the crashed container again after twice the node timeout.
   */
  async killInMove(what: string, find: () => Promise<CutMove | undefined>): Promise<CutMove> {
    let cut: CutMove | undefined;
    await waitUntil(async () => {
      cut = await find();
      if (cut) await cut.pod.kill('SIGKILL');
      return cut !== undefined;
    }, 120_000, what, { intervalMs: 10 });
    console.log(`killed ${cut!.pod.name} (shard ${this.env.shardOf(cut!.pod)}) while ${cut!.state}`);
    await sleep(this.nodeTimeoutMs * 2);
    await cut!.pod.start();
    return cut!;
  }

  /** The first of `pods` running an atomic slot migration (Valkey 9+) of `operation` in one of `states`. */
  async atomicMove(operation: 'EXPORT' | 'IMPORT', pods: Pod[], states: string[]): Promise<CutMove | undefined> {
    for (const pod of pods) {
      const jobs = (await this.env.ask(pod, 'CLUSTER', 'GETSLOTMIGRATIONS')) ?? '';
      const state = [...jobs.matchAll(new RegExp(`"operation","${operation}".*?"state","([a-z-]+)"`, 'g'))].map((m) => m[1])
        .find((s) => states.includes(s));
      if (state) return { pod, state: `its ${operation.toLowerCase()} was ${state}` };
    }
    return undefined;
  }

  /** The first of `pods` with a slot open for a classic move: `migrating` on a source, `importing` on a target. */
  async classicMove(side: 'migrating' | 'importing', pods: Pod[]): Promise<CutMove | undefined> {
    const mark = side === 'migrating' ? '->-' : '-<-';
    for (const pod of pods) {
      const myself = ((await this.env.ask(pod, 'CLUSTER', 'NODES')) ?? '').split('\n').find((l) => l.includes('myself'));
      const open = myself?.split(/\s+/).find((f) => f.startsWith('[') && f.includes(mark));
      if (open) return { pod, state: `slot ${open} was open (${side})` };
    }
    return undefined;
  }

  /** The master of shard `shard` once it owns slots, else none. */
  async owningMaster(shard: number): Promise<Pod[]> {
    for (const p of this.env.pods.filter((x) => this.env.shardOf(x) === shard)) {
      const me = await this.env.myself(p);
      if (me?.flags.includes('master') && me.slots.length > 0) return [p];
    }
    return [];
  }
}
