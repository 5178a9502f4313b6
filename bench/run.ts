/**
 * `npm run bench`: measures the chart against baselines in one run and writes bench/RESULTS.md,
 * bench/results.json and bench/failover.svg. Every figure is measured; nothing fails on timing.
 *
 *   BENCH_KILLS=5   SIGKILLs per down-after setting (at least 5 for the report)
 *   BENCH_SECONDS=5 target duration of each direct redis-benchmark test
 *   BENCH_STALE_REPEATS=3 stale-master runs as the original design, restarted as soon as the sentinels switched
 *   BENCH_ENGINE_KILLS=3 SIGKILLs per engine combination (section 8)
 *   BENCH_ONLY=failover,stale,proxy,synth,partition,upgrade,engines,cluster,reshard,memory   run a subset (the report then holds only those)
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Duration } from 'cdk8s';
import { errText } from '../test/e2e/harness';
import { BenchEnv, chartProxyCfg, synthManifests } from './env';
import { FailoverFigure, failoverProps, measureFailover } from './failover';
import { roleOnlyCfg, tuneCfg } from './haproxy-variants';
import { ProxyFigure, ProxyTarget, measureProxy } from './proxy';
import { writeReport } from './report';
import { ROLE_ONLY, StaleRun, measureStaleMaster } from './stale-master';
import { PartitionFigure, measurePartition } from './partition';
import { UpgradeFigure, measureUpgrade } from './upgrade';
import { failoverSvg } from './svg';
import { SynthFigures, measureSynth } from './synth';
import { KUBERNETES_API_RANGE } from '../src/k8s-api';
import { EngineFigure, measureEngines } from './engines';
import { ClusterFigure, measureCluster } from './cluster';
import { ReshardFigure, measureReshard } from './cluster-reshard';
import { MemoryFigure, measureMemory } from './memory';

const ROOT = path.join(__dirname, '..');
// BENCH_OUT: where a partial run (BENCH_ONLY) writes, so it does not replace the committed full report.
const OUT = process.env.BENCH_OUT ?? __dirname;
const KILLS = Math.max(1, Number(process.env.BENCH_KILLS ?? 5));
const SECONDS = Math.max(1, Number(process.env.BENCH_SECONDS ?? 5));
const STALE_REPEATS = Math.max(1, Number(process.env.BENCH_STALE_REPEATS ?? 3));
const STALE_PROXIES = [
  { key: 'ours', label: 'chart (sentinel quorum + role)' },
  { key: 'roleOnly', label: 'role-only baseline', variant: ROLE_ONLY },
];
const ENGINE_KILLS = Math.max(1, Number(process.env.BENCH_ENGINE_KILLS ?? 3));
const ONLY = new Set((process.env.BENCH_ONLY ?? 'failover,stale,proxy,synth,partition,upgrade,engines,cluster,reshard,memory').split(',').map((s) => s.trim()));
// Loopback subnets 127.<n>.x.y of the bench's clusters (the e2e suites use 2xx).
const SUBNETS = {
  failover5000: 121, failover2000: 122, defaults: 123, partition: 124, upgrade: 125 /* and 126 */, engines: 130 /* to 139 */,
  cluster: [140, 141, 142] as [number, number, number],
  reshard: [143, 144],
};

const started = Date.now();
function log(msg: string): void {
  console.log(`[bench +${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`);
}

function sh(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (e) {
    return `unavailable (${errText(e).slice(0, 80)})`;
  }
}

function pkgVersion(name: string): string {
  try {
    return JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return 'unknown';
  }
}

/** Processes of other runs on the machine (e2e suites, other clusters): they share the 2 cores with the bench. */
function foreignLoad(): { loadAvg: number[]; otherRedisOrHaproxy: number; otherNode: number } {
  let redis = 0;
  let node = 0;
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (/^(redis-server|redis-sentinel|valkey-server|valkey-sentinel|haproxy)/.test(cmd) && !/127\.1(2[1-9]|3[0-4])\./.test(cmd)) redis++;
      if (/jest|ts-node/.test(cmd) && !cmd.includes('bench/')) node++;
    } catch {
      /* gone */
    }
  }
  return { loadAvg: os.loadavg().map((x) => Math.round(x * 100) / 100), otherRedisOrHaproxy: redis, otherNode: node };
}

function machine() {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const model = /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1] ?? 'unknown';
  return {
    nproc: Number(sh('nproc', [])),
    cpuModel: model,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: os.release(),
  };
}

function versions() {
  return {
    redis: sh('redis-server', ['--version']).replace(/^Redis server /, ''),
    redisBenchmark: sh('redis-benchmark', ['--version']),
    haproxy: sh('haproxy', ['-v']).split('\n')[0],
    node: process.version,
    cdk8s: pkgVersion('cdk8s'),
    kubernetesApi: `${KUBERNETES_API_RANGE.oldest} to ${KUBERNETES_API_RANGE.newest}`,
    cdk8sCli: pkgVersion('cdk8s-cli'),
  };
}

/** The chart's default down-after, read from what it synthesizes. */
function chartDefaultDownAfterMs(): number {
  const { manifests } = synthManifests({});
  for (const o of manifests) {
    for (const v of Object.values<string>((o.kind === 'ConfigMap' ? o.data : {}) ?? {})) {
      const m = /sentinel down-after-milliseconds \S+ (\d+)/.exec(v);
      if (m) return Number(m[1]);
    }
  }
  throw new Error('no down-after-milliseconds in the chart');
}

async function main(): Promise<number> {
  const errors: string[] = [];
  const load = { start: foreignLoad(), end: foreignLoad() };
  const results: {
    failover: FailoverFigure[];
    stale: StaleRun[];
    proxy?: ProxyFigure;
    proxyTargets: ProxyTarget[];
    synth?: SynthFigures;
    partition?: PartitionFigure;
    upgrade?: UpgradeFigure;
    engines?: EngineFigure[];
    cluster?: ClusterFigure & { reshard?: ReshardFigure };
    memory?: MemoryFigure;
  } = { failover: [], stale: [], proxyTargets: [] };
  log(`machine ${JSON.stringify(machine())}; foreign load ${JSON.stringify(load.start)}`);

  if (ONLY.has('synth')) {
    try {
      log('synth: measuring');
      results.synth = measureSynth();
      log(`synth: ${JSON.stringify(results.synth)}`);
    } catch (e) {
      errors.push(`synth: ${errText(e)}`);
    }
  }

  if (ONLY.has('failover')) {
    for (const [downAfterMs, subnet] of [[5000, SUBNETS.failover5000], [2000, SUBNETS.failover2000]]) {
      try {
        const props = failoverProps(downAfterMs);
        const slow = chartProxyCfg({ ...props, proxy: { checkInterval: Duration.seconds(1) } });
        results.failover.push(await measureFailover({
          subnet,
          downAfterMs,
          kills: KILLS,
          variants: [
            { name: 'bench-check-1s', cfg: slow, label: 'chart with prop `checkInterval: 1s` (the earlier default)' },
          ],
          log,
        }));
      } catch (e) {
        errors.push(`failover ${downAfterMs}ms: ${errText(e)}`);
        log(`failover ${downAfterMs}ms: FAILED ${errText(e)}`);
      }
    }
  }

  if (ONLY.has('stale') || ONLY.has('proxy')) {
    // One cluster with the chart's defaults, the role-only baseline proxy and the proxy tuning variants.
    const base = chartProxyCfg({});
    const variant = (name: string, change: string, cfg: string) => ({ target: { variant: name, label: name.replace(/^bench-/, ''), change }, cfg });
    const tuning = [
      variant('bench-threads-2', 'prop `threads: 2` (nbthread 2)', chartProxyCfg({ proxy: { threads: 2 } })),
      variant('bench-maxconn-1000', 'prop `maxConnections: 1000`', chartProxyCfg({ proxy: { maxConnections: 1000 } })),
      variant('bench-client-timeout-30s', 'prop `clientTimeout: 30s`', chartProxyCfg({ proxy: { clientTimeout: Duration.seconds(30) } })),
      variant('bench-splice-auto', 'experiment: `option splice-auto`', tuneCfg(base, { defaults: ['option splice-auto'] })),
      variant('bench-bufsize-64k', 'experiment: `tune.bufsize 65536` (default 16384)', tuneCfg(base, { global: ['tune.bufsize 65536'] })),
      variant('bench-nbthread-2-splice', 'experiment: `nbthread 2` + `option splice-auto`', tuneCfg(base, { nbthread: 2, defaults: ['option splice-auto'] })),
      variant('bench-edge-triggered', 'experiment: `tune.fd.edge-triggered on` (experimental in 2.6)', tuneCfg(base, { global: ['expose-experimental-directives', 'tune.fd.edge-triggered on'] })),
    ];
    results.proxyTargets = [{ label: 'chart default', change: 'none (threads 1, maxConnections 4096, clientTimeout 1h, checkInterval 250ms)' }, ...tuning.map((t) => t.target)];
    let be: BenchEnv | undefined;
    try {
      be = await BenchEnv.create({
        subnet: SUBNETS.defaults,
        name: 'bench-defaults',
        props: {},
        variants: [
          { name: ROLE_ONLY, cfg: roleOnlyCfg(base) },
          ...tuning.map((t) => ({ name: t.target.variant, cfg: t.cfg })),
        ],
      });
      await be.healthy(60_000);
      log('defaults cluster up (chart defaults + role-only baseline + proxy variants)');
      if (ONLY.has('stale')) {
        // Restarted as soon as a quorum of sentinels switched: first with the chart's redis.conf
        // (min-replicas-to-write 1), then as the original design (none), which isolates what the proxy itself
        // protects against, several times (the outcome depends on where the proxies' checks are in their cycle),
        // then once more 5 s after the failover is over.
        const plan = [
          { staleMinReplicasToWrite: 1, restartDelayMs: 0 },
          ...Array.from({ length: STALE_REPEATS }, () => ({ staleMinReplicasToWrite: 0, restartDelayMs: 0 })),
          { staleMinReplicasToWrite: 0, restartDelayMs: 5000 },
        ];
        for (const step of plan) {
          try {
            results.stale.push(await measureStaleMaster(be, { ...step, perConnection: 10, proxies: STALE_PROXIES, log }));
          } catch (e) {
            errors.push(`stale master (${JSON.stringify(step)}): ${errText(e)}`);
            log(`stale master: FAILED ${errText(e)}`);
            await be.healthy().catch(() => undefined);
          }
        }
      }
      if (ONLY.has('proxy')) {
        try {
          results.proxy = await measureProxy(be, results.proxyTargets, { seconds: SECONDS, log });
        } catch (e) {
          errors.push(`proxy: ${errText(e)}`);
          log(`proxy: FAILED ${errText(e)}`);
        }
      }
    } catch (e) {
      errors.push(`defaults cluster: ${errText(e)}`);
      log(`defaults cluster: FAILED ${errText(e)}`);
    } finally {
      await be?.shutdown();
    }
  }

  if (ONLY.has('partition')) {
    try {
      results.partition = await measurePartition({ subnet: SUBNETS.partition, downAfterMs: chartDefaultDownAfterMs(), log });
    } catch (e) {
      errors.push(`partition: ${errText(e)}`);
      log(`partition: FAILED ${errText(e)}`);
    }
  }

  if (ONLY.has('upgrade')) {
    try {
      results.upgrade = await measureUpgrade({ subnet: SUBNETS.upgrade, log });
    } catch (e) {
      errors.push(`upgrade: ${errText(e)}`);
      log(`upgrade: FAILED ${errText(e)}`);
    }
  }

  if (ONLY.has('engines')) {
    try {
      results.engines = await measureEngines({ subnetBase: SUBNETS.engines, kills: ENGINE_KILLS, seconds: SECONDS, log });
      for (const e of results.engines) for (const err of e.errors) errors.push(`engines ${e.name}: ${err}`);
    } catch (e) {
      errors.push(`engines: ${errText(e)}`);
      log(`engines: FAILED ${errText(e)}`);
    }
  }

  if (ONLY.has('cluster')) {
    try {
      results.cluster = await measureCluster({ subnets: SUBNETS.cluster, log });
    } catch (e) {
      errors.push(`cluster: ${errText(e)}`);
      log(`cluster: FAILED ${errText(e)}`);
    }
  }

  if (ONLY.has('reshard')) {
    try {
      const reshard = await measureReshard({ subnets: SUBNETS.reshard, log });
      results.cluster = { ...(results.cluster as ClusterFigure), reshard };
    } catch (e) {
      errors.push(`reshard: ${errText(e)}`);
      log(`reshard: FAILED ${errText(e)}`);
    }
  }

  if (ONLY.has('memory')) {
    try {
      results.memory = await measureMemory({ log });
    } catch (e) {
      errors.push(`memory: ${errText(e)}`);
      log(`memory: FAILED ${errText(e)}`);
    }
  }

  load.end = foreignLoad();
  const runtimeMs = Date.now() - started;
  const meta = { generatedAt: new Date().toISOString(), runtimeMs, machine: machine(), versions: versions(), load, kills: KILLS, seconds: SECONDS };
  const pictureKill = pickPicture(results.failover);
  const json = buildJson(meta, results, chartDefaultDownAfterMs(), errors);
  // The raw timeline behind bench/failover.svg.
  if (json.failover && pictureKill) json.failover.picture = pictureKill;
  fs.mkdirSync(OUT, { recursive: true });
  fs.writeFileSync(path.join(OUT, 'results.json'), JSON.stringify(json, null, 2) + '\n');
  if (pictureKill) {
    fs.writeFileSync(path.join(OUT, 'failover.svg'), failoverSvg(pictureKill.kill, `One failover: SIGKILL of the master, down-after ${pictureKill.downAfterMs} ms (the kill with the median write gap)`));
  }
  writeReport(path.join(OUT, 'RESULTS.md'), json, results, pictureKill);
  log(`wrote ${path.relative(ROOT, OUT)}/results.json, RESULTS.md${pictureKill ? ', failover.svg' : ''} in ${(runtimeMs / 1000).toFixed(0)}s; errors: ${errors.length ? errors.join(' | ') : 'none'}`);
  return errors.length ? 1 : 0;
}

/** The kill with the median write gap at the chart's default down-after (else the first figure). */
function pickPicture(figs: FailoverFigure[]) {
  const f = figs.find((x) => x.downAfterMs === 5000) ?? figs[0];
  if (!f || f.kills.length === 0) return undefined;
  const sorted = [...f.kills].sort((a, b) => a.gapMs - b.gapMs);
  return { downAfterMs: f.downAfterMs, kill: sorted[Math.floor((sorted.length - 1) / 2)] };
}

function buildJson(meta: any, r: any, chartDefaultDownAfter: number, errors: string[]): any {
  const slim = (f: FailoverFigure) => ({
    ...f,
    kills: f.kills.map((k) => ({ ...k, acks: undefined, fails: undefined, events: undefined })),
  });
  const f5 = r.failover.find((f: FailoverFigure) => f.downAfterMs === 5000);
  const f2 = r.failover.find((f: FailoverFigure) => f.downAfterMs === 2000);
  const headline = (f?: FailoverFigure) => f && {
    downAfterMs: f.downAfterMs,
    gapMs: { min: f.gapMs.min, median: f.gapMs.median, max: f.gapMs.max },
    switchMs: { min: f.switchMs.min, median: f.switchMs.median, max: f.switchMs.max },
    floorMs: f.floorMs,
    gapOverDownAfterMs: f.gapMs.median - f.downAfterMs,
    targetMet: f.gapMs.median - f.downAfterMs <= 1500,
  };
  // Headline: the original design's restart as soon as a quorum of sentinels switched, summed over its repetitions.
  const sum = (runs: StaleRun[], key: string, f: 'lost' | 'acked') => runs.reduce((n, s) => n + (s.writers[key]?.[f] ?? 0), 0);
  const staleNow = r.stale.filter((s: StaleRun) => s.staleMinReplicasToWrite === 0 && s.restartDelayMs === 0);
  const staleLater = r.stale.filter((s: StaleRun) => s.staleMinReplicasToWrite === 0 && s.restartDelayMs > 0);
  const staleChart = r.stale.filter((s: StaleRun) => s.staleMinReplicasToWrite > 0);
  const staleSummary = (runs: StaleRun[]) => runs.length ? {
    runs: runs.length,
    lost: Object.fromEntries(STALE_PROXIES.map((p) => [p.key, sum(runs, p.key, 'lost')])),
    acked: Object.fromEntries(STALE_PROXIES.map((p) => [p.key, sum(runs, p.key, 'acked')])),
    lostPerRun: Object.fromEntries(STALE_PROXIES.map((p) => [p.key, runs.map((s) => s.writers[p.key]?.lost)])),
  } : undefined;
  return {
    ...meta,
    failover: f5 && {
      ...headline(f5),
      chartDefaultDownAfterMs: chartDefaultDownAfter,
      at2000: headline(f2),
      runs: r.failover.map(slim),
    },
    staleMaster: staleNow.length ? {
      ...staleSummary(staleNow),
      what: 'old master restarted as master without min-replicas-to-write (the original design) as soon as a quorum of sentinels switched; sums over runs',
      restartedLater: staleSummary(staleLater),
      withChartRedisConf: staleSummary(staleChart),
      details: r.stale,
    } : undefined,
    proxy: r.proxy && { ratio: r.proxy.ratio, ...r.proxy },
    synth: r.synth,
    partition: r.partition && {
      what: 'Jepsen setup: the master and one chart proxy (and the role-only baseline proxy) cut off from the rest for 3 x down-after, then healed; writers (plain and WAIT 1) pinned to every proxy pod',
      lost: r.partition.lost,
      acked: r.partition.acked,
      waitLost: r.partition.waitLost,
      latestLostAckMs: r.partition.latestLostAckMs,
      latestLostAckMsRoleOnly: r.partition.latestLostAckMsRoleOnly,
      downAfterMs: r.partition.downAfterMs,
      durationMs: r.partition.durationMs,
      mastersAfter: r.partition.mastersAfter,
      perProxy: r.partition.outcome.perProxy,
    },
    upgrade: r.upgrade && {
      what: 'a new image for every Redis instance and sentinel, applied as kubectl apply does with Recreate (every changed pod stopped at once, preStop hooks run), under a plain writer and a WAIT 1 writer through the proxy; allAtOnce: the same hooks with the turn-taking off',
      pauseMs: { ours: r.upgrade.ours.pauseMs, allAtOnce: r.upgrade.allAtOnce.pauseMs },
      rolloutMs: { ours: r.upgrade.ours.rolloutMs, allAtOnce: r.upgrade.allAtOnce.rolloutMs },
      lost: { ours: r.upgrade.ours.lost, allAtOnce: r.upgrade.allAtOnce.lost },
      waitLost: { ours: r.upgrade.ours.waitLost, allAtOnce: r.upgrade.allAtOnce.waitLost },
      runs: r.upgrade,
    },
    cluster: r.cluster && {
      what: 'RedisCluster defaults (3 shards x master + replica, Valkey 9.1, node timeout 5 s, maxmemory 256mb noeviction) in pod networks, '
        + 'writers (SET + WAIT 1) through ioredis Cluster; each killed master pod started again as soon as its replica was promoted; '
        + 'reshard: one more cluster per data-set size (maxmemory 900mb), the data set loaded, then the chart applied with shards: 4 under writers (SET + WAIT 1, and plain SET)',
      ...r.cluster,
    },
    engines: r.engines && {
      what: 'per engine combination: failover write gap and +switch-master at down-after 2000 ms, and the chart proxy\'s throughput / direct (50 clients)',
      rows: r.engines,
    },
    memory: r.memory,
    errors,
  };
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`bench failed: ${errText(e)}`);
    process.exit(1);
  },
);
