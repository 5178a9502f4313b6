import { writeFileSync } from 'fs';
import { join } from 'path';
import { SENTINEL_PATHS, renderSentinelConf, renderSentinelEntrypoint } from '../src/sentinel/sentinel-config';
import { sentinelGuardEnv, sentinelGuardTiming } from '../src/sentinel/sentinel-guard';
import { RealProcess } from './util/process';
import { redisCli } from './util/redis-cli';
import { namedMaster, startRedis, startSentinel } from './util/servers';
import { tempDir } from './util/temp';

describe('sentinelGuardTiming', () => {
  test.each([
    // down-after, index: read intervals (stale answers held, idle), silence that restarts at once, seconds of stale answers that restart in turn
    [5000, 0, { intervalMillis: 1000, idleIntervalMillis: 2500, quietMillis: 1666, staleSeconds: 6 }],
    [2000, 2, { intervalMillis: 500, idleIntervalMillis: 1000, quietMillis: 666, staleSeconds: 10 }],
    [1000, 1, { intervalMillis: 250, idleIntervalMillis: 500, quietMillis: 333, staleSeconds: 8 }],
    [60_000, 4, { intervalMillis: 1000, idleIntervalMillis: 10_000, quietMillis: 20_000, staleSeconds: 14 }],
  ])('down-after %i ms, sentinel %i', (downAfter, index, want) => {
    const t = sentinelGuardTiming(downAfter, index);
    expect(t).toEqual(want);
    // A link silent since the answers went stale: seen at the next idle read at the latest, and the sentinel
    // restarted once silent for quiet (+ one read), before it could reach SDOWN.
    expect(Math.max(t.idleIntervalMillis, t.quietMillis + t.intervalMillis)).toBeLessThan(downAfter);
  });

  test('reaches the entrypoint as seconds and milliseconds', () => {
    expect(sentinelGuardEnv(sentinelGuardTiming(2000, 1))).toEqual({ GUARD_INTERVAL: '0.500', GUARD_IDLE_INTERVAL: '1.000', GUARD_QUIET_MS: '666', GUARD_STALE_READS: '16' });
  });
});

/**
 * The guard, run for real: a master and its replica, two plain sentinels and one sentinel started by the
 * chart's entrypoint (quorum 2), all on 127.0.83.0/24. A failover leaves every sentinel
 * holding its peers' "master down" answers; the Redis 7.0 on this machine expires them after 5 s, so each
 * test acts within that window (Valkey 9 keeps them: the e2e suite runs that engine).
 */
describe('the sentinel entrypoint\'s guard', () => {
  const H = (n: number) => `127.0.83.${n}`;
  const [MASTER, REPLICA, GUARDED, PLAIN1, PLAIN2] = [H(1), H(2), H(10), H(11), H(12)];
  const REDIS_PORT = 16380;
  const PORT = 26390;
  const NAME = 'guarded';
  // The guarded sentinel sees the master down after 2 s; the plain ones after 5 s, so a short pause of the
  // master (below) is seen by the guarded one alone, as a sentinel cut off alone would see it.
  const DOWN_AFTER = 2000;
  const PLAIN_DOWN_AFTER = 5000;

  /** The chart's entrypoint, running a real sentinel, with these guard settings. */
  function startGuarded(guard: { GUARD_QUIET_MS: string; GUARD_STALE_READS: string }): RealProcess {
    const config = tempDir('sentinel-config');
    const { global, master } = renderSentinelConf({ port: PORT, masterName: NAME, downAfterMilliseconds: DOWN_AFTER, failoverTimeoutMilliseconds: 3000, parallelSyncs: 1 });
    writeFileSync(join(config, 'sentinel-global.conf'), global);
    writeFileSync(join(config, 'sentinel-master.conf'), master);
    writeFileSync(join(config, 'entrypoint.sh'), renderSentinelEntrypoint());
    return RealProcess.start(['sh', `${SENTINEL_PATHS.config}/entrypoint.sh`],
      [{ source: config, target: SENTINEL_PATHS.config }, { source: tempDir('sentinel-data'), target: SENTINEL_PATHS.data }], {
        PATH: process.env.PATH, SERVER_BIN: 'redis-server', CLI_BIN: 'redis-cli', BIND_ADDRESS: GUARDED, SENTINEL_PORT: String(PORT),
        SENTINEL_ID: 'b'.repeat(40), ANNOUNCE_HOST: GUARDED, MASTER_NAME: NAME, SENTINEL_QUORUM: '2',
        INITIAL_MASTER_HOST: MASTER, INITIAL_MASTER_PORT: String(REDIS_PORT), REDIS_HOSTS: `${MASTER} ${REPLICA}`, REDIS_PORT: String(REDIS_PORT),
        GUARD_INTERVAL: '0.2', GUARD_IDLE_INTERVAL: '0.2', ...guard,
      });
  }

  /** Master, replica, the guarded sentinel and two plain ones, every sentinel knowing the other two. */
  async function topology(guard: Parameters<typeof startGuarded>[0]): Promise<{ master: RealProcess; guarded: RealProcess }> {
    const master = await startRedis(MASTER, REDIS_PORT, '--enable-debug-command', 'yes');
    await startRedis(REPLICA, REDIS_PORT, '--replicaof', MASTER, String(REDIS_PORT), '--replica-announce-ip', REPLICA, '--enable-debug-command', 'yes');
    const guarded = startGuarded(guard);
    for (const host of [PLAIN1, PLAIN2]) {
      await startSentinel({ host, port: PORT, masterName: NAME, masterHost: MASTER, masterPort: REDIS_PORT, quorum: 2, downAfterMilliseconds: PLAIN_DOWN_AFTER });
    }
    for (const host of [GUARDED, PLAIN1, PLAIN2]) {
      await guarded.waitUntil(`sentinel ${host} knows both others`, () => field(host, 'master', 'num-other-sentinels') === '2', 30_000);
    }
    return { master, guarded };
  }

  /** A field of `SENTINEL <what> NAME` (the first entry's, for lists). */
  function field(host: string, what: string, key: string): string {
    const lines = redisCli(host, PORT, ['SENTINEL', what, NAME]).split('\n');
    const i = lines.indexOf(key);
    return i >= 0 ? lines[i + 1] : '';
  }
  const peerFlags = (host: string) => redisCli(host, PORT, ['SENTINEL', 'sentinels', NAME]).split('\n').filter((_, i, a) => a[i - 1] === 'flags');
  const sentinelPid = (host: string) => /process_id:(\d+)/.exec(redisCli(host, PORT, ['INFO', 'server']))?.[1];
  const processAlive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  /** One read: a sentinel answers, and not the one whose pid was `pid` (two reads could straddle the restart). */
  const restartedSince = (pid: string | undefined) => {
    const now = sentinelPid(GUARDED);
    return now !== undefined && now !== pid;
  };
  const restarts = (p: RealProcess) => p.output().split('\n').filter((l) => l.includes('restarting the sentinel'));

  /** Kills the master and waits until the guarded sentinel names the replica; returns its pid before. */
  async function failover(master: RealProcess, guarded: RealProcess): Promise<string | undefined> {
    const pid = sentinelPid(GUARDED);
    await master.kill();
    await guarded.waitUntil('the guarded sentinel names the promoted replica', () => namedMaster(GUARDED, PORT, NAME) === `${REPLICA} ${REDIS_PORT}`, 30_000);
    return pid;
  }

  test('restarts a sentinel holding stale answers, which comes back with what it learned', async () => {
    const { master, guarded } = await topology({ GUARD_QUIET_MS: '60000', GUARD_STALE_READS: '0' });
    const id = redisCli(GUARDED, PORT, ['SENTINEL', 'myid']);
    const pid = await failover(master, guarded);
    await guarded.waitUntil('the guard restarts the sentinel', () => restarts(guarded).length > 0, 10_000);
    expect(restarts(guarded)[0]).toMatch(/restarting the sentinel: it has held stale 'master down' answers for \d+ reads/);
    await guarded.waitUntil('the restarted sentinel answers', () => restartedSince(pid), 10_000);
    // Back from its own sentinel.conf: the promoted master, the same id, both peers, and none of their old answers.
    expect(namedMaster(GUARDED, PORT, NAME)).toBe(`${REPLICA} ${REDIS_PORT}`);
    expect(redisCli(GUARDED, PORT, ['SENTINEL', 'myid'])).toBe(id);
    expect(field(GUARDED, 'master', 'num-other-sentinels')).toBe('2');
    expect(peerFlags(GUARDED).filter((f) => f.includes('master_down'))).toEqual([]);
    // It still knows the killed master, as a replica to demote when it returns.
    expect(redisCli(GUARDED, PORT, ['SENTINEL', 'replicas', NAME])).toContain(MASTER);
  }, 90_000);

  test('restarts at once when the master link falls silent while it holds stale answers', async () => {
    const { master, guarded } = await topology({ GUARD_QUIET_MS: '300', GUARD_STALE_READS: '100000' });
    const pid = await failover(master, guarded);
    expect(restarts(guarded)).toEqual([]);
    // The promoted master stops answering for 3 s: past the guarded sentinel's down-after, not the others'.
    const sleeper = RealProcess.start(['redis-cli', '-h', REPLICA, '-p', String(REDIS_PORT), 'DEBUG', 'SLEEP', '3']);
    await guarded.waitUntil('the guard restarts the sentinel', () => restarts(guarded).length > 0, 5000);
    expect(restarts(guarded)[0]).toContain('its master link is silent');
    await sleeper.exitCode(5000);
    await guarded.waitUntil('the restarted sentinel answers', () => restartedSince(pid), 10_000);
    expect(namedMaster(GUARDED, PORT, NAME)).toBe(`${REPLICA} ${REDIS_PORT}`);
  }, 90_000);

  test('stops the sentinel when the entrypoint is killed alone', async () => {
    const { guarded } = await topology({ GUARD_QUIET_MS: '300', GUARD_STALE_READS: '0' });
    const pid = Number(sentinelPid(GUARDED));
    // SIGKILL to the entrypoint only (a container runtime would end its children too; a test harness may not).
    process.kill(guarded.pid, 'SIGKILL');
    await guarded.exitCode(5000);
    const deadline = Date.now() + 10_000;
    while (processAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(processAlive(pid)).toBe(false);
  }, 90_000);

  test('leaves a sentinel without stale answers alone, and stops with it on TERM', async () => {
    const { guarded } = await topology({ GUARD_QUIET_MS: '300', GUARD_STALE_READS: '0' });
    const pid = sentinelPid(GUARDED);
    await new Promise((r) => setTimeout(r, 3000));
    expect(restarts(guarded)).toEqual([]);
    expect(sentinelPid(GUARDED)).toBe(pid);
    process.kill(guarded.pid, 'SIGTERM');
    expect(await guarded.exitCode(10_000)).toBe(0);
    expect(redisCli(GUARDED, PORT, ['PING'])).not.toBe('PONG');
  }, 90_000);
});
