/**
 * {@link PodSettings} checked and put in the API's terms, for the pods that apply them
 * (`Deployment.applySettings`). Internal: the public types are in ./pod-settings.
 */
import { Size } from 'cdk8s';
import { Construct } from 'constructs';
import * as k8s from './k8s-api';
import { PodMount, PodSettings } from './pod-settings';
import { checkDnsLabel, checkImage, checkInt, checkLabels, checkSecretName, fail, propRef } from './validation';
import { ResolvedResources, resolveResources } from './workload';

/** What a sidecar gets unless `resources` says otherwise. */
export const SIDECAR_RESOURCES: ResolvedResources = {
  cpuRequestMillis: 10, cpuLimitMillis: 100, memoryRequest: Size.mebibytes(32), memoryLimit: Size.mebibytes(128),
};

/** Label and annotation prefixes the chart sets itself. */
const CHART_PREFIXES = ['app.kubernetes.io/', 'cdk8s.io/', 'redis-ha.cdk8s.io/'];

const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** Checks `PodSettings.env` or a sidecar's `env`. */
export function checkEnvNames(scope: Construct, prop: string, values: { [name: string]: string }): { [name: string]: string } {
  for (const [name, value] of Object.entries(values)) {
    if (!ENV_NAME.test(name)) fail(scope, `${prop} name`, name, 'must be an environment variable name: letters, digits, "_", "-" or ".", not starting with a digit');
    if (typeof value !== 'string') fail(scope, `${prop}[${JSON.stringify(name)}]`, value, 'must be a string');
  }
  return values;
}

function checkMetadataKeys(scope: Construct, prop: string, values: { [key: string]: string }, labels: boolean): void {
  if (labels) checkLabels(scope, prop, values);
  for (const key of Object.keys(values)) {
    if (!labels) checkLabels(scope, prop, { [key]: '' });
    if (!labels && typeof values[key] !== 'string') fail(scope, `${prop}[${JSON.stringify(key)}]`, values[key], 'must be a string');
    const own = CHART_PREFIXES.find((p) => key.startsWith(p));
    if (own) fail(scope, `${prop} key`, key, `is set by the chart (${own}*): choose a key of your own`);
  }
}

/** The mounts of one container, checked: absolute paths, each once. */
function checkMounts(scope: Construct, prop: string, mounts: PodMount[]): ResolvedMount[] {
  const paths = new Set<string>();
  return mounts.map((m, i) => {
    const where = `${prop}[${i}]`;
    if (!m.path.startsWith('/') || m.path.includes('..') || m.path.length < 2) fail(scope, `${where}.path`, m.path, 'must be an absolute path other than "/", without ".."');
    if (paths.has(m.path)) fail(scope, `${where}.path`, m.path, 'is mounted twice');
    paths.add(m.path);
    return { path: m.path, volume: m.volume._toKube(scope, `${where}.volume`), readOnly: m.readOnly ?? true };
  });
}

/** A mount, rendered. */
export interface ResolvedMount {
  readonly path: string;
  readonly volume: k8s.Volume;
  readonly readOnly: boolean;
}

/** A sidecar, checked. */
export interface ResolvedSidecar {
  readonly name: string;
  readonly image: string;
  readonly command?: string[];
  readonly args?: string[];
  readonly env: { [name: string]: string };
  readonly mounts: ResolvedMount[];
  readonly resources: ResolvedResources;
  readonly uid?: number;
}

/** {@link PodSettings}, checked and in the API's terms. */
export interface ResolvedPodSettings {
  readonly scheduling: Pick<k8s.PodSpec, 'nodeSelector' | 'tolerations' | 'priorityClassName' | 'imagePullSecrets'>;
  readonly annotations: { [key: string]: string };
  readonly labels: { [key: string]: string };
  readonly env: { [name: string]: string };
  readonly mounts: ResolvedMount[];
  readonly sidecars: ResolvedSidecar[];
  /** Where the settings came from (`<path>: <prop>`), for errors found when the pod is complete. */
  readonly where: string;
}

/** Checks `settings`, `prop` of `scope`, everything that does not need the finished pod. */
export function resolvePodSettings(scope: Construct, prop: string, settings: PodSettings = {}): ResolvedPodSettings {
  const nodeSelector = settings.nodeSelector && checkLabels(scope, `${prop}.nodeSelector`, settings.nodeSelector);
  const tolerations = settings.tolerations?.map((t, i) => t._toKube(scope, `${prop}.tolerations[${i}]`));
  if (settings.priorityClassName !== undefined) checkSecretName(scope, `${prop}.priorityClassName`, settings.priorityClassName);
  const pullSecrets = settings.imagePullSecrets?.map((name, i) => ({ name: checkSecretName(scope, `${prop}.imagePullSecrets[${i}]`, name) }));
  checkMetadataKeys(scope, `${prop}.labels`, settings.labels ?? {}, true);
  checkMetadataKeys(scope, `${prop}.annotations`, settings.annotations ?? {}, false);
  const names = new Set<string>();
  const sidecars = (settings.sidecars ?? []).map((s, i): ResolvedSidecar => {
    const where = `${prop}.sidecars[${i}]`;
    checkDnsLabel(scope, `${where}.name`, s.name);
    if (names.has(s.name)) fail(scope, `${where}.name`, s.name, 'is the name of another sidecar');
    names.add(s.name);
    checkImage(scope, `${where}.image`, s.image);
    if (s.uid !== undefined) checkInt(scope, `${where}.uid`, s.uid, 1);
    return {
      name: s.name, image: s.image, command: s.command, args: s.args,
      env: checkEnvNames(scope, `${where}.env`, s.env ?? {}),
      mounts: checkMounts(scope, `${where}.mounts`, s.mounts ?? []),
      resources: resolveResources(scope, `${where}.resources`, SIDECAR_RESOURCES, s.resources), uid: s.uid,
    };
  });
  return {
    scheduling: {
      nodeSelector: nodeSelector && Object.keys(nodeSelector).length > 0 ? { ...nodeSelector } : undefined,
      tolerations: tolerations && tolerations.length > 0 ? tolerations : undefined,
      priorityClassName: settings.priorityClassName,
      imagePullSecrets: pullSecrets && pullSecrets.length > 0 ? pullSecrets : undefined,
    },
    annotations: { ...settings.annotations },
    labels: { ...settings.labels },
    env: checkEnvNames(scope, `${prop}.env`, settings.env ?? {}),
    mounts: checkMounts(scope, `${prop}.mounts`, settings.mounts ?? []),
    sidecars,
    where: propRef(scope, prop),
  };
}
