/**
 * The Jepsen partition: the master and one proxy cut off from the other Redis pods, every sentinel
 * and the other proxies for 3 x down-after, then healed; writers pinned to every proxy pod. The
 * role-only baseline proxy stands on the master's side of the cut too, in the same run.
 */
import { BenchEnv, chartProxyCfg } from './env';
import { roleOnlyCfg } from './haproxy-variants';
import { PartitionOutcome, runPartition } from '../test/e2e/partition-scenario';
import { Pod } from '../test/e2e/harness';

export const ROLE_ONLY_PARTITION = 'bench-partition-role-only';

export interface PartitionFigure {
  readonly downAfterMs: number;
  readonly durationMs: number;
  /** Acknowledged writes lost through the chart's proxies and through the role-only baseline. */
  readonly lost: { ours: number; roleOnly: number };
  readonly acked: { ours: number; roleOnly: number };
  readonly waitLost: { ours: number; roleOnly: number };
  /** Latest acknowledgement of a lost write through the chart's proxies, ms after the cut (0: none lost). */
  readonly latestLostAckMs: number;
  readonly latestLostAckMsRoleOnly: number;
  readonly mastersAfter: number;
  readonly outcome: PartitionOutcome;
}

export async function measurePartition(o: { subnet: number; downAfterMs: number; log: (m: string) => void }): Promise<PartitionFigure> {
  const be = await BenchEnv.create({
    subnet: o.subnet,
    name: 'bench-partition',
    network: 'netns',
    variants: [{ name: ROLE_ONLY_PARTITION, cfg: roleOnlyCfg(chartProxyCfg({})) }],
    startVariants: true,
  });
  try {
    const env = be.env;
    const roleOnly = await be.startVariant(ROLE_ONLY_PARTITION, 60_000);
    const durationMs = 3 * o.downAfterMs;
    o.log(`partition: cutting the master, ${env.proxies[0].name} and the role-only proxy off for ${durationMs} ms`);
    const outcome = await runPartition(env, 'bench-jepsen', {
      proxies: [...env.proxies, roleOnly],
      durationMs,
      cuts: (master) => {
        const minority: Pod[] = [master, env.proxies[0], roleOnly];
        const majority = [...env.redis, ...env.sentinels, ...env.proxies].filter((p) => !minority.includes(p));
        return [[minority, majority]];
      },
    });
    const ours = outcome.perProxy.filter((x) => x.proxy !== roleOnly.name);
    const base = outcome.perProxy.filter((x) => x.proxy === roleOnly.name);
    const sum = (xs: typeof ours, k: 'acked' | 'lost' | 'waitLost') => xs.reduce((n, x) => n + x[k], 0);
    const fig: PartitionFigure = {
      downAfterMs: o.downAfterMs,
      durationMs,
      lost: { ours: sum(ours, 'lost'), roleOnly: sum(base, 'lost') },
      acked: { ours: sum(ours, 'acked'), roleOnly: sum(base, 'acked') },
      waitLost: { ours: sum(ours, 'waitLost'), roleOnly: sum(base, 'waitLost') },
      latestLostAckMs: Math.max(0, ...ours.map((x) => x.latestLostAckMs)),
      latestLostAckMsRoleOnly: Math.max(0, ...base.map((x) => x.latestLostAckMs)),
      mastersAfter: outcome.mastersAfter,
      outcome,
    };
    o.log(`partition: ${JSON.stringify({ ...fig, outcome: undefined })}`);
    return fig;
  } finally {
    await be.shutdown();
  }
}
