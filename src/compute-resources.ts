import { Size } from 'cdk8s';

/**
 * CPU and memory for one container. Unset members take the component's defaults; a request is never
 * above its limit (the API server refuses that): a limit set alone lowers the default request to it,
 * and a request set above its limit fails at synth.
 */
export interface ComputeResources {
  /**
   * CPU the scheduler reserves, in millicores (a positive integer, at most the limit).
   * @default - the component's default (Redis 100, sentinel 50, proxy 100, exporter 10), or the limit if that is lower
   */
  readonly cpuRequestMillis?: number;
  /**
   * CPU limit in millicores (a positive integer).
   * @default - the component's default (Redis 1000, sentinel 250, proxy 1000, exporter 100)
   */
  readonly cpuLimitMillis?: number;
  /**
   * Memory the scheduler reserves (a whole number of mebibytes, at most the limit).
   * @default - the component's default (Redis 256Mi, sentinel 32Mi, proxy 64Mi, exporter 16Mi), or the limit if that is lower
   */
  readonly memoryRequest?: Size;
  /**
   * Memory limit (a whole number of mebibytes); the container is killed above it.
   * @default - the component's default (Redis 1Gi, sentinel 128Mi, proxy 256Mi, exporter 64Mi)
   */
  readonly memoryLimit?: Size;
  /**
   * Requests equal to the limits, for Kubernetes' Guaranteed QoS class: the last pods evicted when a
   * node runs short of memory. A request given too must equal its limit.
   * @default false
   */
  readonly guaranteed?: boolean;
}
