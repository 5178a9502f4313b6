import { renderSentinelConf, renderSentinelEntrypoint, renderSentinelProbe, sentinelId } from '../src/sentinel-config';
import { lintScript } from './util/shell';

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
  test('keeps the learned master, epochs and peers and re-applies chart settings', () => {
    expect(script).toContain('$2 == "monitor" && $3 == m');
    for (const learned of ['current-epoch', 'config-epoch', 'leader-epoch', 'known-replica', 'known-sentinel']) {
      expect(script).toContain(`"${learned}"`);
    }
    expect(script).toContain('cat /opt/redis-ha/sentinel-global.conf');
    expect(script).toContain('cat /opt/redis-ha/sentinel-master.conf');
    expect(script).toContain('echo "sentinel monitor $MASTER_NAME $host $port $SENTINEL_QUORUM"');
    expect(script).toContain('echo "sentinel myid $SENTINEL_ID"');
  });
  test('names the chart\'s replicas at once and keeps only learned replicas the chart does not name', () => {
    expect(script).toContain('echo "sentinel known-replica $MASTER_NAME $h $REDIS_PORT"');
    expect(script).toContain('index(chart, " " $4 " ") == 0');
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
