import { ApiObject, Duration, Size } from 'cdk8s';
import { Construct, IConstruct } from 'constructs';
import { RedisAuth } from '../auth';
import { RedisTls, TLS_FILES } from '../tls';
import { Persistence } from '../persistence';
import { ComputeResources } from '../compute-resources';
import { RedisEngine, chooseEngine } from '../engine';
import { ConfigMap, Deployment, Service, env, resolveResources, secretEnv } from '../workload';
import { INSTANCE_LABEL, PodComponent, componentSelector, groupLabelsOf, labelObjects, recommendedLabels } from '../labels';
import { IRedisInstance, RedisInstance, announcedNameOf } from './redis-instance';
import { Sentinel, SentinelProps } from './sentinel';
import { renderSentinelConf, renderSentinelEntrypoint, renderSentinelPreStop, renderSentinelProbe } from './sentinel-config';
import { sentinelGuardTiming } from './sentinel-guard';
import { checkDurationMs, checkInt, checkMasterName, fail } from '../validation';

/** The port every sentinel listens on. */
export const SENTINEL_PORT = 26379;

/** Settings of a sentinel cluster. */
export interface SentinelClusterOptions {
  /**
   * Number of sentinels: odd and at least 3, so that a majority survives the loss of one (an even
   * count tolerates no more down than the odd count below it, so it is refused).
   * @default 3
   */
  readonly sentinels?: number;
  /**
   * Sentinels that must agree a master is down before a failover (also the
   * number of sentinels the proxy needs naming a server as master).
   * @see https://redis.io/docs/latest/operate/oss_and_stack/management/sentinel/#quorum
   * @default - a majority: floor(sentinels / 2) + 1
   */
  readonly quorum?: number;
  /**
   * The name the sentinels monitor the master under.
   * @default 'mymaster'
   */
  readonly masterName?: string;
  /**
   * How long a master must be unreachable before a sentinel considers it down; at least
   * {@link SentinelCluster.MIN_DOWN_AFTER_MS}.
   * @default Duration.seconds(5)
   */
  readonly downAfter?: Duration;
  /**
   * Failover timeout: how long before a failed failover is retried; must exceed `downAfter`.
   * @default Duration.seconds(15)
   */
  readonly failoverTimeout?: Duration;
  /**
   * Replicas that resynchronise with a new master at the same time.
   * @default 1
   */
  readonly parallelSyncs?: number;
  /**
   * The server the sentinels run (its `--sentinel` mode): the same kind as the instances' engine.
   * @default - the initial master's engine
   */
  readonly engine?: RedisEngine;
  /**
   * A Redis image (the same as `engine: RedisEngine.redis({ image })`); cannot be combined with `engine`.
   * @deprecated use `engine`
   * @default - the engine's image
   */
  readonly image?: string;
  /**
   * Where each sentinel keeps its rewritable sentinel.conf.
   * @default Persistence.claim() - 1Gi from the default StorageClass
   */
  readonly persistence?: Persistence;
  /**
   * CPU and memory of each sentinel container.
   * @default - requests 50m CPU and 32Mi, limits 250m CPU and 128Mi
   */
  readonly resources?: ComputeResources;
  /**
   * How long kubelet waits for a stopping sentinel. Its preStop hook gets this minus 10 seconds to
   * wait its turn: when an apply replaces every sentinel at once, they stop one at a time, each
   * after the one before is back and serving.
   * @default Duration.seconds(60)
   */
  readonly terminationGracePeriod?: Duration;
}

/** Props of a {@link SentinelCluster}. */
export interface SentinelClusterProps extends SentinelClusterOptions {
  /**
   * The Redis instances to monitor: exactly one without `replicaOf` (the
   * initial master). They must share one auth setting, which the sentinels use.
   * Each {@link RedisInstance} among them asks these sentinels for the master when it starts.
   */
  readonly instances: IRedisInstance[];
}

/**
 * Sentinels as the proxy reaches them: a {@link SentinelCluster}, or your own (sentinels this
 * library did not build, whose Services live in the proxy's namespace).
 */
export interface ISentinelCluster extends IConstruct {
  /** Host name of a Service over every sentinel, for sentinel-aware clients. */
  readonly host: string;
  /** The sentinel port. */
  readonly port: number;
  /** The name the sentinels monitor the master under. */
  readonly masterName: string;
  /** How many sentinels must name a server as master for the proxy to route to it. */
  readonly quorum: number;
  /** The Redis instances the sentinels monitor. */
  readonly instances: IRedisInstance[];
  /** Each sentinel's own Service name. */
  readonly sentinelHosts: string[];
  /** The password reference shared by the sentinels and the instances, if any. */
  readonly auth?: RedisAuth;
  /** The TLS Secret reference shared by the sentinels and the instances, if any. */
  readonly tls?: RedisTls;
  /** The cluster DNS domain of the names the sentinels announce. */
  readonly clusterDomain: string;
  /** Labels that every pod of the group carries (the proxy's included). */
  readonly groupLabels: { [key: string]: string };
  /**
   * How long the sentinels wait before they mark a silent master down, when known: the proxy's
   * `fenceAfter` may not exceed it.
   */
  readonly downAfter?: Duration;
}

/**
 * n Redis Sentinels, each a Deployment (Recreate) with its own ClusterIP
 * Service, announced name and claim holding its sentinel.conf, plus a
 * headless Service over all of them for sentinel-aware clients.
 */
export class SentinelCluster extends Construct implements ISentinelCluster {
  /** The port every sentinel listens on. */
  public static readonly PORT: number = SENTINEL_PORT;
  /** The shortest `downAfter` the chart accepts. */
  public static readonly MIN_DOWN_AFTER_MS: number = 1000;

  /** The headless Service selecting every sentinel, as a core cdk8s object: an escape hatch. */
  public readonly service: ApiObject;
  /** Host name of the headless Service, for sentinel-aware clients. */
  public readonly host: string;
  /** The sentinel port. */
  public readonly port: number = SENTINEL_PORT;
  /** The monitored master's name. */
  public readonly masterName: string;
  /** The quorum in effect. */
  public readonly quorum: number;
  /** The Redis instances the sentinels monitor. */
  public readonly instances: IRedisInstance[];
  /** The per-sentinel Service names, in order. */
  public readonly sentinelHosts: string[];
  /** The password reference shared with the instances, if any. */
  public readonly auth?: RedisAuth;
  /** The TLS Secret reference shared with the instances, if any. */
  public readonly tls?: RedisTls;
  /** The cluster DNS domain shared with the instances, in which the sentinels announce their names. */
  public readonly clusterDomain: string;
  /** The sentinels' Deployments, in order, as core cdk8s objects (`addJsonPatch`, `metadata`): escape hatches. */
  public readonly deployments: ApiObject[];
  /** @internal The sentinels' Deployments, in order. */
  public readonly _deployments: Deployment[];
  /** Labels that select every sentinel pod of this cluster. */
  public readonly selectorLabels: { [key: string]: string };
  /** @internal The recommended labels of the sentinels' objects. */
  public readonly _labels: { [key: string]: string };
  /** The server the sentinels run. */
  public readonly engine: RedisEngine;
  /** Labels every pod of this group carries: its Redis instances, sentinels and proxy. */
  public readonly groupLabels: { [key: string]: string };
  /** How long the sentinels wait before they mark a silent master down. */
  public readonly downAfter?: Duration;

  constructor(scope: Construct, id: string, props: SentinelClusterProps) {
    super(scope, id);
    const count = checkInt(this, 'sentinels', props.sentinels ?? 3, 3);
    if (count % 2 === 0) {
      fail(this, 'sentinels', count, `must be odd: ${count} sentinels tolerate ${count / 2 - 1} down, as ${count - 1} do `
        + `(a failover needs a majority of them, ${count / 2 + 1}); use ${count - 1} or ${count + 1}`);
    }
    this.quorum = checkInt(this, 'quorum', props.quorum ?? Math.floor(count / 2) + 1, 1, count);
    this.masterName = checkMasterName(this, 'masterName', props.masterName ?? 'mymaster');
    const downAfterMs = checkDurationMs(this, 'downAfter', props.downAfter ?? Duration.seconds(5));
    this.downAfter = Duration.millis(downAfterMs);
    // Sentinel pings each instance once a second; the guard around each sentinel must see a silent link first.
    if (downAfterMs < SentinelCluster.MIN_DOWN_AFTER_MS) {
      fail(this, 'downAfter', `${downAfterMs}ms`, `must be at least ${SentinelCluster.MIN_DOWN_AFTER_MS}ms: the guard around each sentinel reads it every 250 ms at most`);
    }
    const failoverMs = checkDurationMs(this, 'failoverTimeout', props.failoverTimeout ?? Duration.seconds(15));
    if (failoverMs <= downAfterMs) fail(this, 'failoverTimeout', `${failoverMs}ms`, `must be greater than downAfter (${downAfterMs}ms)`);
    const parallelSyncs = checkInt(this, 'parallelSyncs', props.parallelSyncs ?? 1, 1);
    const graceMs = checkDurationMs(this, 'terminationGracePeriod', props.terminationGracePeriod ?? Duration.seconds(60));
    if (graceMs < 15_000) fail(this, 'terminationGracePeriod', `${graceMs}ms`, 'must be at least 15s: a stopping sentinel waits for the one before it');

    this.instances = props.instances;
    const masters = props.instances.filter((i) => !i.replicaOf);
    if (masters.length !== 1) {
      fail(this, 'instances', props.instances.map((i) => i.node.path), `must hold exactly one initial master (an instance without replicaOf), found ${masters.length}`);
    }
    const master = masters[0];
    const auths = new Set(props.instances.map((i) => (i.auth ? `${i.auth.secretName}/${i.auth.key}` : 'none')));
    if (auths.size > 1) fail(this, 'instances', [...auths], 'must share one auth setting');
    const tlss = new Set(props.instances.map((i) => (i.tls ? i.tls.secretName : 'none')));
    if (tlss.size > 1) fail(this, 'instances', [...tlss], 'must share one TLS setting');
    const domains = new Set(props.instances.map((i) => i.clusterDomain));
    if (domains.size > 1) fail(this, 'instances', [...domains], 'must share one clusterDomain');
    this.auth = master.auth;
    this.tls = master.tls;
    this.clusterDomain = master.clusterDomain;
    this.engine = chooseEngine(this, props.engine, props.image, () => master.engine);
    const image = this.engine._resolve(this, props.image !== undefined ? 'image' : 'engine').image;
    const kinds = new Set(props.instances.map((i) => i.engine.kind));
    if (kinds.size > 1 || !kinds.has(this.engine.kind)) {
      fail(this, 'engine', this.engine.kind, `must be the instances' engine (${[...kinds].join(', ')}): sentinels and servers of one kind`);
    }

    const template = renderSentinelConf({
      port: SENTINEL_PORT,
      masterName: this.masterName,
      downAfterMilliseconds: downAfterMs,
      failoverTimeoutMilliseconds: failoverMs,
      parallelSyncs,
      tls: this.tls ? TLS_FILES : undefined,
    });
    const config = new ConfigMap(this, 'Config', {
      data: {
        'sentinel-global.conf': template.global,
        'sentinel-master.conf': template.master,
        'entrypoint.sh': renderSentinelEntrypoint(),
        'probe.sh': renderSentinelProbe(),
        'prestop.sh': renderSentinelPreStop(),
      },
    });

    this.groupLabels = groupLabelsOf(this);
    const labels = this._labels = recommendedLabels(this.groupLabels[INSTANCE_LABEL], PodComponent.SENTINEL, image);
    const selector = componentSelector(this.groupLabels, PodComponent.SENTINEL);
    const resources = resolveResources(
      this, 'resources',
      { cpuRequestMillis: 50, cpuLimitMillis: 250, memoryRequest: Size.mebibytes(32), memoryLimit: Size.mebibytes(128) },
      props.resources,
    );
    const password = this.auth ? secretEnv(this.auth.secretName, this.auth.key) : undefined;
    const sentinelProps: Omit<SentinelProps, 'guard'> = {
      config,
      image,
      engine: this.engine,
      port: SENTINEL_PORT,
      monitor: {
        MASTER_NAME: env(this.masterName),
        SENTINEL_QUORUM: env(this.quorum),
        INITIAL_MASTER_HOST: env(announcedNameOf(master)),
        INITIAL_MASTER_PORT: env(master.port),
        REDIS_HOSTS: env(props.instances.map(announcedNameOf).join(' ')),
        REDIS_PORT: env(master.port),
      },
      persistence: props.persistence ?? Persistence.claim(),
      resources,
      terminationGracePeriod: Duration.millis(graceMs),
      labels,
      clusterDomain: this.clusterDomain,
      password,
      tls: this.tls,
    };
    const sentinels: Sentinel[] = [];
    for (let i = 1; i <= count; i++) {
      sentinels.push(new Sentinel(this, `Sentinel${i}`, { ...sentinelProps, guard: sentinelGuardTiming(downAfterMs, i - 1) }));
    }
    this.sentinelHosts = sentinels.map((sentinel) => sentinel.host);
    this._deployments = sentinels.map((sentinel) => sentinel.deployment);
    this.deployments = this._deployments.map((d) => ApiObject.of(d));
    // Each sentinel's preStop checks the others before it stops.
    const announced = sentinels.map((sentinel) => sentinel.announcedName);
    for (const sentinel of sentinels) sentinel.knowPeers(announced);

    const headless = new Service(this, 'Service', {
      clusterIP: 'None',
      ports: [{ name: 'sentinel', port: SENTINEL_PORT }],
    });
    for (const [key, value] of Object.entries(selector)) headless.selectLabel(key, value);
    this.service = ApiObject.of(headless);
    this.host = headless.name;
    this.selectorLabels = selector;
    labelObjects(this, labels);

    for (const instance of props.instances) {
      if (!(instance instanceof RedisInstance)) continue;
      instance._discoverMasterFrom({
        sentinelHosts: announced,
        sentinelPort: SENTINEL_PORT,
        masterName: this.masterName,
        podLabels: componentSelector(this.groupLabels, PodComponent.REDIS),
        peerHosts: props.instances.filter((i) => i !== instance).map(announcedNameOf),
      });
    }
  }
}
