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
  /** How often the guard reads its sentinel's state. */
  readonly intervalMillis: number;
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
 * A silent link triggers a restart at a third of down-after, read at least every sixth, so the
 * restart lands well before SDOWN; restarts in turn are two seconds apart, so that a quorum of
 * sentinels keeps answering the proxies.
 */
export function sentinelGuardTiming(downAfterMillis: number, index: number): SentinelGuardTiming {
  return {
    intervalMillis: Math.max(200, Math.min(1000, Math.floor(downAfterMillis / 6))),
    quietMillis: Math.floor(downAfterMillis / 3),
    staleSeconds: EXPIRY_SECONDS + TURN_SECONDS * index,
  };
}

/** The environment the guard reads its timing from. */
export function sentinelGuardEnv(t: SentinelGuardTiming): { [name: string]: string } {
  return {
    GUARD_INTERVAL: (t.intervalMillis / 1000).toFixed(3),
    GUARD_QUIET_MS: String(t.quietMillis),
    GUARD_STALE_SECONDS: String(t.staleSeconds),
  };
}

/**
 * Shell functions of the guard, for the sentinel entrypoint:
 * - `stale_answers` prints `quiet` or `held` when the sentinel holds a peer's "master down" answer
 *   while it sees the master up (no SDOWN, ODOWN or failover of its own), and nothing otherwise;
 * - `guard PID` watches the sentinel PID and stops it (TERM) when it must restart, then returns 0.
 * Needs `cli` (the sentinel's own client) and `log`.
 */
export function renderSentinelGuardFns(): string {
  return `stale_answers() {
  { cli SENTINEL master "$MASTER_NAME"; echo --; cli SENTINEL sentinels "$MASTER_NAME"; } 2>/dev/null |
    awk -v quiet_ms="$GUARD_QUIET_MS" '
      $0 == "--" { peers = 1 }
      !peers && prev == "flags" { flags = $0 }
      !peers && prev == "last-ping-sent" { pending = $0 + 0 }
      !peers && prev == "last-ok-ping-reply" { ok = $0 + 0 }
      peers && prev == "flags" && $0 ~ /master_down/ { held = 1 }
      { prev = $0 }
      END {
        if (!held || flags == "" || flags ~ /s_down|o_down|failover/) exit
        # Silence as the sentinel measures it for SDOWN: since the unanswered PING, or the last reply while disconnected.
        silent = pending
        if (flags ~ /disconnected/ && ok > silent) silent = ok
        print (silent >= quiet_ms ? "quiet" : "held")
      }'
}

guard() {
  held_since=""
  while kill -0 "$1" 2>/dev/null; do
    sleep "$GUARD_INTERVAL"
    state=$(stale_answers || true)
    now=$(date +%s)
    case "$state" in
      quiet) log "restarting the sentinel: it holds stale 'master down' answers and its master link is silent"; break ;;
      held)
        held_since=\${held_since:-$now}
        if [ "$((now - held_since))" -ge "$GUARD_STALE_SECONDS" ]; then
          log "restarting the sentinel: it has held stale 'master down' answers for $((now - held_since))s"
          break
        fi ;;
      *) held_since="" ;;
    esac
  done
  kill -TERM "$1" 2>/dev/null
}`;
}
