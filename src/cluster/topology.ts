import { POD_NAMESPACE_ENV } from '../cluster-dns';
import { SlotRange, formatSlotRange, shardSlotRanges } from './slots';

/**
 * Where every node finds the chart's shards: a ConfigMap of the whole cluster, mounted in every
 * pod and left out of the pods' config digest, so that adding or draining shards changes no running
 * pod's template (no restart) and reaches the running nodes as kubelet refreshes the mount.
 */
export const TOPOLOGY_DIR = '/opt/redis-ha-topology';
/** The file in {@link TOPOLOGY_DIR}: one line per shard. */
export const TOPOLOGY_FILE = `${TOPOLOGY_DIR}/shards`;

/** What the chart wants of a shard. */
export enum ShardState {
  /** The shard holds its even share of the slots. */
  ACTIVE = 'active',
  /** The shard hands every slot to the active shards; its nodes keep running until it is removed. */
  DRAIN = 'drain',
}

/** One shard of the chart, as the topology file lists it. */
export interface TopologyShard {
  /** The shard's index, 0-based. */
  readonly index: number;
  readonly state: ShardState;
  /** The announced name of each of the shard's nodes, member 0 first. */
  readonly hosts: string[];
}

/**
 * The topology file: a comment, then `INDEX STATE FORMATION HOSTS...` per shard. FORMATION is the
 * range an active shard's member 0 claims when the cluster forms (no node owns any slot anywhere),
 * the split of the active shards; `-` for a draining shard. After formation, slots belong to
 * whichever shard the cluster gives them (the rebalancer moves them), never to this range.
 */
export function renderTopology(shards: TopologyShard[]): string {
  const active = shards.filter((s) => s.state === ShardState.ACTIVE);
  const ranges = active.length > 0 ? shardSlotRanges(active.length) : [];
  const formation = new Map<number, SlotRange>(active.map((s, i) => [s.index, ranges[i]]));
  const lines = shards.map((s) => {
    const r = formation.get(s.index);
    return [s.index, s.state, r ? formatSlotRange(r) : '-', ...s.hosts].join(' ');
  });
  return ['# shard state formation-slots hosts (member 0 first)', ...lines, ''].join('\n');
}

/**
 * Shell functions reading the topology file (`$TOPOLOGY`, default {@link TOPOLOGY_FILE}) with
 * `$ANNOUNCE_HOST`: `topology` (the file, with `$(POD_NAMESPACE)` in a name written as the pod's
 * namespace, as kubelet expands it in `ANNOUNCE_HOST`), `peer_hosts` (every other node's name),
 * `my_shard` (this node's line).
 */
export const TOPOLOGY_FNS = `TOPOLOGY=\${TOPOLOGY:-${TOPOLOGY_FILE}}
# The topology, names in this pod's namespace when the chart has none.
topology() { awk -v ns="\${${POD_NAMESPACE_ENV}:-}" '{ gsub(/[$][(]${POD_NAMESPACE_ENV}[)]/, ns); print }' "$TOPOLOGY"; }
# Every node's announced name but this one's, space-separated.
peer_hosts() { topology | awk -v me="$ANNOUNCE_HOST" '$1 !~ /^#/ { for (i = 4; i <= NF; i++) if ($i != me) printf "%s ", $i }'; }
# This node's line of the topology file: "INDEX STATE FORMATION HOSTS...".
my_shard() { topology | awk -v me="$ANNOUNCE_HOST" '$1 !~ /^#/ { for (i = 4; i <= NF; i++) if ($i == me) print }'; }`;
