// The public API, named one by one: constructs, their props, value classes and enums. Renderers,
// ids and helpers stay in their modules (jsii would drop free functions and constants anyway).
export { RedisAuth } from './auth';
export { EngineKind, EngineOptions, ProxyEngine, RedisEngine } from './engine';
export { RedisTls, TlsSecretKeys } from './tls';
export { ClaimOptions, HostPathOptions, Persistence } from './persistence';
export { ComputeResources } from './compute-resources';
export { IRedisInstance, RedisInstance, RedisInstanceOptions, RedisInstanceProps } from './redis-instance';
export { ISentinelCluster, SentinelCluster, SentinelClusterOptions, SentinelClusterProps } from './sentinel-cluster';
export { SentinelProxy, SentinelProxyOptions, SentinelProxyProps } from './sentinel-proxy';
export { RedisHa, RedisHaProps } from './redis-ha';
export { AntiAffinity, SpreadOptions } from './spread';
export { NetworkPolicyOptions } from './network-policy';
export { MetricsOptions } from './metrics';
