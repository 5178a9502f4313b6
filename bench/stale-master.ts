/**
 * Figure 2, stale master: after a failover the old master comes back as a master with its old data (the
 * original design's restart: plain redis-server, no replicaof) until the sentinels demote it. One writer goes
 * through the chart's proxy, one through a role-only baseline proxy (the common HAProxy setup) in the same
 * cluster; at the end, acknowledged writes missing on the current master are counted for each.
 */
import { Writer, errText, parseInfo, sleep, waitUntil } from '../test/e2e/harness';
import { BenchEnv, churnWriter } from './env';
import { gapAfterKill } from './failover';

export const ROLE_ONLY = 'bench-role-only';

/** A proxy a writer goes through: the chart's Service (variant undefined) or a variant Deployment. */
export interface StaleProxy {
  key: string;
  label: string;
  variant?: string;
}

export interface StaleRun {
  /** min-replicas-to-write of the restarted old master (the chart's is 1; the original design had none). */
  staleMinReplicasToWrite: number;
  /** Requested pause between the end of the failover and the restart. */
  restartDelayMs: number;
  killed: string;
  promoted: string;
  /** +switch-master on the first sentinel -> the old master restarted. */
  restartAfterSwitchMs?: number;
  /** Old master restarted -> it answers role:master. */
  staleUpMs?: number;
  /** Old master restarted -> +convert-to-slave (first sentinel). */
  convertMs?: number;
  /** Old master restarted -> it is a replica with its link up. */
  rejoinedMs?: number;
  /** By StaleProxy key. */
  writers: Record<string, WriterResult>;
  errors: string[];
}

export interface WriterResult {
  label: string;
  acked: number;
  lost: number;
  /** Write gap of the failover itself (kill -> first acknowledged write sent after it). */
  failoverGapMs?: number;
  /** Failed writes while the stale master was up (restart -> rejoined), by error kind. */
  failuresWhileStale: string[];
  /** The same failures: ms after the restart and the error. */
  failureTimes: Array<[number, string]>;
}

export interface StaleOptions {
  staleMinReplicasToWrite: number;
  /**
   * 0: restart as soon as a quorum of sentinels emitted +switch-master (the earliest a stale master can meet a
   * proxy that follows the sentinels); otherwise this long after the failover is over (every sentinel switched,
   * replicas linked).
   */
  restartDelayMs: number;
  /** Writes per connection of the churning writers. */
  perConnection: number;
  proxies: StaleProxy[];
  log: (msg: string) => void;
}

function summarize(w: Writer, from: number, to: number): string[] {
  const counts = new Map<string, number>();
  for (const f of w.failuresBetween(from, to)) {
    const k = f.error.replace(/^.*?: (?=[A-Z]{3,} )/, '').replace(/\b\d+(\.\d+)*\b/g, '#').slice(0, 60);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts.entries()].map(([k, v]) => `${v}x ${k}`);
}

function times(w: Writer, from: number, to: number): Array<[number, string]> {
  return w.failuresBetween(from, to).map((f) => [f.at - from, f.error.replace(/^.*?: (?=[A-Z]{3,} )/, '').slice(0, 80)]);
}

export async function measureStaleMaster(be: BenchEnv, o: StaleOptions): Promise<StaleRun> {
  const env = be.env;
  const errors: string[] = [];
  const master = await be.healthy();
  for (const p of o.proxies) if (p.variant) await be.startVariant(p.variant);
  const watcher = await env.watchSentinels();
  const tag = `stale${o.staleMinReplicasToWrite}-${o.restartDelayMs}`;
  const opts = { mode: 'set' as const, intervalMs: 5 };
  const writers = o.proxies.map((p) => ({
    p,
    w: churnWriter(() => (p.variant ? be.connectVariant(p.variant) : env.connectProxy()), o.perConnection, { ...opts, prefix: `${tag}:${p.key}` }).start(),
  }));
  const main = master.main;
  const command = main.spec.command;
  let killAt = 0;
  let deadAt = 0;
  let staleAt = 0;
  let staleUpAt: number | undefined;
  let rejoinedAt: number | undefined;
  let newMaster = master;
  try {
    await waitUntil(() => writers.every((x) => x.w.acked.length > 50), 10_000, 'writers warmed up');
    killAt = Date.now();
    await master.kill('SIGKILL');
    deadAt = Date.now();
    const switched = (n: number) => new Set(watcher.on('+switch-master', killAt).map((e) => e.source)).size >= n;
    // A quorum of sentinels names the new master: from here a proxy that follows the sentinels may route to it.
    await waitUntil(() => switched(env.ha.sentinels.quorum), 30_000, 'a quorum of sentinels emitted +switch-master', { intervalMs: 10 });
    newMaster = await env.currentMasterPod();
    if (o.restartDelayMs > 0) {
      // The failover is over: every sentinel has switched and the replicas follow the new master.
      await waitUntil(() => switched(env.sentinels.length), 30_000, 'every sentinel emitted +switch-master');
      await env.waitTopology(newMaster, 30_000, 'failover done');
      await sleep(o.restartDelayMs);
    }

    // The original design's restart: redis-server with the chart's redis.conf and its old data, no replicaof.
    const script = [
      'umask 077',
      `{ echo "include /opt/redis-ha/redis.conf"; echo "bind $BIND_ADDRESS"; echo "min-replicas-to-write ${o.staleMinReplicasToWrite}"; } > /run/redis-ha/redis.conf`,
      // The pod's own engine (SERVER_BIN: valkey-server or redis-server).
      'exec "$SERVER_BIN" /run/redis-ha/redis.conf',
    ].join('\n');
    main.spec.command = ['sh', '-c', script];
    staleAt = Date.now();
    try {
      await be.cluster.startPod(master);
    } finally {
      main.spec.command = command;
    }
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && rejoinedAt === undefined) {
      try {
        const info = parseInfo(await env.on(master, ['INFO', 'replication']));
        if (info.role === 'master' && staleUpAt === undefined) staleUpAt = Date.now();
        if (info.role === 'slave' && info.master_link_status === 'up') rejoinedAt = Date.now();
      } catch {
        /* starting */
      }
      await sleep(25);
    }
    if (rejoinedAt === undefined) errors.push('the old master did not rejoin as a replica within 60s');
    await waitUntil(() => writers.every((x) => x.w.firstAckAfter(deadAt)), 30_000, 'writes resumed through every proxy');
    await env.waitTopology(newMaster, 30_000, 'old master demoted and linked');
    await sleep(1000);
  } catch (e) {
    errors.push(errText(e));
  } finally {
    await Promise.all(writers.map((x) => x.w.stop()));
    await watcher.stop();
  }
  const c = await env.connectPod(newMaster, 6379, 10_000);
  const results: Record<string, WriterResult> = {};
  const to = rejoinedAt ?? Date.now();
  try {
    for (const { p, w } of writers) {
      const v = await w.verify(c);
      results[p.key] = {
        label: p.label,
        acked: v.checked,
        lost: v.missing.length,
        failoverGapMs: gapAfterKill(w, killAt, deadAt),
        failuresWhileStale: summarize(w, staleAt, to),
        failureTimes: times(w, staleAt, to),
      };
    }
  } finally {
    c.close();
  }
  const convert = watcher.first('+convert-to-slave', staleAt || killAt);
  const sw = watcher.first('+switch-master', killAt);
  const run: StaleRun = {
    staleMinReplicasToWrite: o.staleMinReplicasToWrite,
    restartDelayMs: o.restartDelayMs,
    killed: `redis${env.num(master)}`,
    promoted: `redis${env.num(newMaster)}`,
    restartAfterSwitchMs: sw && staleAt ? staleAt - sw.at : undefined,
    staleUpMs: staleUpAt && staleUpAt - staleAt,
    convertMs: convert && convert.at - staleAt,
    rejoinedMs: rejoinedAt && rejoinedAt - staleAt,
    writers: results,
    errors,
  };
  o.log(`stale master (min-replicas-to-write ${o.staleMinReplicasToWrite}, restart ${run.restartAfterSwitchMs}ms after +switch-master): ` +
    Object.values(results).map((r) => `${r.label} lost ${r.lost}/${r.acked}`).join(', ') +
    `; stale up ${run.staleUpMs}ms, +convert-to-slave ${run.convertMs}ms, rejoined ${run.rejoinedMs}ms after restart${errors.length ? `; errors: ${errors.join('; ')}` : ''}`);

  // Back to the chart's own start (the entrypoint asks the sentinels), then the next measurement starts clean.
  await master.kill('SIGKILL');
  await be.cluster.startPod(master);
  for (const p of o.proxies) if (p.variant) await be.stopVariant(p.variant);
  await be.healthy();
  return run;
}
