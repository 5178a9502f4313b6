import { Duration } from 'cdk8s';
import { Construct } from 'constructs';
import { RedisTls } from '../tls';
import { Persistence } from '../persistence';
import { RedisEngine } from '../engine';
import { ConfigMap, Container, Deployment, EnvValue, ResolvedResources, env, envOf, scriptProbe } from '../workload';
import { peerPod } from '../peer-pod';
import { SENTINEL_PATHS, SentinelProbeMode, sentinelId } from './sentinel-config';
import { SentinelGuardTiming, sentinelGuardEnv } from './sentinel-guard';
import { NamespaceSyntax, serviceDnsName } from '../cluster-dns';

/** What the sentinels of one cluster share; built by the SentinelCluster. */
export interface SentinelProps {
  /** The cluster's ConfigMap: sentinel.conf templates and scripts. */
  readonly config: ConfigMap;
  readonly image: string;
  /** The server; its binaries' names reach the scripts through the env. */
  readonly engine: RedisEngine;
  readonly port: number;
  /** What the sentinel monitors (master name, quorum, the instances), in the order of the pod's env. */
  readonly monitor: { [name: string]: EnvValue };
  readonly persistence: Persistence;
  readonly resources: ResolvedResources;
  readonly terminationGracePeriod: Duration;
  readonly labels: { [key: string]: string };
  readonly clusterDomain: string;
  /** The password, read from the cluster's Secret reference. */
  readonly password?: EnvValue;
  readonly tls?: RedisTls;
  /** When the guard around this sentinel restarts it (see sentinel-guard.ts). */
  readonly guard: SentinelGuardTiming;
}

/**
 * One Redis Sentinel: a Deployment of one pod (Recreate, for its ReadWriteOnce claim), its own
 * ClusterIP Service whose fully qualified name it announces, and the claim holding its
 * rewritable sentinel.conf.
 */
export class Sentinel extends Construct {
  /** The Service name. */
  public readonly host: string;
  /** The name the sentinel announces: `<service>.<namespace>.svc.<clusterDomain>`. */
  public readonly announcedName: string;
  public readonly deployment: Deployment;
  private readonly container: Container;

  constructor(scope: Construct, id: string, props: SentinelProps) {
    super(scope, id);
    const probe = (mode: SentinelProbeMode) => ['sh', `${SENTINEL_PATHS.config}/probe.sh`, mode];
    const graceMs = props.terminationGracePeriod.toMilliseconds();
    const announce = (serviceName: string) => serviceDnsName(this, serviceName, props.clusterDomain, NamespaceSyntax.KUBERNETES);
    const pod = peerPod(this, {
      port: { name: 'sentinel', port: props.port },
      persistence: props.persistence,
      config: () => props.config,
      paths: SENTINEL_PATHS,
      clusterDomain: props.clusterDomain,
      engine: props.engine,
      workload: (serviceName) => ({
        image: props.image,
        env: {
          SENTINEL_PORT: env(props.port),
          SENTINEL_ID: env(sentinelId(this.node.path)),
          ANNOUNCE_HOST: env(announce(serviceName)),
          ...props.monitor,
          PRESTOP_WAIT_SECONDS: env(Math.floor(graceMs / 1000) - 10),
          ...envOf(sentinelGuardEnv(props.guard)),
          ...(props.password ? { REDIS_PASSWORD: props.password } : {}),
          ...(props.tls ? { TLS_ARGS: env(props.tls._cliArgs()) } : {}),
        },
        ports: { sentinel: props.port },
        resources: props.resources,
        readiness: scriptProbe(probe(SentinelProbeMode.READINESS), Duration.seconds(5), 3),
        liveness: scriptProbe(probe(SentinelProbeMode.LIVENESS), Duration.seconds(10), 3),
        preStop: ['sh', `${SENTINEL_PATHS.config}/prestop.sh`],
        terminationGracePeriod: props.terminationGracePeriod,
        labels: props.labels,
      }),
      tls: props.tls,
    });
    this.host = pod.service.name;
    this.announcedName = announce(pod.service.name);
    this.deployment = pod.deployment;
    this.container = pod.container;
  }

  /** Tells the sentinel the announced names of the cluster's sentinels, which its preStop checks before it stops. */
  public knowPeers(announcedNames: string[]): void {
    this.container.env.addVariable('SENTINEL_HOSTS', env(announcedNames.join(' ')));
  }
}
