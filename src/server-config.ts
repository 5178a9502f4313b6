/**
 * What every Redis or Valkey server of the chart shares, in either mode: where its pod keeps its
 * pieces, the TLS directives, the directives the chart owns, the check of a user's extra directives,
 * and how values are quoted.
 */
import { Size, SizeRoundingBehavior } from 'cdk8s';
import { Construct } from 'constructs';
import { checkRedisMemory, fail, userProp } from './validation';

/** Where the pieces of a Redis pod live inside the container. */
export const REDIS_PATHS = {
  /** ConfigMap: static redis.conf, entrypoint and probe. */
  config: '/opt/redis-ha',
  /** emptyDir: the config generated at start (holds the password, so never on the ConfigMap). */
  run: '/run/redis-ha',
  /** PersistentVolumeClaim: AOF, RDB and the role marker. */
  data: '/data',
} as const;

/** TLS files as mounted in a pod. */
export interface TlsPaths {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/**
 * TLS directives for a server (Redis or sentinel) listening on `port`; with `cluster`, the cluster
 * bus uses TLS too.
 */
export function renderTlsDirectives(port: number, tls: TlsPaths, cluster = false): string[] {
  return [
    'port 0',
    `tls-port ${port}`,
    `tls-cert-file ${tls.cert}`,
    `tls-key-file ${tls.key}`,
    `tls-ca-cert-file ${tls.ca}`,
    'tls-replication yes',
    `tls-cluster ${cluster ? 'yes' : 'no'}`,
    // Clients need only trust the CA; the chart's own components present certificates anyway.
    'tls-auth-clients optional',
  ];
}

/**
 * Directives the chart sets itself (or that would break it); user config may
 * not override them.
 */
export const CHART_OWNED_DIRECTIVES: readonly string[] = [
  'port', 'bind', 'dir', 'include', 'replicaof', 'slaveof', 'replica-announce-ip', 'replica-announce-port',
  'slave-announce-ip', 'slave-announce-port', 'requirepass', 'masterauth', 'masteruser', 'appendonly',
  'min-replicas-to-write', 'min-replicas-max-lag', 'min-slaves-to-write', 'min-slaves-max-lag',
  'protected-mode', 'daemonize', 'supervised', 'pidfile', 'logfile', 'unixsocket', 'unixsocketperm',
  'tls-port', 'tls-cert-file', 'tls-key-file', 'tls-ca-cert-file', 'tls-replication', 'tls-cluster',
  'cluster-enabled', 'replica-read-only', 'slave-read-only', 'aclfile', 'user', 'rename-command',
];

/**
 * Checks a server's `extraConfig` in either mode: directive names, values without control characters,
 * a `maxmemory` the container's memory limit holds, and whatever the mode refuses (`refusal` says why
 * a directive is refused, or returns undefined). Returns the config unchanged.
 */
export function checkExtraConfig(
  scope: Construct,
  config: { [directive: string]: string },
  memoryLimit: Size,
  refusal: (directive: string) => string | undefined,
): { [directive: string]: string } {
  for (const [directive, value] of Object.entries(config)) {
    const prop = `extraConfig[${JSON.stringify(directive)}]`;
    if (!/^[a-z][a-z0-9-]*$/.test(directive)) fail(scope, prop, directive, 'must be a redis.conf directive name: lowercase letters, digits and "-"');
    const refused = refusal(directive);
    if (refused !== undefined) fail(scope, prop, directive, refused);
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x1f\x7f]/.test(value)) fail(scope, prop, value, 'must not contain control characters');
    if (directive === 'maxmemory') {
      const limitMi = memoryLimit.toMebibytes({ rounding: SizeRoundingBehavior.NONE });
      // 0 is Redis's "no limit", the default.
      if (checkRedisMemory(scope, prop, value) >= limitMi * 1024 * 1024) {
        fail(scope, prop, value, `must be below the container's memory limit (${userProp(scope, 'resources.memoryLimit')}: ${limitMi}Mi), `
          + 'with headroom for buffers and the fork of a rewrite, or the container is killed when Redis fills up');
      }
    }
  }
  return config;
}

/**
 * The share of a server container's memory limit that `maxmemory` gets unless set: the rest is room
 * for what `maxmemory` does not count (replication and client buffers, the pages a fork for a replica's
 * sync or an AOF rewrite copies while writes go on, fragmentation). Measured by `npm run bench`
 * (bench/memory.ts, section 10): a full server overwritten at full speed through a replica's full sync
 * and an AOF rewrite stays below the limit with this share.
 */
export const DEFAULT_MAXMEMORY_SHARE = 0.5;

/**
 * A server's extra directives with the chart's memory bound added where the user set none:
 * `maxmemory` at {@link DEFAULT_MAXMEMORY_SHARE} of the container's memory limit, and `maxmemory-policy
 * noeviction`, so that a full server refuses writes (an OOM error to the client) instead of being
 * OOM-killed by the kernel, or dropping keys it acknowledged. The user's own directives win.
 */
export function withMemoryDefaults(extra: { [directive: string]: string }, memoryLimit: Size): { [directive: string]: string } {
  const limitMi = memoryLimit.toMebibytes({ rounding: SizeRoundingBehavior.NONE });
  return {
    ...('maxmemory' in extra ? {} : { 'maxmemory': `${Math.floor(limitMi * DEFAULT_MAXMEMORY_SHARE)}mb` }),
    ...('maxmemory-policy' in extra ? {} : { 'maxmemory-policy': 'noeviction' }),
    ...extra,
  };
}

/** A value as one double-quoted Redis config argument. */
export function quoteConfValue(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
