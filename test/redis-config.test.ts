import { spawnSync } from 'child_process';
import { writeFileSync } from 'fs';
import { join } from 'path';
import { REDIS_PATHS, RedisProbeMode, quoteConfValue, renderRedisConf, renderRedisEntrypoint, renderRedisPreStop, renderRedisProbe } from '../src/redis-config';
import { RealProcess } from './util/process';
import { redisCli } from './util/redis-cli';
import { lintScript } from './util/shell';
import { tempDir } from './util/temp';

const values = { port: 6379, appendOnly: true, minReplicasToWrite: 1, minReplicasMaxLagSeconds: 10 };

describe('renderRedisConf', () => {
  test('announces its port and keeps data in /data; the announced name is written at start', () => {
    const conf = renderRedisConf(values);
    expect(conf).not.toContain('replica-announce-ip');
    expect(conf).toContain('replica-announce-port 6379\n');
    expect(conf).toContain('dir /data\n');
    expect(conf).toContain('port 6379\n');
  });

  test('append-only persistence follows the prop', () => {
    expect(renderRedisConf(values)).toContain('appendonly yes\n');
    expect(renderRedisConf({ ...values, appendOnly: false })).toContain('appendonly no\n');
  });

  test('bounds writes an isolated master accepts', () => {
    const conf = renderRedisConf({ ...values, minReplicasToWrite: 2, minReplicasMaxLagSeconds: 7 });
    expect(conf).toContain('min-replicas-to-write 2\n');
    expect(conf).toContain('min-replicas-max-lag 7\n');
  });

  test('holds no role, bind address or secret: those are decided at start', () => {
    const conf = renderRedisConf(values);
    expect(conf).not.toMatch(/replicaof|slaveof|requirepass|masterauth|^bind/m);
  });
});

describe('renderRedisEntrypoint', () => {
  const script = renderRedisEntrypoint();

  test('passes sh -n and shellcheck', () => {
    expect(lintScript(script)).toBe('');
  });

  test('holds no control character (a ConfigMap shows it as a readable block)', () => {
    // eslint-disable-next-line no-control-regex
    expect(script).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
  });

  test('asks the sentinels before choosing a role, bounded in time', () => {
    expect(script).toContain('SENTINEL get-master-addr-by-name "$MASTER_NAME"');
    expect(script).toContain('MASTER_DISCOVERY_SECONDS');
    expect(script).toMatch(/timeout 3 "\$\{CLI_BIN:-redis-cli\}"/);
  });

  test('never promotes a volume that was last a replica on a guess', () => {
    expect(script).toContain('refusing to promote it on a guess');
    expect(script).toContain('exit 1');
  });

  test('writes the announced name and secrets hex-escaped into a file, never onto a command line', () => {
    expect(script).toContain('replica-announce-ip $(conf_quote "$ANNOUNCE_HOST")');
    expect(script).toContain('requirepass $(conf_quote "$REDIS_PASSWORD")');
    expect(script).toContain('umask 077');
    expect(script).toMatch(/exec "\$\{SERVER_BIN:-redis-server\}" "\$conf"\n$/);
    expect(script).not.toMatch(/chmod|sed -i|eval/);
  });
});

describe('renderRedisProbe', () => {
  const script = renderRedisProbe();
  test('passes sh -n and shellcheck', () => {
    expect(lintScript(script)).toBe('');
  });

  // Real servers on a loopback address of their own (never 127.0.0.1:6379), probed as kubelet would.
  const HOST = '127.0.77.3';
  const probe = (port: number, mode: RedisProbeMode): number | null => {
    const file = join(tempDir('probe'), 'probe.sh');
    writeFileSync(file, script);
    const env = { PATH: process.env.PATH, BIND_ADDRESS: HOST, REDIS_PORT: String(port) };
    return spawnSync('sh', [file, mode], { encoding: 'utf8', timeout: 15_000, env }).status;
  };
  const server = (port: number, ...args: string[]) => RealProcess.start(
    ['redis-server', '--bind', HOST, '--port', String(port), '--dir', REDIS_PATHS.data, '--save', '', ...args],
    [{ source: tempDir('data'), target: REDIS_PATHS.data }],
  );
  const role = (port: number) => redisCli(HOST, port, ['info', 'replication']);

  test('readiness: a master, and a replica only while its link to the master is up; liveness: any answer', async () => {
    const master = server(16480);
    await master.waitUntil('the master answers', () => role(16480).includes('role:master'), 10_000);
    expect([probe(16480, RedisProbeMode.READINESS), probe(16480, RedisProbeMode.LIVENESS)]).toEqual([0, 0]);

    const orphan = server(16481, '--replicaof', HOST, '16489');
    await orphan.waitUntil('the replica answers', () => role(16481).includes('master_link_status:down'), 10_000);
    expect([probe(16481, RedisProbeMode.READINESS), probe(16481, RedisProbeMode.LIVENESS)]).toEqual([1, 0]);

    const replica = server(16482, '--replicaof', HOST, '16480');
    await replica.waitUntil('the replica\'s link is up', () => role(16482).includes('master_link_status:up'), 10_000);
    expect(probe(16482, RedisProbeMode.READINESS)).toBe(0);

    // Nothing listens: neither ready nor alive.
    expect([probe(16483, RedisProbeMode.READINESS), probe(16483, RedisProbeMode.LIVENESS)]).toEqual([1, 1]);
  }, 30_000);
});

describe('quoteConfValue', () => {
  test('escapes quotes and backslashes', () => {
    expect(quoteConfValue('a "b" \\c')).toBe('"a \\"b\\" \\\\c"');
  });
});

describe('renderRedisPreStop', () => {
  const script = renderRedisPreStop();
  test('passes sh -n and shellcheck', () => {
    expect(lintScript(script)).toBe('');
  });
  test('a replica waits its turn and shuts down; the master waits for the others, pauses writes, SENTINEL FAILOVER, bounded wait', () => {
    expect(script).toContain('rollout_wait redis peers_in_sync "$turn_deadline"');
    expect(script).toContain('cli shutdown');
    expect(script).toContain('|| others_done; do');
    expect(script).toContain('client pause "$(( handover_s * 1000 ))" write');
    expect(script).toContain('SENTINEL FAILOVER "$MASTER_NAME"');
    expect(script).toContain('[ "$m" != "$ANNOUNCE_HOST" ]');
    expect(script).toContain('while [ "$(date +%s)" -lt "$deadline" ]');
  });
});
