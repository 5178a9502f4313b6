/**
 * One rollout under writes, shared by test/e2e/upgrade.test.ts and bench/upgrade.ts: a plain and a
 * WAIT 1 writer through the proxy, `manifests` applied as `kubectl apply` applies them, then every
 * acknowledged write checked on the master the chart settles on.
 */
import { K8sObject, Pod, VerifyResult, Writer, waitUntil } from './harness';
import { HaEnv } from './redis-ha-env';

export interface RolloutUnderWrites {
  /** The pods replaced, with when each old one stopped and its successor started. */
  readonly replaced: Array<{ pod: Pod; stoppedAt: number; startedAt: number }>;
  /** From the apply until the first acknowledged write after the rollout. */
  readonly from: number;
  readonly to: number;
  /** The master after the rollout. */
  readonly after: Pod;
  readonly plain: Writer;
  readonly durable: Writer;
  readonly plainResult: VerifyResult;
  readonly durableResult: VerifyResult;
}

export async function rolloutUnderWrites(env: HaEnv, label: string, manifests: K8sObject[],
  opts: { resumeTimeoutMs: number; onResumed?: () => Promise<void> }): Promise<RolloutUnderWrites> {
  const plain = new Writer(() => env.connectProxy(), { mode: 'set', prefix: `${label}:plain` }).start();
  const durable = new Writer(() => env.connectProxy(), { mode: 'wait', prefix: `${label}:wait`, waitMs: 1000 }).start();
  let replaced: RolloutUnderWrites['replaced'];
  let from: number;
  let to: number;
  try {
    await waitUntil(() => plain.acked.length > 100 && durable.waitAcked.length > 30, 15_000, 'writers warmed up');
    from = Date.now();
    replaced = await env.cluster.rollout(manifests);
    const doneAt = Date.now();
    await waitUntil(() => plain.firstAckAfter(doneAt) !== undefined, opts.resumeTimeoutMs, 'writes after the rollout');
    to = Date.now();
  } finally {
    await opts.onResumed?.();
    await plain.stop();
    await durable.stop();
  }
  const after = await env.settle(60_000, { proxy: true });
  const c = await env.connectPod(after);
  try {
    return { replaced, from, to, after, plain, durable, plainResult: await plain.verify(c), durableResult: await durable.verify(c) };
  } finally {
    c.close();
  }
}
