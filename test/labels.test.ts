import { Names, Testing } from 'cdk8s';
import { Persistence, RedisAuth, RedisHa, RedisInstance, SentinelCluster, SentinelProxy } from '../src';
import { imageVersion } from '../src/labels';
import { matches, ofKind, synthRedisHa } from './util/synth';

const RECOMMENDED = ['name', 'instance', 'component', 'part-of', 'managed-by', 'version'].map((l) => `app.kubernetes.io/${l}`);

describe('labels', () => {
  const everything = {
    auth: RedisAuth.fromSecret('redis-auth', 'pw'),
    redis: { persistence: Persistence.hostPath({ directory: '/srv/redis' }) },
    networkPolicy: { clientLabels: { 'redis-client': 'true' } },
    metrics: { serviceMonitor: true },
  };

  test('every object carries the recommended labels; instance names the RedisHa', () => {
    const { ha, objects } = synthRedisHa(everything);
    expect(new Set(objects.map((o) => o.kind))).toEqual(new Set(['Service', 'PersistentVolume', 'PersistentVolumeClaim', 'ConfigMap',
      'Deployment', 'PodDisruptionBudget', 'NetworkPolicy', 'ServiceMonitor']));
    for (const o of objects) {
      const labels = o.metadata.labels ?? {};
      expect({ object: `${o.kind}/${o.metadata.name}`, missing: RECOMMENDED.filter((l) => !(l in labels)) })
        .toEqual({ object: `${o.kind}/${o.metadata.name}`, missing: [] });
      expect(labels['app.kubernetes.io/instance']).toBe(Names.toLabelValue(ha));
      expect(labels['app.kubernetes.io/name']).toBe('redis');
      expect(labels['app.kubernetes.io/part-of']).toBe('redis-ha');
      expect(labels['app.kubernetes.io/managed-by']).toBe('cdk8s');
    }
  });

  test('component and version follow the object: Redis and sentinels run valkey 9.1.4, the proxy haproxy 3.0.27', () => {
    const { objects } = synthRedisHa(everything);
    const versions: Record<string, Set<string>> = {};
    for (const o of objects) {
      const l = o.metadata.labels;
      (versions[l['app.kubernetes.io/component']] ??= new Set()).add(l['app.kubernetes.io/version']);
    }
    expect(Object.fromEntries(Object.entries(versions).map(([c, v]) => [c, [...v]]))).toEqual({
      redis: ['9.1.4'], sentinel: ['9.1.4'], proxy: ['3.0.27'], metrics: ['v1.62.0'],
    });
    // Objects about pods are labelled as the pods they select.
    for (const o of objects.filter((x) => ['PodDisruptionBudget', 'NetworkPolicy'].includes(x.kind))) {
      const selector = o.kind === 'NetworkPolicy' ? o.spec.podSelector.matchLabels : o.spec.selector.matchLabels;
      expect(o.metadata.labels['app.kubernetes.io/component']).toBe(selector['app.kubernetes.io/component']);
    }
  });

  test('pod templates carry them too, and Deployment selectors stay the immutable per-Deployment address only', () => {
    const { objects } = synthRedisHa(everything);
    for (const d of ofKind(objects, 'Deployment')) {
      const podLabels = d.spec.template.metadata.labels;
      for (const l of RECOMMENDED) expect(podLabels[l]).toBe(d.metadata.labels[l]);
      expect(Object.keys(d.spec.selector.matchLabels)).toEqual(['cdk8s.io/metadata.addr']);
    }
  });

  test('no selector uses the version, so an image upgrade changes no selector', () => {
    const { objects } = synthRedisHa(everything);
    const selectors: Array<Record<string, string>> = [];
    const collect = (x: any): void => {
      if (Array.isArray(x)) x.forEach(collect);
      else if (x && typeof x === 'object') for (const [k, v] of Object.entries(x)) if (k === 'matchLabels') selectors.push(v as any); else collect(v);
    };
    collect(objects);
    for (const service of ofKind(objects, 'Service')) selectors.push(service.spec.selector);
    // Deployments, PDBs, policies (target and peers), affinity, spread, the ServiceMonitor, Services.
    expect(selectors.length).toBeGreaterThan(40);
    for (const selector of selectors) expect(Object.keys(selector)).not.toContain('app.kubernetes.io/version');
  });

  test('two RedisHa in one chart: distinct instances, and each one\'s selectors match only its own pods', () => {
    const chart = Testing.chart();
    const a = new RedisHa(chart, 'a');
    const b = new RedisHa(chart, 'b');
    const objects = Testing.synth(chart);
    const pods = ofKind(objects, 'Deployment').map((d) => d.spec.template.metadata.labels);
    expect(Names.toLabelValue(a)).not.toBe(Names.toLabelValue(b));
    for (const budget of ofKind(objects, 'PodDisruptionBudget')) {
      const selected = pods.filter((p) => matches(budget.spec.selector.matchLabels, p));
      expect(new Set(selected.map((p) => p['app.kubernetes.io/instance']))).toEqual(new Set([budget.metadata.labels['app.kubernetes.io/instance']]));
    }
  });

  test('layers composed without a RedisHa are labelled as their sentinel cluster\'s group', () => {
    const chart = Testing.chart();
    const master = new RedisInstance(chart, 'Master');
    const replica = new RedisInstance(chart, 'Replica', { replicaOf: master });
    const sentinels = new SentinelCluster(chart, 'Sentinels', { instances: [master, replica] });
    new SentinelProxy(chart, 'Proxy', { sentinels });
    for (const o of Testing.synth(chart)) {
      expect(o.metadata.labels['app.kubernetes.io/instance']).toBe(Names.toLabelValue(sentinels));
    }
  });

  test.each([
    ['redis:7.0.15', '7.0.15'],
    ['registry.example:5000/library/redis:7.2.4', '7.2.4'],
    ['redis:7.2.4@sha256:' + 'a'.repeat(64), '7.2.4'],
    ['redis@sha256:' + 'a'.repeat(64), undefined],
    ['registry.example:5000/redis@sha256:' + 'a'.repeat(64), undefined],
    ['redis:' + 'x'.repeat(64), undefined],
  ])('the version of %s is %s', (image, version) => {
    expect(imageVersion(image)).toBe(version);
  });
});
