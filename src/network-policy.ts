import { Construct } from 'constructs';
import { fail } from './validation';

/** Who may reach the chart's pods when network policies are on. */
export interface NetworkPolicyOptions {
  /**
   * Labels of the application pods (in the chart's namespace) allowed to reach
   * the proxy, and, for sentinel-aware clients, the sentinels and Redis.
   */
  readonly clientLabels: { [key: string]: string };
}

/** Fails unless the options name at least one client label (none would select every pod). */
export function checkClientLabels(scope: Construct, options: NetworkPolicyOptions): void {
  if (Object.keys(options.clientLabels).length === 0) {
    fail(scope, 'networkPolicy.clientLabels', options.clientLabels, 'must name at least one label, or every pod would count as a client');
  }
}
