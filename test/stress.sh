#!/usr/bin/env bash
# Runs tests several times in a row with a CPU hog beside them (stress-ng, one worker per core), as a
# fresh CI machine has engine builds beside its tests. Prints one line per run and a summary; exits
# non-zero if any run failed. The hog is started and stopped by this script (by its PID), also on
# failure or interrupt.
#
#   bash test/stress.sh                      # the whole test command (npm test), 5 times
#   RUNS=3 bash test/stress.sh e2e/partition e2e/lessons   # these e2e files only, 3 times
#
# Environment: RUNS (default 5), HOG_WORKERS (default: the number of cores), RUN_TIMEOUT (seconds a
# run may take, default 3600). Logs go to $STRESS_LOG_DIR (default: a new temporary directory).
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-5}
workers=${HOG_WORKERS:-$(nproc)}
limit=${RUN_TIMEOUT:-3600}
logs=${STRESS_LOG_DIR:-$(mktemp -d)}
command -v stress-ng >/dev/null 2>&1 || { echo "installing stress-ng"; DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends stress-ng >/dev/null; }

hog=""
stop_hog() { if [ -n "$hog" ]; then kill "$hog" 2>/dev/null || true; wait "$hog" 2>/dev/null || true; hog=""; fi; }
trap stop_hog EXIT INT TERM

run_once() {
  if [ "$#" -eq 0 ]; then
    timeout "$limit" npm test
  else
    # shellcheck disable=SC2016 # expanded by the inner shell
    E2E_REQUIRE_NETNS=1 timeout "$limit" unshare --net -- sh -c 'ip link set lo up && exec "$@"' sh \
      npx jest --selectProjects e2e --runInBand --testPathPatterns "$@"
  fi
}

failed=0
for i in $(seq 1 "$runs"); do
  # The hog lives one run at most (its own bound), and is restarted for each run.
  stress-ng --cpu "$workers" --timeout "${limit}s" --quiet &
  hog=$!
  start=$SECONDS
  if run_once "$@" >"$logs/run-$i.log" 2>&1; then result=passed; else result=FAILED; failed=$((failed + 1)); fi
  stop_hog
  summary=$(grep -E '^(Tests:|[0-9]+ passed, [0-9]+ failed)' "$logs/run-$i.log" | tail -n 1 || true)
  echo "stress run $i of $runs, hog of $workers workers: $result in $((SECONDS - start))s; ${summary:-no summary line}; log $logs/run-$i.log"
done
echo "stress: $((runs - failed)) of $runs runs passed with a CPU hog beside them"
[ "$failed" -eq 0 ]
