import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import * as k8s from '../k8s-api';
import { PodComponent, componentSelector } from '../labels';
import { NetworkPolicyOptions, checkClientLabels, clientPeers } from '../network-policy';
import { REDIS_PORT } from './redis-instance';
import { SENTINEL_PORT } from './sentinel-cluster';
import { PROXY_HEALTH_PORT, SentinelProxy } from './sentinel-proxy';

/**
 * Ingress policies for one group: Redis 6379 only from the proxy, sentinels,
 * other Redis pods and clients; sentinels 26379 only from sentinels, Redis,
 * the proxy and clients; the proxy's client ports (6379, and 6380 with read
 * replicas) only from clients. The proxy's health port stays open for kubelet probes.
 */
export function addNetworkPolicies(scope: Construct, groupLabels: { [key: string]: string }, proxy: SentinelProxy, options: NetworkPolicyOptions,
  labelsOf: { readonly [component: string]: { [key: string]: string } }, extraOpenPorts: {
  readonly redis: number[]; readonly proxy: number[];
} = { redis: [], proxy: [] }): ApiObject[] {
  checkClientLabels(scope, options);
  const pods = (component: PodComponent) => ({ podSelector: { matchLabels: componentSelector(groupLabels, component) } });
  const clients = clientPeers(options);
  const tcp = (...ports: number[]) => ports.map((port) => ({ protocol: 'TCP', port }));
  const policy = (id: string, component: PodComponent, rules: k8s.NetworkPolicyIngressRule[]) =>
    new k8s.KubeNetworkPolicy(scope, id, {
      metadata: { labels: labelsOf[component] },
      spec: { podSelector: { matchLabels: componentSelector(groupLabels, component) }, policyTypes: ['Ingress'], ingress: rules },
    });
  const proxyClientPorts = [proxy.port, ...(proxy.readReplicasPort !== undefined ? [proxy.readReplicasPort] : [])];
  const open = (ports: number[]) => (ports.length > 0 ? [{ ports: tcp(...ports) }] : []);
  return [
    policy('RedisPolicy', PodComponent.REDIS, [
      { from: [pods(PodComponent.PROXY), pods(PodComponent.SENTINEL), pods(PodComponent.REDIS), ...clients], ports: tcp(REDIS_PORT) },
      ...open(extraOpenPorts.redis),
    ]),
    policy('SentinelPolicy', PodComponent.SENTINEL, [
      { from: [pods(PodComponent.SENTINEL), pods(PodComponent.REDIS), pods(PodComponent.PROXY), ...clients], ports: tcp(SENTINEL_PORT) },
    ]),
    policy('ProxyPolicy', PodComponent.PROXY, [
      { from: clients, ports: tcp(...proxyClientPorts) },
      { ports: tcp(PROXY_HEALTH_PORT) },
      ...open(extraOpenPorts.proxy),
    ]),
  ];
}
