import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import * as k8s from '../k8s-api';
import { COMPONENT_LABEL, PodComponent } from '../labels';
import { NetworkPolicyOptions, checkClientLabels, clientPeers } from '../network-policy';
import { ClusterNode, SHARD_LABEL } from './cluster-node';

/**
 * One ingress policy over the cluster's nodes: the client port from clients and the nodes
 * themselves, the bus port from the nodes only, and the metrics port (when on) from anywhere.
 */
export function addClusterNetworkPolicy(scope: Construct, group: { [key: string]: string }, options: NetworkPolicyOptions,
  labels: { [key: string]: string }, openPorts: number[]): ApiObject {
  checkClientLabels(scope, options);
  const nodes = { podSelector: { matchLabels: { ...group, [COMPONENT_LABEL]: PodComponent.REDIS } } };
  const tcp = (...ports: number[]) => ports.map((port) => ({ protocol: 'TCP', port }));
  const policyLabels = Object.fromEntries(Object.entries(labels).filter(([key]) => key !== SHARD_LABEL));
  return new k8s.KubeNetworkPolicy(scope, 'NodePolicy', {
    metadata: { labels: policyLabels },
    spec: {
      podSelector: nodes.podSelector,
      policyTypes: ['Ingress'],
      ingress: [
        { from: [nodes, ...clientPeers(options)], ports: tcp(ClusterNode.PORT) },
        { from: [nodes], ports: tcp(ClusterNode.BUS_PORT) },
        ...(openPorts.length > 0 ? [{ ports: tcp(...openPorts) }] : []),
      ],
    },
  });
}
