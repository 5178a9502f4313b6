/** Where the proxy's config lives inside the container. */
export const HAPROXY_PATHS = {
  /** ConfigMap holding haproxy.cfg. */
  config: '/usr/local/etc/haproxy',
} as const;

/** A Redis server or sentinel the proxy talks to. */
export interface HaproxyEndpoint {
  readonly host: string;
  readonly port: number;
}

/** Values rendered into haproxy.cfg. */
export interface HaproxyConfValues {
  /** Client port. */
  readonly port: number;
  /** HTTP port answering `/ready` (has a master) and `/healthz` (process up). */
  readonly healthPort: number;
  readonly masterName: string;
  /** Sentinels that must name a server as master before it gets traffic. */
  readonly quorum: number;
  /**
   * Redis instances; `host` is the fully qualified name they announce, which the sentinels name them by
   * (HAProxy's resolver applies no search domains), e.g. `svc.${POD_NAMESPACE}.svc.cluster.local`.
   */
  readonly redis: HaproxyEndpoint[];
  /** Sentinels, by fully qualified name. */
  readonly sentinels: HaproxyEndpoint[];
  /** Whether checks authenticate with the password in `$REDIS_PASSWORD`. */
  readonly auth: boolean;
  readonly checkIntervalMilliseconds: number;
  readonly maxConnections: number;
  readonly threads: number;
  /** Idle timeout of client and server sides (long: Redis clients keep connections open). */
  readonly clientTimeoutSeconds: number;
  /** When set, a second listener on this port balances reads over replicas whose link to the master is up. */
  readonly readReplicasPort?: number;
  /** When set, clients, Redis and sentinels are reached over TLS only. */
  readonly tls?: HaproxyTls;
  /**
   * A sentinel counts as naming a server only while its last good PING reply from it is younger
   * than this: a master the sentinel majority cannot reach is fenced before they promote a replica.
   */
  readonly fenceAfterMilliseconds: number;
  /** Path of the Lua file rendered by {@link renderQuorumGuardLua}, loaded at start. */
  readonly quorumGuard: string;
}

/** TLS files as mounted in the proxy pod. */
export interface HaproxyTls {
  /** Certificate with its key beside it as `<cert>.key`. */
  readonly cert: string;
  readonly ca: string;
}

// RESP, so the password may hold any byte; its length is computed at check time.
const AUTH_CHECK = [
  '  tcp-check send-lf \'*2\'"\\r\\n"\'$4\'"\\r\\nAUTH\\r\\n"\'$\'%[env(REDIS_PASSWORD),length]"\\r\\n"%[env(REDIS_PASSWORD)]"\\r\\n"',
  '  tcp-check expect string +OK',
];

/**
 * Sends `command` and checks its reply contains `expected`. A PING after the command marks the
 * end of the reply (Sentinel has no QUIT), so a reply without `expected` fails at once
 * (min-recv 0) instead of waiting for `timeout check`.
 */
function replyCheck(command: string, expected: string): string[] {
  return [
    `  tcp-check send "${command}\\r\\nPING\\r\\n"`,
    '  tcp-check expect string "+PONG\\r\\n"',
    `  tcp-check expect min-recv 0 string ${expected}`,
  ];
}

/**
 * A regular expression (POSIX ERE, as HAProxy's `rstring`) matching the decimal integers 0 to
 * `limit - 1`, written without leading zeros as Sentinel prints them.
 */
export function belowRegex(limit: number): string {
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`belowRegex: ${limit} is not a positive integer`);
  const digits = String(limit);
  const alts: string[] = [];
  const any = (n: number) => (n === 0 ? '' : n === 1 ? '[0-9]' : `[0-9]{${n}}`);
  for (let len = 1; len < digits.length; len++) alts.push(len === 1 ? '[0-9]' : `[1-9]${any(len - 1)}`);
  for (let i = 0; i < digits.length; i++) {
    const low = i === 0 && digits.length > 1 ? 1 : 0;
    const d = Number(digits[i]);
    if (d > low) alts.push(`${digits.slice(0, i)}[${low}-${d - 1}]${any(digits.length - i - 1)}`);
  }
  return `(${alts.join('|')})`;
}

/** `redis-<i>`: the server name of the i-th Redis instance in haproxy.cfg. */
function serverName(i: number): string {
  return `redis-${i}`;
}

/** How often the proxy re-reads the sentinels' answers, for a Redis check interval. */
export function sentinelCheckMilliseconds(checkIntervalMilliseconds: number): number {
  return Math.max(50, Math.round(checkIntervalMilliseconds * 0.4));
}

/** Values rendered into the quorum guard. */
export interface QuorumGuardValues {
  readonly quorum: number;
  /** How many Redis servers `redis-master` has. */
  readonly servers: number;
  readonly intervalMilliseconds: number;
}

/**
 * A Lua task for haproxy.cfg that closes the client sessions of a Redis server as soon as fewer
 * than `quorum` sentinels name it as master. HAProxy evaluates the routing rule only when a
 * connection opens: without this, a proxy cut off from the sentinels with its master kept its
 * sessions open to a master that the other side was replacing.
 */
export function renderQuorumGuardLua(v: QuorumGuardValues): string {
  const names = Array.from({ length: v.servers }, (_, i) => `"${serverName(i)}"`).join(', ');
  return `-- Closes the sessions of a Redis server that fewer than ${v.quorum} sentinels name as master.
local quorum = ${v.quorum}
local servers = { ${names} }

local function named(server)
  local n = 0
  for _, s in pairs(core.backends["sentinels-name-" .. server].servers) do
    if string.sub(s:get_stats().status, 1, 2) == "UP" then n = n + 1 end
  end
  return n
end

core.register_task(function()
  while true do
    for _, server in ipairs(servers) do
      if named(server) < quorum then core.backends["redis-master"].servers[server]:shut_sess() end
    end
    core.msleep(${v.intervalMilliseconds})
  end
end)
`;
}

/**
 * The proxy's haproxy.cfg. A Redis server receives connections only while it
 * reports `role:master` AND at least `quorum` sentinels name it as master, so
 * a stale master that restarted as master never receives writes.
 */
export function renderHaproxyConf(v: HaproxyConfValues): string {
  // A backend's health check: connect with the server line's options (TLS included), AUTH, then one request.
  const check = (command: string, expected: string) => [
    '  option tcp-check',
    '  tcp-check connect default',
    ...(v.auth ? AUTH_CHECK : []),
    ...replyCheck(command, expected),
  ];
  const bindTls = v.tls ? ` ssl crt ${v.tls.cert}` : '';
  const serverTls = v.tls ? ` ssl verify required ca-file ${v.tls.ca} crt ${v.tls.cert} check-ssl` : '';
  const inter = `${v.checkIntervalMilliseconds}ms`;
  // Sentinel answers are re-read every `fast`, and a Redis server needs two passing checks `fast` apart
  // to rise: a stale master that comes back as master cannot rise before the proxy has seen that the
  // sentinels no longer name it.
  const fast = `${sentinelCheckMilliseconds(v.checkIntervalMilliseconds)}ms`;
  const acls = v.redis.map((_, i) => [
    `  acl ${serverName(i)}-up srv_is_up(redis-master/${serverName(i)})`,
    `  acl ${serverName(i)}-named nbsrv(sentinels-name-${serverName(i)}) ge ${v.quorum}`,
  ].join('\n'));
  const anyMaster = v.redis.map((_, i) => `${serverName(i)}-up ${serverName(i)}-named`).join(' or ');

  const lines = [
    'global',
    `  maxconn ${v.maxConnections}`,
    `  nbthread ${v.threads}`,
    '  log stdout format raw local0 notice',
    `  lua-load ${v.quorumGuard}`,
    '',
    'defaults',
    '  mode tcp',
    '  log global',
    '  timeout connect 2s',
    // A refused connect means the master just died: the client reconnects and is routed anew. A retry
    // only waits; and HAProxy 3.0 leaves a stream waiting to retry stuck when its server's sessions
    // are shut down (test/e2e/clients.test.ts: node-redis through the proxy never wrote again).
    '  retries 0',
    `  timeout client ${v.clientTimeoutSeconds}s`,
    `  timeout server ${v.clientTimeoutSeconds}s`,
    '  timeout check 2s',
    '  default-server init-addr last,libc,none resolvers cluster',
    '',
    '# Service names resolve at run time; a name that does not resolve yet does not stop the proxy,',
    '# and a DNS outage keeps the last addresses (ClusterIPs are stable) instead of disabling servers.',
    'resolvers cluster',
    '  parse-resolv-conf',
    '  hold valid 10s',
    '  hold nx 300s',
    '  hold timeout 300s',
    '  hold refused 300s',
    '  hold other 300s',
    '',
    'frontend redis',
    `  bind "\${BIND_ADDRESS}:${v.port}"${bindTls}`,
    ...acls,
    '  tcp-request content reject unless ' + anyMaster,
    '  default_backend redis-master',
    '',
    'frontend health',
    '  mode http',
    `  bind "\${BIND_ADDRESS}:${v.healthPort}"`,
    '  timeout client 5s',
    ...acls,
    '  http-request return status 200 content-type text/plain string ok if { path /healthz }',
    `  http-request return status 200 content-type text/plain string master if { path /ready } ${anyMaster}`,
    '  http-request return status 503 content-type text/plain string no-master if { path /ready }',
    '  http-request use-service prometheus-exporter if { path /metrics }',
    '  http-request deny deny_status 404',
    '',
    '# Weight 0: a server is reached only through use-server, never by load balancing.',
    'backend redis-master',
    ...check('INFO replication', 'role:master'),
    ...acls,
    ...v.redis.map((_, i) => `  use-server ${serverName(i)} if ${serverName(i)}-up ${serverName(i)}-named`),
    ...v.redis.map((r, i) =>
      `  server ${serverName(i)} "${r.host}:${r.port}" weight 0${serverTls} check inter ${inter} fastinter ${fast} downinter ${fast} fall 1 rise 2 on-marked-down shutdown-sessions`),
  ];
  if (v.readReplicasPort !== undefined) {
    lines.push(
      '',
      '# Reads only: replicas in sync with a master; no fallback to the master.',
      'frontend redis-replicas',
      `  bind "\${BIND_ADDRESS}:${v.readReplicasPort}"${bindTls}`,
      '  default_backend redis-replicas',
      '',
      'backend redis-replicas',
      '  balance leastconn',
      ...check('INFO replication', 'master_link_status:up'),
      ...v.redis.map((r, i) =>
        `  server ${serverName(i)} "${r.host}:${r.port}"${serverTls} check inter ${inter} fall 1 rise 1 on-marked-down shutdown-sessions`),
    );
  }
  const field = (name: string, value: string) => `\\$${name.length}\\r\\n${name}\\r\\n\\$${value.length}\\r\\n${value}\\r\\n`;
  v.redis.forEach((r, i) => {
    lines.push(
      '',
      `# Up while a sentinel names ${r.host}:${r.port} as master and has had a PING reply from it within`,
      `# ${v.fenceAfterMilliseconds}ms: a master that the sentinel majority lost is fenced before they promote.`,
      `backend sentinels-name-${serverName(i)}`,
      // The host's length is not known here (HAProxy expands \${POD_NAMESPACE} in it): the ip value is
      // matched between the line ends around it, followed by the port field.
      ...check(`SENTINEL MASTER ${v.masterName}`, `"\\r\\n${r.host}\\r\\n${field('port', String(r.port))}"`),
      `  tcp-check expect min-recv 0 rstring "last-ok-ping-reply\\r\\n[\\$][0-9]+\\r\\n${belowRegex(v.fenceAfterMilliseconds)}\\r\\n"`,
      ...v.sentinels.map((s, j) => `  server sentinel-${j} "${s.host}:${s.port}"${serverTls} check inter ${fast} fall 1 rise 1`),
    );
  });
  lines.push('');
  return lines.join('\n');
}
