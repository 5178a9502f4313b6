/**
 * Runs a synthesized RedisHa chart in the e2e harness and offers topology helpers for the scenarios.
 */
import { Chart, Testing } from 'cdk8s';
import { RedisHa, RedisHaProps } from '../../src';
import { Cluster, K8sObject, Pod, RedisClient, SentinelWatcher, errText, parseInfo, waitUntil } from './harness';

export const AUTH_SECRET = 'redis-ha-e2e-auth';
export const AUTH_KEY = 'password';

/** See HaEnv.create: fits this machine's fd hard limit. */
export const PROXY_MAX_CONNECTIONS = 4000;

export interface HaEnvOptions {
  subnet: number;
  name: string;
  props?: RedisHaProps;
  /** Value of the auth Secret (only used when props.auth is set). */
  password?: string;
  /** Harness DNS stand-in (default true: HAProxy's resolvers mark servers down after 30s without any DNS answer). */
  dns?: boolean;
}

export interface RoleInfo {
  role: string;
  masterHost?: string;
  linkUp?: boolean;
  offset?: number;
  connectedSlaves?: number;
}

export class HaEnv {
  static async create(opts: HaEnvOptions): Promise<HaEnv> {
    const chart = new Chart(Testing.app(), 'e2e');
    // This machine's RLIMIT_NOFILE hard limit is 20000 and cannot be raised (no CAP_SYS_RESOURCE); HAProxy with
    // the default maxconn 10000 needs ~20038 fds and exits ("Cannot raise FD limit"), so the tests use fewer.
    const props: RedisHaProps = { ...opts.props, proxy: { maxConnections: PROXY_MAX_CONNECTIONS, ...opts.props?.proxy } };
    const ha = new RedisHa(chart, 'redis', props);
    const manifests = Testing.synth(chart) as K8sObject[];
    const secrets = opts.props?.auth ? { [opts.props.auth.secretName]: { [opts.props.auth.key]: opts.password ?? '' } } : {};
    const cluster = new Cluster(manifests, { subnet: opts.subnet, name: opts.name, secrets, dns: opts.dns ?? true });
    const env = new HaEnv(ha, cluster, opts.props?.auth ? opts.password : undefined);
    try {
      await cluster.start();
    } catch (e) {
      await cluster.shutdown();
      throw e;
    }
    return env;
  }

  readonly redis: Pod[];
  readonly sentinels: Pod[];
  readonly proxies: Pod[];
  /** Service name (announced host) of each Redis instance, index-aligned with `redis`. */
  readonly hosts: string[];
  readonly masterName: string;
  readonly proxyService: string;
  readonly sentinelPort: number;

  private constructor(
    readonly ha: RedisHa,
    readonly cluster: Cluster,
    readonly password: string | undefined,
  ) {
    this.redis = ha.instances.map((i) => cluster.podsOf(i.deployment.name)[0]);
    this.hosts = ha.instances.map((i) => i.host);
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
    return pod.connect(port, { timeoutMs, password: this.password });
  }

  connectSentinel(pod: Pod, timeoutMs = 1000): Promise<RedisClient> {
    return pod.connect(this.sentinelPort, { timeoutMs, password: this.password });
  }

  connectProxy(timeoutMs = 1000): Promise<RedisClient> {
    return this.cluster.connect(this.proxyService, 6379, { timeoutMs, password: this.password });
  }

  /** Runs one command on a pod's Redis (or sentinel) and closes. */
  async on<T = unknown>(pod: Pod, args: Array<string | number>, port = 6379): Promise<T> {
    const c = await pod.connect(port, { timeoutMs: 1000, password: this.password });
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
        } catch (e) {
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

  /**
   * Waits until every running sentinel names `host` as master, the pod reports role:master, and every other
   * running Redis pod is its replica with the link up.
   */
  async waitTopology(masterPod: Pod, timeoutMs: number, what = 'topology'): Promise<void> {
    const host = this.hostOf(masterPod);
    await waitUntil(
      async () => {
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
      },
      timeoutMs,
      `${what}: master ${host} (instance ${this.num(masterPod)}) agreed by sentinels, replicas linked`,
      { intervalMs: 200 },
    ).catch(async (e) => {
      throw new Error(`${errText(e)}\nsentinels: ${(await this.sentinelMasters()).join(', ')}\nroles: ${(await this.roles()).join(', ')}`);
    });
  }

  /** Waits until the running proxies pass their readiness probe. */
  async waitProxiesReady(timeoutMs: number): Promise<void> {
    await Promise.all(this.proxies.filter((p) => p.running).map((p) => p.waitReady(timeoutMs)));
  }

  /** A watcher over every sentinel's event channels. */
  async watchSentinels(): Promise<SentinelWatcher> {
    const w = new SentinelWatcher(
      this.sentinels.map((p) => ({ name: p.name, host: p.address, port: this.sentinelPort })),
      { password: this.password },
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

  dumpLogs(lines = 40): string {
    return this.cluster.dumpLogs(this.cluster.pods, lines);
  }

  async shutdown(): Promise<void> {
    await this.cluster.shutdown();
  }
}
