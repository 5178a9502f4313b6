import { renderQueueFns } from '../rollout-script';
import { CLI_AUTH, LOCAL_HOST_FN, REDIS_CLI, SCRIPT_HEADER, logFn } from '../shell';
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

const CLUSTER_FNS = `# Every other node of the topology answers and serves: a master, or a replica in sync.
peers_in_sync() {
  for h in $(peer_hosts); do redis_in_sync "$h" || return 1; done
}
# This master's live replicas, one "IP PORT" a line.
my_replicas() {
  cli cluster nodes | awk '{ id[NR] = $1; f[NR] = $3; m[NR] = $4; a[NR] = $2 } $3 ~ /myself/ { me = $1 }
    END { for (i in id) if (m[i] == me && f[i] ~ /slave/ && f[i] !~ /fail/) { split(a[i], p, "[:@,]"); print p[1], p[2] } }'
}
# keep_writing HOST PORT: the shard's master at HOST keeps acknowledging while this node is away: its
# min-replicas-to-write, if above the replicas that stay, comes down to them. This node's entrypoint
# puts the chart's value back once it is in sync again.
keep_writing() {
  want=$(timeout 3 ${REDIS_CLI} -h "$1" -p "$2" --raw config get min-replicas-to-write 2>/dev/null | sed -n 2p)
  have=$(timeout 3 ${REDIS_CLI} -h "$1" -p "$2" info replication 2>/dev/null | tr -d '\\r' | sed -n 's/^connected_slaves://p')
  [ -n "$want" ] && [ -n "$have" ] || return 0
  stay=$(( have > 0 ? have - 1 : 0 ))
  if [ "$want" -gt "$stay" ]; then
    log "the master $1 keeps acknowledging while this node is away: min-replicas-to-write $want -> $stay: $(timeout 3 ${REDIS_CLI} -h "$1" -p "$2" config set min-replicas-to-write "$stay" 2>&1)"
  fi
}`;

/**
 * The preStop hook of a cluster node. Nodes stop one at a time across the whole cluster: each waits
 * its turn in a queue on the master owning slot 0 (see `renderQueueFns`) until every other node serves
 * (a master, or a replica in sync), so an apply that replaces every node at once stops replicas first
 * and masters last. A replica then shuts down. Masters queue among themselves: a master in its turn
 * (no replica queued, every other node serving) asks its replica for a coordinated `CLUSTER FAILOVER`
 * (the master pauses writes until the replica has every one, then the replica takes the slots), waits
 * to see itself a replica, answers MOVED for a moment so that its clients follow the slots, and shuts
 * down. Before either shuts down, the shard's master is told to keep acknowledging while this node is
 * away (min-replicas-to-write down to the replicas that stay; the node's entrypoint restores it).
 * Every wait is bounded by `PRESTOP_WAIT_SECONDS`; past it the node stops anyway, as without the hook.
 * A node of a shard that owns no slot (drained, being removed) stops at once.
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
info=$(cli info replication 2>/dev/null) || { log "the server does not answer; nothing to hand over"; exit 0; }
# A node of a shard owning no slot (drained, or added and not given any yet) serves nothing: no turn, no hand-over.
if cli cluster nodes 2>/dev/null | awk '$3 ~ /myself/ { m = ($3 ~ /slave/) ? $4 : $1 } { n[$1] = NF } END { exit !(m in n) || n[m] > 8 }'; then
  log "this node's shard owns no slot: stopping without waiting its turn"
  cli shutdown >/dev/null 2>&1 || true
  exit 0
fi
case "$info" in
  *role:slave*)
    if rollout_wait redis peers_in_sync "$turn_deadline"; then
      log "replica stopping in its turn: every other node serves"
    else
      log "no turn within $(( turn_deadline - start ))s (another node down or out of sync); stopping anyway"
    fi
    # Read again: the master may have changed while this node waited (and redis_in_sync reuses its info variable).
    mine=$(cli info replication 2>/dev/null) || mine=""
    keep_writing "$(field master_host "$mine")" "$(field master_port "$mine")"
    # Down now, not after preStop returns: the next node in the queue must see this one gone.
    cli shutdown >/dev/null 2>&1 || true
    exit 0 ;;
esac
[ "\${ROLLOUT_ORDERED:-true}" = false ] || sleep ${GATHER_SECONDS}
if rollout_wait master masters_turn "$turn_deadline"; then
  log "master handing over in its turn: no replica waiting, every other node serves"
else
  log "nodes still waiting or out of sync after $(( turn_deadline - start ))s; handing over anyway"
fi
set -- $(my_replicas | head -n 1)
if [ "$#" -ne 2 ]; then
  log "no live replica to hand the slots to; stopping as master"
  cli shutdown >/dev/null 2>&1 || true
  exit 0
fi
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
      keep_writing "$1" "$2"
      log "the replica $1 owns the slots now; redirecting clients to it for ${REDIRECT_SECONDS}s, then stopping"
      sleep ${REDIRECT_SECONDS}
      cli shutdown >/dev/null 2>&1 || true
      exit 0 ;;
  esac
  sleep 0.2
done
log "the replica did not take over within \${handover_s}s; stopping as master"
cli shutdown >/dev/null 2>&1 || true
`;
}
