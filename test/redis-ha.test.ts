import { ApiObject, Chart, Duration, JsonPatch, Names, Size, Testing } from 'cdk8s';
import { Persistence, RedisAuth, RedisHa, RedisHaProps } from '../src';
import { component, envOf, ofKind, synthRedisHa } from './util/synth';

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

  test('hostPath directories are named after each Redis instance and sentinel, and listed by the instance label', () => {
    const { ha, objects } = synthRedisHa({
      redis: { persistence: Persistence.hostPath({ directory: '/var/lib/redis-ha/' }) },
      sentinel: { persistence: Persistence.hostPath({ directory: '/var/lib/redis-ha' }) },
    });
    const paths = ofKind(objects, 'PersistentVolume')
      .filter((pv) => pv.metadata.labels['app.kubernetes.io/instance'] === Names.toLabelValue(ha))
      .map((pv) => pv.spec.hostPath.path);
    const sentinels = ha.sentinels.node.children.filter((c) => c.node.id.startsWith('Sentinel'));
    expect(paths.sort()).toEqual([...ha.instances, ...sentinels].map((c) => `/var/lib/redis-ha/${Names.toDnsLabel(c)}`).sort());
    expect(paths).toContain('/var/lib/redis-ha/test-redis-redis1-c897e120');
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

  test('escape hatches are core cdk8s objects, and selector labels match exactly their pods', () => {
    const { ha, objects } = synthRedisHa();
    const pods = ofKind(objects, 'Deployment').map((d) => ({ name: d.metadata.name, labels: d.spec.template.metadata.labels }));
    const selected = (labels: Record<string, string>) =>
      pods.filter((p) => Object.entries(labels).every(([k, v]) => p.labels[k] === v)).map((p) => p.name);
    expect(selected(ha.proxy.selectorLabels)).toEqual([ha.proxy.deployment.name]);
    expect(selected(ha.sentinels.selectorLabels)).toEqual(ha.sentinels.deployments.map((d) => d.name));
    for (const i of ha.instances) expect(selected(i.selectorLabels)).toEqual([i.deployment.name]);
    const kinds = [ha.proxy.deployment, ha.proxy.service, ha.sentinels.service, ...ha.sentinels.deployments,
      ...ha.instances.flatMap((i) => [i.deployment, i.service, i.claim])].map((o) => o.kind);
    expect(kinds).toEqual(['Deployment', 'Service', 'Service', 'Deployment', 'Deployment', 'Deployment',
      ...Array(3).fill(['Deployment', 'Service', 'PersistentVolumeClaim']).flat()]);
    // A patch through the hatch lands in the synthesized object.
    ha.proxy.deployment.addJsonPatch(JsonPatch.add('/spec/template/spec/priorityClassName', 'high'));
    const proxy = Testing.synth(Chart.of(ha)).find((o) => o.metadata.name === ha.proxy.deployment.name);
    expect(proxy.spec.template.spec.priorityClassName).toBe('high');
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

  test('an explicit undefined keeps every default: min-replicas-to-write stays 1', () => {
    const conf = (objects: any[]) => ofKind(objects, 'ConfigMap').find((c) => c.data['redis.conf']).data['redis.conf'];
    expect(conf(synthRedisHa({ redis: { minReplicasToWrite: undefined } }).objects)).toContain('min-replicas-to-write 1\n');
    const explicit = synthRedisHa({
      instances: undefined, auth: undefined, tls: undefined, disruptionBudgets: undefined, spread: undefined,
      redis: { image: undefined, appendOnly: undefined, minReplicasMaxLag: undefined, resources: { memoryLimit: undefined }, extraConfig: undefined },
      sentinel: { sentinels: undefined, quorum: undefined, masterName: undefined, downAfter: undefined, persistence: undefined },
      proxy: { replicas: undefined, serviceName: undefined, clusterDomain: undefined, readReplicas: undefined },
    }).objects;
    expect(explicit).toEqual(synthRedisHa().objects);
  });

  test('maxmemory below the memory limit is accepted, in any Redis unit', () => {
    for (const maxmemory of ['0', '1000m', '500MB', '1g', '1073741823', '768mb']) {
      expect(() => synthRedisHa({ redis: { extraConfig: { maxmemory } } })).not.toThrow();
    }
    expect(() => synthRedisHa({ redis: { extraConfig: { maxmemory: '2gb' }, resources: { memoryLimit: Size.gibibytes(3) } } })).not.toThrow();
  });

  test('two proxies may share a Service name in different namespaces', () => {
    const app = Testing.app();
    new RedisHa(new Chart(app, 'a', { namespace: 'a' }), 'redis', { proxy: { serviceName: 'redis' } });
    new RedisHa(new Chart(app, 'b', { namespace: 'b' }), 'redis', { proxy: { serviceName: 'redis' } });
    expect(() => app.synthYaml()).not.toThrow();
  });

  describe('fails, naming the RedisHa path and the prop as written', () => {
    test.each<[string, RedisHaProps, RegExp | string]>([
      ['when minReplicasToWrite exceeds the replicas', { redis: { minReplicasToWrite: 3 } },
        'test/redis: redis.minReplicasToWrite (3) must not exceed the replicas (instances - 1 = 2), or the master refuses every write'],
      ['when minReplicasToWrite is set without replicas', { instances: 1, redis: { minReplicasToWrite: 1 } },
        'test/redis: redis.minReplicasToWrite (1) must not exceed the replicas (instances - 1 = 0)'],
      ['when maxmemory exceeds the default memory limit', { redis: { extraConfig: { maxmemory: '2gb' } } },
        'test/redis: redis.extraConfig["maxmemory"] ("2gb") must be below the container\'s memory limit (redis.resources.memoryLimit: 1024Mi)'],
      ['when maxmemory equals the memory limit', { redis: { extraConfig: { maxmemory: '1gb' } } }, /redis.extraConfig\["maxmemory"\] \("1gb"\) must be below/],
      ['when maxmemory equals the memory limit in bytes', { redis: { extraConfig: { maxmemory: '1073741824' } } }, /\("1073741824"\) must be below/],
      ['when maxmemory exceeds a given memory limit', { redis: { extraConfig: { maxmemory: '600mb' }, resources: { memoryLimit: Size.mebibytes(512) } } },
        /\("600mb"\) must be below the container's memory limit \(redis.resources.memoryLimit: 512Mi\)/],
      ['when maxmemory is not a Redis memory size', { redis: { extraConfig: { maxmemory: '1Gi' } } },
        'test/redis: redis.extraConfig["maxmemory"] ("1Gi") must be a Redis memory size: bytes, or a number with k, kb, m, mb, g or gb'],
      ['when the cluster domain is not a DNS name', { proxy: { clusterDomain: 'bad domain' } },
        'test/redis: proxy.clusterDomain ("bad domain") must be a DNS domain'],
      ['when the cluster domain has an empty label', { proxy: { clusterDomain: 'cluster..local' } }, /proxy.clusterDomain \("cluster..local"\) must be a DNS domain/],
      ['when an extraConfig directive has a prop', { redis: { extraConfig: { appendonly: 'no' } } },
        'test/redis: redis.extraConfig["appendonly"] ("appendonly") is set by the chart; use redis.appendOnly instead'],
      ['when an extraConfig directive is the password', { redis: { extraConfig: { requirepass: 'x' } } },
        'test/redis: redis.extraConfig["requirepass"] ("requirepass") is set by the chart; use auth instead'],
      ['when a Redis prop is bad', { redis: { image: 'redis' } }, 'test/redis: redis.image ("redis") must be pinned'],
      ['when a Redis volume is bad', { redis: { persistence: Persistence.claim({ size: Size.kibibytes(0) }) } }, 'test/redis: redis.persistence.size ("0Ki")'],
      ['when the proxy\'s fence outlasts the sentinels\' downAfter', { sentinel: { downAfter: Duration.seconds(3) }, proxy: { fenceAfter: Duration.seconds(4) } },
        'test/redis: proxy.fenceAfter ("4000ms") must not exceed the sentinels\' downAfter (3000ms): a longer fence leaves a master the sentinels are replacing its clients'],
      ['when downAfter leaves the fence no room', { sentinel: { downAfter: Duration.millis(1200) } },
        /proxy.fenceAfter \("1500ms"\) must not exceed the sentinels' downAfter \(1200ms\).*a downAfter below 1500ms leaves no room for the fence: raise downAfter/],
      ['when the sentinels are an even count', { sentinel: { sentinels: 4 } },
        'test/redis: sentinel.sentinels (4) must be odd: 4 sentinels tolerate 1 down, as 3 do (a failover needs a majority of them, 3); use 3 or 5'],
      ['when a sentinel prop is bad', { sentinel: { quorum: 4 } }, 'test/redis: sentinel.quorum (4) must be an integer between 1 and 3'],
      ['when a sentinel volume is bad', { sentinel: { persistence: Persistence.hostPath({ directory: 'data' }) } },
        'test/redis: sentinel.persistence.directory ("data") must be an absolute path'],
      ['when a proxy prop is bad', { proxy: { replicas: 0 } }, 'test/redis: proxy.replicas (0) must be an integer at least 1'],
      ['when the auth Secret key is bad', { auth: RedisAuth.fromSecret('redis-auth', '') }, 'test/redis: auth.key ("") must be a non-empty Secret key'],
    ])('%s', (_, props, error) => {
      expect(() => synthRedisHa(props)).toThrow(error);
    });

    test('when two RedisHa give their proxies one Service name', () => {
      const chart = Testing.chart();
      new RedisHa(chart, 'a', { proxy: { serviceName: 'redis' } });
      new RedisHa(chart, 'b', { proxy: { serviceName: 'redis' } });
      expect(() => Testing.synth(chart)).toThrow('test/b: proxy.serviceName ("redis") is also the name of the Service test/a/Proxy/Service/Resource: '
        + 'Service names must be unique in a namespace');
    });

    test('when the proxy takes the name of another Service in its namespace', () => {
      const chart = Testing.chart();
      new ApiObject(chart, 'mine', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'redis' } });
      new RedisHa(chart, 'redis', { proxy: { serviceName: 'redis' } });
      expect(() => Testing.synth(chart)).toThrow('test/redis: proxy.serviceName ("redis") is also the name of the Service test/mine');
    });
  });
});
