/**
 * Tests of the e2e harness itself, with a hand-written manifest (no chart involved).
 */
import * as dns from 'dns';
import * as fs from 'fs';
import { Cluster, RedisClient, RedisError, Writer, inPrivateNetns, liveGroups, parseInfo, sleep, waitUntil } from './harness';
import { MINI_PASSWORD, MINI_SECRET, miniRedisManifests } from './fixtures/mini-redis';

jest.setTimeout(60_000);

describe('e2e harness (mini redis fixture)', () => {
  let cluster: Cluster;
  const clients: RedisClient[] = [];
  const connect = async (): Promise<RedisClient> => {
    const c = await cluster.connect('mini', 6379, { timeoutMs: 1000, password: MINI_PASSWORD });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    expect(fs.existsSync('/e2e-mini')).toBe(false);
    cluster = new Cluster(miniRedisManifests(), { subnet: 201, name: 'harness', dns: true, secrets: { [MINI_SECRET]: { password: MINI_PASSWORD } } });
    await cluster.start();
    await cluster.waitAllReady(15_000);
  });

  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });

  afterAll(async () => {
    await cluster?.shutdown();
  });

  const pod = () => cluster.pod('mini-redis-0');

  it('maps services to the pod address and answers PING through the service', cluster_guard(async () => {
    expect(cluster.addressesOf('mini')).toEqual([pod().address]);
    expect(cluster.addressesOf('mini-headless')).toEqual([pod().address]);
    expect(pod().address).toBe('127.201.1.1');
    expect(cluster.addressesOf('mini-aux-svc')).toEqual(['127.201.2.1', '127.201.2.2']);
    const c = await connect();
    expect(await c.command('PING')).toBe('PONG');
    // bound to the pod address only (BIND_ADDRESS override), not 0.0.0.0
    await expect(RedisClient.connect('127.201.250.250', 6379, { timeoutMs: 500 })).rejects.toThrow(/ECONNREFUSED|failed/);
  }));

  it('refuses commands without the Secret-backed password', cluster_guard(async () => {
    const c = await RedisClient.connect(pod().address, 6379, { timeoutMs: 1000 });
    clients.push(c);
    await expect(c.command('GET', 'x')).rejects.toBeInstanceOf(RedisError);
    await expect(c.command('GET', 'x')).rejects.toThrow(/NOAUTH/);
  }));

  it('runs as uid/gid 999 with fsGroup, sees its env and its mounts', cluster_guard(async () => {
    const status = fs.readFileSync(`/proc/${pod().pid}/status`, 'utf8');
    expect(status).toMatch(/^Uid:\s+999\s+999\s+999\s+999$/m);
    expect(status).toMatch(/^Gid:\s+999\s+999\s+999\s+999$/m);
    expect(status).toMatch(/^Groups:\s+999\s*$/m);
    expect(fs.readFileSync(`/proc/${pod().pid}/cmdline`, 'utf8')).toMatch(/^redis-server/);
    const id = await pod().exec(['id', '-u']);
    expect(id.stdout.trim()).toBe('999');
    const conf = await pod().exec(['stat', '-c', '%a %u', '/e2e-mini/conf/redis.conf']);
    expect(conf.stdout.trim()).toBe('600 999');
    const script = await pod().exec(['stat', '-c', '%a %u %g', '/e2e-mini/scripts/entrypoint.sh']);
    expect(script.stdout.trim()).toBe('755 0 999');
    // configMap volumes are read-only, and so is the root filesystem (readOnlyRootFilesystem)
    expect((await pod().exec(['sh', '-c', 'touch /e2e-mini/scripts/x'])).code).not.toBe(0);
    expect((await pod().exec(['sh', '-c', 'touch /tmp/e2e-harness-ro-check'])).code).not.toBe(0);
    expect(fs.existsSync('/tmp/e2e-harness-ro-check')).toBe(false);
    const hostname = await pod().exec(['hostname']);
    expect(hostname.stdout.trim()).toBe('mini-redis-0');
    expect(pod().logs()).toContain('starting redis as 999:999 groups=999 on 127.201.1.1 (pod mini-redis-0 in default, ip 127.201.1.1)');
    const st = fs.statSync(cluster.claimDir('mini-data'));
    expect(st.gid).toBe(999);
    expect(st.mode & 0o7777).toBe(0o2775);
  }));

  it('resolves service names through the generated /etc/hosts inside the pod', cluster_guard(async () => {
    for (const name of ['mini', 'mini-headless', 'mini.default.svc.cluster.local', 'mini-headless.default.svc', 'localhost']) {
      const r = await pod().exec(['getent', 'hosts', name]);
      expect({ name, code: r.code, out: r.stdout.trim().split(/\s+/)[0] }).toEqual({ name, code: 0, out: pod().address });
    }
    // unknown names fail fast (NXDOMAIN from the DNS stand-in) instead of leaving loopback
    const t0 = Date.now();
    const r = await pod().exec(['getent', 'hosts', 'example.invalid'], { timeoutMs: 5000 });
    expect(r.code).not.toBe(0);
    expect(Date.now() - t0).toBeLessThan(3000);
  }));

  it('answers DNS A queries for service names when dns is on', cluster_guard(async () => {
    expect(cluster.nameserver).toBe('127.201.255.253');
    expect(await pod().exec(['cat', '/etc/resolv.conf'])).toMatchObject({ code: 0, stdout: expect.stringContaining('nameserver 127.201.255.253') });
    const r = new dns.promises.Resolver({ timeout: 1000, tries: 1 });
    r.setServers([cluster.nameserver]);
    expect(await r.resolve4('mini.default.svc.cluster.local')).toEqual([pod().address]);
    expect(await r.resolve4('mini-headless.default.svc')).toEqual([pod().address]);
    await expect(r.resolve4('nope.default.svc.cluster.local')).rejects.toMatchObject({ code: 'ENOTFOUND' });
  }));

  it('without dns, pods get a nameserver where nothing listens', async () => {
    const other = new Cluster(miniRedisManifests(), { subnet: 202, name: 'harness-nodns', secrets: { [MINI_SECRET]: { password: MINI_PASSWORD } } });
    try {
      expect(other.nameserver).toBe('127.255.255.254');
      expect(fs.readFileSync(other.resolvConf(other.pods[0]), 'utf8')).toContain('nameserver 127.255.255.254\n');
      expect(other.hostsContent(other.pods[0])).toContain('127.202.1.1\tmini mini.default.svc.cluster.local');
    } finally {
      await other.shutdown();
    }
  });

  it("refuses network 'netns' in the host's network namespace, before making anything", () => {
    if (inPrivateNetns()) return; // only meaningful when the runner is not under `unshare -n`
    expect(() => new Cluster(miniRedisManifests(), { subnet: 203, name: 'harness-netns', network: 'netns' })).toThrow(/private one.*unshare -n/);
  });

  it('runs probes', cluster_guard(async () => {
    expect(await pod().probe('readiness')).toBe(true);
    expect(await pod().probe('liveness')).toBe(true);
    await expect(pod().probe('startup')).rejects.toThrow(/no startupProbe/);
  }));

  it('keeps PVC data across SIGKILL + restart (same address)', cluster_guard(async () => {
    const c = await connect();
    await c.command('SET', 'survivor', 'yes');
    await c.command('RPUSH', 'list', 'a', 'b', 'c');
    const pid = pod().pid!;
    await pod().kill('SIGKILL');
    expect(pod().running).toBe(false);
    expect(pod().main.exitSignal).toBe('SIGKILL');
    await pod().start();
    expect(pod().pid).not.toBe(pid);
    await pod().waitReady(15_000);
    const c2 = await connect();
    expect(await c2.command('GET', 'survivor')).toBe('yes');
    expect(await c2.command('LRANGE', 'list', 0, -1)).toEqual(['a', 'b', 'c']);
    expect(parseInfo(await c2.command('INFO', 'persistence')).aof_enabled).toBe('1');
    expect(pod().unexpectedExits).toEqual([]);
  }));

  it('freeze() makes the pod unresponsive and thaw() brings it back', cluster_guard(async () => {
    const c = await connect();
    pod().freeze();
    await expect(c.commandWithTimeout(500, 'PING')).rejects.toThrow(/timed out/);
    await expect(pod().probe('readiness')).resolves.toBe(false);
    pod().thaw();
    const c2 = await waitUntil(() => connect(), 5000, 'reconnect after thaw');
    expect(await c2.command('PING')).toBe('PONG');
  }));

  it('graceful restart (SIGTERM) keeps data and address', cluster_guard(async () => {
    const c = await connect();
    await c.command('SET', 'graceful', '1');
    const t0 = Date.now();
    await pod().restart();
    expect(Date.now() - t0).toBeLessThan(5000);
    await pod().waitReady(15_000);
    const c2 = await connect();
    expect(await c2.command('GET', 'graceful')).toBe('1');
    expect(await c2.command('GET', 'survivor')).toBe('yes');
  }));

  it('wipeClaim() loses the data', cluster_guard(async () => {
    await pod().kill('SIGKILL');
    cluster.wipeClaim('mini-data');
    await pod().start();
    await pod().waitReady(15_000);
    const c = await connect();
    expect(await c.command('GET', 'survivor')).toBe(null);
  }));

  it('Writer (RPUSH mode) measures the gap across a crash and verifies acknowledged writes', cluster_guard(async () => {
    const w = new Writer(() => connect(), { mode: 'rpush', prefix: 'writer-list', intervalMs: 2 }).start();
    let killAt = 0;
    try {
      await waitUntil(() => w.acked.length > 50, 5000, 'writes before the crash');
      killAt = Date.now();
      await pod().kill('SIGKILL');
      await sleep(300);
      await pod().start();
      await waitUntil(() => w.firstAckAfter(killAt), 10_000, 'writes after the restart');
    } finally {
      await w.stop();
    }
    const gap = w.gapAfter(killAt)!;
    expect(gap).toBeGreaterThanOrEqual(300);
    expect(gap).toBeLessThan(10_000);
    expect(w.failuresBetween(killAt, killAt + gap).length).toBeGreaterThan(0);
    const c = await connect();
    const v = await w.verify(c);
    expect(v.checked).toBe(w.acked.length);
    expect(v.missing).toEqual([]); // appendfsync always + AOF on the claim
  }));

  it('runs init containers to completion, then every container with its own user and $(VAR) expansion', cluster_guard(async () => {
    const aux = cluster.podsOf('mini-aux');
    expect(aux.map((p) => [p.name, p.address])).toEqual([['mini-aux-0', '127.201.2.1'], ['mini-aux-1', '127.201.2.2']]);
    for (const p of aux) {
      expect(p.running).toBe(true);
      const side = await p.exec(['sh', '-c', 'cat /e2e-mini/aux/init.txt; id -u; id -G; touch /e2e-mini/aux/x 2>/dev/null || echo read-only'], { container: 'side' });
      expect(side.stdout.split('\n')).toEqual([`init of ${p.name} as 1234`, '4444', '1234 4321', 'read-only', '']);
      const main = await p.exec(['sh', '-c', 'echo "$GREETING|$GREETING2"'], { container: 'main' });
      expect(main.stdout.trim()).toBe(`hello $(POD_NAME)|hi ${p.name} $(POD_NAME)`);
    }
    // graceful stop: SIGTERM reaches the main process of every container; sleep dies, the trap exits 0
    const t0 = Date.now();
    await aux[1].stop();
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(aux[1].container('main').exitCode).toBe(0);
    expect(aux[1].anyRunning).toBe(false);
    await aux[1].start();
    expect(aux[1].running).toBe(true);
  }));

  it('exec times out boundedly', cluster_guard(async () => {
    const t0 = Date.now();
    const r = await pod().exec(['sleep', '30'], { timeoutMs: 300 });
    expect(r.timedOut).toBe(true);
    expect(Date.now() - t0).toBeLessThan(2000);
  }));

  it('shutdown leaves no process alive and cleans up', async () => {
    const pids = [pod().pid!];
    const workDir = cluster.workDir;
    await cluster.shutdown();
    await sleep(50);
    expect(cluster.leftovers()).toEqual([]);
    for (const pid of pids) expect(fs.existsSync(`/proc/${pid}`)).toBe(false);
    expect(liveGroups()).toEqual([]);
    expect(fs.existsSync('/e2e-mini')).toBe(false);
    if (process.env.KEEP_E2E !== '1') expect(fs.existsSync(workDir)).toBe(false);
  });

  function cluster_guard(fn: () => Promise<void>): () => Promise<void> {
    return () => cluster.guard(fn)();
  }
});
