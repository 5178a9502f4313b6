/**
 * One network partition under write load, shared by the e2e scenarios and the benchmark: writers
 * pinned to each proxy pod (one plain, one with WAIT 1), a cut between groups of pods, a heal, and
 * what was lost, measured against the master the chart settles on.
 */
import { HaEnv } from './redis-ha-env';
import { PartitionMember, Pod, Writer, sleep, waitUntil } from './harness';

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
}

export interface PartitionOptions {
  /** The cuts to make, given the master before the cut: pairs of sides. */
  readonly cuts: (master: Pod) => Array<[PartitionMember[], PartitionMember[]]>;
  readonly durationMs: number;
  /** Proxy pods to pin writers to (default: the chart's). */
  readonly proxies?: Pod[];
  /** How long the chart may take to settle after the heal (default 60 s). */
  readonly settleMs?: number;
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
  try {
    await waitUntil(() => writers.every((w) => w.acked.length > 20), 15_000, 'writers warmed up');
    cutAt = Date.now();
    for (const [a, b] of o.cuts(before)) handles.push(await env.cluster.partition(a, b));
    await sleep(o.durationMs);
  } finally {
    for (const h of handles) await h.heal();
  }
  try {
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
      masterBefore: env.num(before),
      masterAfter: env.num(after),
      mastersAfter: (await env.masters()).length,
      plainAcked: total('acked'),
      plainLost: total('lost'),
      waitAcked: total('waitAcked'),
      waitLost: total('waitLost'),
      latestLostAckMs: Math.max(0, ...perProxy.map((x) => x.latestLostAckMs)),
      perProxy,
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
