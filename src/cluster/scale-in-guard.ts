import { ApiObject, Chart, JsonPatch, Names } from 'cdk8s';
import { Construct } from 'constructs';
import * as k8s from '../k8s-api';
import { COMPONENT_LABEL, PodComponent } from '../labels';
import { REDIS_PATHS } from '../server-config';

/** The annotation the chart puts on the Deployments of a shard it drains (`drainedShards`). */
export const DRAINED_ANNOTATION = 'redis-ha.cdk8s.io/drained';

/**
 * A ValidatingAdmissionPolicy, and its binding, that refuses deleting a cluster node's Deployment
 * unless the chart drained its shard in an earlier apply (the Deployment carries
 * {@link DRAINED_ANNOTATION}). A scale in that skips the drain (`shards` lowered in one apply,
 * `kubectl apply --prune` or `kubectl delete`) is refused by the API server before any pod stops.
 * Deleting the namespace is admitted: every node then stops at once (the chart is gone, so no hand-over).
 * Both objects are cluster-scoped: their names carry the chart's namespace, their metadata none.
 */
export class ScaleInGuard extends Construct {
  /** The policy. */
  public readonly policy: ApiObject;
  /** The binding that makes it deny. */
  public readonly binding: ApiObject;

  constructor(scope: Construct, id: string, group: { [key: string]: string }) {
    super(scope, id);
    const ns = Chart.of(this).namespace;
    const name = (suffix: string) => `${ns ? `${ns}-` : ''}${Names.toDnsLabel(this, { maxLen: 200 })}-${suffix}`.slice(0, 253);
    const nodes = { matchLabels: { ...group, [COMPONENT_LABEL]: PodComponent.REDIS } };
    const policy = new k8s.KubeValidatingAdmissionPolicy(this, 'Policy', {
      metadata: { name: name('policy') },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          objectSelector: nodes,
          resourceRules: [{ apiGroups: ['apps'], apiVersions: ['v1'], operations: ['DELETE'], resources: ['deployments'] }],
        },
        validations: [{
          // A namespace being deleted deletes everything in it, this cluster included: its controller's
          // deletes are admitted, or the namespace would never finish terminating.
          expression: 'has(namespaceObject.metadata.deletionTimestamp) || '
            + `(has(oldObject.metadata.annotations) && '${DRAINED_ANNOTATION}' in oldObject.metadata.annotations && oldObject.metadata.annotations['${DRAINED_ANNOTATION}'] == 'true')`,
          reason: 'Forbidden',
          message: 'this cluster node\'s shard may own hash slots, and deleting it would lose their keys: '
            + `drain the shard first (drainedShards), wait until 'sh ${REDIS_PATHS.config}/probe.sh drained' succeeds in its pods, then lower shards. `
            + `To delete the whole cluster, delete the ValidatingAdmissionPolicyBinding ${name('binding')} first.`,
        }],
      },
    });
    this.policy = policy;
    this.binding = new k8s.KubeValidatingAdmissionPolicyBinding(this, 'Binding', {
      metadata: { name: name('binding') },
      spec: {
        policyName: policy.name,
        validationActions: ['Deny'],
      },
    });
    // Cluster-scoped: no namespace, whatever the chart's (the API server would reject one).
    if (ns) for (const o of [policy, this.binding]) o.addJsonPatch(JsonPatch.remove('/metadata/namespace'));
  }
}
