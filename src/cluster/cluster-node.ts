import { ApiObject, Duration, Size } from 'cdk8s';
import { Construct, IConstruct } from 'constructs';
import { RedisAuth } from '../auth';
import { NamespaceSyntax, serviceDnsName } from '../cluster-dns';
import { ComputeResources } from '../compute-resources';
import { RedisEngine } from '../engine';
import * as k8s from '../k8s-api';
import { PodComponent, recommendedLabels } from '../labels';
import { peerPod } from '../peer-pod';
import { Persistence } from '../persistence';
import { REDIS_PATHS } from '../server-config';
import { RedisTls, TLS_FILES } from '../tls';
import { ConfigMap, Container, Deployment, Service, configMapVolume, env, SERVER_RESOURCES, memoryVolume, resolveResources, scriptProbe, secretEnv } from '../workload';
import { ClusterEndpointType, renderClusterConf } from './cluster-config';
import { renderClusterNodeEntrypoint } from './node-entrypoint';
import { renderClusterNodeGuarantee } from './node-guarantee';
import { renderClusterNodePreStop } from './node-prestop';
import { ClusterProbeMode, renderClusterNodeProbe } from './node-probe';
import { renderClusterNodeRebalance } from './node-rebalance';
import { TOPOLOGY_DIR } from './topology';

/** The label naming the shard (0-based) a cluster node belongs to. */
export const SHARD_LABEL = 'redis-ha.cdk8s.io/shard';

/** Props of a {@link ClusterNode}; a {@link RedisCluster} makes them from its own. */
export interface ClusterNodeProps {
  /** The shard this node belongs to, 0-based. */
  readonly shard: number;
  /**
   * The node's place in its shard, 0-based: member 0 claims the shard's formation slots when the
   * cluster forms, or serves as the shard's first master when the shard is added to a running cluster.
   */
  readonly member: number;
  /** The server and its image. */
  readonly engine: RedisEngine;
  /** The `app.kubernetes.io/instance` label of the cluster's objects. */
  readonly instance: string;
  /** The cluster's DNS domain, of the name the node announces. */
  readonly clusterDomain: string;
  /** `cluster-node-timeout`. */
  readonly nodeTimeout: Duration;
  /** What nodes tell clients to connect to. */
  readonly preferredEndpointType: ClusterEndpointType;
  /** A master refuses writes unless this many replicas acknowledged within `minReplicasMaxLag`. */
  readonly minReplicasToWrite: number;
  /** The replica lag `minReplicasToWrite` tolerates. */
  readonly minReplicasMaxLag: Duration;
  /** Where the node keeps nodes.conf and its AOF, mounted at /data. */
  readonly persistence: Persistence;
  /**
   * CPU and memory of the node's container.
   * @default - requests 100m CPU and 256Mi, limits 1000m CPU and 1Gi
   */
  readonly resources?: ComputeResources;
  /**
   * Extra directives for the node's config, already checked by the cluster.
   * @default - none
   */
  readonly extraConfig?: { [directive: string]: string };
  /**
   * Password for clients, replication and the nodes' own calls.
   * @default - no authentication
   */
  readonly auth?: RedisAuth;
  /**
   * TLS for clients, replication and the cluster bus.
   * @default - plain TCP
   */
  readonly tls?: RedisTls;
  /**
   * How long kubelet waits for a stopping pod; the preStop hook (turn-taking and hand-over) gets this minus 10 seconds.
   * @default Duration.seconds(60)
   */
  readonly terminationGracePeriod?: Duration;
  /**
   * How long a node not yet part of its shard keeps trying before it restarts.
   * @default Duration.minutes(5)
   */
  readonly joinTimeout?: Duration;
}

/** A cluster node as its peers and clients reach it. */
export interface IClusterNode extends IConstruct {
  /** The name of the node's Service, in its chart's namespace. */
  readonly host: string;
  /** The client port. */
  readonly port: number;
  /** The cluster bus port. */
  readonly busPort: number;
  /** The shard the node belongs to, 0-based. */
  readonly shard: number;
  /** The node's place in its shard, 0-based. */
  readonly member: number;
}

/**
 * One node of a Redis/Valkey Cluster: a Deployment of one pod (Recreate, for its ReadWriteOnce
 * claim), its own ClusterIP Service with the client and cluster bus ports, published whatever the
 * pod's readiness, and its own claim at /data holding nodes.conf and the AOF. At start the node
 * announces its Service's ClusterIP and fully qualified name, which outlive the pod, then joins its
 * shard (see `renderClusterNodeEntrypoint`).
 */
export class ClusterNode extends Construct implements IClusterNode {
  /** The client port of every node. */
  public static readonly PORT: number = 6379;
  /** The cluster bus port of every node. */
  public static readonly BUS_PORT: number = 16379;

  /** The Service name; the node announces it fully qualified. */
  public readonly host: string;
  /** The client port. */
  public readonly port: number = ClusterNode.PORT;
  /** The cluster bus port. */
  public readonly busPort: number = ClusterNode.BUS_PORT;
  /** The shard the node belongs to, 0-based. */
  public readonly shard: number;
  /** The node's place in its shard, 0-based. */
  public readonly member: number;
  /** The password reference, if authentication is on. */
  public readonly auth?: RedisAuth;
  /** The TLS Secret reference, if TLS is on. */
  public readonly tls?: RedisTls;
  /** The cluster DNS domain of the name the node announces. */
  public readonly clusterDomain: string;
  /** The Deployment running the pod, as a core cdk8s object: an escape hatch. */
  public readonly deployment: ApiObject;
  /** The node's ClusterIP Service. */
  public readonly service: ApiObject;
  /** The claim mounted at /data. */
  public readonly claim: ApiObject;
  /** @internal The Deployment, for the chart's own constructs. */
  public readonly _deployment: Deployment;
  /** @internal The Service, for the chart's own constructs. */
  public readonly _service: Service;
  /** @internal The pod's TLS volume, when TLS is on, for the pod's other containers. */
  public readonly _tlsVolume?: k8s.Volume;
  /** @internal The recommended labels of the node's objects. */
  public readonly _labels: { [key: string]: string };
  private readonly container: Container;

  constructor(scope: Construct, id: string, props: ClusterNodeProps) {
    super(scope, id);
    this.shard = props.shard;
    this.member = props.member;
    this.auth = props.auth;
    this.tls = props.tls;
    this.clusterDomain = props.clusterDomain;
    const image = props.engine._resolve(this, 'engine').image;
    const resources = resolveResources(this, 'resources', SERVER_RESOURCES, props.resources);
    const labels = this._labels = { ...recommendedLabels(props.instance, PodComponent.REDIS, image), [SHARD_LABEL]: String(props.shard) };
    const probe = (mode: ClusterProbeMode) => ['sh', `${REDIS_PATHS.config}/probe.sh`, mode];
    const grace = props.terminationGracePeriod ?? Duration.seconds(60);
    const extra = Object.entries(props.extraConfig ?? {}).map(([k, v]) => `${k} ${v}`);
    const pod = peerPod(this, {
      port: { name: 'redis', port: ClusterNode.PORT },
      persistence: props.persistence,
      config: () => new ConfigMap(this, 'Config', {
        data: {
          'redis.conf': renderClusterConf({
            port: ClusterNode.PORT,
            busPort: ClusterNode.BUS_PORT,
            nodeTimeoutMillis: props.nodeTimeout.toMilliseconds(),
            preferredEndpointType: props.preferredEndpointType,
            minReplicasToWrite: props.minReplicasToWrite,
            minReplicasMaxLagSeconds: Math.max(1, Math.round(props.minReplicasMaxLag.toMilliseconds() / 1000)),
            tls: props.tls ? TLS_FILES : undefined,
          }) + (extra.length > 0 ? `${extra.join('\n')}\n` : ''),
          'entrypoint.sh': renderClusterNodeEntrypoint(),
          'probe.sh': renderClusterNodeProbe(),
          'prestop.sh': renderClusterNodePreStop(),
          'rebalance.sh': renderClusterNodeRebalance(),
          'guarantee.sh': renderClusterNodeGuarantee(),
        },
      }),
      paths: REDIS_PATHS,
      clusterDomain: props.clusterDomain,
      engine: props.engine,
      workload: (serviceName) => ({
        image,
        env: {
          REDIS_PORT: env(ClusterNode.PORT),
          BUS_PORT: env(ClusterNode.BUS_PORT),
          ANNOUNCE_HOST: env(serviceDnsName(this, serviceName, props.clusterDomain, NamespaceSyntax.KUBERNETES)),
          SHARD_FIRST: env(String(props.member === 0)),
          JOIN_SECONDS: env(Math.round((props.joinTimeout ?? Duration.minutes(5)).toSeconds())),
          MIN_REPLICAS_TO_WRITE: env(props.minReplicasToWrite),
          PRESTOP_WAIT_SECONDS: env(Math.floor(grace.toSeconds()) - 10),
          ...(props.auth ? { REDIS_PASSWORD: secretEnv(props.auth.secretName, props.auth.key) } : {}),
          ...(props.tls ? { TLS_ARGS: env(props.tls._cliArgs()) } : {}),
        },
        ports: { redis: ClusterNode.PORT, bus: ClusterNode.BUS_PORT },
        resources,
        readiness: scriptProbe(probe(ClusterProbeMode.READINESS), Duration.seconds(5), 3),
        liveness: scriptProbe(probe(ClusterProbeMode.LIVENESS), Duration.seconds(10), 3),
        // Covers the replay of a large AOF.
        startup: scriptProbe(probe(ClusterProbeMode.LIVENESS), Duration.seconds(5), 60),
        preStop: ['sh', `${REDIS_PATHS.config}/prestop.sh`],
        terminationGracePeriod: grace,
        labels,
      }),
      volumes: (container) => container.mount(REDIS_PATHS.run, memoryVolume('run', Size.mebibytes(1))),
      tls: props.tls,
    });
    pod.service.bind(ClusterNode.BUS_PORT, { name: 'bus', targetPort: ClusterNode.BUS_PORT });
    this._service = pod.service;
    this.host = pod.service.name;
    this._deployment = pod.deployment;
    this.container = pod.container;
    this._tlsVolume = pod.tlsVolume;
    this.deployment = ApiObject.of(this._deployment);
    this.service = ApiObject.of(this._service);
    this.claim = ApiObject.of(pod.claim);
  }

  /** The name the node announces: its Service's fully qualified name. */
  public get announcedHost(): string {
    return serviceDnsName(this, this.host, this.clusterDomain, NamespaceSyntax.KUBERNETES);
  }

  /**
   * @internal Mounts the cluster's topology (every shard's nodes and state, see `topology.ts`). Not
   * part of the pod's config digest: a shard added or drained reaches running nodes without a restart.
   */
  public _mountTopology(topology: ConfigMap): void {
    this.container.mount(TOPOLOGY_DIR, configMapVolume('topology', topology), { readOnly: true });
  }
}
