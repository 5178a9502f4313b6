/**
 * Resharding on the classic path: the RedisCluster chart on Redis 8.0, which has no atomic slot
 * migration, so the rebalancer moves slots with the engine's own `--cluster reshard` (`SETSLOT
 * IMPORTING/MIGRATING`, `MIGRATE`; ioredis `Cluster` follows `ASK`) and finishes a move cut short with
 * `--cluster fix`. Under writes (SET + `WAIT 1`, and plain SET): 3 → 4 shards, then 4 → 5 with the
 * source master SIGKILLed while a slot is open on it. Runs with the matrix, once the engine builds
 * are done; skipped, loudly, where the mirror gave no Redis 8.0 source.
 */
import { Duration } from 'cdk8s';
import { RedisEngine } from '../../src';
import { ClusterEnv } from './cluster-env';
import { canRun, parseInfo } from './harness';
import { CutMove, Resharding } from './reshard-scenario';

jest.setTimeout(900_000);

const NODE_TIMEOUT_MS = 5000;
const STEP_MS = 300_000;
const ENGINE = RedisEngine.redis({ image: 'redis:8.0.6' });

const describeIfBuilt = canRun(ENGINE.image) ? describe : describe.skip;
if (!canRun(ENGINE.image)) console.warn(`[e2e] SKIPPED the classic resharding path: no build of ${ENGINE.image} in the engine cache`);

describeIfBuilt('RedisCluster on Redis 8.0: resharding on the classic path under writes through ioredis Cluster', () => {
  let env: ClusterEnv;
  let run: Resharding;
  const props = (more: Parameters<ClusterEnv['apply']>[0]) => ({ nodeTimeout: Duration.millis(NODE_TIMEOUT_MS), engine: ENGINE, ...more });

  beforeAll(async () => {
    env = await ClusterEnv.create({ subnet: 248, name: 'mxcluster', props: props({}) });
    await env.waitHealthy('the first start forms the cluster', STEP_MS);
    run = new Resharding(env, STEP_MS, NODE_TIMEOUT_MS);
  });
  afterAll(async () => {
    await run?.stop();
    await env?.shutdown();
  });

  test('the nodes are Redis 8.0, without atomic slot migration', async () => {
    for (const pod of env.pods) {
      expect(parseInfo((await env.ask(pod, 'INFO', 'server')) ?? '').redis_version).toMatch(/^8\.0\./);
      expect(await env.ask(pod, 'CLUSTER', 'GETSLOTMIGRATIONS')).toBeUndefined();
    }
  });

  test('3 → 4 shards: the new shard gets its share by classic moves; nothing acknowledged lost', async () => {
    const r = await run.step('3 → 4 (classic)', props({ shards: 4 }));
    expect(env.pods).toHaveLength(8);
    expect(env.pods.some((p) => p.logs({ lines: 2000 }).includes('--cluster reshard ended'))).toBe(true);
    expect({ lost: r.lost, plainLost: r.plainLost, replicatedLost: r.replicatedLost }).toEqual({ lost: 0, plainLost: 0, replicatedLost: 0 });
    expect(r.replicated).toBeGreaterThan(0);
  });

  test('4 → 5 with the source master killed while a slot is open on it: fixed, finished, no WAIT-acknowledged write lost', async () => {
    await run.preload();
    let cut: CutMove | undefined;
    const r = await run.step('4 → 5 (classic), source killed', props({ shards: 5 }), async () => {
      cut = await run.killInMove('a slot migrating away from a master', () =>
        run.classicMove('migrating', env.pods.filter((p) => env.shardOf(p) < 4)));
    });
    expect(cut).toBeDefined();
    expect(env.pods).toHaveLength(10);
    expect(await run.bulkDamaged()).toEqual([]);
    expect(r.replicatedLost).toBe(0);
    // Plain SETs acknowledged by the killed master before its replica had them may be lost. Reported.
    console.log(`plain SETs lost with the killed master: ${r.plainLost} of ${r.plainAcked}`);
  });
});
