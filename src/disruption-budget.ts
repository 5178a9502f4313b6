import { Construct } from 'constructs';
import { kplus } from './plus';

/** A PodDisruptionBudget (policy/v1) over the pods `selector` matches. */
export function addDisruptionBudget(
  scope: Construct,
  id: string,
  selector: { [key: string]: string },
  budget: { readonly minAvailable?: number; readonly maxUnavailable?: number },
): kplus.k8s.KubePodDisruptionBudget {
  const count = (n?: number) => (n === undefined ? undefined : kplus.k8s.IntOrString.fromNumber(n));
  return new kplus.k8s.KubePodDisruptionBudget(scope, id, {
    spec: {
      selector: { matchLabels: selector },
      minAvailable: count(budget.minAvailable),
      maxUnavailable: count(budget.maxUnavailable),
    },
  });
}
