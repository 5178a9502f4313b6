/**
 * Shell fragments shared by the rendered entrypoints and probes.
 *
 * Every script is POSIX `sh` run by the stock `redis` image; values reach the
 * scripts only through environment variables and are never spliced into a
 * `sed` program or evaluated.
 */

/**
 * The shebang and strict mode every script starts with. Globbing is off, so
 * the word splitting the scripts use to read "HOST PORT" pairs is safe.
 */
export const SCRIPT_HEADER = [
  '#!/bin/sh',
  '# shellcheck disable=SC2086,SC2046 # word splitting is intended; globbing is off (set -f)',
  'set -euf',
  '',
].join('\n');

/**
 * `conf_quote VALUE` prints VALUE as a Redis config string with every byte
 * written as `\xHH`, so no quote, backslash, space or newline in a password
 * or host name can break out of its directive.
 */
export const CONF_QUOTE_FN = [
  'conf_quote() {',
  '  printf \'"%s"\' "$(printf \'%s\' "$1" | od -An -v -tx1 | tr -d \' \\n\' | sed \'s/../\\\\x&/g\')"',
  '}',
].join('\n');

/** `log MESSAGE` writes one line per decision to stderr, tagged with the script's name. */
export function logFn(tag: string): string {
  return `log() { printf '%s ${tag}: %s\\n' "$(date -u +%H:%M:%S)" "$*" >&2; }`;
}

/**
 * `local_host` prints the address the server listens on from inside the pod:
 * the bind address when it names one, else loopback.
 */
export const LOCAL_HOST_FN = [
  'local_host() {',
  '  case "${BIND_ADDRESS:-0.0.0.0}" in',
  "    0.0.0.0|'*'|'') echo 127.0.0.1 ;;",
  '    *) echo "$BIND_ADDRESS" ;;',
  '  esac',
  '}',
].join('\n');

/**
 * Makes the client authenticate from the environment (never from argv) when
 * the chart passes a password (valkey-cli reads VALKEYCLI_AUTH, then REDISCLI_AUTH).
 */
export const CLI_AUTH = 'if [ -n "${REDIS_PASSWORD:-}" ]; then export REDISCLI_AUTH="$REDIS_PASSWORD" VALKEYCLI_AUTH="$REDIS_PASSWORD"; fi';

/**
 * How scripts call the engine's client (`$CLI_BIN`: `redis-cli`, `valkey-cli`): with the TLS
 * options the chart passes in `$TLS_ARGS` (word-split on purpose; globbing is off) when TLS is on.
 */
export const REDIS_CLI = '"${CLI_BIN:-redis-cli}" ${TLS_ARGS:-}';

/** `online_replicas HOST PORT`: how many replicas the master at HOST:PORT has online (in sync, acknowledging). */
export const ONLINE_REPLICAS_FN = `# online_replicas HOST PORT: how many replicas the master at HOST:PORT has online.
online_replicas() {
  timeout 3 ${REDIS_CLI} -h "$1" -p "$2" info replication 2>/dev/null | tr -d '\\r' | grep -c '^slave[0-9]*:.*state=online' || true
}`;

/** How scripts start the engine's server (`$SERVER_BIN`: `redis-server`, `valkey-server`). */
export const SERVER_BIN = '"${SERVER_BIN:-redis-server}"';
