import { ApiObject, Testing } from 'cdk8s';
import { RedisInstance, SentinelCluster } from '../src';
import { Sentinel } from '../src/sentinel/sentinel';
import { envOf } from './util/synth';

describe('Sentinel', () => {
  const chart = Testing.chart();
  const master = new RedisInstance(chart, 'R1');
  const cluster = new SentinelCluster(chart, 'Sentinels', { instances: [master] });
  const sentinels = cluster.node.children.filter((c): c is Sentinel => c instanceof Sentinel);
  const objectsOf = (sentinel: Sentinel) => sentinel.node.findAll().filter((c) => ApiObject.isApiObject(c));

  test('the cluster is one Sentinel per sentinel, each owning its Service, claim and Deployment', () => {
    expect(sentinels.map((s) => s.node.id)).toEqual(['Sentinel1', 'Sentinel2', 'Sentinel3']);
    for (const s of sentinels) {
      expect(objectsOf(s).map((o) => o.kind)).toEqual(['Service', 'PersistentVolumeClaim', 'Deployment']);
    }
    expect(sentinels.map((s) => s.host)).toEqual(cluster.sentinelHosts);
  });

  test('announces its own Service by its fully qualified name, and knows every peer for its preStop', () => {
    for (const s of sentinels) {
      const service = objectsOf(s).find((o) => o.kind === 'Service')!;
      expect(s.announcedName).toBe(`${service.name}.$(POD_NAMESPACE).svc.cluster.local`);
      const env = envOf(objectsOf(s).find((o) => o.kind === 'Deployment')!.toJson());
      expect(env.ANNOUNCE_HOST).toBe(s.announcedName);
      expect(env.SENTINEL_HOSTS).toBe(sentinels.map((peer) => peer.announcedName).join(' '));
    }
  });
});
