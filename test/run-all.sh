#!/usr/bin/env bash
# The whole test suite: installs what it needs (as root on Debian), builds with jsii and checks
# what the other languages get (test/jsii-targets.sh), lints (ESLint, no warnings), then runs
# the unit/synth tests and the end-to-end tests with real processes.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/ensure-packages.sh
source scripts/private-tmp.sh

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
npm run --silent build
npx tsc -p tsconfig.dev.json
bash test/jsii-targets.sh
npm run --silent lint
out=$(mktemp -d)
status=0
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
