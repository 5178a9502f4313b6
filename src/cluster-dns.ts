/**
 * The names the chart's pods announce: `<service>.<namespace>.svc.<clusterDomain>`, which resolve
 * from every namespace (a short Service name resolves only inside its own, through the search domains).
 */
import { Chart } from 'cdk8s';
import { Construct, IConstruct } from 'constructs';
import { fail } from './validation';

/** The cluster DNS domain Kubernetes uses unless the cluster was set up with another. */
export const DEFAULT_CLUSTER_DOMAIN = 'cluster.local';

/** The env var every pod that announces a name gets from the downward API (`metadata.namespace`). */
export const POD_NAMESPACE_ENV = 'POD_NAMESPACE';

/** How a name refers to the pod's namespace when the chart has none: the syntax of what reads it. */
export enum NamespaceSyntax {
  /** Kubernetes env var values: `$(POD_NAMESPACE)`, expanded by kubelet (the variable must come first). */
  KUBERNETES = 'kubernetes',
  /** haproxy.cfg: `${POD_NAMESPACE}`, expanded by HAProxy inside double quotes. */
  HAPROXY = 'haproxy',
}

/** Checks a cluster domain: DNS labels separated by dots, no trailing dot. */
export function checkClusterDomain(scope: Construct, prop: string, value: string): string {
  const label = '[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?';
  if (value.length > 253 || !new RegExp(`^${label}(\\.${label})*$`).test(value)) {
    fail(scope, prop, value, 'must be a DNS domain: lowercase labels of letters, digits and "-", separated by "."');
  }
  return value;
}

/** How many dots a name from {@link serviceDnsName} holds. */
export function serviceDnsNameDots(clusterDomain: string): number {
  return 3 + clusterDomain.split('.').length - 1;
}

/**
 * The fully qualified name of a Service of the chart. With a namespace set on the chart it is
 * written out; without one the objects land in whatever namespace they are applied to, which only
 * the pod knows, so the name refers to the pod's own namespace (the Services are in the same).
 */
export function serviceDnsName(scope: IConstruct, service: string, clusterDomain: string, syntax: NamespaceSyntax): string {
  const ns = Chart.of(scope).namespace ?? (syntax === NamespaceSyntax.HAPROXY ? `\${${POD_NAMESPACE_ENV}}` : `$(${POD_NAMESPACE_ENV})`);
  return `${service}.${ns}.svc.${clusterDomain}`;
}

/**
 * The name a client outside the chart uses for one of its Services: fully qualified with the chart's
 * namespace, so that it resolves from every namespace; the bare Service name when the chart has no
 * namespace (the objects land where they are applied, which only the pods know), which resolves only
 * from that namespace.
 */
export function clientDnsName(scope: IConstruct, service: string, clusterDomain: string): string {
  const ns = Chart.of(scope).namespace;
  return ns === undefined ? service : `${service}.${ns}.svc.${clusterDomain}`;
}
