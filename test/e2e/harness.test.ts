/**
 * Tests of the e2e harness itself, with a hand-written manifest (no chart involved).
 */
import * as dns from 'dns';
import * as fs from 'fs';
import * as path from 'path';
import { ApiObject, Testing } from 'cdk8s';
import { Cluster, ExecResult, K8sObject, Pod, RedisClient, RedisError, Writer, inPrivateNetns, liveGroups, parseInfo, pidAlive, sleep, waitUntil } from './harness';
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
    // As kubelet lays out a configMap volume: each key a symlink into `..data`, which links the payload.
    const script = await pod().exec(['stat', '-L', '-c', '%a %u %g', '/e2e-mini/scripts/entrypoint.sh']);
    expect(script.stdout.trim()).toBe('755 0 999');
    expect((await pod().exec(['readlink', '/e2e-mini/scripts/entrypoint.sh'])).stdout.trim()).toBe('..data/entrypoint.sh');
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
    let killedAt: number;
    try {
      await waitUntil(() => w.acked.length > 50, 5000, 'writes before the crash');
      killAt = Date.now();
      await pod().kill('SIGKILL');
      killedAt = Date.now();
      await sleep(300);
      await pod().start();
      // A write sent after the kill completed and acknowledged (one sent just before it may be answered
      // after killAt, which firstAckAfter would take and stop the writer too early).
      await waitUntil(() => w.gapAfter(killAt, killedAt) !== undefined, 10_000, 'a write sent after the kill acknowledged after the restart');
    } finally {
      await w.stop();
    }
    // The first write sent once the kill completed: a write sent just before it may be answered in time.
    const gap = w.gapAfter(killAt, killedAt)!;
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

// ------------------------------------------------------------------ Cluster.reconcile()

/** Loopback and netns clusters of the reconcile tests (180-199 are otherwise unused). */
const RECONCILE_SUBNET = 186;
const RECONCILE_NETNS_SUBNET = 187;
/** What `kubectl apply --prune -l` selects: every object of the chart but those left unlabelled. */
const PART_OF = { 'e2e.harness/part-of': 'reconcile' };
const SHARD_LABEL = 'e2e.harness/shard';
const DRAINED = 'e2e.harness/drained';

interface ReconcileChart {
  /** Shard numbers: a Deployment running redis, its Service, PVC and PDB each. */
  shards?: number[];
  /** Shards annotated as drained (the admission policy lets those go). */
  drained?: number[];
  /** Replicas of every shard Deployment (default 1). */
  shardReplicas?: number;
  /** Replicas of the StatefulSet `rc-ss` (absent when undefined). */
  sts?: number;
  greeting?: string;
  /** Extra env on the base pod's template (a template change). */
  baseEnv?: string;
  /** Include the ValidatingAdmissionPolicies and their bindings. */
  policy?: boolean;
  /** The unlabelled ConfigMap `rc-keep` (never pruned). */
  keep?: boolean;
  /** Host directory where the shards' preStop hooks and SIGTERM traps leave marks. */
  marks?: string;
  servicePort?: number;
}

/** The big file of the ConfigMap: large enough that a non-atomic write could be seen half done. */
const bigFile = (greeting: string): string => `${greeting}\n`.repeat(20_000);

/** A small chart of the shape a sharded deployment grows and shrinks by, synthesized by cdk8s. */
function reconcileChart(o: ReconcileChart): K8sObject[] {
  const chart = Testing.chart();
  let n = 0;
  const add = (obj: K8sObject): void => void new ApiObject(chart, `o${n++}`, obj as any);
  const greeting = o.greeting ?? 'hello v1';
  const podIp = { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } };
  add({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'rc-config', labels: PART_OF }, data: { greeting, big: bigFile(greeting) } });
  if (o.keep) add({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'rc-keep' }, data: { x: 'y' } });
  add({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'rc-base', labels: PART_OF },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'rc-base' } },
      template: {
        metadata: { labels: { app: 'rc-base' } },
        spec: {
          terminationGracePeriodSeconds: 2,
          securityContext: { runAsUser: 1000, runAsGroup: 1000, fsGroup: 2000 },
          volumes: [
            { name: 'cfg', configMap: { name: 'rc-config', defaultMode: 0o444, items: [{ key: 'greeting', path: 'greeting' }, { key: 'big', path: 'sub/big.txt', mode: 0o440 }] } },
            { name: 'tmp', emptyDir: {} },
          ],
          containers: [{
            name: 'main',
            command: ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.2; done'],
            env: [
              { name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'rc-config', key: 'greeting' } } },
              ...(o.baseEnv ? [{ name: 'EXTRA', value: o.baseEnv }] : []),
            ],
            volumeMounts: [{ name: 'cfg', mountPath: '/e2e-rc/cfg' }, { name: 'tmp', mountPath: '/e2e-rc/tmp' }],
          }],
        },
      },
    },
  });
  for (const shard of o.shards ?? []) {
    const name = `rc-shard-${shard}`;
    const labels = { ...PART_OF, [SHARD_LABEL]: String(shard) };
    const annotations = o.drained?.includes(shard) ? { [DRAINED]: 'true' } : undefined;
    add({ apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: `${name}-data`, labels }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } });
    const server = 'redis-server --bind "$BIND_ADDRESS" --port 6379 --save "" --appendonly no --protected-mode no --dir /e2e-rc/data';
    add({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, labels, ...(annotations ? { annotations } : {}) },
      spec: {
        replicas: o.shardReplicas ?? 1,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: {
            terminationGracePeriodSeconds: 5,
            securityContext: { runAsUser: 999, runAsGroup: 999, fsGroup: 999 },
            volumes: [{ name: 'data', persistentVolumeClaim: { claimName: `${name}-data` } }, { name: 'marks', hostPath: { path: o.marks ?? '/nonexistent' } }],
            containers: [{
              name: 'redis',
              image: 'redis:7.0',
              // The shell stays the main process so that SIGTERM leaves a mark after the preStop hook's.
              command: ['sh', '-c', `${server} & pid=$!; trap 'echo term >> /e2e-rc/marks/$HOSTNAME; kill $pid; wait $pid; exit 0' TERM; wait $pid`],
              env: [{ name: 'BIND_ADDRESS', value: '0.0.0.0' }, podIp],
              ports: [{ name: 'redis', containerPort: 6379 }],
              readinessProbe: { exec: { command: ['sh', '-c', 'redis-cli -h "$POD_IP" ping | grep -q PONG'] }, periodSeconds: 1, timeoutSeconds: 2 },
              lifecycle: { preStop: { exec: { command: ['sh', '-c', 'echo prestop >> /e2e-rc/marks/$HOSTNAME'] } } },
              volumeMounts: [{ name: 'data', mountPath: '/e2e-rc/data' }, { name: 'marks', mountPath: '/e2e-rc/marks' }],
            }],
          },
        },
      },
    });
    add({ apiVersion: 'v1', kind: 'Service', metadata: { name, labels }, spec: { selector: { app: name }, ports: [{ name: 'redis', port: o.servicePort ?? 6379, targetPort: 'redis' }] } });
    add({ apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name, labels }, spec: { minAvailable: 1, selector: { matchLabels: { app: name } } } });
  }
  if (o.sts !== undefined) {
    add({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'rc-ss', labels: PART_OF }, spec: { clusterIP: 'None', selector: { app: 'rc-ss' }, ports: [{ port: 80 }] } });
    add({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'rc-ss', labels: PART_OF },
      spec: {
        replicas: o.sts,
        serviceName: 'rc-ss',
        selector: { matchLabels: { app: 'rc-ss' } },
        persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Delete', whenScaled: 'Delete' },
        volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
        template: {
          metadata: { labels: { app: 'rc-ss' } },
          spec: {
            terminationGracePeriodSeconds: 2,
            containers: [{ name: 'main', command: ['sh', '-c', 'hostname > /e2e-rc/data/who; trap "exit 0" TERM; while :; do sleep 0.2; done'], volumeMounts: [{ name: 'data', mountPath: '/e2e-rc/data' }] }],
          },
        },
      },
    });
  }
  if (o.policy) {
    // Shards go only once drained: deleting a Deployment or StatefulSet labelled as a shard needs the annotation.
    add({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: 'rc-drain-first' },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: { resourceRules: [{ apiGroups: ['apps'], apiVersions: ['v1'], operations: ['DELETE'], resources: ['deployments', 'statefulsets'] }] },
        matchConditions: [{ name: 'is-shard', expression: `has(oldObject.metadata.labels) && '${SHARD_LABEL}' in oldObject.metadata.labels` }],
        variables: [{ name: 'drained', expression: `has(oldObject.metadata.annotations) && '${DRAINED}' in oldObject.metadata.annotations && oldObject.metadata.annotations['${DRAINED}'] == 'true'` }],
        validations: [{
          expression: 'variables.drained',
          message: 'shard is not drained',
          messageExpression: `'shard ' + oldObject.metadata.name + ' still holds slots: annotate it ${DRAINED}=true first'`,
        }],
      },
    });
    add({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: 'rc-drain-first' },
      spec: { policyName: 'rc-drain-first', validationActions: ['Deny'], matchResources: { objectSelector: { matchLabels: PART_OF } } },
    });
    // And no shard of more than 3 pods, created or updated.
    add({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: 'rc-max-replicas' },
      spec: {
        matchConstraints: { resourceRules: [{ apiGroups: ['apps'], apiVersions: ['*'], operations: ['CREATE', 'UPDATE'], resources: ['deployments'] }] },
        validations: [{ expression: 'object.spec.replicas <= 3', message: 'a shard runs at most 3 pods' }],
      },
    });
    add({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: 'rc-max-replicas' },
      spec: { policyName: 'rc-max-replicas', validationActions: ['Deny'], matchResources: { objectSelector: { matchExpressions: [{ key: SHARD_LABEL, operator: 'Exists' }] } } },
    });
  }
  return Testing.synth(chart);
}

/** The test's host directory for marks, inside the cluster's work dir (removed with it). */
function marksDir(cluster: Cluster): string {
  const d = path.join(cluster.workDir, 'marks');
  fs.mkdirSync(d, { recursive: true });
  fs.chmodSync(d, 0o777);
  return d;
}

const sh = (pod: Pod, script: string, timeoutMs = 10_000): Promise<ExecResult> => pod.exec(['sh', '-c', script], { timeoutMs });

describe('Cluster.reconcile (kubectl apply --prune), loopback', () => {
  let cluster: Cluster;
  let marks: string;
  const base = (): Pod => cluster.pod('rc-base-0');
  const chart = (o: ReconcileChart): K8sObject[] => reconcileChart({ marks, ...o });
  const prune = { prune: PART_OF };
  const resolver = (): dns.promises.Resolver => {
    const r = new dns.promises.Resolver({ timeout: 1000, tries: 1 });
    r.setServers([cluster.nameserver]);
    return r;
  };
  const guard = (fn: () => Promise<void>) => (): Promise<void> => cluster.guard(fn)();

  beforeAll(async () => {
    cluster = new Cluster(reconcileChart({ keep: true }), { subnet: RECONCILE_SUBNET, name: 'reconcile', dns: true });
    marks = marksDir(cluster);
    await cluster.start();
    await cluster.waitAllReady(15_000);
  });

  afterAll(async () => {
    await cluster?.shutdown();
  });

  it('creates a Deployment, a StatefulSet, their Services, PVC and PDB: the pods start and answer by name', guard(async () => {
    const basePid = base().pid;
    const r = await cluster.reconcile(chart({ shards: [1], sts: 2 }), prune);
    expect(r.created.map((p) => p.name).sort()).toEqual(['rc-shard-1-0', 'rc-ss-0', 'rc-ss-1']);
    expect(r).toMatchObject({ deleted: [], replaced: [] });
    const shard = cluster.pod('rc-shard-1-0');
    expect(shard.running).toBe(true);
    expect(shard.address).toMatch(/^127\.186\.\d+\.1$/);
    expect(new Set(cluster.pods.map((p) => p.address)).size).toBe(cluster.pods.length);
    await Promise.all(r.created.map((p) => p.waitReady(15_000)));
    // As pods built at construction: hostname, user and fsGroup, the claim's directory, the claim template's.
    expect((await shard.exec(['hostname'])).stdout.trim()).toBe('rc-shard-1-0');
    expect(fs.readFileSync(`/proc/${shard.pid}/status`, 'utf8')).toMatch(/^Groups:\s+999\s*$/m);
    expect(fs.statSync(cluster.claimDir('rc-shard-1-data')).gid).toBe(999);
    // The pod writes it once started, asynchronously: awaited, with a bound.
    const who = path.join(cluster.claimDir('data-rc-ss-1'), 'who');
    expect(await waitUntil(() => fs.existsSync(who) && fs.readFileSync(who, 'utf8').trim(), 10_000, 'rc-ss-1 to write its hostname on its claim')).toBe('rc-ss-1');
    expect(cluster.object('PodDisruptionBudget', 'rc-shard-1')).toMatchObject({ spec: { minAvailable: 1 } });
    // Names: the running base pod's /etc/hosts, the DNS stand-in, and a connection by name from inside.
    expect((await base().exec(['getent', 'hosts', 'rc-shard-1'])).stdout.split(/\s+/)[0]).toBe(shard.address);
    expect((await base().exec(['getent', 'hosts', 'rc-ss-1.rc-ss'])).stdout.split(/\s+/)[0]).toBe(cluster.pod('rc-ss-1').address);
    expect(await resolver().resolve4('rc-shard-1.default.svc.cluster.local')).toEqual([shard.address]);
    expect(await resolver().resolve4('rc-ss-0.rc-ss.default.svc.cluster.local')).toEqual([cluster.pod('rc-ss-0').address]);
    expect((await sh(base(), 'redis-cli -h rc-shard-1 -p 6379 ping')).stdout.trim()).toBe('PONG');
    const c = await cluster.connect('rc-shard-1', 6379, { timeoutMs: 2000 });
    expect(await c.command('PING')).toBe('PONG');
    c.close();
    expect(base().pid).toBe(basePid);
  }));

  it('scales a StatefulSet down: the highest ordinal goes, and its claim (whenScaled: Delete)', guard(async () => {
    const gone = cluster.pod('rc-ss-1');
    const r = await cluster.reconcile(chart({ shards: [1], sts: 1 }), prune);
    expect(r).toMatchObject({ created: [], deleted: ['rc-ss-1'], replaced: [] });
    expect(gone.anyRunning).toBe(false);
    expect(cluster.pods.map((p) => p.name)).not.toContain('rc-ss-1');
    expect(fs.existsSync(cluster.claimDir('data-rc-ss-1'))).toBe(false);
    expect(fs.existsSync(cluster.claimDir('data-rc-ss-0'))).toBe(true);
    expect((await base().exec(['getent', 'hosts', 'rc-ss-1.rc-ss'])).code).not.toBe(0);
    await expect(resolver().resolve4('rc-ss-1.rc-ss.default.svc.cluster.local')).rejects.toMatchObject({ code: 'ENOTFOUND' });
  }));

  it("refreshes a running pod's mounted ConfigMap atomically; an open reader keeps the old content, env stays", guard(async () => {
    const pid = base().pid;
    const sum = async (): Promise<string> => (await sh(base(), 'cksum < /e2e-rc/cfg/sub/big.txt')).stdout.trim();
    const oldSum = await sum();
    const oldPayload = (await base().exec(['readlink', '/e2e-rc/cfg/..data'])).stdout.trim();
    // A reader that opened the old file, and one that reads the big file in one open() over and over.
    const reader = sh(base(), [
      'exec 3< /e2e-rc/cfg/greeting',
      'touch /e2e-rc/tmp/opened',
      'while [ ! -e /e2e-rc/tmp/go ]; do sleep 0.05; done',
      'echo "fd:$(cat <&3)"; echo "path:$(cat /e2e-rc/cfg/greeting)"; echo "env:$GREETING"',
    ].join('\n'), 30_000);
    const watcher = sh(base(), 'until [ -e /e2e-rc/tmp/go ]; do cksum < /e2e-rc/cfg/sub/big.txt; done; cksum < /e2e-rc/cfg/sub/big.txt', 30_000);
    await waitUntil(async () => (await base().exec(['test', '-e', '/e2e-rc/tmp/opened'])).code === 0, 5000, 'the reader to open the file');
    await sleep(200);
    const r = await cluster.reconcile(chart({ shards: [1], sts: 1, greeting: 'hello v2' }), prune);
    expect(r).toMatchObject({ created: [], deleted: [], replaced: [] });
    // Done by the time reconcile returns; items and modes as at the first mount; the old payload gone.
    expect((await base().exec(['cat', '/e2e-rc/cfg/greeting'])).stdout).toBe('hello v2');
    expect((await sh(base(), 'stat -L -c "%a %g" /e2e-rc/cfg/greeting /e2e-rc/cfg/sub/big.txt')).stdout.split('\n')).toEqual(['444 2000', '440 2000', '']);
    const entries = (await base().exec(['ls', '-A', '/e2e-rc/cfg'])).stdout.split('\n').filter(Boolean);
    const payload = (await base().exec(['readlink', '/e2e-rc/cfg/..data'])).stdout.trim();
    expect(payload).not.toBe(oldPayload);
    expect(entries.sort()).toEqual(['..data', payload, 'greeting', 'sub'].sort());
    const newSum = await sum();
    expect(newSum).not.toBe(oldSum);
    await base().exec(['touch', '/e2e-rc/tmp/go']);
    const read = await reader;
    expect(read.stdout.split('\n')).toEqual(['fd:hello v1', 'path:hello v2', 'env:hello v1', '']);
    const seen = new Set((await watcher).stdout.split('\n').filter(Boolean));
    expect([...seen].sort()).toEqual([oldSum, newSum].sort());
    expect(base().pid).toBe(pid);
    expect(base().unexpectedExits).toEqual([]);
  }));

  it('replaces the pods of a Deployment whose template changed, as rollout() does', guard(async () => {
    const pid = base().pid;
    const shardPid = cluster.pod('rc-shard-1-0').pid;
    const t0 = Date.now();
    const r = await cluster.reconcile(chart({ shards: [1], sts: 1, greeting: 'hello v2', baseEnv: 'x' }), prune);
    expect(r.created).toEqual([]);
    expect(r.deleted).toEqual([]);
    expect(r.replaced.map((x) => x.pod.name)).toEqual(['rc-base-0']);
    expect(r.replaced[0].stoppedAt).toBeGreaterThanOrEqual(t0);
    expect(r.replaced[0].startedAt).toBeGreaterThanOrEqual(r.replaced[0].stoppedAt);
    expect(base().pid).not.toBe(pid);
    expect((await sh(base(), 'echo "$EXTRA $GREETING"')).stdout.trim()).toBe('x hello v2');
    expect(cluster.pod('rc-shard-1-0').pid).toBe(shardPid);
  }));

  it("prune deletes a Deployment's pod as a pod deletion does (preStop, then SIGTERM), its Service, PVC and PDB", guard(async () => {
    const shard = cluster.pod('rc-shard-1-0');
    const pid = shard.pid!;
    const address = shard.address;
    const r = await cluster.reconcile(chart({ greeting: 'hello v2', baseEnv: 'x' }), prune);
    expect(r.deleted.sort()).toEqual(['rc-shard-1-0', 'rc-ss-0']);
    expect(r).toMatchObject({ created: [], replaced: [] });
    expect(fs.readFileSync(path.join(marks, 'rc-shard-1-0'), 'utf8')).toBe('prestop\nterm\n');
    expect(shard.main.exitCode).toBe(0);
    expect(pidAlive(pid)).toBe(false);
    expect(cluster.pods.map((p) => p.name)).toEqual(['rc-base-0']);
    expect(() => cluster.service('rc-shard-1')).toThrow(/no Service rc-shard-1/);
    expect(() => cluster.service('rc-ss')).toThrow(/no Service rc-ss/);
    expect(cluster.object('PodDisruptionBudget', 'rc-shard-1')).toBeUndefined();
    expect(cluster.object('Deployment', 'rc-shard-1')).toBeUndefined();
    // Claims: the PVC object's (pvc-protection let it go once its pod was gone), the StatefulSet's (whenDeleted: Delete).
    expect(fs.existsSync(cluster.claimDir('rc-shard-1-data'))).toBe(false);
    expect(fs.existsSync(cluster.claimDir('data-rc-ss-0'))).toBe(false);
    // Not labelled, so not pruned.
    expect(cluster.object('ConfigMap', 'rc-keep')).toBeDefined();
    expect((await base().exec(['getent', 'hosts', 'rc-shard-1'])).code).not.toBe(0);
    expect(fs.readFileSync(cluster.hostsFile(base()), 'utf8')).not.toContain(address);
    await expect(resolver().resolve4('rc-shard-1.default.svc.cluster.local')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    expect(cluster.unexpectedExits()).toEqual([]);
  }));

  it('a ValidatingAdmissionPolicy refuses pruning an undrained shard, changing nothing, and lets it go once annotated', guard(async () => {
    await cluster.reconcile(chart({ shards: [2], policy: true, greeting: 'hello v2', baseEnv: 'x' }), prune);
    const shard = cluster.pod('rc-shard-2-0');
    await shard.waitReady(15_000);
    const pid = shard.pid;
    const basePid = base().pid;
    const podNames = cluster.pods.map((p) => p.name);

    // Deleting the shard: refused with the policy's message (messageExpression), and nothing done:
    // not the Deployment's deletion, nor that of its Service, PVC and PDB, nor the ConfigMap's update.
    await expect(cluster.reconcile(chart({ policy: true, greeting: 'hello v3', baseEnv: 'x' }), prune)).rejects.toThrow(
      `deployments.apps "rc-shard-2" is forbidden: ValidatingAdmissionPolicy 'rc-drain-first' with binding 'rc-drain-first' denied request: shard rc-shard-2 still holds slots: annotate it ${DRAINED}=true first`,
    );
    expect(cluster.pods.map((p) => p.name)).toEqual(podNames);
    expect(shard.pid).toBe(pid);
    expect(shard.running).toBe(true);
    expect(base().pid).toBe(basePid);
    expect(cluster.service('rc-shard-2').pods).toEqual([shard]);
    for (const [kind, name] of [['Deployment', 'rc-shard-2'], ['PersistentVolumeClaim', 'rc-shard-2-data'], ['PodDisruptionBudget', 'rc-shard-2']]) {
      expect(cluster.object(kind, name)).toBeDefined();
    }
    expect(cluster.object('ConfigMap', 'rc-config')?.data.greeting).toBe('hello v2');
    expect((await base().exec(['cat', '/e2e-rc/cfg/greeting'])).stdout).toBe('hello v2');
    expect(await resolver().resolve4('rc-shard-2.default.svc.cluster.local')).toEqual([shard.address]);
    expect(fs.existsSync(path.join(marks, 'rc-shard-2-0'))).toBe(false);

    // The other policy checks CREATE and UPDATE: a shard of 4 pods is refused, and nothing is created.
    const refusal = await cluster.reconcile(chart({ shards: [2, 3], shardReplicas: 4, policy: true, greeting: 'hello v2', baseEnv: 'x' }), prune).then(
      () => new Error('not refused'),
      (e: Error) => e,
    );
    for (const name of ['rc-shard-2', 'rc-shard-3']) {
      expect(refusal.message).toContain(`deployments.apps "${name}" is forbidden: ValidatingAdmissionPolicy 'rc-max-replicas' with binding 'rc-max-replicas' denied request: a shard runs at most 3 pods`);
    }
    expect(cluster.podsOf('rc-shard-3')).toEqual([]);
    expect(cluster.object('Deployment', 'rc-shard-3')).toBeUndefined();

    // Annotated (an UPDATE of the Deployment's metadata only: its pod stays), then pruned.
    const annotated = await cluster.reconcile(chart({ shards: [2], drained: [2], policy: true, greeting: 'hello v2', baseEnv: 'x' }), prune);
    expect(annotated).toMatchObject({ created: [], deleted: [], replaced: [] });
    expect(shard.pid).toBe(pid);
    const r = await cluster.reconcile(chart({ policy: true, greeting: 'hello v2', baseEnv: 'x' }), prune);
    expect(r.deleted).toEqual(['rc-shard-2-0']);
    expect(fs.readFileSync(path.join(marks, 'rc-shard-2-0'), 'utf8')).toBe('prestop\nterm\n');
    expect(cluster.pods.map((p) => p.name)).toEqual(['rc-base-0']);
  }));

  it('shutdown after reconciles leaves no process alive and removes the work dir', async () => {
    const workDir = cluster.workDir;
    await cluster.shutdown();
    await sleep(50);
    expect(cluster.leftovers()).toEqual([]);
    expect(liveGroups()).toEqual([]);
    expect(fs.existsSync('/e2e-rc')).toBe(false);
    if (process.env.KEEP_E2E !== '1') expect(fs.existsSync(workDir)).toBe(false);
  });
});

// Outside a private network namespace the harness refuses netns mode: skip, unless E2E_REQUIRE_NETNS=1 asks to fail instead.
const reconcileNetns = inPrivateNetns() || process.env.E2E_REQUIRE_NETNS === '1';
if (!reconcileNetns) console.warn('harness.test.ts: netns reconcile tests skipped; run them under `unshare -n` (see test/e2e/network.test.ts)');

(reconcileNetns ? describe : describe.skip)('Cluster.reconcile, network: netns', () => {
  let cluster: Cluster;
  let marks: string;
  const base = (): Pod => cluster.pod('rc-base-0');
  const SERVICE_PORT = 7001;
  const chart = (o: ReconcileChart): K8sObject[] => reconcileChart({ marks, servicePort: SERVICE_PORT, ...o });
  const resolveIn = async (pod: Pod, name: string): Promise<string[]> =>
    (await pod.exec(['getent', 'ahostsv4', name])).stdout.split('\n').filter((l) => l.includes('STREAM')).map((l) => l.split(/\s+/)[0]);

  beforeAll(async () => {
    cluster = new Cluster(reconcileChart({}), { subnet: RECONCILE_NETNS_SUBNET, name: 'reconcile-netns', network: 'netns' });
    marks = marksDir(cluster);
    await cluster.start();
    await cluster.waitAllReady(15_000);
  });

  afterAll(async () => {
    await cluster?.shutdown();
  });

  it('a new Deployment gets a namespace, its new Service a VIP, DNS and rules; prune takes them all away', async () => cluster.guard(async () => {
    const holdersBefore = cluster.network!.holderPids();
    const r = await cluster.reconcile(chart({ shards: [1] }), { prune: PART_OF });
    const shard = cluster.pod('rc-shard-1-0');
    expect(r.created).toEqual([shard]);
    expect(shard.address).toMatch(/^10\.244\.187\.\d+$/);
    const svc = cluster.service('rc-shard-1');
    const vip = cluster.network!.vipOf(svc)!;
    expect(vip).toMatch(/^10\.96\.187\.\d+$/);
    const holders = cluster.network!.holderPids();
    expect(holders.length).toBe(holdersBefore.length + 1);
    // The new pod's own stack: its address on eth0, only the pod and VIP ranges routed.
    expect((await shard.exec(['ip', '-4', '-o', 'addr', 'show', 'eth0'])).stdout).toContain(`${shard.address}/24`);
    // DNS answers the VIP at once; the VIP sends to the pod once its readiness probe passes.
    expect(await resolveIn(base(), 'rc-shard-1')).toEqual([vip]);
    await waitUntil(() => cluster.endpointsOf('rc-shard-1').includes(shard), 15_000, 'the shard to become an endpoint');
    await cluster.syncNetwork();
    expect((await sh(base(), `redis-cli -h rc-shard-1 -p ${SERVICE_PORT} ping`)).stdout.trim()).toBe('PONG');
    const c = await cluster.connect('rc-shard-1', SERVICE_PORT, { timeoutMs: 2000 });
    expect(await c.command('PING')).toBe('PONG');
    c.close();

    const gone = await cluster.reconcile(chart({}), { prune: PART_OF });
    expect(gone.deleted).toEqual(['rc-shard-1-0']);
    expect(fs.readFileSync(path.join(marks, 'rc-shard-1-0'), 'utf8')).toBe('prestop\nterm\n');
    expect(cluster.network!.vipOf(svc)).toBeUndefined();
    expect(await resolveIn(base(), 'rc-shard-1')).toEqual([]);
    // The VIP is refused now (no rule sends it anywhere), and the pod's namespace holder is gone.
    const refused = await sh(base(), `timeout 2 redis-cli -h ${vip} -p ${SERVICE_PORT} ping`);
    expect(refused.stdout).not.toContain('PONG');
    expect(cluster.network!.holderPids().sort()).toEqual(holdersBefore.sort());
    const removedHolder = holders.find((h) => !holdersBefore.includes(h))!;
    await waitUntil(() => !pidAlive(removedHolder), 5000, 'the holder to exit');
  })());

  it('shutdown leaves nothing behind', async () => {
    await cluster.shutdown();
    await sleep(50);
    expect(cluster.leftovers()).toEqual([]);
    expect(liveGroups()).toEqual([]);
  });
});
