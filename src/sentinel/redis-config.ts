import { RolloutQueue, renderRolloutFns } from '../rollout-script';
import { CLI_AUTH, REDIS_CLI, SERVER_BIN, CONF_QUOTE_FN, LOCAL_HOST_FN, SCRIPT_HEADER, logFn } from '../shell';
import { REDIS_PATHS, TlsPaths, quoteConfValue, renderTlsDirectives } from '../server-config';

/** Values rendered into the static part of redis.conf. */
export interface RedisConfValues {
  readonly port: number;
  readonly appendOnly: boolean;
  readonly minReplicasToWrite: number;
  readonly minReplicasMaxLagSeconds: number;
  /** Extra directives, already validated against {@link CHART_OWNED_DIRECTIVES}. */
  readonly extra?: { [directive: string]: string };
  /** TLS files; when set, the plain port is closed and replication uses TLS. */
  readonly tls?: TlsPaths;
}

/** The static redis.conf: everything that does not depend on the current master or on secrets. */
export function renderRedisConf(v: RedisConfValues): string {
  return [
    ...(v.tls ? renderTlsDirectives(v.port, v.tls) : [`port ${v.port}`]),
    `dir ${REDIS_PATHS.data}`,
    // Auth (when on) comes from the generated file; without it the pod network is the boundary.
    'protected-mode no',
    // replica-announce-ip comes from the generated file: the name may hold the pod's namespace.
    `replica-announce-port ${v.port}`,
    `appendonly ${v.appendOnly ? 'yes' : 'no'}`,
    'appendfsync everysec',
    'replica-read-only yes',
    // Bounds what an isolated master accepts and later loses on failover.
    `min-replicas-to-write ${v.minReplicasToWrite}`,
    `min-replicas-max-lag ${v.minReplicasMaxLagSeconds}`,
    ...Object.entries(v.extra ?? {}).map(([k, value]) => `${k} ${quoteConfValue(value)}`),
    '',
  ].join('\n');
}

/**
 * How long a restarted master waits for the sentinels to promote a peer that holds more data:
 * above a natural failover with the default timings (down-after 5 s + failover-timeout 15 s).
 * After it the pod exits and is retried, still refusing to serve as master.
 */
const HAND_OVER_WAIT_SECONDS = 60;
/** The part of a stopping master's preStop budget kept for the hand-over (pause, failover, switch). */
const HANDOVER_SECONDS = 20;
/** How long a stopping master lets the other pods of the same apply reach their hooks and queue. */
const ROLLOUT_GATHER_SECONDS = 2;

/** Where a pending instance "replicates" from: a loopback port nothing listens on. */
const PENDING_MASTER_PORT = 1;

/**
 * The Redis entrypoint. On every start it asks the sentinels which instance is
 * master and starts as that master's replica (or as master when it is named);
 * only a first boot with no sentinel answering falls back to the chart's
 * initial role, and a volume that was last started as a replica never promotes
 * itself on a guess.
 *
 * Before it serves as master it starts pending (a replica of nothing) and asks
 * its peers (`PEER_HOSTS`) whether one holds more: any data when its own
 * volume is empty, or a replica that was streaming from it when it went down
 * (it has all this volume has, and more). Then it asks the sentinels to
 * promote a replica and follows it. An empty volume becomes master only when
 * every peer answered without data (a first boot, or nothing to lose).
 */
export function renderRedisEntrypoint(): string {
  const p = REDIS_PATHS;
  return `${SCRIPT_HEADER}# Starts redis-server with the role the sentinels agree on.
${logFn('redis-entrypoint')}
${CONF_QUOTE_FN}
${LOCAL_HOST_FN}
${CLI_AUTH}

# Prints "HOST PORT" named by most answering sentinels, or nothing. This instance's short Service
# name (announced before names were fully qualified) reads as its full name.
ask_sentinels() {
  for s in \${SENTINEL_HOSTS:-}; do
    a=$(timeout 3 ${REDIS_CLI} -h "$s" -p "$SENTINEL_PORT" --raw SENTINEL get-master-addr-by-name "$MASTER_NAME" 2>/dev/null | tr '\\n' ' ') || continue
    set -- $a
    if [ "$#" -eq 2 ] && [ -n "$1" ] && [ "$2" -eq "$2" ] 2>/dev/null; then echo "$1 $2"; fi
  done | sort | uniq -c | sort -rn | awk -v me="$ANNOUNCE_HOST" -v short="\${ANNOUNCE_HOST%%.*}" 'NR == 1 { h = $2; if (h == short) h = me; print h, $3 }'
}

# Prints "KEYS STREAMED" for a peer: its key count, and 1 when it is a replica that was streaming
# from this instance until this one went down (it holds at least what this volume holds), else 0.
# A replica that restarted too reports its link down since its own start: it streamed nothing.
# Prints nothing when the peer does not answer or is still loading.
peer_state() {
  timeout 3 ${REDIS_CLI} -h "$1" -p "$REDIS_PORT" info 2>/dev/null | tr -d '\\r' | awk -F: -v me="$ANNOUNCE_HOST" -v short="\${ANNOUNCE_HOST%%.*}" '
    /^# Keyspace/ { ok = 1 }
    $1 == "loading" && $2 == 1 { loading = 1 }
    $1 == "uptime_in_seconds" { up = $2 }
    /^db[0-9]+:keys=/ { split($2, f, /[=,]/); n += f[2] }
    $1 == "master_host" && ($2 == me || $2 == short) { mine = 1 }
    $1 == "master_link_down_since_seconds" { linked = $2 >= 0 && $2 + 1 < up }
    END { if (ok && !loading) print n + 0, (mine && linked) ? 1 : 0 }'
}

# Asks every peer, for up to $1 seconds, whether one holds more than this volume: any data when this
# volume is empty, else a replica that was streaming from it. Prints "ahead HOSTS", "none" (every
# peer answered, none is ahead) or "unknown".
survey_peers() {
  until=$(( $(date +%s) + $1 ))
  while :; do
    answered=0; ahead=""
    for h in $PEER_HOSTS; do
      st=$(peer_state "$h") || st=""
      [ -n "$st" ] || continue
      answered=$(( answered + 1 ))
      set -- $st
      if [ "$1" -gt 0 ] && { [ "$2" = 1 ] || [ ! -f "$role_file" ]; }; then ahead="$ahead $h"; fi
    done
    if [ -n "$ahead" ]; then echo "ahead$ahead"; return; fi
    if [ "$answered" -eq "$(echo $PEER_HOSTS | wc -w)" ]; then echo none; return; fi
    if [ "$(date +%s)" -ge "$until" ]; then echo unknown; return; fi
    sleep 0.2
  done
}

# Asks the sentinels once to promote a replica (a natural failover follows anyway, since this
# instance does not answer), then waits, bounded, until they name another master.
hand_over() {
  for s in $SENTINEL_HOSTS; do
    if [ "$(timeout 3 ${REDIS_CLI} -h "$s" -p "$SENTINEL_PORT" SENTINEL FAILOVER "$MASTER_NAME" 2>/dev/null)" = OK ]; then break; fi
  done
  until=$(( $(date +%s) + ${HAND_OVER_WAIT_SECONDS} ))
  while [ "$(date +%s)" -lt "$until" ]; do
    m=$(ask_sentinels)
    case "$m" in "$ANNOUNCE_HOST "*|"") sleep 1 ;; *) echo "$m"; return ;; esac
  done
}

# Prints "no one" when the sentinels name this instance (or none answers), else the master they name.
master_or_self() {
  m=$(ask_sentinels)
  case "$m" in "$ANNOUNCE_HOST "*|"") echo "no one" ;; *) echo "$m" ;; esac
}

record_role() { printf '%s\\n' "$1" > "$role_file.tmp" && mv "$role_file.tmp" "$role_file"; }

# Runs beside a pending server: asks the peers (an empty volume waits for all of them, one that served
# before for 2 s), then serves as master if none holds more, or as the replica of the peer the sentinels
# promote; else it stays pending, and the sentinels fail over after down-after + 20 s.
finish_pending() {
  local_cli() { timeout 3 ${REDIS_CLI} -h "$(local_host)" -p "$REDIS_PORT" "$@" 2>/dev/null; }
  if [ -f "$role_file" ]; then wait_s=2; else wait_s=\${MASTER_DISCOVERY_SECONDS:-30}; fi
  peers=$(survey_peers "$wait_s")
  case "$peers" in
    ahead*)
      log "peers hold more data (\${peers#ahead }); asking the sentinels to promote one of them instead of this instance"
      next=$(hand_over) ;;
    none) next=$(master_or_self) ;;
    *) if [ -f "$role_file" ]; then next=$(master_or_self); else next=""; fi ;;
  esac
  if [ -z "$next" ]; then log "peers: $peers; no role settled, staying a replica of nothing"; return; fi
  i=0
  until case "$(local_cli replicaof $next)" in OK*) true ;; *) false ;; esac; do
    i=$(( i + 1 )); if [ "$i" -ge 50 ]; then log "could not apply replicaof $next"; return; fi
    sleep 0.2
  done
  if [ "$next" = "no one" ]; then record_role master; else record_role replica; fi
  log "peers: $peers; now replicaof $next"
}

role_file=${p.data}/redis-ha-role
master=""
if [ -n "\${SENTINEL_HOSTS:-}" ]; then
  deadline=$(( $(date +%s) + \${MASTER_DISCOVERY_SECONDS:-30} ))
  while :; do
    master=$(ask_sentinels)
    [ -n "$master" ] && break
    # An empty replica has nothing to lose: it starts at once, so a first boot's master finds it.
    if [ ! -f "$role_file" ] && [ -n "\${INITIAL_MASTER_HOST:-}" ]; then break; fi
    if [ "$(date +%s)" -ge "$deadline" ]; then break; fi
    log "no sentinel answered for $MASTER_NAME yet; retrying"
    # Short: after a cold start the named master must be up within down-after of the sentinels.
    sleep 0.5
  done
fi

if [ -n "$master" ]; then
  set -- $master
  if [ "$1" = "$ANNOUNCE_HOST" ] && [ "$2" = "$REDIS_PORT" ]; then
    log "sentinels name this instance ($ANNOUNCE_HOST) as master; starting as master"
    role=master
  else
    log "sentinels name $1:$2 as master; starting as its replica"
    role="replica $1 $2"
  fi
elif [ -n "\${INITIAL_MASTER_HOST:-}" ]; then
  log "no sentinel answered; starting as replica of the initial master $INITIAL_MASTER_HOST"
  role="replica $INITIAL_MASTER_HOST \${INITIAL_MASTER_PORT:?}"
elif [ -f "$role_file" ] && [ "$(cat "$role_file")" != master ]; then
  log "no sentinel answered and this volume was last a replica; refusing to promote it on a guess"
  exit 1
else
  log "no sentinel answered; starting as the initial master"
  role=master
fi

# Never serve as master with less than a peer holds: an empty or stale volume would wipe the replicas.
# Pending while the peers are asked: the sentinels see it up (a master reporting replica is failed
# over only after down-after + 20 s), and a replica with no master link refuses to feed replicas.
if [ "$role" = master ] && [ -n "\${PEER_HOSTS:-}" ]; then
  log "asking the peers before serving as master; a replica of nothing meanwhile"
  role=pending
fi

umask 077
conf=${p.run}/redis.conf
{
  echo "include ${p.config}/redis.conf"
  echo "bind $(conf_quote "\${BIND_ADDRESS:-0.0.0.0}")"
  echo "replica-announce-ip $(conf_quote "$ANNOUNCE_HOST")"
  if [ -n "\${REDIS_PASSWORD:-}" ]; then
    echo "requirepass $(conf_quote "$REDIS_PASSWORD")"
    echo "masterauth $(conf_quote "$REDIS_PASSWORD")"
  fi
  case "$role" in
    replica*) set -- $role; echo "replicaof $(conf_quote "$2") $3" ;;
    pending) echo "replicaof 127.0.0.1 ${PENDING_MASTER_PORT}" ;;
  esac
} > "$conf.tmp"
mv "$conf.tmp" "$conf"
if [ "$role" = pending ]; then
  finish_pending &
else
  record_role "\${role%% *}"
fi
exec ${SERVER_BIN} "$conf"
`;
}

/** Probe modes of {@link renderRedisProbe}. */
export enum RedisProbeMode {
  /** Ready when master, or a replica whose link to its master is up. */
  READINESS = 'readiness',
  /** Alive when the server answers, even while loading or without a master. */
  LIVENESS = 'liveness',
}

/** The exec probe of a Redis container: `sh probe.sh readiness|liveness`. */
export function renderRedisProbe(): string {
  return `${SCRIPT_HEADER}${LOCAL_HOST_FN}
${CLI_AUTH}
cli() { timeout 5 ${REDIS_CLI} -h "$(local_host)" -p "$REDIS_PORT" "$@"; }
case "\${1:-}" in
  ${RedisProbeMode.READINESS})
    info=$(cli info replication)
    case "$info" in *role:master*|*master_link_status:up*) exit 0 ;; esac
    echo "not ready: neither master nor a replica with its link up" >&2
    exit 1 ;;
  ${RedisProbeMode.LIVENESS})
    case "$(cli ping)" in PONG|LOADING*|MASTERDOWN*) exit 0 ;; esac
    exit 1 ;;
  *) echo "usage: probe.sh readiness|liveness" >&2; exit 2 ;;
esac
`;
}

/**
 * The preStop hook of a Redis container. A replica waits its turn (one replica down at a time, each
 * back in sync before the next goes; see {@link renderRolloutFns}), then shuts down. The master
 * waits until no replica or sentinel is waiting or out of sync, so it is replaced last; then it
 * pauses writes (so the replicas catch up and no write lands after the promotion), asks the
 * sentinels to fail over, and waits until they name another master. Every wait is bounded by
 * `PRESTOP_WAIT_SECONDS`; past it the pod stops anyway, as it would without the hook.
 */
export function renderRedisPreStop(): string {
  return `${SCRIPT_HEADER}# Stops this pod in its turn, handing the master role over first.
${logFn('redis-prestop')}
${LOCAL_HOST_FN}
${CLI_AUTH}
cli() { timeout 3 ${REDIS_CLI} -h "$(local_host)" -p "$REDIS_PORT" "$@"; }
${renderRolloutFns()}
named_master() {
  for s in \${SENTINEL_HOSTS:-}; do
    m=$(timeout 3 ${REDIS_CLI} -h "$s" -p "$SENTINEL_PORT" --raw SENTINEL get-master-addr-by-name "$MASTER_NAME" 2>/dev/null | head -n 1) || continue
    if [ -n "$m" ]; then echo "$m"; return 0; fi
  done
}
peers_in_sync() {
  for h in \${PEER_HOSTS:-}; do redis_in_sync "$h" || return 1; done
}
# The master goes last: nobody waiting in either queue, every replica in sync, every sentinel serving.
others_done() {
  [ -z "$(rollout_queue "$(local_host)" "$REDIS_PORT" ${RolloutQueue.REDIS})" ] &&
    [ -z "$(rollout_queue "$(local_host)" "$REDIS_PORT" ${RolloutQueue.SENTINEL})" ] &&
    peers_in_sync && sentinels_serving
}

[ -n "\${SENTINEL_HOSTS:-}" ] || exit 0
wait_s=\${PRESTOP_WAIT_SECONDS:-20}
start=$(date +%s)
# The hand-over keeps up to ${HANDOVER_SECONDS} s of the budget.
handover_s=$(( wait_s < ${HANDOVER_SECONDS * 2} ? wait_s / 2 : ${HANDOVER_SECONDS} ))
turn_deadline=$(( start + wait_s - handover_s ))
case "$(cli info replication 2>/dev/null)" in
  *role:master*) ;;
  *)
    if rollout_wait ${RolloutQueue.REDIS} peers_in_sync "$turn_deadline"; then
      log "replica stopping in its turn: every other instance is in sync"
    else
      log "no turn within $(( turn_deadline - start ))s (another instance down or out of sync); stopping anyway"
    fi
    # Down now, not after preStop returns: the next pod in the queue must see this one gone.
    cli shutdown >/dev/null 2>&1 || true
    exit 0 ;;
esac
# Pods stopped together by one apply reach their hooks within a moment of each other; let them queue.
[ "\${ROLLOUT_ORDERED:-true}" = false ] || sleep ${ROLLOUT_GATHER_SECONDS}
until [ "\${ROLLOUT_ORDERED:-true}" = false ] || others_done; do
  if [ "$(date +%s)" -ge "$turn_deadline" ]; then log "replicas or sentinels still waiting or out of sync after $(( turn_deadline - start ))s; handing over anyway"; break; fi
  sleep 0.5
done
case "$(cli info replication 2>/dev/null)" in *role:master*) ;; *) log "no longer master; stopping"; exit 0 ;; esac
log "master is stopping: pausing writes and asking the sentinels to fail over"
cli client pause "$(( handover_s * 1000 ))" write >/dev/null || true
asked=""
for s in $SENTINEL_HOSTS; do
  if [ "$(timeout 3 ${REDIS_CLI} -h "$s" -p "$SENTINEL_PORT" SENTINEL FAILOVER "$MASTER_NAME" 2>/dev/null)" = OK ]; then asked="$s"; break; fi
done
if [ -z "$asked" ]; then log "no sentinel accepted the failover; stopping as master"; cli client unpause >/dev/null || true; exit 0; fi
deadline=$(( $(date +%s) + handover_s ))
while [ "$(date +%s)" -lt "$deadline" ]; do
  m=$(named_master)
  if [ -n "$m" ] && [ "$m" != "$ANNOUNCE_HOST" ] && [ "$m" != "\${ANNOUNCE_HOST%%.*}" ]; then log "sentinels now name $m as master; stopping"; exit 0; fi
  sleep 0.2
done
log "no new master within \${handover_s}s; stopping anyway"
`;
}
