import { AntiAffinity } from '../src';
import { component, matches, ofKind, synthRedisHa } from './util/synth';

describe('spreading', () => {
  test('default: each pod prefers a node without another pod of its component, and zones even', () => {
    const { objects } = synthRedisHa();
    const deployments = ofKind(objects, 'Deployment');
    for (const d of deployments) {
      const spec = d.spec.template.spec;
      const [pref] = spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution;
      expect(pref.podAffinityTerm.topologyKey).toBe('kubernetes.io/hostname');
      const selected = deployments.filter((o) => matches(pref.podAffinityTerm.labelSelector.matchLabels, o.spec.template.metadata.labels));
      expect(selected.map(component)).toEqual(selected.map(() => component(d)));
      expect(selected.length).toBe(deployments.filter((o) => component(o) === component(d)).length);
      expect(spec.topologySpreadConstraints).toEqual([expect.objectContaining({
        topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', maxSkew: 1,
      })]);
    }
  });

  test('required anti-affinity on request, and none', () => {
    const required = ofKind(synthRedisHa({ spread: { antiAffinity: AntiAffinity.REQUIRED } }).objects, 'Deployment');
    for (const d of required) {
      expect(d.spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey).toBe('kubernetes.io/hostname');
    }
    const none = ofKind(synthRedisHa({ spread: { antiAffinity: AntiAffinity.NONE, acrossZones: false } }).objects, 'Deployment');
    for (const d of none) {
      expect(d.spec.template.spec.affinity).toBeUndefined();
      expect(d.spec.template.spec.topologySpreadConstraints).toBeUndefined();
    }
  });
});

describe('disruption budgets', () => {
  test('default: one Redis at a time, a sentinel majority, one proxy serving; each selects its own pods', () => {
    const { objects } = synthRedisHa();
    const budgets = ofKind(objects, 'PodDisruptionBudget');
    expect(budgets).toHaveLength(3);
    const deployments = ofKind(objects, 'Deployment');
    const byComponent = Object.fromEntries(budgets.map((b) => {
      const selected = deployments.filter((d) => matches(b.spec.selector.matchLabels, d.spec.template.metadata.labels));
      expect(new Set(selected.map(component)).size).toBe(1);
      return [component(selected[0]), { spec: b.spec, count: selected.length }];
    }));
    expect(byComponent.redis).toEqual({ spec: expect.objectContaining({ maxUnavailable: 1 }), count: 3 });
    expect(byComponent.sentinel).toEqual({ spec: expect.objectContaining({ minAvailable: 2 }), count: 3 });
    expect(byComponent.proxy).toEqual({ spec: expect.objectContaining({ maxUnavailable: 1 }), count: 1 });
  });

  test('the sentinel budget keeps the larger of quorum and majority', () => {
    const sentinelBudget = (objects: any[]) => ofKind(objects, 'PodDisruptionBudget').find((b) => b.spec.minAvailable !== undefined).spec.minAvailable;
    expect(sentinelBudget(synthRedisHa({ sentinel: { sentinels: 5 } }).objects)).toBe(3);
    expect(sentinelBudget(synthRedisHa({ sentinel: { sentinels: 5, quorum: 4 } }).objects)).toBe(4);
  });

  test('can be turned off', () => {
    expect(ofKind(synthRedisHa({ disruptionBudgets: false }).objects, 'PodDisruptionBudget')).toHaveLength(0);
  });
});
