import { RedisAuth, RedisTls } from '../src';
import { component, envOf, matches, ofKind, podLabels, synthRedisHa } from './util/synth';

describe('TLS', () => {
  const { objects } = synthRedisHa({ tls: RedisTls.fromSecret('redis-tls'), auth: RedisAuth.fromSecret('redis-auth', 'pw'), metrics: {} });
  const deployments = ofKind(objects, 'Deployment');
  const configs = ofKind(objects, 'ConfigMap');

  test('every pod mounts the Secret read-only, group-readable, at /etc/redis-ha/tls', () => {
    for (const d of deployments) {
      const spec = d.spec.template.spec;
      const volume = spec.volumes.find((v: any) => v.name === 'tls');
      expect(volume.secret).toMatchObject({ secretName: 'redis-tls', defaultMode: 0o440 });
      expect(volume.secret.items.map((i: any) => i.path).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
      expect(spec.containers[0].volumeMounts).toContainEqual({ mountPath: '/etc/redis-ha/tls', name: 'tls', readOnly: true });
    }
  });

  test('Redis and sentinels close the plain port and replicate over TLS; scripts use TLS', () => {
    const redisConf = configs.filter((c) => c.data['redis.conf']).map((c) => c.data['redis.conf']);
    const sentinelConf = configs.find((c) => c.data['sentinel-global.conf']).data['sentinel-global.conf'];
    for (const conf of redisConf) expect(conf).toMatch(/^port 0\ntls-port 6379\n[\s\S]*tls-replication yes\n/);
    expect(sentinelConf).toMatch(/^port 0\ntls-port 26379\n[\s\S]*tls-replication yes\n/);
    for (const d of deployments.filter((o) => component(o) !== 'proxy')) {
      expect(envOf(d).TLS_ARGS).toBe('--tls --cacert /etc/redis-ha/tls/ca.crt --cert /etc/redis-ha/tls/tls.crt --key /etc/redis-ha/tls/tls.key');
    }
  });

  test('the proxy terminates client TLS and verifies every server against the CA', () => {
    const proxy = deployments.find((d) => component(d) === 'proxy');
    expect(proxy.spec.template.spec.volumes.find((v: any) => v.name === 'tls-haproxy').secret.items)
      .toEqual([{ key: 'tls.crt', path: 'tls.crt' }, { key: 'tls.key', path: 'tls.crt.key' }]);
    const cfg: string = configs.find((c) => c.data['haproxy.cfg']).data['haproxy.cfg'];
    expect(cfg).toContain('ssl crt /etc/redis-ha/tls-haproxy/tls.crt');
    expect(cfg).toContain('verify required ca-file /etc/redis-ha/tls/ca.crt');
  });

  test('the exporter speaks TLS too, to its instance\'s Service name, which the certificate holds', () => {
    for (const d of deployments.filter((o) => component(o) === 'redis')) {
      const exporter = d.spec.template.spec.containers.find((c: any) => c.name === 'exporter');
      const service = objects.find((o) => o.kind === 'Service' && o.spec.selector && matches(o.spec.selector, podLabels(d)) && o.spec.clusterIP !== 'None');
      expect(exporter.env[0]).toEqual({ name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } });
      expect(exporter.env).toContainEqual({ name: 'REDIS_ADDR', value: `rediss://${service.metadata.name}.$(POD_NAMESPACE).svc.cluster.local:6379` });
      expect(exporter.env.map((e: any) => e.name)).not.toContain('REDIS_EXPORTER_SKIP_TLS_VERIFICATION');
      expect(exporter.volumeMounts).toContainEqual({ mountPath: '/etc/redis-ha/tls', name: 'tls', readOnly: true });
    }
  });

  test('custom Secret keys', () => {
    const { objects: o } = synthRedisHa({ tls: RedisTls.fromSecret('certs', { cert: 'server.pem', key: 'server-key.pem', ca: 'root.pem' }) });
    const volume = ofKind(o, 'Deployment')[0].spec.template.spec.volumes.find((v: any) => v.name === 'tls');
    expect(volume.secret.items).toEqual(expect.arrayContaining([
      { key: 'server.pem', path: 'tls.crt' }, { key: 'server-key.pem', path: 'tls.key' }, { key: 'root.pem', path: 'ca.crt' },
    ]));
    expect(volume.secret.items).toHaveLength(3);
  });

  test('off by default', () => {
    for (const d of ofKind(synthRedisHa().objects, 'Deployment')) {
      expect(d.spec.template.spec.volumes.some((v: any) => v.name === 'tls')).toBe(false);
    }
  });

  test('fails when a Secret key is empty', () => {
    expect(() => synthRedisHa({ tls: RedisTls.fromSecret('redis-tls', { ca: '' }) })).toThrow(/test\/redis: tls.ca \(""\) must be a non-empty Secret key/);
  });
});
