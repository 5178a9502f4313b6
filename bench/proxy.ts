/**
 * Figure 3, proxy overhead: redis-benchmark SET and GET (50 clients, with and without -P 16) through one
 * proxy pod versus straight to the master, same run, as a throughput ratio with p50/p99 latency. The chart's
 * own proxy pod is measured, then clones of it whose haproxy.cfg comes from other SentinelProxy props or
 * carries an experimental directive, one at a time (only the measured clone runs).
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import { Pod } from '../test/e2e/harness';
import { BenchEnv } from './env';

const CLK_TCK = 100;

/** CPU time (ms) of every process in a process group (a harness container: its pid is the group id). */
function groupCpuMs(pgid: number | undefined): number {
  if (!pgid) return 0;
  let ticks = 0;
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) === pgid) ticks += Number(f[11]) + Number(f[12]);
    } catch {
      /* exited */
    }
  }
  return (ticks * 1000) / CLK_TCK;
}

/** Busy and total jiffies of the whole machine. */
function machineCpu(): { busy: number; total: number } {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - f[3] - (f[4] ?? 0), total };
}

/** CPU used during a run: µs per request of the proxy, the master, the replicas, everything; machine busy share. */
export interface CpuShare {
  proxyUsPerReq: number;
  masterUsPerReq: number;
  replicasUsPerReq: number;
  totalUsPerReq: number;
  machineBusy: number;
}

async function withCpu<T>(requests: number, proxy: Pod | undefined, master: Pod, replicas: Pod[], fn: () => Promise<T>): Promise<[T, CpuShare]> {
  const snap = () => ({ p: groupCpuMs(proxy?.pid), m: groupCpuMs(master.pid), r: replicas.reduce((a, x) => a + groupCpuMs(x.pid), 0), mc: machineCpu() });
  const a = snap();
  const v = await fn();
  const b = snap();
  const us = (ms: number) => Math.round(((ms * 1000) / requests) * 100) / 100;
  const busyMs = ((b.mc.busy - a.mc.busy) * 1000) / CLK_TCK;
  return [v, {
    proxyUsPerReq: us(b.p - a.p),
    masterUsPerReq: us(b.m - a.m),
    replicasUsPerReq: us(b.r - a.r),
    totalUsPerReq: us(busyMs),
    machineBusy: Math.round(((b.mc.busy - a.mc.busy) / (b.mc.total - a.mc.total)) * 100) / 100,
  }];
}

export interface BenchRow {
  rps: number;
  p50: number;
  p99: number;
}

/** test name -> result, e.g. { set: ..., get: ..., setPipelined: ..., getPipelined: ... } */
export type TestResults = Record<TestName, BenchRow>;
export type TestName = 'set' | 'get' | 'setPipelined' | 'getPipelined';
export const TESTS: TestName[] = ['set', 'get', 'setPipelined', 'getPipelined'];

export interface ProxyTarget {
  /** Variant Deployment name, or undefined for the chart's own proxy pod. */
  variant?: string;
  label: string;
  /** What was changed, for the table. */
  change: string;
}

export interface TargetResult extends ProxyTarget {
  results: TestResults;
  cpu: { plain: CpuShare; pipelined: CpuShare };
  ratio: Record<TestName, number>;
}

export interface ProxyFigure {
  clients: number;
  pipeline: number;
  requests: { plain: number; pipelined: number };
  /**
   * Direct to the master: measured before the first proxy, after every few proxies and after the last; each
   * proxy's ratio uses the mean of the two direct runs around it (the machine's load drifts).
   */
  direct: { runs: TestResults[]; mean: Record<TestName, number>; cpu: { plain: CpuShare; pipelined: CpuShare } };
  targets: Array<TargetResult & { directRuns: [number, number] }>;
  /** The chart's default proxy (first target): the headline ratios. */
  ratio: Record<TestName, number>;
}

const CLIENTS = 50;
const PIPELINE = 16;

/** Runs redis-benchmark (bounded) and parses its --csv output. */
function redisBenchmark(host: string, args: string[], timeoutMs: number): Promise<Record<string, BenchRow>> {
  if (host === '127.0.0.1') throw new Error('refusing to benchmark 127.0.0.1');
  return new Promise((resolve, reject) => {
    const child = spawn('redis-benchmark', ['-h', host, '-p', '6379', '-c', String(CLIENTS), '--csv', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`redis-benchmark ${args.join(' ')} against ${host}: code ${code} signal ${signal}: ${err.slice(-300)}`));
        return;
      }
      const rows: Record<string, BenchRow> = {};
      for (const line of out.split('\n')) {
        const f = line.split(',').map((x) => x.replace(/"/g, ''));
        if (f.length < 8 || f[0] === 'test') continue;
        rows[f[0]] = { rps: Number(f[1]), p50: Number(f[4]), p99: Number(f[6]) };
      }
      if (!rows.SET || !rows.GET) reject(new Error(`redis-benchmark output not understood: ${out.slice(0, 300)} ${err.slice(-300)}`));
      else resolve(rows);
    });
  });
}

interface Run {
  results: TestResults;
  cpu: { plain: CpuShare; pipelined: CpuShare };
}

async function runAll(host: string, n: { plain: number; pipelined: number }, pods: { proxy?: Pod; master: Pod; replicas: Pod[] }): Promise<Run> {
  const [plain, cpuPlain] = await withCpu(2 * n.plain, pods.proxy, pods.master, pods.replicas, () =>
    redisBenchmark(host, ['-n', String(n.plain), '-t', 'set,get'], 120_000));
  const [piped, cpuPiped] = await withCpu(2 * n.pipelined, pods.proxy, pods.master, pods.replicas, () =>
    redisBenchmark(host, ['-n', String(n.pipelined), '-P', String(PIPELINE), '-t', 'set,get'], 120_000));
  return { results: { set: plain.SET, get: plain.GET, setPipelined: piped.SET, getPipelined: piped.GET }, cpu: { plain: cpuPlain, pipelined: cpuPiped } };
}

export async function measureProxy(be: BenchEnv, targets: ProxyTarget[], o: { seconds: number; directEvery?: number; log: (m: string) => void }): Promise<ProxyFigure> {
  const env = be.env;
  const master = await be.healthy();
  const replicas = env.redis.filter((p) => p !== master);
  const direct = master.address;
  // Calibrate -n so that a direct run takes about `seconds` per test.
  const cal = await redisBenchmark(direct, ['-n', '100000', '-t', 'set,get'], 60_000);
  const calP = await redisBenchmark(direct, ['-n', '1000000', '-P', String(PIPELINE), '-t', 'set,get'], 60_000);
  const round = (x: number) => Math.max(10_000, Math.round(x / 10_000) * 10_000);
  const n = {
    plain: round(((cal.SET.rps + cal.GET.rps) / 2) * o.seconds),
    pipelined: round(((calP.SET.rps + calP.GET.rps) / 2) * o.seconds),
  };
  o.log(`proxy: -n ${n.plain} (plain), ${n.pipelined} (-P ${PIPELINE}); direct calibration SET ${cal.SET.rps}/s, SET -P ${calP.SET.rps}/s`);
  const every = o.directEvery ?? 3;
  const directRuns: Run[] = [];
  const measureDirect = async () => {
    const d = await runAll(direct, n, { master, replicas });
    directRuns.push(d);
    o.log(`proxy: direct #${directRuns.length} ${fmt(d)}`);
  };
  await measureDirect();
  const results: Array<ProxyTarget & Run & { directRuns: [number, number] }> = [];
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i];
    const proxy = t.variant ? await be.startVariant(t.variant) : env.proxies[0];
    try {
      const r = await runAll(proxy.address, n, { proxy, master, replicas });
      results.push({ ...t, ...r, directRuns: [directRuns.length - 1, directRuns.length] });
      o.log(`proxy: ${t.label} ${fmt(r)}`);
    } finally {
      if (t.variant) await be.stopVariant(t.variant);
    }
    if ((i + 1) % every === 0 || i === targets.length - 1) await measureDirect();
  }
  const meanOf = (runs: Run[]) => Object.fromEntries(TESTS.map((k) => [k, runs.reduce((a, r) => a + r.results[k].rps, 0) / runs.length])) as Record<TestName, number>;
  const targetsOut = results.map((t) => {
    const around = meanOf([directRuns[t.directRuns[0]], directRuns[t.directRuns[1]]]);
    return {
      ...t,
      ratio: Object.fromEntries(TESTS.map((k) => [k, Math.round((t.results[k].rps / around[k]) * 1000) / 1000])) as Record<TestName, number>,
    };
  });
  return {
    clients: CLIENTS,
    pipeline: PIPELINE,
    requests: n,
    direct: { runs: directRuns.map((d) => d.results), mean: meanOf(directRuns), cpu: directRuns[0].cpu },
    targets: targetsOut,
    ratio: targetsOut[0].ratio,
  };
}

function fmt(r: Run): string {
  const c = (x: CpuShare) => `cpu/req proxy ${x.proxyUsPerReq}us master ${x.masterUsPerReq}us replicas ${x.replicasUsPerReq}us total ${x.totalUsPerReq}us busy ${x.machineBusy}`;
  return `${TESTS.map((k) => `${k} ${Math.round(r.results[k].rps)}/s p50 ${r.results[k].p50} p99 ${r.results[k].p99}`).join(', ')} | plain ${c(r.cpu.plain)} | piped ${c(r.cpu.pipelined)}`;
}
