import { CLI_AUTH, LOCAL_HOST_FN, ONLINE_REPLICAS_FN, REDIS_CLI, SCRIPT_HEADER, logFn } from '../shell';
import { TOPOLOGY_FNS } from './topology';

/**
 * How often a node looks at its shard: a master lowers its guarantee at most this long after the
 * cluster marked a member failed. Each look starts a few short processes (client, awk, sleep): at
 * 0.5 s, the loops of two 6-node test clusters beside their rebalancers held a 2-core machine's load
 * average near 32.
 */
const INTERVAL_SECONDS = 1;

/**
 * What the cluster says of this node's shard, from its own CLUSTER NODES (fields: id,
 * `ip:port@bus,hostname`, flags, master, ping, pong, epoch, link, slots...). `members` names the
 * other nodes of this node's shard (the topology file's names). Prints one line, after this node's
 * role (`master` or `replica`):
 * - `minority REACHABLE VOTERS`: this node does not see a majority of the masters that own slots
 *   (its view counts them failing or failed): it may be the cut-off side of a partition;
 * - `members UP FAILED...`: UP is how many of the shard's other members the cluster does not hold
 *   failed, FAILED the names of those it does. "Failed" is the engine's `fail` flag, which a node sets
 *   only once a majority of the masters reported the node unreachable (or learns from a node that
 *   did), never the `fail?` of its own view alone. A member the node does not know yet counts as up,
 *   and so does one without an address (`noaddr`: the entrypoint leaves a peer whose name did not
 *   resolve at start so, and Valkey flags it failed on load, without any other node's word): lowering
 *   needs evidence.
 */
export const SHARD_STATE_AWK = `
BEGIN { n = split(members, m, " "); for (i = 1; i <= n; i++) member[m[i]] = 1 }
NF >= 8 {
  split($2, a, ","); host = a[2]; f = "," $3 ","
  if (f ~ /,myself,/) role = (f ~ /,(slave|replica),/) ? "replica" : "master"
  if (f ~ /,master,/ && NF > 8) { voters++; if (f ~ /,(fail|fail[?]),/ && f !~ /,myself,/) unreachable++ }
  if (f ~ /,myself,/ || !(host in member)) next
  known[host] = 1
  if (f !~ /,fail,/ || f ~ /,noaddr,/) alive[host] = 1
}
END {
  if (voters == 0 || (voters - unreachable) * 2 <= voters) { print role, "minority", voters - unreachable, voters + 0; exit }
  up = 0; failed = ""
  for (h in member) if ((h in known) && !(h in alive)) failed = failed " " h; else up++
  print role, "members", up failed
}`;

/**
 * The write guarantee of a cluster node (`guarantee.sh`), run beside the server for the pod's life.
 * `min-replicas-to-write` (the chart's `MIN_REPLICAS_TO_WRITE`) makes a master refuse writes that no
 * replica takes; with one replica a shard, one lost node would leave its shard refusing writes until
 * that node is back, minutes when its Kubernetes node is gone. So:
 * - **lowered** to the shard's members that stay, only when the cluster marked the others failed (a
 *   majority of masters agreed they are unreachable) and this node itself sees a majority of the
 *   masters (`cluster_state:ok` too): a master on the minority side of a partition can never lower it,
 *   and keeps refusing writes once its replica's link is older than `min-replicas-max-lag`;
 * - **0 on a replica**, which refuses writes whatever the value: a replica promoted in place of a failed
 *   master (only a majority of masters can elect it) acknowledges at once;
 * - **raised** back towards the chart's value as soon as this node, as a master, has that many
 *   replicas online again (a returning node in sync), whoever lowered it (this loop, or a planned
 *   stop's preStop hook).
 * While it is lowered the shard's master acknowledges writes that only it holds: `WAIT 1` answers 0
 * for them, and a crash of that master before its replica is back loses them.
 */
export function renderClusterNodeGuarantee(): string {
  return `${SCRIPT_HEADER}# Keeps this node's min-replicas-to-write at what its shard can give (see node-guarantee.ts).
${logFn('cluster-guarantee')}
${LOCAL_HOST_FN}
${CLI_AUTH}
${TOPOLOGY_FNS}
${ONLINE_REPLICAS_FN}
self_host=$(local_host)
cli() { timeout 3 ${REDIS_CLI} -h "$self_host" -p "$REDIS_PORT" "$@" 2>/dev/null; }
want=\${MIN_REPLICAS_TO_WRITE:-0}
[ "$want" -gt 0 ] || exit 0
# Each tick reads CLUSTER NODES; the rest (the topology file, the value in force) only when needed.
tick=0; have=""
# Ends with the server (the entrypoint's process, which exec'd it), as the container would end it.
while kill -0 "$PPID" 2>/dev/null; do
  sleep ${INTERVAL_SECONDS}
  tick=$(( tick + 1 ))
  nodes=$(cli cluster nodes) || continue
  if [ $(( tick % 10 )) -eq 1 ]; then members=$(my_shard | awk -v me="$ANNOUNCE_HOST" '{ for (i = 4; i <= NF; i++) if ($i != me) printf "%s ", $i }'); have=""; fi
  set -- $(printf '%s\\n' "$nodes" | awk -v members="$members" '${SHARD_STATE_AWK}')
  [ "$#" -ge 3 ] || continue
  role=$1; state=$2; up=$3; shift 3; failed="$*"
  if [ -z "$have" ] || { [ "$role" = master ] && { [ -n "$failed" ] || [ "$have" -lt "$want" ]; }; }; then
    have=$(cli config get min-replicas-to-write | sed -n 2p)
  fi
  case "$have" in ''|*[!0-9]*) have=""; continue ;; esac
  if [ "$role" = replica ]; then
    # A replica refuses writes whatever the value; 0 lets it acknowledge the moment it is promoted in
    # place of a failed master. As a master, the lines below raise it to the replicas it has.
    if [ "$have" -gt 0 ]; then log "a replica: min-replicas-to-write $have -> 0 until it is a master with replicas in sync: $(cli config set min-replicas-to-write 0)"; fi
    have=0; continue
  fi
  if [ "$state" = members ] && [ -n "$failed" ] && [ "$have" -gt "$up" ]; then
    case "$(cli cluster info)" in *cluster_state:ok*) ;; *) continue ;; esac
    log "the cluster marks this shard's members $failed failed, and this node reaches a majority of the masters: min-replicas-to-write $have -> $up, so that the shard keeps acknowledging on the copies it has: $(cli config set min-replicas-to-write "$up")"
    have=""
    continue
  fi
  [ "$have" -lt "$want" ] || continue
  online=$(online_replicas "$self_host" "$REDIS_PORT")
  if [ "$online" -gt "$have" ]; then
    to=$(( online < want ? online : want ))
    log "$online replicas in sync again: min-replicas-to-write $have -> $to: $(cli config set min-replicas-to-write "$to")"
    have=""
  fi
done
`;
}
