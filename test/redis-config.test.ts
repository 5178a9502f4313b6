import { spawnSync } from 'child_process';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'fs';
import { join } from 'path';
import { REDIS_PATHS, quoteConfValue } from '../src/server-config';
import { RedisProbeMode, renderRedisConf, renderRedisEntrypoint, renderRedisPreStop, renderRedisProbe } from '../src/sentinel/redis-config';
import { RealProcess } from './util/process';
import { redisCli } from './util/redis-cli';
import { namedMaster, startRedis, startSentinel } from './util/servers';
import { lintScript, startScript, tempFile } from './util/shell';
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

  // The entrypoint run for real, as a pod would: its ConfigMap at /opt/redis-ha, a volume at /data,
  // an emptyDir at /run/redis-ha, then redis-server. Real masters and sentinels on 127.0.79.0/24.
  const POD = '127.0.79.2';
  const POD_PORT = 16501;
  const NOBODY = '127.0.79.9'; // a sentinel address where nothing listens: refused at once
  const pod = (env: Record<string, string>, lastRole?: string) => {
    const config = tempDir('redis-config');
    writeFileSync(join(config, 'redis.conf'), renderRedisConf({ ...values, port: POD_PORT }));
    writeFileSync(join(config, 'entrypoint.sh'), script);
    const data = tempDir('redis-data');
    if (lastRole !== undefined) writeFileSync(join(data, 'redis-ha-role'), `${lastRole}\n`);
    const run = tempDir('redis-run');
    const proc = RealProcess.start(['sh', `${REDIS_PATHS.config}/entrypoint.sh`], [
      { source: config, target: REDIS_PATHS.config, readOnly: true },
      { source: data, target: REDIS_PATHS.data },
      { source: run, target: REDIS_PATHS.run },
    ], {
      PATH: process.env.PATH, MASTER_NAME: 'mymaster', SENTINEL_PORT: '26500', REDIS_PORT: String(POD_PORT),
      BIND_ADDRESS: POD, ANNOUNCE_HOST: POD, ...env,
    });
    return { proc, data, run };
  };
  const roleOf = (password?: string) => redisCli(POD, POD_PORT, ['role'], password).split('\n');
  const lastRoleOn = (data: string) => readFileSync(join(data, 'redis-ha-role'), 'utf8');

  test('asks the sentinels before choosing a role: their master wins over the chart\'s initial one', async () => {
    await startRedis('127.0.79.1', 16500);
    await startSentinel({ host: '127.0.79.5', port: 26500, masterName: 'mymaster', masterHost: '127.0.79.1', masterPort: 16500 });
    // A sentinel that does not answer is skipped; the initial master named here is a wrong guess.
    const { proc, data } = pod({ SENTINEL_HOSTS: `${NOBODY} 127.0.79.5`, INITIAL_MASTER_HOST: '127.0.79.3', INITIAL_MASTER_PORT: '16599' });
    await proc.waitUntil('a replica of the master the sentinel names, in sync', () => {
      const r = roleOf();
      return r[0] === 'slave' && r[1] === '127.0.79.1' && r[2] === '16500' && r[3] === 'connected';
    }, 15_000);
    expect(proc.output()).toContain('sentinels name 127.0.79.1:16500 as master; starting as its replica');
    expect(lastRoleOn(data)).toBe('replica\n');
  }, 30_000);

  test('with no sentinel answering, a volume last a master keeps asking for the discovery time, then serves as master', async () => {
    const { proc, data } = pod({ SENTINEL_HOSTS: NOBODY, MASTER_DISCOVERY_SECONDS: '2' }, 'master');
    await proc.waitUntil('a master', () => roleOf()[0] === 'master', 15_000);
    // Asked every 0.5 s until the whole-second deadline (1 to 2 s away) passed, then fell back.
    expect(proc.output().match(/no sentinel answered for mymaster yet; retrying/g)?.length).toBeGreaterThanOrEqual(2);
    expect(proc.output()).toContain('no sentinel answered; starting as the initial master');
    expect(lastRoleOn(data)).toBe('master\n');
  }, 30_000);

  test('never promotes a volume that was last a replica on a guess: it exits before writing a config', async () => {
    const { proc, run } = pod({ SENTINEL_HOSTS: NOBODY, MASTER_DISCOVERY_SECONDS: '1' }, 'replica');
    expect(await proc.exitCode(15_000)).toBe(1);
    expect(proc.output()).toContain('this volume was last a replica; refusing to promote it on a guess');
    expect(readdirSync(run)).toEqual([]);
    expect(redisCli(POD, POD_PORT, ['ping'])).not.toBe('PONG');
  }, 30_000);

  test('the announced name and the password reach the server through a private file, never its command line', async () => {
    const password = 'p a"s\\s$(x)`y`\'\n#;z';
    const announced = 'redis-1.cache.svc.cluster.local';
    const bin = tempDir('redis-bin');
    const argvFile = join(bin, 'argv');
    writeFileSync(join(bin, 'server'), `#!/bin/sh\nprintf '%s\\n' "$@" > ${argvFile}\nexec redis-server "$@"\n`, { mode: 0o755 });
    const { proc, run } = pod({ REDIS_PASSWORD: password, ANNOUNCE_HOST: announced, SERVER_BIN: join(bin, 'server') });
    await proc.waitUntil('a master that takes the password', () => roleOf(password)[0] === 'master', 15_000);
    expect(redisCli(POD, POD_PORT, ['ping'])).toMatch(/NOAUTH/);
    const get = (k: string) => redisCli(POD, POD_PORT, ['config', 'get', k], password);
    expect(get('requirepass')).toBe(`requirepass\n${password}`);
    expect(get('masterauth')).toBe(`masterauth\n${password}`);
    expect(get('replica-announce-ip')).toBe(`replica-announce-ip\n${announced}`);
    // What the server was started with (recorded by a wrapper: redis-server overwrites its own title).
    expect(readFileSync(argvFile, 'utf8')).toBe(`${REDIS_PATHS.run}/redis.conf\n`);
    expect(redisCli(POD, POD_PORT, ['info', 'server'], password)).toContain(`config_file:${REDIS_PATHS.run}/redis.conf`);
    expect(readdirSync(run)).toEqual(['redis.conf']);
    const file = join(run, 'redis.conf');
    expect(statSync(file).mode & 0o077).toBe(0);
    expect(readFileSync(file, 'utf8')).not.toContain('p a');
  }, 30_000);
});

describe('renderRedisProbe', () => {
  const script = renderRedisProbe();
  test('passes sh -n and shellcheck', () => {
    expect(lintScript(script)).toBe('');
  });

  // Real servers on a loopback address of their own (never 127.0.0.1:6379), probed as kubelet would.
  const HOST = '127.0.77.3';
  const file = tempFile('probe.sh', script);
  const probe = (port: number, mode: RedisProbeMode): number | null => {
    const env = { PATH: process.env.PATH, BIND_ADDRESS: HOST, REDIS_PORT: String(port) };
    return spawnSync('sh', [file, mode], { encoding: 'utf8', timeout: 15_000, env }).status;
  };
  const role = (port: number) => redisCli(HOST, port, ['info', 'replication']);

  test('readiness: a master, and a replica only while its link to the master is up; liveness: any answer', async () => {
    const master = await startRedis(HOST, 16480);
    await master.waitUntil('the master answers', () => role(16480).includes('role:master'), 10_000);
    expect([probe(16480, RedisProbeMode.READINESS), probe(16480, RedisProbeMode.LIVENESS)]).toEqual([0, 0]);

    const orphan = await startRedis(HOST, 16481, '--replicaof', HOST, '16489');
    await orphan.waitUntil('the replica answers', () => role(16481).includes('master_link_status:down'), 10_000);
    expect([probe(16481, RedisProbeMode.READINESS), probe(16481, RedisProbeMode.LIVENESS)]).toEqual([1, 0]);

    const replica = await startRedis(HOST, 16482, '--replicaof', HOST, '16480');
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

  // The hook run for real against a master, its replicas and a sentinel, as the pod named `me`.
  // Every instance listens on the same port, as pods do.
  const PORT = 16510;
  const MASTER = '127.0.79.11';
  const REPLICA = '127.0.79.12';
  const OTHER = '127.0.79.13';
  const SENTINEL = '127.0.79.15';
  const replicaOf = (host: string) => startRedis(host, PORT, '--replicaof', MASTER, String(PORT), '--replica-announce-ip', host);
  const inSync = (host: string) => redisCli(host, PORT, ['info', 'replication']).includes('master_link_status:up');
  const setup = async (...replicas: string[]) => {
    const master = await startRedis(MASTER, PORT);
    const started = await Promise.all(replicas.map(replicaOf));
    await startSentinel({ host: SENTINEL, port: 26510, masterName: 'mymaster', masterHost: MASTER, masterPort: PORT });
    // The sentinel learns the replicas from the master's INFO: wait until it could promote them.
    await master.waitUntil('the sentinel knows every replica, in sync', () => {
      const known = redisCli(SENTINEL, 26510, ['sentinel', 'replicas', 'mymaster']);
      return replicas.every((r) => known.includes(r) && inSync(r));
    }, 15_000);
    return { master, replicas: started };
  };
  const preStop = (me: string, peers: string[], waitSeconds: number) => startScript(script, {
    ANNOUNCE_HOST: me, BIND_ADDRESS: me, REDIS_PORT: String(PORT), PEER_HOSTS: peers.join(' '), MASTER_NAME: 'mymaster',
    SENTINEL_HOSTS: SENTINEL, SENTINEL_PORT: '26510', PRESTOP_WAIT_SECONDS: String(waitSeconds),
  }, 60_000);
  const named = () => namedMaster(SENTINEL, 26510, 'mymaster');

  test('a replica waits while another instance is out of sync, then stops its server in its turn', async () => {
    const { replicas: [replica] } = await setup(REPLICA);
    const hook = preStop(REPLICA, [MASTER, OTHER], 30);
    let ended = false;
    void hook.done.then(() => (ended = true));
    await new Promise((r) => setTimeout(r, 3000));
    expect(ended).toBe(false); // OTHER is down: not its turn
    expect(redisCli(REPLICA, PORT, ['ping'])).toBe('PONG');
    await replicaOf(OTHER);
    const { code, out } = await hook.done;
    expect(code).toBe(0);
    expect(out).toContain('replica stopping in its turn: every other instance is in sync');
    expect(await replica.exitCode(5000)).toBe(0);
  }, 60_000);

  test('the master hands over: the sentinels name an in-sync replica holding every write before the hook returns', async () => {
    await setup(REPLICA);
    const keys = Array.from({ length: 200 }, (_, i) => `k${i}`);
    for (let i = 0; i < keys.length; i += 50) redisCli(MASTER, PORT, ['mset', ...keys.slice(i, i + 50).flatMap((k) => [k, 'v'])]);
    const { code, out } = await preStop(MASTER, [REPLICA], 30).done;
    expect(code).toBe(0);
    expect(out).toContain(`sentinels now name ${REPLICA} as master; stopping`);
    expect(named()).toBe(`${REPLICA} ${PORT}`);
    expect(redisCli(REPLICA, PORT, ['role']).split('\n')[0]).toBe('master');
    expect(redisCli(REPLICA, PORT, ['dbsize'])).toBe(String(keys.length));
  }, 60_000);

  test('a master with no replica to promote gives up within its budget and leaves writes unpaused', async () => {
    await setup();
    // 16 s: 8 to wait for the missing replica's turn, 8 for the hand-over (writes paused meanwhile).
    const { code, out } = await preStop(MASTER, [REPLICA], 16).done;
    expect(code).toBe(0);
    expect(out).toMatch(/handing over anyway[\s\S]*no sentinel accepted the failover; stopping as master/);
    expect(named()).toBe(`${MASTER} ${PORT}`);
    expect(redisCli(MASTER, PORT, ['set', 'after', '1'])).toBe('OK'); // within redisCli's 5 s: not paused
  }, 60_000);
});
