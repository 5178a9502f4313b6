import { Chart, Duration, Testing } from 'cdk8s';
import { Construct } from 'constructs';
import { IRedisInstance, ISentinelCluster, RedisAuth, RedisEngine, RedisInstance, SentinelCluster, SentinelProxy, SentinelProxyOptions } from '../src';
import { component, envOf, ofKind } from './util/synth';
import { belowRegex } from '../src/sentinel/haproxy-config';

function build(options: SentinelProxyOptions = {}, auth?: RedisAuth, sentinels = 3, clusterDomain?: string) {
  const chart = Testing.chart();
  const master = new RedisInstance(chart, 'R1', { auth, clusterDomain });
  const replica = new RedisInstance(chart, 'R2', { auth, replicaOf: master, clusterDomain });
  const cluster = new SentinelCluster(chart, 'Sentinels', { sentinels, instances: [master, replica] });
  const proxy = new SentinelProxy(chart, 'Proxy', { ...options, sentinels: cluster });
  const objects = Testing.synth(chart);
  const deployment = ofKind(objects, 'Deployment').find((d) => component(d) === 'proxy');
  const cfg: string = ofKind(objects, 'ConfigMap').find((c) => c.data['haproxy.cfg']).data['haproxy.cfg'];
  return { proxy, cluster, master, replica, objects, deployment, cfg };
}

describe('SentinelProxy', () => {
  test('loads a quorum guard that knows the quorum and every Redis server', () => {
    const { objects, cfg } = build({}, undefined, 5);
    const data = ofKind(objects, 'ConfigMap').find((c) => c.data['haproxy.cfg']).data;
    expect(cfg).toContain('lua-load /usr/local/etc/haproxy/quorum-guard.lua\n');
    expect(data['quorum-guard.lua']).toContain('local quorum = 3\n');
    expect(data['quorum-guard.lua']).toContain('local servers = { "redis-0", "redis-1" }\n');
  });

  test('routes by sentinels of your own (an ISentinelCluster) to the Redis servers they monitor', () => {
    const chart = new Chart(Testing.app(), 'c', { namespace: 'cache' });
    const redis = (id: string, host: string): IRedisInstance => Object.assign(new Construct(chart, id), { host, port: 6379, clusterDomain: 'cluster.local', engine: RedisEngine.valkey() });
    class ExistingSentinels extends Construct implements ISentinelCluster {
      public readonly host = 'sentinels';
      public readonly port = 26379;
      public readonly masterName = 'legacy';
      public readonly quorum = 2;
      public readonly instances = [redis('A', 'redis-a'), redis('B', 'redis-b')];
      public readonly sentinelHosts = ['sentinel-a', 'sentinel-b', 'sentinel-c'];
      public readonly clusterDomain = 'cluster.local';
      public readonly groupLabels = { 'app.kubernetes.io/instance': 'legacy' };
    }
    const proxy = new SentinelProxy(chart, 'Proxy', { sentinels: new ExistingSentinels(chart, 'Sentinels') });
    const objects = Testing.synth(chart);
    const cfg: string = ofKind(objects, 'ConfigMap')[0].data['haproxy.cfg'];
    for (const host of ['redis-a', 'redis-b', 'sentinel-a', 'sentinel-b', 'sentinel-c']) expect(cfg).toContain(`${host}.cache.svc.cluster.local:`);
    expect(cfg).toContain('SENTINEL MASTER legacy');
    expect(proxy.selectorLabels).toEqual({ 'app.kubernetes.io/instance': 'legacy', 'app.kubernetes.io/component': 'proxy' });
  });

  test('defaults: 2 HAProxy pods behind a headless Service on 6379', () => {
    const { proxy, objects, deployment } = build();
    expect(deployment.spec.replicas).toBe(2);
    const container = deployment.spec.template.spec.containers[0];
    expect(container.image).toBe('haproxy:3.0.27');
    expect(container.command).toEqual(['haproxy', '-W', '-db', '-f', '/usr/local/etc/haproxy/haproxy.cfg']);
    expect(container.ports).toEqual([{ containerPort: 6379, name: 'redis' }, { containerPort: 8404, name: 'health' }]);
    expect(container.readinessProbe.httpGet).toMatchObject({ path: '/ready', port: 8404 });
    expect(container.livenessProbe.httpGet).toMatchObject({ path: '/healthz', port: 8404 });
    expect(container.securityContext).toMatchObject({ runAsUser: 99, runAsNonRoot: true, readOnlyRootFilesystem: true });
    expect(envOf(deployment).POD_NAMESPACE).toEqual({ fieldRef: { fieldPath: 'metadata.namespace' } });
    const service = ofKind(objects, 'Service').find((s) => s.metadata.name === proxy.host);
    expect(service.spec.clusterIP).toBe('None');
    expect(service.spec.ports).toEqual([{ name: 'redis', port: 6379, targetPort: 6379 }]);
    expect(Object.entries(service.spec.selector).every(([k, v]) => deployment.spec.template.metadata.labels[k] === v)).toBe(true);
    expect(proxy.port).toBe(6379);
  });

  test('checks every instance through every sentinel with the cluster quorum', () => {
    const { cfg, master, replica } = build({}, undefined, 5);
    expect(cfg).toContain('nbsrv(sentinels-name-redis-0) ge 3');
    expect(cfg).toContain(`"\\r\\n${master.host}.\${POD_NAMESPACE}.svc.cluster.local\\r\\n`);
    expect(cfg).toContain(`"\\r\\n${replica.host}.\${POD_NAMESPACE}.svc.cluster.local\\r\\n`);
    expect(cfg.match(/last-ok-ping-reply/g)).toHaveLength(2);
    expect(cfg.match(/server sentinel-\d/g)).toHaveLength(10);
    expect(cfg).toContain(`server redis-0 "${master.host}.\${POD_NAMESPACE}.svc.cluster.local:6379"`);
  });

  test('fenceAfter: rendered into the sentinel checks; below 1.5 s fails at synth', () => {
    expect(build({ fenceAfter: Duration.millis(1800) }).cfg).toContain(belowRegex(1800));
    expect(build({}).cfg).toContain(belowRegex(2000));
    expect(() => build({ fenceAfter: Duration.millis(1000) })).toThrow(/fenceAfter.*1000ms.*at least 1500ms/s);
  });

  test('fenceAfter: at most the sentinels\' downAfter; by default 2 s, or downAfter when shorter', () => {
    const at = (downAfterMs: number, fenceAfter?: Duration) => {
      const chart = Testing.chart();
      const master = new RedisInstance(chart, 'R1');
      const replica = new RedisInstance(chart, 'R2', { replicaOf: master });
      const sentinels = new SentinelCluster(chart, 'Sentinels', { instances: [master, replica], downAfter: Duration.millis(downAfterMs) });
      new SentinelProxy(chart, 'P', { sentinels, fenceAfter });
      return ofKind(Testing.synth(chart), 'ConfigMap').find((c) => c.data['haproxy.cfg']).data['haproxy.cfg'] as string;
    };
    expect(at(1800)).toContain(belowRegex(1800));
    expect(at(5000)).toContain(belowRegex(2000));
    expect(at(2000, Duration.millis(2000))).toContain(belowRegex(2000));
    expect(() => at(2000, Duration.millis(2001))).toThrow(/test\/P: fenceAfter \("2001ms"\) must not exceed the sentinels' downAfter \(2000ms\)/);
  });

  test('resolves the names the sentinels announce, in their cluster domain', () => {
    const { cfg, master } = build({}, undefined, 3, 'k8s.example');
    expect(cfg).toContain(`server redis-0 "${master.host}.\${POD_NAMESPACE}.svc.k8s.example:6379"`);
    expect(cfg).toContain(`"\\r\\n${master.host}.\${POD_NAMESPACE}.svc.k8s.example\\r\\n`);
  });

  test('fails when clusterDomain differs from the one the sentinels announce names in', () => {
    expect(() => build({ clusterDomain: 'k8s.example' })).toThrow(
      'test/Proxy: clusterDomain ("k8s.example") must equal the cluster domain the sentinels announce names in ("cluster.local")');
  });

  test('props: replicas, service name, timings, threads, cluster domain', () => {
    const { proxy, deployment, cfg } = build({
      replicas: 3, serviceName: 'redis', checkInterval: Duration.millis(500), maxConnections: 500, threads: 2,
      clientTimeout: Duration.minutes(5), clusterDomain: 'k8s.example',
    }, undefined, 3, 'k8s.example');
    expect(deployment.spec.replicas).toBe(3);
    expect(proxy.host).toBe('redis');
    expect(cfg).toContain('check inter 500ms');
    expect(cfg).toContain('maxconn 500');
    expect(cfg).toContain('nbthread 2');
    expect(cfg).toContain('timeout client 300s');
    expect(cfg).toContain('.svc.k8s.example:6379"');
  });

  test('auth: checks authenticate with the Secret-backed password', () => {
    const { deployment, cfg } = build({}, RedisAuth.fromSecret('redis-auth', 'pw'));
    expect(envOf(deployment).REDIS_PASSWORD).toEqual({ secretKeyRef: { name: 'redis-auth', key: 'pw' } });
    expect(cfg).toContain('env(REDIS_PASSWORD)');
  });

  describe('fails', () => {
    test.each<[string, SentinelProxyOptions, RegExp]>([
      ['when replicas is zero', { replicas: 0 }, /test\/Proxy: replicas \(0\) must be an integer at least 1/],
      ['when the service name is not a DNS label', { serviceName: 'Redis_Proxy' }, /serviceName \("Redis_Proxy"\) must be a DNS label/],
      ['when the check interval is zero', { checkInterval: Duration.millis(0) }, /checkInterval \("0ms"\) must be a positive/],
      ['when the image is not pinned', { image: 'haproxy:latest' }, /image \("haproxy:latest"\) must be pinned/],
      ['when threads is zero', { threads: 0 }, /threads \(0\) must be an integer between 1 and 64/],
    ])('%s', (_, options, error) => {
      expect(() => build(options)).toThrow(error);
    });
  });
});

describe('SentinelProxy readReplicas', () => {
  test('adds the 6380 listener to the container and the Service', () => {
    const { proxy, objects, deployment, cfg } = build({ readReplicas: true });
    expect(proxy.readReplicasPort).toBe(6380);
    expect(deployment.spec.template.spec.containers[0].ports).toContainEqual({ containerPort: 6380, name: 'redis-replicas' });
    const service = ofKind(objects, 'Service').find((s) => s.metadata.name === proxy.host);
    expect(service.spec.ports).toContainEqual({ name: 'redis-replicas', port: 6380, targetPort: 6380 });
    expect(cfg).toContain('frontend redis-replicas');
  });
  test('is off by default', () => {
    expect(build().proxy.readReplicasPort).toBeUndefined();
  });
});
