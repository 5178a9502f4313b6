/**
 * An upgrade under a steady writer through the proxy: a re-synthesized chart with a new image for
 * the Redis instances and the sentinels, applied as `kubectl apply` applies it (every changed pod
 * stopped at once, preStop hooks run, new pods started as the old are gone). Measured for the chart
 * (hooks take turns, the master last) and for the all-at-once baseline (the same hooks with the
 * turn-taking off: each stops at once, the master still hands over), in the same run.
 */
import { RedisEngine } from '../src';
import { HaEnv } from '../test/e2e/redis-ha-env';
import { K8sObject } from '../test/e2e/harness';
import { rolloutUnderWrites } from '../test/e2e/upgrade-scenario';

/** Another tag of the default release: the harness runs the same build of its line for both. */
const NEXT_ENGINE = RedisEngine.valkey({ image: `${RedisEngine.DEFAULT_VALKEY_IMAGE}-trixie` });

export interface UpgradeRun {
  /** Longest time without an acknowledged write, from the apply until writes flow after it. */
  readonly pauseMs: number;
  readonly rolloutMs: number;
  readonly acked: number;
  readonly lost: number;
  readonly waitAcked: number;
  readonly waitLost: number;
}

export interface UpgradeFigure {
  readonly ours: UpgradeRun;
  readonly allAtOnce: UpgradeRun;
}

/** Turns the hooks' turn-taking off in every Redis and sentinel container (the baseline). */
function allAtOnce(manifests: K8sObject[]): void {
  for (const o of manifests.filter((m) => m.kind === 'Deployment')) {
    for (const c of o.spec.template.spec.containers) {
      if (c.lifecycle?.preStop) c.env = [...(c.env ?? []), { name: 'ROLLOUT_ORDERED', value: 'false' }];
    }
  }
}

async function run(subnet: number, name: string, patch: ((m: K8sObject[]) => void) | undefined, log: (m: string) => void): Promise<UpgradeRun> {
  const env = await HaEnv.create({ subnet, name, network: 'netns', editManifests: patch });
  try {
    await env.settle(60_000, { proxy: true });
    const next = HaEnv.synth({ engine: NEXT_ENGINE }).manifests;
    patch?.(next);
    const { from, to, plain, durable, plainResult, durableResult } = await rolloutUnderWrites(env, name, next, { resumeTimeoutMs: 60_000 });
    const r: UpgradeRun = {
      pauseMs: plain.maxAckPause(from, to),
      rolloutMs: to - from,
      acked: plainResult.checked,
      lost: plainResult.missing.length,
      waitAcked: durable.waitAcked.length,
      waitLost: durableResult.missingWaitAcked.length,
    };
    log(`upgrade ${name}: ${JSON.stringify(r)}`);
    return r;
  } finally {
    await env.shutdown();
  }
}

export async function measureUpgrade(o: { subnet: number; log: (m: string) => void }): Promise<UpgradeFigure> {
  const ours = await run(o.subnet, 'bench-upgrade', undefined, o.log);
  const base = await run(o.subnet + 1, 'bench-upgrade-all-at-once', allAtOnce, o.log);
  return { ours, allAtOnce: base };
}
