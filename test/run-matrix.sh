#!/usr/bin/env bash
# `npm run test:matrix`: the repetitions `npm test` leaves out to stay within CI's time, each a scenario
# `npm test` already runs on the default lines, again on another engine line:
# - the cluster entrypoint scenarios on Debian's Redis 7.0 (test/cluster/node-entrypoint-redis7.test.ts);
# - the Sentinel-mode matrix's other rows (test/e2e/matrix.test.ts, E2E_MATRIX=extra): Redis 7.0 and
#   Valkey 8.1 with HAProxy 2.6, Valkey 9.1 with HAProxy 3.2 (each skipped, loudly, where the mirror
#   serves no source of its line).
# Installs and builds what it needs as `npm test` does (about 20 min of builds with an empty engine cache).
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/ensure-packages.sh
bash scripts/ensure-engines.sh valkey-9.1 haproxy-3.0 valkey-8.1 haproxy-3.2
source scripts/private-tmp.sh
source scripts/e2e.sh

status=0
npx jest --selectProjects unit --runInBand --testPathPatterns /test/cluster/node-entrypoint-redis7 || status=1
E2E_MATRIX=extra e2e test/e2e/matrix.test.ts || status=1
exit "$status"
