/**
 * The pod the chart runs for each Redis instance and each sentinel, assembled in one place: its
 * own Service that peers reach whatever its readiness, its claim, the component's ConfigMap
 * mounted beside the data, TLS files, and the recommended labels on every object.
 */
import { Construct } from 'constructs';
import { POD_NAMESPACE_ENV, serviceDnsNameDots } from './cluster-dns';
import { RedisEngine } from './engine';
import { labelObjects } from './labels';
import { Persistence } from './persistence';
import * as k8s from './k8s-api';
import {
  ConfigMap, Container, Deployment, PersistentVolumeClaim, Service, WorkloadSpec, env, envOf, lookUpAsGivenFirst, mountConfigAndData, namespaceEnv,
  peerService, rollOnConfigChange, secureDeployment,
} from './workload';
import { RedisTls } from './tls';

/** The uid and gid of the Redis and Valkey images' own user, which Redis and sentinel pods run as. */
export const REDIS_UID = 999;

/**
 * A peer pod's main container, less what every peer pod shares: the image's uid, `entrypoint.sh`
 * from the ConfigMap, one Recreate replica, and the leading env (namespace, bind address, binaries).
 */
export interface PeerWorkload extends Omit<WorkloadSpec, 'uid' | 'command' | 'replicas' | 'recreate'> {
  /** The component's own env, after the shared leading entries. */
  readonly env: WorkloadSpec['env'];
}

/** What differs between a Redis pod and a sentinel pod. */
export interface PeerPodSpec {
  /** The port of the pod's own Service. */
  readonly port: { readonly name: string; readonly port: number };
  readonly persistence: Persistence;
  /** The component's ConfigMap; made after the Service and the claim, as the objects are written. */
  readonly config: () => ConfigMap;
  /** Where the ConfigMap and the claim are mounted. */
  readonly paths: { readonly config: string; readonly data: string };
  /** The domain of the names the pod looks up (its peers' announced names). */
  readonly clusterDomain: string;
  /** The engine whose binaries the scripts run. */
  readonly engine: RedisEngine;
  /** The Deployment, given the name of the pod's Service. */
  readonly workload: (serviceName: string) => PeerWorkload;
  /** Mounts the component's own volumes, before the TLS files. */
  readonly volumes?: (container: Container) => void;
  readonly tls?: RedisTls;
}

/** The objects of a peer pod. */
export interface PeerPod {
  readonly service: Service;
  readonly claim: PersistentVolumeClaim;
  readonly deployment: Deployment;
  readonly container: Container;
  /** The TLS volume, when TLS is on, for the pod's other containers. */
  readonly tlsVolume?: k8s.Volume;
}

/** Builds a peer pod under `scope`, whose children keep the ids `Service`, `Data`, `Deployment`. */
export function peerPod(scope: Construct, spec: PeerPodSpec): PeerPod {
  const service = peerService(scope, 'Service', spec.port);
  const claim = spec.persistence._bind(scope);
  const config = spec.config();
  const own = spec.workload(service.name);
  const workload: WorkloadSpec = {
    ...own,
    uid: REDIS_UID,
    command: ['sh', `${spec.paths.config}/entrypoint.sh`],
    env: {
      // First: the component's names refer to it when the chart has no namespace.
      [POD_NAMESPACE_ENV]: namespaceEnv(),
      BIND_ADDRESS: env('0.0.0.0'),
      ...envOf(spec.engine._env()),
      ...own.env,
    },
    replicas: 1,
    recreate: true,
  };
  const deployment = secureDeployment(scope, 'Deployment', workload);
  lookUpAsGivenFirst(deployment, serviceDnsNameDots(spec.clusterDomain));
  const container = deployment.containers[0];
  service.select(deployment);
  mountConfigAndData(container, config, claim, spec.paths);
  rollOnConfigChange(deployment, config);
  spec.volumes?.(container);
  const tlsVolume = spec.tls?._mount(container, false);
  labelObjects(scope, workload.labels);
  return { service, claim, deployment, container, tlsVolume };
}
