import { ChildProcess, spawn, spawnSync } from 'child_process';
import { mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { renderRedisConf } from '../src/redis-config';
import { renderSentinelConf } from '../src/sentinel-config';
import { CONF_QUOTE_FN } from '../src/shell';
import { makeCerts } from './util/certs';

// The rendered configs, run by the real binaries on loopback (never 127.0.0.1:6379).
const HOST = '127.0.77.1';
const started: ChildProcess[] = [];
afterEach(() => {
  for (const p of started.splice(0)) if (p.pid && p.exitCode === null) process.kill(p.pid, 'SIGKILL');
});

function cli(port: number, args: string[], password?: string): string {
  const r = spawnSync('redis-cli', ['-h', HOST, '-p', String(port), ...args], {
    encoding: 'utf8', timeout: 5000, env: { ...process.env, REDISCLI_AUTH: password ?? '' },
  });
  return r.stdout.trim();
}

async function waitFor(what: string, ok: () => boolean, ms = 10000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (ok()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${ms}ms waiting for ${what}`);
}

function start(binary: string, args: string[]): void {
  started.push(spawn(binary, args, { stdio: 'ignore' }));
}

/** The shell's conf_quote, run for real. */
function confQuote(value: string): string {
  return spawnSync('sh', ['-c', `${CONF_QUOTE_FN}\nconf_quote "$1"`, 'sh', value], { encoding: 'utf8' }).stdout;
}

test('redis-server runs the rendered redis.conf, extra directives and a hex-quoted password of any bytes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'redis-conf-'));
  const password = 'p a"s\\s$(x)`y`\'\n#;z';
  writeFileSync(join(dir, 'redis.conf'), renderRedisConf({
    port: 6379, announceHost: 'redis-1', appendOnly: true, minReplicasToWrite: 0, minReplicasMaxLagSeconds: 10,
    extra: { 'maxmemory': '64mb', 'save': '3600 1 300 100', 'maxmemory-policy': 'allkeys-lru' },
  }));
  writeFileSync(join(dir, 'run.conf'), [
    `include ${dir}/redis.conf`, 'port 16379', `bind ${HOST}`, `dir ${dir}`, `requirepass ${confQuote(password)}`, '',
  ].join('\n'));
  start('redis-server', [join(dir, 'run.conf')]);
  await waitFor('PONG', () => cli(16379, ['ping'], password) === 'PONG');
  expect(cli(16379, ['ping'], 'wrong')).toMatch(/WRONGPASS|NOAUTH/);
  expect(cli(16379, ['config', 'get', 'appendonly'], password)).toBe('appendonly\nyes');
  expect(cli(16379, ['config', 'get', 'replica-announce-ip'], password)).toBe('replica-announce-ip\nredis-1');
  expect(cli(16379, ['config', 'get', 'maxmemory'], password)).toBe(`maxmemory\n${64 * 1024 * 1024}`);
  expect(cli(16379, ['config', 'get', 'save'], password)).toBe('save\n3600 1 300 100');
});

test('redis-sentinel runs the rendered templates around a monitor line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-conf-'));
  const { global, master } = renderSentinelConf({
    port: 26379, masterName: 'mymaster', downAfterMilliseconds: 2000, failoverTimeoutMilliseconds: 6000, parallelSyncs: 1,
  });
  writeFileSync(join(dir, 'sentinel.conf'), [
    global, `port 26380\nbind ${HOST}\ndir ${dir}\n`, `sentinel monitor mymaster ${HOST} 16380 2\n`, master,
  ].join(''));
  start('redis-server', [join(dir, 'sentinel.conf'), '--sentinel']);
  await waitFor('PONG', () => cli(26380, ['ping']) === 'PONG');
  const info = cli(26380, ['sentinel', 'master', 'mymaster']).split('\n');
  const field = (k: string) => info[info.indexOf(k) + 1];
  expect(field('down-after-milliseconds')).toBe('2000');
  expect(field('failover-timeout')).toBe('6000');
  expect(field('quorum')).toBe('2');
});

test('redis-server with the rendered TLS directives serves TLS only, replication included', async () => {
  const certs = makeCerts(['redis-1'], [HOST]);
  const dir = mkdtempSync(join(tmpdir(), 'redis-tls-'));
  const tls = { cert: join(certs.dir, 'tls.crt'), key: join(certs.dir, 'tls.key'), ca: join(certs.dir, 'ca.crt') };
  writeFileSync(join(dir, 'redis.conf'), renderRedisConf({
    port: 16381, announceHost: 'redis-1', appendOnly: false, minReplicasToWrite: 0, minReplicasMaxLagSeconds: 10, tls,
  }));
  writeFileSync(join(dir, 'run.conf'), `include ${dir}/redis.conf\nbind ${HOST}\ndir ${dir}\n`);
  start('redis-server', [join(dir, 'run.conf')]);
  const tlsArgs = ['--tls', '--cacert', tls.ca, '--cert', tls.cert, '--key', tls.key];
  await waitFor('PONG over TLS', () => cli(16381, [...tlsArgs, 'ping']) === 'PONG');
  expect(cli(16381, ['--tls', '--cacert', tls.ca, 'ping'])).toBe('PONG'); // tls-auth-clients optional
  expect(cli(16381, ['ping'])).not.toBe('PONG'); // plain text refused
  expect(cli(16381, [...tlsArgs, 'config', 'get', 'tls-replication'])).toBe('tls-replication\nyes');
});
