import { Duration } from 'cdk8s';
import { RedisAuth } from '../src';
import { component, matches, ofKind, synthRedisHa } from './util/synth';

describe('metrics', () => {
  test('a pinned, non-root exporter sidecar on every Redis pod, reading the Secret-backed password', () => {
    const { objects } = synthRedisHa({ metrics: {}, auth: RedisAuth.fromSecret('redis-auth', 'pw') });
    const redis = ofKind(objects, 'Deployment').filter((d) => component(d) === 'redis');
    expect(redis).toHaveLength(3);
    for (const d of redis) {
      const exporter = d.spec.template.spec.containers.find((c: any) => c.name === 'exporter');
      expect(exporter.image).toBe('oliver006/redis_exporter:v1.62.0');
      expect(exporter.ports).toEqual([{ containerPort: 9121, name: 'metrics' }]);
      expect(exporter.securityContext).toMatchObject({ runAsUser: 59000, runAsNonRoot: true, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
      expect(exporter.env).toContainEqual({ name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: 'redis-auth', key: 'pw' } } });
      expect(exporter.env).toContainEqual({ name: 'REDIS_ADDR', value: 'redis://localhost:6379' });
    }
    for (const d of ofKind(objects, 'Deployment').filter((o) => component(o) !== 'redis')) {
      expect(d.spec.template.spec.containers).toHaveLength(1);
    }
  });

  test('the ServiceMonitor selects exactly the Redis Services and the proxy Service, on their metrics ports', () => {
    const { ha, objects } = synthRedisHa({ metrics: { serviceMonitor: true, interval: Duration.seconds(15) } });
    const [monitor] = objects.filter((o) => o.kind === 'ServiceMonitor');
    expect(monitor.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(monitor.spec.endpoints).toEqual([{ port: 'metrics', path: '/metrics', interval: '15s' }]);
    const selected = ofKind(objects, 'Service').filter((s) => matches(monitor.spec.selector.matchLabels, s.metadata.labels));
    expect(selected.map((s) => s.metadata.name).sort()).toEqual([...ha.instances.map((i) => i.host), ha.proxy.host].sort());
    for (const s of selected) expect(s.spec.ports.map((p: any) => p.name)).toContain('metrics');
  });

  test('off by default: no sidecar, no ServiceMonitor, no metrics ports', () => {
    const { objects } = synthRedisHa();
    expect(objects.filter((o) => o.kind === 'ServiceMonitor')).toHaveLength(0);
    for (const s of ofKind(objects, 'Service')) expect(s.spec.ports.map((p: any) => p.name)).not.toContain('metrics');
  });

  test('with network policies, the exporter port is open for scraping', () => {
    const { objects } = synthRedisHa({ metrics: {}, networkPolicy: { clientLabels: { app: 'web' } } });
    const redisPolicy = ofKind(objects, 'NetworkPolicy').find((p) => p.spec.podSelector.matchLabels['app.kubernetes.io/component'] === 'redis');
    expect(redisPolicy.spec.ingress).toContainEqual({ ports: [{ protocol: 'TCP', port: 9121 }] });
  });

  test('the ServiceMonitor takes labels, e.g. the release kube-prometheus-stack selects on', () => {
    const { objects } = synthRedisHa({ metrics: { serviceMonitor: true, serviceMonitorLabels: { release: 'kube-prometheus-stack' } } });
    const [monitor] = objects.filter((o) => o.kind === 'ServiceMonitor');
    expect(monitor.metadata.labels).toMatchObject({ 'release': 'kube-prometheus-stack', 'app.kubernetes.io/component': 'metrics' });
  });

  test('fails when ServiceMonitor labels are given without a ServiceMonitor', () => {
    expect(() => synthRedisHa({ metrics: { serviceMonitorLabels: { release: 'prom' } } }))
      .toThrow('test/redis: metrics.serviceMonitorLabels ({"release":"prom"}) needs metrics.serviceMonitor: true');
  });

  test.each([
    [{ 'release': 'not valid!' }, 'test/redis: metrics.serviceMonitorLabels["release"] ("not valid!") must be a label value'],
    [{ 'bad key': 'x' }, 'test/redis: metrics.serviceMonitorLabels key ("bad key") must be a label key'],
    [{ 'Example.com/team': 'x' }, 'metrics.serviceMonitorLabels key ("Example.com/team") must be a label key'],
  ])('fails when a ServiceMonitor label is not valid: %j', (serviceMonitorLabels, error) => {
    expect(() => synthRedisHa({ metrics: { serviceMonitor: true, serviceMonitorLabels } })).toThrow(error);
  });

  test('fails when the exporter image is not pinned', () => {
    expect(() => synthRedisHa({ metrics: { exporterImage: 'oliver006/redis_exporter' } }))
      .toThrow(/test\/redis: metrics.exporterImage \("oliver006\/redis_exporter"\) must be pinned/);
  });
});
