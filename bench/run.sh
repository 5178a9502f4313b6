#!/usr/bin/env bash
# `npm run bench`: installs what it needs (as root on Debian, like test/run-all.sh), then measures the chart
# against its baselines and writes bench/RESULTS.md, bench/results.json and bench/failover.svg.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for bin in redis-server redis-sentinel redis-cli redis-benchmark haproxy unshare nsenter setpriv; do
  command -v "$bin" >/dev/null 2>&1 || need+=("$bin")
done
if [ "${#need[@]}" -gt 0 ]; then
  echo "installing Debian packages for: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends redis-server redis-sentinel redis-tools haproxy util-linux
fi
[ -d node_modules ] || npm ci

exec npx ts-node --transpile-only bench/run.ts
