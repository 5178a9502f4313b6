import { Construct } from 'constructs';
import * as k8s from './k8s-api';

/** A PodDisruptionBudget (policy/v1) over the pods `selector` matches. */
export function addDisruptionBudget(
  scope: Construct,
  id: string,
  selector: { [key: string]: string },
  budget: { readonly minAvailable?: number; readonly maxUnavailable?: number },
): k8s.KubePodDisruptionBudget {
  return new k8s.KubePodDisruptionBudget(scope, id, {
    spec: {
      selector: { matchLabels: selector },
      minAvailable: budget.minAvailable,
      maxUnavailable: budget.maxUnavailable,
    },
  });
}
