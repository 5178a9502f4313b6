import { createHash } from 'crypto';
import { TlsPaths, renderTlsDirectives } from '../server-config';
import { RolloutQueue, renderRolloutFns } from '../rollout-script';
import { renderSentinelGuardFns } from './sentinel-guard';
import { CLI_AUTH, REDIS_CLI, SERVER_BIN, CONF_QUOTE_FN, LOCAL_HOST_FN, SCRIPT_HEADER, logFn } from '../shell';

/** Where the pieces of a sentinel pod live inside the container. */
export const SENTINEL_PATHS = {
  /** ConfigMap: config templates, entrypoint and probe. */
  config: '/opt/redis-ha',
  /** PersistentVolumeClaim: sentinel.conf, which the sentinel rewrites as it learns. */
  data: '/data',
} as const;

/** Chart-owned sentinel settings, re-applied on every start. */
export interface SentinelConfValues {
  readonly port: number;
  readonly masterName: string;
  readonly downAfterMilliseconds: number;
  readonly failoverTimeoutMilliseconds: number;
  readonly parallelSyncs: number;
  /** TLS files; when set, the sentinel listens and connects over TLS only. */
  readonly tls?: TlsPaths;
}

/** The two static halves of sentinel.conf; the entrypoint writes the `sentinel monitor` line between them. */
export interface SentinelConfTemplate {
  /** Global settings (must precede `sentinel monitor`, which may name a host). */
  readonly global: string;
  /** Settings of the monitored master (must follow `sentinel monitor`). */
  readonly master: string;
}

/** Renders the chart-owned parts of sentinel.conf. */
export function renderSentinelConf(v: SentinelConfValues): SentinelConfTemplate {
  const global = [
    ...(v.tls ? renderTlsDirectives(v.port, v.tls) : [`port ${v.port}`]),
    `dir ${SENTINEL_PATHS.data}`,
    'protected-mode no',
    // Pod IPs change on every restart; names stay (see redis/redis#9103).
    'sentinel resolve-hostnames yes',
    'sentinel announce-hostnames yes',
    `sentinel announce-port ${v.port}`,
    'sentinel deny-scripts-reconfig yes',
    '',
  ].join('\n');
  const m = v.masterName;
  const master = [
    `sentinel down-after-milliseconds ${m} ${v.downAfterMilliseconds}`,
    `sentinel failover-timeout ${m} ${v.failoverTimeoutMilliseconds}`,
    `sentinel parallel-syncs ${m} ${v.parallelSyncs}`,
    '',
  ].join('\n');
  return { global, master };
}

/**
 * A sentinel's `myid`, derived from its identity so that a sentinel whose
 * volume was lost comes back under the same id and leaves no ghost entry.
 */
export function sentinelId(identity: string): string {
  return createHash('sha1').update(`cdk8s-redis-ha/sentinel/${identity}`).digest('hex');
}

/**
 * The sentinel entrypoint. It rebuilds sentinel.conf on every start from the
 * chart-owned templates plus what the sentinel learned (current master,
 * epochs, known replicas and sentinels), so changed settings take effect and
 * learned state survives.
 */
export function renderSentinelEntrypoint(): string {
  const p = SENTINEL_PATHS;
  return `${SCRIPT_HEADER}# Writes sentinel.conf from the chart's templates and the learned state, then runs the sentinel under its guard.
${logFn('sentinel-entrypoint')}
${CONF_QUOTE_FN}
${LOCAL_HOST_FN}
${CLI_AUTH}

conf=${p.data}/sentinel.conf

write_conf() {
  host="$INITIAL_MASTER_HOST"
  port="$INITIAL_MASTER_PORT"
  learned=""
  if [ -s "$conf" ]; then
    current=$(awk -v m="$MASTER_NAME" '$1 == "sentinel" && $2 == "monitor" && $3 == m { print $4, $5; exit }' "$conf")
    if [ -n "$current" ]; then
      set -- $current
      # A short Service name (announced before names were fully qualified) becomes the chart's full name.
      host=$(printf '%s\n' $REDIS_HOSTS | awk -v h="$1" 'index($0, h ".") == 1 { print; found = 1; exit } END { if (!found) print h }')
      port="$2"
    fi
    # Replicas the chart names are written below; keep only learned ones it does not name, in full or short.
    learned=$(awk -v m="$MASTER_NAME" -v chart=" $REDIS_HOSTS " '$1 == "sentinel" && ($2 == "current-epoch" ||
      (($2 == "config-epoch" || $2 == "leader-epoch" || $2 == "known-sentinel") && $3 == m) ||
      ($2 == "known-replica" && $3 == m && index(chart, " " $4 " ") == 0 && index(chart, " " $4 ".") == 0))' "$conf")
    log "kept learned state: master $host:$port, $(printf '%s' "$learned" | grep -c . || true) learned lines; re-applying chart settings"
  else
    log "first start: monitoring the initial master $host:$port"
  fi

  umask 077
  {
    echo "sentinel myid $SENTINEL_ID"
    echo "bind $(conf_quote "\${BIND_ADDRESS:-0.0.0.0}")"
    echo "sentinel announce-ip $(conf_quote "$ANNOUNCE_HOST")"
    cat ${p.config}/sentinel-global.conf
    echo "sentinel monitor $MASTER_NAME $host $port $SENTINEL_QUORUM"
    cat ${p.config}/sentinel-master.conf
    if [ -n "\${REDIS_PASSWORD:-}" ]; then
      echo "requirepass $(conf_quote "$REDIS_PASSWORD")"
      echo "sentinel sentinel-pass $(conf_quote "$REDIS_PASSWORD")"
      echo "sentinel auth-pass $MASTER_NAME $(conf_quote "$REDIS_PASSWORD")"
    fi
    # Sentinels learn replicas from the master's INFO only every 10 s: name them now, so a master
    # lost right after deployment still has replicas to promote and to repoint.
    for h in $REDIS_HOSTS; do
      if [ "$h" != "$host" ] || [ "$REDIS_PORT" != "$port" ]; then echo "sentinel known-replica $MASTER_NAME $h $REDIS_PORT"; fi
    done
    if [ -n "$learned" ]; then printf '%s\\n' "$learned"; fi
  } > "$conf.tmp"
  mv "$conf.tmp" "$conf"
}

# The sentinel runs as a child, watched by the guard (sentinel-guard.ts), which stops it when it holds
# stale "master down" answers; it then starts again from the config it wrote. Any other exit ends the pod.
cli() { timeout 3 ${REDIS_CLI} -h "$(local_host)" -p "$SENTINEL_PORT" "$@"; }
: "\${GUARD_INTERVAL:=1}" "\${GUARD_IDLE_INTERVAL:=1}" "\${GUARD_QUIET_MS:=1000}" "\${GUARD_STALE_READS:=6}"
${renderSentinelGuardFns()}
stopping=""
server=""
trap 'stopping=1; if [ -n "$server" ]; then kill -TERM "$server" 2>/dev/null || true; fi' TERM INT
while [ -z "$stopping" ]; do
  write_conf
  ${SERVER_BIN} "$conf" --sentinel &
  server=$!
  guard "$server" &
  watcher=$!
  status=0
  wait "$server" || status=$?
  # A TERM interrupts the wait, and the trap passed it on: wait for the sentinel to stop.
  if [ -n "$stopping" ]; then wait "$server" 2>/dev/null || true; status=0; fi
  if wait "$watcher" && [ -z "$stopping" ]; then continue; fi
  exit "$status"
done
`;
}

/**
 * The preStop hook of a sentinel: waits its turn (one sentinel down at a time, the others serving;
 * see {@link renderRolloutFns}), then shuts the sentinel down so the next one sees it gone. Bounded
 * by `PRESTOP_WAIT_SECONDS`; past it the sentinel stops anyway.
 */
export function renderSentinelPreStop(): string {
  return `${SCRIPT_HEADER}# Stops this sentinel in its turn.
${logFn('sentinel-prestop')}
${LOCAL_HOST_FN}
${CLI_AUTH}
${renderRolloutFns()}
[ -n "\${SENTINEL_HOSTS:-}" ] || exit 0
start=$(date +%s)
if rollout_wait ${RolloutQueue.SENTINEL} sentinels_serving "$(( start + \${PRESTOP_WAIT_SECONDS:-20} ))"; then
  log "stopping in turn: every other sentinel is serving"
else
  log "no turn within \${PRESTOP_WAIT_SECONDS:-20}s (another sentinel down, or no master known); stopping anyway"
fi
timeout 3 ${REDIS_CLI} -h "$(local_host)" -p "$SENTINEL_PORT" SHUTDOWN >/dev/null 2>&1 || true
`;
}

/** Probe modes of {@link renderSentinelProbe}. */
export enum SentinelProbeMode {
  /** Ready when the sentinel names a master that is not a loopback address. */
  READINESS = 'readiness',
  /** Alive when the sentinel answers PING. */
  LIVENESS = 'liveness',
}

/** The exec probe of a sentinel container: `sh probe.sh readiness|liveness`. */
export function renderSentinelProbe(): string {
  return `${SCRIPT_HEADER}${LOCAL_HOST_FN}
${CLI_AUTH}
cli() { timeout 5 ${REDIS_CLI} -h "$(local_host)" -p "$SENTINEL_PORT" "$@"; }
case "\${1:-}" in
  ${SentinelProbeMode.READINESS})
    set -- $(cli --raw SENTINEL get-master-addr-by-name "$MASTER_NAME" | tr '\\n' ' ')
    if [ "$#" -ne 2 ]; then echo "not ready: no master known" >&2; exit 1; fi
    case "$1" in
      127.*|localhost|::1) echo "not ready: master is $1" >&2; exit 1 ;;
    esac ;;
  ${SentinelProbeMode.LIVENESS})
    [ "$(cli ping)" = PONG ] ;;
  *) echo "usage: probe.sh readiness|liveness" >&2; exit 2 ;;
esac
`;
}
