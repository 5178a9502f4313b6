#!/usr/bin/env bash
# Installs (as root, on Debian) the real processes the tests and benchmarks run, when any is missing,
# and the npm packages when node_modules is absent; ip and nft build the e2e harness's opt-in pod
# networks (network: 'netns'); prometheus-redis-exporter is the program of the chart's exporter sidecar
# image, run by test/e2e/metrics-tls.test.ts. Sourced by test/run-all.sh and bench/run.sh.
need=()
for bin in redis-server redis-sentinel redis-cli redis-benchmark haproxy shellcheck openssl unshare nsenter setpriv ip nft prometheus-redis-exporter; do
  command -v "$bin" >/dev/null 2>&1 || need+=("$bin")
done
if [ "${#need[@]}" -gt 0 ]; then
  echo "installing Debian packages for: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends redis-server redis-sentinel redis-tools haproxy shellcheck openssl util-linux iproute2 nftables prometheus-redis-exporter
fi
[ -d node_modules ] || npm ci
