import { ApiObject, JsonPatch } from 'cdk8s';
import * as k8s from './k8s-api';

/** How strictly pods of one component avoid sharing a node. */
export enum AntiAffinity {
  /** Prefer other nodes, but schedule on a shared node rather than not at all. */
  PREFERRED = 'preferred',
  /** Never share a node: a pod stays Pending when no other node fits. */
  REQUIRED = 'required',
  /** No anti-affinity. */
  NONE = 'none',
}

/** Where pods of each component (Redis, sentinels, proxy) are scheduled relative to each other. */
export interface SpreadOptions {
  /**
   * Keep pods of one component on different nodes, so a node failure takes at
   * most one Redis, one sentinel and one proxy.
   * @default AntiAffinity.PREFERRED
   */
  readonly antiAffinity?: AntiAffinity;
  /**
   * Spread pods of one component evenly across zones (`topology.kubernetes.io/zone`), as a preference.
   * @default true
   */
  readonly acrossZones?: boolean;
}

/** Adds anti-affinity and zone spreading against the pods `selector` matches. */
export function applySpread(deployment: ApiObject, selector: { [key: string]: string }, options: SpreadOptions = {}): void {
  const labelSelector = { matchLabels: selector };
  const patches: JsonPatch[] = [];
  const term: k8s.PodAffinityTerm = { labelSelector, topologyKey: 'kubernetes.io/hostname' };
  switch (options.antiAffinity ?? AntiAffinity.PREFERRED) {
    case AntiAffinity.PREFERRED:
      patches.push(JsonPatch.add('/spec/template/spec/affinity', {
        podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: term }] },
      } satisfies k8s.Affinity));
      break;
    case AntiAffinity.REQUIRED:
      patches.push(JsonPatch.add('/spec/template/spec/affinity', {
        podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term] },
      } satisfies k8s.Affinity));
      break;
    case AntiAffinity.NONE:
      break;
  }
  if (options.acrossZones ?? true) {
    patches.push(JsonPatch.add('/spec/template/spec/topologySpreadConstraints', [{
      maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector,
    }] satisfies k8s.TopologySpreadConstraint[]));
  }
  if (patches.length > 0) deployment.addJsonPatch(...patches);
}
