#!/usr/bin/env bash
# Builds, once per machine, the engine lines the e2e matrix runs besides Debian 12's own redis 7.0
# and haproxy 2.6: Redis 8.0, Valkey 8.1 and 9.1, HAProxy 3.0 and 3.2, from Debian's source
# packages (trixie and sid). Only the binaries are kept, in $ENGINE_CACHE/<engine>-<version>/bin,
# outside the clone (the test harness maps an image's line there). A line already built and
# answering --version is skipped; a line whose sources the mirror does not serve is reported
# and left out (test/e2e/matrix.test.ts then skips it, saying so). Each build is niced, runs at
# -j2 and is bounded by ENGINE_BUILD_TIMEOUT seconds. Run as root on Debian; called by test/run-all.sh.
# Arguments, if any, name the lines to ensure (`valkey-9.1 haproxy-3.0`); none: every line.
set -euo pipefail

CACHE=${ENGINE_CACHE:-/var/cache/cdk8s-redis-ha/engines}
TIMEOUT=${ENGINE_BUILD_TIMEOUT:-1200}
SOURCES=/etc/apt/sources.list.d/cdk8s-redis-ha-src.sources
# engine, source package, the line (major.minor) to build; the default chart's lines first
LINES=(
  'valkey valkey 9.1'
  'haproxy haproxy 3.0'
  'redis redis 8.0'
  'valkey valkey 8.1'
  'haproxy haproxy 3.2'
)

log() { printf 'engines: %s\n' "$*"; }

server_of() { case "$1" in redis) echo redis-server ;; valkey) echo valkey-server ;; haproxy) echo haproxy ;; esac; }

# Idempotent: the file holds only deb-src lines, so no binary package can be upgraded from trixie/sid.
ensure_sources() {
  local want
  want=$(printf '%s\n' \
    '# cdk8s-redis-ha scripts/ensure-engines.sh: source packages of current Redis, Valkey and HAProxy lines.' \
    'Types: deb-src' 'URIs: http://deb.debian.org/debian' 'Suites: trixie sid' 'Components: main' \
    'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg')
  if [ ! -f "$SOURCES" ] || [ "$(cat "$SOURCES")" != "$want" ]; then
    log "adding deb-src for trixie and sid in $SOURCES"
    printf '%s\n' "$want" >"$SOURCES"
    apt-get update -q >/dev/null
  elif ! apt-cache showsrc valkey 2>/dev/null | grep -q '^Version: 9\.'; then
    apt-get update -q >/dev/null
  fi
  local need=() pkg
  for pkg in dpkg-dev build-essential pkg-config libssl-dev liblua5.4-dev libpcre2-dev; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || need+=("$pkg")
  done
  if [ "${#need[@]}" -gt 0 ]; then
    log "installing build dependencies: ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
  fi
}

# Debian versions of a source package in one upstream line, newest first.
versions_of() {
  apt-cache showsrc "$1" 2>/dev/null | sed -n 's/^Version: //p' | sort -u |
    awk -v line="$2" '{ v = $0; sub(/^[0-9]+:/, "", v); if (index(v, line ".") == 1) print $0 }' |
    sort -r -V
}

upstream_of() { local v=${1#*:}; v=${v%%-*}; echo "${v%%+*}"; }

# A cached build that runs; prints its directory.
cached() {
  local d
  for d in "$CACHE/$1-$2".*/; do
    [ -d "$d" ] || continue
    "$d/bin/$(server_of "$1")" -v >/dev/null 2>&1 && { echo "${d%/}"; return 0; }
  done
  return 1
}

# Prints a line of progress every 30 s while the build runs: elapsed time and the last thing compiled.
heartbeat() {
  local start=$SECONDS
  while sleep 30; do
    # Quiet makes print "CC file.o" (in colour), verbose ones the compiler's command line.
    log "  ... $((SECONDS - start))s, $(grep -cE 'CC|\.(c|cc|cpp)( |$)' "$1" 2>/dev/null || true) compile steps so far"
  done
}

build() {
  local engine=$1 src=$2 stage=$3 buildlog=$4
  local -a flags
  case "$engine" in
    redis | valkey)
      # As the official images: TLS built in, bundled jemalloc/lua; valkey keeps its redis-* links.
      flags=(BUILD_TLS=yes)
      # One make: `install` builds `all` first, so nothing is rebuilt outside nice and the bound.
      (cd "$src" && nice -n "${ENGINE_BUILD_NICE:-15}" timeout "$TIMEOUT" make -j2 "${flags[@]}" PREFIX="$stage" install) ;;
    haproxy)
      # As the official image's makeOpts: OpenSSL, Lua (the proxy's quorum guard), PCRE2, Prometheus exporter.
      flags=(TARGET=linux-glibc USE_OPENSSL=1 USE_LUA=1 LUA_INC=/usr/include/lua5.4 USE_PCRE2=1 USE_PCRE2_JIT=1 USE_PROMEX=1 USE_GETADDRINFO=1)
      (cd "$src" && nice -n "${ENGINE_BUILD_NICE:-15}" timeout "$TIMEOUT" make -j2 "${flags[@]}" && install -D -m 0755 haproxy "$stage/bin/haproxy") ;;
  esac >>"$buildlog" 2>&1
}

ensure_line() {
  local engine=$1 pkg=$2 line=$3 dir
  if dir=$(cached "$engine" "$line"); then
    log "$engine $line: cached in $dir"
    return 0
  fi
  local work version upstream
  work=$(mktemp -d)
  # shellcheck disable=SC2064 # expand now: the directory of this call
  trap "rm -rf '$work'" RETURN
  local found=''
  for version in $(versions_of "$pkg" "$line"); do
    upstream=$(upstream_of "$version")
    log "$engine $line: fetching source $pkg=$version"
    (cd "$work" && timeout 300 apt-get source -q --download-only "$pkg=$version" >"$work/fetch.log" 2>&1) || true
    if compgen -G "$work/*.dsc" >/dev/null && (cd "$work" && timeout 120 dpkg-source -x ./*.dsc src >>"$work/fetch.log" 2>&1); then
      found=debian
      break
    fi
    local orig
    orig=$(compgen -G "$work/${pkg}_*.orig.tar.*" | head -n 1 || true)
    if [ -n "$orig" ]; then
      # The mirror served the upstream tarball but not Debian's patches: build upstream as released.
      mkdir "$work/src" && tar -xf "$orig" -C "$work/src" --strip-components=1
      log "$engine $line: the mirror lacks Debian's patches for $version; building upstream $upstream as released"
      found=upstream
      break
    fi
    log "$engine $line: the mirror does not serve $pkg=$version ($(grep -m1 -o '404.*' "$work/fetch.log" || echo 'no files'))"
    rm -rf "${work:?}"/*
  done
  if [ -z "$found" ]; then
    log "$engine $line: NOT AVAILABLE (no source package of this line could be fetched); the matrix skips it"
    return 0
  fi
  dir="$CACHE/$engine-$upstream"
  local stage="$dir.partial" buildlog="$CACHE/$engine-$upstream.build.log"
  rm -rf "$stage" && mkdir -p "$stage"
  : >"$buildlog"
  log "$engine $upstream: building ($found source, nice -n ${ENGINE_BUILD_NICE:-15}, make -j2, at most ${TIMEOUT}s); log in $buildlog"
  local start=$SECONDS hb
  heartbeat "$buildlog" &
  hb=$!
  if build "$engine" "$work/src" "$stage" "$buildlog"; then
    kill "$hb" 2>/dev/null; wait "$hb" 2>/dev/null || true
    printf '%s\n' "$version ($found source)" >"$stage/SOURCE"
    rm -rf "$dir" && mv "$stage" "$dir"
    log "$engine $upstream: built in $((SECONDS - start))s: $("$dir/bin/$(server_of "$engine")" -v 2>&1 | head -n 1)"
  else
    kill "$hb" 2>/dev/null; wait "$hb" 2>/dev/null || true
    rm -rf "$stage"
    log "$engine $upstream: BUILD FAILED after $((SECONDS - start))s; last lines of $buildlog:"
    tail -n 20 "$buildlog" | sed 's/^/    /'
    return 1
  fi
}

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock -w "$TIMEOUT" 9 || { log "another build holds $CACHE/.lock"; exit 1; }
ensure_sources
status=0
wanted=" $* "
for entry in "${LINES[@]}"; do
  # shellcheck disable=SC2086 # three words
  set -- $entry
  if [ "$wanted" != "  " ] && [[ $wanted != *" $1-$3 "* ]]; then continue; fi
  ensure_line "$1" "$2" "$3" || status=1
done
exit "$status"
