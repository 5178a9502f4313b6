import { Chart, Duration, Size, Testing } from 'cdk8s';
import { ClusterEndpointType, ClusterNode, Persistence, RedisAuth, RedisCluster, RedisClusterProps, RedisEngine, RedisTls } from '../../src';
import { SHARD_LABEL } from '../../src/cluster/cluster-node';
import { admit } from '../e2e/harness/admission';
import { PolicySource, containerEnv, containerOf, envOf, matches, ofKind, podLabels, policyAdmits } from '../util/synth';

function synthCluster(props: RedisClusterProps = {}, namespace?: string): { chart: Chart; cluster: RedisCluster; objects: any[] } {
  const chart = namespace ? new Chart(Testing.app(), 'Default', { namespace }) : Testing.chart();
  const cluster = new RedisCluster(chart, 'cache', props);
  return { chart, cluster, objects: Testing.synth(chart) };
}

const shardOf = (d: any) => Number(podLabels(d)[SHARD_LABEL]);
/** The topology file's shard lines. */
const topologyOf = (objects: any[]): string[] => {
  const topology = ofKind(objects, 'ConfigMap').filter((c) => c.data.shards !== undefined);
  expect(topology).toHaveLength(1);
  return topology[0].data.shards.split('\n').filter((l: string) => l && !l.startsWith('#'));
};
const configOf = (objects: any[], deployment: any) => {
  const volume = deployment.spec.template.spec.volumes.find((v: any) => v.name === 'config');
  return ofKind(objects, 'ConfigMap').find((c) => c.metadata.name === volume.configMap.name).data;
};

describe('RedisCluster: the default, 3 shards x (master + replica) on Valkey', () => {
  const { cluster, objects } = synthCluster();
  const deployments = ofKind(objects, 'Deployment');
  const services = ofKind(objects, 'Service');

  test('one Deployment (1 replica, Recreate), ClusterIP Service and claim per node: 6 of each', () => {
    expect(cluster.nodes).toHaveLength(6);
    for (const kind of ['Deployment', 'Service', 'PersistentVolumeClaim']) expect(ofKind(objects, kind)).toHaveLength(6);
    // One per node and the topology.
    expect(ofKind(objects, 'ConfigMap')).toHaveLength(7);
    for (const d of deployments) {
      expect(d.spec.replicas).toBe(1);
      expect(d.spec.strategy).toEqual({ type: 'Recreate' });
      expect(containerOf(d).image).toBe(RedisEngine.DEFAULT_VALKEY_IMAGE);
    }
  });

  test('each Service exposes the client and bus ports, selects its own pod only, and publishes it whatever its readiness', () => {
    for (const s of services) {
      expect(s.spec.type).toBe('ClusterIP');
      expect(s.spec.ports).toEqual([{ name: 'redis', port: 6379, targetPort: 6379 }, { name: 'bus', port: 16379, targetPort: 16379 }]);
      expect(s.spec.publishNotReadyAddresses).toBe(true);
      expect(deployments.filter((d) => matches(s.spec.selector, podLabels(d)))).toHaveLength(1);
    }
  });

  test('the topology ConfigMap lists each shard, its formation range (an even, contiguous split) and its nodes by announced name; member 0 forms it', () => {
    const envs = deployments.map(envOf);
    expect(envs.map((e) => e.SHARD_FIRST)).toEqual(['true', 'false', 'true', 'false', 'true', 'false']);
    const announced = envs.map((e) => e.ANNOUNCE_HOST);
    expect(new Set(announced).size).toBe(6);
    envs.forEach((e, i) => {
      expect(e.ANNOUNCE_HOST).toBe(`${services[i].metadata.name}.$(POD_NAMESPACE).svc.cluster.local`);
      expect([e.REDIS_PORT, e.BUS_PORT, e.SERVER_BIN, e.CLI_BIN]).toEqual(['6379', '16379', 'valkey-server', 'valkey-cli']);
    });
    expect(topologyOf(objects)).toEqual([
      `0 active 0-5460 ${announced[0]} ${announced[1]}`,
      `1 active 5461-10922 ${announced[2]} ${announced[3]}`,
      `2 active 10923-16383 ${announced[4]} ${announced[5]}`,
    ]);
    // No namespace on the chart: the bare names, which resolve in the namespace it is applied to.
    expect(cluster.seedHosts).toEqual(services.map((s) => s.metadata.name));
  });

  test('with a namespace on the chart, the seeds are fully qualified names that resolve from any namespace', () => {
    const { cluster: inNs, objects: nsObjects } = synthCluster({ clusterDomain: 'corp.example' }, 'sessions');
    const names = ofKind(nsObjects, 'Service').map((s) => `${s.metadata.name}.sessions.svc.corp.example`);
    expect(names).toHaveLength(6);
    expect(inNs.seedHosts).toEqual(names);
    // The same names the nodes announce.
    expect(ofKind(nsObjects, 'Deployment').map((d) => envOf(d).ANNOUNCE_HOST)).toEqual(names);
  });

  test('every node mounts the one topology ConfigMap, outside its config digest', () => {
    const name = cluster.topology.name;
    for (const d of deployments) {
      const volume = d.spec.template.spec.volumes.find((v: any) => v.name === 'topology');
      expect(volume.configMap.name).toBe(name);
      expect(containerOf(d).volumeMounts).toContainEqual({ name: 'topology', mountPath: '/opt/redis-ha-topology', readOnly: true });
    }
  });

  test('the config enables cluster mode with the chart\'s choices, and the ConfigMap holds no secret', () => {
    const conf: string = configOf(objects, deployments[0])['redis.conf'];
    for (const line of ['cluster-enabled yes', 'cluster-port 16379', 'cluster-node-timeout 5000', 'cluster-preferred-endpoint-type ip',
      'cluster-require-full-coverage no', 'cluster-allow-replica-migration no', 'cluster-replica-validity-factor 0',
      'min-replicas-to-write 1', 'min-replicas-max-lag 1', 'appendonly yes', 'cluster-announce-port 6379', 'cluster-announce-bus-port 16379']) {
      expect(conf.split('\n')).toContain(line);
    }
    expect(Object.keys(configOf(objects, deployments[0])).sort()).toEqual(['entrypoint.sh', 'guarantee.sh', 'prestop.sh', 'probe.sh', 'rebalance.sh', 'redis.conf']);
  });

  test('a shard\'s nodes avoid each other\'s Kubernetes node and zone; one budget per shard lets one node of it down', () => {
    for (const d of deployments) {
      const term = d.spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm;
      expect(term.topologyKey).toBe('kubernetes.io/hostname');
      expect(deployments.filter((o) => matches(term.labelSelector.matchLabels, podLabels(o))).map(shardOf)).toEqual([shardOf(d), shardOf(d)]);
    }
    const budgets = ofKind(objects, 'PodDisruptionBudget');
    expect(budgets).toHaveLength(3);
    budgets.forEach((b, shard) => {
      expect(b.spec.maxUnavailable).toBe(1);
      expect(deployments.filter((d) => matches(b.spec.selector.matchLabels, podLabels(d))).map(shardOf)).toEqual([shard, shard]);
    });
  });

  test('secure pods: non-root, read-only root filesystem, no privilege escalation, pinned image', () => {
    for (const d of deployments) {
      const c = containerOf(d);
      expect(c.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
      expect(c.readinessProbe.exec.command).toEqual(['sh', '/opt/redis-ha/probe.sh', 'readiness']);
    }
  });
});

describe('RedisCluster options', () => {
  test('shards and replicas: 4 x (master + 2 replicas), slots still covered once', () => {
    const { objects } = synthCluster({ shards: 4, replicasPerShard: 2, terminationGracePeriod: RedisCluster.graceFor(12) });
    const envs = ofKind(objects, 'Deployment').map(envOf);
    expect(envs).toHaveLength(12);
    expect(topologyOf(objects).map((l) => l.split(' ').slice(0, 3).join(' '))).toEqual(['0 active 0-4095', '1 active 4096-8191', '2 active 8192-12287', '3 active 12288-16383']);
    expect(topologyOf(objects).map((l) => l.split(' ').length)).toEqual([6, 6, 6, 6]);
    expect(envs.filter((e) => e.SHARD_FIRST === 'true')).toHaveLength(4);
  });

  test('adding a shard changes no running node\'s pod template: only the topology and the new shard\'s objects', () => {
    const before = synthCluster({ shards: 3 }).objects;
    const after = synthCluster({ shards: 4 }).objects;
    const templates = (objects: any[]) => new Map(ofKind(objects, 'Deployment').map((d) => [d.metadata.name, JSON.stringify(d.spec.template)]));
    const was = templates(before);
    const now = templates(after);
    expect([...was.keys()].filter((name) => now.get(name) !== was.get(name))).toEqual([]);
    expect(now.size).toBe(8);
    expect(topologyOf(after).map((l) => l.split(' ').slice(0, 3).join(' '))).toEqual(['0 active 0-4095', '1 active 4096-8191', '2 active 8192-12287', '3 active 12288-16383']);
  });

  test('drainedShards: the highest shards drain (no formation range), their Deployments annotated for the scale-in guard', () => {
    const { objects } = synthCluster({ shards: 6, drainedShards: 3, terminationGracePeriod: Duration.seconds(140) });
    expect(topologyOf(objects).map((l) => l.split(' ').slice(0, 3).join(' '))).toEqual([
      '0 active 0-5460', '1 active 5461-10922', '2 active 10923-16383', '3 drain -', '4 drain -', '5 drain -',
    ]);
    const drained = ofKind(objects, 'Deployment').map((d) => [shardOf(d), d.metadata.annotations?.['redis-ha.cdk8s.io/drained']]);
    expect(drained).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5].map((s) => [s, s >= 3 ? 'true' : undefined]));
  });

  test('the scale-in guard: a ValidatingAdmissionPolicy refusing the deletion of a node Deployment not annotated drained, bound to deny', () => {
    const { objects } = synthCluster({}, 'cache-ns');
    const [policy] = ofKind(objects, 'ValidatingAdmissionPolicy');
    const [binding] = ofKind(objects, 'ValidatingAdmissionPolicyBinding');
    expect(policy.metadata.name).toMatch(/^cache-ns-/);
    expect(policy.spec.matchConstraints).toEqual({
      objectSelector: { matchLabels: { 'app.kubernetes.io/instance': expect.any(String), 'app.kubernetes.io/component': 'redis' } },
      resourceRules: [{ apiGroups: ['apps'], apiVersions: ['v1'], operations: ['DELETE'], resources: ['deployments'] }],
    });
    expect(policy.spec.validations[0].expression).toContain("oldObject.metadata.annotations['redis-ha.cdk8s.io/drained'] == 'true'");
    expect(policy.spec.validations[0].message).toContain(binding.metadata.name);
    expect(binding.spec).toEqual({ policyName: policy.metadata.name, validationActions: ['Deny'] });
    expect(ofKind(synthCluster({ scaleInGuard: false }).objects, 'ValidatingAdmissionPolicy')).toEqual([]);
  });

  test('the scale-in guard, evaluated as the API server would: an undrained node\'s delete refused in a live namespace, admitted in one being deleted; a drained one admitted', async () => {
    const { objects } = synthCluster({ drainedShards: 1, shards: 4 }, 'cache-ns');
    const guard = objects.filter((o) => o.kind.startsWith('ValidatingAdmissionPolicy'));
    const nodes = ofKind(objects, 'Deployment');
    const undrained = nodes.find((d) => d.metadata.annotations?.['redis-ha.cdk8s.io/drained'] === undefined);
    const drained = nodes.find((d) => d.metadata.annotations?.['redis-ha.cdk8s.io/drained'] === 'true');
    const remove = (d: any) => ({ operation: 'DELETE' as const, object: null, oldObject: d });
    const namespace = (terminating: boolean) => ({
      apiVersion: 'v1', kind: 'Namespace',
      metadata: { name: 'cache-ns', ...(terminating ? { deletionTimestamp: '2026-12-07T12:00:00Z' } : {}) },
      ...(terminating ? { status: { phase: 'Terminating' } } : {}),
    });
    const live = await admit([...guard, namespace(false)], [remove(undrained), remove(drained)], () => undefined);
    expect(live.denied).toHaveLength(1);
    expect(live.denied[0]).toContain(undrained.metadata.name);
    expect(live.denied[0]).toContain('drain the shard first');
    const terminating = await admit([...guard, namespace(true)], [remove(undrained), remove(drained)], () => undefined);
    expect(terminating.denied).toEqual([]);
  });

  test('every object carries the instance\'s labels, so that a prune or delete by label reaches it; the cluster-scoped guard carries no namespace', () => {
    const { objects } = synthCluster({}, 'cache-ns');
    const instance = podLabels(ofKind(objects, 'Deployment')[0])['app.kubernetes.io/instance'];
    const unlabelled = objects.filter((o) => o.metadata.labels?.['app.kubernetes.io/instance'] !== instance || o.metadata.labels?.['app.kubernetes.io/name'] !== 'redis');
    expect(unlabelled.map((o) => `${o.kind} ${o.metadata.name}`)).toEqual([]);
    const clusterScoped = objects.filter((o) => o.kind.startsWith('ValidatingAdmissionPolicy'));
    expect(clusterScoped.map((o) => [o.kind, o.metadata.namespace])).toEqual([['ValidatingAdmissionPolicy', undefined], ['ValidatingAdmissionPolicyBinding', undefined]]);
    expect(objects.filter((o) => !o.kind.startsWith('ValidatingAdmissionPolicy')).every((o) => o.metadata.namespace === 'cache-ns')).toBe(true);
  });

  test('no replicas: masters only, and min-replicas-to-write 0', () => {
    const { objects } = synthCluster({ replicasPerShard: 0 });
    const deployments = ofKind(objects, 'Deployment');
    expect(deployments).toHaveLength(3);
    expect(configOf(objects, deployments[0])['redis.conf']).toContain('min-replicas-to-write 0\n');
  });

  test('auth: the password reaches the pods from the Secret only', () => {
    const { objects } = synthCluster({ auth: RedisAuth.fromSecret('cache-auth', 'password') });
    for (const d of ofKind(objects, 'Deployment')) {
      expect(envOf(d).REDIS_PASSWORD).toEqual({ secretKeyRef: { name: 'cache-auth', key: 'password' } });
    }
    // The static config holds none: the entrypoint writes requirepass and masterauth to an owner-only file in memory.
    for (const c of ofKind(objects, 'ConfigMap')) expect(c.data['redis.conf'] ?? c.data.shards).not.toMatch(/requirepass|masterauth|password/);
  });

  test('TLS covers clients, replication and the bus; the plain port is closed', () => {
    const { objects } = synthCluster({ tls: RedisTls.fromSecret('cache-tls') });
    const d = ofKind(objects, 'Deployment')[0];
    const conf: string = configOf(objects, d)['redis.conf'];
    for (const line of ['port 0', 'tls-port 6379', 'tls-replication yes', 'tls-cluster yes', 'cluster-announce-tls-port 6379']) expect(conf.split('\n')).toContain(line);
    expect(conf).not.toMatch(/^cluster-announce-port /m);
    expect(envOf(d).TLS_ARGS).toContain('--tls');
    expect(d.spec.template.spec.volumes.find((v: any) => v.name === 'tls').secret.secretName).toBe('cache-tls');
  });

  test('hostname endpoints, node timeout, lag, engine and extra config reach every node', () => {
    const { objects } = synthCluster({
      preferredEndpointType: ClusterEndpointType.HOSTNAME, nodeTimeout: Duration.seconds(3), minReplicasMaxLag: Duration.seconds(2),
      engine: RedisEngine.redis({ image: 'redis:8.0.6' }), extraConfig: { 'maxmemory': '512mb', 'maxmemory-policy': 'allkeys-lru' },
      persistence: Persistence.claim({ size: Size.gibibytes(5) }),
    });
    const d = ofKind(objects, 'Deployment')[0];
    const conf: string = configOf(objects, d)['redis.conf'];
    for (const line of ['cluster-preferred-endpoint-type hostname', 'cluster-node-timeout 3000', 'min-replicas-max-lag 2', 'maxmemory 512mb', 'maxmemory-policy allkeys-lru']) {
      expect(conf.split('\n')).toContain(line);
    }
    expect([containerOf(d).image, envOf(d).SERVER_BIN]).toEqual(['redis:8.0.6', 'redis-server']);
    expect(ofKind(objects, 'PersistentVolumeClaim')[0].spec.resources.requests.storage).toBe('5Gi');
  });

  test('a namespace on the chart is written into every announced name', () => {
    const { objects } = synthCluster({}, 'shop');
    for (const d of ofKind(objects, 'Deployment')) expect(envOf(d).ANNOUNCE_HOST).toMatch(/^[-a-z0-9]+\.shop\.svc\.cluster\.local$/);
  });

  test('network policy: the client port from clients and nodes, the bus from nodes only', () => {
    const clientLabels = { 'cache-client': 'true' };
    const { objects } = synthCluster({ networkPolicy: { clientLabels }, metrics: {} });
    const [policy] = ofKind(objects, 'NetworkPolicy');
    const nodeLabels = podLabels(ofKind(objects, 'Deployment')[0]);
    expect(ofKind(objects, 'Deployment').every((d) => matches(policy.spec.podSelector.matchLabels, podLabels(d)))).toBe(true);
    const sources: Array<[string, PolicySource]> = [['node', { labels: nodeLabels }], ['client', { labels: clientLabels }], ['stranger', { labels: { app: 'web' } }],
      ['client@web', { labels: clientLabels, namespace: 'web' }], ['node-like@web', { labels: nodeLabels, namespace: 'web' }]];
    const admitted = (port: number, p = policy) => sources.filter(([, source]) => policyAdmits(p, port, source)).map(([name]) => name);
    expect(admitted(ClusterNode.PORT)).toEqual(['node', 'client']);
    expect(admitted(ClusterNode.BUS_PORT)).toEqual(['node']);
    expect(admitted(9121)).toEqual(['node', 'client', 'stranger', 'client@web', 'node-like@web']);
    // clientNamespaceLabels: labelled clients of those namespaces too; the bus stays the nodes' own.
    const [web] = ofKind(synthCluster({ networkPolicy: { clientLabels, clientNamespaceLabels: { 'kubernetes.io/metadata.name': 'web' } } }).objects, 'NetworkPolicy');
    expect(admitted(ClusterNode.PORT, web)).toEqual(['node', 'client', 'client@web']);
    expect(admitted(ClusterNode.BUS_PORT, web)).toEqual(['node']);
  });

  test('metrics: an exporter sidecar per node in cluster mode, a metrics port on each Service', () => {
    const { objects } = synthCluster({ metrics: { serviceMonitor: true } });
    for (const d of ofKind(objects, 'Deployment')) {
      const exporter = containerOf(d, 'exporter');
      expect(exporter.name).toBe('exporter');
      expect(containerEnv(exporter)).toMatchObject({ REDIS_ADDR: 'redis://localhost:6379', REDIS_EXPORTER_IS_CLUSTER: 'true' });
    }
    for (const s of ofKind(objects, 'Service')) expect(s.spec.ports.map((p: any) => p.name)).toEqual(['redis', 'bus', 'metrics']);
    expect(ofKind(objects, 'ServiceMonitor')).toHaveLength(1);
  });
});

describe('RedisCluster refuses, at synth, naming the prop', () => {
  test.each([
    [{ shards: 2 }, /test\/cache: shards \(2\) must be an integer between 3 and 16384/],
    [{ shards: 16385 }, /shards \(16385\) must be an integer between 3 and 16384/],
    [{ shards: 3.5 }, /shards \(3.5\) must be an integer/],
    [{ shards: 600 }, /shards \(600\) with 1 replicas per shard gives 1200 nodes; a cluster may have at most 1000/],
    [{ shards: 4, drainedShards: 2 }, /test\/cache: drainedShards \(2\) must leave at least 3 of the 4 shards serving \(at most 1\): a failover needs a majority of masters/],
    [{ drainedShards: 1 }, /drainedShards \(1\) must leave at least 3 of the 3 shards serving \(at most 0\)/],
    [{ shards: 6 }, /test\/cache: terminationGracePeriod \("120000ms"\) is too short for 12 nodes: an apply that replaces every node needs 20s \+ 10s a node, at least 140s/],
    [{ shards: 100, terminationGracePeriod: Duration.seconds(300) }, /terminationGracePeriod \("300000ms"\) is too short for 200 nodes: .* at least 2020s/],
    [{ drainedShards: -1 }, /drainedShards \(-1\) must be an integer at least 0/],
    [{ replicasPerShard: -1 }, /replicasPerShard \(-1\) must be an integer at least 0/],
    [{ replicasPerShard: 0, minReplicasToWrite: 1 }, /minReplicasToWrite \(1\) must be an integer between 0 and 0/],
    [{ nodeTimeout: Duration.millis(500) }, /nodeTimeout \("500ms"\) must be at least 1s/],
    [{ minReplicasMaxLag: Duration.millis(1500) }, /minReplicasMaxLag \("1500ms"\) must be a whole number of seconds/],
    [{ extraConfig: { 'cluster-node-timeout': '100' } }, /extraConfig\["cluster-node-timeout"\] \("cluster-node-timeout"\) is not allowed in cluster mode: use nodeTimeout/],
    [{ extraConfig: { 'cluster-enabled': 'no' } }, /extraConfig\["cluster-enabled"\] \("cluster-enabled"\) is set by the chart/],
    [{ extraConfig: { replicaof: 'x 6379' } }, /extraConfig\["replicaof"\] \("replicaof"\) is not allowed in cluster mode/],
    [{ extraConfig: { maxmemory: '2gb' } }, /extraConfig\["maxmemory"\] \("2gb"\) must be below the container's memory limit/],
    [{ preferredEndpointType: 'unknown' as ClusterEndpointType }, /preferredEndpointType \("unknown"\) must be one of ip, hostname/],
    [{ engine: RedisEngine.redis({ image: 'redis:latest' }) }, /engine/],
    [{ networkPolicy: { clientLabels: {} } }, /networkPolicy.clientLabels \(\{\}\) must name at least one label/],
  ])('%j', (props, message) => {
    expect(() => synthCluster(props as RedisClusterProps)).toThrow(message);
  });
});
