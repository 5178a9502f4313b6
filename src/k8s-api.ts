/**
 * The part of the Kubernetes API the chart writes: the kinds it synthesizes and, of each, only the
 * fields it sets, as readonly types, with a small constructor per kind that makes a core cdk8s
 * `ApiObject` of its `apiVersion` and `kind`. Written by hand for this chart; every field exists
 * unchanged from Kubernetes 1.27 to 1.34, and test/schema.test.ts validates every synthesized object
 * against both releases' OpenAPI schemas.
 *
 * Internal: nothing here is exported from the package's index, and no public type names it.
 * cdk8s renders the objects (sorted keys, unset fields left out), so field order does not matter.
 */
import { ApiObject, ApiObjectMetadata, Lazy } from 'cdk8s';
import { Construct } from 'constructs';

/** The oldest and the newest Kubernetes release whose schemas the objects are validated against. */
export const KUBERNETES_API_RANGE = { oldest: '1.27', newest: '1.34' } as const;

/** A resource quantity as Kubernetes writes it, e.g. `100m`, `256Mi`, `1Gi`. */
export type Quantity = string;

/** A port or count given as a number, or as a name or percentage string. */
export type IntOrString = number | string;

/** A value rendered at synth time, once every construct has had its say, typed as what it produces. */
export function lazy<T>(produce: () => T): T {
  // cdk8s resolves the Lazy when it renders the object; until then it stands in for the T it produces.
  const value: unknown = Lazy.any({ produce });
  return value as T;
}

// ------------------------------------------------------------------ shared

/** Fields whose value is a map (keys chosen by the user, kept in their order), not an object of the API's fields. */
const MAP_FIELDS = new Set(['labels', 'annotations', 'matchLabels', 'selector', 'data', 'limits', 'requests', 'capacity']);

/** `value` with the fields of every API object in it in alphabetical order, as the Kubernetes schemas list them. */
function sortFields(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortFields);
  if (value === null || typeof value !== 'object') return value;
  const fields = value as { [key: string]: unknown };
  return Object.fromEntries(Object.keys(fields).sort().map((key) => [key, MAP_FIELDS.has(key) ? fields[key] : sortFields(fields[key])]));
}

/**
 * An object of one kind. cdk8s writes `apiVersion`, `kind` and `metadata` first and sorts every key,
 * then applies JSON patches (`addJsonPatch`, as spread.ts and users add); this puts the patched
 * fields in their alphabetical place too. Map entries (labels, selectors, data, resources) keep
 * their order.
 */
abstract class KubeObject extends ApiObject {
  public toJson(): { [key: string]: unknown } {
    const { apiVersion, kind, metadata, ...rest } = super.toJson() as { [key: string]: unknown };
    return { apiVersion, kind, metadata, ...(sortFields(rest) as object) };
  }
}

/** Selects objects by their labels (meta/v1 LabelSelector). */
export interface LabelSelector {
  /** Labels an object must all carry. */
  readonly matchLabels?: { [key: string]: string };
}

/** The metadata of a pod template. */
export interface PodTemplateMetadata {
  /** The pods' labels. */
  readonly labels?: { [key: string]: string };
  /** The pods' annotations. */
  readonly annotations?: { [key: string]: string };
}

// ------------------------------------------------------------------ containers

/** Where an environment variable's value comes from, when not a literal. */
export interface EnvVarSource {
  /** A key of a Secret in the pod's namespace. */
  readonly secretKeyRef?: SecretKeySelector;
  /** A field of the pod (downward API). */
  readonly fieldRef?: ObjectFieldSelector;
}

/** One key of a Secret. */
export interface SecretKeySelector {
  /** The Secret's name. */
  readonly name: string;
  /** The key within the Secret. */
  readonly key: string;
}

/** A field of the pod, e.g. `metadata.namespace`. */
export interface ObjectFieldSelector {
  /** The field's path. */
  readonly fieldPath: string;
}

/** One environment variable of a container. */
export interface EnvVar {
  /** The variable's name. */
  readonly name: string;
  /** A literal value. */
  readonly value?: string;
  /** A value read from elsewhere. */
  readonly valueFrom?: EnvVarSource;
}

/** A named port a container listens on. */
export interface ContainerPort {
  /** The port's name (an IANA service name, at most 15 characters). */
  readonly name: string;
  /** The port number in the pod. */
  readonly containerPort: number;
}

/** A volume mounted into a container. */
export interface VolumeMount {
  /** The pod volume's name. */
  readonly name: string;
  /** Where it is mounted in the container. */
  readonly mountPath: string;
  /** Mounted read-only. */
  readonly readOnly?: boolean;
}

/** A command run in the container. */
export interface ExecAction {
  /** The command and its arguments (no shell unless the command is one). */
  readonly command: string[];
}

/** An HTTP GET request to the pod. */
export interface HttpGetAction {
  /** The request path. */
  readonly path: string;
  /** The port, by number or name. */
  readonly port: IntOrString;
  /** `HTTP` or `HTTPS`. */
  readonly scheme: string;
}

/** A readiness, liveness or startup check of a container. */
export interface Probe {
  /** Checks by running a command. */
  readonly exec?: ExecAction;
  /** Checks by an HTTP GET. */
  readonly httpGet?: HttpGetAction;
  /** Seconds between checks. */
  readonly periodSeconds: number;
  /** Seconds before one check times out (Kubernetes' default 1). */
  readonly timeoutSeconds?: number;
  /** Consecutive failures that count as failed. */
  readonly failureThreshold: number;
}

/** What kubelet runs at a point of a container's life. */
export interface LifecycleHandler {
  /** A command run in the container. */
  readonly exec: ExecAction;
}

/** Hooks of a container's life. */
export interface Lifecycle {
  /** Runs before the container is stopped; the stop waits for it (within the grace period). */
  readonly preStop?: LifecycleHandler;
}

/** Compute resources of a container. */
export interface ResourceRequirements {
  /** The most the container may use (`cpu`, `memory`). */
  readonly limits: { [resource: string]: Quantity };
  /** What the scheduler reserves for it (`cpu`, `memory`). */
  readonly requests: { [resource: string]: Quantity };
}

/** Linux capabilities added to or dropped from a container. */
export interface Capabilities {
  /** Capabilities removed, e.g. `ALL`. */
  readonly drop: string[];
}

/** A container's security settings. */
export interface SecurityContext {
  /** The uid the process runs as. */
  readonly runAsUser: number;
  /** The gid the process runs as. */
  readonly runAsGroup: number;
  /** Refuse to start the container as uid 0. */
  readonly runAsNonRoot: boolean;
  /** Mount the root filesystem read-only. */
  readonly readOnlyRootFilesystem: boolean;
  /** Whether a process may gain more privileges than its parent (no_new_privs when false). */
  readonly allowPrivilegeEscalation: boolean;
  /** Run privileged. */
  readonly privileged: boolean;
  /** Capabilities to drop. */
  readonly capabilities: Capabilities;
}

/** One container of a pod. */
export interface Container {
  /** The container's name, unique in the pod. */
  readonly name: string;
  /** The image. */
  readonly image: string;
  /** `Always`, `IfNotPresent` or `Never`. */
  readonly imagePullPolicy: string;
  /** Replaces the image's entrypoint. */
  readonly command?: string[];
  /** The entrypoint's arguments. */
  readonly args?: string[];
  /** Environment variables, in order (later ones may refer to earlier ones as `$(NAME)`). */
  readonly env?: EnvVar[];
  /** The ports it listens on. */
  readonly ports?: ContainerPort[];
  /** The pod volumes it mounts. */
  readonly volumeMounts?: VolumeMount[];
  /** When the container takes traffic. */
  readonly readinessProbe?: Probe;
  /** When kubelet restarts the container. */
  readonly livenessProbe?: Probe;
  /** Holds the other probes off until it succeeds once. */
  readonly startupProbe?: Probe;
  /** Hooks of its life. */
  readonly lifecycle?: Lifecycle;
  /** Its compute resources. */
  readonly resources: ResourceRequirements;
  /** Its security settings. */
  readonly securityContext: SecurityContext;
}

// ------------------------------------------------------------------ volumes

/** One key of a ConfigMap or Secret, as a file. */
export interface KeyToPath {
  /** The key. */
  readonly key: string;
  /** The file's path, relative to the mount. */
  readonly path: string;
}

/** A ConfigMap's keys as files. */
export interface ConfigMapVolumeSource {
  /** The ConfigMap's name. */
  readonly name: string;
  /** The files' mode (octal 0444 is 292). */
  readonly defaultMode: number;
}

/** A Secret's keys as files. */
export interface SecretVolumeSource {
  /** The Secret's name. */
  readonly secretName: string;
  /** The files' mode. */
  readonly defaultMode: number;
  /** The keys projected, each at its path (only these); every key when unset. */
  readonly items?: KeyToPath[];
}

/** A directory that lives as long as the pod. */
export interface EmptyDirVolumeSource {
  /** `Memory` for a tmpfs, `""` for the node's disk. */
  readonly medium: string;
  /** The most it may hold. */
  readonly sizeLimit?: Quantity;
}

/** A PersistentVolumeClaim as a volume. */
export interface PersistentVolumeClaimVolumeSource {
  /** The claim's name, in the pod's namespace. */
  readonly claimName: string;
  /** Mount it read-only. */
  readonly readOnly: boolean;
}

/** A volume of a pod: exactly one of the sources. */
export interface Volume {
  /** The volume's name, unique in the pod. */
  readonly name: string;
  /** A ConfigMap's files. */
  readonly configMap?: ConfigMapVolumeSource;
  /** A Secret's files. */
  readonly secret?: SecretVolumeSource;
  /** A scratch directory. */
  readonly emptyDir?: EmptyDirVolumeSource;
  /** A claimed persistent volume. */
  readonly persistentVolumeClaim?: PersistentVolumeClaimVolumeSource;
}

// ------------------------------------------------------------------ pods

/** The seccomp profile of a pod's containers. */
export interface SeccompProfile {
  /** `RuntimeDefault`, `Localhost` or `Unconfined`. */
  readonly type: string;
}

/** A pod's security settings, for all its containers and volumes. */
export interface PodSecurityContext {
  /** The uid its processes run as. */
  readonly runAsUser: number;
  /** The gid its processes run as. */
  readonly runAsGroup: number;
  /** Refuse to start any container as uid 0. */
  readonly runAsNonRoot: boolean;
  /** The group that owns the volumes, and a supplementary group of every process. */
  readonly fsGroup: number;
  /** `Always` or `OnRootMismatch`: when kubelet sets the volumes' ownership. */
  readonly fsGroupChangePolicy: string;
  /** The seccomp profile. */
  readonly seccompProfile: SeccompProfile;
}

/** One resolver option of the pod's `/etc/resolv.conf`. */
export interface PodDnsConfigOption {
  /** The option's name, e.g. `ndots`. */
  readonly name: string;
  /** Its value. */
  readonly value?: string;
}

/** Resolver settings of a pod, merged with those of its DNS policy. */
export interface PodDnsConfig {
  /** Resolver options. */
  readonly options: PodDnsConfigOption[];
}

/** A set of pods, in one topology domain, that a pod is scheduled near or away from. */
export interface PodAffinityTerm {
  /** The pods. */
  readonly labelSelector: LabelSelector;
  /** The node label whose values are the domains, e.g. `kubernetes.io/hostname`. */
  readonly topologyKey: string;
}

/** A preference, of some weight, for a {@link PodAffinityTerm}. */
export interface WeightedPodAffinityTerm {
  /** 1 to 100. */
  readonly weight: number;
  /** The term. */
  readonly podAffinityTerm: PodAffinityTerm;
}

/** Keeps a pod away from other pods. */
export interface PodAntiAffinity {
  /** Terms the scheduler must satisfy. */
  readonly requiredDuringSchedulingIgnoredDuringExecution?: PodAffinityTerm[];
  /** Terms it prefers to satisfy. */
  readonly preferredDuringSchedulingIgnoredDuringExecution?: WeightedPodAffinityTerm[];
}

/** Where a pod is scheduled relative to others. */
export interface Affinity {
  /** Away from other pods. */
  readonly podAntiAffinity: PodAntiAffinity;
}

/** How evenly matching pods spread over topology domains. */
export interface TopologySpreadConstraint {
  /** The largest allowed difference of matching pods between two domains. */
  readonly maxSkew: number;
  /** The node label whose values are the domains, e.g. `topology.kubernetes.io/zone`. */
  readonly topologyKey: string;
  /** `DoNotSchedule` or `ScheduleAnyway`. */
  readonly whenUnsatisfiable: string;
  /** The pods counted. */
  readonly labelSelector: LabelSelector;
}

/** What a pod runs and how. */
export interface PodSpec {
  /** Its containers, the main one first. */
  readonly containers: Container[];
  /** The volumes its containers mount. */
  readonly volumes?: Volume[];
  /** Its security settings. */
  readonly securityContext: PodSecurityContext;
  /** Whether the service account's token is mounted. */
  readonly automountServiceAccountToken: boolean;
  /** `Always` for a Deployment's pods. */
  readonly restartPolicy: string;
  /** Seconds between TERM and KILL, preStop hooks included. */
  readonly terminationGracePeriodSeconds: number;
  /** `ClusterFirst`: the cluster's DNS, with the namespace's search domains. */
  readonly dnsPolicy: string;
  /** Extra resolver settings. */
  readonly dnsConfig?: PodDnsConfig;
  /** Use the node's network namespace. */
  readonly hostNetwork: boolean;
  /** Set the pod's hostname to its fully qualified name. */
  readonly setHostnameAsFQDN: boolean;
  /** Scheduling near or away from other pods (the chart adds it by JSON patch, see spread.ts). */
  readonly affinity?: Affinity;
  /** Spreading over zones (the chart adds it by JSON patch, see spread.ts). */
  readonly topologySpreadConstraints?: TopologySpreadConstraint[];
  /** Labels a node must have to run the pod. */
  readonly nodeSelector?: { [key: string]: string };
  /** The taints the pod tolerates. */
  readonly tolerations?: Toleration[];
  /** The PriorityClass of the pod. */
  readonly priorityClassName?: string;
  /** Secrets with the registry credentials its images are pulled with. */
  readonly imagePullSecrets?: LocalObjectReference[];
}

/** A taint a pod tolerates. */
export interface Toleration {
  /** The taint's key; empty matches every key (with `Exists`). */
  readonly key?: string;
  /** `Equal` or `Exists`. */
  readonly operator?: string;
  /** The taint's value, with `Equal`. */
  readonly value?: string;
  /** `NoSchedule`, `PreferNoSchedule` or `NoExecute`; empty matches every effect. */
  readonly effect?: string;
  /** With `NoExecute`: how long the pod stays once the taint appears. */
  readonly tolerationSeconds?: number;
}

/** An object of the same namespace, by name. */
export interface LocalObjectReference {
  /** Its name. */
  readonly name: string;
}

/** The pods a Deployment makes. */
export interface PodTemplateSpec {
  /** Their labels and annotations. */
  readonly metadata: PodTemplateMetadata;
  /** What they run. */
  readonly spec: PodSpec;
}

// ------------------------------------------------------------------ apps/v1 Deployment

/** How a Deployment replaces pods when its template changes. */
export interface RollingUpdateDeployment {
  /** Pods above the replica count during an update. */
  readonly maxSurge: IntOrString;
  /** Pods below the replica count during an update. */
  readonly maxUnavailable: IntOrString;
}

/** A Deployment's update strategy. */
export interface DeploymentStrategy {
  /** `Recreate` (stop all, then start) or `RollingUpdate`. */
  readonly type: string;
  /** The limits of a rolling update. */
  readonly rollingUpdate?: RollingUpdateDeployment;
}

/** What a Deployment keeps running. */
export interface DeploymentSpec {
  /** How many pods. */
  readonly replicas: number;
  /** Seconds a new pod must be ready to count as available. */
  readonly minReadySeconds: number;
  /** Seconds before a stalled rollout is reported as failed. */
  readonly progressDeadlineSeconds: number;
  /** The pods it owns; must match the template's labels. */
  readonly selector: LabelSelector;
  /** How it replaces pods. */
  readonly strategy: DeploymentStrategy;
  /** The pods it makes. */
  readonly template: PodTemplateSpec;
}

/** An apps/v1 Deployment. */
export class KubeDeployment extends KubeObject {
  constructor(scope: Construct, id: string, props: { readonly metadata?: ApiObjectMetadata; readonly spec: DeploymentSpec }) {
    super(scope, id, { apiVersion: 'apps/v1', kind: 'Deployment', ...props });
  }
}

// ------------------------------------------------------------------ v1 Service

/** One port of a Service. */
export interface ServicePort {
  /** The port's name, unique in the Service. */
  readonly name: string;
  /** The port clients connect to. */
  readonly port: number;
  /** The pods' port, by number or name. */
  readonly targetPort: IntOrString;
}

/** How a Service is reached and where it routes. */
export interface ServiceSpec {
  /** `ClusterIP`: reachable inside the cluster. */
  readonly type: string;
  /** `None` for a headless Service (DNS names the pods); else assigned. */
  readonly clusterIP?: string;
  /** Extra addresses the Service answers on (none). */
  readonly externalIPs: string[];
  /** The pods it routes to. */
  readonly selector: { [key: string]: string };
  /** Its ports. */
  readonly ports: ServicePort[];
  /** Also route to (and publish DNS for) pods that are not ready. */
  readonly publishNotReadyAddresses?: boolean;
}

/** A v1 Service. */
export class KubeService extends KubeObject {
  constructor(scope: Construct, id: string, props: { readonly metadata?: ApiObjectMetadata; readonly spec: ServiceSpec }) {
    super(scope, id, { apiVersion: 'v1', kind: 'Service', ...props });
  }
}

// ------------------------------------------------------------------ v1 ConfigMap

/** A v1 ConfigMap of text files. */
export class KubeConfigMap extends KubeObject {
  constructor(scope: Construct, id: string, props: {
    readonly metadata?: ApiObjectMetadata;
    /** The files, by key. */
    readonly data: { [key: string]: string };
    /** Whether its data can never change. */
    readonly immutable: boolean;
  }) {
    super(scope, id, { apiVersion: 'v1', kind: 'ConfigMap', ...props });
  }
}

// ------------------------------------------------------------------ v1 PersistentVolumeClaim, PersistentVolume

/** The storage a claim asks for. */
export interface VolumeResourceRequirements {
  /** `storage`: the size. */
  readonly requests: { [resource: string]: Quantity };
}

/** What a PersistentVolumeClaim asks for. */
export interface PersistentVolumeClaimSpec {
  /** E.g. `ReadWriteOnce`: one node mounts it read-write. */
  readonly accessModes: string[];
  /** Its size. */
  readonly resources: VolumeResourceRequirements;
  /** The StorageClass that provisions it; unset for the default, `''` for none. */
  readonly storageClassName?: string;
  /** `Filesystem` or `Block`. */
  readonly volumeMode: string;
  /** Binds it to this PersistentVolume. */
  readonly volumeName?: string;
}

/** A v1 PersistentVolumeClaim. */
export class KubePersistentVolumeClaim extends KubeObject {
  constructor(scope: Construct, id: string, props: { readonly metadata?: ApiObjectMetadata; readonly spec: PersistentVolumeClaimSpec }) {
    super(scope, id, { apiVersion: 'v1', kind: 'PersistentVolumeClaim', ...props });
  }
}

/** A directory on the node. */
export interface HostPathVolumeSource {
  /** Its path on the node. */
  readonly path: string;
  /** `Directory`: it must exist. */
  readonly type: string;
}

/** A persistent volume: its size, access and where its data lives. */
export interface PersistentVolumeSpec {
  /** `storage`: its size. */
  readonly capacity: { [resource: string]: Quantity };
  /** E.g. `ReadWriteOnce`. */
  readonly accessModes: string[];
  /** `Retain`: its data outlives its claim. */
  readonly persistentVolumeReclaimPolicy: string;
  /** Its class; `''` binds it only to claims of no class. */
  readonly storageClassName: string;
  /** A directory on the node. */
  readonly hostPath: HostPathVolumeSource;
}

/** A v1 PersistentVolume. */
export class KubePersistentVolume extends KubeObject {
  constructor(scope: Construct, id: string, props: { readonly metadata?: ApiObjectMetadata; readonly spec: PersistentVolumeSpec }) {
    super(scope, id, { apiVersion: 'v1', kind: 'PersistentVolume', ...props });
  }
}

// ------------------------------------------------------------------ policy/v1 PodDisruptionBudget

/** How many of the selected pods a voluntary disruption may take. */
export interface PodDisruptionBudgetSpec {
  /** The pods it covers. */
  readonly selector: LabelSelector;
  /** At least this many stay available (one of the two). */
  readonly minAvailable?: IntOrString;
  /** At most this many are unavailable (one of the two). */
  readonly maxUnavailable?: IntOrString;
}

/** A policy/v1 PodDisruptionBudget. */
export class KubePodDisruptionBudget extends KubeObject {
  constructor(scope: Construct, id: string, props: { readonly metadata?: ApiObjectMetadata; readonly spec: PodDisruptionBudgetSpec }) {
    super(scope, id, { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', ...props });
  }
}

// ------------------------------------------------------------------ networking.k8s.io/v1 NetworkPolicy

/** Pods a rule admits traffic from. */
export interface NetworkPolicyPeer {
  /** Pods with these labels: of the policy's namespace, or of the namespaces {@link namespaceSelector} selects. */
  readonly podSelector: LabelSelector;
  /** Namespaces whose pods the podSelector picks from; the policy's own namespace when unset. */
  readonly namespaceSelector?: LabelSelector;
}

/** A port a rule opens. */
export interface NetworkPolicyPort {
  /** `TCP`, `UDP` or `SCTP`. */
  readonly protocol: string;
  /** The pods' port, by number or name. */
  readonly port: IntOrString;
}

/** Traffic one ingress rule admits: from all these peers (any, when unset) to these ports. */
export interface NetworkPolicyIngressRule {
  /** The sources; every source when unset. */
  readonly from?: NetworkPolicyPeer[];
  /** The ports; every port when unset. */
  readonly ports?: NetworkPolicyPort[];
}

/** The pods a policy isolates and what reaches them. */
export interface NetworkPolicySpec {
  /** The pods it applies to. */
  readonly podSelector: LabelSelector;
  /** `Ingress`: the policy restricts incoming traffic. */
  readonly policyTypes: string[];
  /** What is admitted; everything else is dropped. */
  readonly ingress: NetworkPolicyIngressRule[];
}

/** A networking.k8s.io/v1 NetworkPolicy. */
export class KubeNetworkPolicy extends KubeObject {
  constructor(scope: Construct, id: string, props: { readonly metadata?: ApiObjectMetadata; readonly spec: NetworkPolicySpec }) {
    super(scope, id, { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', ...props });
  }
}

// ------------------------------------------------ admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy

/** Requests of some operations on some resources. */
export interface NamedRuleWithOperations {
  /** API groups (`apps`, or `''` for the core group). */
  readonly apiGroups: string[];
  /** API versions, `*` for every one. */
  readonly apiVersions: string[];
  /** `CREATE`, `UPDATE`, `DELETE` or `CONNECT`. */
  readonly operations: string[];
  /** Resources (`deployments`). */
  readonly resources: string[];
}

/** Which requests a policy or binding covers. */
export interface MatchResources {
  /** Objects with these labels (the old object's, on DELETE). */
  readonly objectSelector?: LabelSelector;
  /** The requests covered. */
  readonly resourceRules: NamedRuleWithOperations[];
}

/** A CEL check: a request it evaluates to false on is refused with the message. */
export interface Validation {
  /** The CEL expression. */
  readonly expression: string;
  /** What the refusal says. */
  readonly message: string;
  /** The refusal's reason (`Forbidden`, `Invalid`...). */
  readonly reason?: string;
}

/** What a ValidatingAdmissionPolicy checks. */
export interface ValidatingAdmissionPolicySpec {
  /** `Fail`: a check that cannot be evaluated refuses the request. */
  readonly failurePolicy: string;
  /** The requests it applies to. */
  readonly matchConstraints: MatchResources;
  /** The checks, all of which must hold. */
  readonly validations: Validation[];
}

/** An admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy (Kubernetes 1.30+). */
export class KubeValidatingAdmissionPolicy extends KubeObject {
  constructor(scope: Construct, id: string, props: { readonly metadata?: ApiObjectMetadata; readonly spec: ValidatingAdmissionPolicySpec }) {
    super(scope, id, { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicy', ...props });
  }
}

/** Where a policy applies, and what its failed checks do. */
export interface ValidatingAdmissionPolicyBindingSpec {
  /** The policy's name. */
  readonly policyName: string;
  /** `Deny`: a failed check refuses the request. */
  readonly validationActions: string[];
  /** Narrows the policy's requests. */
  readonly matchResources?: MatchResources;
}

/** An admissionregistration.k8s.io/v1 ValidatingAdmissionPolicyBinding (Kubernetes 1.30+). */
export class KubeValidatingAdmissionPolicyBinding extends KubeObject {
  constructor(scope: Construct, id: string, props: { readonly metadata?: ApiObjectMetadata; readonly spec: ValidatingAdmissionPolicyBindingSpec }) {
    super(scope, id, { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicyBinding', ...props });
  }
}
