import { Construct } from 'constructs';
import { fail } from './validation';

/** Who may reach the chart's pods when network policies are on. */
export interface NetworkPolicyOptions {
  /**
   * Labels of the application pods (in the chart's namespace, and in those of {@link clientNamespaceLabels}) allowed to reach
   * the proxy, and, for sentinel-aware clients, the sentinels and Redis.
   */
  readonly clientLabels: { [key: string]: string };

  /**
   * Labels of the namespaces whose pods with {@link clientLabels} may connect too, for applications
   * in other namespaces (`{ 'kubernetes.io/metadata.name': 'web' }` names one: Kubernetes sets that label
   * on every namespace). `{}` admits such pods of every namespace.
   * @default - client pods of the chart's own namespace only
   */
  readonly clientNamespaceLabels?: { [key: string]: string };
}

/** A NetworkPolicy peer (the shape of src/k8s-api's, which the public API must not name). */
interface ClientPeer {
  readonly podSelector: { readonly matchLabels: { [key: string]: string } };
  readonly namespaceSelector?: { readonly matchLabels: { [key: string]: string } };
}

/**
 * Where clients may connect from: the pods with the client labels in the chart's namespace, and in the
 * namespaces the options admit (a peer of its own: one peer with both selectors would leave out the
 * chart's own namespace unless its labels match too).
 */
export function clientPeers(options: NetworkPolicyOptions): ClientPeer[] {
  const podSelector = { matchLabels: options.clientLabels };
  const others = options.clientNamespaceLabels;
  return others === undefined ? [{ podSelector }] : [{ podSelector }, { podSelector, namespaceSelector: { matchLabels: others } }];
}

/** Fails unless the options name at least one client label (none would select every pod). */
export function checkClientLabels(scope: Construct, options: NetworkPolicyOptions): void {
  if (Object.keys(options.clientLabels).length === 0) {
    fail(scope, 'networkPolicy.clientLabels', options.clientLabels, 'must name at least one label, or every pod would count as a client');
  }
}
