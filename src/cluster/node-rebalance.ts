import { CLI_AUTH, LOCAL_HOST_FN, REDIS_CLI, SCRIPT_HEADER, logFn } from '../shell';
import { CLUSTER_SLOTS } from './slots';
import { TOPOLOGY_FNS } from './topology';

/** How long the rebalancer sleeps between two looks at the cluster. */
const INTERVAL_SECONDS = 2;
/** How long one move may take before the rebalancer gives it up (cancels it, or leaves it to `--cluster fix`). */
const MOVE_SECONDS = 900;

/**
 * The rebalancer's next step, from the topology file's lines prefixed `T` and the driving node's
 * CLUSTER NODES prefixed `N`. Each active shard's share is the size of its range in an even,
 * contiguous split of the slots among the active shards (`shardSlotRanges`), a draining shard's is
 * none. Prints one line:
 * - `open SLOTS...`: slots left importing/migrating by a classic move cut short;
 * - `wait REASON`: a master owning slots is failing, or is not one of the chart's shards, or an
 *   active shard has no live master yet;
 * - `move SRC DST LO HI SRC_ADDR DST_ADDR FROM_SHARD TO_SHARD`: the top of the most
 *   over-share shard's highest range, as much as the most under-share shard lacks;
 * - `forget ID...`: failed nodes owning nothing that no shard of the chart names any more (removed
 *   shards), or whose name a live node has now (an incarnation lost with its volume);
 * - `balanced`.
 */
export const PLAN_AWK = `
function size(s, r) { if (split(s, r, "-") == 1) return 1; return r[2] - r[1] + 1 }
$1 == "T" && $2 !~ /^#/ { st[$2] = $3; for (i = 5; i <= NF; i++) shard_of[$i] = $2; idx[++nt] = $2; next }
$1 == "N" {
  split($3, a, ","); host = a[2]; f = "," $4 ","
  bad = f ~ /,(fail|fail[?]|noaddr|handshake),/
  slots = 0; last = ""
  for (i = 10; i <= NF; i++) { if (substr($i, 1, 1) == "[") { open = open " " $i; continue } slots += size($i); last = $i }
  if (bad && slots == 0) failed[$2] = host
  if (!bad) live[host] = 1
  if (f !~ /,master,/) next
  if (slots > 0 && bad) failing = failing " " host
  if (slots > 0 && !(host in shard_of)) stray = stray " " host
  if ((host in shard_of) && !bad && (slots > 0 || !(shard_of[host] in master))) {
    s = shard_of[host]
    if ((s in master) && held[s] > 0) dup = dup " " s
    master[s] = $2; held[s] = slots; top[s] = last; sub(/@.*/, "", a[1]); addr[s] = a[1]
  }
}
END {
  if (open != "") { print "open" open; exit }
  if (failing != "") { print "wait masters owning slots are failing:" failing; exit }
  if (stray != "") { print "wait masters that no shard of the chart names own slots:" stray; exit }
  if (dup != "") { print "wait more than one master owns slots in shards:" dup; exit }
  k = 0; for (j = 1; j <= nt; j++) if (st[idx[j]] == "active") k++
  if (k == 0) { print "wait no active shard in the topology"; exit }
  r = 0; give = 0; take = 0
  for (j = 1; j <= nt; j++) {
    s = idx[j]
    if (st[s] == "active") { q = int((r + 1) * ${CLUSTER_SLOTS} / k + 0.5) - int(r * ${CLUSTER_SLOTS} / k + 0.5); r++ } else q = 0
    if (!(s in master)) { if (q > 0) { print "wait shard", s, "has no live master yet"; exit } continue }
    d = held[s] - q
    if (d > give) { give = d; from = s }
    if (-d > take) { take = -d; to = s }
  }
  if (give > 0 && take > 0) {
    n = give < take ? give : take
    if (split(top[from], t, "-") == 1) t[2] = t[1]
    lo = t[2] - n + 1; if (lo < t[1]) lo = t[1]
    print "move", master[from], master[to], lo, t[2], addr[from], addr[to], from, to; exit
  }
  for (id in failed) if (!(failed[id] in shard_of) || (failed[id] in live)) gone = gone " " id
  if (gone != "") { print "forget" gone; exit }
  print "balanced"
}`;

/**
 * Where a replica that follows a master outside its own shard should go, from its CLUSTER NODES
 * (`hosts`: the members of its shard, from the topology file). Redis 7 and 8 make a master that lost
 * its last slot, or that comes back to find its slots taken, a replica of the node that took the last
 * one, even with `cluster-allow-replica-migration no`: a source master killed in a classic move can
 * come back as a replica of another shard, and its own shard is left without a replica. Prints the
 * id of the live master of this node's shard that owns slots, when this node replicates a master of
 * no member of its shard; nothing otherwise (a drained shard's nodes have no such master: they stay).
 */
export const HOME_SHARD_AWK = `
BEGIN { n = split(hosts, h, " "); for (i = 1; i <= n; i++) mine[h[i]] = 1 }
{
  split($2, a, ","); host[$1] = a[2]
  if ($3 ~ /myself/ && $3 ~ /slave/) master = $4
  if ($3 ~ /master/ && $3 !~ /(fail|noaddr|handshake)/ && (a[2] in mine)) for (i = 9; i <= NF; i++) if (substr($i, 1, 1) != "[") home = $1
}
END { if (master != "" && !(host[master] in mine) && home != "") print home }`;

/**
 * The rebalancer every node runs once it has joined. Only the master of shard 0 (never drained),
 * while the cluster is ok in its view, acts: it compares the masters with the topology file and moves slots
 * until every active shard holds its share and every draining shard none, one range at a time (see
 * {@link PLAN_AWK}). On engines with atomic slot migration (Valkey 9+: `CLUSTER MIGRATESLOTS`) the
 * source streams the slots to the target and hands them over in one step, and rolls a failed move
 * back itself; on the others it runs the engine's own `--cluster reshard` (classic `SETSLOT
 * IMPORTING/MIGRATING` and `MIGRATE`, clients follow `ASK`), and finishes or undoes a move cut short
 * with `--cluster fix` before any other. It then has every node forget the nodes of removed shards.
 * It never moves a slot while a master owning slots is failing, nor to or from a master with fewer
 * replicas in sync than `MIN_REPLICAS_TO_WRITE`, and never touches a master that no shard of the
 * chart names. On every node, it sends a replica that follows a master of another shard back to its
 * own shard's master (see {@link HOME_SHARD_AWK}).
 */
export function renderClusterNodeRebalance(): string {
  return `${SCRIPT_HEADER}# Moves slots until the shards of the topology file hold even shares (only on the master of shard 0).
${logFn('cluster-rebalance')}
${LOCAL_HOST_FN}
${CLI_AUTH}
${TOPOLOGY_FNS}
self_host=$(local_host)
cli() { timeout 5 ${REDIS_CLI} -h "$self_host" -p "$REDIS_PORT" "$@" 2>/dev/null; }
# at HOST:PORT ARGS...
at() { at_addr=$1; shift; timeout 5 ${REDIS_CLI} -h "\${at_addr%:*}" -p "\${at_addr##*:}" "$@" 2>/dev/null; }
interval=\${REBALANCE_INTERVAL_SECONDS:-${INTERVAL_SECONDS}}
move_s=\${REBALANCE_MOVE_SECONDS:-${MOVE_SECONDS}}
last=""
said_at=0
# say MESSAGE [DETAIL]: logs a decision once; a wait still in force a minute later is logged again,
# with its DETAIL then (what was seen), so that a stalled rebalancer shows it is alive and why.
# (The clock is read only when a wait repeats: the steady "balanced" line costs no process.)
say() {
  if [ "$1" = "$last" ]; then
    case "$1" in waiting*) [ $(( $(date +%s) - said_at )) -ge 60 ] || return 0 ;; *) return 0 ;; esac
  fi
  log "$1\${2:+ ($2)}"; last=$1; said_at=$(date +%s)
}

# The states of the slot migrations a node knows of, one "STATE SLOTS MESSAGE" a line.
migrations() {
  at "$1" cluster getslotmigrations | awk 'p == "slot_ranges" { r = $0 } p == "state" { s = $0 } p == "message" { print s, r, $0 } { p = $0 }'
}
in_progress() { migrations "$1" | awk '$1 != "success" && $1 != "failed" && $1 != "cancelled" { f = 1 } END { exit !f }'; }

# Succeeds when the master at HOST:PORT has at least MIN_REPLICAS_TO_WRITE replicas in sync (the
# server's own count of replicas acknowledging within min-replicas-max-lag when it keeps one); prints
# what it saw.
in_sync() {
  at "$1" info replication | tr -d '\\r' | awk -F: -v need="\${MIN_REPLICAS_TO_WRITE:-0}" '
    $1 == "role" { role = $2 }
    $1 == "min_slaves_good_slaves" { good = $2; told = 1 }
    /^slave[0-9]+:/ { n++; if ($0 ~ /state=online/) online++; split($2, f, ","); seen = seen " " f[3] "," f[5] }
    END {
      printf "%s", role == "" ? "no answer" : "role " role ", " n + 0 " replicas:" seen (told ? ", good " good : "")
      exit !(role != "" && (told ? good : online) + 0 >= need + 0)
    }'
}

# move SRC DST LO HI SRC_ADDR DST_ADDR FROM TO: fails when it did not start (it waits instead).
move() {
  # Keys moved to or from a master whose replicas are not in sync would have one copy, and a classic
  # MIGRATE there is refused (NOREPLICAS) and leaves the slot open.
  for addr in "$5" "$6"; do
    if ! seen=$(in_sync "$addr"); then say "waiting: the master at $addr has fewer than \${MIN_REPLICAS_TO_WRITE:-0} replicas in sync" "$seen"; return 1; fi
  done
  log "moving slots $3-$4 ($(( $4 - $3 + 1 ))) from shard $7 ($1 at $5) to shard $8 ($2 at $6)"
  started=$(date +%s)
  if cli cluster help | grep -qi migrateslots; then
    if in_progress "$5"; then say "waiting: a slot migration from $5 is under way"; return 1; fi
    reply=$(at "$5" cluster migrateslots slotsrange "$3" "$4" node "$2") || reply="no answer"
    if [ "$reply" != OK ]; then log "CLUSTER MIGRATESLOTS on $5: $reply"; return 0; fi
    while in_progress "$5"; do
      if [ $(( $(date +%s) - started )) -ge "$move_s" ]; then
        log "the move is not done after \${move_s}s; cancelling it: $(at "$5" cluster cancelslotmigrations all)"
        return 0
      fi
      sleep 0.2
    done
    log "move of slots $3-$4 ended after $(( $(date +%s) - started ))s: $(migrations "$5" | awk -v r="$3-$4" '$2 == r' | tail -n 1)"
  else
    # redis-cli names its seed node by the address it was given, and tells a source to MIGRATE to the
    # target by that name: seeded with 127.0.0.1 while this node is the target, the source would
    # migrate to itself and block until the timeout. So seed with the source, unless this node is it.
    seed=$5
    if [ "$1" = "$my_id" ]; then seed="$self_host:$REDIS_PORT"; fi
    out=$(timeout "$move_s" ${REDIS_CLI} --cluster reshard "$seed" --cluster-from "$1" --cluster-to "$2" \\
      --cluster-slots $(( $4 - $3 + 1 )) --cluster-yes --cluster-replace --cluster-timeout 10000 --cluster-pipeline 100 2>&1) || true
    log "--cluster reshard ended after $(( $(date +%s) - started ))s: $(printf '%s\\n' "$out" | grep -E '^(\\[ERR|\\[WARNING|\\*\\*\\*)' | head -n 4 | tr '\\n' ' ')$(printf '%s\\n' "$out" | tail -n 1)"
  fi
}

# Ends with the server (the entrypoint's process, which exec'd it), as the container would end it.
while kill -0 "$PPID" 2>/dev/null; do
  sleep "$interval"
  nodes=$(cli cluster nodes) || continue
  my_id=$(printf '%s\\n' "$nodes" | awk '$3 ~ /myself/ { print $1 }')
  home=$(printf '%s\\n' "$nodes" | awk -v hosts="$(my_shard | cut -d' ' -f4-)" '${HOME_SHARD_AWK}')
  if [ -n "$home" ]; then
    log "replicating a master outside this node's shard; back to its shard's master $home: $(cli cluster replicate "$home")"
    continue
  fi
  # The driver is the master of shard 0, which is never drained: which node it is does not change
  # when slots move (a classic move takes the source's lowest slots, slot 0 among them), so no two
  # nodes ever drive at once, short of a failover of shard 0.
  if [ "$(my_shard | cut -d' ' -f1)" != 0 ] || ! printf '%s\\n' "$nodes" | awk '$3 ~ /myself/ && $3 ~ /master/ { f = 1 } END { exit !f }'; then
    last=""; continue
  fi
  case "$(cli cluster info)" in *cluster_state:ok*) ;; *) say "waiting: cluster_state is not ok here"; continue ;; esac
  # A classic move's open slots show only in the CLUSTER NODES of the nodes that hold them: ask every master.
  open=""
  other=""
  for addr in $(printf '%s\\n' "$nodes" | awk '$3 ~ /master/ && $3 !~ /(fail|noaddr|handshake)/ && $3 !~ /myself/ { split($2, a, "@"); print a[1] }'); do
    open="$open$(at "$addr" cluster nodes | awk '$3 ~ /myself/ { for (i = 9; i <= NF; i++) if (substr($i, 1, 1) == "[") printf " %s", $i }')"
    other=\${other:-$addr}
  done
  if [ -n "$open" ]; then nodes="$nodes
open-elsewhere - - - - - - - $open"; fi
  [ -r "$TOPOLOGY" ] || { say "waiting: no topology file at $TOPOLOGY"; continue; }
  set -- $( { topology | sed 's/^/T /'; printf '%s\\n' "$nodes" | sed 's/^/N /'; } | awk '${PLAN_AWK}')
  case "\${1:-}" in
    balanced) say "balanced: every shard of the topology holds its share of the slots" ;;
    move) shift; if move "$@"; then last=""; fi ;;
    open)
      shift
      log "slots left open by a move cut short ($*): finishing or undoing it with --cluster fix"
      # Seeded with another master, for the reason given in move().
      out=$(timeout "$move_s" ${REDIS_CLI} --cluster fix "\${other:-$self_host:$REDIS_PORT}" --cluster-yes 2>&1) || true
      log "fix: $(printf '%s\\n' "$out" | grep -E '^(\\[ERR|\\*\\*\\*|>>> Fixing)' | head -n 5 | tr '\\n' ' ')"; last="" ;;
    forget)
      shift
      say "forgetting on every node the nodes that no shard names any more, or that a node back on an empty volume replaced: $*"
      for addr in $(printf '%s\\n' "$nodes" | awk '$3 !~ /(fail|noaddr|handshake)/ { split($2, a, "@"); print a[1] }'); do
        for id in "$@"; do at "$addr" cluster forget "$id" >/dev/null || true; done
      done ;;
    wait) shift; say "waiting: $*" ;;
    *) say "waiting: no plan" ;;
  esac
done
`;
}
