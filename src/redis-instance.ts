import { Duration, Size } from 'cdk8s';
import { Construct } from 'constructs';
import { RedisAuth } from './auth';
import { RedisTls, TLS_FILES } from './tls';
import { Persistence } from './persistence';
import { RedisEngine, chooseEngine } from './engine';
import { ComputeResources, env, envOf, kplus, mountConfigAndData, peerService, resolveResources, scriptProbe, secretEnv, secureDeployment } from './plus';
import { CHART_OWNED_DIRECTIVES, REDIS_PATHS, RedisProbeMode, renderRedisConf, renderRedisEntrypoint, renderRedisPreStop, renderRedisProbe } from './redis-config';
import { checkDurationMs, checkInt, fail } from './validation';

/** @deprecated use RedisEngine.DEFAULT_REDIS_IMAGE (the chart's default engine is Valkey, RedisEngine.DEFAULT_VALKEY_IMAGE). */
export const DEFAULT_REDIS_IMAGE = RedisEngine.DEFAULT_REDIS_IMAGE;
/** The `redis` user of the official image. */
export const REDIS_UID = 999;
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
   * On a planned stop of the master (drain, rollout), a preStop hook pauses
   * writes, asks the sentinels to fail over and waits for the switch, so the
   * stop loses no writes and the write gap is shorter than after a crash.
   * @default true
   */
  readonly failoverOnShutdown?: boolean;
  /**
   * How long kubelet waits for a stopping pod (the preStop hook gets this minus 10 seconds).
   * @default Duration.seconds(30)
   */
  readonly terminationGracePeriod?: Duration;
  /**
   * Extra redis.conf directives, e.g. `{ 'maxmemory': '512mb', 'maxmemory-policy': 'allkeys-lru' }`.
   * Directives the chart owns (port, dir, replicaof, requirepass...) are refused.
   * @see https://raw.githubusercontent.com/redis/redis/7.0/redis.conf
   * @default - none
   */
  readonly extraConfig?: { [directive: string]: string };
}

/** Props of a {@link RedisInstance}. */
export interface RedisInstanceProps extends RedisInstanceOptions {
  /**
   * The master this instance replicates on first boot, when no sentinel knows
   * the topology yet. Afterwards the sentinels' answer decides.
   * @default - the initial master
   */
  readonly replicaOf?: RedisInstance;
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
}

/** The label naming a pod's role in the chart. */
export const COMPONENT_LABEL = 'app.kubernetes.io/component';
/** The label every pod of the chart carries, with value `redis`. */
export const NAME_LABEL = 'app.kubernetes.io/name';

/** The kinds of pod in the chart, as `app.kubernetes.io/component` values. */
export enum PodComponent {
  /** A Redis server. */
  REDIS = 'redis',
  /** A Redis Sentinel. */
  SENTINEL = 'sentinel',
  /** An HAProxy routing to the master. */
  PROXY = 'proxy',
}

/** What a Redis pod needs to ask the sentinels for the current master. */
export interface MasterDiscovery {
  /** Labels to add to the pod, naming the group it belongs to. */
  readonly podLabels: { [key: string]: string };
  /** The sentinel Service names to ask. */
  readonly sentinelHosts: string[];
  readonly sentinelPort: number;
  readonly masterName: string;
  /** The other instances' Service names, asked for their data before this one serves as master. */
  readonly peerHosts: string[];
}

/**
 * One Redis server: a Deployment of one pod (strategy Recreate, since its
 * ReadWriteOnce volume cannot be shared by a rolling update), its own
 * ClusterIP Service and its own PersistentVolumeClaim at /data. It announces
 * its Service name to the master and the sentinels.
 */
export class RedisInstance extends Construct {
  /** The Service name: the instance's stable host name, as replicas and sentinels know it. */
  public readonly host: string;
  /** The Redis port. */
  public readonly port: number = REDIS_PORT;
  /** The initial master this instance replicates, if it starts as a replica. */
  public readonly replicaOf?: RedisInstance;
  /** The password reference, if authentication is on. */
  public readonly auth?: RedisAuth;
  /** The TLS Secret reference, if TLS is on. */
  public readonly tls?: RedisTls;
  /** The server this instance runs. */
  public readonly engine: RedisEngine;
  /** The Deployment running the pod. */
  public readonly deployment: kplus.Deployment;
  /** The instance's ClusterIP Service. */
  public readonly service: kplus.Service;
  /** The claim mounted at /data. */
  public readonly claim: kplus.PersistentVolumeClaim;

  private readonly container: kplus.Container;
  private discovery?: MasterDiscovery;

  constructor(scope: Construct, id: string, props: RedisInstanceProps = {}) {
    super(scope, id);
    this.engine = chooseEngine(this, props.engine, props.image, () => RedisEngine.valkey());
    const image = this.engine._resolve(this, props.image !== undefined ? 'image' : 'engine').image;
    const minReplicasToWrite = checkInt(this, 'minReplicasToWrite', props.minReplicasToWrite ?? 0, 0);
    const maxLagMs = checkDurationMs(this, 'minReplicasMaxLag', props.minReplicasMaxLag ?? Duration.seconds(10));
    const discoveryMs = checkDurationMs(this, 'masterDiscoveryTimeout', props.masterDiscoveryTimeout ?? Duration.seconds(30));
    props.auth?._validate(this);
    const extra = checkExtraConfig(this, props.extraConfig ?? {});
    const graceMs = checkDurationMs(this, 'terminationGracePeriod', props.terminationGracePeriod ?? Duration.seconds(30));
    if (graceMs < 15_000) fail(this, 'terminationGracePeriod', `${graceMs}ms`, 'must be at least 15s: the preStop failover and the AOF flush need time');
    const failoverOnShutdown = props.failoverOnShutdown ?? true;
    props.tls?._validate(this);
    this.replicaOf = props.replicaOf;
    this.auth = props.auth;
    this.tls = props.tls;

    this.service = peerService(this, 'Service', { name: 'redis', port: REDIS_PORT });
    this.host = this.service.name;
    this.claim = (props.persistence ?? Persistence.claim())._bind(this);

    const config = new kplus.ConfigMap(this, 'Config', {
      data: {
        'redis.conf': renderRedisConf({
          port: REDIS_PORT,
          announceHost: this.host,
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
    });

    const probe = (mode: RedisProbeMode) => ['sh', `${REDIS_PATHS.config}/probe.sh`, mode];
    this.deployment = secureDeployment(this, 'Deployment', {
      image,
      uid: REDIS_UID,
      command: ['sh', `${REDIS_PATHS.config}/entrypoint.sh`],
      env: {
        BIND_ADDRESS: env('0.0.0.0'),
        ...envOf(this.engine._env()),
        REDIS_PORT: env(REDIS_PORT),
        ANNOUNCE_HOST: env(this.host),
        MASTER_DISCOVERY_SECONDS: env(Math.ceil(discoveryMs / 1000)),
        ...(failoverOnShutdown ? { PRESTOP_WAIT_SECONDS: env(Math.floor(graceMs / 1000) - 10) } : {}),
        ...(this.replicaOf ? { INITIAL_MASTER_HOST: env(this.replicaOf.host), INITIAL_MASTER_PORT: env(this.replicaOf.port) } : {}),
        ...(this.auth ? { REDIS_PASSWORD: secretEnv(this, 'Password', this.auth.secretName, this.auth.key) } : {}),
        ...(this.tls ? { TLS_ARGS: env(this.tls._cliArgs()) } : {}),
      },
      ports: { redis: REDIS_PORT },
      resources: resolveResources(
        { cpuRequestMillis: 100, cpuLimitMillis: 1000, memoryRequest: Size.mebibytes(256), memoryLimit: Size.gibibytes(1) },
        props.resources,
      ),
      readiness: scriptProbe(probe(RedisProbeMode.READINESS), Duration.seconds(5), 3),
      liveness: scriptProbe(probe(RedisProbeMode.LIVENESS), Duration.seconds(10), 3),
      // Covers the wait for the sentinels and the replay of a large AOF.
      startup: scriptProbe(probe(RedisProbeMode.LIVENESS), Duration.seconds(5), 60),
      preStop: failoverOnShutdown ? ['sh', `${REDIS_PATHS.config}/prestop.sh`] : undefined,
      terminationGracePeriod: Duration.millis(graceMs),
      replicas: 1,
      recreate: true,
      labels: { [NAME_LABEL]: 'redis', [COMPONENT_LABEL]: PodComponent.REDIS },
    });
    this.container = this.deployment.containers[0];
    this.service.select(this.deployment);
    mountConfigAndData(this, this.container, config, this.claim, REDIS_PATHS);
    this.container.mount(REDIS_PATHS.run, kplus.Volume.fromEmptyDir(this, 'Run', 'run', {
      medium: kplus.EmptyDirMedium.MEMORY,
      sizeLimit: Size.mebibytes(1),
    }));
    this.tls?._mount(this, this.container, false);
  }

  /**
   * Makes the instance ask these sentinels for the current master on every start.
   * Called by {@link SentinelCluster} for each instance it monitors.
   */
  public discoverMasterFrom(discovery: MasterDiscovery): void {
    if (this.discovery) throw new Error(`${this.node.path}: is already monitored by sentinels of master "${this.discovery.masterName}"`);
    this.discovery = discovery;
    this.container.env.addVariable('SENTINEL_HOSTS', env(discovery.sentinelHosts.join(' ')));
    this.container.env.addVariable('SENTINEL_PORT', env(discovery.sentinelPort));
    this.container.env.addVariable('MASTER_NAME', env(discovery.masterName));
    if (discovery.peerHosts.length > 0) this.container.env.addVariable('PEER_HOSTS', env(discovery.peerHosts.join(' ')));
    for (const [key, value] of Object.entries(discovery.podLabels)) this.deployment.podMetadata.addLabel(key, value);
  }
}

/** Refuses chart-owned directives, malformed names and values with control characters. */
function checkExtraConfig(scope: Construct, config: { [directive: string]: string }): { [directive: string]: string } {
  for (const [directive, value] of Object.entries(config)) {
    const prop = `extraConfig[${JSON.stringify(directive)}]`;
    if (!/^[a-z][a-z0-9-]*$/.test(directive)) fail(scope, prop, directive, 'must be a redis.conf directive name: lowercase letters, digits and "-"');
    if (CHART_OWNED_DIRECTIVES.includes(directive)) {
      fail(scope, prop, directive, 'is set by the chart and cannot be overridden; use the matching prop if there is one');
    }
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x1f\x7f]/.test(value)) fail(scope, prop, value, 'must not contain control characters');
  }
  return config;
}
