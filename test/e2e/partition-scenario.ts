/**
 * One network partition under write load, shared by the e2e scenarios and the benchmark: writers
 * pinned to each proxy pod (one plain, one with WAIT 1), a cut between groups of pods, a heal, and
 * what was lost, measured against the master the chart settles on.
 */
import { HaEnv } from './redis-ha-env';
import { PartitionMember, Pod, SentinelWatcher, Writer, sleep, waitUntil } from './harness';

/** What the writers pinned to one proxy pod saw. */
export interface ProxyLoss {
  readonly proxy: string;
  readonly acked: number;
  readonly lost: number;
  readonly waitAcked: number;
  readonly waitLost: number;
  /** Acknowledgement time of the latest lost write, in ms after the cut; 0 when nothing was lost. */
  readonly latestLostAckMs: number;
}

export interface PartitionOutcome {
  readonly label: string;
  readonly masterBefore: number;
  readonly masterAfter: number;
  /** Pods reporting role:master once the chart has settled after the heal. */
  readonly mastersAfter: number;
  /** Writes answered OK, through every proxy, and those of them missing after the heal. */
  readonly plainAcked: number;
  readonly plainLost: number;
  readonly waitAcked: number;
  readonly waitLost: number;
  /** Acknowledgement time of the latest lost write, in ms after the cut; 0 when nothing was lost. */
  readonly latestLostAckMs: number;
  readonly perProxy: ProxyLoss[];
  /** How long the cut lasted, and whether `holdUntil` held before it ended (undefined without one). */
  readonly cutMs: number;
  readonly held?: boolean;
}

export interface PartitionOptions {
  /** The cuts to make, given the master before the cut: pairs of sides. */
  readonly cuts: (master: Pod) => Array<[PartitionMember[], PartitionMember[]]>;
  readonly durationMs: number;
  /** Proxy pods to pin writers to (default: the chart's). */
  readonly proxies?: Pod[];
  /** How long the chart may take to settle after the heal (default 60 s). */
  readonly settleMs?: number;
  /** What happens under the writers before the cut; returns the master then (default: nothing). */
  readonly prelude?: (master: Pod) => Promise<Pod>;
  /** How long to wait after the heal before the chart is let settle, for a failover it might start (default 0). */
  readonly afterHealMs?: number;
  /**
   * Keeps the cut, after `durationMs`, until `done` holds (bounded by `maxMs` from the cut): for a
   * scenario whose point is what happens once the cut has had its effect (a failover it provokes),
   * which a loaded machine may take longer to reach.
   */
  readonly holdUntil?: { readonly what: string; readonly done: (atCut: Pod) => Promise<boolean>; readonly maxMs: number };
}

/** Runs one partition scenario; leaves the network healed and the writers stopped. */
export async function runPartition(env: HaEnv, label: string, o: PartitionOptions): Promise<PartitionOutcome> {
  const before = await env.settle(60_000, { proxy: true });
  const proxies = o.proxies ?? env.proxies;
  const writers = proxies.flatMap((p, i) => [
    new Writer(() => env.connectPod(p), { mode: 'set', prefix: `${label}:${i}:plain` }),
    new Writer(() => env.connectPod(p), { mode: 'wait', prefix: `${label}:${i}:wait`, waitMs: 1000 }),
  ]);
  writers.forEach((w) => w.start());
  const handles = [];
  let cutAt: number;
  let cutMs: number;
  let held: boolean | undefined;
  let atCut = before;
  try {
    await waitUntil(() => writers.every((w) => w.acked.length > 20), 15_000, 'writers warmed up');
    if (o.prelude) atCut = await o.prelude(before);
    cutAt = Date.now();
    for (const [a, b] of o.cuts(atCut)) handles.push(await env.cluster.partition(a, b));
    await sleep(o.durationMs);
    const hold = o.holdUntil;
    if (hold) {
      held = await waitUntil(() => hold.done(atCut), Math.max(100, hold.maxMs - (Date.now() - cutAt)), hold.what, { intervalMs: 100 })
        .then(() => true, () => false);
    }
  } finally {
    cutMs = Date.now() - cutAt!;
    for (const h of handles) await h.heal();
  }
  try {
    await sleep(o.afterHealMs ?? 0);
    const after = await env.settle(o.settleMs ?? 60_000, { proxy: true });
    await sleep(1000);
    await Promise.all(writers.map((w) => w.stop()));
    const c = await env.connectPod(after);
    const perProxy: ProxyLoss[] = [];
    try {
      for (const [i, p] of proxies.entries()) {
        let acked = 0;
        let lost = 0;
        let waitAcked = 0;
        let waitLost = 0;
        let latest = 0;
        for (const w of writers.slice(2 * i, 2 * i + 2)) {
          // Every OK counts as acknowledged (the WAIT writer's too); WAIT-acknowledged ones also apart.
          const v = await w.verify(c);
          const missing = new Set(v.missing);
          acked += w.acked.length;
          lost += missing.size;
          waitAcked += w.waitAcked.length;
          waitLost += v.missingWaitAcked.length;
          for (const r of w.acked) if (missing.has(r.n)) latest = Math.max(latest, r.ackAt - cutAt);
        }
        perProxy.push({ proxy: p.name, acked, lost, waitAcked, waitLost, latestLostAckMs: latest });
      }
    } finally {
      c.close();
    }
    const total = (k: 'acked' | 'lost' | 'waitAcked' | 'waitLost') => perProxy.reduce((n, x) => n + x[k], 0);
    return {
      label,
      masterBefore: env.num(atCut),
      masterAfter: env.num(after),
      mastersAfter: (await env.masters()).length,
      plainAcked: total('acked'),
      plainLost: total('lost'),
      waitAcked: total('waitAcked'),
      waitLost: total('waitLost'),
      latestLostAckMs: Math.max(0, ...perProxy.map((x) => x.latestLostAckMs)),
      perProxy,
      cutMs,
      held,
    };
  } finally {
    await Promise.all(writers.map((w) => w.stop()));
  }
}

/** The Jepsen setup: the master and one proxy cut off from everything else. */
export function jepsenCut(env: HaEnv, proxies: Pod[] = env.proxies): PartitionOptions['cuts'] {
  return (master) => {
    const minority: Pod[] = [master, proxies[0]];
    const majority = [...env.redis, ...env.sentinels, ...proxies.slice(1)].filter((p) => !minority.includes(p));
    return [[minority, majority]];
  };
}

/** How the failover before a lone-sentinel cut comes about. */
export enum FailoverCause {
  /** A SIGKILL of the master; its pod starts again and rejoins as a replica. */
  KILL = 'kill',
  /** The Jepsen cut for 3 x down-after, then the heal. */
  PARTITION = 'partition',
}

export interface LoneSentinelOptions {
  readonly cause: FailoverCause;
  /** How many sentinels are cut off together (none of them the failover's leader). */
  readonly count: number;
  readonly downAfterMs: number;
  readonly failoverTimeoutMs: number;
}

export interface LoneSentinelOutcome extends PartitionOutcome {
  /** The sentinels cut off. */
  readonly lone: string[];
  /** +odown and +switch-master events after the cut, by any sentinel. */
  readonly odownAfterCut: number;
  readonly switchAfterCut: number;
}

/**
 * A failover (by `cause`), then, once every sentinel may start a failover again (2 x failover-timeout
 * after the last +switch-master), `count` sentinels that did not lead it cut off from every other pod
 * for down-after + 3 s, and healed: the scenario of issue 19. Valkey 9 sentinels kept the "master down"
 * answers of that failover and, cut off alone, failed the healthy master over after the heal.
 */
export async function loneSentinelsAfterFailover(env: HaEnv, label: string, o: LoneSentinelOptions): Promise<LoneSentinelOutcome> {
  const watcher: SentinelWatcher = await env.watchSentinels();
  let lone: Pod[] = [];
  let cutAt = 0;
  try {
    const outcome = await runPartition(env, label, {
      prelude: async (master) => {
        const since = Date.now();
        if (o.cause === FailoverCause.KILL) {
          await master.kill('SIGKILL');
          await env.waitNewMaster(master, 30_000);
          await master.start();
        } else {
          const [[minority, majority]] = jepsenCut(env)(master);
          const cut = await env.cluster.partition(minority, majority);
          try {
            await sleep(3 * o.downAfterMs);
          } finally {
            await cut.heal();
          }
        }
        const next = await env.settle(60_000, { proxy: true });
        if (next === master) throw new Error(`${label}: the ${o.cause} caused no failover (redis${env.num(master)} still master)`);
        const names = env.sentinels.map((s) => s.name);
        await waitUntil(() => names.every((n) => watcher.on('+switch-master', since).some((e) => e.source === n)), 30_000,
          'every sentinel emitted +switch-master');
        const leaders = new Set(watcher.on('+elected-leader', since).map((e) => e.source));
        lone = env.sentinels.filter((s) => !leaders.has(s.name)).slice(0, o.count);
        if (lone.length < o.count) throw new Error(`${label}: only ${lone.length} sentinels did not lead the failover`);
        const lastSwitch = Math.max(...watcher.on('+switch-master', since).map((e) => e.at));
        await sleep(Math.max(0, lastSwitch + 2 * o.failoverTimeoutMs + 1000 - Date.now()));
        cutAt = Date.now();
        return next;
      },
      cuts: () => [[lone, [...env.redis, ...env.proxies, ...env.sentinels].filter((p) => !lone.includes(p))]],
      durationMs: o.downAfterMs + 3000,
      afterHealMs: o.failoverTimeoutMs,
    });
    return {
      ...outcome,
      lone: lone.map((s) => s.name),
      odownAfterCut: watcher.on('+odown', cutAt).length,
      switchAfterCut: watcher.on('+switch-master', cutAt).length,
    };
  } finally {
    await watcher.stop();
  }
}
