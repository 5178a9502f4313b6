/**
 * Runs a synthesized RedisCluster chart in the e2e harness (pod networks, Service VIPs that follow
 * readiness or publish every pod) and reads the cluster as its nodes see it.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Chart, Testing } from 'cdk8s';
import { Cluster as IoCluster } from 'ioredis';
import { RedisCluster, RedisClusterProps } from '../../src';
import { groupLabelsOf } from '../../src/labels';
import { shardSlotRanges } from '../../src/cluster/slots';
import { keySlot } from '../cluster/util/test-cluster';
import type { ClusterWriter } from './cluster-writer';
import { Cluster, K8sObject, Pod, RedisClient, errText, sleep, waitUntil } from './harness';

/** One line of CLUSTER NODES. */
export interface NodeView {
  readonly id: string;
  readonly ip: string;
  readonly flags: string[];
  readonly master: string;
  readonly slots: string[];
}

export function parseNodes(text: string): NodeView[] {
  return text.split('\n').filter((l) => /^[0-9a-f]{40} /.test(l)).map((l) => {
    const f = l.trim().split(/\s+/);
    return { id: f[0], ip: f[1].split(':')[0], flags: f[2].split(','), master: f[3], slots: f.slice(8).filter((s) => !s.startsWith('[')) };
  });
}

/** Gives every file under `dir` the owner of the same file under `like`. */
function chownTree(dir: string, like: string): void {
  const st = fs.statSync(like);
  fs.chownSync(dir, st.uid, st.gid);
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) {chownTree(path.join(dir, e.name), path.join(like, e.name));}
    else {
      const f = fs.statSync(path.join(like, e.name));
      fs.chownSync(path.join(dir, e.name), f.uid, f.gid);
    }
  }
}

export class ClusterEnv {
  static synth(props: RedisClusterProps = {}): { rc: RedisCluster; manifests: K8sObject[] } {
    const chart = new Chart(Testing.app(), 'e2e', {});
    const rc = new RedisCluster(chart, 'cache', props);
    return { rc, manifests: Testing.synth(chart) as K8sObject[] };
  }

  /**
   * Runs the chart. `claims` gives claims their data before any pod starts (the volumes of an
   * earlier run of the same chart: a chart deleted and applied again). `extraManifests` run
   * alongside it (client pods, say); {@link pods} stays the chart's node pods.
   */
  static async create(opts: {
    subnet: number; name: string; props?: RedisClusterProps; claims?: Map<string, string>; extraManifests?: K8sObject[];
    /** The password of `props.auth`, put in its Secret. */
    password?: string;
    /** The CA and the nodes' certificate of `props.tls`, put in its Secret. */
    certs?: { ca: string; cert: string; key: string };
    /** Edits the synthesized objects before they run (a sidecar's command, say). */
    editManifests?: (objects: K8sObject[]) => void;
  }): Promise<ClusterEnv> {
    const { rc, manifests } = ClusterEnv.synth(opts.props);
    opts.editManifests?.(manifests);
    const secrets: Record<string, Record<string, string>> = {};
    const auth = opts.props?.auth;
    if (auth) secrets[auth.secretName] = { [auth.key]: opts.password ?? '' };
    const tls = opts.props?.tls;
    if (tls) {
      if (!opts.certs) throw new Error('props.tls needs certs');
      secrets[tls.secretName] = { [tls.certKey]: opts.certs.cert, [tls.keyKey]: opts.certs.key, [tls.caKey]: opts.certs.ca };
    }
    const cluster = new Cluster([...manifests, ...(opts.extraManifests ?? [])], { subnet: opts.subnet, name: opts.name, network: 'netns', secrets });
    const env = new ClusterEnv(rc, cluster, opts.editManifests, {
      password: auth ? opts.password : undefined,
      tls: tls && opts.certs ? { ca: opts.certs.ca, cert: opts.certs.cert, key: opts.certs.key } : undefined,
    });
    env.props = opts.props ?? {};
    try {
      for (const [claim, dir] of opts.claims ?? []) {
        fs.mkdirSync(path.dirname(cluster.claimDir(claim)), { recursive: true });
        fs.cpSync(dir, cluster.claimDir(claim), { recursive: true, preserveTimestamps: true });
        // cpSync keeps modes, not owners: give the files back to the pod's user, as the volume had them.
        chownTree(cluster.claimDir(claim), dir);
      }
      env.startedAt = Date.now();
      await cluster.start();
    } catch (e) {
      await cluster.shutdown();
      throw e;
    }
    return env;
  }

  /** The props the chart runs with now (see {@link apply}). */
  props: RedisClusterProps = {};
  startedAt = 0;
  private readonly ioClients: IoCluster[] = [];

  /**
   * @param access how the test reaches a node: the chart's password, and with TLS the CA (and the
   *   nodes' own certificate as a client certificate, as `tls-auth-clients` may ask for one)
   */
  private constructor(public rc: RedisCluster, readonly cluster: Cluster, private readonly edit: ((objects: K8sObject[]) => void) | undefined,
    readonly access: { password?: string; tls?: { ca: string; cert: string; key: string } } = {}) {}

  /**
   * The chart re-synthesized with `props` and applied as `kubectl apply --prune -l <instance label>`
   * does (the harness's reconcile: new nodes created and started, the topology ConfigMap refreshed in
   * running pods, removed nodes deleted, admission policies checked first). Throws, changing nothing,
   * when an admission policy refuses it.
   */
  async apply(props: RedisClusterProps): Promise<void> {
    const { rc, manifests } = ClusterEnv.synth(props);
    this.edit?.(manifests);
    await this.cluster.reconcile(manifests, { prune: groupLabelsOf(rc) });
    this.rc = rc;
    this.props = props;
  }

  /**
   * The chart deleted as `kubectl delete` of everything but its claims does: every Service, Deployment
   * and ConfigMap goes at once (the Services' names with them), and every pod stops as on a pod
   * deletion (preStop hook, SIGTERM, its grace period). Resolves once every pod is gone.
   */
  async deleteChart(): Promise<void> {
    // The objects as they are now (a rollout may have changed them since the chart was synthesized).
    const held = this.cluster.objectsNow();
    // As the README says: the scale-in guard's binding first, or the guard refuses deleting undrained nodes.
    await this.cluster.reconcile(held.filter((o) => o.kind !== 'ValidatingAdmissionPolicyBinding'), { prune: groupLabelsOf(this.rc) });
    await this.cluster.reconcile(held.filter((o) => o.kind === 'PersistentVolumeClaim'), { prune: groupLabelsOf(this.rc) });
  }

  /** Each shard's share of the slots: an even split among the active shards, none for a draining one. */
  get shares(): number[] {
    const active = this.rc.shards - this.rc.drainedShards;
    const ranges = shardSlotRanges(active);
    return Array.from({ length: this.rc.shards }, (_, s) => (s < active ? ranges[s].end - ranges[s].start + 1 : 0));
  }

  /** Every node's pod, shard by shard, member 0 first. */
  get pods(): Pod[] {
    return this.rc.nodes.map((n) => this.cluster.podsOf(n.deployment.name)[0]);
  }

  shardOf(pod: Pod): number {
    return this.rc.nodes[this.pods.indexOf(pod)].shard;
  }

  /** The VIP of a node's Service: the address the node announces. */
  vipOf(pod: Pod): string {
    const vip = this.cluster.network!.vipOf(this.cluster.service(this.rc.nodes[this.pods.indexOf(pod)].host));
    if (!vip) throw new Error(`${pod.name}: its Service has no VIP`);
    return vip;
  }

  /** One command to a node's own pod address, bounded; undefined when it does not answer. */
  async ask(pod: Pod, ...args: string[]): Promise<string | undefined> {
    let client: RedisClient | undefined;
    try {
      client = await RedisClient.connect(pod.address, 6379, { timeoutMs: 3000, ...this.access });
      const r = await client.commandWithTimeout(3000, ...args);
      return typeof r === 'string' ? r : JSON.stringify(r);
    } catch {
      return undefined;
    } finally {
      client?.close();
    }
  }

  async view(pod: Pod): Promise<NodeView[]> {
    return parseNodes((await this.ask(pod, 'CLUSTER', 'NODES')) ?? '');
  }

  async myself(pod: Pod): Promise<NodeView | undefined> {
    return (await this.view(pod)).find((l) => l.flags.includes('myself'));
  }

  /**
   * What is wrong with the cluster as every node sees it: cluster_state, every node known and
   * not failing, every slot owned once and none importing or migrating (nor any atomic slot
   * migration under way), each shard one master
   * holding its share ({@link shares}) with its replicas linked. [] when healthy.
   */
  async problems(): Promise<string[]> {
    const out: string[] = [];
    const shares = this.shares;
    const me = new Map<Pod, NodeView | undefined>();
    for (const pod of this.pods) {
      const info = (await this.ask(pod, 'CLUSTER', 'INFO')) ?? '(no answer)';
      if (!info.includes('cluster_state:ok')) out.push(`${pod.name}: ${/cluster_state:\w+/.exec(info)?.[0] ?? info}`);
      const text = (await this.ask(pod, 'CLUSTER', 'NODES')) ?? '';
      const view = parseNodes(text);
      me.set(pod, view.find((l) => l.flags.includes('myself')));
      if (view.length !== this.pods.length) out.push(`${pod.name} lists ${view.length} nodes`);
      for (const l of view) {
        const bad = l.flags.filter((f) => ['fail', 'fail?', 'noaddr', 'handshake'].includes(f));
        if (bad.length) out.push(`${pod.name} flags ${l.ip} ${bad.join(',')}`);
      }
      const open = text.split('\n').filter((l) => l.includes('myself') && l.includes('['));
      if (open.length) out.push(`${pod.name} has slots open: ${open.join(' ')}`);
      // An atomic slot migration (Valkey 9+) is not shown in CLUSTER NODES: none may be under way.
      const jobs = (await this.ask(pod, 'CLUSTER', 'GETSLOTMIGRATIONS')) ?? '';
      const running = [...jobs.matchAll(/"state","([a-z-]+)"/g)].map((m) => m[1]).filter((st) => !['success', 'failed', 'cancelled'].includes(st));
      if (running.length) out.push(`${pod.name} has slot migrations under way: ${running.join(' ')}`);
      const owned = new Array<number>(16384).fill(0);
      for (const l of view.filter((v) => v.flags.includes('master'))) {
        for (const r of l.slots) {
          const [a, b = a] = r.split('-').map(Number);
          for (let slot = a; slot <= b; slot++) owned[slot]++;
        }
      }
      const wrong = owned.map((n, slot) => ({ n, slot })).filter((x) => x.n !== 1);
      if (wrong.length) out.push(`${pod.name}: ${wrong.length} slots not owned exactly once (slot ${wrong[0].slot}: ${wrong[0].n})`);
    }
    for (let s = 0; s < this.rc.shards; s++) {
      const members = this.pods.filter((p) => this.shardOf(p) === s);
      const masters = members.filter((p) => me.get(p)?.flags.includes('master'));
      if (masters.length !== 1) {
        out.push(`shard ${s}: ${masters.length} masters`);
        continue;
      }
      const held = (me.get(masters[0])?.slots ?? []).reduce((sum, r) => { const [a, b = a] = r.split('-').map(Number); return sum + b - a + 1; }, 0);
      if (held !== shares[s]) out.push(`shard ${s}: master ${masters[0].name} owns ${held} slots (${me.get(masters[0])?.slots.join(' ')}), not its share ${shares[s]}`);
      for (const r of members.filter((p) => p !== masters[0])) {
        if (me.get(r)?.master !== me.get(masters[0])?.id) out.push(`shard ${s}: ${r.name} is not a replica of ${masters[0].name}`);
        else if (!((await this.ask(r, 'INFO', 'replication')) ?? '').includes('master_link_status:up')) out.push(`shard ${s}: ${r.name}'s link is not up`);
      }
    }
    return out;
  }

  /**
   * The nodes that hold keys in slots their shard does not own (left by a cut import, or a move
   * not cleaned up): every node's keys, read with SCAN, against the slots of its shard's master as
   * the node sees them; [] when none.
   */
  async strayKeys(): Promise<string[]> {
    const out: string[] = [];
    for (const pod of this.pods) {
      const view = await this.view(pod);
      const me = view.find((l) => l.flags.includes('myself'));
      const owner = me?.flags.includes('master') ? me : view.find((l) => l.id === me?.master);
      if (!owner) {
        out.push(`${pod.name}: no master of its shard in its view`);
        continue;
      }
      const owned = new Array<boolean>(16384).fill(false);
      for (const r of owner.slots) {
        const [lo, hi = lo] = r.split('-').map(Number);
        for (let slot = lo; slot <= hi; slot++) owned[slot] = true;
      }
      const stray: string[] = [];
      let cursor = '0';
      let done = false;
      const until = Date.now() + 30_000;
      while (!done && Date.now() < until) {
        const reply = await this.ask(pod, 'SCAN', cursor, 'COUNT', '1000');
        if (reply === undefined) break;
        const [next, keys] = JSON.parse(reply) as [string, string[]];
        stray.push(...keys.filter((k) => !owned[keySlot(k)]));
        cursor = next;
        done = cursor === '0';
      }
      if (!done) out.push(`${pod.name}: its keys could not be read to the end`);
      if (stray.length) out.push(`${pod.name}: ${stray.length} keys in slots its shard does not own (${stray.slice(0, 3).join(', ')})`);
    }
    return out;
  }

  /**
   * Samples every `periodMs`, until stopped (at most 10 minutes), which nodes do not serve: no answer,
   * or a replica whose link is down or still syncing, as the preStop hooks judge their turns.
   */
  watchServing(periodMs = 300): { stop(): Promise<Array<{ at: number; away: string[] }>> } {
    const samples: Array<{ at: number; away: string[] }> = [];
    let running = true;
    const serving = (info: string | undefined) => info !== undefined && (info.includes('role:master')
      || (info.includes('master_link_status:up') && info.includes('master_sync_in_progress:0')));
    const loop = (async () => {
      const until = Date.now() + 10 * 60_000;
      while (running && Date.now() < until) {
        const at = Date.now();
        const answers = await Promise.all(this.pods.map(async (p) => ({ p, ok: serving(await this.ask(p, 'INFO', 'replication')) })));
        samples.push({ at, away: answers.filter((x) => !x.ok).map((x) => x.p.name.replace(/-deployment-.*/, '')) });
        await sleep(periodMs);
      }
    })();
    return { stop: async () => { running = false; await loop; return samples; } };
  }

  /**
   * Each node's replication, what a master's NOREPLICAS depends on: its role, min-replicas-to-write,
   * its replicas' state and lag (or its link to its master). Shown when writes are refused too long.
   */
  async replicationReport(): Promise<string> {
    const lines = await Promise.all(this.pods.map(async (p) => {
      const info = (await this.ask(p, 'INFO', 'replication')) ?? '(no answer)';
      const min = (await this.ask(p, 'CONFIG', 'GET', 'min-replicas-to-write')) ?? '(no answer)';
      const fields = info.split(/\r?\n/).filter((l) => /^(role|connected_slaves|slave\d+|master_link_status|master_last_io_seconds_ago|master_sync_in_progress):/.test(l));
      return `${p.name.replace(/-deployment-.*/, '')}: ${fields.join(' ')}; min-replicas-to-write ${min}`;
    }));
    return lines.join('\n');
  }

  /**
   * Waits, bounded, until `writer` has more than `perShard` WAIT-acknowledged writes on every shard;
   * a timeout names the writer's failures and every node's replication.
   */
  async waitReplicatedWrites(writer: ClusterWriter, perShard: number, what: string, timeoutMs = 30_000): Promise<void> {
    const shards = Array.from({ length: this.shares.length }, (_, i) => i);
    try {
      await waitUntil(() => shards.every((s) => writer.acks.filter((a) => a.shard === s && a.replicated).length > perShard), timeoutMs, what);
    } catch (e) {
      throw new Error(`${errText(e)}; the writer's failures: ${writer.describeFailures()}\n${await this.replicationReport()}`);
    }
  }

  /** Waits, bounded, until the cluster is healthy (see {@link problems}); the wait's length. */
  async waitHealthy(what: string, timeoutMs: number): Promise<number> {
    const started = Date.now();
    let seen: string[] = [];
    try {
      await waitUntil(async () => (seen = await this.problems()).length === 0, timeoutMs, what, { intervalMs: 500 });
    } catch (e) {
      throw new Error(`${errText(e)}\nlast problems:\n${seen.join('\n')}\n${this.cluster.dumpLogs(this.pods, Number(process.env.E2E_DUMP_LINES ?? 30))}`);
    }
    return Date.now() - started;
  }

  /** The claim of a node's pod. */
  claimOf(pod: Pod): string {
    return this.rc.nodes[this.pods.indexOf(pod)].claim.name;
  }

  /** Copies every claim's data to a new temporary directory (pods stopped or deleted): claim name -> copy. */
  saveClaims(into: string): Map<string, string> {
    const out = new Map<string, string>();
    for (const claim of this.rc.nodes.map((n) => n.claim.name)) {
      const copy = path.join(into, claim);
      fs.cpSync(this.cluster.claimDir(claim), copy, { recursive: true, preserveTimestamps: true });
      chownTree(copy, this.cluster.claimDir(claim));
      out.set(claim, copy);
    }
    return out;
  }

  /** The master pod of a shard now, by its own view. */
  async masterOf(shard: number): Promise<Pod | undefined> {
    for (const pod of this.pods.filter((p) => this.shardOf(p) === shard)) {
      const m = await this.myself(pod);
      if (m?.flags.includes('master') && m.slots.length > 0) return pod;
    }
    return undefined;
  }

  /** An ioredis Cluster client seeded with every node's Service VIP, as a client in the cluster would be. */
  ioredis(opts: { commandTimeoutMs?: number } = {}): IoCluster {
    const c = new IoCluster(this.pods.map((p) => ({ host: this.vipOf(p), port: 6379 })), {
      clusterRetryStrategy: (times) => Math.min(100 * times, 1000),
      redisOptions: {
        connectTimeout: 2000, commandTimeout: opts.commandTimeoutMs ?? 3000, maxRetriesPerRequest: 1, password: this.access.password,
        // Node addresses are Service IPs, which the certificate does not name: trust the CA, skip the name.
        tls: this.access.tls && { ...this.access.tls, checkServerIdentity: () => undefined },
      },
      slotsRefreshTimeout: 2000,
    });
    c.on('error', () => undefined);
    // ioredis refreshes its slot map on MOVED only: without a period, the slots of a master lost for
    // good stay mapped to its dead address (commands time out) however soon its replica took over.
    // Not its slotsRefreshInterval option: ioredis 6.0 schedules the next round when a refresh ends,
    // even one that ends after disconnect(), and that timer then keeps Jest from exiting. This one
    // ends with the client, and never holds the process.
    const refresh = setInterval(() => { if (c.status === 'ready') c.refreshSlotsCache(); }, 1000);
    refresh.unref();
    c.once('end', () => clearInterval(refresh));
    this.ioClients.push(c);
    return c;
  }

  async shutdown(): Promise<void> {
    for (const c of this.ioClients) c.disconnect();
    await this.cluster.shutdown();
  }
}
