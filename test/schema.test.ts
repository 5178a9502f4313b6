import { spawnSync } from 'child_process';
import { join } from 'path';
import { Chart, Duration, Size, Testing } from 'cdk8s';
import { Persistence, PodSettings, PodVolume, RedisAuth, RedisCluster, RedisClusterProps, RedisTls, TaintEffect, Toleration } from '../src';
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

/** Every pod setting, as a user would write them. */
const POD_SETTINGS: PodSettings = {
  nodeSelector: { 'node-pool': 'redis' },
  tolerations: [
    Toleration.equal('dedicated', 'redis', { effect: TaintEffect.NO_SCHEDULE }),
    Toleration.any({ effect: TaintEffect.NO_EXECUTE, tolerationSeconds: Duration.seconds(30) }),
  ],
  priorityClassName: 'data-critical',
  imagePullSecrets: ['registry-creds'],
  annotations: { 'example.com/owner': 'platform team' },
  labels: { team: 'platform' },
  env: { TZ: 'UTC' },
  mounts: [{ path: '/etc/extra', volume: PodVolume.fromConfigMap('extra', 'redis-extra') }],
  sidecars: [{
    name: 'log-shipper', image: 'fluent/fluent-bit:3.2.10', command: ['/fluent-bit/bin/fluent-bit'], args: ['-c', '/etc/fluent/fluent.conf'],
    env: { LEVEL: 'info' }, resources: { memoryLimit: Size.mebibytes(64) }, uid: 1000,
    mounts: [
      { path: '/etc/fluent', volume: PodVolume.fromSecret('fluent', 'fluent-config') },
      { path: '/buffer', volume: PodVolume.emptyDir('buffer', Size.mebibytes(64)), readOnly: false },
    ],
  }],
};

const CHARTS: Array<[string, object]> = [
  ['the default chart', {}],
  ['5 sentinels, auth, hostPath', {
    sentinel: { sentinels: 5, persistence: Persistence.hostPath({ directory: '/srv/redis' }) },
    redis: { persistence: Persistence.hostPath({ directory: '/srv/redis' }) },
    auth: RedisAuth.fromSecret('redis-auth', 'password'),
    networkPolicy: { clientLabels: { 'redis-client': 'true' }, clientNamespaceLabels: { 'kubernetes.io/metadata.name': 'web' } },
  }],
  ['TLS, metrics, read replicas', { tls: RedisTls.fromSecret('redis-tls'), metrics: {}, proxy: { readReplicas: true } }],
  ['every pod setting', { pods: POD_SETTINGS, metrics: {} }],
];

const CLUSTER_CHARTS: Array<[string, RedisClusterProps]> = [
  ['the default RedisCluster', {}],
  ['a RedisCluster with auth, TLS, metrics, a network policy and 512Mi claims', {
    auth: RedisAuth.fromSecret('cache-auth', 'password'), tls: RedisTls.fromSecret('cache-tls'), metrics: {}, persistence: Persistence.claim({ size: Size.mebibytes(512) }),
    networkPolicy: { clientLabels: { 'cache-client': 'true' }, clientNamespaceLabels: {} },
  }],
  ['a RedisCluster draining 2 of 5 shards', { shards: 5, drainedShards: 2 }],
  ['a RedisCluster with every pod setting', { pods: POD_SETTINGS }],
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
