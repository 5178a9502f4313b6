/**
 * Memory headroom: how far above `maxmemory` a full server's memory goes while it keeps taking writes
 * and serves a replica's full sync and an AOF rewrite. Both fork a child, and every page the parent
 * writes meanwhile is copied and charged to the container, as is the replica's output buffer. The
 * server runs in a memory cgroup limited as a container's limit is (the cgroup v1 memory controller,
 * what kubelet sets `limits.memory` in), with the chart's persistence (AOF, `appendfsync everysec`,
 * the engine's default snapshots) and `maxmemory-policy noeviction`; it is filled to `maxmemory`, then
 * overwritten at full speed (valkey-benchmark, random keys of the data set, 4000-byte values) while a
 * replica full-syncs and an AOF rewrite runs. Measured: the peak of the cgroup's resident memory
 * (its anonymous pages, which no reclaim frees; page cache is reclaimed before an OOM kill) against
 * the limit, for `maxmemory` at several fractions of it, and whether the kernel OOM-killed the server.
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { cachedBuild } from '../test/e2e/harness/images';
import { RedisClient, parseInfo, sleep, waitUntil } from '../test/e2e/harness';

const CGROUP_ROOT = '/sys/fs/cgroup/memory';
const VALUE_BYTES = 4000;
/** What one key of VALUE_BYTES takes in the server: a 4 KiB allocation and the key's own entries. */
const BYTES_PER_KEY = 4300;

export interface MemoryRun {
  /** maxmemory as a fraction of the container's memory limit. */
  readonly fraction: number;
  readonly limitMb: number;
  readonly maxmemoryMb: number;
  readonly keys: number;
  /** used_memory once filled. */
  readonly usedMb: number;
  /** The cgroup's peak resident memory over the run: the fill, then the writes, the sync and the rewrite. */
  readonly peakRssMb: number;
  /** The cgroup's peak usage, page cache included (reclaimable). */
  readonly peakUsageMb: number;
  readonly oomKilled: boolean;
  /** When the kernel killed it: while it was filled (an automatic AOF rewrite forks then too), or during the sync and rewrite. */
  readonly killedWhile?: 'filling' | 'syncing';
  /** Replica start to its link up, and the rewrite done. */
  readonly syncMs: number;
  readonly writesPerSecond: number;
}

export interface MemoryFigure {
  readonly engine: string;
  readonly runs: MemoryRun[];
  readonly skipped?: string;
}

function cgroupWritable(): string | undefined {
  try {
    fs.accessSync(CGROUP_ROOT, fs.constants.W_OK);
    return fs.existsSync(path.join(CGROUP_ROOT, 'memory.limit_in_bytes')) ? undefined : `no cgroup v1 memory controller at ${CGROUP_ROOT}`;
  } catch (e) {
    return `${CGROUP_ROOT} is not writable (${(e as Error).message})`;
  }
}

/** The cgroup's resident memory now: total_rss (+ huge pages), in bytes. */
function cgroupRss(cg: string): number {
  const stat = fs.readFileSync(path.join(cg, 'memory.stat'), 'utf8');
  const get = (k: string) => Number(new RegExp(`^${k} (\\d+)$`, 'm').exec(stat)?.[1] ?? 0);
  return get('total_rss') + get('total_rss_huge');
}

async function info(port: number, section: string): Promise<Record<string, string>> {
  const c = await RedisClient.connect('127.0.0.1', port, { timeoutMs: 2000 });
  try {
    return parseInfo(String(await c.command('INFO', section)));
  } finally {
    c.close();
  }
}

async function command(port: number, args: string[]): Promise<unknown> {
  const c = await RedisClient.connect('127.0.0.1', port, { timeoutMs: 5000 });
  try {
    return await c.command(...args);
  } finally {
    c.close();
  }
}

function stop(p: ChildProcess | undefined): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(resolve, 10_000);
    p.once('exit', () => { clearTimeout(t); resolve(); });
    p.kill('SIGKILL');
  });
}

async function measureOne(bin: string, fraction: number, limitMb: number, index: number, log: (m: string) => void): Promise<MemoryRun> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-memory-'));
  const cg = path.join(CGROUP_ROOT, `redis-ha-bench-${process.pid}-${index}`);
  const port = 24100 + index * 2;
  const limit = limitMb * 1024 * 1024;
  const maxmemory = Math.floor(limit * fraction);
  const keys = Math.floor(maxmemory / BYTES_PER_KEY);
  let server: ChildProcess | undefined;
  let replica: ChildProcess | undefined;
  let load: ChildProcess | undefined;
  let sampler: NodeJS.Timeout | undefined;
  try {
    fs.mkdirSync(cg);
    fs.writeFileSync(path.join(cg, 'memory.limit_in_bytes'), String(limit));
    fs.mkdirSync(path.join(dir, 'master'));
    fs.mkdirSync(path.join(dir, 'replica'));
    // The chart's persistence and memory directives; the engine's defaults for the rest.
    fs.writeFileSync(path.join(dir, 'master.conf'), [`port ${port}`, 'bind 127.0.0.1', `dir ${dir}/master`, 'appendonly yes',
      'appendfsync everysec', `maxmemory ${maxmemory}`, 'maxmemory-policy noeviction', ''].join('\n'));
    server = spawn('sh', ['-c', `echo $$ > ${cg}/cgroup.procs && exec "$0" "$1"`, path.join(bin, 'valkey-server'), path.join(dir, 'master.conf')], { stdio: 'ignore' });
    await waitUntil(async () => (await command(port, ['PING'])) === 'PONG', 10_000, 'the server to answer');
    // The peak over the whole run: the fill forks too (an automatic AOF rewrite).
    let peak = cgroupRss(cg);
    sampler = setInterval(() => { try { peak = Math.max(peak, cgroupRss(cg)); } catch { /* the cgroup is going */ } }, 10);
    // Filled to maxmemory: 3 requests a key over random keys (noeviction refuses the rest once full).
    spawnSync(path.join(bin, 'valkey-benchmark'), ['-h', '127.0.0.1', '-p', String(port), '-t', 'set', '-d', String(VALUE_BYTES), '-r', String(keys),
      '-n', String(3 * keys), '-c', '8', '-P', '16', '-q'], { timeout: 180_000, stdio: 'ignore' });
    const alive = () => server !== undefined && server.exitCode === null && server.signalCode === null;
    const mb = (file: string) => Math.round(Number(fs.readFileSync(path.join(cg, file), 'utf8').trim()) / 1048576);
    if (!alive()) {
      const run: MemoryRun = { fraction, limitMb, maxmemoryMb: Math.round(maxmemory / 1048576), keys: 0, usedMb: 0, peakRssMb: Math.round(peak / 1048576),
        peakUsageMb: mb('memory.max_usage_in_bytes'), oomKilled: true, killedWhile: 'filling', syncMs: 0, writesPerSecond: 0 };
      log(`memory: maxmemory ${Math.round(fraction * 100)}% of ${limitMb} MiB: OOM-killed while filled: ${JSON.stringify(run)}`);
      return run;
    }
    const filled = await info(port, 'memory');
    const dbsize = Number(await command(port, ['DBSIZE']));
    const before = Number((await info(port, 'stats')).total_commands_processed);
    const loadStart = Date.now();
    // Overwrites of the keys it holds, at full speed, through the sync and the rewrite (killed after).
    load = spawn(path.join(bin, 'valkey-benchmark'), ['-h', '127.0.0.1', '-p', String(port), '-t', 'set', '-d', String(VALUE_BYTES), '-r', String(keys),
      '-n', '1000000000', '-c', '8', '-P', '8', '-q'], { stdio: 'ignore' });
    await sleep(2000);
    const syncStart = Date.now();
    replica = spawn(path.join(bin, 'valkey-server'), ['--port', String(port + 1), '--bind', '127.0.0.1', '--dir', `${dir}/replica`, '--save', '',
      '--appendonly', 'no', '--replicaof', '127.0.0.1', String(port)], { stdio: 'ignore' });
    await sleep(500);
    await command(port, ['BGREWRITEAOF']).catch(() => undefined);
    await waitUntil(async () => {
      if (!alive()) return true;
      const r = await info(port + 1, 'replication');
      const p = await info(port, 'persistence');
      return r.master_link_status === 'up' && p.aof_rewrite_in_progress === '0' && p.rdb_bgsave_in_progress === '0';
    }, 120_000, 'the replica in sync and the rewrite done').catch((e) => log(`memory: ${(e as Error).message}`));
    const syncMs = Date.now() - syncStart;
    await sleep(2000);
    const survived = alive();
    const after = survived ? Number((await info(port, 'stats')).total_commands_processed) : before;
    const writesPerSecond = Math.round((after - before) / ((Date.now() - loadStart) / 1000));
    clearInterval(sampler);
    sampler = undefined;
    const oomControl = fs.readFileSync(path.join(cg, 'memory.oom_control'), 'utf8');
    const oomKills = Number(/^oom_kill (\d+)$/m.exec(oomControl)?.[1] ?? 0);
    const run: MemoryRun = {
      fraction, limitMb, maxmemoryMb: Math.round(maxmemory / 1048576), keys: dbsize,
      usedMb: Math.round(Number(filled.used_memory) / 1048576),
      peakRssMb: Math.round(peak / 1048576),
      peakUsageMb: mb('memory.max_usage_in_bytes'),
      oomKilled: !survived || oomKills > 0,
      ...(!survived || oomKills > 0 ? { killedWhile: 'syncing' as const } : {}),
      syncMs, writesPerSecond,
    };
    log(`memory: maxmemory ${Math.round(fraction * 100)}% of ${limitMb} MiB: ${JSON.stringify(run)}`);
    return run;
  } finally {
    if (sampler) clearInterval(sampler);
    await Promise.all([stop(load), stop(replica), stop(server)]);
    // Empty once its processes are gone (the fork children die with the server's pipe and signal).
    await waitUntil(() => !fs.existsSync(cg) || fs.readFileSync(path.join(cg, 'cgroup.procs'), 'utf8').trim() === '', 10_000, 'the cgroup to empty')
      .catch(() => undefined);
    for (const pid of fs.existsSync(cg) ? fs.readFileSync(path.join(cg, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean) : []) {
      try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
    }
    await waitUntil(() => { try { if (fs.existsSync(cg)) fs.rmdirSync(cg); return true; } catch { return false; } }, 10_000, 'the cgroup removed').catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the headroom measurement at each fraction, on the default engine line (Valkey 9.1). */
export async function measureMemory(opts: { limitMb?: number; fractions?: number[]; log: (m: string) => void }): Promise<MemoryFigure> {
  const bin = cachedBuild('valkey', '9.1');
  if (!bin) return { engine: 'valkey 9.1', runs: [], skipped: 'no Valkey 9.1 build in the engine cache' };
  const unavailable = cgroupWritable();
  if (unavailable) return { engine: 'valkey 9.1', runs: [], skipped: unavailable };
  const runs: MemoryRun[] = [];
  const fractions = opts.fractions ?? [0.4, 0.5, 0.6, 0.75];
  for (let i = 0; i < fractions.length; i++) runs.push(await measureOne(bin, fractions[i], opts.limitMb ?? 512, i, opts.log));
  return { engine: 'valkey 9.1', runs };
}
