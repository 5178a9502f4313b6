import { REDIS_PATHS } from '../server-config';
import { CLI_AUTH, CONF_QUOTE_FN, LOCAL_HOST_FN, REDIS_CLI, SCRIPT_HEADER, SERVER_BIN, logFn } from '../shell';
import { NODES_CONF } from './cluster-config';
import { TOPOLOGY_FNS } from './topology';

/** How long a node's own Service name may take to resolve at start (a new Service's DNS record). */
const RESOLVE_SECONDS = 30;
/** How long a node waits between two requests that its lost incarnation's replica take over. */
const TAKEOVER_RETRY_SECONDS = 10;
/** CLUSTER FORGET keeps an id out for 60 s: within that, every node must have forgotten it. */
const FORGET_SECONDS = 60;
/** How long, at start, a node waits for its peers' Service names to resolve (all of them, not each). */
const PEER_RESOLVE_SECONDS = 10;

/**
 * Rewrites nodes.conf before the server starts, so that it never dials an address only because a
 * node had it before (after a re-apply, another node's Service may have it now). Lines are CLUSTER
 * NODES lines: id, `ip:port@bus,hostname[,aux=value...]`, flags, ... This node's own line gets
 * `self`; a peer whose hostname `addrs` lists (`NAME=IP ...`, its Service's address now) gets that
 * address and loses `noaddr`; any other peer (a name no longer in the topology, or not resolving)
 * gets an empty address and `noaddr`: the engine never dials nor gossips such a node (the state it
 * puts a node in itself when a PONG comes with another id) until the node's own PING or a MEET gives
 * it one. A node the engine cleared itself (port 0) is left as it is. Writes `out`; prints
 * `REWRITTEN CURRENT UNADDRESSED NAMES...`. The loaders (redis 7.0 and valkey 9.1 clusterLoadConfig)
 * copy the address text as it is; valkey also marks a `noaddr` node failing.
 */
const READDRESS_AWK = `
BEGIN {
  n = split(addrs, kv, " ")
  for (i = 1; i <= n; i++) { j = index(kv[i], "="); at[substr(kv[i], 1, j - 1)] = substr(kv[i], j + 1) }
}
NF < 8 || $1 == "vars" { print > out; next }
{
  c = index($2, ","); hostport = c ? substr($2, 1, c - 1) : $2; rest = c ? substr($2, c) : ""
  split(rest, h, ","); host = h[2]
  k = match(hostport, /:[0-9]+(@[0-9]+)?$/)
  if (k == 0) { print > out; next }
  ports = substr(hostport, k); flags = "," $3 ","
  if (ports ~ /^:0(@|$)/ && flags !~ /,myself,/) { print > out; next }
  if (flags ~ /,myself,/) addr = self
  else if (host in at) {
    addr = at[host]; sub(/,noaddr,/, ",", flags)
    if (addr == substr(hostport, 1, k - 1)) current++; else rewritten++
  } else {
    addr = ""; if (flags !~ /,noaddr,/) flags = flags "noaddr,"
    unaddressed++; names = names " " (host == "" ? $1 : host)
  }
  flags = substr(flags, 2, length(flags) - 2); if (flags == "") flags = "noflags"
  $2 = addr ports rest; $3 = flags
  print > out
}
END { print rewritten + 0, current + 0, unaddressed + 0 names }`;

/**
 * Decides a node's next step from CLUSTER NODES lines, its own prefixed `L`, each answering peer's
 * `P` (fields: source, id, `ip:port@bus,hostname`, flags, master, ping, pong, epoch, link, slots...).
 * `hosts` names the members of this node's shard (from the topology file), `lead` its member 0,
 * `lo`-`hi` its formation range (empty for a draining shard). Prints `joined ...`, `replicate ID`,
 * `takeover HOST PORT GHOST`, `claim`, `empty` or `wait REASON`.
 *
 * A shard is its members' names, not a slot range: the rebalancer moves slots between shards, so a
 * node replicates whichever member of its shard owns slots. A ghost is an id announced under this
 * node's Service name other than its own: an incarnation whose volume was lost. Its Deployment runs
 * one pod (Recreate), so the ghost is gone for sure.
 */
const DECIDE_AWK = `
function owns(   i) { for (i = 10; i <= NF; i++) if (substr($i, 1, 1) != "[") return 1; return 0 }
function overlaps(   i, r) {
  if (lo == "") return 0
  for (i = 10; i <= NF; i++) {
    if (substr($i, 1, 1) == "[") continue
    if (split($i, r, "-") == 1) r[2] = r[1]
    if (r[1] + 0 <= hi + 0 && r[2] + 0 >= lo + 0) return 1
  }
  return 0
}
BEGIN { n = split(hosts, h, " "); for (i = 1; i <= n; i++) inshard[h[i]] = 1 }
{
  split($3, a, ","); host = a[2]; flags = "," $4 ","
  if ($1 == "L" && flags ~ /,myself,/) { myid = $2; replica = flags ~ /,slave,/; mymaster = $5; myslots = owns(); next }
  if (host == me) ghost[$2] = 1
  if (owns()) { owner[$2] = 1; anyowner = 1; if (host in inshard) shardowner[$2] = 1 }
  if (overlaps()) taken = 1
  if ($1 == "L") { known[$2] = 1; if (flags ~ /,(fail|noaddr|handshake),/) down[$2] = 1 }
  if (flags ~ /,master,/ && host == lead) leader[$2] = 1
  if (flags ~ /,slave,/ && flags !~ /,fail/) { master_of[$2] = $5; addr[$2] = a[1] }
}
END {
  delete ghost[myid]
  if (replica) { print "joined: a replica of", mymaster; exit }
  if (myslots) { print "joined: a master owning slots"; exit }
  for (id in shardowner) if (!(id in ghost) && (id in known) && !(id in down)) { print "replicate", id; exit }
  for (id in owner) if (id in ghost) {
    for (r in master_of) if (master_of[r] == id && !(r in ghost)) {
      sub(/@.*/, "", addr[r]); n = split(addr[r], p, ":")
      print "takeover", substr(addr[r], 1, length(addr[r]) - length(p[n]) - 1), p[n], id; exit
    }
    print "wait", "slots held by a lost incarnation of this node,", id, "and no replica of it is known"; exit
  }
  for (id in shardowner) { print "wait", "the slots of this shard are owned by", id, "which is failing or not yet known here"; exit }
  if (first != "true") {
    for (id in leader) if (!(id in ghost) && (id in known) && !(id in down)) { print "replicate", id; exit }
    print "wait", "the first member of this shard is not a live master here yet"; exit
  }
  if (!all) { print "wait", "not every peer answered; claiming or serving only when every one has been asked"; exit }
  if (keys != "0") { print "wait", "holds", keys, "keys but no slots; serving only on an empty data set"; exit }
  if (anyowner && (taken || lo == "")) { print "empty"; exit }
  for (id in ghost) { print "wait", "no node owns any slot; never claiming them as a replacement of", id; exit }
  if (lo == "") { print "wait", "a draining shard claims no slots when the cluster forms"; exit }
  print "claim", lo, hi
}`;

/**
 * The entrypoint of a cluster node. It resolves its own Service's name (`ANNOUNCE_HOST`) to the
 * Service's ClusterIP and announces both, rewrites every peer's address in nodes.conf from the
 * peer's Service name (READDRESS_AWK: never an address only because a node had it before), then
 * starts the server and, in the background, joins:
 * every round it MEETs each peer of the topology file not known at its Service's current address,
 * and until it is part of its shard it asks every peer's CLUSTER NODES what to do: replicate the
 * member of its shard that owns slots (or, while none does, the shard's first member); or, as the
 * shard's first member (`SHARD_FIRST=true`) once every peer answered and it holds no keys, claim the
 * shard's formation range when no node owns any of it (the cluster is forming), or serve as an empty
 * master when the cluster exists (a shard added to it: the rebalancer moves slots to it). A node
 * back on an empty volume (its Service name known under another id) never claims: it asks the replica
 * of its lost incarnation to take over (CLUSTER FAILOVER FORCE), replicates it, and has every node
 * forget the old id. Until it is part of its shard, the server refuses SYNC/PSYNC, so a replica of
 * the lost incarnation never resyncs from an empty data set. Never CLUSTER RESET, FLUSHALL or a slot
 * taken from another node. Gives up after `JOIN_SECONDS` (stopping the server, so the pod restarts).
 * Once joined, it runs the rebalancer (`rebalance.sh`) for the rest of the pod's life.
 */
export function renderClusterNodeEntrypoint(): string {
  const p = REDIS_PATHS;
  return `${SCRIPT_HEADER}# Starts a cluster node at its Service's address, then joins its shard in the background.
${logFn('cluster-node')}
${CONF_QUOTE_FN}
${LOCAL_HOST_FN}
${CLI_AUTH}
${TOPOLOGY_FNS}
cli() { timeout 5 ${REDIS_CLI} -h "$self_host" -p "$REDIS_PORT" "$@" 2>/dev/null; }
at() { at_host=$1; shift; timeout 5 ${REDIS_CLI} -h "$at_host" -p "$REDIS_PORT" "$@" 2>/dev/null; }
now() { date +%s; }

# resolve NAME TRIES: NAME's address, asked every 0.5 s up to TRIES times.
resolve() {
  tries=$2
  while [ "$tries" -gt 0 ]; do
    set -- "$1" $(getent hosts "$1" || true)
    if [ "$#" -gt 1 ]; then echo "$2"; return 0; fi
    tries=$(( tries - 1 )); [ "$tries" -eq 0 ] || sleep 0.5
  done
  return 1
}

# Every peer's address in nodes.conf from its Service name before the server starts (READDRESS_AWK in
# node-entrypoint.ts): an address a node had before may be another node's now, and a replica would
# sync that node's data. A peer whose name does not resolve within ${PEER_RESOLVE_SECONDS}s, or is no longer in
# the topology, gets no address (noaddr) and is met (join) once its name resolves.
readdress_peers() {
  [ -s "$nodes_conf" ] || return 0
  wanted=" $(peer_hosts)"; left=""
  # The peers' names in nodes.conf that are still in the topology: only those are resolved.
  known_names=$(awk 'NF >= 8 && $3 !~ /myself/ { split($2, a, ","); print a[2] }' "$nodes_conf" | sort -u)
  for name in $known_names; do
    case "$wanted" in *" $name "*) left="$left $name" ;; esac
  done
  addrs=""; until_s=$(( $(now) + ${PEER_RESOLVE_SECONDS} ))
  while [ -n "$left" ]; do
    still=""
    for name in $left; do
      if ip=$(resolve "$name" 1); then addrs="$addrs $name=$ip"; else still="$still $name"; fi
    done
    left=$still
    if [ -z "$left" ] || [ "$(now)" -ge "$until_s" ]; then break; fi
    sleep 0.5
  done
  if ! summary=$(awk -v self="$my_ip" -v addrs="$addrs" -v out="$nodes_conf.tmp" '${READDRESS_AWK}' "$nodes_conf") \
    || ! mv "$nodes_conf.tmp" "$nodes_conf"; then
    log "could not rewrite the addresses in $nodes_conf; exiting so the pod restarts"; exit 1
  fi
  set -- $summary
  msg="rewrote $1 peer addresses in $nodes_conf from their Service names ($2 already current)"
  shift 3; gone=""
  for name in "$@"; do case "$left " in *" $name "*) ;; *) gone="$gone $name" ;; esac; done
  [ -z "$left" ] || msg="$msg; not resolving after ${PEER_RESOLVE_SECONDS}s, so marked noaddr (never dialled; met once it resolves):$left"
  [ -z "$gone" ] || msg="$msg; no longer in the topology, so marked noaddr:$gone"
  log "$msg"
}

# MEETs every peer not known at its Service's current address; a known node met at a new address
# keeps its id (the handshake updates its address). Sets peer_ips and stale (peers not there yet).
met=""
meet_peers() {
  peer_ips=""; stale=0; PEER_HOSTS=$(peer_hosts)
  mine=$(cli cluster nodes) || return 0
  # "IP:PORT,HOSTNAME" of every node known here; "IP:PORT,handshake" while a MEET is under way.
  known=$(printf '%s\\n' "$mine" | awk '{ split($2, a, ","); sub(/@.*/, "", a[1]); printf "%s,%s ", a[1], ($3 ~ /handshake/ ? "handshake" : a[2]) }')
  for name in $PEER_HOSTS; do
    if ! ip=$(resolve "$name" 1); then stale=$(( stale + 1 )); continue; fi
    peer_ips="$peer_ips $ip"
    case " $known " in *" $ip:$REDIS_PORT,$name "*|*" $ip:$REDIS_PORT,handshake "*) continue ;; esac
    stale=$(( stale + 1 ))
    if [ "$(cli cluster meet "$ip" "$REDIS_PORT" "$BUS_PORT")" = OK ]; then
      case " $met " in *" $name@$ip "*) ;; *) log "meeting $name at $ip"; met="$met $name@$ip" ;; esac
    fi
  done
}

# What to do next (see DECIDE_AWK in node-entrypoint.ts), from this node's CLUSTER NODES, and unless
# that shows it part of its shard already, from every peer's.
survey() {
  all_=$1; keys_=$2
  # This node's shard line: INDEX STATE FORMATION HOSTS...
  set -- $(my_shard)
  range=""; hosts=""
  if [ "$#" -ge 4 ]; then [ "$3" = - ] || range=$3; shift 3; hosts="$*"; fi
  lead=\${hosts%% *}
  printf '%s\\n' "$views" | awk -v me="$ANNOUNCE_HOST" -v hosts="$hosts" -v lead="$lead" -v lo="\${range%-*}" -v hi="\${range#*-}" \\
    -v first="\${SHARD_FIRST:-false}" -v all="$all_" -v keys="$keys_" '${DECIDE_AWK}'
}
decide() {
  own=$(cli cluster nodes) || { echo "wait this node's server does not answer"; return 0; }
  views=$(printf '%s\\n' "$own" | sed 's/^/L /')
  case "$(survey 0 unknown)" in joined:*) survey 0 unknown; return 0 ;; esac
  answered=0
  for ip in $peer_ips; do
    v=$(at "$ip" cluster nodes) || continue
    answered=$(( answered + 1 ))
    views="$views
$(printf '%s\\n' "$v" | sed 's/^/P /')"
  done
  all=0; [ "$answered" -ne "$(echo $PEER_HOSTS | wc -w)" ] || all=1
  keys=$(cli dbsize) || keys=unknown
  survey "$all" "$keys"
}

# Has every node forget this node's lost incarnations: done when every node answered and none lists one.
forget_ghosts() {
  myid=$(cli cluster myid) || return 0
  until=$(( $(now) + ${FORGET_SECONDS} )); forgotten=""
  while :; do
    views=""; silent=0
    for ip in "$self_host" $peer_ips; do
      if v=$(at "$ip" cluster nodes); then views="$views
$v"; else silent=$(( silent + 1 )); fi
    done
    ghosts=$(printf '%s\\n' "$views" | awk -v me="$ANNOUNCE_HOST" -v id="$myid" 'NF { split($2, a, ","); if (a[2] == me && $1 != id) print $1 }' | sort -u)
    if [ -z "$ghosts" ] && [ "$silent" -eq 0 ]; then [ -z "$forgotten" ] || log "no node lists a lost incarnation any more"; return 0; fi
    if [ "$(now)" -ge "$until" ]; then log "after ${FORGET_SECONDS}s, $silent nodes not answering, still listed: $ghosts; the next start tries again"; return 0; fi
    for g in $ghosts; do
      for ip in "$self_host" $peer_ips; do at "$ip" cluster forget "$g" >/dev/null || true; done
      case " $forgotten " in *" $g "*) ;; *) log "forgetting this node's lost incarnation $g on every node"; forgotten="$forgotten $g" ;; esac
    done
    sleep 1
  done
}

# A replica whose master's new address came by gossip may still replicate from the old one (Redis 7.0
# updates the address without re-pointing replication; Valkey re-points): CLUSTER REPLICATE of the same
# master re-points it. Returns 1 when it had to.
repoint() {
  set -- $(cli cluster nodes | awk '{ split($2, a, "@"); addr[$1] = a[1] } $3 ~ /myself/ { m = $4 } END { if (m != "-") print m, addr[m] }')
  [ "$#" -eq 2 ] && [ "\${2%:*}" != "" ] || return 0
  from=$(cli info replication | tr -d '\\r' | awk -F: '$1 == "master_host" { h = $2 } $1 == "master_port" { p = $2 } END { print h ":" p }')
  [ "$from" != "$2" ] || return 0
  log "replicating from $from, but the master $1 is at $2 now; re-pointing: $(cli cluster replicate "$1")"
  return 1
}

join() {
  deadline=$(( $(now) + \${JOIN_SECONDS:-300} ))
  until [ "$(cli ping)" = PONG ]; do
    if [ "$(now)" -ge "$deadline" ]; then log "server not answering after \${JOIN_SECONDS:-300}s; stopping it"; kill "$$"; return 0; fi
    sleep 0.2
  done
  joined=""; last=""; next_ask=0
  while :; do
    meet_peers
    if [ -z "$joined" ]; then
      next=$(decide)
      set -- \${next:-wait no decision}
      case "$1" in
        joined:)
          joined="$*"
          cli acl setuser default +sync +psync >/dev/null || true
          log "$joined; serving replicas" ;;
        replicate) log "replicating $2, the live master of this shard: $(cli cluster replicate "$2")" ;;
        claim) log "claiming slots $2-$3 as the cluster forms: no node owns any, every peer answered, no keys here: $(cli cluster addslotsrange "$2" "$3")" ;;
        empty)
          joined="joined: an empty master of a shard added to the cluster; the rebalancer moves slots to it"
          cli acl setuser default +sync +psync >/dev/null || true
          log "$joined; serving replicas" ;;
        takeover)
          if [ "$(now)" -ge "$next_ask" ]; then
            next_ask=$(( $(now) + ${TAKEOVER_RETRY_SECONDS} ))
            log "this shard's slots are held by this node's lost incarnation $4 (this address answers with a new id); asking its replica $2 to take over: $(at "$2" cluster failover force)"
          fi ;;
        *) shift; if [ "$*" != "$last" ]; then log "waiting: $*"; last="$*"; fi ;;
      esac
    fi
    # Done when part of the shard, every peer met at its current address, replication on the master's.
    unsettled=$stale
    case "$joined" in "") unsettled=1 ;; *replica*) repoint || unsettled=1 ;; esac
    if [ "$unsettled" -eq 0 ]; then break; fi
    if [ "$(now)" -ge "$deadline" ]; then
      if [ -n "$joined" ]; then log "$stale peers not at their current address yet; giving up until the next start"; break; fi
      log "not part of a shard after \${JOIN_SECONDS:-300}s; stopping the server so the pod restarts"; kill "$$"; return 0
    fi
    sleep 1
  done
  forget_ghosts
  exec sh ${p.config}/rebalance.sh
}

nodes_conf=${NODES_CONF}
self_host=$(local_host)
if ! my_ip=$(resolve "$ANNOUNCE_HOST" ${RESOLVE_SECONDS * 2}); then
  log "$ANNOUNCE_HOST does not resolve after ${RESOLVE_SECONDS}s; exiting so the pod restarts"; exit 1
fi
log "announcing $my_ip ($ANNOUNCE_HOST); shard $(my_shard | cut -d' ' -f1-2)"
readdress_peers

umask 077
conf=${p.run}/redis.conf
{
  echo "include ${p.config}/redis.conf"
  echo "bind $(conf_quote "\${BIND_ADDRESS:-0.0.0.0}")"
  echo "cluster-announce-ip $(conf_quote "$my_ip")"
  echo "cluster-announce-hostname $(conf_quote "$ANNOUNCE_HOST")"
  if [ -f "$nodes_conf" ] && awk '$3 ~ /myself/ && ($3 ~ /slave/ || NF > 8) { f = 1 } END { exit !f }' "$nodes_conf"; then
    if [ -n "\${REDIS_PASSWORD:-}" ]; then echo "requirepass $(conf_quote "$REDIS_PASSWORD")"; fi
  else
    log "not part of a shard yet (no slots or master in $nodes_conf): refusing SYNC/PSYNC until it is"
    if [ -n "\${REDIS_PASSWORD:-}" ]; then pass=">$REDIS_PASSWORD"; else pass=nopass; fi
    echo "user default on $(conf_quote "$pass") ~* &* +@all -sync -psync"
  fi
  if [ -n "\${REDIS_PASSWORD:-}" ]; then echo "masterauth $(conf_quote "$REDIS_PASSWORD")"; fi
} > "$conf.tmp"
mv "$conf.tmp" "$conf"
# The write guarantee follows the shard for the pod's life (node-guarantee.ts).
sh ${p.config}/guarantee.sh &
join &
exec ${SERVER_BIN} "$conf"
`;
}
