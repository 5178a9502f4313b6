/**
 * The guard each sentinel's entrypoint runs around its sentinel: it restarts the sentinel when the
 * sentinel would count other sentinels' old "master down" answers as fresh.
 *
 * Why: a sentinel counts, for ODOWN, every peer whose last `is-master-down-by-addr` answer said
 * "down". Those answers are cleared once older than 5 ask periods (5 s), but only by the code that
 * asks, which Valkey 9 runs only while the master is SDOWN (valkey-io/valkey#2763). So the answers
 * a sentinel got during a failover stay set until its next SDOWN, where they count at once: a
 * sentinel cut off alone, even for a moment, reaches ODOWN by itself, starts a failover under a new
 * epoch, and the others vote for it when the cut heals. On other engines the answers expire after
 * 5 s, which leaves the same hole open for 5 s after each failover.
 * See docs/sentinel-stale-down-flags/README.md for the reproduction and the lines of sentinel.c.
 *
 * Nothing but a restart clears those answers (`SENTINEL RESET` would also forget the replicas that
 * are down, so a partitioned old master would never be demoted). A restart keeps everything learned:
 * the entrypoint rebuilds sentinel.conf from what the sentinel wrote there.
 */

/** When the guard restarts a sentinel. */
export interface SentinelGuardTiming {
  /** How often the guard reads its sentinel's state while the sentinel holds stale answers. */
  readonly intervalMillis: number;
  /**
   * How often it reads it otherwise: answers that turn stale on a silent link are seen within this,
   * and the sentinel restarted within `quietMillis` + `intervalMillis` of silence, both below down-after.
   */
  readonly idleIntervalMillis: number;
  /** A master link silent this long while stale answers are held: restart now, before it can reach SDOWN. */
  readonly quietMillis: number;
  /** Stale answers held this long (past the 5 s after which older engines expire them): restart in turn. */
  readonly staleSeconds: number;
}

/** Seconds between the turns of two sentinels, longer than a sentinel's restart. */
const TURN_SECONDS = 2;
/** Longer than the 5 ask periods (1 s each) after which engines without the regression clear the answers. */
const EXPIRY_SECONDS = 6;

/**
 * The guard's timing for the sentinel at `index` (0-based) of a cluster with this `down-after`.
 * A link silent for a third of down-after triggers a restart, read every quarter while stale answers
 * are held and every half otherwise (each read forks a client, so the guard reads no more often than
 * safety needs), so the restart lands before SDOWN; restarts in turn are two seconds apart, so that
 * a quorum of sentinels keeps answering the proxies.
 */
export function sentinelGuardTiming(downAfterMillis: number, index: number): SentinelGuardTiming {
  return {
    intervalMillis: Math.max(250, Math.min(1000, Math.floor(downAfterMillis / 4))),
    idleIntervalMillis: Math.max(500, Math.min(10_000, Math.floor(downAfterMillis / 2))),
    quietMillis: Math.floor(downAfterMillis / 3),
    staleSeconds: EXPIRY_SECONDS + TURN_SECONDS * index,
  };
}

/** The environment the guard reads its timing from: the interval in seconds, the rest in reads. */
export function sentinelGuardEnv(t: SentinelGuardTiming): { [name: string]: string } {
  return {
    GUARD_INTERVAL: (t.intervalMillis / 1000).toFixed(3),
    GUARD_IDLE_INTERVAL: (t.idleIntervalMillis / 1000).toFixed(3),
    GUARD_QUIET_MS: String(t.quietMillis),
    GUARD_STALE_READS: String(Math.ceil((t.staleSeconds * 1000) / t.intervalMillis)),
  };
}

/**
 * Shell functions of the guard, for the sentinel entrypoint (which defines `cli` and `log`):
 * - `stale_answers` prints `quiet` or `held` when the sentinel holds a peer's "master down" answer
 *   while it sees the master up (no SDOWN, ODOWN or failover of its own), and nothing otherwise;
 *   one client call a read, parsed by the shell itself;
 * - `guard PID` watches the sentinel PID and stops it (TERM) when it must restart, or when the
 *   entrypoint is gone (killed: in a container the kernel would end its children too), then returns 0.
 */
export function renderSentinelGuardFns(): string {
  return `stale_answers() {
  printf 'SENTINEL master %s\\nSENTINEL sentinels %s\\n' "$MASTER_NAME" "$MASTER_NAME" | cli --raw 2>/dev/null | {
    # Field names and values alternate; the master's fields come first, then each peer's.
    flags="" pending="" ok="" held="" prev=""
    while IFS= read -r line; do
      case "$prev" in
        flags) if [ -z "$flags" ]; then flags=$line; else case "$line" in *master_down*) held=1 ;; esac; fi ;;
        last-ping-sent) pending=\${pending:-$line} ;;
        last-ok-ping-reply) ok=\${ok:-$line} ;;
      esac
      prev=$line
    done
    case "$flags" in ''|*s_down*|*o_down*|*failover*) exit 0 ;; esac
    [ -n "$held" ] || exit 0
    # Silence as the sentinel measures it for SDOWN: since the unanswered PING, or the last reply while disconnected.
    silent=\${pending:-0}
    case "$flags" in *disconnected*) if [ "\${ok:-0}" -gt "$silent" ]; then silent=$ok; fi ;; esac
    if [ "$silent" -ge "$GUARD_QUIET_MS" ]; then echo quiet; else echo held; fi
  }
}

guard() {
  held=0
  # Ends with the sentinel, or with the entrypoint ($$): then it stops the sentinel, which is no one's child any more.
  while kill -0 "$1" 2>/dev/null && kill -0 "$$" 2>/dev/null; do
    if [ "$held" -gt 0 ]; then sleep "$GUARD_INTERVAL"; else sleep "$GUARD_IDLE_INTERVAL"; fi
    case "$(stale_answers || true)" in
      quiet) log "restarting the sentinel: it holds stale 'master down' answers and its master link is silent"; break ;;
      held)
        held=$((held + 1))
        if [ "$held" -gt "$GUARD_STALE_READS" ]; then
          log "restarting the sentinel: it has held stale 'master down' answers for $held reads"
          break
        fi ;;
      *) held=0 ;;
    esac
  done
  kill -TERM "$1" 2>/dev/null
}`;
}
