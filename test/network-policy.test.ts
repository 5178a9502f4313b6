import { PolicySource, component, matches, ofKind, podLabels, policyAdmits, synthRedisHa } from './util/synth';

describe('network policies', () => {
  const clientLabels = { 'redis-client': 'true' };
  const { objects } = synthRedisHa({ networkPolicy: { clientLabels } });
  const policies = ofKind(objects, 'NetworkPolicy');
  const deployments = ofKind(objects, 'Deployment');
  const client = { metadata: { labels: { ...clientLabels, app: 'web' } } };
  const stranger = { metadata: { labels: { app: 'web' } } };

  /** The component of a policy's pods. */
  const policyOf = (all: any[], target: string) => ofKind(all, 'NetworkPolicy').find((p) => {
    const selected = ofKind(all, 'Deployment').filter((d) => matches(p.spec.podSelector.matchLabels, podLabels(d)));
    return selected.length > 0 && selected.every((d) => component(d) === target);
  });

  /**
   * Which components, clients or strangers (the last two in the chart's namespace, or, with a suffix, in
   * namespace "web") a policy admits on a port, by evaluating its selectors against real pod labels.
   */
  function admitted(target: string, port: number, all: any[] = objects): string[] {
    const sources: Array<PolicySource & { name: string }> = [
      ...ofKind(all, 'Deployment').map((d) => ({ name: component(d), labels: podLabels(d) })),
      { name: 'client', labels: client.metadata.labels }, { name: 'stranger', labels: stranger.metadata.labels },
      { name: 'client@web', labels: client.metadata.labels, namespace: 'web' }, { name: 'stranger@web', labels: stranger.metadata.labels, namespace: 'web' },
    ];
    return [...new Set(sources.filter((s) => policyAdmits(policyOf(all, target), port, s)).map((s) => s.name))].sort();
  }

  test('one ingress policy per component, each selecting exactly that component\'s pods', () => {
    expect(policies).toHaveLength(3);
    for (const p of policies) {
      expect(p.spec.policyTypes).toEqual(['Ingress']);
      const selected = deployments.filter((d) => matches(p.spec.podSelector.matchLabels, podLabels(d)));
      expect(new Set(selected.map(component)).size).toBe(1);
    }
  });

  test('Redis 6379: proxy, sentinels, Redis and labelled clients only', () => {
    expect(admitted('redis', 6379)).toEqual(['client', 'proxy', 'redis', 'sentinel']);
  });

  test('sentinels 26379: sentinels, Redis, proxy and labelled clients only', () => {
    expect(admitted('sentinel', 26379)).toEqual(['client', 'proxy', 'redis', 'sentinel']);
  });

  test('proxy 6379: labelled clients only; its health port stays open for probes', () => {
    expect(admitted('proxy', 6379)).toEqual(['client']);
    expect(admitted('proxy', 8404)).toContain('stranger');
  });

  test('clientNamespaceLabels: labelled clients of the namespaces it selects too, and still those of the chart\'s own', () => {
    const web = synthRedisHa({ networkPolicy: { clientLabels, clientNamespaceLabels: { 'kubernetes.io/metadata.name': 'web' } } }).objects;
    expect(admitted('proxy', 6379, web)).toEqual(['client', 'client@web']);
    expect(admitted('redis', 6379, web)).toEqual(['client', 'client@web', 'proxy', 'redis', 'sentinel']);
    expect(admitted('sentinel', 26379, web)).toEqual(['client', 'client@web', 'proxy', 'redis', 'sentinel']);
    // `{}`: every namespace's labelled clients; never an unlabelled pod.
    const any = synthRedisHa({ networkPolicy: { clientLabels, clientNamespaceLabels: {} } }).objects;
    expect(admitted('proxy', 6379, any)).toEqual(['client', 'client@web']);
    // By default, the chart's namespace only.
    expect(admitted('proxy', 6379)).toEqual(['client']);
  });

  test('proxy 6380 (readReplicas): labelled clients only, as on 6379', () => {
    const { objects: withReads } = synthRedisHa({ networkPolicy: { clientLabels }, proxy: { readReplicas: true } });
    const proxyPolicy = ofKind(withReads, 'NetworkPolicy').find((p) => p.spec.podSelector.matchLabels['app.kubernetes.io/component'] === 'proxy');
    const clientRule = proxyPolicy.spec.ingress.find((r: any) => r.from);
    expect(clientRule.from).toEqual([{ podSelector: { matchLabels: clientLabels } }]);
    expect(clientRule.ports.map((p: any) => p.port).sort()).toEqual([6379, 6380]);
    // Without readReplicas, 6380 stays closed.
    expect(admitted('proxy', 6380)).toEqual([]);
  });

  test('off by default', () => {
    expect(ofKind(synthRedisHa().objects, 'NetworkPolicy')).toHaveLength(0);
  });

  test('fails when no client label is given', () => {
    expect(() => synthRedisHa({ networkPolicy: { clientLabels: {} } })).toThrow(/test\/redis: networkPolicy.clientLabels \(\{\}\) must name at least one label/);
  });
});
