import { spawnSync } from 'child_process';
import { writeFileSync } from 'fs';
import { join } from 'path';
import { REDIS_PATHS } from '../src/server-config';
import { renderRedisConf } from '../src/sentinel/redis-config';
import { SENTINEL_PATHS, renderSentinelConf } from '../src/sentinel/sentinel-config';
import { CONF_QUOTE_FN } from '../src/shell';
import { makeCerts } from './util/certs';
import { RealProcess } from './util/process';
import { redisCli } from './util/redis-cli';
import { tempDir } from './util/temp';

// The rendered configs, run by the real binaries on loopback (never 127.0.0.1:6379). Each server
// runs in a private root where its data directory is bound at the path the config names.
const HOST = '127.0.77.1';
const WAIT_MS = 10_000;

const cli = (port: number, args: string[], password?: string) => redisCli(HOST, port, args, password);

/** A fresh data directory, mounted at `target` for the server. */
function dataMount(target: string): { source: string; target: string } {
  return { source: tempDir('data'), target };
}

/** The shell's conf_quote, run for real. */
function confQuote(value: string): string {
  return spawnSync('sh', ['-c', `${CONF_QUOTE_FN}\nconf_quote "$1"`, 'sh', value], { encoding: 'utf8', timeout: 10_000 }).stdout;
}

test('redis-server runs the rendered redis.conf, extra directives and a hex-quoted password of any bytes', async () => {
  const dir = tempDir('redis-conf');
  const password = 'p a"s\\s$(x)`y`\'\n#;z';
  writeFileSync(join(dir, 'redis.conf'), renderRedisConf({
    port: 6379, appendOnly: true, minReplicasToWrite: 0, minReplicasMaxLagSeconds: 10,
    extra: { 'maxmemory': '64mb', 'save': '3600 1 300 100', 'maxmemory-policy': 'allkeys-lru' },
  }));
  writeFileSync(join(dir, 'run.conf'), [
    `include ${dir}/redis.conf`, 'port 16379', `bind ${HOST}`, `replica-announce-ip ${confQuote('redis-1.cache.svc.cluster.local')}`,
    `requirepass ${confQuote(password)}`, '',
  ].join('\n'));
  const server = RealProcess.start(['redis-server', join(dir, 'run.conf')], [dataMount(REDIS_PATHS.data)]);
  await server.waitUntil('PONG', () => cli(16379, ['ping'], password) === 'PONG', WAIT_MS);
  expect(cli(16379, ['ping'], 'wrong')).toMatch(/WRONGPASS|NOAUTH/);
  expect(cli(16379, ['config', 'get', 'appendonly'], password)).toBe('appendonly\nyes');
  expect(cli(16379, ['config', 'get', 'replica-announce-ip'], password)).toBe('replica-announce-ip\nredis-1.cache.svc.cluster.local');
  expect(cli(16379, ['config', 'get', 'maxmemory'], password)).toBe(`maxmemory\n${64 * 1024 * 1024}`);
  expect(cli(16379, ['config', 'get', 'save'], password)).toBe('save\n3600 1 300 100');
});

test('redis-sentinel runs the rendered templates around a monitor line', async () => {
  const dir = tempDir('sentinel-conf');
  const { global, master } = renderSentinelConf({
    port: 26379, masterName: 'mymaster', downAfterMilliseconds: 2000, failoverTimeoutMilliseconds: 6000, parallelSyncs: 1,
  });
  writeFileSync(join(dir, 'sentinel.conf'), [
    global, `port 26380\nbind ${HOST}\n`, `sentinel monitor mymaster ${HOST} 16380 2\n`, master,
  ].join(''));
  const sentinel = RealProcess.start(['redis-server', join(dir, 'sentinel.conf'), '--sentinel'], [dataMount(SENTINEL_PATHS.data)]);
  await sentinel.waitUntil('PONG', () => cli(26380, ['ping']) === 'PONG', WAIT_MS);
  const info = cli(26380, ['sentinel', 'master', 'mymaster']).split('\n');
  const field = (k: string) => info[info.indexOf(k) + 1];
  expect(field('down-after-milliseconds')).toBe('2000');
  expect(field('failover-timeout')).toBe('6000');
  expect(field('quorum')).toBe('2');
});

test('redis-server with the rendered TLS directives serves TLS only, replication included', async () => {
  const certs = makeCerts(['redis-1'], [HOST]);
  const dir = tempDir('redis-tls');
  const tls = { cert: join(certs.dir, 'tls.crt'), key: join(certs.dir, 'tls.key'), ca: join(certs.dir, 'ca.crt') };
  writeFileSync(join(dir, 'redis.conf'), renderRedisConf({
    port: 16381, appendOnly: false, minReplicasToWrite: 0, minReplicasMaxLagSeconds: 10, tls,
  }));
  writeFileSync(join(dir, 'run.conf'), `include ${dir}/redis.conf\nbind ${HOST}\n`);
  const server = RealProcess.start(['redis-server', join(dir, 'run.conf')], [dataMount(REDIS_PATHS.data)]);
  const tlsArgs = ['--tls', '--cacert', tls.ca, '--cert', tls.cert, '--key', tls.key];
  await server.waitUntil('PONG over TLS', () => cli(16381, [...tlsArgs, 'ping']) === 'PONG', WAIT_MS);
  expect(cli(16381, ['--tls', '--cacert', tls.ca, 'ping'])).toBe('PONG'); // tls-auth-clients optional
  expect(cli(16381, ['ping'])).not.toBe('PONG'); // plain text refused
  expect(cli(16381, [...tlsArgs, 'config', 'get', 'tls-replication'])).toBe('tls-replication\nyes');
});
