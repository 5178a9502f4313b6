/**
 * Steps and scenarios shared by the failover suite (test/e2e/failover.test.ts) and the engine
 * matrix (test/e2e/matrix.test.ts): each checks what it reports, and reports one line.
 */
import { Pod, SentinelWatcher, Writer, errText, sleep, waitUntil } from './harness';
import { HaEnv } from './redis-ha-env';

// ------------------------------------------------------------------ reporting

export const summary: string[] = [];
export function report(scenario: string, fields: Record<string, unknown>): void {
  const line = `${scenario}: ${Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v as string | number | boolean | null | undefined)}`)
    .join(' ')}`;
  summary.push(line);
  console.log(`[e2e] ${line}`);
}

export function ms(v: number | undefined): string {
  return v === undefined ? 'n/a' : `${v}ms`;
}

// ------------------------------------------------------------------ shared steps

export interface KillResult {
  oldMaster: Pod;
  newMaster: Pod;
  killAt: number;
  gapMs?: number;
  switchMs?: number;
}

/**
 * Brings the topology to a known, converged state (every pod running, sentinels agree and know all replicas
 * and each other, proxies ready) and checks the proxy routes writes.
 */
export async function healthy(env: HaEnv, timeoutMs = 30_000, opts: { converged?: boolean; heal?: boolean } = {}): Promise<Pod> {
  if (opts.heal !== false) await env.heal();
  return env.settle(timeoutMs, { converged: opts.converged, proxy: true });
}

/** SIGKILLs the current master under write load; checks promotion, durability and single-master. */
export async function masterKill(env: HaEnv, label: string, timeoutMs: number, watcher: SentinelWatcher, opts: { converged?: boolean; heal?: boolean } = {}): Promise<KillResult> {
  const oldMaster = await healthy(env, 30_000, opts);
  const plain = new Writer(() => env.connectProxy(), { mode: 'set', prefix: `${label}:plain` }).start();
  const durable = new Writer(() => env.connectProxy(), { mode: 'wait', prefix: `${label}:wait`, waitMs: 1000 }).start();
  let killAt = 0;
  let gapMs: number | undefined;
  try {
    await waitUntil(() => plain.acked.length > 50 && durable.waitAcked.length > 20, 10_000, 'writers warmed up');
    const knownReplicas = await env.knownReplicaCounts();
    killAt = Date.now();
    await oldMaster.kill('SIGKILL');
    // Writes sent before the process was seen dead may still have been served by it: only later ones count.
    const killedAt = Date.now();
    console.log(`[e2e] ${label}: killed redis${env.num(oldMaster)} ${killAt - env.startedAt}ms after the pods started; replicas known per sentinel: ${knownReplicas.join(',')}`);
    await waitUntil(() => plain.firstAckAfter(killedAt), timeoutMs, 'first acknowledged write through the proxy after the kill');
    await waitUntil(() => durable.waitAcked.some((r) => r.sentAt >= killedAt), timeoutMs, 'first WAIT-acknowledged write after the kill');
    await sleep(500);
    gapMs = plain.gapAfter(killAt, killedAt);
    await plain.stop();
    await durable.stop();

    const newMaster = await env.waitNewMaster(oldMaster, 10_000);
    await env.waitTopology(newMaster, 20_000, 'after failover');
    // The failover is over once every running sentinel has switched (the leader does so at failover-end).
    const running = env.sentinels.filter((p) => p.running).map((p) => p.name);
    await waitUntil(() => running.every((n) => watcher.on('+switch-master', killAt).some((e) => e.source === n)), 30_000, 'every sentinel emitted +switch-master');
    const switchAll = Math.max(...watcher.on('+switch-master', killAt).map((e) => e.at)) - killAt;
    const c = await env.connectPod(newMaster);
    let vp;
    let vd;
    try {
      vp = await plain.verify(c);
      vd = await durable.verify(c);
    } finally {
      c.close();
    }
    const sw = watcher.first('+switch-master', killAt);
    const res: KillResult = { oldMaster, newMaster, killAt, gapMs, switchMs: sw ? sw.at - killAt : undefined };
    report(label, {
      killed: `redis${env.num(oldMaster)}`,
      promoted: `redis${env.num(newMaster)}`,
      writeGap: ms(res.gapMs),
      maxPause: ms(plain.maxAckPause(killAt, killAt + (res.gapMs ?? 0) + 500)),
      switchMaster: ms(res.switchMs),
      allSwitched: ms(switchAll),
      sdown: ms(watcher.first('+sdown', killAt) && watcher.first('+sdown', killAt)!.at - killAt),
      odown: ms(watcher.first('+odown', killAt) && watcher.first('+odown', killAt)!.at - killAt),
      plainAcked: vp.checked,
      plainLost: vp.missing.length,
      waitAcked: durable.waitAcked.length,
      waitAckedLost: vd.missingWaitAcked.length,
      failures: plain.failureSummary(3),
    });
    if (process.env.E2E_TIMELINE === '1') console.log(`[e2e] ${label} timeline:\n${watcher.timeline(killAt, killAt)}`);
    expect(vd.missingWaitAcked).toEqual([]);
    expect(await env.masters()).toEqual([newMaster]);
    return res;
  } catch (e) {
    console.log(`[e2e] ${label}: sentinel events since the kill:\n${watcher.timeline(killAt, killAt)}\nwrite failures: ${plain.failureSummary(5).join(' | ')}\nroles: ${(await env.roles()).join(', ')}}`);
    throw e;
  } finally {
    await plain.stop();
    await durable.stop();
  }
}

export function guard(env: () => HaEnv, fn: () => Promise<void>): () => Promise<void> {
  return async () => {
    try {
      await fn();
    } catch (e) {
      const en = env();
      let state: string;
      try {
        state = `sentinels: ${(await en.sentinelMasters()).join(', ')}\nroles: ${(await en.roles()).join(', ')}`;
      } catch (e2) {
        state = errText(e2);
      }
      console.log(`SCENARIO FAILED: ${errText(e)}\n${state}\n${en.dumpLogs(30)}`);
      throw e;
    }
  };
}

/** Scenario 3: the killed master restarts on its volume, rejoins as a replica and never serves proxied writes while stale. */
export async function staleMasterRejoins(env: HaEnv, killed: KillResult, watcher: SentinelWatcher): Promise<void> {
  const { oldMaster, newMaster } = killed;
  expect(oldMaster.running).toBe(false);
  const plain = new Writer(() => env.connectProxy(), { mode: 'set', prefix: '3:plain' }).start();
  const roleSeen = new Set<string>();
  let polling = true;
  const poller = (async () => {
    while (polling) {
      try {
        roleSeen.add((await env.role(oldMaster)).role);
      } catch {
        /* not up yet */
      }
      await sleep(25);
    }
  })();
  const since = Date.now();
  try {
    await waitUntil(() => plain.acked.length > 20, 10_000, 'writer warmed up');
    await oldMaster.start();
    await env.waitTopology(newMaster, 30_000, 'old master rejoined');
    await sleep(1000);
  } finally {
    polling = false;
    await poller;
    await plain.stop();
  }
  const c = await env.connectPod(newMaster);
  const v = await plain.verify(c).finally(() => c.close());
  report('3 old-master-rejoin', {
    rolesObservedOnOldMaster: [...roleSeen],
    acked: v.checked,
    lost: v.missing.length,
    switchMaster: watcher.on('+switch-master', since).length,
    failures: plain.failureSummary(3),
  });
  expect(roleSeen.has('master')).toBe(false);
  expect(v.missing).toEqual([]);
  expect(watcher.on('+switch-master', since)).toEqual([]);
  expect(await env.masters()).toEqual([newMaster]);
}

/** Scenario 4: every sentinel restarts on its volume: the same master (not the initial one), the same ids, no failover. */
export async function sentinelsRestart(env: HaEnv, watcher: SentinelWatcher, downAfterMs: number): Promise<void> {
  const master = await healthy(env);
  expect(master).not.toBe(env.redis[0]);
  const idsBefore = await Promise.all(env.sentinels.map((s) => env.on<string>(s, ['SENTINEL', 'MYID'], env.sentinelPort)));
  const since = Date.now();
  await Promise.all(env.sentinels.map((s) => s.kill('SIGKILL')));
  await Promise.all(env.sentinels.map((s) => s.start()));
  await waitUntil(async () => (await env.sentinelMasters()).every((v) => v === `${env.hostOf(master)}:6379`), 15_000, 'restarted sentinels name the current master');
  const idsAfter = await Promise.all(env.sentinels.map((s) => env.on<string>(s, ['SENTINEL', 'MYID'], env.sentinelPort)));
  // Give them time to (wrongly) start a failover: several down-after periods.
  await sleep(3 * downAfterMs + 2000);
  const views = await env.sentinelMasters();
  report('4 sentinels-restart', { master: `redis${env.num(master)}`, views: views.map((v) => v.split('-service')[0]), idsKept: JSON.stringify(idsBefore) === JSON.stringify(idsAfter), switchMaster: watcher.on('+switch-master', since).length });
  expect(idsAfter).toEqual(idsBefore);
  expect(views).toEqual(env.sentinels.map(() => `${env.hostOf(master)}:6379`));
  expect(watcher.on('+switch-master', since)).toEqual([]);
  expect(await env.masters()).toEqual([master]);
}
