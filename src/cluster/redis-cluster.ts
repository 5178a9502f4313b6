import { ApiObject, Duration } from 'cdk8s';
import { Construct } from 'constructs';
import { RedisAuth } from '../auth';
import { DEFAULT_CLUSTER_DOMAIN, checkClusterDomain, clientDnsName } from '../cluster-dns';
import { ComputeResources } from '../compute-resources';
import { addDisruptionBudget } from '../disruption-budget';
import { RedisEngine } from '../engine';
import { COMPONENT_LABEL, PodComponent, groupLabelsOf, instanceLabel, labelObjects, markGroup } from '../labels';
import { DEFAULT_REDIS_EXPORTER_IMAGE, MetricsOptions, REDIS_EXPORTER_PORT, addMetrics } from '../metrics';
import { NetworkPolicyOptions } from '../network-policy';
import { addClusterNetworkPolicy } from './cluster-network-policy';
import { Persistence } from '../persistence';
import { CHART_OWNED_DIRECTIVES, checkExtraConfig, withMemoryDefaults } from '../server-config';
import { SpreadOptions, applySpread } from '../spread';
import { PodSettings } from '../pod-settings';
import { resolvePodSettings } from '../resolved-pod-settings';
import { RedisTls } from '../tls';
import { checkDurationMs, checkInt, fail } from '../validation';
import { ConfigMap, SERVER_RESOURCES, resolveResources } from '../workload';
import { ClusterEndpointType } from './cluster-config';
import { ClusterNode, SHARD_LABEL } from './cluster-node';
import { CLUSTER_SLOTS } from './slots';
import { DRAINED_ANNOTATION, ScaleInGuard } from './scale-in-guard';
import { ShardState, TOPOLOGY_DIR, TOPOLOGY_FILE, renderTopology } from './topology';

/** Props of a {@link RedisCluster}. */
export interface RedisClusterProps {
  /**
   * The server every node runs, and its image: `RedisEngine.valkey()` or `RedisEngine.redis()`.
   * @default RedisEngine.valkey() - RedisEngine.DEFAULT_VALKEY_IMAGE
   */
  readonly engine?: RedisEngine;
  /**
   * Shards: each a master owning an even share of the 16384 hash slots, with its replicas. At least
   * 3, so that a majority of masters can elect a failed master's replica. Raising it on a running
   * cluster adds shards, and the cluster moves slots to them until every shard holds its share, under
   * writes, with no manual step. To lower it, drain the shards first (`drainedShards`).
   * @default 3
   */
  readonly shards?: number;
  /**
   * How many of the highest-numbered shards to drain: their nodes keep running while the cluster
   * moves every slot they own to the other shards. The first step of removing shards: once
   * `probe.sh drained` succeeds on their nodes, lower `shards` by this number in the next apply.
   * Deleting a shard's Deployment that was not drained is refused by the chart's admission policy.
   * @default 0
   */
  readonly drainedShards?: number;
  /**
   * A ValidatingAdmissionPolicy (Kubernetes 1.30+) that refuses deleting a node's Deployment unless
   * an earlier apply drained its shard: a scale in that skips the drain is refused by the API server,
   * before any pod stops. Both of its objects are cluster-scoped. Turn it off on Kubernetes older
   * than 1.30, or where the chart may not create cluster-scoped objects.
   * @default true
   */
  readonly scaleInGuard?: boolean;
  /**
   * Replicas of each shard's master, each on another Kubernetes node where the scheduler can.
   * With 0, a shard whose master fails stops serving its slots until the master is back.
   * @default 1
   */
  readonly replicasPerShard?: number;
  /**
   * Where each node keeps nodes.conf and its AOF, mounted at /data: one claim per node.
   * @default Persistence.claim() - 1Gi from the default StorageClass
   */
  readonly persistence?: Persistence;
  /**
   * CPU and memory of each node's server container.
   * @default - requests 100m CPU and 256Mi, limits 1000m CPU and 1Gi
   */
  readonly resources?: ComputeResources;
  /**
   * Password for clients, replication and the nodes' own calls, from an existing Secret.
   * @default - no authentication
   */
  readonly auth?: RedisAuth;
  /**
   * TLS for clients, replication and the cluster bus, from an existing Secret; plain-text ports are closed.
   * The certificate must name every node's Service (`*.<namespace>.svc.<clusterDomain>` covers them),
   * and, with `preferredEndpointType: ClusterEndpointType.IP`, clients must not check names.
   * @default - plain TCP
   */
  readonly tls?: RedisTls;
  /**
   * `cluster-node-timeout`: a master unreachable this long from a majority of masters is failed
   * over to its replica; a master cut off from the majority this long stops accepting writes.
   * @default Duration.seconds(5)
   */
  readonly nodeTimeout?: Duration;
  /**
   * A master refuses writes unless this many of its replicas acknowledged within
   * `minReplicasMaxLag`: a master cut off from its replicas stops acknowledging writes that the
   * failover would lose. The cost: a shard whose replicas are all down refuses writes.
   * @default 1 when replicasPerShard is at least 1, else 0
   */
  readonly minReplicasToWrite?: number;
  /**
   * The replica lag `minReplicasToWrite` tolerates (whole seconds).
   * @default Duration.seconds(1)
   */
  readonly minReplicasMaxLag?: Duration;
  /**
   * What nodes tell clients to connect to in MOVED/ASK redirects and CLUSTER SLOTS: each node's
   * Service ClusterIP, or its Service's fully qualified name (for clients that verify TLS names).
   * @default ClusterEndpointType.IP
   */
  readonly preferredEndpointType?: ClusterEndpointType;
  /**
   * How long kubelet waits for a stopping node. Its preStop hook gets this minus 10 seconds: it waits
   * its turn (one node at a time across the cluster, masters last), and a master hands its slots to its
   * replica with up to 10 s of it. An apply that replaces every node stops them one after another, each
   * taking a few seconds to come back in sync; past the grace period, a node stops without waiting its
   * turn. The default covers 10 nodes; larger clusters must set at least 20 s plus 10 s per node
   * ({@link RedisCluster.graceFor}), or synth fails. It does not follow `shards`, so that adding a shard
   * restarts no running node: set it with room for growth.
   * @default Duration.seconds(120)
   */
  readonly terminationGracePeriod?: Duration;
  /**
   * Extra directives for every node's config, e.g. `{ 'maxmemory': '512mb', 'maxmemory-policy': 'allkeys-lru' }`.
   * Directives the chart owns (port, dir, cluster-*, replicaof, requirepass...) are refused.
   * Unless set here, `maxmemory` is half the container's memory limit and `maxmemory-policy` is
   * `noeviction`: a full server refuses writes instead of being OOM-killed (the other half is room for
   * buffers and the pages a fork copies; see README "Memory").
   * @default - `maxmemory` half the memory limit, `maxmemory-policy noeviction`
   */
  readonly extraConfig?: { [directive: string]: string };
  /**
   * PodDisruptionBudgets, one per shard, so that a node drain takes at most one node of a shard at a time.
   * @default true
   */
  readonly disruptionBudgets?: boolean;
  /**
   * Anti-affinity and zone spreading of each shard's nodes (a shard's master and replicas on
   * different Kubernetes nodes and zones).
   * @default - preferred anti-affinity per node within a shard, preferred even spread across zones
   */
  readonly spread?: SpreadOptions;
  /**
   * Where every node's pod runs (node selector, tolerations, priority class), the registry
   * credentials of its images, labels and annotations of your own, and env variables, mounts and
   * sidecars beside the server.
   * @default - the chart's own settings only
   */
  readonly pods?: PodSettings;
  /**
   * An ingress NetworkPolicy: the client port from the client pods you label and from the
   * cluster's own nodes; the cluster bus port from the cluster's own nodes only.
   * @default - no NetworkPolicy
   */
  readonly networkPolicy?: NetworkPolicyOptions;
  /**
   * The cluster's DNS domain. Nodes announce `<service>.<namespace>.svc.<clusterDomain>` as their hostname.
   * @default 'cluster.local'
   */
  readonly clusterDomain?: string;
  /**
   * Prometheus metrics: a redis_exporter sidecar on every node, in cluster mode, and optionally a ServiceMonitor.
   * @default - no exporter sidecar, no ServiceMonitor
   */
  readonly metrics?: MetricsOptions;
}

/**
 * A Redis Cluster (or Valkey Cluster): the 16384 hash slots spread over `shards` masters, each
 * with `replicasPerShard` replicas. Every node is its own Deployment, ClusterIP Service and claim;
 * nodes announce their Service's address, which outlives pods, and form the cluster themselves on
 * the first apply (no Job, no operator): each shard's first node claims the shard's slot range when
 * no node owns any of it, the others replicate whoever owns it. A restart, a reschedule or a
 * re-applied chart heals with no manual step; nothing ever resets or flushes a node.
 *
 * Clients must be cluster-aware (ioredis `Cluster`, node-redis `createCluster`, `valkey-cli -c`)
 * and may start from any node's Service ({@link seedHosts}).
 */
export class RedisCluster extends Construct {
  /** The most nodes a cluster may have (the Redis Cluster specification scales to 1000 nodes). */
  public static readonly MAX_NODES: number = 1000;
  /** The fewest shards: a failover needs a majority of masters. */
  public static readonly MIN_SHARDS: number = 3;
  /** The default stop budget of a node: room for 10 nodes to take their turn (see `terminationGracePeriod`). */
  public static readonly DEFAULT_GRACE_PERIOD: Duration = Duration.seconds(120);
  /** The redis_exporter image of the metrics sidecar (`metrics.exporterImage`). */
  public static readonly DEFAULT_EXPORTER_IMAGE: string = DEFAULT_REDIS_EXPORTER_IMAGE;

  /**
   * The shortest `terminationGracePeriod` that gives each of `nodes` nodes time for its turn in an apply
   * that replaces them all: 20 s plus 10 s a node.
   */
  public static graceFor(nodes: number): Duration {
    return Duration.seconds(20 + 10 * nodes);
  }

  /** Every node, shard by shard; in each shard, member 0 first (it forms the shard). */
  public readonly nodes: ClusterNode[];
  /** The number of shards. */
  public readonly shards: number;
  /** How many of the highest-numbered shards are being drained. */
  public readonly drainedShards: number;
  /** The ConfigMap of the cluster's topology (every shard's nodes and state), mounted in every node. */
  public readonly topology: ApiObject;
  /** The replicas of each shard's master. */
  public readonly replicasPerShard: number;

  constructor(scope: Construct, id: string, props: RedisClusterProps = {}) {
    super(scope, id);
    markGroup(this);
    // Every shard must own at least one of the 16384 slots.
    const shards = this.shards = checkInt(this, 'shards', props.shards ?? 3, RedisCluster.MIN_SHARDS, CLUSTER_SLOTS);
    const replicas = this.replicasPerShard = checkInt(this, 'replicasPerShard', props.replicasPerShard ?? 1, 0);
    const drained = this.drainedShards = checkInt(this, 'drainedShards', props.drainedShards ?? 0, 0);
    if (drained > shards - RedisCluster.MIN_SHARDS) {
      fail(this, 'drainedShards', drained, `must leave at least ${RedisCluster.MIN_SHARDS} of the ${shards} shards serving (at most ${shards - RedisCluster.MIN_SHARDS}): `
        + 'a failover needs a majority of masters, so a cluster keeps at least 3 shards');
    }
    if (shards * (1 + replicas) > RedisCluster.MAX_NODES) {
      fail(this, 'shards', shards, `with ${replicas} replicas per shard gives ${shards * (1 + replicas)} nodes; a cluster may have at most ${RedisCluster.MAX_NODES}`);
    }
    const minReplicasToWrite = checkInt(this, 'minReplicasToWrite', props.minReplicasToWrite ?? (replicas > 0 ? 1 : 0), 0, replicas);
    const maxLagMs = checkDurationMs(this, 'minReplicasMaxLag', props.minReplicasMaxLag ?? Duration.seconds(1));
    if (maxLagMs % 1000 !== 0) fail(this, 'minReplicasMaxLag', `${maxLagMs}ms`, 'must be a whole number of seconds (min-replicas-max-lag counts seconds)');
    const nodeTimeoutMs = checkDurationMs(this, 'nodeTimeout', props.nodeTimeout ?? Duration.seconds(5));
    if (nodeTimeoutMs < 1000) fail(this, 'nodeTimeout', `${nodeTimeoutMs}ms`, 'must be at least 1s: shorter, a loaded node is failed over for a pause');
    const graceMs = checkDurationMs(this, 'terminationGracePeriod', props.terminationGracePeriod ?? RedisCluster.DEFAULT_GRACE_PERIOD);
    if (graceMs < 15_000) fail(this, 'terminationGracePeriod', `${graceMs}ms`, 'must be at least 15s: the preStop hand-over and the AOF flush need time');
    const nodeCount = shards * (1 + replicas);
    const neededMs = RedisCluster.graceFor(nodeCount).toMilliseconds();
    if (graceMs < neededMs) {
      fail(this, 'terminationGracePeriod', `${graceMs}ms`, `is too short for ${nodeCount} nodes: an apply that replaces every node needs 20s + 10s a node, `
        + `at least ${neededMs / 1000}s (set it above that to leave room for growth: a change of it restarts every node)`);
    }
    const engine = props.engine ?? RedisEngine.valkey();
    engine._resolve(this, 'engine');
    props.auth?._validate(this);
    props.tls?._validate(this);
    const clusterDomain = checkClusterDomain(this, 'clusterDomain', props.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN);
    const endpointType = props.preferredEndpointType ?? ClusterEndpointType.IP;
    if (!Object.values(ClusterEndpointType).includes(endpointType)) {
      fail(this, 'preferredEndpointType', endpointType, `must be one of ${Object.values(ClusterEndpointType).join(', ')}`);
    }
    const memoryLimit = resolveResources(this, 'resources', SERVER_RESOURCES, props.resources).memoryLimit;
    const extraConfig = withMemoryDefaults(checkExtraConfig(this, props.extraConfig ?? {}, memoryLimit, clusterRefusal), memoryLimit);

    const instance = instanceLabel(this);
    this.nodes = [];
    for (let shard = 0; shard < shards; shard++) {
      for (let member = 0; member <= replicas; member++) {
        this.nodes.push(new ClusterNode(this, `Shard${shard}Node${member}`, {
          shard, member, engine, instance, clusterDomain,
          nodeTimeout: Duration.millis(nodeTimeoutMs),
          preferredEndpointType: endpointType,
          minReplicasToWrite,
          minReplicasMaxLag: Duration.millis(maxLagMs),
          persistence: props.persistence ?? Persistence.claim(),
          resources: props.resources,
          extraConfig,
          terminationGracePeriod: Duration.millis(graceMs),
          auth: props.auth,
          tls: props.tls,
        }));
      }
    }
    const topology = new ConfigMap(this, 'Topology', {
      data: {
        [TOPOLOGY_FILE.slice(TOPOLOGY_DIR.length + 1)]: renderTopology(Array.from({ length: shards }, (_, index) => ({
          index,
          state: index < shards - drained ? ShardState.ACTIVE : ShardState.DRAIN,
          hosts: this.nodes.filter((n) => n.shard === index).map((n) => n.announcedHost),
        }))),
      },
    });
    this.topology = ApiObject.of(topology.apiObject);
    for (const node of this.nodes) {
      node._mountTopology(topology);
      if (node.shard >= shards - drained) node.deployment.metadata.addAnnotation(DRAINED_ANNOTATION, 'true');
    }

    const group = groupLabelsOf(this);
    const shardSelector = (shard: number) => ({ ...group, [COMPONENT_LABEL]: PodComponent.REDIS, [SHARD_LABEL]: String(shard) });
    for (const node of this.nodes) applySpread(node.deployment, shardSelector(node.shard), props.spread);
    const pods = resolvePodSettings(this, 'pods', props.pods);
    for (const node of this.nodes) node._deployment.applySettings(pods, { server: true });
    if (props.disruptionBudgets ?? true) {
      for (let shard = 0; shard < shards; shard++) {
        const budget = addDisruptionBudget(this, `Shard${shard}Budget`, shardSelector(shard), { maxUnavailable: 1 });
        labelObjects(budget, this.nodes[shard * (replicas + 1)]._labels);
      }
    }
    // The labels every node carries but its shard's: on the cluster-wide objects too, so that a prune
    // or delete by the instance label reaches them.
    const common = Object.fromEntries(Object.entries(this.nodes[0]._labels).filter(([key]) => key !== SHARD_LABEL));
    labelObjects(topology, common);
    if (props.scaleInGuard ?? true) labelObjects(new ScaleInGuard(this, 'ScaleInGuard', group), common);
    if (props.metrics) addMetrics(this, { servers: this.nodes, cluster: true }, group, props.metrics);
    if (props.networkPolicy) {
      addClusterNetworkPolicy(this, group, props.networkPolicy, this.nodes[0]._labels, props.metrics ? [REDIS_EXPORTER_PORT] : []);
    }
  }

  /**
   * Every node's Service, for a cluster client's seed list (any one reachable node is enough; the
   * client learns the rest from CLUSTER SLOTS): fully qualified
   * (`<service>.<namespace>.svc.<clusterDomain>`), which resolves from every namespace, when the chart
   * has a namespace; the bare Service names otherwise, which resolve only from the namespace the
   * chart is applied to.
   */
  public get seedHosts(): string[] {
    return this.nodes.map((n) => clientDnsName(n, n.host, n.clusterDomain));
  }

  /** The client port of every node. */
  public get port(): number {
    return ClusterNode.PORT;
  }
}

/** Directives a cluster node may not be given: the chart's own, and what cluster mode forbids. */
const CLUSTER_REFUSED: { [directive: string]: string } = {
  'replicaof': 'a cluster node replicates the master of its shard; CLUSTER REPLICATE sets it',
  'slaveof': 'a cluster node replicates the master of its shard; CLUSTER REPLICATE sets it',
  'min-replicas-to-write': 'use minReplicasToWrite',
  'min-slaves-to-write': 'use minReplicasToWrite',
  'min-replicas-max-lag': 'use minReplicasMaxLag',
  'min-slaves-max-lag': 'use minReplicasMaxLag',
  'appendonly': 'a cluster node always keeps an AOF: nodes.conf alone does not hold its data',
  'cluster-node-timeout': 'use nodeTimeout',
  'cluster-preferred-endpoint-type': 'use preferredEndpointType',
};

/** Why the cluster mode refuses a directive: cluster mode forbids it, or the chart owns it. */
function clusterRefusal(directive: string): string | undefined {
  if (CLUSTER_REFUSED[directive] !== undefined) return `is not allowed in cluster mode: ${CLUSTER_REFUSED[directive]}`;
  if (directive.startsWith('cluster-') || CHART_OWNED_DIRECTIVES.includes(directive)) {
    return 'is set by the chart and cannot be overridden (auth, tls, persistence and the cluster-* settings are props)';
  }
  return undefined;
}
