import { HaproxyConfValues, belowRegex, renderHaproxyConf, renderQuorumGuardLua } from '../src/sentinel/haproxy-config';
import { copyFileSync } from 'fs';
import { join } from 'path';
import { makeCerts } from './util/certs';
import { tempFile, withLoopbackDns } from './util/shell';

const values: HaproxyConfValues = {
  port: 6379,
  healthPort: 8404,
  masterName: 'mymaster',
  quorum: 3,
  redis: ['redis-a', 'redis-b'].map((n) => ({ host: `${n}.\${POD_NAMESPACE}.svc.cluster.local`, port: 6379 })),
  sentinels: [1, 2, 3, 4, 5].map((i) => ({ host: `sentinel-${i}.\${POD_NAMESPACE}.svc.cluster.local`, port: 26379 })),
  auth: false,
  checkIntervalMilliseconds: 1000,
  fenceAfterMilliseconds: 2000,
  maxConnections: 10000,
  threads: 1,
  clientTimeoutSeconds: 3600,
  quorumGuard: tempFile('quorum-guard.lua', renderQuorumGuardLua({ quorum: 3, servers: 2, intervalMilliseconds: 100 })),
};

describe('renderHaproxyConf', () => {
  test('routes to a server only while it is up and named by a quorum of sentinels', () => {
    const cfg = renderHaproxyConf(values);
    expect(cfg).toContain('acl redis-0-named nbsrv(sentinels-name-redis-0) ge 3');
    expect(cfg).toContain('use-server redis-1 if redis-1-up redis-1-named');
    expect(cfg).toContain('tcp-request content reject unless redis-0-up redis-0-named or redis-1-up redis-1-named');
    expect(cfg).toMatch(/server redis-0 "redis-a\.\$\{POD_NAMESPACE\}\.svc\.cluster\.local:6379" weight 0 .*on-marked-down shutdown-sessions/);
  });

  test('a Redis server rises only after the sentinel answers have been re-read', () => {
    const cfg = renderHaproxyConf({ ...values, checkIntervalMilliseconds: 250 });
    expect(cfg).toMatch(/server redis-0 .* check inter 250ms fastinter 100ms downinter 100ms fall 1 rise 2 /);
    expect(cfg).toMatch(/server sentinel-0 .* check inter 100ms fall 1 rise 1/);
  });

  test('asks every sentinel about every server and matches the exact host', () => {
    const cfg = renderHaproxyConf(values);
    expect(cfg.match(/^ {2}server sentinel-/gm)).toHaveLength(2 * 5);
    expect(cfg).toContain('tcp-check send "SENTINEL MASTER mymaster\\r\\nPING\\r\\n"');
    expect(cfg).toContain('tcp-check expect min-recv 0 string "\\r\\nredis-b.${POD_NAMESPACE}.svc.cluster.local\\r\\n\\$4\\r\\nport\\r\\n\\$4\\r\\n6379\\r\\n"');
  });

  test('a sentinel votes for a server only while its last good PING reply is younger than fenceAfter', () => {
    const cfg = renderHaproxyConf({ ...values, fenceAfterMilliseconds: 1500 });
    const rules = cfg.split('\n').filter((l) => l.includes('last-ok-ping-reply'));
    expect(rules).toHaveLength(2);
    for (const r of rules) expect(r).toBe(`  tcp-check expect min-recv 0 rstring "last-ok-ping-reply\\r\\n[\\$][0-9]+\\r\\n${belowRegex(1500)}\\r\\n"`);
  });

  test('sentinel checks end with PING, not QUIT (Sentinel has no QUIT), so a mismatch fails at once', () => {
    const backends = renderHaproxyConf(values).split('\n\n').filter((b) => b.includes('backend sentinels-name-'));
    expect(backends).toHaveLength(2);
    for (const b of backends) {
      expect(b).not.toContain('QUIT');
      expect(b).toMatch(/PING\\r\\n"\n {2}tcp-check expect string "\+PONG\\r\\n"\n {2}tcp-check expect min-recv 0 string/);
    }
  });

  test('authenticates its checks only when auth is on, reading the password from the environment', () => {
    expect(renderHaproxyConf(values)).not.toContain('AUTH');
    const cfg = renderHaproxyConf({ ...values, auth: true });
    expect(cfg).toContain('%[env(REDIS_PASSWORD),length]');
    expect(cfg.match(/tcp-check send-lf/g)).toHaveLength(3);
  });

  test('resolves names at run time and starts without them', () => {
    const cfg = renderHaproxyConf(values);
    expect(cfg).toContain('default-server init-addr last,libc,none resolvers cluster');
    expect(cfg).toContain('parse-resolv-conf');
  });

  test.each([false, true])('passes haproxy -c (auth %s)', (auth) => {
    const path = tempFile('haproxy.cfg', renderHaproxyConf({ ...values, auth }));
    const r = withLoopbackDns(['haproxy', '-c', '-f', path],
      { ...process.env, BIND_ADDRESS: '127.0.0.1', POD_NAMESPACE: 'default', REDIS_PASSWORD: 'x' });
    expect(r.stderr + r.stdout).toContain('Configuration file is valid');
    expect(r.status).toBe(0);
  });
});

describe('renderHaproxyConf read replicas', () => {
  test('a second listener balances over replicas whose link is up', () => {
    const cfg = renderHaproxyConf({ ...values, readReplicasPort: 6380 });
    expect(cfg).toContain('bind "${BIND_ADDRESS}:6380"');
    expect(cfg).toMatch(/backend redis-replicas\n {2}balance leastconn\n[\s\S]*tcp-check expect min-recv 0 string master_link_status:up/);
    expect(renderHaproxyConf(values)).not.toContain('redis-replicas');
  });

  test.each([false, true])('passes haproxy -c with read replicas (auth %s)', (auth) => {
    const path = tempFile('haproxy.cfg', renderHaproxyConf({ ...values, auth, readReplicasPort: 6380 }));
    const r = withLoopbackDns(['haproxy', '-c', '-f', path],
      { ...process.env, BIND_ADDRESS: '127.0.0.1', POD_NAMESPACE: 'default', REDIS_PASSWORD: 'x' });
    expect(r.status).toBe(0);
  });
});

describe('renderHaproxyConf TLS', () => {
  test('TLS on the client listeners and on every server, verified against the CA', () => {
    const cfg = renderHaproxyConf({ ...values, tls: { cert: '/t/tls.crt', ca: '/t/ca.crt' }, readReplicasPort: 6380 });
    expect(cfg.match(/bind .* ssl crt \/t\/tls.crt/g)).toHaveLength(2);
    const servers = cfg.split('\n').filter((l) => l.startsWith('  server '));
    for (const line of servers) expect(line).toContain(' ssl verify required ca-file /t/ca.crt crt /t/tls.crt check-ssl');
    expect(cfg).toMatch(/bind "\$\{BIND_ADDRESS\}:8404"\n/); // probes stay plain HTTP
  });

  test('passes haproxy -c with real certificate files', () => {
    const certs = makeCerts(['redis']);
    copyFileSync(join(certs.dir, 'tls.key'), join(certs.dir, 'tls.crt.key'));
    const tls = { cert: join(certs.dir, 'tls.crt'), ca: join(certs.dir, 'ca.crt') };
    const path = tempFile('haproxy.cfg', renderHaproxyConf({ ...values, auth: true, tls, readReplicasPort: 6380 }));
    const r = withLoopbackDns(['haproxy', '-c', '-f', path],
      { ...process.env, BIND_ADDRESS: '127.0.0.1', POD_NAMESPACE: 'default', REDIS_PASSWORD: 'x' });
    expect(r.stderr + r.stdout).toContain('Configuration file is valid');
  });
});

describe('belowRegex', () => {
  test.each([1, 7, 10, 11, 100, 999, 1000, 1500, 2000, 2047, 10000])('matches exactly the integers below %i, without leading zeros', (limit) => {
    const re = new RegExp(`^${belowRegex(limit)}$`);
    for (let n = 0; n < limit * 2 + 20; n++) expect([n, re.test(String(n))]).toEqual([n, n < limit]);
    expect(re.test('00')).toBe(false);
    expect(re.test('01')).toBe(false);
    expect(re.test('-1')).toBe(false);
  });

  test('rejects a limit that is not a positive integer', () => {
    expect(() => belowRegex(0)).toThrow(/not a positive integer/);
    expect(() => belowRegex(1.5)).toThrow(/not a positive integer/);
  });
});
