import { spawnSync } from 'child_process';
import { join } from 'path';
import { Chart, Size, Testing } from 'cdk8s';
import { Persistence, RedisAuth, RedisCluster, RedisClusterProps, RedisTls } from '../src';
import { synthRedisHa } from './util/synth';

/**
 * The Kubernetes releases whose OpenAPI schemas every object is checked against: the oldest the
 * README says the chart supports, and a current one. The chart writes its objects itself, with the
 * hand-written subset of the API in src/k8s-api.ts; these schemas are what prove those types produce
 * valid objects. Each is a kubernetes-models release (a devDependency, the newer under an alias),
 * which carries those schemas as validators.
 */
const RELEASES = [
  // Kubernetes 1.27: container resizePolicy, no sidecar restartPolicy. No ValidatingAdmissionPolicy
  // in admissionregistration.k8s.io/v1 (1.30): RedisCluster's scale-in guard is off there.
  { kubernetes: '1.27', models: 'kubernetes-models', scaleInGuard: false },
  // Kubernetes 1.34: pod hostnameOverride, env fileKeyRef, container restartPolicyRules.
  { kubernetes: '1.34', models: 'kubernetes-models-1.34', scaleInGuard: true },
];

/** Each object's kind, name and the schema's complaint (null when it validates), from validate-k8s.mjs. */
function validate(models: string, objects: any[]): Array<{ kind: string; name: string; error: string | null }> {
  const r = spawnSync(process.execPath, [join(__dirname, 'util', 'validate-k8s.mjs'), models], {
    cwd: __dirname, input: JSON.stringify(objects), encoding: 'utf8', timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`validate-k8s.mjs ${models}: ${r.error ?? `exit ${r.status}`}\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

function synthRedisCluster(props: RedisClusterProps): any[] {
  const chart: Chart = Testing.chart();
  new RedisCluster(chart, 'cache', props);
  return Testing.synth(chart);
}

const CHARTS: Array<[string, object]> = [
  ['the default chart', {}],
  ['5 sentinels, auth, hostPath', {
    sentinel: { sentinels: 5, persistence: Persistence.hostPath({ directory: '/srv/redis' }) },
    redis: { persistence: Persistence.hostPath({ directory: '/srv/redis' }) },
    auth: RedisAuth.fromSecret('redis-auth', 'password'),
    networkPolicy: { clientLabels: { 'redis-client': 'true' }, clientNamespaceLabels: { 'kubernetes.io/metadata.name': 'web' } },
  }],
  ['TLS, metrics, read replicas', { tls: RedisTls.fromSecret('redis-tls'), metrics: {}, proxy: { readReplicas: true } }],
];

const CLUSTER_CHARTS: Array<[string, RedisClusterProps]> = [
  ['the default RedisCluster', {}],
  ['a RedisCluster with auth, TLS, metrics, a network policy and 512Mi claims', {
    auth: RedisAuth.fromSecret('cache-auth', 'password'), tls: RedisTls.fromSecret('cache-tls'), metrics: {}, persistence: Persistence.claim({ size: Size.mebibytes(512) }),
    networkPolicy: { clientLabels: { 'cache-client': 'true' }, clientNamespaceLabels: {} },
  }],
  ['a RedisCluster draining 2 of 5 shards', { shards: 5, drainedShards: 2 }],
];

describe.each(RELEASES)('every synthesized object validates against the Kubernetes $kubernetes OpenAPI schema', ({ models, scaleInGuard }) => {
  test('(the check rejects an object the schema does not allow)', () => {
    const [result] = validate(models, [{ apiVersion: 'v1', kind: 'Service', metadata: { name: 'x' }, spec: { ports: [{ port: 'redis' }] } }]);
    expect(result.error).toMatch(/port must be integer/);
  });

  test.each(CHARTS)('%s', (_, props) => {
    const { objects } = synthRedisHa(props);
    const kinds = new Set(objects.map((o) => `${o.apiVersion}/${o.kind}`));
    expect([...kinds].sort()).toEqual(expect.arrayContaining(['apps/v1/Deployment', 'v1/ConfigMap', 'v1/PersistentVolumeClaim', 'v1/Service']));
    const results = validate(models, objects);
    expect(results).toHaveLength(objects.length);
    expect(results.filter((r) => r.error !== null)).toEqual([]);
  });

  test.each(CLUSTER_CHARTS)('%s', (_, props) => {
    const objects = synthRedisCluster({ ...props, scaleInGuard });
    expect(objects.some((o) => o.kind === 'ValidatingAdmissionPolicy')).toBe(scaleInGuard);
    const results = validate(models, objects);
    expect(results).toHaveLength(objects.length);
    expect(results.filter((r) => r.error !== null)).toEqual([]);
  });
});
