/**
 * The harness's netns mode (network: 'netns'): pods in their own network namespaces, Services on
 * kube-proxy-like VIPs that follow readiness, cluster DNS, and partitions. Real processes only.
 * Needs the test process in a private network namespace:
 *   unshare -n sh -c 'ip link set lo up && npx jest test/e2e/network.test.ts --selectProjects e2e'
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import { Cluster, ExecResult, Pod, RedisClient, inPrivateNetns, liveGroups, nftScript, sleep, waitUntil } from './harness';
import { MINI_PASSWORD, MINI_SECRET, miniRedisManifests } from './fixtures/mini-redis';
import { KV_PORT, KV_SERVICE_PORT, PROBE_FAILURE_THRESHOLD, PROBE_PERIOD_SECONDS, UNREADY_FLAG, netKvManifests } from './fixtures/net-kv';

jest.setTimeout(60_000);

const SUBNET = 241;
/** How long a readiness change may take to show: kubelet's failureThreshold x period, plus probe and rule-update slack. */
const READINESS_MS = PROBE_FAILURE_THRESHOLD * PROBE_PERIOD_SECONDS * 1000 + 3000;
/** Connections through a VIP over two endpoints: enough that random picks hit both (1 in 2^19 to miss). */
const VIP_TRIES = 20;
/** A connection attempt across a cut: long enough to tell "dropped" from "slow". */
const CUT_TIMEOUT_S = 1;
/** A connection expected to succeed: generous, so a loaded machine is not mistaken for a cut. */
const REACH_TIMEOUT_S = 5;

describe('nftScript (the rules every namespace gets)', () => {
  const services = [
    { name: 'one', vip: '10.96.9.10', ports: [{ port: 80, protocol: 'tcp' as const, endpoints: [{ address: '10.244.9.10', port: 8080 }] }] },
    { name: 'two', vip: '10.96.9.11', ports: [{ port: 53, protocol: 'udp' as const, endpoints: [{ address: '10.244.9.10', port: 53 }, { address: '10.244.9.11', port: 5353 }] }] },
    { name: 'none', vip: '10.96.9.12', ports: [{ port: 80, protocol: 'tcp' as const, endpoints: [] }] },
  ];

  it('DNATs a VIP to its endpoint, picks one at random among several, rejects the rest, drops the cut both ways', () => {
    const s = nftScript('e2e_9', '10.96.9.0/24', services, ['10.244.9.12', '10.244.9.13']);
    // replaced atomically: created if absent, deleted, defined again, in one transaction
    expect(s.startsWith('table ip e2e_9\ndelete table ip e2e_9\ntable ip e2e_9 {\n')).toBe(true);
    expect(s).toContain('ip daddr 10.96.9.10 tcp dport 80 dnat to 10.244.9.10:8080');
    expect(s).toContain('ip daddr 10.96.9.11 udp dport 53 numgen random mod 2 vmap { 0 : jump ep_1_0_0, 1 : jump ep_1_0_1 }');
    expect(s).toContain('meta l4proto udp dnat to 10.244.9.11:5353');
    expect(s).not.toContain('10.96.9.12 tcp dport');
    expect(s).toContain('ip daddr 10.96.9.0/24 meta l4proto tcp reject with tcp reset');
    expect(s).toContain('ip daddr { 10.244.9.12, 10.244.9.13 } drop');
    expect(s).toContain('ip saddr { 10.244.9.12, 10.244.9.13 } drop');
    expect(nftScript('e2e_9', '10.96.9.0/24', [], [])).not.toContain(' drop');
  });
});

// Outside a private namespace the harness refuses netns mode: skip, unless E2E_REQUIRE_NETNS=1 asks to fail instead.
const runNetns = inPrivateNetns() || process.env.E2E_REQUIRE_NETNS === '1';
const describeNetns = runNetns ? describe : describe.skip;
if (!runNetns) console.warn('network.test.ts: netns tests skipped; run them under `unshare -n` (see its header)');

describeNetns('e2e harness, network: netns', () => {
  let cluster: Cluster;
  let holders: number[] = [];
  let namespaces: string[] = [];
  const kv = (i: number): Pod => cluster.pod(`kv-${i}`);
  const client = (): Pod => cluster.pod('client-0');
  const sh = (pod: Pod, script: string, timeoutMs = 10_000): Promise<ExecResult> => pod.exec(['sh', '-c', script], { timeoutMs });
  /** GET whoami through redis-cli from a pod: which kv pod answered ('' when none did). */
  const whoFrom = async (pod: Pod, host: string, port: number, timeoutS = CUT_TIMEOUT_S): Promise<string> =>
    (await sh(pod, `timeout ${timeoutS} redis-cli -h ${host} -p ${port} GET whoami`)).stdout.trim();
  const whoManyFrom = async (pod: Pod, host: string, port: number): Promise<Set<string>> => {
    const r = await sh(pod, `for i in $(seq ${VIP_TRIES}); do timeout ${CUT_TIMEOUT_S} redis-cli -h ${host} -p ${port} GET whoami; done`, 60_000);
    return new Set(r.stdout.split('\n').filter(Boolean));
  };
  const resolve = async (pod: Pod, name: string): Promise<string[]> =>
    (await pod.exec(['getent', 'ahostsv4', name])).stdout.split('\n').filter((l) => l.includes('STREAM')).map((l) => l.split(/\s+/)[0]).sort();

  beforeAll(async () => {
    cluster = new Cluster(netKvManifests(), { subnet: SUBNET, name: 'netns', network: 'netns' });
    await cluster.start();
    await cluster.waitAllReady(15_000);
    holders = cluster.network!.holderPids();
    namespaces = cluster.network!.namespaceIds();
    // Each kv pod says who it is, so a connection through a Service shows which endpoint it reached.
    for (const i of [0, 1]) {
      const c = await kv(i).connect(KV_PORT, { timeoutMs: 2000 });
      await c.command('SET', 'whoami', kv(i).name);
      c.close();
    }
    await waitUntil(() => cluster.endpointsOf('kv').length === 2, READINESS_MS, 'both kv pods ready');
    await cluster.syncNetwork();
  });

  afterAll(async () => {
    await cluster?.shutdown();
  });

  const guard = (fn: () => Promise<void>) => () => cluster.guard(fn)();

  it('gives every pod its own namespace, address and routes to nothing but the harness ranges', guard(async () => {
    const plan = cluster.network!.plan;
    expect(kv(0).address).toBe(`10.244.${SUBNET}.10`);
    expect(new Set(cluster.pods.map((p) => cluster.netnsPath(p))).size).toBe(cluster.pods.length);
    for (const p of cluster.pods) {
      const r = await sh(p, 'ip -4 -o addr show; cat /proc/sys/net/ipv6/conf/all/disable_ipv6');
      expect(r.code).toBe(0);
      const routes = (await sh(p, 'ip route')).stdout;
      expect(r.stdout).toContain(`inet ${p.address}/24`);
      expect(r.stdout).toMatch(/lo\s+inet 127\.0\.0\.1\/8/);
      expect(routes).not.toMatch(/^default/m);
      expect(routes.split('\n').filter(Boolean).sort()).toEqual([plan.serviceCidr + ' dev eth0 scope link ', `${plan.podCidr} dev eth0 proto kernel scope link src ${p.address} `].sort());
      expect(r.stdout).toContain('\n1\n');
      // /etc/hosts: localhost and the pod's own name only, Services go through DNS
      expect((await p.exec(['cat', '/etc/hosts'])).stdout).toBe(`# generated by the e2e harness (network: netns)\n127.0.0.1\tlocalhost\n${p.address}\t${p.name}\n`);
      for (const outside of ['1.1.1.1', '8.8.8.8', `10.244.${SUBNET + 1}.10`, '192.168.1.1']) {
        const route = await sh(p, `ip route get ${outside}`);
        expect({ outside, code: route.code }).toEqual({ outside, code: 2 });
      }
    }
    // its own loopback is its own: a kv pod's redis answers on 127.0.0.1 inside, the client's does not exist
    expect((await sh(kv(0), `redis-cli -h 127.0.0.1 -p ${KV_PORT} GET whoami`)).stdout.trim()).toBe('kv-0');
    expect((await sh(client(), `redis-cli -h 127.0.0.1 -p ${KV_PORT} PING`)).code).not.toBe(0);
  }));

  it('resolves Service names through DNS: VIPs for ClusterIP, ready pods for headless, NXDOMAIN fast otherwise', guard(async () => {
    const vip = cluster.network!.vipOf(cluster.service('kv'))!;
    expect(vip).toMatch(new RegExp(`^10\\.96\\.${SUBNET}\\.\\d+$`));
    expect(await resolve(client(), 'kv')).toEqual([vip]);
    expect(await resolve(client(), 'kv.default.svc.cluster.local')).toEqual([vip]);
    expect(await resolve(client(), 'kv-headless')).toEqual([kv(0).address, kv(1).address].sort());
    expect(cluster.addressesOf('kv')).toEqual([vip]);
    const t0 = Date.now();
    const r = await client().exec(['getent', 'hosts', 'nope.example'], { timeoutMs: 5000 });
    expect(r.code).not.toBe(0);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect((await client().exec(['cat', '/etc/resolv.conf'])).stdout).toContain(`nameserver ${cluster.network!.plan.dnsAddress}`);
  }));

  it('reaches pods by Service name through the VIP (service port 7000 -> target 6379), spread over both endpoints', guard(async () => {
    expect(await whoManyFrom(client(), 'kv', KV_SERVICE_PORT)).toEqual(new Set(['kv-0', 'kv-1']));
    // the test process goes through the same VIP rules
    const seen = new Set<string>();
    for (let i = 0; i < VIP_TRIES; i++) {
      const c = await cluster.connect('kv', KV_SERVICE_PORT, { timeoutMs: 2000 });
      seen.add(String(await c.command('GET', 'whoami')));
      c.close();
    }
    expect(seen).toEqual(new Set(['kv-0', 'kv-1']));
    // a pod reaches another by address, and a pod whose endpoint is itself too
    expect(await whoFrom(kv(0), kv(1).address, KV_PORT, REACH_TIMEOUT_S)).toBe('kv-1');
    expect(await whoFrom(kv(0), 'kv-headless', KV_PORT, REACH_TIMEOUT_S)).toMatch(/^kv-[01]$/);
  }));

  it('drops an unready pod from the ClusterIP Service and the headless DNS answer, keeps it with publishNotReadyAddresses, takes it back', guard(async () => {
    const t0 = Date.now();
    expect((await sh(kv(1), `touch ${UNREADY_FLAG}`)).code).toBe(0);
    await waitUntil(() => !cluster.endpointsOf('kv').includes(kv(1)), READINESS_MS, 'kv-1 unready');
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual((PROBE_FAILURE_THRESHOLD - 1) * PROBE_PERIOD_SECONDS * 1000);
    await cluster.syncNetwork();
    expect(await whoManyFrom(client(), 'kv', KV_SERVICE_PORT)).toEqual(new Set(['kv-0']));
    expect(await resolve(client(), 'kv-headless')).toEqual([kv(0).address]);
    // publishNotReadyAddresses: still listed and still reached
    expect(await resolve(client(), 'kv-all')).toEqual([kv(0).address, kv(1).address].sort());
    expect(await whoManyFrom(client(), 'kv-all-vip', KV_PORT)).toEqual(new Set(['kv-0', 'kv-1']));
    // the redis process itself is fine: the pod is only out of the Service
    expect(await whoFrom(client(), kv(1).address, KV_PORT, REACH_TIMEOUT_S)).toBe('kv-1');

    expect((await sh(kv(1), `rm ${UNREADY_FLAG}`)).code).toBe(0);
    await waitUntil(() => cluster.endpointsOf('kv').includes(kv(1)), READINESS_MS, 'kv-1 ready again');
    await cluster.syncNetwork();
    expect(await resolve(client(), 'kv-headless')).toEqual([kv(0).address, kv(1).address].sort());
    expect(await whoManyFrom(client(), 'kv', KV_SERVICE_PORT)).toEqual(new Set(['kv-0', 'kv-1']));
  }));

  it('a frozen pod fails its probes by timeout and leaves the Service; thawed, it comes back', guard(async () => {
    // each failed probe may take its timeoutSeconds (2) on top of the period
    const frozenMs = PROBE_FAILURE_THRESHOLD * (PROBE_PERIOD_SECONDS + 2) * 1000 + 3000;
    kv(1).freeze();
    try {
      await waitUntil(() => !cluster.endpointsOf('kv').includes(kv(1)), frozenMs, 'frozen kv-1 unready');
      await cluster.syncNetwork();
      expect(await resolve(client(), 'kv-headless')).toEqual([kv(0).address]);
    } finally {
      kv(1).thaw();
    }
    await waitUntil(() => cluster.endpointsOf('kv').includes(kv(1)), READINESS_MS, 'thawed kv-1 ready');
    await cluster.syncNetwork();
    expect(await resolve(client(), 'kv-headless')).toEqual([kv(0).address, kv(1).address].sort());
  }));

  it('a Service with no ready endpoint refuses at once, as kube-proxy does', guard(async () => {
    await kv(0).kill('SIGKILL');
    await kv(1).kill('SIGKILL');
    try {
      await cluster.syncNetwork();
      expect(cluster.endpointsOf('kv')).toEqual([]);
      const t0 = Date.now();
      const r = await sh(client(), `redis-cli -h kv -p ${KV_SERVICE_PORT} PING`);
      expect(r.stdout + r.stderr).toMatch(/refused/i);
      expect(Date.now() - t0).toBeLessThan(1000);
      expect(await resolve(client(), 'kv-headless')).toEqual([]);
    } finally {
      await Promise.all([kv(0).start(), kv(1).start()]);
    }
    await waitUntil(() => cluster.endpointsOf('kv').length === 2, READINESS_MS * 2, 'kv pods ready after restart');
    for (const i of [0, 1]) {
      const c = await kv(i).connect(KV_PORT, { timeoutMs: 2000 });
      await c.command('SET', 'whoami', kv(i).name);
      c.close();
    }
    await cluster.syncNetwork();
  }));

  it('partition() drops traffic both ways, open connections included, while each side still talks; heal() restores', guard(async () => {
    // A RESP connection from the client to kv-0 opened before the cut: PING, wait for the go flag, PING again.
    // bash, for /dev/tcp
    const held = client().exec(['bash', '-c', `exec 3<>/dev/tcp/${kv(0).address}/${KV_PORT} || exit 3
       printf 'PING\\r\\n' >&3; IFS= read -r -t 2 a <&3 || a=none; echo "before:$a" > /e2e-net/flags/before
       i=0; while [ ! -e /e2e-net/flags/go ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done
       printf 'PING\\r\\n' >&3; IFS= read -r -t ${CUT_TIMEOUT_S + 1} b <&3 || b=none; echo "after:$b"`], { timeoutMs: 40_000 });
    await waitUntil(async () => (await sh(client(), 'cat /e2e-net/flags/before')).stdout.includes('before'), 5000, 'the held connection is open');
    expect((await sh(client(), 'cat /e2e-net/flags/before')).stdout.trim()).toBe('before:+PONG');

    const cut = await cluster.partition([kv(0)], [client(), kv(1)]);
    await sh(client(), 'touch /e2e-net/flags/go');
    expect((await held).stdout.trim()).toBe('after:none');

    // new connections, both directions
    expect(await whoFrom(client(), kv(0).address, KV_PORT)).toBe('');
    expect(await whoFrom(kv(0), kv(1).address, KV_PORT)).toBe('');
    // the same side still talks; kv-0 still reaches itself
    expect(await whoFrom(client(), kv(1).address, KV_PORT, REACH_TIMEOUT_S)).toBe('kv-1');
    expect(await whoFrom(kv(0), kv(0).address, KV_PORT, REACH_TIMEOUT_S)).toBe('kv-0');
    // through the VIP the client reaches kv-1, or nothing when kv-0 is picked (OUTPUT sees the DNATed address)
    const viaVip = await whoManyFrom(client(), 'kv', KV_SERVICE_PORT);
    expect(viaVip.has('kv-0')).toBe(false);
    expect(viaVip.has('kv-1')).toBe(true);
    // DNS lives outside the pods' groups and is never cut; the test process is not cut unless asked
    expect(await resolve(kv(0), 'kv-headless')).toEqual([kv(0).address, kv(1).address].sort());
    const direct = await kv(0).connect(KV_PORT, { timeoutMs: 2000 });
    expect(await direct.command('GET', 'whoami')).toBe('kv-0');
    direct.close();

    await cut.heal();
    expect(await whoFrom(client(), kv(0).address, KV_PORT, REACH_TIMEOUT_S)).toBe('kv-0');
    expect(await whoFrom(kv(0), kv(1).address, KV_PORT, REACH_TIMEOUT_S)).toBe('kv-1');
    expect(await whoManyFrom(client(), 'kv', KV_SERVICE_PORT)).toEqual(new Set(['kv-0', 'kv-1']));
  }));

  it("partition() can cut the test process ('test-client') too; healAll() heals everything", guard(async () => {
    const open = await kv(1).connect(KV_PORT, { timeoutMs: 2000 });
    try {
      expect(await open.command('PING')).toBe('PONG');
      await cluster.partition([kv(1)], ['test-client']);
      await cluster.partition([kv(0)], [client()]);
      await expect(open.commandWithTimeout(CUT_TIMEOUT_S * 1000, 'PING')).rejects.toThrow(/timed out/);
      await expect(RedisClient.connect(kv(1).address, KV_PORT, { timeoutMs: CUT_TIMEOUT_S * 1000 })).rejects.toThrow(/timed out/);
      expect(await whoFrom(client(), kv(0).address, KV_PORT)).toBe('');
      await cluster.healAll();
      expect(await whoFrom(client(), kv(0).address, KV_PORT, REACH_TIMEOUT_S)).toBe('kv-0');
      const again = await kv(1).connect(KV_PORT, { timeoutMs: 2000 });
      expect(await again.command('GET', 'whoami')).toBe('kv-1');
      again.close();
    } finally {
      open.close();
    }
  }));

  it('shutdown leaves no holder, namespace, veth or rule behind', async () => {
    const plan = cluster.network!.plan;
    expect(holders.length).toBe(cluster.pods.length + 1);
    await cluster.shutdown();
    await sleep(50);
    for (const pid of holders) expect(fs.existsSync(`/proc/${pid}`)).toBe(false);
    expect(cluster.leftovers()).toEqual([]);
    expect(liveGroups()).toEqual([]);
    // no process anywhere is still in one of the namespaces, so the kernel has freed them (bridge and veths with them)
    const inUse = new Set<string>();
    for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      try {
        inUse.add(fs.readlinkSync(`/proc/${pid}/ns/net`));
      } catch {
        /* gone or not ours to read */
      }
    }
    expect(namespaces.filter((ns) => inUse.has(ns))).toEqual([]);
    // the test process's namespace is back as it was: no veth, no table, no route into the harness ranges
    const links = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout;
    expect(links).not.toContain(plan.clientIface);
    expect(spawnSync('nft', ['list', 'tables'], { encoding: 'utf8' }).stdout).not.toContain(plan.table);
    expect(spawnSync('ip', ['route', 'get', kv(0).address], { encoding: 'utf8' }).status).not.toBe(0);
  });
});

describeNetns('e2e harness, network: netns, with the mini-redis fixture', () => {
  it('runs the fixture unchanged: Secret password, named targetPort, probes, Services by name from another pod', async () => {
    const cluster = new Cluster(miniRedisManifests(), { subnet: SUBNET + 1, name: 'netns-mini', network: 'netns', secrets: { [MINI_SECRET]: { password: MINI_PASSWORD } } });
    try {
      await cluster.start();
      await cluster.waitAllReady(15_000);
      const redis = cluster.pod('mini-redis-0');
      await waitUntil(() => cluster.endpointsOf('mini').length === 1, READINESS_MS, 'mini ready');
      await cluster.syncNetwork();
      const c = await cluster.connect('mini', 6379, { timeoutMs: 2000, password: MINI_PASSWORD });
      expect(await c.command('PING')).toBe('PONG');
      c.close();
      const aux = cluster.pod('mini-aux-0');
      const r = await aux.exec(['sh', '-c', `redis-cli -h mini -a ${MINI_PASSWORD} --no-auth-warning PING; getent hosts mini-headless mini-aux-svc`]);
      expect(r.stdout).toContain('PONG');
      expect(r.stdout).toContain(redis.address);
      expect(redis.logs()).toContain(`on 0.0.0.0 (pod mini-redis-0 in default, ip ${redis.address})`);
      expect(cluster.addressesOf('mini-aux-svc').sort()).toEqual(cluster.podsOf('mini-aux').map((p) => p.address).sort());
    } finally {
      await cluster.shutdown();
    }
    expect(cluster.leftovers()).toEqual([]);
    expect(liveGroups()).toEqual([]);
  });
});
