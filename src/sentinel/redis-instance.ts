import { ApiObject, Duration, Size } from 'cdk8s';
import { Construct, IConstruct } from 'constructs';
import { RedisAuth } from '../auth';
import { RedisTls, TLS_FILES } from '../tls';
import { PodComponent, instanceLabel, labelObjects, recommendedLabels } from '../labels';
import { Persistence } from '../persistence';
import { ComputeResources } from '../compute-resources';
import { RedisEngine, chooseEngine } from '../engine';
import * as k8s from '../k8s-api';
import { ConfigMap, Container, Deployment, Service, env, SERVER_RESOURCES, memoryVolume, resolveResources, scriptProbe, secretEnv } from '../workload';
import { peerPod } from '../peer-pod';
import { DEFAULT_CLUSTER_DOMAIN, NamespaceSyntax, checkClusterDomain, serviceDnsName } from '../cluster-dns';
import { CHART_OWNED_DIRECTIVES, REDIS_PATHS, checkExtraConfig, withMemoryDefaults } from '../server-config';
import { RedisProbeMode, renderRedisConf, renderRedisEntrypoint, renderRedisPreStop, renderRedisProbe } from './redis-config';
import { checkDurationMs, checkInt, fail, userProp } from '../validation';

/** The port every Redis instance listens on. */
export const REDIS_PORT = 6379;

/** Settings shared by every Redis instance of a group. */
export interface RedisInstanceOptions {
  /**
   * The server and its image: `RedisEngine.valkey()` or `RedisEngine.redis()`, each with an optional pinned image.
   * @default RedisEngine.valkey() - RedisEngine.DEFAULT_VALKEY_IMAGE
   */
  readonly engine?: RedisEngine;
  /**
   * A Redis image (the same as `engine: RedisEngine.redis({ image })`); cannot be combined with `engine`.
   * @deprecated use `engine`
   * @default - the engine's image
   */
  readonly image?: string;
  /**
   * Where the instance keeps its AOF and RDB files, mounted at /data.
   * @default Persistence.claim() - 1Gi from the default StorageClass
   */
  readonly persistence?: Persistence;
  /**
   * Append-only file persistence: every write is logged and replayed on restart.
   * @see https://redis.io/docs/latest/operate/oss_and_stack/management/persistence/
   * @default true
   */
  readonly appendOnly?: boolean;
  /**
   * A master refuses writes unless this many replicas are connected with a lag
   * within `minReplicasMaxLag`: an isolated master refuses writes instead of
   * accepting writes that a failover would lose.
   * @default 0 (RedisHa sets 1 when it has replicas)
   */
  readonly minReplicasToWrite?: number;
  /**
   * The replica lag `minReplicasToWrite` tolerates.
   * @default Duration.seconds(10)
   */
  readonly minReplicasMaxLag?: Duration;
  /**
   * How long a starting instance keeps asking the sentinels for the current
   * master before it falls back to its initial role.
   * @default Duration.seconds(30)
   */
  readonly masterDiscoveryTimeout?: Duration;
  /**
   * CPU and memory of the Redis container.
   * @default - requests 100m CPU and 256Mi, limits 1000m CPU and 1Gi
   */
  readonly resources?: ComputeResources;
  /**
   * On a planned stop (drain, rollout), a preStop hook waits the pod's turn, so an apply that
   * replaces every instance at once stops one replica at a time and the master last; the master
   * then pauses writes, asks the sentinels to fail over and waits for the switch, so the stop
   * loses no writes and the write gap is shorter than after a crash.
   * @default true
   */
  readonly failoverOnShutdown?: boolean;
  /**
   * How long kubelet waits for a stopping pod. The preStop hook gets this minus 10 seconds: the
   * master keeps up to 20 s of it for the hand-over and waits for the replicas with the rest.
   * @default Duration.seconds(90)
   */
  readonly terminationGracePeriod?: Duration;
  /**
   * Extra redis.conf directives, e.g. `{ 'maxmemory': '512mb', 'maxmemory-policy': 'allkeys-lru' }`.
   * Directives the chart owns (port, dir, replicaof, requirepass...) are refused.
   * @see https://raw.githubusercontent.com/redis/redis/7.0/redis.conf
   * Unless set here, `maxmemory` is half the container's memory limit and `maxmemory-policy` is
   * `noeviction`: a full server refuses writes instead of being OOM-killed (the other half is room for
   * buffers and the pages a fork copies; see README "Memory").
   * @default - `maxmemory` half the memory limit, `maxmemory-policy noeviction`
   */
  readonly extraConfig?: { [directive: string]: string };
}

/**
 * A Redis server as the sentinels and the proxy reach it: its Service in its chart's namespace.
 * A {@link RedisInstance}, or your own (a Redis this library did not build, which then finds the
 * current master by itself: only a RedisInstance is told where the sentinels are).
 */
export interface IRedisInstance extends IConstruct {
  /** The name of the instance's Service, in its chart's namespace. */
  readonly host: string;
  /** The Redis port. */
  readonly port: number;
  /** The initial master this instance replicates, if it starts as a replica. */
  readonly replicaOf?: IRedisInstance;
  /** The password reference, if authentication is on. */
  readonly auth?: RedisAuth;
  /** The TLS Secret reference, if TLS is on. */
  readonly tls?: RedisTls;
  /** The cluster DNS domain of the name the instance announces. */
  readonly clusterDomain: string;
  /** The server the instance runs; its sentinels run the same kind. */
  readonly engine: RedisEngine;
}

/**
 * The name an instance announces to replicas, sentinels and clients, for env values of the chart's
 * pods: `<service>.<namespace>.svc.<clusterDomain>`, with `$(POD_NAMESPACE)` when its chart has no namespace.
 */
export function announcedNameOf(instance: IRedisInstance): string {
  return serviceDnsName(instance, instance.host, instance.clusterDomain, NamespaceSyntax.KUBERNETES);
}

/** Props of a {@link RedisInstance}. */
export interface RedisInstanceProps extends RedisInstanceOptions {
  /**
   * The master this instance replicates on first boot, when no sentinel knows
   * the topology yet. Afterwards the sentinels' answer decides.
   * @default - the initial master
   */
  readonly replicaOf?: IRedisInstance;
  /**
   * Password for clients and replication.
   * @default - no authentication
   */
  readonly auth?: RedisAuth;
  /**
   * TLS for clients and replication; the plain-text port is closed.
   * @default - plain TCP
   */
  readonly tls?: RedisTls;
  /**
   * The cluster's DNS domain: the instance announces `<service>.<namespace>.svc.<clusterDomain>`,
   * a name clients resolve from every namespace.
   * @see https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/
   * @default 'cluster.local'
   */
  readonly clusterDomain?: string;
}

/** What a Redis pod needs to ask the sentinels for the current master. */
export interface MasterDiscovery {
  /** Labels to add to the pod, naming the group it belongs to. */
  readonly podLabels: { [key: string]: string };
  /** The sentinels' announced names, to ask. */
  readonly sentinelHosts: string[];
  readonly sentinelPort: number;
  readonly masterName: string;
  /** The other instances' announced names, asked for their data before this one serves as master. */
  readonly peerHosts: string[];
}

/**
 * One Redis server: a Deployment of one pod (strategy Recreate, since its
 * ReadWriteOnce volume cannot be shared by a rolling update), its own
 * ClusterIP Service and its own PersistentVolumeClaim at /data. It announces
 * its Service's fully qualified name to the master and the sentinels.
 */
export class RedisInstance extends Construct implements IRedisInstance {
  /** The port every Redis instance listens on. */
  public static readonly PORT: number = REDIS_PORT;

  /** The Service name; the instance announces it fully qualified, in its namespace and `clusterDomain`. */
  public readonly host: string;
  /** The Redis port. */
  public readonly port: number = REDIS_PORT;
  /** The initial master this instance replicates, if it starts as a replica. */
  public readonly replicaOf?: IRedisInstance;
  /** The password reference, if authentication is on. */
  public readonly auth?: RedisAuth;
  /** The TLS Secret reference, if TLS is on. */
  public readonly tls?: RedisTls;
  /** The cluster DNS domain of the name the instance announces. */
  public readonly clusterDomain: string;
  /** The server this instance runs. */
  public readonly engine: RedisEngine;
  /** The Deployment running the pod, as a core cdk8s object (`addJsonPatch`, `metadata`): an escape hatch. */
  public readonly deployment: ApiObject;
  /** The instance's ClusterIP Service. */
  public readonly service: ApiObject;
  /** The claim mounted at /data. */
  public readonly claim: ApiObject;
  /** Labels that select this instance's pod, e.g. for `Pods.select(scope, id, { labels })` or a NetworkPolicy. */
  public readonly selectorLabels: { [key: string]: string };
  /** @internal The Deployment, for the chart's own constructs. */
  public readonly _deployment: Deployment;
  /** @internal The Service, for the chart's own constructs. */
  public readonly _service: Service;
  /** @internal The pod's TLS volume, when TLS is on, for the pod's other containers. */
  public readonly _tlsVolume?: k8s.Volume;

  /** @internal The recommended labels of the instance's objects. */
  public _labels: { [key: string]: string };
  private readonly container: Container;
  private discovery?: MasterDiscovery;

  constructor(scope: Construct, id: string, props: RedisInstanceProps = {}) {
    super(scope, id);
    this.engine = chooseEngine(this, props.engine, props.image, () => RedisEngine.valkey());
    const image = this.engine._resolve(this, props.image !== undefined ? 'image' : 'engine').image;
    const minReplicasToWrite = checkInt(this, 'minReplicasToWrite', props.minReplicasToWrite ?? 0, 0);
    const maxLagMs = checkDurationMs(this, 'minReplicasMaxLag', props.minReplicasMaxLag ?? Duration.seconds(10));
    const discoveryMs = checkDurationMs(this, 'masterDiscoveryTimeout', props.masterDiscoveryTimeout ?? Duration.seconds(30));
    props.auth?._validate(this);
    const resources = resolveResources(this, 'resources', SERVER_RESOURCES, props.resources);
    const extra = withMemoryDefaults(checkExtraConfig(this, props.extraConfig ?? {}, resources.memoryLimit, sentinelRefusal(this)), resources.memoryLimit);
    const graceMs = checkDurationMs(this, 'terminationGracePeriod', props.terminationGracePeriod ?? Duration.seconds(90));
    if (graceMs < 15_000) fail(this, 'terminationGracePeriod', `${graceMs}ms`, 'must be at least 15s: the preStop failover and the AOF flush need time');
    const failoverOnShutdown = props.failoverOnShutdown ?? true;
    props.tls?._validate(this);
    this.clusterDomain = checkClusterDomain(this, 'clusterDomain', props.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN);
    this.replicaOf = props.replicaOf;
    this.auth = props.auth;
    this.tls = props.tls;

    const probe = (mode: RedisProbeMode) => ['sh', `${REDIS_PATHS.config}/probe.sh`, mode];
    // The group's labels replace `instance` once sentinels monitor the instance (_discoverMasterFrom).
    const labels = this._labels = recommendedLabels(instanceLabel(this), PodComponent.REDIS, image);
    const pod = peerPod(this, {
      port: { name: 'redis', port: REDIS_PORT },
      persistence: props.persistence ?? Persistence.claim(),
      config: () => new ConfigMap(this, 'Config', {
        data: {
          'redis.conf': renderRedisConf({
            port: REDIS_PORT,
            appendOnly: props.appendOnly ?? true,
            minReplicasToWrite,
            minReplicasMaxLagSeconds: Math.max(1, Math.round(maxLagMs / 1000)),
            extra,
            tls: this.tls ? TLS_FILES : undefined,
          }),
          'entrypoint.sh': renderRedisEntrypoint(),
          'probe.sh': renderRedisProbe(),
          ...(failoverOnShutdown ? { 'prestop.sh': renderRedisPreStop() } : {}),
        },
      }),
      paths: REDIS_PATHS,
      clusterDomain: this.clusterDomain,
      engine: this.engine,
      workload: (serviceName) => ({
        image,
        env: {
          REDIS_PORT: env(REDIS_PORT),
          ANNOUNCE_HOST: env(serviceDnsName(this, serviceName, this.clusterDomain, NamespaceSyntax.KUBERNETES)),
          MASTER_DISCOVERY_SECONDS: env(Math.ceil(discoveryMs / 1000)),
          ...(failoverOnShutdown ? { PRESTOP_WAIT_SECONDS: env(Math.floor(graceMs / 1000) - 10) } : {}),
          ...(this.replicaOf ? { INITIAL_MASTER_HOST: env(announcedNameOf(this.replicaOf)), INITIAL_MASTER_PORT: env(this.replicaOf.port) } : {}),
          ...(this.auth ? { REDIS_PASSWORD: secretEnv(this.auth.secretName, this.auth.key) } : {}),
          ...(this.tls ? { TLS_ARGS: env(this.tls._cliArgs()) } : {}),
        },
        ports: { redis: REDIS_PORT },
        resources,
        readiness: scriptProbe(probe(RedisProbeMode.READINESS), Duration.seconds(5), 3),
        liveness: scriptProbe(probe(RedisProbeMode.LIVENESS), Duration.seconds(10), 3),
        // Covers the wait for the sentinels and the replay of a large AOF.
        startup: scriptProbe(probe(RedisProbeMode.LIVENESS), Duration.seconds(5), 60),
        preStop: failoverOnShutdown ? ['sh', `${REDIS_PATHS.config}/prestop.sh`] : undefined,
        terminationGracePeriod: Duration.millis(graceMs),
        labels,
      }),
      volumes: (container) => container.mount(REDIS_PATHS.run, memoryVolume('run', Size.mebibytes(1))),
      tls: this.tls,
    });
    this._service = pod.service;
    this.host = pod.service.name;
    this._deployment = pod.deployment;
    this.container = pod.container;
    this._tlsVolume = pod.tlsVolume;
    const claim = pod.claim;
    this.deployment = ApiObject.of(this._deployment);
    this.service = ApiObject.of(this._service);
    this.claim = ApiObject.of(claim);
    this.selectorLabels = this._deployment.matchLabels;
  }

  /**
   * @internal Makes the instance ask these sentinels for the current master on every start.
   * Called by the SentinelCluster that monitors the instance.
   */
  public _discoverMasterFrom(discovery: MasterDiscovery): void {
    if (this.discovery) throw new Error(`${this.node.path}: is already monitored by sentinels of master "${this.discovery.masterName}"`);
    this.discovery = discovery;
    this.container.env.addVariable('SENTINEL_HOSTS', env(discovery.sentinelHosts.join(' ')));
    this.container.env.addVariable('SENTINEL_PORT', env(discovery.sentinelPort));
    this.container.env.addVariable('MASTER_NAME', env(discovery.masterName));
    if (discovery.peerHosts.length > 0) this.container.env.addVariable('PEER_HOSTS', env(discovery.peerHosts.join(' ')));
    for (const [key, value] of Object.entries(discovery.podLabels)) this._deployment.podMetadata.addLabel(key, value);
    labelObjects(this, discovery.podLabels);
    this._labels = { ...this._labels, ...discovery.podLabels };
  }
}

/** The prop to use instead of a chart-owned directive; `auth` and `tls` are set where the instances' are. */
const DIRECTIVE_PROPS: { [directive: string]: string } = {
  'appendonly': 'appendOnly',
  'min-replicas-to-write': 'minReplicasToWrite',
  'min-slaves-to-write': 'minReplicasToWrite',
  'min-replicas-max-lag': 'minReplicasMaxLag',
  'min-slaves-max-lag': 'minReplicasMaxLag',
  'dir': 'persistence',
};
const SHARED_DIRECTIVE_PROPS: { [directive: string]: string } = {
  'requirepass': 'auth', 'masterauth': 'auth', 'masteruser': 'auth',
  'tls-port': 'tls', 'tls-cert-file': 'tls', 'tls-key-file': 'tls', 'tls-ca-cert-file': 'tls', 'tls-replication': 'tls',
};

/** Why the Sentinel mode refuses a directive: the chart owns it (naming the prop to use instead). */
function sentinelRefusal(scope: Construct): (directive: string) => string | undefined {
  return (directive) => {
    if (!CHART_OWNED_DIRECTIVES.includes(directive)) return undefined;
    const instead = DIRECTIVE_PROPS[directive] !== undefined ? userProp(scope, DIRECTIVE_PROPS[directive]) : SHARED_DIRECTIVE_PROPS[directive];
    return instead !== undefined ? `is set by the chart; use ${instead} instead` : 'is set by the chart and cannot be overridden';
  };
}
