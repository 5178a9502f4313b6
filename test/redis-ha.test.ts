import { Duration, Testing } from 'cdk8s';
import { Persistence, RedisAuth, RedisHa } from '../src';
import { envOf, ofKind, synthRedisHa } from './util/synth';

const component = (d: any) => d.spec.template.metadata.labels['app.kubernetes.io/component'];

describe('RedisHa', () => {
  test('default chart matches the snapshot', () => {
    expect(synthRedisHa().objects).toMatchSnapshot();
  });

  test('5 sentinels, auth and hostPath volumes match the snapshot', () => {
    const { objects } = synthRedisHa({
      sentinel: { sentinels: 5, persistence: Persistence.hostPath({ directory: '/var/lib/redis-ha' }) },
      redis: { persistence: Persistence.hostPath({ directory: '/var/lib/redis-ha' }) },
      auth: RedisAuth.fromSecret('redis-auth', 'password'),
    });
    expect(objects).toMatchSnapshot();
    expect(ofKind(objects, 'PersistentVolume')).toHaveLength(8);
  });

  test('defaults: 3 Redis, 3 sentinels with quorum 2, 2 proxies, a claim per Redis and sentinel pod', () => {
    const { ha, objects } = synthRedisHa();
    const deployments = ofKind(objects, 'Deployment');
    expect(deployments.filter((d) => component(d) === 'redis')).toHaveLength(3);
    expect(deployments.filter((d) => component(d) === 'sentinel')).toHaveLength(3);
    expect(deployments.filter((d) => component(d) === 'proxy').map((d) => d.spec.replicas)).toEqual([2]);
    expect(ofKind(objects, 'PersistentVolumeClaim')).toHaveLength(6);
    expect(ha.sentinels.quorum).toBe(2);
    expect(ha.instances.map((i) => i.replicaOf?.host)).toEqual([undefined, ha.instances[0].host, ha.instances[0].host]);
    expect(ha.host).toBe(ha.proxy.host);
    expect(ha.port).toBe(6379);
    expect(ha.sentinelHost).toBe(ha.sentinels.host);
    expect(ha.masterName).toBe('mymaster');
  });

  test('min-replicas-to-write is 1 with replicas and 0 without; overridable', () => {
    const conf = (objects: any[]) => ofKind(objects, 'ConfigMap').find((c) => c.data['redis.conf']).data['redis.conf'];
    expect(conf(synthRedisHa().objects)).toContain('min-replicas-to-write 1\n');
    expect(conf(synthRedisHa({ instances: 1 }).objects)).toContain('min-replicas-to-write 0\n');
    expect(conf(synthRedisHa({ redis: { minReplicasToWrite: 0 } }).objects)).toContain('min-replicas-to-write 0\n');
  });

  test('the password never appears in the YAML: only Secret references', () => {
    const { objects } = synthRedisHa({ auth: RedisAuth.fromSecret('redis-auth', 'password') });
    const withPassword = ofKind(objects, 'Deployment').map((d) => envOf(d).REDIS_PASSWORD);
    expect(withPassword).toHaveLength(3 + 3 + 1);
    for (const ref of withPassword) expect(ref).toEqual({ secretKeyRef: { name: 'redis-auth', key: 'password' } });
  });

  test('no resource name is hard-coded: two RedisHa fit in one chart', () => {
    const chart = Testing.chart();
    new RedisHa(chart, 'a');
    new RedisHa(chart, 'b', { sentinel: { downAfter: Duration.seconds(2) } });
    const names = Testing.synth(chart).map((o) => `${o.kind}/${o.metadata.name}`);
    expect(new Set(names).size).toBe(names.length);
  });

  test('clusterDomain reaches every announced name and the proxy; proxy.clusterDomain alone still sets it', () => {
    for (const props of [{ clusterDomain: 'k8s.example' }, { proxy: { clusterDomain: 'k8s.example' } }]) {
      const { ha, objects } = synthRedisHa(props);
      for (const d of ofKind(objects, 'Deployment').filter((o) => envOf(o).ANNOUNCE_HOST)) {
        expect(envOf(d).ANNOUNCE_HOST).toMatch(/\.\$\(POD_NAMESPACE\)\.svc\.k8s\.example$/);
      }
      const cfg: string = ofKind(objects, 'ConfigMap').find((c) => c.data['haproxy.cfg']).data['haproxy.cfg'];
      expect(cfg).toContain(`"${ha.instances[0].host}.\${POD_NAMESPACE}.svc.k8s.example:6379"`);
    }
  });

  test('every pod looks the announced names up as given before its search domains', () => {
    for (const [clusterDomain, dots] of [[undefined, '4'], ['k8s.example.org', '5']] as const) {
      const { objects } = synthRedisHa({ clusterDomain });
      const announced = ofKind(objects, 'Deployment').map((d) => envOf(d).ANNOUNCE_HOST).find((h) => h);
      expect(String(announced.split('.').length - 1)).toBe(dots);
      for (const d of ofKind(objects, 'Deployment')) {
        expect(d.spec.template.spec.dnsConfig).toEqual({ options: [{ name: 'ndots', value: dots }] });
      }
    }
  });

  test.each([
    [{ clusterDomain: 'bad domain' }, 'test/redis: clusterDomain ("bad domain") must be a DNS domain'],
    [{ proxy: { clusterDomain: 'bad domain' } }, 'test/redis: proxy.clusterDomain ("bad domain") must be a DNS domain'],
  ])('fails when the cluster domain is not a DNS domain: %j', (props, error) => {
    expect(() => synthRedisHa(props)).toThrow(error);
  });

  test('fails when instances is below 1', () => {
    expect(() => synthRedisHa({ instances: 0 })).toThrow(/test\/redis: instances \(0\) must be an integer at least 1/);
  });
});
