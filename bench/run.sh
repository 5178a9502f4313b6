#!/usr/bin/env bash
# `npm run bench`: installs what it needs (as root on Debian, like test/run-all.sh), then measures the chart
# against its baselines and writes bench/RESULTS.md, bench/results.json and bench/failover.svg.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/ensure-packages.sh
bash scripts/ensure-engines.sh
source scripts/private-tmp.sh

# In a private network namespace: the partition figures need the harness's pod networks.
unshare --net -- sh -c 'ip link set lo up && exec "$@"' sh npx ts-node --transpile-only bench/run.ts
