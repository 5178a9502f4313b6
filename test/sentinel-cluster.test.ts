import { Chart, Duration, Testing } from 'cdk8s';
import { Construct } from 'constructs';
import { IRedisInstance, RedisAuth, RedisEngine, RedisInstance, SentinelCluster, SentinelClusterOptions } from '../src';
import { component, envOf, matches, ofKind, podLabels } from './util/synth';

function build(options: SentinelClusterOptions = {}, auth?: RedisAuth) {
  const chart = Testing.chart();
  const master = new RedisInstance(chart, 'R1', { auth });
  const replica = new RedisInstance(chart, 'R2', { auth, replicaOf: master });
  const cluster = new SentinelCluster(chart, 'Sentinels', { ...options, instances: [master, replica] });
  return { chart, master, replica, cluster, objects: Testing.synth(chart) };
}

/** The name a pod announces for a Service of a chart without a namespace. */
const fq = (service: string) => `${service}.$(POD_NAMESPACE).svc.cluster.local`;

const sentinelDeployments = (objects: any[]) =>
  ofKind(objects, 'Deployment').filter((d) => component(d) === 'sentinel');

describe('SentinelCluster', () => {
  test('defaults: 3 sentinels, quorum 2, each with a Service, a claim and a distinct id', () => {
    const { cluster, master, objects } = build();
    const deployments = sentinelDeployments(objects);
    expect(deployments).toHaveLength(3);
    expect(cluster.quorum).toBe(2);
    expect(cluster.masterName).toBe('mymaster');
    const envs = deployments.map(envOf);
    expect(envs.map((e) => e.SENTINEL_QUORUM)).toEqual(['2', '2', '2']);
    expect(envs.map((e) => e.INITIAL_MASTER_HOST)).toEqual([fq(master.host), fq(master.host), fq(master.host)]);
    expect(new Set(envs.map((e) => e.SENTINEL_ID)).size).toBe(3);
    expect(envs.map((e) => e.ANNOUNCE_HOST)).toEqual(cluster.sentinelHosts.map(fq));
    expect(envs.map((e) => e.REDIS_HOSTS)).toEqual(envs.map(() => cluster.instances.map((i) => fq(i.host)).join(' ')));
    for (const d of deployments) expect(d.spec.strategy.type).toBe('Recreate');
    // 2 Redis claims + 3 sentinel claims
    expect(ofKind(objects, 'PersistentVolumeClaim')).toHaveLength(5);
    const conf = ofKind(objects, 'ConfigMap').find((c) => c.data['sentinel-master.conf']);
    expect(conf.data['sentinel-master.conf']).toContain('sentinel down-after-milliseconds mymaster 5000\n');
    expect(conf.data['sentinel-master.conf']).toContain('sentinel failover-timeout mymaster 15000\n');
  });

  test('a headless Service selects every sentinel and nothing else', () => {
    const { cluster, objects } = build();
    const headless = ofKind(objects, 'Service').find((s) => s.metadata.name === cluster.host);
    expect(headless.spec.clusterIP).toBe('None');
    expect(headless.spec.publishNotReadyAddresses).toBeUndefined(); // clients get ready sentinels only
    const own = ofKind(objects, 'Service').filter((s) => s !== headless && /sentinel\d/.test(s.metadata.name));
    expect(own.map((s) => s.spec.publishNotReadyAddresses)).toEqual([true, true, true]);
    expect(headless.spec.ports).toEqual([{ name: 'sentinel', port: 26379, targetPort: 26379 }]);
    const selected = ofKind(objects, 'Deployment').filter((d) => matches(headless.spec.selector, podLabels(d)));
    expect(selected).toEqual(sentinelDeployments(objects));
  });

  test('the instances ask the sentinels for the master', () => {
    const { cluster, objects } = build();
    const redis = ofKind(objects, 'Deployment').filter((d) => component(d) === 'redis');
    for (const d of redis) {
      expect(envOf(d)).toMatchObject({ SENTINEL_HOSTS: cluster.sentinelHosts.map(fq).join(' '), SENTINEL_PORT: '26379', MASTER_NAME: 'mymaster' });
    }
  });

  test('monitors a Redis of your own (an IRedisInstance) beside the RedisInstances, telling only these where the sentinels are', () => {
    const chart = new Chart(Testing.app(), 'c', { namespace: 'cache' });
    class ExistingRedis extends Construct implements IRedisInstance {
      public readonly host = 'legacy-redis';
      public readonly port = 6379;
      public readonly clusterDomain = 'cluster.local';
      public readonly engine = RedisEngine.valkey();
    }
    const own = new ExistingRedis(chart, 'Legacy');
    const replica = new RedisInstance(chart, 'R2', { replicaOf: own });
    const cluster = new SentinelCluster(chart, 'Sentinels', { instances: [own, replica] });
    const objects = Testing.synth(chart);
    const legacy = 'legacy-redis.cache.svc.cluster.local';
    for (const d of sentinelDeployments(objects)) {
      expect(envOf(d)).toMatchObject({ INITIAL_MASTER_HOST: legacy, REDIS_HOSTS: `${legacy} ${replica.host}.cache.svc.cluster.local` });
    }
    const [redis] = ofKind(objects, 'Deployment').filter((d) => component(d) === 'redis');
    expect(envOf(redis)).toMatchObject({ INITIAL_MASTER_HOST: legacy, PEER_HOSTS: legacy, MASTER_NAME: 'mymaster' });
    expect(envOf(redis).SENTINEL_HOSTS.split(' ')).toHaveLength(3);
    expect(cluster.instances).toEqual([own, replica]);
  });

  test('each instance knows its peers, to ask them for data before it serves as master', () => {
    const { master, replica, objects } = build();
    const redis = ofKind(objects, 'Deployment').filter((d) => component(d) === 'redis');
    expect(redis.map((d) => [envOf(d).ANNOUNCE_HOST, envOf(d).PEER_HOSTS])).toEqual([[fq(master.host), fq(replica.host)], [fq(replica.host), fq(master.host)]]);
  });

  test('props: 5 sentinels, quorum 3, timings and master name', () => {
    const { objects } = build({
      sentinels: 5, quorum: 3, masterName: 'cache', downAfter: Duration.seconds(2), failoverTimeout: Duration.seconds(9), parallelSyncs: 2,
    });
    expect(sentinelDeployments(objects)).toHaveLength(5);
    expect(sentinelDeployments(objects).map((d) => envOf(d).SENTINEL_QUORUM)).toEqual(['3', '3', '3', '3', '3']);
    const conf = ofKind(objects, 'ConfigMap').find((c) => c.data['sentinel-master.conf']).data['sentinel-master.conf'];
    expect(conf).toBe('sentinel down-after-milliseconds cache 2000\nsentinel failover-timeout cache 9000\nsentinel parallel-syncs cache 2\n');
  });

  test('default quorum is a majority', () => {
    expect(build({ sentinels: 5 }).cluster.quorum).toBe(3);
    expect(build({ sentinels: 7 }).cluster.quorum).toBe(4);
  });

  test('sentinel ids do not change when the chart is synthesized again', () => {
    expect(sentinelDeployments(build().objects).map((d) => envOf(d).SENTINEL_ID))
      .toEqual(sentinelDeployments(build().objects).map((d) => envOf(d).SENTINEL_ID));
  });

  test('auth: the sentinels read the instances\' Secret', () => {
    const { objects } = build({}, RedisAuth.fromSecret('redis-auth', 'pw'));
    for (const d of sentinelDeployments(objects)) {
      expect(envOf(d).REDIS_PASSWORD).toEqual({ secretKeyRef: { name: 'redis-auth', key: 'pw' } });
    }
  });

  describe('fails', () => {
    test.each<[string, SentinelClusterOptions, RegExp]>([
      ['when there are fewer than 3 sentinels', { sentinels: 2 }, /test\/Sentinels: sentinels \(2\) must be an integer at least 3/],
      ['when the sentinels are an even count', { sentinels: 6 }, /test\/Sentinels: sentinels \(6\) must be odd: 6 sentinels tolerate 2 down, as 5 do .*; use 5 or 7/],
      ['when the quorum exceeds the sentinels', { quorum: 4 }, /quorum \(4\) must be an integer between 1 and 3/],
      ['when the quorum is zero', { quorum: 0 }, /quorum \(0\) must be an integer between 1 and 3/],
      ['when the master name is not valid', { masterName: 'my master' }, /masterName \("my master"\) must be 1-64 letters/],
      ['when down-after is zero', { downAfter: Duration.millis(0) }, /downAfter \("0ms"\) must be a positive/],
      ['when down-after is below a second', { downAfter: Duration.millis(999) }, /downAfter \("999ms"\) must be at least 1000ms: the guard/],
      ['when failover-timeout does not exceed down-after', { downAfter: Duration.seconds(10), failoverTimeout: Duration.seconds(10) },
        /failoverTimeout \("10000ms"\) must be greater than downAfter \(10000ms\)/],
      ['when parallel-syncs is zero', { parallelSyncs: 0 }, /parallelSyncs \(0\) must be an integer at least 1/],
    ])('%s', (_, options, error) => {
      expect(() => build(options)).toThrow(error);
    });

    test('when no instance is the initial master', () => {
      const chart = Testing.chart();
      const a = new RedisInstance(chart, 'A');
      const b = new RedisInstance(chart, 'B', { replicaOf: a });
      expect(() => new SentinelCluster(chart, 'S', { instances: [b] })).toThrow(/instances \(\["test\/B"\]\) must hold exactly one initial master/);
    });

    test('when the instances disagree on auth', () => {
      const chart = Testing.chart();
      const a = new RedisInstance(chart, 'A', { auth: RedisAuth.fromSecret('s', 'k') });
      const b = new RedisInstance(chart, 'B', { replicaOf: a });
      expect(() => new SentinelCluster(chart, 'S', { instances: [a, b] })).toThrow(/must share one auth setting/);
    });

    test('when the instances disagree on the cluster domain', () => {
      const chart = Testing.chart();
      const a = new RedisInstance(chart, 'A', { clusterDomain: 'k8s.example' });
      const b = new RedisInstance(chart, 'B', { replicaOf: a });
      expect(() => new SentinelCluster(chart, 'S', { instances: [a, b] })).toThrow(
        'test/S: instances (["k8s.example","cluster.local"]) must share one clusterDomain');
    });

    test('when an instance is monitored twice', () => {
      const chart = Testing.chart();
      const a = new RedisInstance(chart, 'A');
      new SentinelCluster(chart, 'S1', { instances: [a] });
      expect(() => new SentinelCluster(chart, 'S2', { instances: [a] })).toThrow(/test\/A: is already monitored/);
    });
  });
});
