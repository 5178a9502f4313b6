import { Duration, Size, SizeRoundingBehavior } from 'cdk8s';
import { Construct } from 'constructs';
import { ComputeResources } from './compute-resources';
import * as k8s from './k8s-api';
import { checkDnsLabel, checkInt, checkLabelValue, checkLabels, checkSecretName, fail, sizeQuantity } from './validation';

/** What a taint does to the pods that do not tolerate it. */
export enum TaintEffect {
  /** New pods are not scheduled on the node. */
  NO_SCHEDULE = 'NoSchedule',
  /** The scheduler avoids the node. */
  PREFER_NO_SCHEDULE = 'PreferNoSchedule',
  /** Running pods are evicted too. */
  NO_EXECUTE = 'NoExecute',
}

/** Which effects a {@link Toleration} covers. */
export interface TolerationOptions {
  /**
   * The taint effect tolerated.
   * @default - every effect
   */
  readonly effect?: TaintEffect;
  /**
   * With `TaintEffect.NO_EXECUTE`: how long a pod stays on the node once the taint appears.
   * @default - for ever
   */
  readonly tolerationSeconds?: Duration;
}

/**
 * A taint the pods tolerate, so that they may run on nodes set aside with it.
 * @see https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/
 */
export class Toleration {
  /** Tolerates the taint `key` with the value `value`. */
  public static equal(key: string, value: string, options: TolerationOptions = {}): Toleration {
    return new Toleration('Equal', options, key, value);
  }

  /** Tolerates the taint `key`, whatever its value. */
  public static exists(key: string, options: TolerationOptions = {}): Toleration {
    return new Toleration('Exists', options, key);
  }

  /** Tolerates every taint (of `options.effect`, when given). */
  public static any(options: TolerationOptions = {}): Toleration {
    return new Toleration('Exists', options);
  }

  private constructor(
    private readonly operator: 'Equal' | 'Exists',
    private readonly options: TolerationOptions,
    private readonly key?: string,
    private readonly value?: string,
  ) {}

  /** @internal Checks the toleration as `prop` of `scope` and renders it. */
  public _toKube(scope: Construct, prop: string): k8s.Toleration {
    const { effect, tolerationSeconds } = this.options;
    if (effect !== undefined && !Object.values(TaintEffect).includes(effect)) fail(scope, `${prop} effect`, effect, 'must be NoSchedule, PreferNoSchedule or NoExecute');
    if (this.key !== undefined) checkLabels(scope, `${prop}`, { [this.key]: '' });
    if (this.value !== undefined) checkLabelValue(scope, `${prop} value`, this.value);
    let seconds: number | undefined;
    if (tolerationSeconds !== undefined) {
      if (effect !== TaintEffect.NO_EXECUTE) fail(scope, `${prop} tolerationSeconds`, tolerationSeconds.toHumanString(), 'is allowed only with the NoExecute effect (the API server refuses it otherwise)');
      seconds = checkInt(scope, `${prop} tolerationSeconds`, tolerationSeconds.toSeconds(), 0);
    }
    return { key: this.key, operator: this.operator, value: this.value, effect, tolerationSeconds: seconds };
  }
}

/**
 * A volume of the user's in the chart's pods, mounted by `PodSettings.mounts` or a sidecar's
 * `mounts`: a Secret's or ConfigMap's files, or a scratch directory.
 */
export class PodVolume {
  /** A Secret's keys as read-only files (0440, readable by the pod's group). */
  public static fromSecret(name: string, secretName: string): PodVolume {
    return new PodVolume(name, { secret: { secretName, defaultMode: 0o440 } });
  }

  /** A ConfigMap's keys as read-only files (0444). */
  public static fromConfigMap(name: string, configMapName: string): PodVolume {
    return new PodVolume(name, { configMap: { name: configMapName, defaultMode: 0o444 } });
  }

  /**
   * A scratch directory that lives as long as the pod, on the node's disk, of at most `sizeLimit`
   * (the pod is evicted above it).
   */
  public static emptyDir(name: string, sizeLimit: Size): PodVolume {
    return new PodVolume(name, { emptyDir: { medium: '', sizeLimit: sizeQuantity(sizeLimit) } }, sizeLimit);
  }

  private constructor(
    /** The volume's name in the pod. */
    public readonly name: string,
    private readonly source: Omit<k8s.Volume, 'name'>,
    private readonly sizeLimit?: Size,
  ) {}

  /** @internal Checks the volume as `prop` of `scope` and renders it. */
  public _toKube(scope: Construct, prop: string): k8s.Volume {
    checkDnsLabel(scope, `${prop}.name`, this.name);
    if (this.source.secret) checkSecretName(scope, `${prop} Secret`, this.source.secret.secretName);
    if (this.source.configMap) checkSecretName(scope, `${prop} ConfigMap`, this.source.configMap.name);
    if (this.sizeLimit !== undefined) {
      const kib = this.sizeLimit.toKibibytes({ rounding: SizeRoundingBehavior.NONE });
      if (!(kib > 0) || !Number.isInteger(kib)) fail(scope, `${prop} sizeLimit`, `${kib}Ki`, 'must be a positive whole number of kibibytes');
    }
    return { name: this.name, ...this.source };
  }
}

/** A {@link PodVolume} mounted into a container. */
export interface PodMount {
  /** The absolute path it is mounted at. */
  readonly path: string;
  /** The volume. */
  readonly volume: PodVolume;
  /**
   * Mount it read-only (Secret and ConfigMap volumes are read-only whatever this says).
   * @default true
   */
  readonly readOnly?: boolean;
}

/**
 * A container of the user's beside the server in each of the chart's server pods (a log shipper,
 * a proxy of its own). It runs under the chart's restricted security context: non-root, read-only
 * root filesystem, no privilege escalation, no capabilities.
 */
export interface Sidecar {
  /** The container's name: a DNS label, unique in the pod. */
  readonly name: string;
  /** Its image, pinned (a tag other than `latest`, or a digest). */
  readonly image: string;
  /**
   * Replaces the image's entrypoint.
   * @default - the image's entrypoint
   */
  readonly command?: string[];
  /**
   * The entrypoint's arguments.
   * @default - the image's
   */
  readonly args?: string[];
  /**
   * Literal environment variables (put secrets in a Secret mounted with `mounts`).
   * @default - none
   */
  readonly env?: { [name: string]: string };
  /**
   * Volumes it mounts.
   * @default - none
   */
  readonly mounts?: PodMount[];
  /**
   * Its CPU and memory.
   * @default - requests 10m CPU and 32Mi, limits 100m CPU and 128Mi
   */
  readonly resources?: ComputeResources;
  /**
   * The uid (and gid) it runs as; not 0.
   * @default - the server image's user, as the rest of the pod
   */
  readonly uid?: number;
}

/**
 * Where the chart's pods run and what they carry besides the chart's own, in either mode: the
 * scheduling and metadata settings apply to every pod of the chart, the environment, mounts and
 * sidecars to the server pods (Redis in `RedisHa`, every node of `RedisCluster`). Names the chart
 * uses itself (its labels, env variables, volumes, mount paths and containers) are refused at synth.
 */
export interface PodSettings {
  /**
   * Labels a node must have to run the pods.
   * @see https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodeselector
   * @default - any node
   */
  readonly nodeSelector?: { [key: string]: string };
  /**
   * Taints the pods tolerate.
   * @default - none
   */
  readonly tolerations?: Toleration[];
  /**
   * The PriorityClass of the pods, e.g. one above the applications that use them, so that a full
   * node preempts those first.
   * @see https://kubernetes.io/docs/concepts/scheduling-eviction/pod-priority-preemption/
   * @default - the cluster's default priority
   */
  readonly priorityClassName?: string;
  /**
   * Secrets (docker-registry type) with the credentials of a private registry the images come from.
   * @default - none
   */
  readonly imagePullSecrets?: string[];
  /**
   * Annotations on every pod.
   * @default - only the chart's own
   */
  readonly annotations?: { [key: string]: string };
  /**
   * Labels on every pod, besides the chart's own (`app.kubernetes.io/*`, which it sets itself).
   * @default - only the chart's own
   */
  readonly labels?: { [key: string]: string };
  /**
   * Literal environment variables of the server container (put secrets in a Secret mounted with `mounts`).
   * @default - none
   */
  readonly env?: { [name: string]: string };
  /**
   * Volumes mounted into the server container.
   * @default - none
   */
  readonly mounts?: PodMount[];
  /**
   * Containers beside the server in each server pod.
   * @default - none
   */
  readonly sidecars?: Sidecar[];
}
