import { CLI_AUTH, LOCAL_HOST_FN, REDIS_CLI, SCRIPT_HEADER } from '../shell';

/** Probe modes of {@link renderClusterNodeProbe}. */
export enum ClusterProbeMode {
  /**
   * Ready when the node serves its part: `cluster_state:ok` in its own view, and either a master
   * owning slots or a replica whose link to its master is up.
   */
  READINESS = 'readiness',
  /** Alive when the server answers, even while loading its data set. */
  LIVENESS = 'liveness',
  /**
   * Not a kubelet probe: succeeds when this node's shard owns no slot and no move to or from it is
   * under way, so that its Deployments can be removed (see `drainedShards`).
   */
  DRAINED = 'drained',
}

/**
 * The exec probe of a cluster node: `sh probe.sh readiness|liveness`. Readiness gates rollouts and
 * disruption budgets, not traffic: the node's Service publishes it whatever its readiness, since the
 * cluster bus traffic that makes it ready must reach it first.
 */
export function renderClusterNodeProbe(): string {
  return `${SCRIPT_HEADER}${LOCAL_HOST_FN}
${CLI_AUTH}
cli() { timeout 5 ${REDIS_CLI} -h "$(local_host)" -p "$REDIS_PORT" "$@"; }
case "\${1:-}" in
  ${ClusterProbeMode.READINESS})
    case "$(cli cluster info)" in *cluster_state:ok*) ;; *) echo "not ready: cluster_state is not ok here" >&2; exit 1 ;; esac
    replication=$(cli info replication)
    case "$replication" in
      *role:slave*)
        case "$replication" in *master_link_status:up*) exit 0 ;; esac
        echo "not ready: a replica whose link to its master is down" >&2; exit 1 ;;
    esac
    # A master serves only with slots: its own line of CLUSTER NODES lists them after the 8th field.
    if cli cluster nodes | awk '$3 ~ /myself/ { found = NF > 8 } END { exit !found }'; then exit 0; fi
    echo "not ready: a master that owns no slots (not part of its shard yet)" >&2
    exit 1 ;;
  ${ClusterProbeMode.LIVENESS})
    case "$(cli ping)" in PONG|LOADING*) exit 0 ;; esac
    exit 1 ;;
  ${ClusterProbeMode.DRAINED})
    # The shard's master: this node, or the master it replicates.
    nodes=$(cli cluster nodes)
    if printf '%s\n' "$nodes" | awk '$3 ~ /myself/ { m = ($3 ~ /slave/) ? $4 : $1 } { line[$1] = $0; n[$1] = NF }
        END { split(line[m], f, " "); for (i = 9; i <= n[m]; i++) { print "owns " f[i]; bad = 1 } exit bad }'; then
      echo "drained: this shard owns no slots"; exit 0
    fi
    echo "not drained: this shard still owns slots" >&2; exit 1 ;;
  *) echo "usage: probe.sh readiness|liveness|drained" >&2; exit 2 ;;
esac
`;
}
