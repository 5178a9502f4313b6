/**
 * Bench environments: the RedisHa chart in the e2e harness (as test/e2e/redis-ha-env.ts's HaEnv.create does),
 * plus optional extra proxy Deployments (clones of the chart's proxy Deployment + ConfigMap with another
 * haproxy.cfg, each with its own name, labels and headless Service) for baselines and tuning experiments.
 */
import { Chart, Testing } from 'cdk8s';
import { RedisHa, RedisHaProps } from '../src';
import { Cluster, K8sObject, Pod, RedisClient, Writer, WriterOptions, sleep } from '../test/e2e/harness';
import { HaEnv } from '../test/e2e/redis-ha-env';

/** An extra proxy Deployment in the same harness cluster. */
export interface ProxyVariant {
  /** DNS-label name of the Deployment, its ConfigMap (`<name>-config`) and headless Service. */
  readonly name: string;
  readonly cfg: string;
}

export interface BenchEnvOptions {
  subnet: number;
  name: string;
  props?: RedisHaProps;
  variants?: ProxyVariant[];
  /** Start the variants' pods with the chart (default false: they are started on demand with startVariant). */
  startVariants?: boolean;
  /** Pod networks (default loopback); 'netns' for partitions (the process must run under `unshare -n`). */
  network?: 'loopback' | 'netns';
}

export const VARIANT_LABEL = 'bench.cdk8s-redis-ha/proxy';


/** The chart's synthesized manifests for some props (nothing is started). */
export function synthManifests(props: RedisHaProps): { ha: RedisHa; manifests: K8sObject[] } {
  const chart = new Chart(Testing.app(), 'e2e');
  const ha = new RedisHa(chart, 'redis', props);
  return { ha, manifests: Testing.synth(chart) as K8sObject[] };
}

/** The haproxy.cfg the chart renders for these props. */
export function chartProxyCfg(props: RedisHaProps): string {
  const { ha, manifests } = synthManifests(props);
  const dep = manifests.find((o) => o.kind === 'Deployment' && o.metadata.name === ha.proxy.deployment.name)!;
  const cmName = dep.spec.template.spec.volumes.find((v: K8sObject) => v.configMap).configMap.name;
  return manifests.find((o) => o.kind === 'ConfigMap' && o.metadata.name === cmName)!.data['haproxy.cfg'];
}

/** Clones of the chart's proxy Deployment + ConfigMap with another haproxy.cfg, one replica, own labels and Service. */
export function cloneProxy(manifests: K8sObject[], proxyDeployment: string, v: ProxyVariant): K8sObject[] {
  const dep = JSON.parse(JSON.stringify(manifests.find((o) => o.kind === 'Deployment' && o.metadata.name === proxyDeployment)));
  const volume = dep.spec.template.spec.volumes.find((x: K8sObject) => x.configMap);
  const cm = JSON.parse(JSON.stringify(manifests.find((o) => o.kind === 'ConfigMap' && o.metadata.name === volume.configMap.name)));
  const labels = { 'app.kubernetes.io/name': 'redis-bench', [VARIANT_LABEL]: v.name };
  cm.metadata = { name: `${v.name}-config` };
  cm.data = { ...cm.data, 'haproxy.cfg': v.cfg };
  volume.configMap.name = cm.metadata.name;
  dep.metadata = { name: v.name };
  dep.spec.replicas = 1;
  dep.spec.selector = { matchLabels: { [VARIANT_LABEL]: v.name } };
  dep.spec.template.metadata = { labels };
  delete dep.spec.template.spec.affinity;
  delete dep.spec.template.spec.topologySpreadConstraints;
  const svc = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: v.name },
    spec: { clusterIP: 'None', selector: { [VARIANT_LABEL]: v.name }, ports: [{ name: 'redis', port: 6379, targetPort: 6379 }] },
  };
  return [cm, dep, svc];
}

export class BenchEnv {
  static async create(opts: BenchEnvOptions): Promise<BenchEnv> {
    const props = opts.props ?? {};
    const { ha, manifests } = synthManifests(props);
    for (const v of opts.variants ?? []) manifests.push(...cloneProxy(manifests, ha.proxy.deployment.name, v));
    const cluster = new Cluster(manifests, { subnet: opts.subnet, name: opts.name, secrets: {}, dns: true, network: opts.network });
    // HaEnv's constructor is private (HaEnv.create synthesizes the chart itself and takes no extra manifests);
    // the bench builds the same object around a cluster that also holds its proxy variants.
    const HaEnvCtor = HaEnv as unknown as new (ha: RedisHa, cluster: Cluster, password: string | undefined) => HaEnv;
    const env = new HaEnvCtor(ha, cluster, undefined);
    const be = new BenchEnv(env, opts.variants ?? []);
    try {
      await cluster.start();
      if (!opts.startVariants) for (const v of be.variants) await be.stopVariant(v.name);
    } catch (e) {
      await cluster.shutdown();
      throw e;
    }
    return be;
  }

  private constructor(
    readonly env: HaEnv,
    readonly variants: ProxyVariant[],
  ) {}

  get cluster(): Cluster {
    return this.env.cluster;
  }

  variantPod(name: string): Pod {
    return this.cluster.podsOf(name)[0];
  }

  /** Starts a variant's pod (if stopped) and waits for its readiness probe (it has a master to route to). */
  async startVariant(name: string, timeoutMs = 20_000): Promise<Pod> {
    const p = this.variantPod(name);
    if (!p.anyRunning) await this.cluster.startPod(p);
    await p.waitReady(timeoutMs);
    return p;
  }

  async stopVariant(name: string): Promise<void> {
    await this.variantPod(name).kill('SIGKILL');
  }

  connectVariant(name: string, timeoutMs = 1000): Promise<RedisClient> {
    return this.cluster.connect(name, 6379, { timeoutMs });
  }

  /**
   * Brings the chart to a known, converged state: every chart pod running, sentinels agree on one master and
   * know its replicas and each other, replicas linked, proxies ready and routing a write. Returns the master.
   */
  async healthy(timeoutMs = 40_000): Promise<Pod> {
    const env = this.env;
    const chartPods = [...env.redis, ...env.sentinels, ...env.proxies];
    await Promise.all(chartPods.filter((p) => !p.anyRunning).map((p) => this.cluster.startPod(p)));
    return env.settle(timeoutMs, { proxy: true });
  }

  async shutdown(): Promise<void> {
    await this.cluster.shutdown();
  }
}

/**
 * A Writer whose connections each carry `perConnection` writes, then close (a client with connection churn:
 * short-lived connections or a pool with a maximum connection age). A proxy's load-balancing decision is per
 * connection, so only new connections can land on a stale master.
 */
export function churnWriter(connect: () => Promise<RedisClient>, perConnection: number, opts: WriterOptions): Writer {
  return new Writer(async () => {
    const c = await connect();
    let n = 0;
    const orig = c.commandWithTimeout.bind(c);
    (c as unknown as { commandWithTimeout: typeof orig }).commandWithTimeout = async (timeoutMs, ...args) => {
      const r = await orig(timeoutMs, ...args);
      if (++n >= perConnection) c.close();
      return r;
    };
    return c;
  }, opts);
}

/** Bounded: resolves after `ms`, or earlier when `cond` holds. */
export async function sleepUntil(ms: number, cond: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end && !cond()) await sleep(Math.min(50, end - Date.now()));
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : Math.round((s[m - 1] + s[m]) / 2);
}

export function stats(xs: number[]): { min: number; median: number; max: number; n: number } {
  return { min: Math.min(...xs), median: median(xs), max: Math.max(...xs), n: xs.length };
}
