import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { RedisAuth } from '../auth';
import { RedisTls } from '../tls';
import { RedisEngine } from '../engine';
import { addDisruptionBudget } from '../disruption-budget';
import { DEFAULT_REDIS_EXPORTER_IMAGE, MetricsOptions, REDIS_EXPORTER_PORT, addMetrics } from '../metrics';
import { NetworkPolicyOptions } from '../network-policy';
import { addNetworkPolicies } from './sentinel-network-policies';
import { PodComponent, componentSelector, groupLabelsOf, labelObjects, markGroup } from '../labels';
import { RedisInstance, RedisInstanceOptions } from './redis-instance';
import { SentinelCluster, SentinelClusterOptions } from './sentinel-cluster';
import { PROXY_HEALTH_PORT, SentinelProxy, SentinelProxyOptions } from './sentinel-proxy';
import { SpreadOptions, applySpread } from '../spread';
import { PodSettings } from '../pod-settings';
import { resolvePodSettings } from '../resolved-pod-settings';
import { checkInt, fail, withPropsOf } from '../validation';
import { checkClusterDomain } from '../cluster-dns';

/** Props of a {@link RedisHa}. */
export interface RedisHaProps {
  /**
   * The server every Redis and sentinel pod runs, and its image: `RedisEngine.valkey()` or
   * `RedisEngine.redis()`, each with an optional pinned image (`redis.engine` and
   * `sentinel.engine` override it per layer). The proxy's HAProxy is `proxy.engine`.
   * @default RedisEngine.valkey() - RedisEngine.DEFAULT_VALKEY_IMAGE
   */
  readonly engine?: RedisEngine;
  /**
   * Redis instances in all: one initial master and `instances - 1` replicas.
   * @default 3
   */
  readonly instances?: number;
  /**
   * Settings of every Redis instance. `minReplicasToWrite` defaults to 1 here when there are replicas.
   * @default - see RedisInstanceOptions
   */
  readonly redis?: RedisInstanceOptions;
  /**
   * Settings of the sentinels.
   * @default - 3 sentinels, quorum 2, master name 'mymaster'; see SentinelClusterOptions
   */
  readonly sentinel?: SentinelClusterOptions;
  /**
   * Settings of the proxy.
   * @default - 2 HAProxy pods; see SentinelProxyOptions
   */
  readonly proxy?: SentinelProxyOptions;
  /**
   * Password for Redis, the sentinels and the proxy's checks, from an existing Secret.
   * @default - no authentication
   */
  readonly auth?: RedisAuth;
  /**
   * TLS on every hop (clients to proxy, proxy and sentinels to Redis, replication,
   * sentinel to sentinel) from an existing Secret; plain-text ports are closed.
   * @default - plain TCP
   */
  readonly tls?: RedisTls;
  /**
   * PodDisruptionBudgets so node drains evict one Redis at a time, keep
   * max(quorum, majority) sentinels up and one proxy serving.
   * @default true
   */
  readonly disruptionBudgets?: boolean;
  /**
   * Anti-affinity and zone spreading of each component's pods.
   * @default - preferred anti-affinity per node, preferred even spread across zones
   */
  readonly spread?: SpreadOptions;
  /**
   * Where every pod of the chart runs (node selector, tolerations, priority class), the registry
   * credentials of its images, and labels and annotations of your own; and the env variables, mounts
   * and sidecars of the Redis pods.
   * @default - the chart's own settings only
   */
  readonly pods?: PodSettings;
  /**
   * Ingress NetworkPolicies that admit only the chart's own pods and the client pods you label.
   * @default - no NetworkPolicy
   */
  readonly networkPolicy?: NetworkPolicyOptions;
  /**
   * The cluster's DNS domain. Redis instances and sentinels announce `<service>.<namespace>.svc.<clusterDomain>`,
   * so sentinel-aware clients in any namespace can reach the master they name.
   * @see https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/
   * @default - `proxy.clusterDomain` if set, else 'cluster.local'
   */
  readonly clusterDomain?: string;
  /**
   * Prometheus metrics: a redis_exporter sidecar on Redis pods, HAProxy's exporter, and optionally a ServiceMonitor.
   * @default - no exporter sidecar, no ServiceMonitor
   */
  readonly metrics?: MetricsOptions;
}

/**
 * A highly available Redis, in three layers: Redis instances (one master,
 * the rest replicas), sentinels that watch them and promote a replica when
 * the master fails, and a proxy that always routes to the current master.
 */
export class RedisHa extends Construct {
  /** The redis_exporter image of the metrics sidecar (`metrics.exporterImage`). */
  public static readonly DEFAULT_EXPORTER_IMAGE: string = DEFAULT_REDIS_EXPORTER_IMAGE;

  /** The Redis instances; the first is the initial master. */
  public readonly instances: RedisInstance[];
  /** The sentinels. */
  public readonly sentinels: SentinelCluster;
  /** The proxy. */
  public readonly proxy: SentinelProxy;

  constructor(scope: Construct, id: string, props: RedisHaProps = {}) {
    super(scope, id);
    // Every object below is labelled `app.kubernetes.io/instance: <this RedisHa>`.
    markGroup(this);
    const count = checkInt(this, 'instances', props.instances ?? 3, 1);
    // `??`, not a spread under the defaults: an explicit `undefined` keeps the default.
    const minReplicasToWrite = props.redis?.minReplicasToWrite ?? (count > 1 ? 1 : 0);
    if (minReplicasToWrite > count - 1) {
      fail(this, 'redis.minReplicasToWrite', minReplicasToWrite, `must not exceed the replicas (instances - 1 = ${count - 1}), or the master refuses every write`);
    }
    if (props.engine && props.redis?.image !== undefined) {
      fail(this, 'redis.image', props.redis.image, 'cannot be set together with engine; give the image to the engine (RedisEngine.valkey({ image }))');
    }
    if (props.engine && props.sentinel?.image !== undefined) {
      fail(this, 'sentinel.image', props.sentinel.image, 'cannot be set together with engine; give the image to the engine (RedisEngine.valkey({ image }))');
    }
    const redis: RedisInstanceOptions = {
      ...props.redis,
      minReplicasToWrite,
      engine: props.redis?.engine ?? (props.redis?.image === undefined ? props.engine : undefined),
    };
    const sentinel: SentinelClusterOptions = {
      ...props.sentinel,
      engine: props.sentinel?.engine ?? (props.sentinel?.image === undefined ? props.engine : undefined),
    };
    // Checked here so that an error names `engine` as the user wrote it, not the layer it reached.
    props.engine?._resolve(this, 'engine');
    props.auth?._validate(this);
    props.tls?._validate(this);
    if (props.clusterDomain !== undefined) checkClusterDomain(this, 'clusterDomain', props.clusterDomain);
    if (props.proxy?.clusterDomain !== undefined) checkClusterDomain(this, 'proxy.clusterDomain', props.proxy.clusterDomain);
    const shared = { auth: props.auth, tls: props.tls, clusterDomain: props.clusterDomain ?? props.proxy?.clusterDomain };

    // Errors about the layers' props are reported here, as `redis.…`, `sentinel.…` and `proxy.…`.
    this.instances = withPropsOf(this, 'redis.', () => {
      const master = new RedisInstance(this, 'Redis1', { ...redis, ...shared });
      const instances = [master];
      for (let i = 2; i <= count; i++) {
        instances.push(new RedisInstance(this, `Redis${i}`, { ...redis, ...shared, replicaOf: master }));
      }
      return instances;
    });
    this.sentinels = withPropsOf(this, 'sentinel.', () => new SentinelCluster(this, 'Sentinels', { ...sentinel, instances: this.instances }));
    this.proxy = withPropsOf(this, 'proxy.', () => new SentinelProxy(this, 'Proxy', { ...props.proxy, sentinels: this.sentinels }));

    // The group's labels, which every pod of this RedisHa carries.
    const group = groupLabelsOf(this);
    const groups: Array<[PodComponent, ApiObject[]]> = [
      [PodComponent.REDIS, this.instances.map((i) => i.deployment)],
      [PodComponent.SENTINEL, this.sentinels.deployments],
      [PodComponent.PROXY, [this.proxy.deployment]],
    ];
    for (const [component, deployments] of groups) {
      for (const d of deployments) applySpread(d, componentSelector(group, component), props.spread);
    }
    const pods = resolvePodSettings(this, 'pods', props.pods);
    for (const instance of this.instances) instance._deployment.applySettings(pods, { server: true });
    for (const d of [...this.sentinels._deployments, this.proxy._deployment]) d.applySettings(pods, { server: false });
    // Objects about one component's pods carry that component's labels.
    const labelsOf: { [component: string]: { [key: string]: string } } = {
      [PodComponent.REDIS]: this.instances[0]._labels, [PodComponent.SENTINEL]: this.sentinels._labels, [PodComponent.PROXY]: this.proxy._labels,
    };
    if (props.disruptionBudgets ?? true) {
      const n = this.sentinels.deployments.length;
      const sentinelsNeeded = Math.max(this.sentinels.quorum, Math.floor(n / 2) + 1);
      const budgets: Array<[string, PodComponent, { minAvailable?: number; maxUnavailable?: number }]> = [
        ['RedisBudget', PodComponent.REDIS, { maxUnavailable: 1 }],
        ['SentinelBudget', PodComponent.SENTINEL, { minAvailable: sentinelsNeeded }],
        ['ProxyBudget', PodComponent.PROXY, { maxUnavailable: 1 }],
      ];
      for (const [budgetId, component, budget] of budgets) {
        labelObjects(addDisruptionBudget(this, budgetId, componentSelector(group, component), budget), labelsOf[component]);
      }
    }
    if (props.metrics) {
      addMetrics(this, { servers: this.instances, otherServices: [{ service: this.proxy._service, port: PROXY_HEALTH_PORT }] }, group, props.metrics);
    }
    if (props.networkPolicy) {
      const metricsPorts = props.metrics ? { redis: [REDIS_EXPORTER_PORT], proxy: [] } : undefined;
      addNetworkPolicies(this, group, this.proxy, props.networkPolicy, labelsOf, metricsPorts);
    }
  }

  /** Where applications connect: the proxy's headless Service. */
  public get host(): string {
    return this.proxy.host;
  }

  /** The proxy's port. */
  public get port(): number {
    return this.proxy.port;
  }

  /** The headless sentinel Service, for sentinel-aware clients. */
  public get sentinelHost(): string {
    return this.sentinels.host;
  }

  /** The master name sentinel-aware clients ask for. */
  public get masterName(): string {
    return this.sentinels.masterName;
  }
}
