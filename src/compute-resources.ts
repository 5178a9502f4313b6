import { Size } from 'cdk8s';

/** CPU and memory for one container. Unset members take the component's defaults. */
export interface ComputeResources {
  /**
   * CPU the scheduler reserves, in millicores.
   * @default - the component's default (Redis 100, sentinel 50, proxy 100)
   */
  readonly cpuRequestMillis?: number;
  /**
   * CPU limit in millicores.
   * @default - the component's default (Redis 1000, sentinel 250, proxy 1000)
   */
  readonly cpuLimitMillis?: number;
  /**
   * Memory the scheduler reserves.
   * @default - the component's default (Redis 256Mi, sentinel 32Mi, proxy 64Mi)
   */
  readonly memoryRequest?: Size;
  /**
   * Memory limit; the container is killed above it.
   * @default - the component's default (Redis 1Gi, sentinel 128Mi, proxy 256Mi)
   */
  readonly memoryLimit?: Size;
}
