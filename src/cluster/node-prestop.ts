import { renderQueueFns } from '../rollout-script';
import { CLI_AUTH, LOCAL_HOST_FN, ONLINE_REPLICAS_FN, REDIS_CLI, SCRIPT_HEADER, logFn } from '../shell';
import { TOPOLOGY_FNS } from './topology';

/**
 * Of the pod's stop budget, what a master keeps for handing its slots over. A coordinated failover
 * that has not ended in 5 s is given up by the engine itself (CLUSTER_MF_TIMEOUT).
 */
const HANDOVER_SECONDS = 10;
/**
 * How long a master that handed its slots over stays up as a replica before it stops: clients still
 * sending to it get MOVED to the new master, instead of a dead address and a command timeout.
 */
const REDIRECT_SECONDS = 2;
/** Pods stopped together by one apply reach their hooks within a moment of each other: a master lets them queue first. */
const GATHER_SECONDS = 2;

/**
 * Where a cluster keeps its stop queue: the master owning slot 0, as this node sees it ("HOST PORT").
 * Every node agrees on it while no failover is under way; a hand-over moves the queue to the new
 * owner, where the waiting nodes take a place again (rollout_wait).
 */
const CLUSTER_QUEUE_HOST_FN = `# The master owning slot 0, as "HOST PORT": it holds the stop queue of the whole cluster.
rollout_master() {
  set -- $(cli cluster nodes 2>/dev/null | awk '$3 ~ /master/ && $3 !~ /fail/ { for (i = 9; i <= NF; i++) if ($i ~ /^0(-|$)/) { split($2, a, "[:@,]"); print a[1], a[2]; exit } }')
  if [ "$#" -eq 2 ]; then echo "$1 $2"; return 0; fi
  return 1
}`;

const CLUSTER_FNS = `# Every other node of the topology answers and serves: a master, or a replica in sync; twice, a second
# apart, so that a node just restarted is not taken for in sync on one passing answer (an upgrade once
# had two nodes away together). An empty list (the topology file unreadable) proves nothing: it fails.
peers_in_sync() {
  hosts=$(peer_hosts) || return 1
  [ -n "$hosts" ] || return 1
  for h in $hosts; do redis_in_sync "$h" || return 1; done
  sleep 1
  for h in $hosts; do redis_in_sync "$h" || return 1; done
}
# The chart is being deleted: this node's own Service is gone (its name no longer resolves), so no
# node that stops will come back, and no turn that waits for one can come. One failed lookup is not
# enough (a DNS server slow under load): the name must fail 4 times over 3 s.
chart_deleted() {
  for try in 1 2 3 4; do
    if getent hosts "$ANNOUNCE_HOST" >/dev/null 2>&1; then return 1; fi
    [ "$try" -eq 4 ] || sleep 1
  done
  return 0
}
# This master's live replicas, one "IP PORT" a line.
my_replicas() {
  cli cluster nodes | awk '{ id[NR] = $1; f[NR] = $3; m[NR] = $4; a[NR] = $2 } $3 ~ /myself/ { me = $1 }
    END { for (i in id) if (m[i] == me && f[i] ~ /slave/ && f[i] !~ /fail/) { split(a[i], p, "[:@,]"); print p[1], p[2] } }'
}
# keep_writing HOST PORT HAD: called once this node is down; the shard's master at HOST, which had HAD
# replicas online with this one, keeps acknowledging while this node is away: its min-replicas-to-write,
# if above the replicas that stay, comes down to them. Its guarantee loop (node-guarantee.ts) puts the
# chart's value back once this node is in sync again. Not for a chart being deleted: this node is not
# coming back, and the master's copy would stay its shard's only one.
keep_writing() {
  if chart_deleted; then log "the chart is being deleted: the master $1 keeps its min-replicas-to-write"; return 0; fi
  want=$(timeout 3 ${REDIS_CLI} -h "$1" -p "$2" --raw config get min-replicas-to-write 2>/dev/null | sed -n 2p)
  [ -n "$want" ] && [ -n "$3" ] || return 0
  stay=$(( $3 > 0 ? $3 - 1 : 0 ))
  if [ "$want" -gt "$stay" ]; then
    log "the master $1 keeps acknowledging while this node is away: min-replicas-to-write $want -> $stay: $(timeout 3 ${REDIS_CLI} -h "$1" -p "$2" config set min-replicas-to-write "$stay" 2>&1)"
  fi
}
${ONLINE_REPLICAS_FN}`;

/**
 * The preStop hook of a cluster node. Nodes stop one at a time across the whole cluster: each waits
 * its turn in a queue on the master owning slot 0 (see `renderQueueFns`) until every other node serves
 * (a master, or a replica in sync), so an apply that replaces every node at once stops replicas first
 * and masters last. A replica then shuts down. Masters queue among themselves: a master in its turn
 * (no replica queued, every other node serving) asks its replica for a coordinated `CLUSTER FAILOVER`
 * (the master pauses writes until the replica has every one, then the replica takes the slots), waits
 * to see itself a replica, answers MOVED for a moment so that its clients follow the slots, and shuts
 * down. Once either is down, the shard's master is told to keep acknowledging while this node is
 * away (min-replicas-to-write down to the replicas that stay; the master's guarantee loop restores it).
 * Every wait is bounded by `PRESTOP_WAIT_SECONDS`; past it the node stops anyway, as without the hook.
 * A node of a shard that owns no slot (drained, being removed) stops at once. When the chart is being
 * deleted (the node's own Service name no longer resolves), no node that stops comes back: a node
 * stops at once, with no turn, no hand-over, and no lowering of its master's guarantee.
 */
export function renderClusterNodePreStop(): string {
  return `${SCRIPT_HEADER}# Stops this node in its turn; a master first hands its slots to its replica.
${logFn('cluster-prestop')}
${LOCAL_HOST_FN}
${CLI_AUTH}
${TOPOLOGY_FNS}
cli() { timeout 3 ${REDIS_CLI} -h "$(local_host)" -p "$REDIS_PORT" "$@"; }
${renderQueueFns(CLUSTER_QUEUE_HOST_FN, CLUSTER_FNS)}
# A master's turn: no replica waiting in the queue, every other node serving. Masters queue among
# themselves too (queue "master"), so that they hand over one at a time, each after the node before
# it is back and in sync.
masters_turn() {
  set -- $(rollout_master) || return 1
  [ "$#" -eq 2 ] && [ -z "$(rollout_queue "$1" "$2" redis)" ] && peers_in_sync
}
field() { printf '%s\\n' "$2" | tr -d '\\r' | sed -n "s/^$1://p"; }

wait_s=\${PRESTOP_WAIT_SECONDS:-20}
start=$(date +%s)
handover_s=$(( wait_s < ${HANDOVER_SECONDS * 2} ? wait_s / 2 : ${HANDOVER_SECONDS} ))
turn_deadline=$(( start + wait_s - handover_s ))
stop_now() { log "$1: stopping now"; cli shutdown >/dev/null 2>&1 || true; }
# The server may be slow to answer under load: asked again until the turn deadline, not taken for gone.
until info=$(cli info replication 2>/dev/null) && nodes=$(cli cluster nodes 2>/dev/null); do
  [ "$(date +%s)" -lt "$turn_deadline" ] || { log "the server does not answer after $(( turn_deadline - start ))s; nothing to hand over"; exit 0; }
  sleep 0.5
done
if chart_deleted; then stop_now "the chart is being deleted (this node's Service is gone): no turn to wait for, no hand-over"; exit 0; fi
# A node of a shard owning no slot (drained, or added and not given any yet) serves nothing: no turn, no hand-over.
if printf '%s\\n' "$nodes" | awk '$3 ~ /myself/ { m = ($3 ~ /slave/) ? $4 : $1 } { n[$1] = NF } END { exit !((m in n) && n[m] <= 8) }'; then
  stop_now "this node's shard owns no slot"; exit 0
fi
case "$info" in
  *role:slave*)
    rc=0; rollout_wait redis peers_in_sync "$turn_deadline" chart_deleted || rc=$?
    case "$rc" in
      0) log "replica stopping in its turn: every other node serves" ;;
      2) stop_now "the chart is being deleted (this node's Service is gone) while it waited its turn"; exit 0 ;;
      *) log "no turn within $(( turn_deadline - start ))s (another node down or out of sync); stopping anyway" ;;
    esac
    # Read again: the master may have changed while this node waited (and redis_in_sync reuses its info variable).
    mine=$(cli info replication 2>/dev/null) || mine=""
    host=$(field master_host "$mine"); port=$(field master_port "$mine")
    had=$(online_replicas "$host" "$port")
    # Down now, not after preStop returns: the next node in the queue must see this one gone.
    cli shutdown >/dev/null 2>&1 || true
    keep_writing "$host" "$port" "$had"
    exit 0 ;;
esac
[ "\${ROLLOUT_ORDERED:-true}" = false ] || sleep ${GATHER_SECONDS}
rc=0; rollout_wait master masters_turn "$turn_deadline" chart_deleted || rc=$?
case "$rc" in
  0) log "master handing over in its turn: no replica waiting, every other node serves" ;;
  2) stop_now "the chart is being deleted (this node's Service is gone) while it waited its turn: no hand-over"; exit 0 ;;
  *) log "nodes still waiting or out of sync after $(( turn_deadline - start ))s; handing over anyway" ;;
esac
set -- $(my_replicas | head -n 1)
if [ "$#" -ne 2 ]; then stop_now "no live replica to hand the slots to; as master"; exit 0; fi
if [ "\${ROLLOUT_ORDERED:-true}" != false ]; then
  # The queue lives on the owner of slot 0; if that is this node, the queue moves to the replica with
  # the slots, where this node would hold no place, and the next master would go while this one is
  # still away. A place in the masters' queue on the replica first (this node's place here stays too)
  # keeps the next master waiting until this node is gone, and then until it is back in sync.
  rollout_hold "$1" "$2" master
  sleep 0.3
fi
log "master is stopping: asking its replica $1 to take the slots over (CLUSTER FAILOVER): $(timeout 3 ${REDIS_CLI} -h "$1" -p "$2" cluster failover 2>&1)"
deadline=$(( $(date +%s) + handover_s ))
while [ "$(date +%s)" -lt "$deadline" ]; do
  case "$(cli info replication 2>/dev/null)" in
    *role:slave*)
      log "the replica $1 owns the slots now; redirecting clients to it for ${REDIRECT_SECONDS}s, then stopping"
      sleep ${REDIRECT_SECONDS}
      had=$(online_replicas "$1" "$2")
      cli shutdown >/dev/null 2>&1 || true
      keep_writing "$1" "$2" "$had"
      exit 0 ;;
  esac
  sleep 0.2
done
stop_now "the replica did not take over within \${handover_s}s; as master"
`;
}
