/**
 * Figure 1, failover: SIGKILL the master under a steady writer through the proxy Service; measure the
 * client-visible write gap (kill -> ack of the first write sent after the kill) and the time to the first
 * +switch-master on any sentinel. Between kills the killed pod restarts on its volume and must rejoin as an
 * in-sync replica (WAIT on the new master acknowledged by every replica).
 */
import { Duration } from 'cdk8s';
import * as net from 'net';
import { SentinelWatcher, Writer, errText, sleep, waitUntil } from '../test/e2e/harness';
import { RedisHaProps } from '../src';
import { BenchEnv, ProxyVariant, median, stats } from './env';

/** The chart's props for a failover run: only down-after differs from the defaults. */
export function failoverProps(downAfterMs: number): RedisHaProps {
  return { sentinel: { downAfter: Duration.millis(downAfterMs) } };
}

export interface TimelineEvent {
  /** ms relative to the kill. */
  t: number;
  channel: string;
  source: string;
  message: string;
}

export interface KillSample {
  killed: string;
  promoted: string;
  gapMs: number;
  switchMs: number;
  /** When `quorum` sentinels had emitted +switch-master. */
  quorumSwitchMs?: number;
  sdownMs?: number;
  odownMs?: number;
  /** Write gap through each extra proxy variant (same run, own writer), by variant name. */
  variantGapMs: Record<string, number | undefined>;
  acked: number;
  /** Acknowledged writes not on the new master (asynchronous replication: acked by the old master just before the kill). */
  lost: number;
  failures: string[];
  /** For the picture: ack and failure times (ms relative to the kill) from 1.5 s before the kill. */
  acks: number[];
  fails: number[];
  events: TimelineEvent[];
}

export interface FailoverFigure {
  downAfterMs: number;
  checkIntervalMs: number;
  kills: KillSample[];
  gapMs: { min: number; median: number; max: number; n: number };
  switchMs: { min: number; median: number; max: number; n: number };
  sdownMs: number;
  odownMs: number;
  quorumSwitchMs: number;
  /** Median of +switch-master minus +odown: the election and promotion. */
  electionMs: number;
  /** down-after plus the median election: the floor the gap is compared with. */
  floorMs: number;
  /** Write gaps through the extra proxy variants. */
  variants: Array<{ name: string; label: string; gapMs: { min: number; median: number; max: number; n: number } }>;
  bringUpMs: number;
  /** Evidence on the chart's sentinel checks (see sentinelCheckEvidence). */
  sentinelChecks?: SentinelCheckEvidence;
  errors: string[];
}

export interface SentinelCheckEvidence {
  /** What a sentinel does with the chart's check request: its reply and whether it closed the connection within 1 s. */
  quitProbe: { reply: string; closedWithinMs?: number };
  /** Sentinel checks of the chart's proxy pods that ended in `timeout check` during the run, and one such log line. */
  timeouts: number;
  example?: string;
}

export interface FailoverOptions {
  subnet: number;
  downAfterMs: number;
  kills: number;
  /** Extra proxy Deployments (clones of the chart's with another haproxy.cfg), each driven by its own writer. */
  variants?: Array<ProxyVariant & { label: string }>;
  /** More props, e.g. another engine (default: the chart's). */
  props?: RedisHaProps;
  /** Cluster name suffix, to tell runs apart in logs (default: the down-after). */
  name?: string;
  log: (msg: string) => void;
}

export async function measureFailover(o: FailoverOptions): Promise<FailoverFigure> {
  const props = { ...failoverProps(o.downAfterMs), ...o.props };
  const variants = o.variants ?? [];
  const t0 = Date.now();
  const be = await BenchEnv.create({ subnet: o.subnet, name: `bench-failover-${o.name ?? o.downAfterMs}`, props, variants, startVariants: true });
  const env = be.env;
  let watcher: SentinelWatcher | undefined;
  const kills: KillSample[] = [];
  const errors: string[] = [];
  try {
    await be.healthy(60_000);
    for (const v of variants) await be.startVariant(v.name);
    const bringUpMs = Date.now() - t0;
    o.log(`failover ${o.downAfterMs}ms: chart up in ${bringUpMs}ms`);
    watcher = await env.watchSentinels();
    for (let i = 0; i < o.kills; i++) {
      try {
        kills.push(await oneKill(be, watcher, o, i));
        const k = kills[kills.length - 1];
        o.log(`failover ${o.downAfterMs}ms kill ${i + 1}/${o.kills}: gap ${k.gapMs}ms, +switch-master ${k.switchMs}ms, sdown ${k.sdownMs}, odown ${k.odownMs}${Object.entries(k.variantGapMs).map(([n, g]) => `, ${n} gap ${g}ms`).join('')}`);
      } catch (e) {
        errors.push(`kill ${i + 1}: ${errText(e)}`);
        o.log(`failover ${o.downAfterMs}ms kill ${i + 1}: FAILED ${errText(e)}\nroles: ${(await env.roles()).join(', ')}`);
      }
    }
    const def = (xs: Array<number | undefined>) => xs.filter((x): x is number => x !== undefined);
    const electionMs = median(def(kills.map((k) => (k.odownMs !== undefined ? k.switchMs - k.odownMs : undefined))));
    const sentinelChecks = await sentinelCheckEvidence(be).catch((e) => {
      errors.push(`sentinel check evidence: ${errText(e)}`);
      return undefined;
    });
    return {
      sentinelChecks,
      downAfterMs: o.downAfterMs,
      checkIntervalMs: 1000,
      kills,
      gapMs: stats(kills.map((k) => k.gapMs)),
      switchMs: stats(kills.map((k) => k.switchMs)),
      sdownMs: median(def(kills.map((k) => k.sdownMs))),
      odownMs: median(def(kills.map((k) => k.odownMs))),
      quorumSwitchMs: median(def(kills.map((k) => k.quorumSwitchMs))),
      electionMs,
      floorMs: o.downAfterMs + electionMs,
      variants: variants.map((v) => ({ name: v.name, label: v.label, gapMs: stats(def(kills.map((k) => k.variantGapMs[v.name]))) })),
      bringUpMs,
      errors,
    };
  } finally {
    await watcher?.stop();
    await be.shutdown();
  }
}

/**
 * Client-visible write gap: from the SIGKILL to the acknowledgement of the first write sent after the kill took
 * effect (the harness observed the exit, a few ms later); a write sent in the same millisecond as the signal may
 * still be answered by the dying master and does not show recovery.
 */
export function gapAfterKill(w: Writer, killAt: number, deadAt: number): number | undefined {
  const r = w.firstAckAfter(deadAt);
  return r ? r.ackAt - killAt : undefined;
}

async function oneKill(be: BenchEnv, watcher: SentinelWatcher, o: FailoverOptions, i: number): Promise<KillSample> {
  const env = be.env;
  const master = await be.healthy();
  const prefix = `fo${o.downAfterMs}:${i}`;
  const writer = new Writer(() => env.connectProxy(), { mode: 'set', prefix }).start();
  const others = (o.variants ?? []).map((v) => ({ v, w: new Writer(() => be.connectVariant(v.name), { mode: 'set', prefix: `${prefix}:${v.name}` }).start() }));
  let killAt = 0;
  let deadAt = 0;
  try {
    await waitUntil(() => [writer, ...others.map((x) => x.w)].every((w) => w.acked.length > 50), 10_000, 'writers warmed up');
    await sleep(1500);
    killAt = Date.now();
    await master.kill('SIGKILL');
    // Writes sent before the exit was observed may still have been answered by the old master.
    deadAt = Date.now();
    const limit = o.downAfterMs + 30_000;
    await waitUntil(() => writer.firstAckAfter(deadAt), limit, 'first acknowledged write through the proxy after the kill', { intervalMs: 20 });
    for (const x of others) await waitUntil(() => x.w.firstAckAfter(deadAt), limit, `first acknowledged write through ${x.v.name}`, { intervalMs: 20 });
    await watcher.waitFor('+switch-master', 30_000, killAt);
    await sleep(1500); // writes after the switch, for the picture
  } finally {
    await writer.stop();
    await Promise.all(others.map((x) => x.w.stop()));
  }
  const newMaster = await env.currentMasterPod();
  if (newMaster === master) throw new Error('no failover: the sentinels still name the killed master');
  const c = await env.connectPod(newMaster, 6379, 10_000);
  const v = await writer.verify(c).finally(() => c.close());

  // The old master back on its volume; wait until it is an in-sync replica of the new master.
  await be.cluster.startPod(master);
  await env.waitTopology(newMaster, 60_000, 'killed pod rejoined');
  await waitUntil(async () => (await env.on<number>(newMaster, ['WAIT', env.redis.length - 1, 2000])) === env.redis.length - 1, 20_000, 'every replica in sync (WAIT)');

  const rel = (t: number) => t - killAt;
  const firstMaster = (ch: string) => watcher.on(ch, killAt).find((e) => e.message.startsWith('master '));
  const switches = watcher.on('+switch-master', killAt);
  const quorum = env.ha.sentinels.quorum;
  const sd = firstMaster('+sdown');
  const od = firstMaster('+odown');
  const from = killAt - 1500;
  const gap = gapAfterKill(writer, killAt, deadAt)!;
  const to = killAt + gap + 1500;
  return {
    killed: `redis${env.num(master)}`,
    promoted: `redis${env.num(newMaster)}`,
    gapMs: gap,
    switchMs: rel(switches[0].at),
    quorumSwitchMs: switches.length >= quorum ? rel(switches[quorum - 1].at) : undefined,
    sdownMs: sd && rel(sd.at),
    odownMs: od && rel(od.at),
    variantGapMs: Object.fromEntries(others.map((x) => [x.v.name, gapAfterKill(x.w, killAt, deadAt)])),
    acked: v.checked,
    lost: v.missing.length,
    failures: writer.failureSummary(3),
    acks: writer.acked.filter((r) => r.ackAt >= from && r.ackAt <= to).map((r) => rel(r.ackAt)),
    fails: writer.failures.filter((f) => f.at >= from && f.at <= to).map((f) => rel(f.at)),
    events: watcher.events.filter((e) => e.at >= killAt && e.at <= to).map((e) => ({ t: rel(e.at), channel: e.channel, source: e.source, message: e.message })),
  };
}

/** Sends the chart's sentinel check request to a sentinel, as HAProxy does, and greps the proxies' logs for check timeouts. */
async function sentinelCheckEvidence(be: BenchEnv): Promise<SentinelCheckEvidence> {
  const env = be.env;
  const sentinel = env.sentinels[0];
  const quitProbe = await new Promise<{ reply: string; closedWithinMs?: number }>((resolve) => {
    const t0 = Date.now();
    const sock = net.createConnection({ host: sentinel.address, port: env.sentinelPort });
    let reply = '';
    const done = (closed: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ reply: JSON.stringify(reply).slice(1, -1), closedWithinMs: closed ? Date.now() - t0 : undefined });
    };
    const timer = setTimeout(() => done(false), 1000);
    sock.on('data', (d) => (reply += d.toString()));
    sock.on('close', () => done(true));
    sock.on('error', () => done(true));
    sock.on('connect', () => sock.write(`SENTINEL get-master-addr-by-name ${env.masterName}\r\nQUIT\r\n`));
  });
  const lines = env.proxies.flatMap((p) => p.logs().split('\n')).filter((l) => /^Server sentinels-name-.* Layer7 timeout/.test(l));
  return { quitProbe, timeouts: lines.length, example: lines[0]?.replace(/\s+/g, ' ').slice(0, 400) };
}
