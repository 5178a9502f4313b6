import { Chart, Duration, Size, Testing } from 'cdk8s';
import { Persistence, RedisAuth, RedisInstance } from '../src';
import { renderRedisPreStop } from '../src/sentinel/redis-config';
import { envOf, ofKind } from './util/synth';

function synth(build: (chart: any) => void) {
  const chart = Testing.chart();
  build(chart);
  return Testing.synth(chart);
}

describe('RedisInstance', () => {
  test('defaults: one Recreate pod, its own Service and claim, pinned non-root image', () => {
    let instance!: RedisInstance;
    const objects = synth((c) => (instance = new RedisInstance(c, 'Redis')));
    const [deployment] = ofKind(objects, 'Deployment');
    const [service] = ofKind(objects, 'Service');
    const [claim] = ofKind(objects, 'PersistentVolumeClaim');
    expect(deployment.spec.replicas).toBe(1);
    expect(deployment.spec.strategy).toEqual({ type: 'Recreate' });
    expect(service.spec.type).toBe('ClusterIP');
    expect(service.spec.ports).toEqual([{ name: 'redis', port: 6379, targetPort: 6379 }]);
    // Sentinels must reach a replica that is not ready (its master is down) to promote it.
    expect(service.spec.publishNotReadyAddresses).toBe(true);
    expect(instance.host).toBe(service.metadata.name);
    expect(instance.port).toBe(6379);
    expect(claim.spec.resources.requests.storage).toBe('1Gi');
    expect(claim.spec.accessModes).toEqual(['ReadWriteOnce']);
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    expect(container.image).toBe('valkey/valkey:9.1.4');
    expect(container.imagePullPolicy).toBe('IfNotPresent');
    expect(container.securityContext).toMatchObject({
      runAsNonRoot: true, runAsUser: 999, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] },
    });
    expect(pod.securityContext).toMatchObject({ fsGroup: 999, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container.volumeMounts.map((m: any) => m.mountPath).sort()).toEqual(['/data', '/opt/redis-ha', '/run/redis-ha']);
    expect(pod.volumes.find((v: any) => v.name === 'data').persistentVolumeClaim.claimName).toBe(claim.metadata.name);
    expect(container.readinessProbe.exec.command).toEqual(['sh', '/opt/redis-ha/probe.sh', 'readiness']);
    expect(container.livenessProbe.exec.command).toEqual(['sh', '/opt/redis-ha/probe.sh', 'liveness']);
    expect(container.resources).toEqual({ requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '1000m', memory: '1024Mi' } });
  });

  test('announces its Service name in the pod\'s namespace and, as a replica, names its initial master so', () => {
    let master!: RedisInstance;
    const objects = synth((c) => {
      master = new RedisInstance(c, 'A');
      new RedisInstance(c, 'B', { replicaOf: master });
    });
    const [primary, replica] = ofKind(objects, 'Deployment');
    const fq = (service: string) => `${service}.$(POD_NAMESPACE).svc.cluster.local`;
    expect(envOf(replica)).toMatchObject({ INITIAL_MASTER_HOST: fq(master.host), INITIAL_MASTER_PORT: '6379' });
    expect(envOf(primary).ANNOUNCE_HOST).toBe(fq(master.host));
    // kubelet expands $(POD_NAMESPACE) only from variables defined before it.
    expect(primary.spec.template.spec.containers[0].env[0]).toEqual({ name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } });
  });

  test('in a chart with a namespace and a cluster domain, announces the name written out', () => {
    const chart = new Chart(Testing.app(), 'c', { namespace: 'cache' });
    const master = new RedisInstance(chart, 'A', { clusterDomain: 'k8s.example' });
    new RedisInstance(chart, 'B', { replicaOf: master, clusterDomain: 'k8s.example' });
    const [primary, replica] = ofKind(Testing.synth(chart), 'Deployment');
    expect(envOf(primary).ANNOUNCE_HOST).toBe(`${master.host}.cache.svc.k8s.example`);
    expect(envOf(replica).INITIAL_MASTER_HOST).toBe(`${master.host}.cache.svc.k8s.example`);
  });

  test.each(['bad domain', 'Cluster.Local', 'cluster.local.', '-x.local', ''])('fails when clusterDomain is %j', (domain) => {
    expect(() => synth((c) => new RedisInstance(c, 'A', { clusterDomain: domain }))).toThrow(
      `test/A: clusterDomain (${JSON.stringify(domain)}) must be a DNS domain: lowercase labels of letters, digits and "-", separated by "."`);
  });

  test('props reach the pod: image, resources, storage, append-only, min-replicas', () => {
    const objects = synth((c) => new RedisInstance(c, 'Redis', {
      image: 'registry.example/redis:7.2.5',
      resources: { cpuLimitMillis: 2000, memoryLimit: Size.gibibytes(4) },
      persistence: Persistence.claim({ size: Size.gibibytes(8), storageClassName: 'fast' }),
      appendOnly: false,
      minReplicasToWrite: 2,
      minReplicasMaxLag: Duration.seconds(3),
      masterDiscoveryTimeout: Duration.seconds(90),
    }));
    const [deployment] = ofKind(objects, 'Deployment');
    const container = deployment.spec.template.spec.containers[0];
    expect(container.image).toBe('registry.example/redis:7.2.5');
    expect(container.resources.limits).toEqual({ cpu: '2000m', memory: '4096Mi' });
    expect(container.resources.requests).toEqual({ cpu: '100m', memory: '256Mi' });
    expect(envOf(deployment).MASTER_DISCOVERY_SECONDS).toBe('90');
    const [claim] = ofKind(objects, 'PersistentVolumeClaim');
    expect(claim.spec).toMatchObject({ storageClassName: 'fast', resources: { requests: { storage: '8Gi' } } });
    const conf = ofKind(objects, 'ConfigMap')[0].data['redis.conf'];
    expect(conf).toContain('appendonly no\n');
    expect(conf).toContain('min-replicas-to-write 2\nmin-replicas-max-lag 3\n');
  });

  test('hostPath persistence binds the claim to a static volume of its own', () => {
    const objects = synth((c) => new RedisInstance(c, 'Redis', { persistence: Persistence.hostPath({ directory: '/data/redis-ha/' }) }));
    const [pv] = ofKind(objects, 'PersistentVolume');
    const [claim] = ofKind(objects, 'PersistentVolumeClaim');
    expect(pv.spec.hostPath.path).toMatch(/^\/data\/redis-ha\/[a-z0-9-]+$/);
    expect(pv.spec.storageClassName).toBe('');
    expect(claim.spec.volumeName).toBe(pv.metadata.name);
    expect(claim.spec.storageClassName).toBe('');
  });

  test('claim and volume sizes: any whole size, in the largest unit that holds it (what the API accepts)', () => {
    const sized = (size: Size, hostPath = false) => {
      const objects = synth((c) => new RedisInstance(c, 'Redis', {
        persistence: hostPath ? Persistence.hostPath({ directory: '/srv', size }) : Persistence.claim({ size }),
      }));
      return [ofKind(objects, 'PersistentVolumeClaim')[0].spec.resources.requests.storage, ofKind(objects, 'PersistentVolume')[0]?.spec.capacity.storage];
    };
    expect(sized(Size.mebibytes(512))).toEqual(['512Mi', undefined]);
    expect(sized(Size.gibibytes(10))).toEqual(['10Gi', undefined]);
    expect(sized(Size.kibibytes(1536))).toEqual(['1536Ki', undefined]);
    expect(sized(Size.tebibytes(1))).toEqual(['1024Gi', undefined]);
    // The hostPath volume's capacity, as before, in MiB.
    expect(sized(Size.gibibytes(2), true)).toEqual(['2Gi', '2048Mi']);
    expect(sized(Size.mebibytes(768), true)).toEqual(['768Mi', '768Mi']);
  });

  test('auth: the password comes from the Secret, never inline', () => {
    const objects = synth((c) => new RedisInstance(c, 'Redis', { auth: RedisAuth.fromSecret('redis-auth', 'password') }));
    const [deployment] = ofKind(objects, 'Deployment');
    expect(envOf(deployment).REDIS_PASSWORD).toEqual({ secretKeyRef: { name: 'redis-auth', key: 'password' } });
  });

  describe('fails', () => {
    const cases: Array<[string, any, RegExp]> = [
      ['when the image is not pinned', { image: 'redis' }, /test\/Redis: image \("redis"\) must be pinned/],
      ['when the image is latest', { image: 'redis:latest' }, /image \("redis:latest"\) must be pinned/],
      ['when minReplicasToWrite is negative', { minReplicasToWrite: -1 }, /minReplicasToWrite \(-1\) must be an integer at least 0/],
      ['when minReplicasMaxLag is zero', { minReplicasMaxLag: Duration.millis(0) }, /minReplicasMaxLag \("0ms"\) must be a positive/],
      ['when masterDiscoveryTimeout is zero', { masterDiscoveryTimeout: Duration.seconds(0) }, /masterDiscoveryTimeout \("0ms"\) must be a positive/],
      ['when the storage size is zero', { persistence: Persistence.claim({ size: Size.gibibytes(0) }) }, /persistence.size \("0Ki"\) must be a positive whole number of kibibytes/],
      ['when the storage size is not whole kibibytes', { persistence: Persistence.claim({ size: Size.kibibytes(0.5) }) }, /persistence.size \("0.5Ki"\) must be a positive whole number of kibibytes/],
      ['when the hostPath directory is relative', { persistence: Persistence.hostPath({ directory: 'data' }) }, /persistence.directory \("data"\) must be an absolute path/],
      ['when the Secret key is missing', { auth: RedisAuth.fromSecret('redis-auth', '') }, /auth.key \(""\) must be a non-empty Secret key/],
      ['when the Secret name is not valid', { auth: RedisAuth.fromSecret('Redis_Auth', 'password') }, /auth.secretName \("Redis_Auth"\) must be a DNS subdomain/],
    ];
    test.each(cases)('%s', (_, props, error) => {
      expect(() => synth((c) => new RedisInstance(c, 'Redis', props))).toThrow(error);
    });
  });
});

describe('RedisInstance extraConfig', () => {
  test('extra directives are appended, each value one quoted argument', () => {
    const objects = synth((c) => new RedisInstance(c, 'Redis', {
      extraConfig: { 'maxmemory': '512mb', 'maxmemory-policy': 'allkeys-lru', 'save': '3600 1 300 100' },
    }));
    const conf = ofKind(objects, 'ConfigMap')[0].data['redis.conf'];
    expect(conf).toContain('maxmemory "512mb"\nmaxmemory-policy "allkeys-lru"\nsave "3600 1 300 100"\n');
  });

  test.each(['replicaof', 'port', 'include', 'rename-command'])('fails when it sets the chart-owned directive %s', (directive) => {
    expect(() => synth((c) => new RedisInstance(c, 'Redis', { extraConfig: { [directive]: 'x' } })))
      .toThrow(`test/Redis: extraConfig["${directive}"] ("${directive}") is set by the chart and cannot be overridden`);
  });

  test.each([
    ['appendonly', 'appendOnly'], ['min-replicas-to-write', 'minReplicasToWrite'], ['min-slaves-max-lag', 'minReplicasMaxLag'],
    ['dir', 'persistence'], ['requirepass', 'auth'], ['masterauth', 'auth'], ['tls-port', 'tls'],
  ])('fails when it sets the chart-owned directive %s, naming the prop %s', (directive, prop) => {
    expect(() => synth((c) => new RedisInstance(c, 'Redis', { extraConfig: { [directive]: 'x' } })))
      .toThrow(`test/Redis: extraConfig["${directive}"] ("${directive}") is set by the chart; use ${prop} instead`);
  });

  test('fails when maxmemory is at the memory limit', () => {
    expect(() => synth((c) => new RedisInstance(c, 'Redis', { extraConfig: { maxmemory: '256mb' }, resources: { memoryLimit: Size.mebibytes(256) } })))
      .toThrow('test/Redis: extraConfig["maxmemory"] ("256mb") must be below the container\'s memory limit (resources.memoryLimit: 256Mi)');
  });

  test('fails when a value holds a newline', () => {
    expect(() => synth((c) => new RedisInstance(c, 'Redis', { extraConfig: { maxmemory: '1mb\nreplicaof evil 6379' } })))
      .toThrow(/extraConfig\["maxmemory"\] \("1mb\\nreplicaof evil 6379"\) must not contain control characters/);
  });

  test('fails when the directive name is malformed', () => {
    expect(() => synth((c) => new RedisInstance(c, 'Redis', { extraConfig: { 'Max Memory': '1' } })))
      .toThrow(/extraConfig\["Max Memory"\] \("Max Memory"\) must be a redis.conf directive name/);
  });
});

describe('RedisInstance failoverOnShutdown', () => {
  test('on by default: a preStop hook with a wait bounded by the grace period', () => {
    const objects = synth((c) => new RedisInstance(c, 'Redis', { terminationGracePeriod: Duration.seconds(40) }));
    const [deployment] = ofKind(objects, 'Deployment');
    const container = deployment.spec.template.spec.containers[0];
    expect(container.lifecycle.preStop.exec.command).toEqual(['sh', '/opt/redis-ha/prestop.sh']);
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBe(40);
    expect(envOf(deployment).PRESTOP_WAIT_SECONDS).toBe('30');
    expect(ofKind(objects, 'ConfigMap')[0].data['prestop.sh']).toBe(renderRedisPreStop()); // its behaviour: redis-config.test.ts
  });
  test('can be turned off', () => {
    const [deployment] = ofKind(synth((c) => new RedisInstance(c, 'Redis', { failoverOnShutdown: false })), 'Deployment');
    expect(deployment.spec.template.spec.containers[0].lifecycle).toBeUndefined();
  });
  test('fails when the grace period is too short for the handover', () => {
    expect(() => synth((c) => new RedisInstance(c, 'Redis', { terminationGracePeriod: Duration.seconds(5) })))
      .toThrow(/terminationGracePeriod \("5000ms"\) must be at least 15s/);
  });
});
