import { REDIS_CLI } from './shell';

/** The kinds of pod that wait their turn to stop; each kind has its own queue. */
export enum RolloutQueue {
  /** Redis replicas: one down at a time. */
  REDIS = 'redis',
  /** Sentinels: one down at a time. */
  SENTINEL = 'sentinel',
}

/** Prefix of the client names that hold a place in a queue on the master. */
export const ROLLOUT_CLIENT_PREFIX = 'redis-ha-rollout-';

/**
 * Shell functions for a preStop hook that waits its turn, so that a re-synthesized chart applied to
 * every Deployment at once stops one Redis replica and one sentinel at a time, and the master last.
 *
 * The queues live on the current master as named client connections: a pod that wants to stop opens
 * one (`redis-cli -r -1` re-sends CLIENT SETNAME every second on the same connection), CLIENT LIST
 * orders them by id (arrival), and a place vanishes with the pod that held it. No key is written to
 * the user's data set and no Kubernetes API access is needed.
 *
 * Needs `log`, `$SENTINEL_HOSTS`, `$SENTINEL_PORT`, `$MASTER_NAME`, `$ANNOUNCE_HOST`, and REDISCLI_AUTH
 * set when the chart has a password.
 */
export function renderRolloutFns(): string {
  return renderQueueFns(SENTINEL_QUEUE_HOST_FN, SENTINELS_SERVING_FN);
}

/** The Sentinel mode's queue host: the master a sentinel names. */
const SENTINEL_QUEUE_HOST_FN = `# The master a sentinel names, as "HOST PORT"; the first sentinel that answers wins.
rollout_master() {
  for s in $SENTINEL_HOSTS; do
    set -- $(timeout 3 ${REDIS_CLI} -h "$s" -p "$SENTINEL_PORT" --raw SENTINEL get-master-addr-by-name "$MASTER_NAME" 2>/dev/null | tr '\\n' ' ')
    if [ "$#" -eq 2 ]; then echo "$1 $2"; return 0; fi
  done
  return 1
}`;

/** The Sentinel mode's check that the other sentinels serve. */
const SENTINELS_SERVING_FN = `# Every other sentinel answers and names a master.
sentinels_serving() {
  for s in $SENTINEL_HOSTS; do
    [ "$s" = "$ANNOUNCE_HOST" ] && continue
    set -- $(timeout 3 ${REDIS_CLI} -h "$s" -p "$SENTINEL_PORT" --raw SENTINEL get-master-addr-by-name "$MASTER_NAME" 2>/dev/null | tr '\\n' ' ')
    [ "$#" -eq 2 ] || return 1
  done
}`;

/**
 * The queue functions of {@link renderRolloutFns} around a mode's own `rollout_master` (`queueHostFn`:
 * prints "HOST PORT" of the server that holds the queues) and its own checks (`extraFns`). The
 * cluster mode keeps its queues on the master owning slot 0.
 */
export function renderQueueFns(queueHostFn: string, extraFns: string): string {
  return `# --- waiting for a turn to stop (see rollout-script.ts)
rollout_holder=""
${queueHostFn}
# rollout_queue HOST PORT QUEUE: the announced hosts waiting in QUEUE on HOST, first come first.
rollout_queue() {
  timeout 3 ${REDIS_CLI} -h "$1" -p "$2" CLIENT LIST 2>/dev/null | tr -d '\\r' |
    awk -v p="name=${ROLLOUT_CLIENT_PREFIX}$3-" '{
      id = ""; n = ""
      for (i = 1; i <= NF; i++) {
        if (substr($i, 1, 3) == "id=") id = substr($i, 4)
        if (index($i, p) == 1) n = substr($i, length(p) + 1)
      }
      if (n != "") print id, n
    }' | sort -n | awk '{ print $2 }'
}
# rollout_hold HOST PORT QUEUE: takes a place in QUEUE on HOST for as long as this pod runs.
rollout_hold() {
  ${REDIS_CLI} -h "$1" -p "$2" -r -1 -i 1 CLIENT SETNAME "${ROLLOUT_CLIENT_PREFIX}$3-$ANNOUNCE_HOST" >/dev/null 2>&1 &
  rollout_holder=$!
}
rollout_release() {
  if [ -n "$rollout_holder" ]; then kill "$rollout_holder" 2>/dev/null || true; rollout_holder=""; fi
}
# rollout_wait QUEUE READY_FN DEADLINE [GONE_FN]: waits until this pod is first in QUEUE on the current
# master and READY_FN passes, or until DEADLINE (epoch seconds). Returns 1 on timeout, 2 as soon as
# GONE_FN (if given) passes: a turn that can no longer come.
rollout_wait() {
  # Off only in the benchmark's all-at-once baseline.
  [ "\${ROLLOUT_ORDERED:-true}" = false ] && return 0
  queue_on=""
  while [ "$(date +%s)" -lt "$3" ]; do
    if [ -n "\${4:-}" ] && "$4"; then return 2; fi
    m=$(rollout_master) || m=""
    if [ -n "$m" ]; then
      # A new master (or a lost connection) means a new place in the queue, at its end.
      if [ "$m" != "$queue_on" ] || ! kill -0 "$rollout_holder" 2>/dev/null; then
        rollout_release
        rollout_hold $m "$1"
        queue_on="$m"
        sleep 0.3
      fi
      first=$(rollout_queue $m "$1" | head -n 1)
      if [ "$first" = "$ANNOUNCE_HOST" ] && "$2"; then return 0; fi
    fi
    sleep 0.5
  done
  return 1
}
# The Redis instance HOST is serving: master, or a replica whose link is up and not syncing.
redis_in_sync() {
  info=$(timeout 3 ${REDIS_CLI} -h "$1" -p "$REDIS_PORT" INFO replication 2>/dev/null | tr -d '\\r') || return 1
  case "$info" in
    *role:master*) return 0 ;;
    *master_link_status:up*) case "$info" in *master_sync_in_progress:0*) return 0 ;; esac ;;
  esac
  return 1
}
${extraFns}
# --- end of rollout functions`;
}
