#!/usr/bin/env bash
# The whole test suite: installs what it needs (as root on Debian), builds the engines, then
# runs the unit/synth tests and the end-to-end tests with real processes.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/ensure-packages.sh
# The engine lines Debian 12 lacks (the default Valkey and HAProxy among them), built once per machine
# into /var/cache/cdk8s-redis-ha/engines; a failed build fails the run, after the tests.
engines=0
bash scripts/ensure-engines.sh || engines=1
source scripts/private-tmp.sh

npm run --silent build
npx tsc -p tsconfig.dev.json
out=$(mktemp -d)
status=$engines
npx jest --selectProjects unit --json --outputFile="$out/unit.json" || status=1
# End-to-end tests in a private network namespace: pods get their own networks (veths, a bridge,
# nftables) that exist only inside it and vanish with it; nothing touches the host's network.
E2E_REQUIRE_NETNS=1 unshare --net -- sh -c 'ip link set lo up && exec "$@"' sh \
  npx jest --selectProjects e2e --runInBand --json --outputFile="$out/e2e.json" || status=1
# shellcheck disable=SC2016 # a JavaScript program, not shell
node -e '
  const r = process.argv.slice(1).map((f) => { try { return require(f); } catch { return { numPassedTests: 0, numFailedTests: 1 }; } });
  const sum = (k) => r.reduce((n, x) => n + x[k], 0);
  console.log(`${sum("numPassedTests")} passed, ${sum("numFailedTests")} failed`);
' "$out/unit.json" "$out/e2e.json"
exit "$status"
