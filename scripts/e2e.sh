#!/usr/bin/env bash
# Sourced by test/run-all.sh and test/run-matrix.sh: `e2e <jest args>` runs Jest's e2e project in a
# private network namespace (`unshare --net`): pods get their own networks (veths, a bridge, nftables)
# that exist only inside it and vanish with it; nothing touches the host's network. Bounded
# (E2E_TIMEOUT seconds a run): a handle left open keeps Jest from exiting after its results.
e2e() {
  E2E_REQUIRE_NETNS=1 timeout -k 30 "${E2E_TIMEOUT:-3000}" unshare --net -- sh -c 'ip link set lo up && exec "$@"' sh \
    npx jest --selectProjects e2e --runInBand "$@"
}
