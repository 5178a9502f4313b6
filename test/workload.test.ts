import { readFileSync } from 'fs';
import { join } from 'path';
import { ApiObject, Size, Testing } from 'cdk8s';
import {
  ConfigMap, Deployment, Service, WorkloadSpec, configMapVolume, env, memoryVolume, rollOnConfigChange,
} from '../src/workload';
import * as k8s from '../src/k8s-api';

const SPEC: WorkloadSpec = {
  image: 'example/server:1.0.0',
  uid: 1000,
  env: { FIRST: env('1'), SECOND: env(2) },
  ports: { server: 7000 },
  resources: { cpuRequestMillis: 10, cpuLimitMillis: 100, memoryRequest: Size.mebibytes(16), memoryLimit: Size.gibibytes(1) },
  replicas: 1,
  recreate: true,
  labels: { 'app.kubernetes.io/name': 'example' },
};

function synthOne(build: (chart: ReturnType<typeof Testing.chart>) => void): any[] {
  const chart = Testing.chart();
  build(chart);
  return Testing.synth(chart);
}

describe('the Kubernetes API subset the chart writes (src/k8s-api.ts)', () => {
  test('each kind is a core cdk8s ApiObject of its apiVersion and kind, its typed spec written as given', () => {
    const selector = { matchLabels: { app: 'x' } };
    const objects = synthOne((chart) => {
      new k8s.KubeConfigMap(chart, 'ConfigMap', { data: { 'a.conf': 'x' }, immutable: false });
      new k8s.KubePersistentVolumeClaim(chart, 'Claim', {
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, volumeMode: 'Filesystem' },
      });
      new k8s.KubePersistentVolume(chart, 'Volume', {
        spec: {
          capacity: { storage: '1024Mi' }, accessModes: ['ReadWriteOnce'], persistentVolumeReclaimPolicy: 'Retain', storageClassName: '',
          hostPath: { path: '/srv/x', type: 'Directory' },
        },
      });
      new k8s.KubePodDisruptionBudget(chart, 'Budget', { spec: { selector, maxUnavailable: 1 } });
      new k8s.KubeNetworkPolicy(chart, 'Policy', { spec: { podSelector: selector, policyTypes: ['Ingress'], ingress: [{ ports: [{ protocol: 'TCP', port: 80 }] }] } });
      new k8s.KubeService(chart, 'Service', {
        spec: { type: 'ClusterIP', clusterIP: 'None', externalIPs: [], selector: selector.matchLabels, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
      });
    });
    expect(objects.map((o) => `${o.apiVersion} ${o.kind}`)).toEqual([
      'v1 ConfigMap', 'v1 PersistentVolumeClaim', 'v1 PersistentVolume', 'policy/v1 PodDisruptionBudget', 'networking.k8s.io/v1 NetworkPolicy', 'v1 Service',
    ]);
    expect(objects[3].spec).toEqual({ selector, maxUnavailable: 1 });
    expect(objects[5].spec).toEqual({ type: 'ClusterIP', clusterIP: 'None', externalIPs: [], selector: { app: 'x' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] });
  });

  test(`is validated against Kubernetes ${k8s.KUBERNETES_API_RANGE.oldest} and ${k8s.KUBERNETES_API_RANGE.newest} (test/schema.test.ts)`, () => {
    const schemaTest = readFileSync(join(__dirname, 'schema.test.ts'), 'utf8');
    for (const release of Object.values(k8s.KUBERNETES_API_RANGE)) expect(schemaTest).toContain(`kubernetes: '${release}'`);
  });
});

describe('Deployment', () => {
  test('runs its pods as the image\'s non-root uid, read-only, without capabilities, token or privilege escalation', () => {
    const [deployment] = synthOne((chart) => new Deployment(chart, 'Deployment', SPEC));
    const pod = deployment.spec.template.spec;
    expect(pod.securityContext).toEqual({
      fsGroup: 1000, fsGroupChangePolicy: 'Always', runAsGroup: 1000, runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.containers[0].securityContext).toEqual({
      allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, privileged: false, readOnlyRootFilesystem: true,
      runAsGroup: 1000, runAsNonRoot: true, runAsUser: 1000,
    });
    expect(pod.containers[0].imagePullPolicy).toBe('IfNotPresent');
    expect(pod.containers[0].resources).toEqual({ limits: { cpu: '100m', memory: '1024Mi' }, requests: { cpu: '10m', memory: '16Mi' } });
  });

  test('selects its pods by their construct address, which its Services select too', () => {
    const objects = synthOne((chart) => {
      const deployment = new Deployment(chart, 'Deployment', SPEC);
      new Service(chart, 'Service', { ports: [{ name: 'server', port: 7000 }] }).select(deployment);
    });
    const [deployment, service] = objects;
    const selector = deployment.spec.selector.matchLabels;
    expect(Object.keys(selector)).toEqual(['cdk8s.io/metadata.addr']);
    expect(deployment.spec.template.metadata.labels).toEqual(expect.objectContaining(selector));
    expect(service.spec.selector).toEqual(selector);
    expect(service.spec.ports).toEqual([{ name: 'server', port: 7000, targetPort: 7000 }]);
  });

  test('keeps a variable set again in its first place, and mounts each volume once', () => {
    const [deployment] = synthOne((chart) => {
      const d = new Deployment(chart, 'Deployment', SPEC);
      const run = memoryVolume('run', Size.mebibytes(1));
      d.containers[0].env.addVariable('THIRD', env('3'));
      d.containers[0].env.addVariable('FIRST', env('one'));
      d.containers[0].mount('/run/a', run);
      d.addContainer('sidecar', { ...SPEC, env: {} }).mount('/run/b', run, { readOnly: true });
    });
    const [main, sidecar] = deployment.spec.template.spec.containers;
    expect(main.env).toEqual([{ name: 'FIRST', value: 'one' }, { name: 'SECOND', value: '2' }, { name: 'THIRD', value: '3' }]);
    expect(sidecar.volumeMounts).toEqual([{ name: 'run', mountPath: '/run/b', readOnly: true }]);
    expect(deployment.spec.template.spec.volumes).toEqual([{ name: 'run', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } }]);
  });

  test('fails when two different volumes share a name', () => {
    const chart = Testing.chart();
    const d = new Deployment(chart, 'Deployment', SPEC);
    d.containers[0].mount('/a', memoryVolume('run', Size.mebibytes(1)));
    d.containers[0].mount('/b', memoryVolume('run', Size.mebibytes(2)));
    expect(() => Testing.synth(chart)).toThrow(/Deployment: two different volumes are named "run"/);
  });

  test('rolls its pods when its ConfigMap changes', () => {
    const digest = (data: { [key: string]: string }) => {
      const [, deployment] = synthOne((chart) => {
        const config = new ConfigMap(chart, 'Config', { data });
        const d = new Deployment(chart, 'Deployment', SPEC);
        d.containers[0].mount('/etc/example', configMapVolume('config', config), { readOnly: true });
        rollOnConfigChange(d, config);
      });
      return deployment.spec.template.metadata.annotations['redis-ha.cdk8s.io/config-hash'];
    };
    expect(digest({ 'a.conf': 'x' })).toMatch(/^[0-9a-f]{16}$/);
    expect(digest({ 'a.conf': 'x' })).toBe(digest({ 'a.conf': 'x' }));
    expect(digest({ 'a.conf': 'y' })).not.toBe(digest({ 'a.conf': 'x' }));
  });

  test('is its object for core cdk8s escape hatches (ApiObject.of)', () => {
    const chart = Testing.chart();
    const d = new Deployment(chart, 'Deployment', SPEC);
    expect(ApiObject.of(d)).toBe(d.apiObject);
    expect(d.name).toBe(d.apiObject.name);
  });
});
