import { spawnSync } from 'child_process';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'fs';
import { join } from 'path';
import { SENTINEL_PATHS, SentinelProbeMode, renderSentinelConf, renderSentinelEntrypoint, renderSentinelProbe, sentinelId } from '../src/sentinel/sentinel-config';
import { RealProcess } from './util/process';
import { startSentinel } from './util/servers';
import { lintScript, tempFile } from './util/shell';
import { tempDir } from './util/temp';

const values = { port: 26379, masterName: 'mymaster', downAfterMilliseconds: 5000, failoverTimeoutMilliseconds: 15000, parallelSyncs: 1 };

describe('renderSentinelConf', () => {
  test('global half announces names and resolves host names', () => {
    const { global } = renderSentinelConf(values);
    expect(global).toContain('port 26379\n');
    expect(global).toContain('sentinel resolve-hostnames yes\n');
    expect(global).toContain('sentinel announce-hostnames yes\n');
    expect(global).toContain('sentinel announce-port 26379\n');
    expect(global).not.toContain('sentinel monitor');
  });

  test('master half carries the timings for the master name', () => {
    const { master } = renderSentinelConf({ ...values, masterName: 'cache', downAfterMilliseconds: 2000, failoverTimeoutMilliseconds: 9000, parallelSyncs: 2 });
    expect(master).toBe([
      'sentinel down-after-milliseconds cache 2000',
      'sentinel failover-timeout cache 9000',
      'sentinel parallel-syncs cache 2',
      '',
    ].join('\n'));
  });
});

describe('sentinelId', () => {
  test('is 40 hex characters, stable for an identity and distinct across identities', () => {
    expect(sentinelId('a/Sentinel1')).toMatch(/^[0-9a-f]{40}$/);
    expect(sentinelId('a/Sentinel1')).toBe(sentinelId('a/Sentinel1'));
    expect(sentinelId('a/Sentinel1')).not.toBe(sentinelId('a/Sentinel2'));
  });
});

describe('renderSentinelEntrypoint', () => {
  const script = renderSentinelEntrypoint();
  test('passes sh -n and shellcheck', () => {
    expect(lintScript(script)).toBe('');
  });
  const fq = (n: string) => `${n}.cache.svc.cluster.local`;
  const redisHosts = { REDIS_HOSTS: ['redis-1', 'redis-2', 'redis-3'].map(fq).join(' ') };
  const replicasOf = (conf: string) => conf.split('\n').filter((l) => l.startsWith('sentinel known-replica ')).sort();
  // What a sentinel wrote before a restart: a failover moved the master to redis-2; an older chart had other settings.
  const learned = [
    'port 1234',
    'sentinel myid 0123456789012345678901234567890123456789',
    `sentinel monitor mymaster ${fq('redis-2')} 6379 7`,
    'sentinel down-after-milliseconds mymaster 99999',
    'sentinel current-epoch 5',
    'sentinel config-epoch mymaster 5',
    'sentinel leader-epoch mymaster 4',
    `sentinel known-replica mymaster ${fq('redis-3')} 6379`,
    'sentinel known-replica mymaster elsewhere.example 6379',
    'sentinel known-sentinel mymaster sentinel-2 26379 abc',
    `sentinel monitor other ${fq('x')} 6379 2`,
    '',
  ].join('\n');

  test('first start: monitors the initial master and names the chart\'s other instances as replicas', async () => {
    const conf = await runSentinelEntrypoint(redisHosts, '');
    expect(conf).toContain(`sentinel monitor mymaster ${fq('redis-1')} 6379 2\n`);
    expect(conf).toContain(`sentinel myid ${'a'.repeat(40)}\n`);
    expect(replicasOf(conf)).toEqual([`sentinel known-replica mymaster ${fq('redis-2')} 6379`, `sentinel known-replica mymaster ${fq('redis-3')} 6379`]);
  });

  test('keeps the learned master, epochs and peers and re-applies chart settings', async () => {
    const conf = await runSentinelEntrypoint(redisHosts, learned);
    // The learned master, with the chart's quorum.
    expect(conf).toContain(`sentinel monitor mymaster ${fq('redis-2')} 6379 2\n`);
    expect(conf).not.toContain(`${fq('redis-2')} 6379 7`);
    for (const kept of ['sentinel current-epoch 5', 'sentinel config-epoch mymaster 5', 'sentinel leader-epoch mymaster 4', 'sentinel known-sentinel mymaster sentinel-2 26379 abc']) {
      expect(conf).toContain(`${kept}\n`);
    }
    // The chart's settings and identity, not the file's.
    expect(conf).toContain('port 26379\n');
    expect(conf).toContain('sentinel down-after-milliseconds mymaster 5000\n');
    expect(conf).toContain(`sentinel myid ${'a'.repeat(40)}\n`);
    for (const gone of ['port 1234', '99999', '0123456789012345678901234567890123456789', 'monitor other']) expect(conf).not.toContain(gone);
  });

  test('names the chart\'s replicas at once and keeps only learned replicas the chart does not name', async () => {
    const conf = await runSentinelEntrypoint(redisHosts, learned);
    expect(replicasOf(conf)).toEqual([
      `sentinel known-replica mymaster ${fq('redis-1')} 6379`,
      `sentinel known-replica mymaster ${fq('redis-3')} 6379`,
      'sentinel known-replica mymaster elsewhere.example 6379',
    ].sort());
  });

  test('an upgrade from short announced names: the remembered master maps to its full name, short replicas go', async () => {
    const conf = await runSentinelEntrypoint(redisHosts, [
      'sentinel myid 0123456789012345678901234567890123456789',
      'sentinel monitor mymaster redis-2 6379 2',
      'sentinel current-epoch 3',
      'sentinel config-epoch mymaster 3',
      'sentinel known-replica mymaster redis-1 6379',
      'sentinel known-replica mymaster redis-3 6379',
      'sentinel known-replica mymaster other.example 6379',
      'sentinel known-sentinel mymaster sentinel-2 26379 abc',
      '',
    ].join('\n'));
    expect(conf).toContain(`sentinel monitor mymaster ${fq('redis-2')} 6379 2\n`);
    const replicas = conf.split('\n').filter((l) => l.startsWith('sentinel known-replica ')).sort();
    expect(replicas).toEqual([
      `sentinel known-replica mymaster ${fq('redis-1')} 6379`,
      `sentinel known-replica mymaster ${fq('redis-3')} 6379`,
      'sentinel known-replica mymaster other.example 6379',
    ].sort());
    expect(conf).toContain('sentinel current-epoch 3\n');
    expect(conf).toContain('sentinel known-sentinel mymaster sentinel-2 26379 abc\n');
  });

  test('replaces the file whole, readable by the sentinel alone', async () => {
    const data = tempDir('sentinel-data');
    await runSentinelEntrypoint(redisHosts, learned, data);
    expect(readdirSync(data)).toEqual(['sentinel.conf']);
    expect(statSync(join(data, 'sentinel.conf')).mode & 0o077).toBe(0);
    expect(readFileSync(join(data, 'sentinel.conf'), 'utf8')).toContain(`sentinel myid ${'a'.repeat(40)}\n`);
  });
});

describe('renderSentinelProbe', () => {
  const script = renderSentinelProbe();
  test('passes sh -n and shellcheck', () => {
    expect(lintScript(script)).toBe('');
  });

  // Real sentinels on 127.0.80.0/24, probed as kubelet would. A master a sentinel names by a loopback
  // address means it never learned the real one (the chart's names resolve to pod IPs): not ready.
  const file = tempFile('probe.sh', script);
  const probe = (port: number, mode: SentinelProbeMode) => {
    const env = { PATH: process.env.PATH, BIND_ADDRESS: '127.0.80.1', SENTINEL_PORT: String(port), MASTER_NAME: 'mymaster' };
    const r = spawnSync('sh', [file, mode], { encoding: 'utf8', timeout: 15_000, env });
    return { code: r.status, err: r.stderr.trim() };
  };
  const hosts = tempFile('hosts', '127.0.0.1 localhost\n127.0.80.2 redis-0.cache.svc.cluster.local\n');
  const sentinel = (port: number, masterName: string, masterHost: string) => startSentinel({
    host: '127.0.80.1', port, masterName, masterHost, masterPort: 16520, mounts: [{ source: hosts, target: '/etc/hosts', readOnly: true }],
  });

  test('readiness: ready while it names a master by name; not while it names a loopback address or none', async () => {
    await sentinel(26521, 'mymaster', 'redis-0.cache.svc.cluster.local');
    expect(probe(26521, SentinelProbeMode.READINESS)).toEqual({ code: 0, err: '' });
    await sentinel(26522, 'mymaster', '127.0.80.2');
    expect(probe(26522, SentinelProbeMode.READINESS)).toEqual({ code: 1, err: 'not ready: master is 127.0.80.2' });
    await sentinel(26523, 'other', 'redis-0.cache.svc.cluster.local');
    expect(probe(26523, SentinelProbeMode.READINESS)).toEqual({ code: 1, err: 'not ready: no master known' });
  }, 30_000);

  test('liveness: alive while the sentinel answers, whatever it monitors', async () => {
    await sentinel(26524, 'other', '127.0.80.2');
    expect(probe(26524, SentinelProbeMode.LIVENESS).code).toBe(0);
    expect(probe(26525, SentinelProbeMode.LIVENESS).code).toBe(1); // nothing listens
  }, 30_000);
});

/**
 * Runs the rendered entrypoint for real in a private root (its ConfigMap at /opt/redis-ha, a volume
 * at /data holding `previous` as sentinel.conf) with a `redis-server` that prints the config it is given.
 */
async function runSentinelEntrypoint(env: Record<string, string>, previous: string, data = tempDir('sentinel-data')): Promise<string> {
  const config = tempDir('sentinel-config');
  const { global, master } = renderSentinelConf({ port: 26379, masterName: 'mymaster', downAfterMilliseconds: 5000, failoverTimeoutMilliseconds: 15000, parallelSyncs: 1 });
  writeFileSync(join(config, 'sentinel-global.conf'), global);
  writeFileSync(join(config, 'sentinel-master.conf'), master);
  writeFileSync(join(config, 'entrypoint.sh'), renderSentinelEntrypoint());
  writeFileSync(join(data, 'sentinel.conf'), previous);
  const bin = tempDir('sentinel-bin');
  writeFileSync(join(bin, 'redis-server'), '#!/bin/sh\ncat "$1"\n', { mode: 0o755 });
  const proc = RealProcess.start(['sh', `${SENTINEL_PATHS.config}/entrypoint.sh`],
    [{ source: config, target: SENTINEL_PATHS.config }, { source: data, target: SENTINEL_PATHS.data }], {
      PATH: `${bin}:/usr/bin:/bin`, SENTINEL_ID: 'a'.repeat(40), ANNOUNCE_HOST: 'sentinel-1.cache.svc.cluster.local', MASTER_NAME: 'mymaster',
      SENTINEL_QUORUM: '2', INITIAL_MASTER_HOST: 'redis-1.cache.svc.cluster.local', INITIAL_MASTER_PORT: '6379', REDIS_PORT: '6379', ...env,
    });
  const code = await proc.exitCode(10_000);
  if (code !== 0) throw new Error(`entrypoint exited ${code}:\n${proc.output()}`);
  return proc.output();
}
