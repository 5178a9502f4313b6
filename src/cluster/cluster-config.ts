import { REDIS_PATHS, TlsPaths, renderTlsDirectives } from '../server-config';

/** What a cluster node tells clients to connect to, in MOVED/ASK redirects and CLUSTER SLOTS/SHARDS. */
export enum ClusterEndpointType {
  /** Its Service's ClusterIP: every client in the Kubernetes cluster reaches it without DNS. */
  IP = 'ip',
  /** Its Service's fully qualified name: clients that verify TLS certificates by name need it. */
  HOSTNAME = 'hostname',
}

/** Where a cluster node keeps its own view of the cluster (node id, peers, slots, epochs). */
export const NODES_CONF = `${REDIS_PATHS.data}/nodes.conf`;

/** Values rendered into the static part of a cluster node's config. */
export interface ClusterConfValues {
  /** The client port, the same on every node and its Service. */
  readonly port: number;
  /** The cluster bus port, the same on every node and its Service. */
  readonly busPort: number;
  /** `cluster-node-timeout`: unreachable this long, a node is suspected failing. */
  readonly nodeTimeoutMillis: number;
  readonly preferredEndpointType: ClusterEndpointType;
  /** A master refuses writes while fewer replicas than this acknowledged within the lag. */
  readonly minReplicasToWrite: number;
  readonly minReplicasMaxLagSeconds: number;
  /** TLS files; when set, clients, replication and the cluster bus all use TLS. */
  readonly tls?: TlsPaths;
}

/**
 * The static config of a cluster node: everything but its announced address (resolved at start)
 * and secrets, which the entrypoint writes to an owner-only file that includes this one.
 */
export function renderClusterConf(v: ClusterConfValues): string {
  return [
    ...(v.tls ? renderTlsDirectives(v.port, v.tls, true) : [`port ${v.port}`]),
    `dir ${REDIS_PATHS.data}`,
    // Auth (when on) comes from the generated file; without it the pod network is the boundary.
    'protected-mode no',
    'cluster-enabled yes',
    `cluster-config-file ${NODES_CONF}`,
    `cluster-port ${v.busPort}`,
    `cluster-node-timeout ${v.nodeTimeoutMillis}`,
    // The Service's ports; its ClusterIP and name are written at start.
    v.tls ? `cluster-announce-tls-port ${v.port}` : `cluster-announce-port ${v.port}`,
    `cluster-announce-bus-port ${v.busPort}`,
    `cluster-preferred-endpoint-type ${v.preferredEndpointType}`,
    // A shard without a live owner stops only its own slots; the other shards keep serving.
    'cluster-require-full-coverage no',
    // A replica restarted while its master was down has been "disconnected since ever": with any
    // other factor it could never be promoted, and its shard would stay down.
    'cluster-replica-validity-factor 0',
    // Replicas stay in the shard the chart gave them.
    'cluster-allow-replica-migration no',
    'appendonly yes',
    'appendfsync everysec',
    'replica-read-only yes',
    // Bounds what a master cut off from its replicas acknowledges and later loses on failover.
    `min-replicas-to-write ${v.minReplicasToWrite}`,
    `min-replicas-max-lag ${v.minReplicasMaxLagSeconds}`,
    '',
  ].join('\n');
}
