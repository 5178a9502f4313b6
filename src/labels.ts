/**
 * The labels on the chart's objects: Kubernetes' recommended `app.kubernetes.io/*` set, read by
 * every construct. Selectors use `instance` and `component` only, never `version`.
 * @see https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/
 */
import { ApiObject, Names } from 'cdk8s';
import { IConstruct } from 'constructs';

/** The label naming a pod's role in the chart. */
export const COMPONENT_LABEL = 'app.kubernetes.io/component';
/** The label every pod of the chart carries, with value `redis`. */
export const NAME_LABEL = 'app.kubernetes.io/name';
/** The label naming the group (a `RedisHa`) an object belongs to. */
export const INSTANCE_LABEL = 'app.kubernetes.io/instance';

/** The kinds of pod in the chart, as `app.kubernetes.io/component` values. */
export enum PodComponent {
  /** A Redis server. */
  REDIS = 'redis',
  /** A Redis Sentinel. */
  SENTINEL = 'sentinel',
  /** An HAProxy routing to the master. */
  PROXY = 'proxy',
}

const groups = new WeakSet<IConstruct>();

/** Makes `scope` the group (`app.kubernetes.io/instance`) of the chart's objects built under it. */
export function markGroup(scope: IConstruct): void {
  groups.add(scope);
}

/** The `app.kubernetes.io/instance` value under `scope`: its nearest group (a `RedisHa`), else `scope` itself. */
export function instanceLabel(scope: IConstruct): string {
  return Names.toLabelValue([...scope.node.scopes].reverse().find((s) => groups.has(s)) ?? scope);
}

/** The labels every pod of the group under `scope` carries: its `instance` (see {@link instanceLabel}). */
export function groupLabelsOf(scope: IConstruct): { [key: string]: string } {
  return { [INSTANCE_LABEL]: instanceLabel(scope) };
}

/** The labels that select one component's pods of a group, given the group's labels (its `instance`). */
export function componentSelector(groupLabels: { [key: string]: string }, component: PodComponent): { [key: string]: string } {
  return { ...groupLabels, [COMPONENT_LABEL]: component };
}

/** The image's tag (`redis:7.0.15` gives `7.0.15`) when it is a valid label value; a bare digest has none. */
export function imageVersion(image: string): string | undefined {
  const tag = /^[^@]*:([^:/@]+)(@|$)/.exec(image)?.[1];
  return tag !== undefined && /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(tag) ? tag : undefined;
}

/** The recommended labels of one component's objects. */
export function recommendedLabels(instance: string, component: string, image?: string): { [key: string]: string } {
  const version = image !== undefined ? imageVersion(image) : undefined;
  return {
    [NAME_LABEL]: 'redis',
    [INSTANCE_LABEL]: instance,
    [COMPONENT_LABEL]: component,
    'app.kubernetes.io/part-of': 'redis-ha',
    'app.kubernetes.io/managed-by': 'cdk8s',
    ...(version !== undefined ? { 'app.kubernetes.io/version': version } : {}),
  };
}

/** Adds `labels` to the metadata of every object built under `scope` so far (pod templates are their workloads' concern). */
export function labelObjects(scope: IConstruct, labels: { [key: string]: string }): void {
  for (const c of scope.node.findAll()) {
    if (!ApiObject.isApiObject(c)) continue;
    for (const [key, value] of Object.entries(labels)) c.metadata.addLabel(key, value);
  }
}
