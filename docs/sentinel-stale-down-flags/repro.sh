#!/usr/bin/env bash
# Minimal reproduction: a Valkey 9 Sentinel that alone sees a healthy primary down fails it over.
#
# One primary, one replica, three sentinels (quorum 2) on 127.0.0.1, no Kubernetes:
#   1. kill the primary; the sentinels fail over to the replica; the old primary returns as a replica;
#   2. wait until every sentinel may start a failover again (2 x failover-timeout);
#   3. let ONE sentinel see the healthy primary down for a moment (its own down-after 200 ms, and a
#      1 s DEBUG SLEEP of the primary; the others keep 2000 ms and never see it down);
#   4. watch whether that lone sentinel fails the healthy primary over.
# Valkey 9.1.2: it does (`+odown ... #quorum 3/2` at once, then the others vote for it). Valkey 8.1 and
# Redis 8.0: it does not (`+sdown` only; the others' old "down" answers expired long ago).
# See README.md beside this file for the lines of sentinel.c involved.
#
# Usage: BIN=/path/to/bin ./repro.sh        (BIN holds valkey-server and valkey-cli, or redis-*)
#        SERVER=redis-server CLI=redis-cli BIN=... ./repro.sh
# Exit: 0 reproduced (the healthy primary was failed over), 3 not reproduced, 1 setup failure.
# Talks only to 127.0.0.1; ports 17000-17001 and 27000-27002; leaves nothing behind.
set -euo pipefail

SERVER=${SERVER:-valkey-server}
CLI=${CLI:-valkey-cli}
if [ -n "${BIN:-}" ]; then PATH="$BIN:$PATH"; fi
H=127.0.0.1
A=17000  # the first primary
B=17001  # its replica, primary after step 1
SENTINELS=(27000 27001 27002)
DOWN_AFTER=2000
FAILOVER_TIMEOUT=5000

work=$(mktemp -d)
declare -A pid=()
cleanup() {
  for p in "${pid[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf -- "$work"
}
trap cleanup EXIT

log() { printf '[repro %s] %s\n' "$(date +%T.%3N)" "$*"; }
cli() { timeout 5 "$CLI" -h "$H" -p "$@"; }
# await DESCRIPTION SECONDS COMMAND...: runs COMMAND every 0.2 s until it succeeds; fails after SECONDS.
await() {
  local what=$1 deadline=$((SECONDS + $2))
  shift 2
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then log "timed out waiting for: $what"; exit 1; fi
    sleep 0.2
  done
}

start_server() {
  local port=$1
  shift
  "$SERVER" --port "$port" --bind "$H" --dir "$work" --dbfilename "$port.rdb" --save '' --appendonly no \
    --enable-debug-command local --logfile "$work/$port.log" "$@" &
  pid[$port]=$!
  await "server on $port" 10 cli "$port" ping
}

start_sentinel() {
  local port=$1
  printf '%s\n' "port $port" "bind $H" "dir $work" \
    "sentinel monitor m $H $A 2" \
    "sentinel down-after-milliseconds m $DOWN_AFTER" \
    "sentinel failover-timeout m $FAILOVER_TIMEOUT" >"$work/s$port.conf"
  "$SERVER" "$work/s$port.conf" --sentinel --logfile "$work/s$port.log" &
  pid[$port]=$!
}

primary_is() { [ "$(cli "$1" SENTINEL get-master-addr-by-name m | sed -n 2p)" = "$2" ]; }
all_name() { local s; for s in "${SENTINELS[@]}"; do primary_is "$s" "$1" || return 1; done; }
knows_peers() { [ "$(cli "$1" SENTINEL master m | awk 'p { print; exit } $0 == "num-other-sentinels" { p = 1 }')" = 2 ]; }
peer_flags() { cli "$1" SENTINEL sentinels m | awk 'p { printf "%s ", $0; p = 0 } $0 == "flags" { p = 1 }'; }
in_sync() { cli "$1" info replication | grep -q '^master_link_status:up'; }

log "$("$SERVER" --version)"
start_server "$A"
start_server "$B" --replicaof "$H" "$A"
await "replica in sync" 20 in_sync "$B"
for s in "${SENTINELS[@]}"; do start_sentinel "$s"; done
for s in "${SENTINELS[@]}"; do await "sentinel $s to know both peers" 30 knows_peers "$s"; done
log "step 1: primary $A, replica $B, 3 sentinels (quorum 2, down-after ${DOWN_AFTER} ms); killing primary $A"
kill -9 "${pid[$A]}"
wait "${pid[$A]}" 2>/dev/null || true
await "every sentinel to name $B" 60 all_name "$B"
log "failed over to $B; restarting $A as its replica"
start_server "$A" --replicaof "$H" "$B"
await "$A in sync with $B" 20 in_sync "$A"
wait_s=$((2 * FAILOVER_TIMEOUT / 1000 + 3))
log "step 2: waiting ${wait_s} s (2 x failover-timeout) so that any sentinel may start a failover again"
sleep "$wait_s"
for s in "${SENTINELS[@]}"; do log "sentinel $s: its peers' flags: $(peer_flags "$s")"; done
lone=${SENTINELS[0]}
log "step 3: sentinel $lone alone sees primary $B down (its down-after 200 ms; primary sleeps 1 s)"
cli "$lone" SENTINEL set m down-after-milliseconds 200 >/dev/null
cli "$B" DEBUG sleep 1 >/dev/null &
sleep 1.5
cli "$lone" SENTINEL set m down-after-milliseconds "$DOWN_AFTER" >/dev/null
log "step 4: the primary answers again; watching for 10 s"
end=$((SECONDS + 10))
while [ "$SECONDS" -lt "$end" ] && all_name "$B"; do sleep 0.5; done
grep -hE '\+(sdown|odown|try-failover|elected-leader|switch-master) master' "$work/s$lone.log" | tail -n 6 | sed 's/^/    /'
if all_name "$B"; then
  log "NOT REPRODUCED: every sentinel still names the healthy primary $B"
  exit 3
fi
log "REPRODUCED: the healthy primary $B was failed over on the word of one sentinel; now named: $(cli "${SENTINELS[1]}" SENTINEL get-master-addr-by-name m | tr '\n' ' ')"
exit 0
