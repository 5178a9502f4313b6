/**
 * The one place that knows cdk8s-plus. Every construct builds its workloads
 * through these helpers, so moving to a newer cdk8s-plus is a change of this
 * import (and of package.json), not of every file.
 */
import { createHash } from 'crypto';
import { ApiObject, Duration, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { ComputeResources } from './compute-resources';

export { kplus };

/** Fully specified resources, as each component's defaults are. */
export interface ResolvedResources {
  readonly cpuRequestMillis: number;
  readonly cpuLimitMillis: number;
  readonly memoryRequest: Size;
  readonly memoryLimit: Size;
}

/** One container, as the chart runs it. */
export interface ContainerSpec {
  readonly image: string;
  /** Runs as this uid and gid (the image's own unprivileged user). */
  readonly uid: number;
  readonly command?: string[];
  readonly env: { [name: string]: kplus.EnvValue };
  readonly ports: { [name: string]: number };
  readonly resources: ResolvedResources;
  readonly readiness?: kplus.Probe;
  readonly liveness?: kplus.Probe;
  readonly startup?: kplus.Probe;
  /** A command kubelet runs before stopping the container. */
  readonly preStop?: string[];
}

/** A component's pods: their main container, and how many run and are replaced. */
export interface WorkloadSpec extends ContainerSpec {
  readonly replicas: number;
  /** Recreate for pods that own a ReadWriteOnce volume. */
  readonly recreate: boolean;
  readonly labels: { [key: string]: string };
  readonly terminationGracePeriod?: Duration;
}

/**
 * A Deployment with this library's deliberate security and scheduling choices
 * instead of cdk8s-plus's generic ones: the image's own non-root uid (also the
 * volumes' fsGroup), no service-account token, the runtime's seccomp profile,
 * and a main container from {@link addSecureContainer}.
 */
export function secureDeployment(scope: Construct, id: string, spec: WorkloadSpec): kplus.Deployment {
  const deployment = new kplus.Deployment(scope, id, {
    replicas: spec.replicas,
    strategy: spec.recreate ? kplus.DeploymentStrategy.recreate() : kplus.DeploymentStrategy.rollingUpdate(),
    automountServiceAccountToken: false,
    terminationGracePeriod: spec.terminationGracePeriod,
    securityContext: { ensureNonRoot: true, user: spec.uid, group: spec.uid, fsGroup: spec.uid },
  });
  for (const [key, value] of Object.entries(spec.labels)) deployment.podMetadata.addLabel(key, value);
  ApiObject.of(deployment).addJsonPatch(JsonPatch.add('/spec/template/spec/securityContext/seccompProfile', { type: 'RuntimeDefault' }));
  addSecureContainer(deployment, 'main', spec);
  return deployment;
}

/**
 * Adds a container that runs as `spec.uid` with a read-only root filesystem,
 * no privilege escalation and no capabilities, `IfNotPresent` for its pinned
 * image, explicit resources and probes, and named ports.
 */
export function addSecureContainer(deployment: kplus.Deployment, name: string, spec: ContainerSpec): kplus.Container {
  const container = deployment.addContainer({
    name,
    image: spec.image,
    imagePullPolicy: kplus.ImagePullPolicy.IF_NOT_PRESENT,
    command: spec.command,
    envVariables: spec.env,
    ports: Object.entries(spec.ports).map(([portName, number]) => ({ name: portName, number })),
    securityContext: {
      ensureNonRoot: true,
      user: spec.uid,
      group: spec.uid,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
    },
    resources: {
      cpu: {
        request: kplus.Cpu.millis(spec.resources.cpuRequestMillis),
        limit: kplus.Cpu.millis(spec.resources.cpuLimitMillis),
      },
      memory: { request: spec.resources.memoryRequest, limit: spec.resources.memoryLimit },
    },
    readiness: spec.readiness,
    liveness: spec.liveness,
    startup: spec.startup,
    lifecycle: spec.preStop ? { preStop: kplus.Handler.fromCommand(spec.preStop) } : undefined,
  });
  // cdk8s-plus-27 has no 'ALL' capability (restricted Pod Security Standard).
  const index = deployment.containers.length - 1;
  ApiObject.of(deployment).addJsonPatch(
    JsonPatch.add(`/spec/template/spec/containers/${index}/securityContext/capabilities`, { drop: ['ALL'] }),
  );
  return container;
}

/** Merges user resources over a component's defaults. */
export function resolveResources(defaults: ResolvedResources, given?: ComputeResources): ResolvedResources {
  return { ...defaults, ...definedOnly(given ?? {}) };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** An exec probe running one of the chart's scripts. */
export function scriptProbe(command: string[], period: Duration, failureThreshold: number): kplus.Probe {
  return kplus.Probe.fromCommand(command, {
    periodSeconds: period,
    timeoutSeconds: Duration.seconds(5),
    failureThreshold,
  });
}

/** The plain env value for `BIND_ADDRESS` and friends. */
export function env(value: string | number): kplus.EnvValue {
  return kplus.EnvValue.fromValue(String(value));
}

/** Plain env values for each entry. */
export function envOf(values: { [name: string]: string }): { [name: string]: kplus.EnvValue } {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, env(v)]));
}

/** An env value read from a key of an existing Secret. */
export function secretEnv(scope: Construct, id: string, secretName: string, key: string): kplus.EnvValue {
  const secret = kplus.Secret.fromSecretName(scope, id, secretName);
  return kplus.EnvValue.fromSecretValue({ secret, key });
}

/** The pod's namespace, from the downward API. */
export function namespaceEnv(): kplus.EnvValue {
  return kplus.EnvValue.fromFieldRef(kplus.EnvFieldPaths.POD_NAMESPACE);
}

/**
 * Makes the pod look up names of `dots` dots or more as given before trying its search domains:
 * under Kubernetes' default `ndots:5`, each lookup of an announced name (4 dots in `cluster.local`)
 * would first try, and fail, three search domains.
 */
export function lookUpAsGivenFirst(deployment: kplus.Deployment, dots: number): void {
  deployment.dns.addOption({ name: 'ndots', value: String(dots) });
}

/** Mounts a component's scripts (read-only) at `paths.config` and its claim at `paths.data`. */
export function mountConfigAndData(
  scope: Construct,
  container: kplus.Container,
  config: kplus.IConfigMap,
  claim: kplus.IPersistentVolumeClaim,
  paths: { readonly config: string; readonly data: string },
): void {
  const configVolume = kplus.Volume.fromConfigMap(scope, 'ConfigVolume', config, { name: 'config', defaultMode: 0o444 });
  container.mount(paths.config, configVolume, { readOnly: true });
  container.mount(paths.data, kplus.Volume.fromPersistentVolumeClaim(scope, 'DataVolume', claim, { name: 'data' }));
}

/** Pod-template annotation holding a digest of the pod's ConfigMap. */
export const CONFIG_HASH_ANNOTATION = 'redis-ha.cdk8s.io/config-hash';

/**
 * Puts a digest of the ConfigMap's data on the pod template, so a changed setting changes the
 * template and Kubernetes replaces the pod (a mounted ConfigMap changes in place, unseen).
 */
export function rollOnConfigChange(workload: kplus.Deployment, config: kplus.ConfigMap): void {
  const digest = createHash('sha256').update(JSON.stringify(config.data)).digest('hex').slice(0, 16);
  workload.podMetadata.addAnnotation(CONFIG_HASH_ANNOTATION, digest);
}

/**
 * A Service the chart's own peers use to reach one pod whatever its readiness: a replica is not
 * ready while its master is down, which is exactly when the sentinels must reach it to promote it.
 */
export function peerService(scope: Construct, id: string, port: { name: string; port: number }): kplus.Service {
  const service = new kplus.Service(scope, id, { ports: [{ ...port, targetPort: port.port }] });
  ApiObject.of(service).addJsonPatch(JsonPatch.add('/spec/publishNotReadyAddresses', true));
  return service;
}
