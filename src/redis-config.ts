import { CLI_AUTH, REDIS_CLI, CONF_QUOTE_FN, LOCAL_HOST_FN, SCRIPT_HEADER, logFn } from './shell';

/** Where the pieces of a Redis pod live inside the container. */
export const REDIS_PATHS = {
  /** ConfigMap: static redis.conf, entrypoint and probe. */
  config: '/opt/redis-ha',
  /** emptyDir: the config generated at start (holds the password, so never on the ConfigMap). */
  run: '/run/redis-ha',
  /** PersistentVolumeClaim: AOF, RDB and the role marker. */
  data: '/data',
} as const;

/** Values rendered into the static part of redis.conf. */
export interface RedisConfValues {
  readonly port: number;
  /** The instance's Service name, announced to the master and the sentinels. */
  readonly announceHost: string;
  readonly appendOnly: boolean;
  readonly minReplicasToWrite: number;
  readonly minReplicasMaxLagSeconds: number;
  /** Extra directives, already validated against {@link CHART_OWNED_DIRECTIVES}. */
  readonly extra?: { [directive: string]: string };
  /** TLS files; when set, the plain port is closed and replication uses TLS. */
  readonly tls?: TlsPaths;
}

/** TLS files as mounted in a pod. */
export interface TlsPaths {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/** TLS directives for a server (Redis or sentinel) listening on `port`. */
export function renderTlsDirectives(port: number, tls: TlsPaths): string[] {
  return [
    'port 0',
    `tls-port ${port}`,
    `tls-cert-file ${tls.cert}`,
    `tls-key-file ${tls.key}`,
    `tls-ca-cert-file ${tls.ca}`,
    'tls-replication yes',
    'tls-cluster no',
    // Clients need only trust the CA; the chart's own components present certificates anyway.
    'tls-auth-clients optional',
  ];
}

/**
 * Directives the chart sets itself (or that would break it); user config may
 * not override them.
 */
export const CHART_OWNED_DIRECTIVES: readonly string[] = [
  'port', 'bind', 'dir', 'include', 'replicaof', 'slaveof', 'replica-announce-ip', 'replica-announce-port',
  'slave-announce-ip', 'slave-announce-port', 'requirepass', 'masterauth', 'masteruser', 'appendonly',
  'min-replicas-to-write', 'min-replicas-max-lag', 'min-slaves-to-write', 'min-slaves-max-lag',
  'protected-mode', 'daemonize', 'supervised', 'pidfile', 'logfile', 'unixsocket', 'unixsocketperm',
  'tls-port', 'tls-cert-file', 'tls-key-file', 'tls-ca-cert-file', 'tls-replication', 'tls-cluster',
  'cluster-enabled', 'replica-read-only', 'slave-read-only', 'aclfile', 'user', 'rename-command',
];

/** A value as one double-quoted Redis config argument. */
export function quoteConfValue(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** The static redis.conf: everything that does not depend on the current master or on secrets. */
export function renderRedisConf(v: RedisConfValues): string {
  return [
    ...(v.tls ? renderTlsDirectives(v.port, v.tls) : [`port ${v.port}`]),
    `dir ${REDIS_PATHS.data}`,
    // Auth (when on) comes from the generated file; without it the pod network is the boundary.
    'protected-mode no',
    `replica-announce-ip ${v.announceHost}`,
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
 * The Redis entrypoint. On every start it asks the sentinels which instance is
 * master and starts as that master's replica (or as master when it is named);
 * only a first boot with no sentinel answering falls back to the chart's
 * initial role, and a volume that was last started as a replica never promotes
 * itself on a guess.
 */
export function renderRedisEntrypoint(): string {
  const p = REDIS_PATHS;
  return `${SCRIPT_HEADER}# Starts redis-server with the role the sentinels agree on.
${logFn('redis-entrypoint')}
${CONF_QUOTE_FN}
${CLI_AUTH}

# Prints "HOST PORT" named by most answering sentinels, or nothing.
ask_sentinels() {
  for s in \${SENTINEL_HOSTS:-}; do
    a=$(timeout 3 ${REDIS_CLI} -h "$s" -p "$SENTINEL_PORT" --raw SENTINEL get-master-addr-by-name "$MASTER_NAME" 2>/dev/null | tr '\\n' ' ') || continue
    set -- $a
    if [ "$#" -eq 2 ] && [ -n "$1" ] && [ "$2" -eq "$2" ] 2>/dev/null; then echo "$1 $2"; fi
  done | sort | uniq -c | sort -rn | awk 'NR == 1 { print $2, $3 }'
}

role_file=${p.data}/redis-ha-role
master=""
if [ -n "\${SENTINEL_HOSTS:-}" ]; then
  deadline=$(( $(date +%s) + \${MASTER_DISCOVERY_SECONDS:-30} ))
  while :; do
    master=$(ask_sentinels)
    [ -n "$master" ] && break
    if [ "$(date +%s)" -ge "$deadline" ]; then break; fi
    log "no sentinel answered for $MASTER_NAME yet; retrying"
    sleep 1
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

umask 077
conf=${p.run}/redis.conf
{
  echo "include ${p.config}/redis.conf"
  echo "bind $(conf_quote "\${BIND_ADDRESS:-0.0.0.0}")"
  if [ -n "\${REDIS_PASSWORD:-}" ]; then
    echo "requirepass $(conf_quote "$REDIS_PASSWORD")"
    echo "masterauth $(conf_quote "$REDIS_PASSWORD")"
  fi
  case "$role" in
    replica*) set -- $role; echo "replicaof $(conf_quote "$2") $3" ;;
  esac
} > "$conf.tmp"
mv "$conf.tmp" "$conf"
printf '%s\\n' "\${role%% *}" > "$role_file.tmp"
mv "$role_file.tmp" "$role_file"
exec redis-server "$conf"
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
 * The preStop hook of a Redis container. When this instance is master it
 * pauses writes (so the replicas catch up and no write lands after the
 * promotion), asks the sentinels to fail over, and waits, bounded by
 * `PRESTOP_WAIT_SECONDS`, until they name another master.
 */
export function renderRedisPreStop(): string {
  return `${SCRIPT_HEADER}# Hands the master role over before this pod stops.
${logFn('redis-prestop')}
${LOCAL_HOST_FN}
${CLI_AUTH}
cli() { timeout 3 ${REDIS_CLI} -h "$(local_host)" -p "$REDIS_PORT" "$@"; }
named_master() {
  for s in \${SENTINEL_HOSTS:-}; do
    m=$(timeout 3 ${REDIS_CLI} -h "$s" -p "$SENTINEL_PORT" --raw SENTINEL get-master-addr-by-name "$MASTER_NAME" 2>/dev/null | head -n 1) || continue
    if [ -n "$m" ]; then echo "$m"; return 0; fi
  done
}

[ -n "\${SENTINEL_HOSTS:-}" ] || exit 0
case "$(cli info replication 2>/dev/null)" in *role:master*) ;; *) exit 0 ;; esac
wait_s=\${PRESTOP_WAIT_SECONDS:-20}
log "master is stopping: pausing writes and asking the sentinels to fail over"
cli client pause "$(( wait_s * 1000 ))" write >/dev/null || true
asked=""
for s in $SENTINEL_HOSTS; do
  if [ "$(timeout 3 ${REDIS_CLI} -h "$s" -p "$SENTINEL_PORT" SENTINEL FAILOVER "$MASTER_NAME" 2>/dev/null)" = OK ]; then asked="$s"; break; fi
done
if [ -z "$asked" ]; then log "no sentinel accepted the failover; stopping as master"; cli client unpause >/dev/null || true; exit 0; fi
deadline=$(( $(date +%s) + wait_s ))
while [ "$(date +%s)" -lt "$deadline" ]; do
  m=$(named_master)
  if [ -n "$m" ] && [ "$m" != "$ANNOUNCE_HOST" ]; then log "sentinels now name $m as master; stopping"; exit 0; fi
  sleep 0.2
done
log "no new master within \${wait_s}s; stopping anyway"
`;
}
