/**
 * Builds the chart's pods, and the Services, ConfigMaps and claims around them, as Kubernetes API
 * objects written by the chart itself (./k8s-api: the typed subset of the API it writes). Secure pod
 * defaults are set here, in one place.
 *
 * Each object keeps the shape the chart has always synthesized: a construct with the object as
 * its `Resource` child (so names, and `ApiObject.of`, stay as they were) and a spec rendered at
 * synth time, after every construct has added its containers, env, mounts and labels.
 */
import { createHash } from 'crypto';
import { ApiObjectMetadataDefinition, Duration, Names, Size, SizeRoundingBehavior } from 'cdk8s';
import { Construct } from 'constructs';
import { ComputeResources } from './compute-resources';
import * as k8s from './k8s-api';
import { COMPONENT_LABEL } from './labels';
import { ResolvedPodSettings } from './resolved-pod-settings';
import { checkInt, fail, sizeQuantity, userProp } from './validation';

/** The label that selects one Deployment's pods: its construct path as a label value. */
const ADDRESS_LABEL = 'cdk8s.io/metadata.addr';

/** Fully specified resources, as each component's defaults are. */
export interface ResolvedResources {
  readonly cpuRequestMillis: number;
  readonly cpuLimitMillis: number;
  readonly memoryRequest: Size;
  readonly memoryLimit: Size;
}

/** The value of one environment variable: a literal, or a reference (Secret key, downward API). */
export interface EnvValue {
  readonly value?: string;
  readonly valueFrom?: k8s.EnvVarSource;
}

/** One container, as the chart runs it. */
export interface ContainerSpec {
  readonly image: string;
  /** Runs as this uid and gid (the image's own unprivileged user). */
  readonly uid: number;
  readonly command?: string[];
  readonly args?: string[];
  readonly env: { [name: string]: EnvValue };
  readonly ports: { [name: string]: number };
  readonly resources: ResolvedResources;
  readonly readiness?: k8s.Probe;
  readonly liveness?: k8s.Probe;
  readonly startup?: k8s.Probe;
  /** A command kubelet runs before stopping the container. */
  readonly preStop?: string[];
}

/** A component's pods: their main container, and how many run and are replaced. */
export interface WorkloadSpec extends ContainerSpec {
  readonly replicas: number;
  /** Recreate for pods that own a ReadWriteOnce volume. */
  readonly recreate: boolean;
  readonly labels: { [key: string]: string };
  /** Kubernetes' default when unset: 30s. */
  readonly terminationGracePeriod?: Duration;
}

/** A container's environment, in the order the variables were added (a variable added again keeps its place). */
export class ContainerEnv {
  private readonly variables = new Map<string, EnvValue>();

  constructor(initial: { [name: string]: EnvValue }) {
    for (const [name, value] of Object.entries(initial)) this.addVariable(name, value);
  }

  /** Sets a variable. */
  public addVariable(name: string, value: EnvValue): void {
    this.variables.set(name, value);
  }

  /** @internal */
  public _toKube(): k8s.EnvVar[] {
    return [...this.variables].map(([name, v]) => ({ name, value: v.value, valueFrom: v.valueFrom }));
  }
}

/**
 * A container that runs as `spec.uid` with a read-only root filesystem, no privilege escalation
 * and no capabilities, `IfNotPresent` for its pinned image, explicit resources and probes, and
 * named ports. Its mounts bring their volumes into the pod.
 */
export class Container {
  public readonly env: ContainerEnv;
  /** @internal The mounts, with their volumes, in the order they were added. */
  public readonly _mounts: Array<{ readonly path: string; readonly volume: k8s.Volume; readonly readOnly?: boolean }> = [];

  constructor(public readonly name: string, private readonly spec: ContainerSpec) {
    this.env = new ContainerEnv(spec.env);
  }

  /** Mounts `volume` at `path`. */
  public mount(path: string, volume: k8s.Volume, options: { readonly readOnly?: boolean } = {}): void {
    this._mounts.push({ path, volume, readOnly: options.readOnly });
  }

  /** @internal */
  public _toKube(): k8s.Container {
    const { spec } = this;
    const cpu = (millis: number) => `${millis}m`;
    const memory = (size: Size) => `${size.toMebibytes()}Mi`;
    return {
      name: this.name,
      image: spec.image,
      imagePullPolicy: 'IfNotPresent',
      command: spec.command,
      args: spec.args,
      env: nonEmpty(this.env._toKube()),
      ports: nonEmpty(Object.entries(spec.ports).map(([name, containerPort]) => ({ name, containerPort }))),
      volumeMounts: nonEmpty(this._mounts.map((m) => ({ name: m.volume.name, mountPath: m.path, readOnly: m.readOnly }))),
      readinessProbe: spec.readiness,
      livenessProbe: spec.liveness,
      startupProbe: spec.startup,
      lifecycle: spec.preStop ? { preStop: { exec: { command: spec.preStop } } } : undefined,
      resources: {
        limits: { cpu: cpu(spec.resources.cpuLimitMillis), memory: memory(spec.resources.memoryLimit) },
        requests: { cpu: cpu(spec.resources.cpuRequestMillis), memory: memory(spec.resources.memoryRequest) },
      },
      securityContext: {
        runAsUser: spec.uid,
        runAsGroup: spec.uid,
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        privileged: false,
        // The restricted Pod Security Standard.
        capabilities: { drop: ['ALL'] },
      },
    };
  }
}

/**
 * A Deployment (`Resource`, apps/v1) with this library's deliberate security and scheduling
 * choices: the image's own non-root uid (also the volumes' fsGroup), no service-account token,
 * the runtime's seccomp profile, and a main container named after its component (see {@link Container}). Its pods carry
 * {@link ADDRESS_LABEL}, which its selector (and its Services') match.
 */
export class Deployment extends Construct {
  /** The Deployment object. */
  public readonly apiObject: k8s.KubeDeployment;
  /** The pod template's metadata. */
  public readonly podMetadata: ApiObjectMetadataDefinition;
  /** The labels that select this Deployment's pods, and no other's. */
  public readonly matchLabels: { [key: string]: string };
  /** The pod's containers, the main one first. */
  public readonly containers: Container[] = [];
  private readonly dnsOptions: k8s.PodDnsConfigOption[] = [];
  private scheduling: ResolvedPodSettings['scheduling'] = {};
  private userEnv: { [name: string]: string } = {};

  constructor(scope: Construct, id: string, private readonly spec: WorkloadSpec) {
    super(scope, id);
    const address = Names.toLabelValue(this);
    this.matchLabels = { [ADDRESS_LABEL]: address };
    this.apiObject = new k8s.KubeDeployment(this, 'Resource', { spec: k8s.lazy(() => this.toSpec()) });
    this.podMetadata = new ApiObjectMetadataDefinition({ apiObject: this.apiObject, labels: { ...spec.labels, [ADDRESS_LABEL]: address } });
    // Named for what it runs (`redis`, `sentinel`, `proxy`), as `kubectl exec -c` and `logs -c` name it.
    this.addContainer(spec.labels[COMPONENT_LABEL] ?? 'main', spec);
  }

  /** The Deployment's name. */
  public get name(): string {
    return this.apiObject.name;
  }

  /** Adds a container (see {@link Container}) to the pod. */
  public addContainer(name: string, spec: ContainerSpec): Container {
    const container = new Container(name, spec);
    this.containers.push(container);
    return container;
  }

  /**
   * Applies the user's pod settings (see {@link PodSettings}): scheduling and metadata to this pod;
   * with `server`, the env, mounts and sidecars too, beside the main container. What would take a
   * name the chart uses in the finished pod (a container, an env variable of the main container, a
   * volume, a mount path) fails at synth.
   */
  public applySettings(settings: ResolvedPodSettings, options: { readonly server: boolean }): void {
    this.scheduling = settings.scheduling;
    for (const [key, value] of Object.entries(settings.labels)) this.podMetadata.addLabel(key, value);
    for (const [key, value] of Object.entries(settings.annotations)) this.podMetadata.addAnnotation(key, value);
    if (!options.server) return;
    const main = this.containers[0];
    const sidecars = settings.sidecars.map((s) => {
      const container = this.addContainer(s.name, {
        image: s.image, uid: s.uid ?? this.spec.uid, command: s.command, args: s.args,
        env: envOf(s.env), ports: {},
        resources: s.resources,
      });
      for (const m of s.mounts) container.mount(m.path, m.volume, { readOnly: m.readOnly });
      return container;
    });
    for (const m of settings.mounts) main.mount(m.path, m.volume, { readOnly: m.readOnly });
    this.userEnv = { ...settings.env };
    const userMounts = [...settings.mounts, ...settings.sidecars.flatMap((s) => s.mounts)];
    const userVolumes = new Set(userMounts.map((m) => m.volume));
    const error = (prop: string, value: unknown, what: string) => `${settings.where}${prop} (${JSON.stringify(value)}) ${what}`;
    // Checked once every part of the chart has added what it adds (the metrics exporter, TLS mounts).
    this.node.addValidation({
      validate: () => {
        const errors: string[] = [];
        const chartEnv = new Set(main.env._toKube().map((e) => e.name));
        for (const name of Object.keys(settings.env)) {
          if (chartEnv.has(name)) errors.push(error('.env', name, 'is set by the chart in the server container: choose another name'));
        }
        const chartMounts = this.containers.flatMap((c) => c._mounts).filter((m) => !userVolumes.has(m.volume));
        const chartPaths = main._mounts.filter((m) => !userVolumes.has(m.volume)).map((m) => m.path);
        for (const [i, m] of settings.mounts.entries()) {
          const clash = chartPaths.find((p) => p === m.path || p.startsWith(`${m.path}/`) || m.path.startsWith(`${p}/`));
          if (clash) errors.push(error(`.mounts[${i}].path`, m.path, `overlaps the chart's mount at ${clash}`));
        }
        const named = new Map<string, k8s.Volume>();
        for (const m of userMounts) {
          if (chartMounts.some((c) => c.volume.name === m.volume.name)) errors.push(error(' volume name', m.volume.name, 'is the name of a volume of the chart: choose another name'));
          const other = named.get(m.volume.name);
          if (other && JSON.stringify(other) !== JSON.stringify(m.volume)) errors.push(error(' volume name', m.volume.name, 'names two different volumes'));
          named.set(m.volume.name, m.volume);
        }
        const chartContainers = this.containers.filter((c) => !sidecars.includes(c)).map((c) => c.name);
        for (const [i, c] of sidecars.entries()) {
          if (chartContainers.includes(c.name)) errors.push(error(`.sidecars[${i}].name`, c.name, `is the name of a container of the chart (${chartContainers.join(', ')})`));
        }
        return errors;
      },
    });
  }

  /** Adds a resolver option (`/etc/resolv.conf` `options`) to the pod. */
  public addDnsOption(option: k8s.PodDnsConfigOption): void {
    this.dnsOptions.push(option);
  }

  private toSpec(): k8s.DeploymentSpec {
    const { spec } = this;
    return {
      replicas: spec.replicas,
      minReadySeconds: 0,
      progressDeadlineSeconds: 600,
      selector: { matchLabels: { ...this.matchLabels } },
      strategy: spec.recreate
        ? { type: 'Recreate' }
        : { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
      template: {
        metadata: this.podMetadata.toJson() as k8s.PodTemplateMetadata,
        spec: {
          containers: this.containers.map((c, i) => i === 0 ? withEnv(c._toKube(), this.userEnv) : c._toKube()),
          volumes: nonEmpty(this.volumes()),
          securityContext: {
            runAsUser: spec.uid,
            runAsGroup: spec.uid,
            runAsNonRoot: true,
            fsGroup: spec.uid,
            fsGroupChangePolicy: 'Always',
            seccompProfile: { type: 'RuntimeDefault' },
          },
          automountServiceAccountToken: false,
          restartPolicy: 'Always',
          terminationGracePeriodSeconds: (spec.terminationGracePeriod ?? Duration.seconds(30)).toSeconds(),
          dnsPolicy: 'ClusterFirst',
          dnsConfig: this.dnsOptions.length > 0 ? { options: [...this.dnsOptions] } : undefined,
          hostNetwork: false,
          setHostnameAsFQDN: false,
          ...this.scheduling,
        },
      },
    };
  }

  /** The volumes the containers mount, each once, in the order first mounted. */
  private volumes(): k8s.Volume[] {
    const volumes = new Map<string, k8s.Volume>();
    for (const { volume } of this.containers.flatMap((c) => c._mounts)) {
      const known = volumes.get(volume.name);
      if (known !== undefined && known !== volume && JSON.stringify(known) !== JSON.stringify(volume)) throw new Error(`${this.node.path}: two different volumes are named "${volume.name}"`);
      volumes.set(volume.name, volume);
    }
    return [...volumes.values()];
  }
}

/** How a {@link Service} is reached. */
export interface ServiceSpec {
  readonly ports: Array<{ readonly name: string; readonly port: number }>;
  /** `None` for a headless Service. */
  readonly clusterIP?: string;
  /** Also route to pods that are not ready. */
  readonly publishNotReadyAddresses?: boolean;
  readonly metadata?: { readonly name?: string };
}

/** A ClusterIP Service (`Resource`, v1) whose ports target the same port numbers on the pods it selects. */
export class Service extends Construct {
  /** The Service object. */
  public readonly apiObject: k8s.KubeService;
  private readonly ports: k8s.ServicePort[] = [];
  private readonly selector: { [key: string]: string } = {};

  constructor(scope: Construct, id: string, private readonly spec: ServiceSpec) {
    super(scope, id);
    this.apiObject = new k8s.KubeService(this, 'Resource', {
      metadata: spec.metadata,
      spec: k8s.lazy(() => this.toSpec()),
    });
    for (const port of spec.ports) this.bind(port.port, { name: port.name, targetPort: port.port });
  }

  /** The Service's name. */
  public get name(): string {
    return this.apiObject.name;
  }

  /** The Service's metadata. */
  public get metadata(): ApiObjectMetadataDefinition {
    return this.apiObject.metadata;
  }

  /** Adds a port. */
  public bind(port: number, options: { readonly name: string; readonly targetPort: number }): void {
    this.ports.push({ name: options.name, port, targetPort: options.targetPort });
  }

  /** Routes to the pods of `deployment`. */
  public select(deployment: Deployment): void {
    Object.assign(this.selector, deployment.matchLabels);
  }

  /** Routes only to pods that carry this label too. */
  public selectLabel(key: string, value: string): void {
    this.selector[key] = value;
  }

  private toSpec(): k8s.ServiceSpec {
    return {
      type: 'ClusterIP',
      clusterIP: this.spec.clusterIP,
      externalIPs: [],
      selector: { ...this.selector },
      ports: [...this.ports],
      publishNotReadyAddresses: this.spec.publishNotReadyAddresses,
    };
  }
}

/** A ConfigMap (`Resource`, v1) of a component's scripts and configs. */
export class ConfigMap extends Construct {
  /** The ConfigMap object. */
  public readonly apiObject: k8s.KubeConfigMap;
  private readonly files: { [key: string]: string };

  constructor(scope: Construct, id: string, props: { readonly data: { [key: string]: string } }) {
    super(scope, id);
    this.files = { ...props.data };
    this.apiObject = new k8s.KubeConfigMap(this, 'Resource', { data: this.files, immutable: false });
  }

  /** The ConfigMap's name. */
  public get name(): string {
    return this.apiObject.name;
  }

  /** The files, in the order given. */
  public get data(): { [key: string]: string } {
    return { ...this.files };
  }
}

/** A ReadWriteOnce PersistentVolumeClaim (`Resource`, v1) of a whole number of kibibytes. */
export class PersistentVolumeClaim extends Construct {
  /** The claim object. */
  public readonly apiObject: k8s.KubePersistentVolumeClaim;

  constructor(scope: Construct, id: string, props: { readonly storage: Size; readonly storageClassName?: string; readonly volumeName?: string }) {
    super(scope, id);
    this.apiObject = new k8s.KubePersistentVolumeClaim(this, 'Resource', {
      spec: {
        accessModes: ['ReadWriteOnce'],
        resources: { requests: { storage: sizeQuantity(props.storage) } },
        storageClassName: props.storageClassName,
        volumeMode: 'Filesystem',
        volumeName: props.volumeName,
      },
    });
  }

  /** The claim's name. */
  public get name(): string {
    return this.apiObject.name;
  }
}

/** A server container's requests and limits unless the user gives them, in either mode. */
export const SERVER_RESOURCES: ResolvedResources = {
  cpuRequestMillis: 100, cpuLimitMillis: 1000, memoryRequest: Size.mebibytes(256), memoryLimit: Size.gibibytes(1),
};

/**
 * Merges user resources (`prop` of `scope`) over a component's defaults, as the API server would
 * accept them: a limit given without its request lowers the default request to it, and a request
 * given above its limit (given or default) is refused at synth, naming both. CPU is whole
 * millicores and memory whole mebibytes, both positive.
 */
export function resolveResources(scope: Construct, prop: string, defaults: ResolvedResources, given: ComputeResources = {}): ResolvedResources {
  const millis = (key: 'cpuRequestMillis' | 'cpuLimitMillis') => given[key] === undefined ? undefined : checkInt(scope, `${prop}.${key}`, given[key], 1);
  const mebibytes = (key: 'memoryRequest' | 'memoryLimit') => {
    const size = given[key];
    if (size === undefined) return undefined;
    const mib = size.toMebibytes({ rounding: SizeRoundingBehavior.NONE });
    if (!(mib > 0) || !Number.isInteger(mib)) fail(scope, `${prop}.${key}`, `${mib}Mi`, 'must be a positive whole number of mebibytes');
    return mib;
  };
  const mib = (size: Size) => size.toMebibytes({ rounding: SizeRoundingBehavior.NONE });
  const guaranteed = given.guaranteed ?? false;
  const cpuLimitMillis = millis('cpuLimitMillis') ?? defaults.cpuLimitMillis;
  const cpuRequestMillis = millis('cpuRequestMillis') ?? (guaranteed ? cpuLimitMillis : Math.min(defaults.cpuRequestMillis, cpuLimitMillis));
  const limitMi = mebibytes('memoryLimit') ?? mib(defaults.memoryLimit);
  const requestMi = mebibytes('memoryRequest') ?? (guaranteed ? limitMi : Math.min(mib(defaults.memoryRequest), limitMi));
  const limitNote = (key: string, set?: unknown) => `${userProp(scope, `${prop}.${key}`)}${set === undefined ? ', by default' : ''}`;
  if (guaranteed && cpuRequestMillis !== cpuLimitMillis) {
    fail(scope, `${prop}.cpuRequestMillis`, cpuRequestMillis, `must equal the CPU limit (${cpuLimitMillis}, ${limitNote('cpuLimitMillis', given.cpuLimitMillis)}) with guaranteed: leave it unset`);
  }
  if (guaranteed && requestMi !== limitMi) {
    fail(scope, `${prop}.memoryRequest`, `${requestMi}Mi`, `must equal the memory limit (${limitMi}Mi, ${limitNote('memoryLimit', given.memoryLimit)}) with guaranteed: leave it unset`);
  }
  if (cpuRequestMillis > cpuLimitMillis) {
    fail(scope, `${prop}.cpuRequestMillis`, cpuRequestMillis, `must not be above the CPU limit (${cpuLimitMillis}, ${limitNote('cpuLimitMillis', given.cpuLimitMillis)}): the API server refuses a request above its limit`);
  }
  if (requestMi > limitMi) {
    fail(scope, `${prop}.memoryRequest`, `${requestMi}Mi`, `must not be above the memory limit (${limitMi}Mi, ${limitNote('memoryLimit', given.memoryLimit)}): the API server refuses a request above its limit`);
  }
  return { cpuRequestMillis, cpuLimitMillis, memoryRequest: Size.mebibytes(requestMi), memoryLimit: Size.mebibytes(limitMi) };
}

/** `container` with `extra` literal variables after its own. */
function withEnv(container: k8s.Container, extra: { [name: string]: string }): k8s.Container {
  const added = Object.entries(extra).map(([name, value]) => ({ name, value }));
  return added.length === 0 ? container : { ...container, env: [...container.env ?? [], ...added] };
}

/** `undefined` for an empty list, which the object then leaves out. */
function nonEmpty<T>(items: T[]): T[] | undefined {
  return items.length > 0 ? items : undefined;
}

/**
 * A Deployment with this library's secure defaults and `spec` as its main container
 * (see {@link Deployment}).
 */
export function secureDeployment(scope: Construct, id: string, spec: WorkloadSpec): Deployment {
  return new Deployment(scope, id, spec);
}

/** Adds a container with this library's secure defaults (see {@link Container}). */
export function addSecureContainer(deployment: Deployment, name: string, spec: ContainerSpec): Container {
  return deployment.addContainer(name, spec);
}

/** An exec probe running one of the chart's scripts. */
export function scriptProbe(command: string[], period: Duration, failureThreshold: number): k8s.Probe {
  return { exec: { command }, periodSeconds: period.toSeconds(), timeoutSeconds: 5, failureThreshold };
}

/** An HTTP GET probe of `path` on `port`. */
export function httpProbe(path: string, options: {
  readonly port: number;
  readonly period: Duration;
  readonly timeout?: Duration;
  readonly failureThreshold?: number;
}): k8s.Probe {
  return {
    httpGet: { path, port: options.port, scheme: 'HTTP' },
    periodSeconds: options.period.toSeconds(),
    timeoutSeconds: options.timeout?.toSeconds(),
    failureThreshold: options.failureThreshold ?? 3,
  };
}

/** The plain env value for `BIND_ADDRESS` and friends. */
export function env(value: string | number): EnvValue {
  return { value: String(value) };
}

/** Plain env values for each entry. */
export function envOf(values: { [name: string]: string }): { [name: string]: EnvValue } {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, env(v)]));
}

/** An env value read from a key of an existing Secret. */
export function secretEnv(secretName: string, key: string): EnvValue {
  return { valueFrom: { secretKeyRef: { name: secretName, key } } };
}

/** The pod's namespace, from the downward API. */
export function namespaceEnv(): EnvValue {
  return { valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } };
}

/** A volume of a ConfigMap's files, `defaultMode` 0444. */
export function configMapVolume(name: string, config: ConfigMap): k8s.Volume {
  return { name, configMap: { name: config.name, defaultMode: 0o444 } };
}

/** A volume of some keys of an existing Secret, each at the path given, `defaultMode` 0440 (the pod's fsGroup reads them). */
export function secretVolume(name: string, secretName: string, paths: { [key: string]: string }): k8s.Volume {
  const items = Object.keys(paths).sort().map((key) => ({ key, path: paths[key] }));
  return { name, secret: { secretName, defaultMode: 0o440, items } };
}

/** A volume in memory, of at most `sizeLimit`. */
export function memoryVolume(name: string, sizeLimit: Size): k8s.Volume {
  return { name, emptyDir: { medium: 'Memory', sizeLimit: `${sizeLimit.toMebibytes()}Mi` } };
}

/**
 * Makes the pod look up names of `dots` dots or more as given before trying its search domains:
 * under Kubernetes' default `ndots:5`, each lookup of an announced name (4 dots in `cluster.local`)
 * would first try, and fail, three search domains.
 */
export function lookUpAsGivenFirst(deployment: Deployment, dots: number): void {
  deployment.addDnsOption({ name: 'ndots', value: String(dots) });
}

/** Mounts a component's scripts (read-only) at `paths.config` and its claim at `paths.data`. */
export function mountConfigAndData(
  container: Container,
  config: ConfigMap,
  claim: PersistentVolumeClaim,
  paths: { readonly config: string; readonly data: string },
): void {
  container.mount(paths.config, configMapVolume('config', config), { readOnly: true });
  container.mount(paths.data, { name: 'data', persistentVolumeClaim: { claimName: claim.name, readOnly: false } });
}

/** Pod-template annotation holding a digest of the pod's ConfigMap. */
export const CONFIG_HASH_ANNOTATION = 'redis-ha.cdk8s.io/config-hash';

/**
 * Puts a digest of the ConfigMap's data on the pod template, so a changed setting changes the
 * template and Kubernetes replaces the pod (a mounted ConfigMap changes in place, unseen).
 */
export function rollOnConfigChange(workload: Deployment, config: ConfigMap): void {
  const digest = createHash('sha256').update(JSON.stringify(config.data)).digest('hex').slice(0, 16);
  workload.podMetadata.addAnnotation(CONFIG_HASH_ANNOTATION, digest);
}

/**
 * A Service the chart's own peers use to reach one pod whatever its readiness: a replica is not
 * ready while its master is down, which is exactly when the sentinels must reach it to promote it.
 */
export function peerService(scope: Construct, id: string, port: { name: string; port: number }): Service {
  return new Service(scope, id, { ports: [port], publishNotReadyAddresses: true });
}

