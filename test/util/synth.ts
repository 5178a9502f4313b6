import { Chart, Testing } from 'cdk8s';
import { RedisHa, RedisHaProps } from '../../src';

/** A test chart holding one RedisHa, and its synthesized objects. */
export function synthRedisHa(props: RedisHaProps = {}): { chart: Chart; ha: RedisHa; objects: any[] } {
  const chart = Testing.chart();
  const ha = new RedisHa(chart, 'redis', props);
  return { chart, ha, objects: Testing.synth(chart) };
}

/** The objects of one kind. */
export function ofKind(objects: any[], kind: string): any[] {
  return objects.filter((o) => o.kind === kind);
}

/** A container's env as a name -> value map (valueFrom as the object). */
export function containerEnv(container: any): Record<string, any> {
  const env: any[] = container.env ?? [];
  return Object.fromEntries(env.map((e) => [e.name, e.value ?? e.valueFrom]));
}

/** The env of a Deployment's first container (see {@link containerEnv}). */
export function envOf(deployment: any): Record<string, any> {
  return containerEnv(deployment.spec.template.spec.containers[0]);
}

/** The first container of the first Deployment whose name contains `part`. */
export function mainContainer(objects: any[], part: string): any {
  const d = objects.find((o) => o.kind === 'Deployment' && o.metadata.name.includes(part));
  if (!d) throw new Error(`no Deployment named like ${part}`);
  return d.spec.template.spec.containers[0];
}

/** The object with this metadata.name. */
export function named(objects: any[], name: string): any {
  const found = objects.find((o) => o.metadata?.name === name);
  if (!found) throw new Error(`no object named ${name}`);
  return found;
}

/** A Deployment's pod labels. */
export function podLabels(deployment: any): Record<string, string> {
  return deployment.spec.template.metadata.labels ?? {};
}

/** The `app.kubernetes.io/component` of a Deployment's pods: redis, sentinel or proxy. */
export function component(deployment: any): string {
  return podLabels(deployment)['app.kubernetes.io/component'];
}

/** Whether a label selector (`matchLabels`) selects an object with these labels. */
export function matches(selector: Record<string, string>, labels: Record<string, string> = {}): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** The namespace the evaluators below take a policy to be in. */
export const POLICY_NAMESPACE = 'home';

/** A pod as a NetworkPolicy sees it: its labels, and its namespace (whose labels are Kubernetes' name label). */
export interface PolicySource {
  readonly labels: Record<string, string>;
  /** @default POLICY_NAMESPACE */
  readonly namespace?: string;
}

/**
 * Whether a NetworkPolicy peer admits a pod, as the API defines it: a podSelector alone picks pods of
 * the policy's namespace; with a namespaceSelector, pods matching it in the namespaces that selects.
 */
export function peerAdmits(peer: any, source: PolicySource): boolean {
  const namespace = source.namespace ?? POLICY_NAMESPACE;
  if (!matches(peer.podSelector?.matchLabels ?? {}, source.labels)) return false;
  if (peer.namespaceSelector === undefined) return namespace === POLICY_NAMESPACE;
  return matches(peer.namespaceSelector.matchLabels ?? {}, { 'kubernetes.io/metadata.name': namespace });
}

/** Whether a NetworkPolicy's ingress admits a pod on a port. */
export function policyAdmits(policy: any, port: number, source: PolicySource): boolean {
  return policy.spec.ingress.some((r: any) => (!r.ports || r.ports.some((p: any) => p.port === port))
    && (!r.from || r.from.some((f: any) => peerAdmits(f, source))));
}

/** A Deployment's container of this name, or its first. */
export function containerOf(deployment: any, name?: string): any {
  const containers: any[] = deployment.spec.template.spec.containers;
  return (name === undefined ? undefined : containers.find((c) => c.name === name)) ?? containers[0];
}
