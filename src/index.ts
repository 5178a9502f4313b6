// The public API, named one by one: constructs, their props, value classes and enums. Renderers,
// ids and helpers stay in their modules (jsii would drop free functions and constants anyway).
export { RedisAuth } from './auth';
export { EngineKind, EngineOptions, ProxyEngine, RedisEngine } from './engine';
export { RedisTls, TlsSecretKeys } from './tls';
export { ClaimOptions, HostPathOptions, Persistence } from './persistence';
export { ComputeResources } from './compute-resources';
export { IRedisInstance, RedisInstance, RedisInstanceOptions, RedisInstanceProps } from './sentinel/redis-instance';
export { ISentinelCluster, SentinelCluster, SentinelClusterOptions, SentinelClusterProps } from './sentinel/sentinel-cluster';
export { SentinelProxy, SentinelProxyOptions, SentinelProxyProps } from './sentinel/sentinel-proxy';
export { RedisHa, RedisHaProps } from './sentinel/redis-ha';
export { RedisCluster, RedisClusterProps } from './cluster/redis-cluster';
export { ClusterNode, ClusterNodeProps, IClusterNode } from './cluster/cluster-node';
export { ClusterEndpointType } from './cluster/cluster-config';
export { SlotRange } from './cluster/slots';
export { AntiAffinity, SpreadOptions } from './spread';
export { PodMount, PodSettings, PodVolume, Sidecar, TaintEffect, Toleration, TolerationOptions } from './pod-settings';
export { NetworkPolicyOptions } from './network-policy';
export { MetricsOptions } from './metrics';
