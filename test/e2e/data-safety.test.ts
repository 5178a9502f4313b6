/**
 * Data safety when a volume comes back empty (a lost local disk, a recreated claim, a hostPath
 * pod on another node): no instance ever serves as master with less data than a peer holds, so
 * every acknowledged write survives, however quickly the pod returns.
 */
import { Duration } from 'cdk8s';
import { HaEnv } from './redis-ha-env';
import { Pod, Writer, errText, sleep, waitUntil } from './harness';

jest.setTimeout(180_000);

const DOWN_AFTER_MS = 2000;
const SHORT = { sentinel: { downAfter: Duration.millis(DOWN_AFTER_MS), failoverTimeout: Duration.millis(6000) } };

describe('wiped volumes (down-after 2000ms): every acknowledged write survives', () => {
  let env: HaEnv;
  beforeAll(async () => {
    env = await HaEnv.create({ subnet: 216, name: 'wipe', props: SHORT });
  });
  afterAll(async () => env?.shutdown());

  /** Crashes the pods, wipes their claims and starts them again, after `delayMs`. */
  async function crashWipeRestart(pods: Pod[], delayMs = 0): Promise<void> {
    await Promise.all(pods.map((p) => p.kill('SIGKILL')));
    for (const p of pods) env.cluster.wipeClaim(p.claims.get('data') as string);
    if (delayMs) await sleep(delayMs);
    await Promise.all(pods.map((p) => p.start()));
  }

  /**
   * Runs `fault` under a plain and a WAIT writer through the proxy, waits for the chart to settle,
   * then checks that exactly one master holds every acknowledged write.
   */
  async function underWrites(label: string, fault: (master: Pod) => Promise<void>): Promise<Pod> {
    const before = await env.settle(30_000, { proxy: true });
    const plain = new Writer(() => env.connectProxy(), { mode: 'set', prefix: `${label}:plain` }).start();
    const durable = new Writer(() => env.connectProxy(), { mode: 'wait', prefix: `${label}:wait`, waitMs: 1000 }).start();
    try {
      await waitUntil(() => plain.acked.length > 200 && durable.waitAcked.length > 50, 15_000, 'writers warmed up');
      const faultAt = Date.now();
      await fault(before);
      const doneAt = Date.now();
      await waitUntil(() => plain.firstAckAfter(doneAt) && durable.waitAcked.some((r) => r.sentAt >= doneAt), 60_000, 'writes resumed after the fault');
      await plain.stop();
      await durable.stop();
      const after = await env.settle(60_000, { proxy: true });
      const c = await env.connectPod(after);
      try {
        const vp = await plain.verify(c);
        const vd = await durable.verify(c);
        console.log(`[e2e] ${label}: master redis${env.num(before)} -> redis${env.num(after)}; plain acked ${vp.checked}, lost ${vp.missing.length}; ` +
          `WAIT-acked ${durable.waitAcked.length}, lost ${vd.missingWaitAcked.length}; write gap ${plain.gapAfter(faultAt)} ms`);
        expect(vp.missing).toEqual([]);
        expect(vd.missingWaitAcked).toEqual([]);
      } finally {
        c.close();
      }
      expect(await env.masters()).toEqual([after]);
      return after;
    } catch (e) {
      console.log(`[e2e] ${label} failed: ${errText(e)}\nroles: ${(await env.roles()).join(', ')}\nsentinels: ${(await env.sentinelMasters()).join(', ')}\n${env.dumpLogs(30)}`);
      throw e;
    } finally {
      await plain.stop();
      await durable.stop();
    }
  }

  test('the master returns on an empty volume inside down-after: a replica that holds the data is promoted', async () => {
    let wiped: Pod | undefined;
    const after = await underWrites('wiped-master-fast', async (master) => {
      wiped = master;
      await crashWipeRestart([master]);
    });
    expect(after).not.toBe(wiped);
    expect((await env.role(wiped as Pod)).role).toBe('slave');
  });

  test('the master returns on an empty volume after the failover: it rejoins as a replica', async () => {
    let wiped: Pod | undefined;
    const after = await underWrites('wiped-master-late', async (master) => {
      wiped = master;
      await crashWipeRestart([master], 3 * DOWN_AFTER_MS + 6000);
    });
    expect(after).not.toBe(wiped);
  });

  test('a replica returns on an empty volume: it resyncs and the master keeps serving', async () => {
    const after = await underWrites('wiped-replica', async (master) => {
      await crashWipeRestart([env.redis.find((p) => p !== master) as Pod]);
    });
    expect(after).toBeDefined();
  });

  test('the master and a replica return on empty volumes at once: the replica that kept its data is promoted', async () => {
    let kept: Pod | undefined;
    const after = await underWrites('wiped-two', async (master) => {
      const replicas = env.redis.filter((p) => p !== master);
      kept = replicas[1];
      await crashWipeRestart([master, replicas[0]]);
    });
    expect(after).toBe(kept);
  });
});
