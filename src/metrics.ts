import { ApiObject, Duration, Size } from 'cdk8s';
import { Construct } from 'constructs';
import { ComputeResources } from './compute-resources';
import { Deployment, Service, addSecureContainer, env, httpProbe, namespaceEnv, resolveResources, secretEnv } from './workload';
import { NamespaceSyntax, POD_NAMESPACE_ENV, serviceDnsName } from './cluster-dns';
import { RedisAuth } from './auth';
import * as k8s from './k8s-api';
import { RedisTls, TLS_DIR, TLS_FILES } from './tls';
import { INSTANCE_LABEL, recommendedLabels } from './labels';
import { checkDurationMs, checkImage, checkLabels, fail } from './validation';

/** The redis_exporter image of the metrics sidecar. */
export const DEFAULT_REDIS_EXPORTER_IMAGE = 'oliver006/redis_exporter:v1.62.0';
/** The uid the exporter image runs as. */
export const REDIS_EXPORTER_UID = 59000;
/** The exporter's port on Redis pods and Services. */
export const REDIS_EXPORTER_PORT = 9121;
/** The label on every Service that has a `metrics` port. */
export const METRICS_LABEL = 'redis-ha.cdk8s.io/metrics';

/** Prometheus metrics for Redis (a redis_exporter sidecar) and the proxy (HAProxy's own exporter). */
export interface MetricsOptions {
  /**
   * redis_exporter image; must be pinned.
   * @default RedisHa.DEFAULT_EXPORTER_IMAGE
   */
  readonly exporterImage?: string;
  /**
   * CPU and memory of each exporter sidecar.
   * @default - requests 10m CPU and 16Mi, limits 100m CPU and 64Mi
   */
  readonly exporterResources?: ComputeResources;
  /**
   * Also create a prometheus-operator `ServiceMonitor` (monitoring.coreos.com/v1) for the
   * Redis and proxy Services; needs the operator's CRDs in the cluster.
   * @default false
   */
  readonly serviceMonitor?: boolean;
  /**
   * Labels on the ServiceMonitor, for a Prometheus that selects monitors by label
   * (kube-prometheus-stack's selects `release: <its Helm release>` by default).
   * @default - the chart's recommended labels only
   */
  readonly serviceMonitorLabels?: { [key: string]: string };
  /**
   * Scrape interval of the ServiceMonitor.
   * @default Duration.seconds(30)
   */
  readonly interval?: Duration;
}

/** A Redis or Valkey pod of the chart, as its exporter sidecar reaches it: a Sentinel-mode instance or a cluster node. */
export interface ExportedServer {
  /** The name of the server's own Service. */
  readonly host: string;
  readonly port: number;
  readonly clusterDomain: string;
  readonly auth?: RedisAuth;
  readonly tls?: RedisTls;
  /** @internal */
  readonly _deployment: Deployment;
  /** @internal */
  readonly _service: Service;
  /** @internal */
  readonly _tlsVolume?: k8s.Volume;
}

/** Where the exporters scrape, and what else the ServiceMonitor selects. */
export interface MetricsTargets {
  /** The chart's servers, each given an exporter sidecar. */
  readonly servers: ExportedServer[];
  /** The exporter asks every node of the cluster (`REDIS_EXPORTER_IS_CLUSTER`) for cluster metrics. */
  readonly cluster?: boolean;
  /** @internal Services that already serve `/metrics` on a port of theirs (the proxy's, from HAProxy's own exporter). */
  readonly otherServices?: Array<{ readonly service: Service; readonly port: number }>;
}

/**
 * Adds an exporter sidecar to every Redis pod, a `metrics` port to every
 * Redis Service and to the other Services given (the proxy's: HAProxy's `/metrics` on its health
 * port), and optionally a ServiceMonitor selecting them.
 */
export function addMetrics(scope: Construct, targets: MetricsTargets, groupLabels: { [key: string]: string }, options: MetricsOptions): void {
  const image = checkImage(scope, 'metrics.exporterImage', options.exporterImage ?? DEFAULT_REDIS_EXPORTER_IMAGE);
  const intervalMs = checkDurationMs(scope, 'metrics.interval', options.interval ?? Duration.seconds(30));
  const resources = resolveResources(
    scope, 'metrics.exporterResources',
    { cpuRequestMillis: 10, cpuLimitMillis: 100, memoryRequest: Size.mebibytes(16), memoryLimit: Size.mebibytes(64) },
    options.exporterResources,
  );
  const labelled = (service: Service, port: number) => {
    service.bind(port, { name: 'metrics', targetPort: port });
    service.metadata.addLabel(METRICS_LABEL, 'true');
    for (const [k, v] of Object.entries(groupLabels)) service.metadata.addLabel(k, v);
  };
  targets.servers.forEach((instance) => {
    const exporter = addSecureContainer(instance._deployment, 'exporter', {
      image,
      uid: REDIS_EXPORTER_UID,
      env: {
        // With TLS the exporter verifies the server's certificate against the host it dials, and the
        // certificate names the Services (README): dial the instance's own Service, which selects only this pod.
        ...(instance.tls ? { [POD_NAMESPACE_ENV]: namespaceEnv() } : {}),
        REDIS_ADDR: env(instance.tls
          ? `rediss://${serviceDnsName(instance._service, instance.host, instance.clusterDomain, NamespaceSyntax.KUBERNETES)}:${instance.port}`
          : `redis://localhost:${instance.port}`),
        ...(targets.cluster ? { REDIS_EXPORTER_IS_CLUSTER: env('true') } : {}),
        ...(instance.tls ? {
          REDIS_EXPORTER_TLS_CA_CERT_FILE: env(TLS_FILES.ca),
          REDIS_EXPORTER_TLS_CLIENT_CERT_FILE: env(TLS_FILES.cert),
          REDIS_EXPORTER_TLS_CLIENT_KEY_FILE: env(TLS_FILES.key),
        } : {}),
        ...(instance.auth ? { REDIS_PASSWORD: secretEnv(instance.auth.secretName, instance.auth.key) } : {}),
      },
      ports: { metrics: REDIS_EXPORTER_PORT },
      resources,
      liveness: httpProbe('/health', { port: REDIS_EXPORTER_PORT, period: Duration.seconds(10) }),
    });
    // The TLS volume already belongs to the pod; the exporter reads it through the pod's fsGroup.
    if (instance._tlsVolume) exporter.mount(TLS_DIR, instance._tlsVolume, { readOnly: true });
    labelled(instance._service, REDIS_EXPORTER_PORT);
  });
  for (const other of targets.otherServices ?? []) labelled(other.service, other.port);

  if (options.serviceMonitorLabels !== undefined) {
    checkLabels(scope, 'metrics.serviceMonitorLabels', options.serviceMonitorLabels);
    if (!options.serviceMonitor) fail(scope, 'metrics.serviceMonitorLabels', options.serviceMonitorLabels, 'needs metrics.serviceMonitor: true');
  }
  if (options.serviceMonitor) {
    new ApiObject(scope, 'ServiceMonitor', {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      metadata: {
        labels: { ...recommendedLabels(groupLabels[INSTANCE_LABEL], 'metrics', image), ...options.serviceMonitorLabels },
      },
      spec: {
        selector: { matchLabels: { ...groupLabels, [METRICS_LABEL]: 'true' } },
        endpoints: [{ port: 'metrics', path: '/metrics', interval: `${Math.max(1, Math.round(intervalMs / 1000))}s` }],
      },
    });
  }
}
