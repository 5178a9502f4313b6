/**
 * Runs a synthesized RedisHa chart in the e2e harness and offers topology helpers for the scenarios.
 */
import { Chart, Testing } from 'cdk8s';
import { RedisHa, RedisHaProps } from '../../src';
import { announcedNameOf } from '../../src/sentinel/redis-instance';
import { Cluster, K8sObject, Pod, RedisClient, SentinelWatcher, errText, parseInfo, sleep, waitUntil } from './harness';

export const AUTH_SECRET = 'redis-ha-e2e-auth';
export const AUTH_KEY = 'password';

export interface HaEnvOptions {
  subnet: number;
  name: string;
  props?: RedisHaProps;
  /** Value of the auth Secret (only used when props.auth is set). */
  password?: string;
  /** PEM files of the TLS Secret (only used when props.tls is set); clients then speak TLS too. */
  certs?: { ca: string; cert: string; key: string };
  /**
   * Start the initial replicas this long after every other pod (pods of a real deployment do not start
   * together). Default 0: all pods start at once.
   */
  replicaStartDelayMs?: number;
  /** Harness DNS stand-in (default true: HAProxy's resolvers mark servers down after 30s without any DNS answer). */
  dns?: boolean;
  /** Pod networks (default loopback); 'netns' gives real networks, Services that follow readiness and partitions. */
  network?: 'loopback' | 'netns';
  /** The chart's namespace (default none: the harness runs the pods in 'default', and they announce it). */
  namespace?: string;
  /** More objects to run beside the chart, e.g. client pods in another namespace. */
  extraManifests?: K8sObject[];
  /** Edits the synthesized objects before they run, e.g. to give an image's entrypoint as a command. */
  editManifests?: (objects: K8sObject[]) => void;
}

export interface RoleInfo {
  role: string;
  masterHost?: string;
  linkUp?: boolean;
  offset?: number;
  connectedSlaves?: number;
}

function pairs(v: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < v.length; i += 2) out[v[i]] = v[i + 1];
  return out;
}

export class HaEnv {
  /** Synthesizes the chart the environments run; the same props always give the same names. */
  static synth(props: RedisHaProps = {}, namespace?: string): { ha: RedisHa; manifests: K8sObject[] } {
    const chart = new Chart(Testing.app(), 'e2e', { namespace });
    const ha = new RedisHa(chart, 'redis', props);
    return { ha, manifests: Testing.synth(chart) as K8sObject[] };
  }

  static async create(opts: HaEnvOptions): Promise<HaEnv> {
    const { ha, manifests } = HaEnv.synth(opts.props, opts.namespace);
    opts.editManifests?.(manifests);
    const secrets: Record<string, Record<string, string>> = opts.props?.auth ? { [opts.props.auth.secretName]: { [opts.props.auth.key]: opts.password ?? '' } } : {};
    const tls = opts.props?.tls;
    if (tls) {
      if (!opts.certs) throw new Error('props.tls needs certs');
      secrets[tls.secretName] = { [tls.certKey]: opts.certs.cert, [tls.keyKey]: opts.certs.key, [tls.caKey]: opts.certs.ca };
    }
    const cluster = new Cluster([...manifests, ...(opts.extraManifests ?? [])], { subnet: opts.subnet, name: opts.name, secrets, dns: opts.dns ?? true, network: opts.network });
    const env = new HaEnv(ha, cluster, opts.props?.auth ? opts.password : undefined, tls ? opts.certs : undefined);
    try {
      env.startedAt = Date.now();
      if (opts.replicaStartDelayMs) {
        const replicas = new Set(env.redis.slice(1));
        await Promise.all(cluster.pods.filter((p) => !replicas.has(p)).map((p) => cluster.startPod(p)));
        await sleep(opts.replicaStartDelayMs);
        await Promise.all([...replicas].map((p) => cluster.startPod(p)));
      } else {
        await cluster.start();
      }
    } catch (e) {
      await cluster.shutdown();
      throw e;
    }
    return env;
  }

  readonly redis: Pod[];
  readonly sentinels: Pod[];
  readonly proxies: Pod[];
  /** The name each Redis instance announces (its Service's, fully qualified), index-aligned with `redis`. */
  readonly hosts: string[];
  readonly masterName: string;
  readonly proxyService: string;
  readonly sentinelPort: number;
  /** When the pods were started. */
  startedAt = 0;

  private constructor(
    readonly ha: RedisHa,
    readonly cluster: Cluster,
    readonly password: string | undefined,
    /** Client TLS settings, when the chart runs with TLS. */
    readonly tls?: { ca: string; cert: string; key: string },
  ) {
    this.redis = ha.instances.map((i) => cluster.podsOf(i.deployment.name)[0]);
    this.hosts = ha.instances.map((i, n) => announcedNameOf(i).replace('$(POD_NAMESPACE)', this.redis[n].namespace));
    this.sentinels = ha.sentinels.deployments.map((d) => cluster.podsOf(d.name)[0]);
    this.proxies = cluster.podsOf(ha.proxy.deployment.name);
    this.masterName = ha.masterName;
    this.proxyService = ha.host;
    this.sentinelPort = ha.sentinels.port;
  }

  hostOf(pod: Pod): string {
    const i = this.redis.indexOf(pod);
    if (i < 0) throw new Error(`${pod.name} is not a Redis pod`);
    return this.hosts[i];
  }

  podOfHost(host: string): Pod {
    const i = this.hosts.indexOf(host);
    if (i < 0) throw new Error(`unknown Redis host ${host}`);
    return this.redis[i];
  }

  /** 1-based instance number of a pod (for reports). */
  num(pod: Pod): number {
    return this.redis.indexOf(pod) + 1;
  }

  connectPod(pod: Pod, port = 6379, timeoutMs = 1000): Promise<RedisClient> {
    return pod.connect(port, { timeoutMs, password: this.password, tls: this.tls });
  }

  connectSentinel(pod: Pod, timeoutMs = 1000): Promise<RedisClient> {
    return pod.connect(this.sentinelPort, { timeoutMs, password: this.password, tls: this.tls });
  }

  connectProxy(timeoutMs = 1000): Promise<RedisClient> {
    return this.cluster.connect(this.proxyService, 6379, { timeoutMs, password: this.password, tls: this.tls });
  }

  /** Runs one command on a pod's Redis (or sentinel) and closes. */
  async on<T = unknown>(pod: Pod, args: Array<string | number>, port = 6379): Promise<T> {
    const c = await pod.connect(port, { timeoutMs: 1000, password: this.password, tls: this.tls });
    try {
      return (await c.command(...args)) as T;
    } finally {
      c.close();
    }
  }

  async role(pod: Pod): Promise<RoleInfo> {
    const info = parseInfo(await this.on(pod, ['INFO', 'replication']));
    return {
      role: info.role,
      masterHost: info.master_host,
      linkUp: info.master_link_status === 'up',
      offset: Number(info.master_repl_offset ?? info.slave_repl_offset),
      connectedSlaves: info.connected_slaves !== undefined ? Number(info.connected_slaves) : undefined,
    };
  }

  /** Roles of all Redis pods ('down' when unreachable), for reports. */
  async roles(): Promise<string[]> {
    return Promise.all(
      this.redis.map(async (p) => {
        try {
          const r = await this.role(p);
          return `${this.num(p)}:${r.role}${r.role === 'slave' ? `(of ${r.masterHost}, link ${r.linkUp ? 'up' : 'down'})` : ''}`;
        } catch {
          return `${this.num(p)}:down`;
        }
      }),
    );
  }

  /** The master host named by one sentinel, or undefined if unreachable. */
  async sentinelMaster(pod: Pod): Promise<string | undefined> {
    try {
      const r = await this.on<string[] | null>(pod, ['SENTINEL', 'get-master-addr-by-name', this.masterName], this.sentinelPort);
      return r ? `${r[0]}:${r[1]}` : undefined;
    } catch {
      return undefined;
    }
  }

  /** Master host:port named by each sentinel ('?' if unreachable). */
  async sentinelMasters(pods: Pod[] = this.sentinels): Promise<string[]> {
    return Promise.all(pods.map(async (p) => (await this.sentinelMaster(p)) ?? '?'));
  }

  /** Whether every running sentinel names `masterPod`, it is master, and every other running pod its linked replica. */
  private async topologyHolds(masterPod: Pod): Promise<boolean> {
    const host = this.hostOf(masterPod);
    const sentinels = this.sentinels.filter((p) => p.running && !p.main.frozen);
    const views = await this.sentinelMasters(sentinels);
    if (!views.every((v) => v === `${host}:6379`)) return false;
    if ((await this.role(masterPod)).role !== 'master') return false;
    for (const p of this.redis) {
      if (p === masterPod || !p.running) continue;
      const r = await this.role(p);
      if (r.role !== 'slave' || r.masterHost !== host || !r.linkUp) return false;
    }
    return true;
  }

  /**
   * Waits until every running sentinel names `host` as master, the pod reports role:master, and every other
   * running Redis pod is its replica with the link up.
   */
  async waitTopology(masterPod: Pod, timeoutMs: number, what = 'topology'): Promise<void> {
    const host = this.hostOf(masterPod);
    await waitUntil(
      () => this.topologyHolds(masterPod).catch(() => false),
      timeoutMs,
      `${what}: master ${host} (instance ${this.num(masterPod)}) agreed by sentinels, replicas linked`,
      { intervalMs: 200 },
    ).catch(async (e) => {
      throw new Error(`${errText(e)}\nsentinels: ${(await this.sentinelMasters()).join(', ')}\nroles: ${(await this.roles()).join(', ')}`);
    });
  }

  /**
   * Sentinel convergence: every running sentinel lists every other running Redis pod as a replica of the
   * master and knows every other sentinel (Sentinel learns replicas from the master's INFO, every 10s).
   */
  async waitSentinelsConverged(masterPod: Pod, timeoutMs: number): Promise<void> {
    const replicaHosts = this.redis.filter((p) => p !== masterPod && p.running).map((p) => this.hostOf(p));
    await waitUntil(
      async () => {
        for (const s of this.sentinels.filter((p) => p.running)) {
          const replicas = (await this.on<string[][]>(s, ['SENTINEL', 'REPLICAS', this.masterName], this.sentinelPort)).map((r) => pairs(r));
          const known = new Set(replicas.map((r) => r.ip));
          if (!replicaHosts.every((h) => known.has(h))) return false;
          const sentinels = await this.on<string[][]>(s, ['SENTINEL', 'SENTINELS', this.masterName], this.sentinelPort);
          if (sentinels.length < this.sentinels.length - 1) return false;
        }
        return true;
      },
      timeoutMs,
      `sentinels know replicas ${replicaHosts.join(', ')} and each other`,
      { intervalMs: 250 },
    );
  }

  /** How many replicas each running sentinel knows for the master (for reports). */
  async knownReplicaCounts(): Promise<number[]> {
    return Promise.all(
      this.sentinels.filter((p) => p.running).map(async (s) => {
        try {
          return (await this.on<unknown[]>(s, ['SENTINEL', 'REPLICAS', this.masterName], this.sentinelPort)).length;
        } catch {
          return -1;
        }
      }),
    );
  }

  /**
   * Waits for a known state and returns the master: a master the sentinels name, every running replica
   * linked to it, (unless `converged: false`) every sentinel knowing all replicas and each other, and (with
   * `proxy: true`) the proxies ready and routing a write.
   */
  async settle(timeoutMs = 30_000, opts: { converged?: boolean; proxy?: boolean } = {}): Promise<Pod> {
    // The master is re-read on every try: a failover may still be under way when settling starts.
    const master = await waitUntil(async () => {
      try {
        const m = await this.currentMasterPod();
        return (await this.topologyHolds(m)) ? m : undefined;
      } catch {
        return undefined;
      }
    }, timeoutMs, 'a master agreed by every sentinel, its replicas linked', { intervalMs: 200 }).catch(async (e) => {
      throw new Error(`${errText(e)}\nsentinels: ${(await this.sentinelMasters()).join(', ')}\nroles: ${(await this.roles()).join(', ')}`);
    });
    if (opts.converged !== false) await this.waitSentinelsConverged(master, timeoutMs);
    if (opts.proxy) {
      await this.waitProxiesReady(timeoutMs);
      await waitUntil(async () => {
        const c = await this.connectProxy();
        try {
          return (await c.command('SET', 'e2e:probe', String(Date.now()))) === 'OK';
        } finally {
          c.close();
        }
      }, timeoutMs, 'a write through the proxy');
    }
    return master;
  }

  /** Starts every pod that is not running and thaws frozen ones (to recover after a failed scenario). */
  async heal(): Promise<void> {
    for (const p of this.cluster.pods) if (p.containers.some((c) => c.frozen)) p.thaw();
    await Promise.all(this.cluster.pods.filter((p) => !p.anyRunning).map((p) => p.start()));
  }

  /** Waits until the running proxies pass their readiness probe. */
  async waitProxiesReady(timeoutMs: number): Promise<void> {
    await Promise.all(this.proxies.filter((p) => p.running).map((p) => p.waitReady(timeoutMs)));
  }

  /** A watcher over every sentinel's event channels. */
  async watchSentinels(): Promise<SentinelWatcher> {
    const w = new SentinelWatcher(
      this.sentinels.map((p) => ({ name: p.name, host: p.address, port: this.sentinelPort })),
      { password: this.password, tls: this.tls },
    );
    await w.start(5000);
    return w;
  }

  /** Pods reporting role:master among running Redis pods. */
  async masters(): Promise<Pod[]> {
    const out: Pod[] = [];
    for (const p of this.redis) {
      if (!p.running) continue;
      try {
        if ((await this.role(p)).role === 'master') out.push(p);
      } catch {
        /* unreachable */
      }
    }
    return out;
  }

  /** The current master pod according to the sentinel majority. */
  async currentMasterPod(): Promise<Pod> {
    const views = (await this.sentinelMasters()).filter((v) => v !== '?');
    const counts = new Map<string, number>();
    for (const v of views) counts.set(v, (counts.get(v) ?? 0) + 1);
    const best = [...counts.entries()].sort((a, b) => b[1] - a[1])[0];
    if (!best) throw new Error('no sentinel answered');
    return this.podOfHost(best[0].split(':')[0]);
  }

  /**
   * Waits until a majority of the sentinels name one master other than `old`, and returns it. Right after a
   * failover only the leader has switched; the others learn it from its hello messages within ~2 s.
   */
  async waitNewMaster(old: Pod, timeoutMs: number): Promise<Pod> {
    const majority = Math.floor(this.sentinels.length / 2) + 1;
    return waitUntil(
      async () => {
        const views = (await this.sentinelMasters()).filter((v) => v !== '?');
        for (const v of new Set(views)) {
          const pod = this.podOfHost(v.split(':')[0]);
          if (pod !== old && views.filter((x) => x === v).length >= majority) return pod;
        }
        return undefined;
      },
      timeoutMs,
      `a sentinel majority naming a master other than ${old.name}`,
      { intervalMs: 100 },
    ).catch(async (e) => {
      throw new Error(`${errText(e)}\nsentinels: ${(await this.sentinelMasters()).join(', ')}`);
    });
  }

  dumpLogs(lines = 40): string {
    return this.cluster.dumpLogs(this.cluster.pods, lines);
  }

  async shutdown(): Promise<void> {
    await this.cluster.shutdown();
  }
}
