import { ConfigMap, PersistentVolume, PersistentVolumeClaim, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { Persistence, RedisAuth, RedisTls } from '../src';
import { synthRedisHa } from './util/synth';

// kubernetes-models 4.4.x carries the Kubernetes 1.27 schemas (container resizePolicy, no sidecar restartPolicy).
const models: Record<string, new (o: any) => any> = {
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'v1/ConfigMap': ConfigMap,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'v1/PersistentVolume': PersistentVolume,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
};

describe('every synthesized object validates against the Kubernetes OpenAPI schema', () => {
  test.each([
    ['the default chart', {}],
    ['5 sentinels, auth, hostPath', {
      sentinel: { sentinels: 5, persistence: Persistence.hostPath({ directory: '/srv/redis' }) },
      redis: { persistence: Persistence.hostPath({ directory: '/srv/redis' }) },
      auth: RedisAuth.fromSecret('redis-auth', 'password'),
      networkPolicy: { clientLabels: { 'redis-client': 'true' } },
    }],
    ['TLS, metrics, read replicas', { tls: RedisTls.fromSecret('redis-tls'), metrics: {}, proxy: { readReplicas: true } }],
  ])('%s', (_, props) => {
    const { objects } = synthRedisHa(props);
    for (const o of objects) {
      const Model = models[`${o.apiVersion}/${o.kind}`];
      expect(Model).toBeDefined();
      expect(() => new Model(o).validate()).not.toThrow();
    }
  });
});
