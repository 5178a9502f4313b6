import { Duration, Size, Testing } from 'cdk8s';
import {
  PodSettings, PodVolume, RedisCluster, RedisClusterProps, RedisHaProps, RedisTls, TaintEffect, Toleration,
} from '../src';
import { component, ofKind, synthRedisHa } from './util/synth';

const SETTINGS: PodSettings = {
  nodeSelector: { 'node-pool': 'redis' },
  tolerations: [
    Toleration.equal('dedicated', 'redis', { effect: TaintEffect.NO_SCHEDULE }),
    Toleration.exists('node.kubernetes.io/unreachable', { effect: TaintEffect.NO_EXECUTE, tolerationSeconds: Duration.seconds(30) }),
  ],
  priorityClassName: 'data-critical',
  imagePullSecrets: ['registry-creds'],
  annotations: { 'backup.example.com/schedule': 'nightly' },
  labels: { team: 'platform' },
  env: { TZ: 'UTC' },
  mounts: [{ path: '/etc/extra', volume: PodVolume.fromConfigMap('extra', 'redis-extra') }],
  sidecars: [{
    name: 'log-shipper', image: 'fluent/fluent-bit:3.2.10', args: ['-c', '/etc/fluent/fluent.conf'],
    env: { LEVEL: 'info' },
    mounts: [
      { path: '/etc/fluent', volume: PodVolume.fromSecret('fluent', 'fluent-config') },
      { path: '/buffer', volume: PodVolume.emptyDir('buffer', Size.mebibytes(64)), readOnly: false },
      { path: '/etc/extra', volume: PodVolume.fromConfigMap('extra', 'redis-extra') },
    ],
  }],
};

function synthCluster(props: RedisClusterProps = {}): any[] {
  const chart = Testing.chart();
  new RedisCluster(chart, 'cache', props);
  return Testing.synth(chart);
}

const deploymentsOf = (objects: any[]) => ofKind(objects, 'Deployment');
const podSpec = (d: any) => d.spec.template.spec;
const containerNames = (d: any) => podSpec(d).containers.map((c: any) => c.name);

describe.each([
  ['RedisHa', (pods?: PodSettings) => synthRedisHa({ pods }).objects, ['redis']],
  ['RedisCluster', (pods?: PodSettings) => synthCluster({ pods }), ['redis']],
])('%s pods', (_, synth, serverComponents) => {
  test('every pod gets the scheduling settings, the registry credentials, and the labels and annotations', () => {
    const deployments = deploymentsOf(synth(SETTINGS));
    expect(deployments.length).toBeGreaterThanOrEqual(6);
    for (const d of deployments) {
      expect(podSpec(d).nodeSelector).toEqual({ 'node-pool': 'redis' });
      expect(podSpec(d).tolerations).toEqual([
        { key: 'dedicated', operator: 'Equal', value: 'redis', effect: 'NoSchedule' },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 },
      ]);
      expect(podSpec(d).priorityClassName).toBe('data-critical');
      expect(podSpec(d).imagePullSecrets).toEqual([{ name: 'registry-creds' }]);
      expect(d.spec.template.metadata.labels).toMatchObject({ team: 'platform' });
      expect(d.spec.template.metadata.annotations).toMatchObject({ 'backup.example.com/schedule': 'nightly' });
      // The user's label is on the pods, not in the selector: a later change of it replaces pods, never orphans them.
      expect(d.spec.selector.matchLabels).not.toHaveProperty('team');
    }
  });

  test('the server pods get the env, the mounts and the sidecar, under the restricted security context; the others do not', () => {
    const deployments = deploymentsOf(synth(SETTINGS));
    const servers = deployments.filter((d) => serverComponents.includes(component(d)));
    expect(servers.length).toBeGreaterThanOrEqual(3);
    for (const d of deployments) {
      const server = servers.includes(d);
      const main = podSpec(d).containers[0];
      expect(main.env.some((e: any) => e.name === 'TZ' && e.value === 'UTC')).toBe(server);
      expect(containerNames(d).includes('log-shipper')).toBe(server);
      if (!server) continue;
      expect(main.volumeMounts).toContainEqual({ name: 'extra', mountPath: '/etc/extra', readOnly: true });
      const sidecar = podSpec(d).containers.find((c: any) => c.name === 'log-shipper');
      expect(sidecar).toMatchObject({
        image: 'fluent/fluent-bit:3.2.10', args: ['-c', '/etc/fluent/fluent.conf'], env: [{ name: 'LEVEL', value: 'info' }],
        resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '100m', memory: '128Mi' } },
        securityContext: { runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
      });
      expect(sidecar.securityContext.runAsUser).toBe(main.securityContext.runAsUser);
      expect(sidecar.volumeMounts).toEqual([
        { name: 'fluent', mountPath: '/etc/fluent', readOnly: true },
        { name: 'buffer', mountPath: '/buffer', readOnly: false },
        { name: 'extra', mountPath: '/etc/extra', readOnly: true },
      ]);
      // A volume mounted by two containers is in the pod once.
      const volumes = podSpec(d).volumes.map((v: any) => v.name);
      expect(volumes.filter((n: string) => n === 'extra')).toHaveLength(1);
      expect(podSpec(d).volumes).toEqual(expect.arrayContaining([
        { name: 'fluent', secret: { secretName: 'fluent-config', defaultMode: 0o440 } },
        { name: 'buffer', emptyDir: { medium: '', sizeLimit: '64Mi' } },
        { name: 'extra', configMap: { name: 'redis-extra', defaultMode: 0o444 } },
      ]));
    }
  });

  test('without pods settings, the pods have none of them', () => {
    for (const d of deploymentsOf(synth())) {
      for (const key of ['nodeSelector', 'tolerations', 'priorityClassName', 'imagePullSecrets']) expect(podSpec(d)).not.toHaveProperty(key);
    }
  });
});

describe('bad pod settings fail at synth, naming the prop, the value and what is allowed', () => {
  const cases: Array<[string, PodSettings, RegExp]> = [
    ['a nodeSelector key is not a label key', { nodeSelector: { 'bad key': 'x' } }, /test\/cache: pods\.nodeSelector key \("bad key"\) must be a label key/],
    ['a toleration key is not a label key', { tolerations: [Toleration.exists('a b')] }, /pods\.tolerations\[0\] key \("a b"\) must be a label key/],
    ['a toleration value is not a label value', { tolerations: [Toleration.equal('k', 'a b')] }, /pods\.tolerations\[0\] value \("a b"\) must be a label value/],
    ['tolerationSeconds comes without NoExecute', { tolerations: [Toleration.exists('k', { effect: TaintEffect.NO_SCHEDULE, tolerationSeconds: Duration.seconds(5) })] }, /pods\.tolerations\[0\] tolerationSeconds \("5 seconds"\) is allowed only with the NoExecute effect/],
    ['the priority class is not a DNS name', { priorityClassName: 'Critical!' }, /pods\.priorityClassName \("Critical!"\) must be a DNS subdomain/],
    ['a pull secret is not a DNS name', { imagePullSecrets: ['Creds'] }, /pods\.imagePullSecrets\[0\] \("Creds"\) must be a DNS subdomain/],
    ['a label is the chart\'s own', { labels: { 'app.kubernetes.io/name': 'x' } }, /pods\.labels key \("app\.kubernetes\.io\/name"\) is set by the chart \(app\.kubernetes\.io\/\*\)/],
    ['a label value is too long', { labels: { team: 'x'.repeat(64) } }, /pods\.labels\["team"\] \("x{64}"\) must be a label value/],
    ['an annotation is the chart\'s own', { annotations: { 'redis-ha.cdk8s.io/config-hash': 'x' } }, /pods\.annotations key \("redis-ha\.cdk8s\.io\/config-hash"\) is set by the chart/],
    ['an env name is not one', { env: { '1X': 'y' } }, /pods\.env name \("1X"\) must be an environment variable name/],
    ['a mount path is relative', { mounts: [{ path: 'etc/x', volume: PodVolume.fromSecret('x', 'x') }] }, /pods\.mounts\[0\]\.path \("etc\/x"\) must be an absolute path/],
    ['a path is mounted twice', { mounts: [{ path: '/x', volume: PodVolume.fromSecret('a', 'a') }, { path: '/x', volume: PodVolume.fromSecret('b', 'b') }] }, /pods\.mounts\[1\]\.path \("\/x"\) is mounted twice/],
    ['a volume name is not a DNS label', { mounts: [{ path: '/x', volume: PodVolume.fromSecret('X_1', 'x') }] }, /pods\.mounts\[0\]\.volume\.name \("X_1"\) must be a DNS label/],
    ['an emptyDir has no whole size', { mounts: [{ path: '/x', volume: PodVolume.emptyDir('x', Size.kibibytes(0.5)) }] }, /pods\.mounts\[0\]\.volume sizeLimit .* must be a positive whole number of kibibytes/],
    ['a sidecar image is not pinned', { sidecars: [{ name: 's', image: 'busybox' }] }, /pods\.sidecars\[0\]\.image \("busybox"\) must be pinned/],
    ['two sidecars share a name', { sidecars: [{ name: 's', image: 'busybox:1.37' }, { name: 's', image: 'busybox:1.37' }] }, /pods\.sidecars\[1\]\.name \("s"\) is the name of another sidecar/],
    ['a sidecar runs as root', { sidecars: [{ name: 's', image: 'busybox:1.37', uid: 0 }] }, /pods\.sidecars\[0\]\.uid \(0\) must be an integer at least 1/],
    ['a sidecar\'s request is above its limit', { sidecars: [{ name: 's', image: 'busybox:1.37', resources: { cpuRequestMillis: 500 } }] }, /pods\.sidecars\[0\]\.resources\.cpuRequestMillis \(500\) must not be above the CPU limit \(100/],
  ];
  test.each(cases)('fails when %s', (_, pods, message) => {
    expect(() => synthCluster({ pods })).toThrow(message);
  });

  // Found once the pod is complete: names the chart uses itself.
  const clashes: Array<[string, RedisHaProps['pods'], RegExp]> = [
    ['an env variable is the chart\'s own', { env: { REDIS_PORT: '1' } }, /test\/redis: pods\.env \("REDIS_PORT"\) is set by the chart in the server container/],
    ['a mount overlaps the chart\'s', { mounts: [{ path: '/data', volume: PodVolume.fromSecret('x', 'x') }] }, /pods\.mounts\[0\]\.path \("\/data"\) overlaps the chart's mount at \/data/],
    ['a volume takes the name of the chart\'s', { mounts: [{ path: '/x', volume: PodVolume.fromSecret('config', 'x') }] }, /pods volume name \("config"\) is the name of a volume of the chart/],
    ['two volumes share a name', { mounts: [{ path: '/x', volume: PodVolume.fromSecret('v', 'a') }, { path: '/y', volume: PodVolume.fromSecret('v', 'b') }] }, /pods volume name \("v"\) names two different volumes/],
    ['a sidecar takes the name of the exporter', { sidecars: [{ name: 'exporter', image: 'busybox:1.37' }] }, /pods\.sidecars\[0\]\.name \("exporter"\) is the name of a container of the chart \(redis, exporter\)/],
  ];
  test.each(clashes)('fails when %s', (_, pods, message) => {
    const env = pods?.env ? Object.keys(pods.env)[0] : undefined;
    const chartEnv = env ? deploymentsOf(synthRedisHa({}).objects).filter((d) => component(d) === 'redis')[0].spec.template.spec.containers[0].env.map((e: any) => e.name) : [];
    if (env) expect(chartEnv).toContain(env);
    expect(() => synthRedisHa({ pods, metrics: {}, tls: RedisTls.fromSecret('tls') })).toThrow(message);
  });
});
