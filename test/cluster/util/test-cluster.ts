/**
 * A Redis/Valkey Cluster of real servers, each node started by the rendered entrypoint as its pod
 * would be: its ConfigMap at /opt/redis-ha, its volume at /data, an emptyDir at /run/redis-ha, in a
 * private root whose /etc/hosts maps every node's Service name to the loopback address standing in
 * for its ClusterIP (a generation of addresses: a new generation is a chart deleted and applied
 * again, every Service IP new, every volume kept).
 */
import { spawnSync } from 'child_process';
import { readFileSync, readdirSync, renameSync, writeFileSync } from 'fs';
import { join } from 'path';
import { ClusterEndpointType, renderClusterConf } from '../../../src/cluster/cluster-config';
import { renderClusterNodeEntrypoint } from '../../../src/cluster/node-entrypoint';
import { renderClusterNodePreStop } from '../../../src/cluster/node-prestop';
import { ClusterProbeMode, renderClusterNodeProbe } from '../../../src/cluster/node-probe';
import { renderClusterNodeGuarantee } from '../../../src/cluster/node-guarantee';
import { renderClusterNodeRebalance } from '../../../src/cluster/node-rebalance';
import { ShardState, TOPOLOGY_DIR, TOPOLOGY_FILE, renderTopology } from '../../../src/cluster/topology';
import { REDIS_PATHS } from '../../../src/server-config';
import { RealProcess } from '../../util/process';
import { tempDir } from '../../util/temp';

/** The binaries of one engine line. */
export interface Engine {
  readonly name: string;
  readonly server: string;
  readonly cli: string;
}

/** One line of CLUSTER NODES. */
export interface NodeLine {
  readonly id: string;
  readonly ip: string;
  readonly port: number;
  readonly host: string;
  readonly flags: string[];
  readonly master: string;
  /** Slot ranges owned, as printed (`0-5460`, `5461`); importing/migrating entries left out. */
  readonly slots: string[];
}

export interface TestClusterOptions {
  readonly engine: Engine;
  readonly shards: number;
  readonly replicasPerShard: number;
  /** Addresses 127.0.(subnet + generation).(node index + 1). */
  readonly subnet: number;
  readonly port: number;
  readonly busPort: number;
  readonly nodeTimeoutMillis: number;
  /** min-replicas-to-write, in the config and the pods' env (default 1). */
  readonly minReplicasToWrite?: number;
}

export class TestNode {
  /** The host directory behind /data; replaced to give the node an empty volume. */
  data = tempDir('cluster-data');
  proc?: RealProcess;
  constructor(readonly index: number, readonly shard: number, readonly member: number, readonly name: string) {}
}

/** Every process descended from `pid` (children first found through /proc), deepest last. */
function descendants(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(e)]);
    } catch {
      /* gone */
    }
  }
  const out: number[] = [];
  const visit = (p: number) => (parents.get(p) ?? []).forEach((c) => { out.push(c); visit(c); });
  visit(pid);
  return out;
}

export class TestCluster {
  readonly nodes: TestNode[] = [];
  /** Why the last call of {@link cli} to each node got no answer (for failure messages). */
  readonly silence = new Map<TestNode, string>();
  generation = 0;
  private readonly config = tempDir('cluster-config');
  /** The topology ConfigMap's mount, shared by every pod and rewritten in place as kubelet refreshes it. */
  private readonly topology = tempDir('cluster-topology');
  private readonly hostsDirs = new Map<number, string>();
  private readonly script = renderClusterNodeEntrypoint();
  /** Shards of the chart; the highest `drained` of them are draining. */
  shards = 0;
  drained = 0;
  /** Generations whose addresses are an earlier generation's, handed round (see {@link reuseAddresses}). */
  private readonly rotations = new Map<number, { from: number; shift: number; count: number }>();
  /** Service names left out of every pod's hosts file (their DNS records not there yet); {@link refreshHosts} after a change. */
  readonly unresolvable = new Set<string>();

  constructor(readonly o: TestClusterOptions) {
    this.resize(o.shards);
    writeFileSync(join(this.config, 'redis.conf'), renderClusterConf({
      port: o.port, busPort: o.busPort, nodeTimeoutMillis: o.nodeTimeoutMillis,
      preferredEndpointType: ClusterEndpointType.IP, minReplicasToWrite: o.minReplicasToWrite ?? 1, minReplicasMaxLagSeconds: 10,
    }));
    writeFileSync(join(this.config, 'entrypoint.sh'), this.script);
    writeFileSync(join(this.config, 'probe.sh'), renderClusterNodeProbe());
    writeFileSync(join(this.config, 'prestop.sh'), renderClusterNodePreStop());
    writeFileSync(join(this.config, 'rebalance.sh'), renderClusterNodeRebalance());
    writeFileSync(join(this.config, 'guarantee.sh'), renderClusterNodeGuarantee());
  }

  /**
   * The chart applied with `shards` and `drained` draining shards: nodes of added shards join the
   * list (not started), the topology file and every running pod's hosts file are rewritten in place.
   * Returns the added nodes. Shards are only removed by {@link removeShards}.
   */
  resize(shards: number, drained = 0): TestNode[] {
    const added: TestNode[] = [];
    for (let s = this.shards; s < shards; s++) {
      for (let m = 0; m <= this.o.replicasPerShard; m++) {
        const n = new TestNode(this.nodes.length, s, m, `node-${s}-${m}.cache.svc.cluster.local`);
        this.nodes.push(n);
        added.push(n);
      }
    }
    this.shards = Math.max(this.shards, shards);
    this.drained = drained;
    this.writeTopology();
    return added;
  }

  /** The chart applied with the drained shards gone: their nodes leave the topology and the list (stop them first). */
  removeShards(): TestNode[] {
    const keep = this.shards - this.drained;
    const gone = this.nodes.filter((n) => n.shard >= keep);
    this.nodes.splice(0, this.nodes.length, ...this.nodes.filter((n) => n.shard < keep));
    this.shards = keep;
    this.drained = 0;
    this.writeTopology();
    return gone;
  }

  private writeTopology(): void {
    const text = renderTopology(Array.from({ length: this.shards }, (_, index) => ({
      index,
      state: index < this.shards - this.drained ? ShardState.ACTIVE : ShardState.DRAIN,
      hosts: this.shardNodes(index).map((n) => n.name),
    })));
    const file = join(this.topology, TOPOLOGY_FILE.slice(TOPOLOGY_DIR.length + 1));
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file);
    this.refreshHosts();
  }

  /** Rewrites every pod's hosts file in place, as DNS would answer now. */
  refreshHosts(): void {
    for (const dir of this.hostsDirs.values()) writeFileSync(join(dir, 'hosts'), this.hostsText());
  }

  /** Runs the node's rendered probe as kubelet would (in the pod: the server at its bind address); its exit code and message. */
  probe(n: TestNode, mode: ClusterProbeMode): { code: number | null; message: string } {
    const r = spawnSync('sh', [join(this.config, 'probe.sh'), mode], {
      encoding: 'utf8', timeout: 10_000,
      env: { PATH: process.env.PATH, CLI_BIN: this.o.engine.cli, REDIS_PORT: String(this.o.port), BIND_ADDRESS: this.ip(n) },
    });
    return { code: r.status, message: (r.stderr ?? '').trim() };
  }

  /** The address standing in for a node's Service IP in the current generation. */
  ip(n: TestNode, generation = this.generation): string {
    const r = this.rotations.get(generation);
    const i = this.nodes.indexOf(n);
    if (r && i >= 0 && i < r.count) return this.ip(this.nodes[(i + r.shift) % r.count], r.from);
    return `127.0.${this.o.subnet + generation}.${n.index + 1}`;
  }

  /**
   * A re-apply where every Service gets a ClusterIP another node's Service had: a new generation in
   * which each node has the address the node `shift` places after it (in the node list) had in the
   * current one. Nodes added later get fresh addresses.
   */
  reuseAddresses(shift: number): void {
    const from = this.generation;
    this.generation = Math.max(from, ...this.rotations.keys(), ...this.hostsDirs.keys()) + 1;
    this.rotations.set(this.generation, { from, shift, count: this.nodes.length });
  }

  shardNodes(shard: number): TestNode[] {
    return this.nodes.filter((n) => n.shard === shard);
  }

  /**
   * The hosts file every pod of the current generation sees, and a resolv.conf naming a loopback
   * address where nothing listens, so a lookup the hosts file cannot answer (glibc asks for IPv6
   * too) fails at once and never leaves the machine.
   */
  private hostsFile(): string {
    let dir = this.hostsDirs.get(this.generation);
    if (!dir) {
      dir = tempDir('cluster-hosts');
      this.hostsDirs.set(this.generation, dir);
      writeFileSync(join(dir, 'resolv.conf'), 'nameserver 127.255.255.254\noptions timeout:1 attempts:1\n');
    }
    // Rewritten in place (same inode), so the pods that bind-mount it see names added later.
    writeFileSync(join(dir, 'hosts'), this.hostsText());
    return dir;
  }

  private hostsText(): string {
    const listed = this.nodes.filter((n) => !this.unresolvable.has(n.name));
    return ['127.0.0.1\tlocalhost', ...listed.map((n) => `${this.ip(n)}\t${n.name}`), ''].join('\n');
  }

  /** The mounts and environment of a node's pod in the current generation. */
  private pod(n: TestNode, hosts: string): { mounts: Parameters<typeof RealProcess.start>[1]; env: NodeJS.ProcessEnv } {
    return {
      mounts: [
        { source: this.config, target: REDIS_PATHS.config, readOnly: true },
        { source: this.topology, target: TOPOLOGY_DIR, readOnly: true },
        { source: n.data, target: REDIS_PATHS.data },
        { source: tempDir('cluster-run'), target: REDIS_PATHS.run },
        { source: join(hosts, 'hosts'), target: '/etc/hosts', readOnly: true },
        { source: join(hosts, 'resolv.conf'), target: '/etc/resolv.conf', readOnly: true },
      ],
      env: {
        PATH: process.env.PATH, SERVER_BIN: this.o.engine.server, CLI_BIN: this.o.engine.cli,
        REDIS_PORT: String(this.o.port), BUS_PORT: String(this.o.busPort), BIND_ADDRESS: this.ip(n),
        ANNOUNCE_HOST: n.name, SHARD_FIRST: String(n.member === 0), JOIN_SECONDS: '90', REBALANCE_INTERVAL_SECONDS: '1',
        MIN_REPLICAS_TO_WRITE: String(this.o.minReplicasToWrite ?? 1), PRESTOP_WAIT_SECONDS: '50',
      },
    };
  }

  start(n: TestNode, hosts = this.hostsFile()): RealProcess {
    const { mounts, env } = this.pod(n, hosts);
    n.proc = RealProcess.start(['sh', `${REDIS_PATHS.config}/entrypoint.sh`], mounts, env);
    return n.proc;
  }

  /**
   * Runs the node's rendered preStop hook as kubelet would, in the pod, and waits (bounded) for it
   * to return; then the node's processes end as its container's would. Returns what the hook logged.
   */
  async preStop(n: TestNode): Promise<string> {
    const { mounts, env } = this.pod(n, this.hostsFile());
    const hook = RealProcess.start(['sh', `${REDIS_PATHS.config}/prestop.sh`], mounts, env);
    try {
      await hook.exitCode(60_000);
    } finally {
      await hook.kill();
    }
    await this.stop(n);
    return hook.output();
  }

  startAll(): void {
    const hosts = this.hostsFile();
    for (const n of this.nodes) this.start(n, hosts);
  }

  /**
   * Ends a node as its container would end: `signal` to the server (SIGTERM: a graceful stop;
   * SIGKILL: a crash), then every process the entrypoint left (its join routine), each by PID.
   */
  async stop(n: TestNode, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const proc = n.proc;
    if (!proc) return;
    const left = descendants(proc.pid);
    try {
      process.kill(proc.pid, signal);
    } catch {
      /* already gone */
    }
    try {
      await proc.exitCode(15_000);
    } finally {
      await proc.kill();
      for (const pid of left) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      n.proc = undefined;
    }
  }

  async stopAll(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.stop(n, signal)));
  }

  /** Runs the engine's client against a node's current address; '' when it does not answer. */
  /** Runs the engine's cli against a node, bounded by `timeoutMs`; its output, '' when it got none. */
  cli(n: TestNode, args: string[], input?: string, timeoutMs = 10_000): string {
    const r = spawnSync(this.o.engine.cli, ['-h', this.ip(n), '-p', String(this.o.port), ...args], { encoding: 'utf8', timeout: timeoutMs, input });
    const out = (r.stdout ?? '').trim();
    if (out) this.silence.delete(n);
    else this.silence.set(n, `${args.join(' ')}: ${r.error?.message ?? `exit ${r.status} ${r.signal ?? ''}`} ${(r.stderr ?? '').trim()}`);
    return out;
  }

  info(n: TestNode, key: string): string | undefined {
    const m = new RegExp(`^${key}:(.*)$`, 'm').exec(this.cli(n, ['cluster', 'info']) + '\n' + this.cli(n, ['info', 'replication']));
    return m?.[1].trim();
  }

  /** A node's CLUSTER NODES, parsed; [] when it does not answer. */
  view(n: TestNode): NodeLine[] {
    return parseClusterNodes(this.cli(n, ['cluster', 'nodes']));
  }

  myself(n: TestNode): NodeLine | undefined {
    return this.view(n).find((l) => l.flags.includes('myself'));
  }
}

export function parseClusterNodes(text: string): NodeLine[] {
  return text.split('\n').filter((l) => /^[0-9a-f]{40} /.test(l)).map((l) => {
    const f = l.trim().split(/\s+/);
    const [address, host = ''] = f[1].split(',');
    const hostPort = address.split('@')[0];
    const colon = hostPort.lastIndexOf(':');
    return {
      id: f[0], ip: hostPort.slice(0, colon), port: Number(hostPort.slice(colon + 1)), host,
      flags: f[2].split(','), master: f[3], slots: f.slice(8).filter((s) => !s.startsWith('[')),
    };
  });
}

/** The hash slot of a key (CRC16-XMODEM of the key, or of its `{hash tag}`, mod 16384). */
export function keySlot(key: string): number {
  const open = key.indexOf('{');
  const close = open >= 0 ? key.indexOf('}', open + 1) : -1;
  const hashed = close > open + 1 ? key.slice(open + 1, close) : key;
  let crc = 0;
  for (const byte of Buffer.from(hashed)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

/** Whether a slot lies in one of these printed ranges. */
export function inRanges(slot: number, ranges: string[]): boolean {
  return ranges.some((r) => {
    const [a, b = a] = r.split('-').map(Number);
    return slot >= a && slot <= b;
  });
}

/** Polls `check` every 200 ms for at most `ms`; fails with what it saw last. */
export async function waitFor(what: string, check: () => { ok: boolean; seen: string }, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = check();
    if (r.ok) return;
    if (Date.now() >= deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}; last seen:\n${r.seen}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}
