/**
 * Resharding end to end: the RedisCluster chart (Valkey 9.1, atomic slot migration) grown from 3
 * to 4 to 6 shards and shrunk back to 3, each step one re-synthesized chart applied as `kubectl
 * apply --prune` does, while writers through ioredis `Cluster` write keys spread over every slot:
 * some SET then `WAIT 1`, some plain SET. After each step: cluster_state ok on every node, every
 * slot owned once, none importing or migrating, every shard holding its share, every key with its
 * last acknowledged value. A scale in that skips the drain is refused by the chart's admission
 * policy (evaluated by the harness with a real CEL engine). Then once more 3 → 4 with the
 * migration's source master killed in the middle of a move, and 4 → 5 with its target master
 * killed in the middle of one: no WAIT-acknowledged write lost.
 */
import { Duration } from 'cdk8s';
import { RedisCluster } from '../../src';
import { ClusterEnv } from './cluster-env';
import { Pod } from './harness';
import { CutMove, Resharding } from './reshard-scenario';

jest.setTimeout(900_000);

const NODE_TIMEOUT_MS = 5000;
// Forming, a step (new pods joining, slots moving) and healing; far more than a quiet machine needs.
const STEP_MS = 300_000;

describe('RedisCluster resharding under writes through ioredis Cluster: 3 → 4 → 6 → 3 shards', () => {
  let env: ClusterEnv;
  let run: Resharding;
  // Room for the 12 nodes of 6 shards (RedisCluster.graceFor), set from the start: a change of it restarts every node.
  const props = (more: Parameters<ClusterEnv['apply']>[0]) => ({ nodeTimeout: Duration.millis(NODE_TIMEOUT_MS), terminationGracePeriod: RedisCluster.graceFor(12), ...more });

  beforeAll(async () => {
    env = await ClusterEnv.create({ subnet: 247, name: 'reshard', props: props({}) });
    await env.waitHealthy('the first start forms the cluster', STEP_MS);
    run = new Resharding(env, STEP_MS, NODE_TIMEOUT_MS);
  });
  afterAll(async () => {
    await run?.stop();
    await env?.shutdown();
  });

  /** Runs the drained probe in a pod: 0 once its shard owns no slot. */
  const drainedProbe = async (pod: Pod) => (await env.cluster.exec(pod, ['sh', '/opt/redis-ha/probe.sh', 'drained'])).code;
  const noneLost = { lost: 0, plainLost: 0, replicatedLost: 0 };
  const losses = (r: { lost: number; plainLost: number; replicatedLost: number }) => ({ lost: r.lost, plainLost: r.plainLost, replicatedLost: r.replicatedLost });

  test('3 → 4 shards: the new shard joins empty and gets its share; nothing acknowledged lost', async () => {
    const r = await run.step('3 → 4', props({ shards: 4 }));
    expect(env.pods).toHaveLength(8);
    expect(env.pods.filter((p) => env.shardOf(p) === 3).map((p) => p.logs({ lines: 400 }).includes('an empty master of a shard added')).some(Boolean)).toBe(true);
    expect(losses(r)).toEqual(noneLost);
    expect(r.replicated).toBeGreaterThan(0);
  });

  test('4 → 6 shards: every shard within its share; nothing acknowledged lost', async () => {
    const r = await run.step('4 → 6', props({ shards: 6 }));
    expect(env.pods).toHaveLength(12);
    expect(losses(r)).toEqual(noneLost);
  });

  test('6 → 3 without draining first is refused by the admission policy, and nothing changes', async () => {
    const before = env.pods.map((p) => p.name);
    await expect(env.apply(props({ shards: 3 }))).rejects.toThrow(/drain the shard first/);
    expect(env.rc.shards).toBe(6);
    expect(env.pods.map((p) => p.name)).toEqual(before);
    expect(await env.problems()).toEqual([]);
  });

  test('6 → 3, step 1: shards 3-5 drained while their pods run; nothing acknowledged lost', async () => {
    const r = await run.step('6 → 3 (drain)', props({ shards: 6, drainedShards: 3 }));
    const drained = env.pods.filter((p) => env.shardOf(p) >= 3);
    expect(await Promise.all(drained.map(drainedProbe))).toEqual(drained.map(() => 0));
    expect(await drainedProbe(env.pods[0])).toBe(1);
    expect(losses(r)).toEqual(noneLost);
  });

  test('6 → 3, step 2: the drained shards removed, their nodes forgotten; nothing acknowledged lost', async () => {
    const r = await run.step('6 → 3 (remove)', props({ shards: 3 }));
    expect(env.pods).toHaveLength(6);
    expect(losses(r)).toEqual(noneLost);
  });

  test('3 → 4 with the source master of a move killed in the middle of it: finished later, no WAIT-acknowledged write lost', async () => {
    await run.preload();
    let cut: CutMove | undefined;
    const r = await run.step('3 → 4, source killed', props({ shards: 4 }), async () => {
      // The first move's source, past the handshake and before the hand-over: the slots' keys on their way.
      cut = await run.killInMove('an export sending its slots\' keys', () =>
        run.atomicMove('EXPORT', env.pods.filter((p) => env.shardOf(p) < 3), ['snapshotting', 'replicating', 'waiting-to-pause']));
    });
    expect(cut).toBeDefined();
    expect(await run.bulkDamaged()).toEqual([]);
    expect(r.replicatedLost).toBe(0);
    // Plain SETs acknowledged by the killed master before its replica had them may be lost: that is
    // what WAIT is for. Reported, not asserted.
    console.log(`plain SETs lost with the killed master: ${r.plainLost} of ${r.plainAcked}`);
  });

  test('4 → 5 with the target master of a move killed in the middle of it: the import dropped, the move done again, no WAIT-acknowledged write lost', async () => {
    await run.preload();
    let cut: CutMove | undefined;
    const r = await run.step('4 → 5, target killed', props({ shards: 5 }), async () => {
      // The new shard's master while it receives a move's keys, before the source grants it the
      // slots, and once it owns the slots of an earlier move: its replica, holding part of the cut
      // import, takes over and must drop that part.
      cut = await run.killInMove('an import receiving its slots\' keys on a master owning slots', async () =>
        run.atomicMove('IMPORT', await run.owningMaster(4), ['receiving-snapshot', 'waiting-for-paused']));
    });
    expect(cut).toBeDefined();
    expect(env.pods).toHaveLength(10);
    // The source saw the cut import fail and kept its slots; the rebalancer moved them again.
    expect(env.pods.some((p) => /move of slots \d+-\d+ ended after \d+s: failed/.test(p.logs({ lines: 2000 })))).toBe(true);
    expect(await run.bulkDamaged()).toEqual([]);
    expect(r.replicatedLost).toBe(0);
    // The source kept the slots of the cut move; its replica took over the slots shard 4 already
    // owned, so only plain writes to those, not yet replicated, can be lost. Reported, not asserted.
    // The replica dropped the cut import's keys: step() found no node with keys outside its slots.
    console.log(`plain SETs lost with the killed master: ${r.plainLost} of ${r.plainAcked}`);
  });
});
