import { writeFileSync } from 'fs';
import { join } from 'path';
import { SENTINEL_PATHS, renderSentinelConf, renderSentinelEntrypoint, renderSentinelProbe, sentinelId } from '../src/sentinel-config';
import { spawnInPrivateRoot } from './util/private-root';
import { lintScript } from './util/shell';
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

  test('replaces the file atomically, private to the sentinel, without chmod or sed -i', () => {
    expect(script).toContain('umask 077');
    expect(script).toContain('mv "$conf.tmp" "$conf"');
    expect(script).not.toMatch(/chmod|sed -i|eval/);
  });
});

describe('renderSentinelProbe', () => {
  const script = renderSentinelProbe();
  test('passes sh -n and shellcheck', () => {
    expect(lintScript(script)).toBe('');
  });
  test('readiness refuses a loopback master', () => {
    expect(script).toContain('127.*|localhost|::1)');
  });
});

/**
 * Runs the rendered entrypoint for real in a private root (its ConfigMap at /opt/redis-ha, a volume
 * at /data holding `previous` as sentinel.conf) with a `redis-server` that prints the config it is given.
 */
async function runSentinelEntrypoint(env: Record<string, string>, previous: string): Promise<string> {
  const config = tempDir('sentinel-config');
  const { global, master } = renderSentinelConf({ port: 26379, masterName: 'mymaster', downAfterMilliseconds: 5000, failoverTimeoutMilliseconds: 15000, parallelSyncs: 1 });
  writeFileSync(join(config, 'sentinel-global.conf'), global);
  writeFileSync(join(config, 'sentinel-master.conf'), master);
  writeFileSync(join(config, 'entrypoint.sh'), renderSentinelEntrypoint());
  const data = tempDir('sentinel-data');
  writeFileSync(join(data, 'sentinel.conf'), previous);
  const bin = tempDir('sentinel-bin');
  writeFileSync(join(bin, 'redis-server'), '#!/bin/sh\ncat "$1"\n', { mode: 0o755 });
  const child = spawnInPrivateRoot({ root: tempDir('root'), mounts: [{ source: config, target: SENTINEL_PATHS.config }, { source: data, target: SENTINEL_PATHS.data }] },
    ['sh', `${SENTINEL_PATHS.config}/entrypoint.sh`], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: `${bin}:/usr/bin:/bin`, SENTINEL_ID: 'a'.repeat(40), ANNOUNCE_HOST: 'sentinel-1.cache.svc.cluster.local', MASTER_NAME: 'mymaster',
        SENTINEL_QUORUM: '2', INITIAL_MASTER_HOST: 'redis-1.cache.svc.cluster.local', INITIAL_MASTER_PORT: '6379', REDIS_PORT: '6379', ...env,
      },
    });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('exit', (c) => { clearTimeout(timer); resolve(c); });
  });
  if (code !== 0) throw new Error(`entrypoint exited ${code}:\n${out}`);
  return out;
}
