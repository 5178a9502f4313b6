#!/usr/bin/env bash
# The whole test suite: installs what it needs (as root on Debian), builds the engines, builds
# with jsii and checks what the other languages get (test/jsii-targets.sh), lints (ESLint, no
# warnings), then runs the unit/synth tests and the end-to-end tests with real processes.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/ensure-packages.sh
source scripts/private-tmp.sh
source scripts/e2e.sh
out=$(mktemp -d)

# The engine lines Debian 12 lacks, built once per machine into /var/cache/cdk8s-redis-ha/engines
# (scripts/ensure-engines.sh), at the lowest priority while the tests that need none of them run:
# the default chart's lines during the unit tests, Redis 8.0 (the chart's other engine) during the main
# e2e suite. The matrix's other lines are repetitions: `npm run test:matrix` (test/run-matrix.sh).
# Their progress lines start with "engines:".
# In a process group of its own (setsid), so that an early exit stops every build process.
# shellcheck disable=SC2016 # expanded by the inner shell
ENGINE_BUILD_NICE=19 setsid bash -c '
  bash scripts/ensure-engines.sh valkey-9.1 haproxy-3.0; echo $? >"$1/engines-default.rc"
  bash scripts/ensure-engines.sh redis-8.0; echo $? >"$1/engines-matrix.rc"
' sh "$out" &
builder=$!
trap 'kill -- "-$builder" 2>/dev/null || true; rm -rf -- "$TMPDIR"' EXIT

# Waits, bounded by two build timeouts a line, for one group of builds; returns its exit status.
wait_engines() {
  local rc=$out/engines-$1.rc deadline=$((SECONDS + 2 * ${ENGINE_BUILD_TIMEOUT:-1200} * $2 + 300))
  if [ ! -f "$rc" ]; then echo "engines: waiting for the $1 lines"; fi
  while [ ! -f "$rc" ] && [ "$SECONDS" -lt "$deadline" ]; do sleep 2; done
  [ -f "$rc" ] && [ "$(cat "$rc")" = 0 ]
}

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
npm run --silent build
npx tsc -p tsconfig.dev.json
bash test/jsii-targets.sh
npm run --silent lint
status=0
# test/cluster runs the cluster scripts on the default engine line too: after its build. In band: two
# workers (the two lines' scenario files side by side) took longer under the load of two clusters, and
# starved the matrix lines' builds. The Redis 7.0 rerun of the entrypoint scenarios is test/run-matrix.sh's.
npx jest --selectProjects unit --testPathIgnorePatterns /node_modules/ /test/e2e/ /test/cluster/ --json --outputFile="$out/unit.json" || status=1
wait_engines default 2 || status=1
npx jest --selectProjects unit --runInBand --testPathPatterns /test/cluster/ --testPathIgnorePatterns /node_modules/ /node-entrypoint-redis7 --json --outputFile="$out/cluster.json" || status=1
# End-to-end tests (scripts/e2e.sh). Last, after the Redis 8.0 build: the matrix (its Redis 8.0 row, and
# the classic resharding path), and metrics, which run on Redis 8.0 too.
late=(/test/e2e/matrix /test/e2e/metrics-tls)
e2e --testPathIgnorePatterns /node_modules/ "${late[@]}" --json --outputFile="$out/e2e.json" || status=1
wait_engines matrix 1 || status=1
e2e "${late[@]/#\/}" --json --outputFile="$out/matrix.json" || status=1
# shellcheck disable=SC2016 # a JavaScript program, not shell
node -e '
  const r = process.argv.slice(1).map((f) => { try { return require(f); } catch { return { numPassedTests: 0, numFailedTests: 1 }; } });
  const sum = (k) => r.reduce((n, x) => n + x[k], 0);
  console.log(`${sum("numPassedTests")} passed, ${sum("numFailedTests")} failed`);
' "$out/unit.json" "$out/cluster.json" "$out/e2e.json" "$out/matrix.json"
exit "$status"
