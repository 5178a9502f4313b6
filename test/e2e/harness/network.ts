/**
 * Opt-in pod networks (`network: 'netns'`): every pod in its own network namespace, wired by a veth
 * into a bridge that lives in a namespace of its own; Services get virtual IPs that nftables DNAT
 * rules, like kube-proxy's, send to ready endpoints; partitions are stateless drop rules.
 *
 * Every namespace is held by a `sleep` started here (never `ip netns add`, which writes /run/netns),
 * so all of them, with their veths, bridge and rules, vanish when the holders and the pods' processes
 * die. The test process's own namespace is wired in too, which is why it must be a private one
 * (`unshare -n`): the host's network is never touched.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import type { ServiceInfo } from './cluster';
import type { Pod } from './kubelet';
import { registerGroup, unregisterGroup } from './registry';
import { errText, settleWithin, sleep } from './util';

/** Pods live in 10.244.<subnet>.0/24 (Kubernetes' customary pod range), only inside our namespaces. */
const POD_NET_PREFIX = '10.244';
/** Service VIPs live in 10.96.<subnet>.0/24 (Kubernetes' customary service range), likewise. */
const SERVICE_NET_PREFIX = '10.96';
const NET_BITS = 24;
const BRIDGE_HOST = 1;
/** The test process's own end of the network. */
const CLIENT_HOST = 2;
/** Where the DNS stand-in listens (a second address of the test process's veth). */
const DNS_HOST = 254;
const FIRST_POD_HOST = 10;
const FIRST_VIP_HOST = 10;
/** Highest host number handed to a pod or a VIP (DNS_HOST and above are reserved). */
const LAST_HOST = 250;
const BRIDGE = 'br0';
const POD_IFACE = 'eth0';
/** Bound on each ip/nft/nsenter run and on a holder's start and exit. */
const COMMAND_TIMEOUT_MS = 10_000;
/** Attempts at one rewrite of the rules before it is reported as failed. */
const RULE_UPDATE_ATTEMPTS = 3;
const HOLDER_START_POLL_MS = 10;
/** The programs this mode runs (iproute2, nftables, util-linux). */
const TOOLS = ['ip', 'nft', 'nsenter', 'unshare', 'setpriv'];

/** The harness's address plan for one subnet. */
export class NetPlan {
  constructor(readonly subnet: number) {}

  get podCidr(): string {
    return `${POD_NET_PREFIX}.${this.subnet}.0/${NET_BITS}`;
  }

  get serviceCidr(): string {
    return `${SERVICE_NET_PREFIX}.${this.subnet}.0/${NET_BITS}`;
  }

  get bridgeAddress(): string {
    return `${POD_NET_PREFIX}.${this.subnet}.${BRIDGE_HOST}`;
  }

  get clientAddress(): string {
    return `${POD_NET_PREFIX}.${this.subnet}.${CLIENT_HOST}`;
  }

  get dnsAddress(): string {
    return `${POD_NET_PREFIX}.${this.subnet}.${DNS_HOST}`;
  }

  /** The test process's veth (interface names are at most 15 characters). */
  get clientIface(): string {
    return `e2e${this.subnet}`;
  }

  /** nftables table of this cluster (one per cluster, so several may share the test's namespace). */
  get table(): string {
    return `e2e_${this.subnet}`;
  }

  podAddress(k: number): string {
    return `${POD_NET_PREFIX}.${this.subnet}.${hostNumber(FIRST_POD_HOST + k, 'pods')}`;
  }

  vip(k: number): string {
    return `${SERVICE_NET_PREFIX}.${this.subnet}.${hostNumber(FIRST_VIP_HOST + k, 'Services')}`;
  }
}

function hostNumber(n: number, what: string): number {
  if (n > LAST_HOST) throw new Error(`network: too many ${what} for one /${NET_BITS}`);
  return n;
}

// ---------------------------------------------------------------- namespaces

function netnsOf(pid: number | 'self'): string {
  return fs.readlinkSync(`/proc/${pid}/ns/net`);
}

function parentOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/**
 * The host's network namespace: init's, or where reading init's is denied (no CAP_SYS_PTRACE over
 * it, as in some sandboxes) that of our outermost ancestor we may read.
 */
function hostNetns(): string {
  try {
    return netnsOf(1);
  } catch {
    /* fall back to the ancestors */
  }
  let ns = netnsOf('self');
  for (let pid = process.pid; pid > 1; ) {
    try {
      pid = parentOf(pid);
      if (pid <= 1) break;
      ns = netnsOf(pid);
    } catch {
      break;
    }
  }
  return ns;
}

/** Whether this process runs in a network namespace other than the host's (e.g. under `unshare -n`). */
export function inPrivateNetns(): boolean {
  return netnsOf('self') !== hostNetns();
}

/** Fails early, with the fix, when a program this mode runs is missing. */
function assertTools(): void {
  const dirs = (process.env.PATH ?? '').split(':').filter(Boolean);
  const missing = TOOLS.filter((t) => !dirs.some((d) => fs.existsSync(`${d}/${t}`)));
  if (missing.length) throw new Error(`network: 'netns' needs ${missing.join(', ')}: run scripts/ensure-packages.sh (installs iproute2, nftables)`);
}

export function assertPrivateNetns(): void {
  if (!inPrivateNetns()) {
    throw new Error(
      "network: 'netns' wires the test process's network namespace into the pods' bridge, so it must run in a private one " +
        "(it runs in the host's): launch the tests as `unshare -n sh -c 'ip link set lo up && npx jest ...'`",
    );
  }
}

/** Runs a command, bounded; resolves with stdout, rejects with its stderr on failure. */
export function run(argv: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? COMMAND_TIMEOUT_MS);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${argv.join(' ')}: exit ${code ?? signal}: ${err.trim()}`));
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** Runs a shell script in a namespace (undefined: the test process's own). */
function inNetns(nsPath: string | undefined, script: string): Promise<string> {
  const sh = ['sh', '-c', `set -e\n${script}`];
  return run(nsPath ? ['nsenter', `--net=${nsPath}`, '--', ...sh] : sh);
}

/** A `sleep` alone in a new network namespace, which lives as long as it (or a process that joined it). */
export class NetnsHolder {
  /** Starts a holder and waits (bounded) until it is in its new namespace. */
  static async start(label: string): Promise<NetnsHolder> {
    const before = netnsOf('self');
    // Own process group (registered, killed at exit); pdeathsig: dies with the test runner.
    const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'unshare', '--net', '--', 'sleep', 'infinity'], { detached: true, stdio: 'ignore' });
    if (child.pid === undefined) throw new Error(`network: failed to spawn the holder of ${label}`);
    registerGroup(child.pid);
    const holder = new NetnsHolder(label, child, child.pid);
    const deadline = Date.now() + COMMAND_TIMEOUT_MS;
    for (;;) {
      let ns: string | undefined;
      try {
        ns = netnsOf(holder.pid);
      } catch {
        /* not there yet, or gone */
      }
      if (ns !== undefined && ns !== before) return holder;
      if (holder.exited || Date.now() > deadline) {
        await holder.kill();
        throw new Error(`network: the holder of ${label} (pid ${holder.pid}) never entered a new network namespace`);
      }
      await sleep(HOLDER_START_POLL_MS);
    }
  }

  private exited = false;
  private readonly exit: Promise<void>;

  private constructor(
    readonly label: string,
    child: ChildProcess,
    readonly pid: number,
  ) {
    this.exit = new Promise((resolve) => child.once('exit', () => resolve()));
    void this.exit.then(() => (this.exited = true));
  }

  /** The namespace, for `nsenter --net=`. */
  get path(): string {
    return `/proc/${this.pid}/ns/net`;
  }

  /** The namespace's identity (`net:[inode]`), to check later that nothing holds it any more. */
  get id(): string {
    return netnsOf(this.pid);
  }

  async kill(): Promise<void> {
    if (!this.exited) {
      try {
        process.kill(-this.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      await settleWithin(this.exit, COMMAND_TIMEOUT_MS);
    }
    unregisterGroup(this.pid);
  }
}

// ---------------------------------------------------------------- rules

export interface VipPort {
  port: number;
  protocol: 'tcp' | 'udp';
  /** Ready endpoints (address, target port). */
  endpoints: Array<{ address: string; port: number }>;
}

export interface VipService {
  name: string;
  vip: string;
  ports: VipPort[];
}

/**
 * The cluster's nftables table for one namespace, replaced atomically: VIP:port DNATed (nat OUTPUT,
 * like kube-proxy) to one endpoint picked at random per connection; what is left addressed to a VIP
 * (no ready endpoint, unknown port) rejected; packets to or from `cut` addresses dropped (filter
 * INPUT/OUTPUT, stateless, so open connections stall too; OUTPUT sees the DNATed destination).
 */
export function nftScript(table: string, serviceCidr: string, services: VipService[], cut: string[]): string {
  const chains: string[] = [];
  const nat: string[] = [];
  services.forEach((s, si) =>
    s.ports.forEach((p, pi) => {
      if (p.endpoints.length === 0) return;
      const match = `ip daddr ${s.vip} ${p.protocol} dport ${p.port}`;
      if (p.endpoints.length === 1) {
        nat.push(`${match} dnat to ${p.endpoints[0].address}:${p.endpoints[0].port}`);
        return;
      }
      const names = p.endpoints.map((e, ei) => {
        const name = `ep_${si}_${pi}_${ei}`;
        chains.push(`  chain ${name} {\n    meta l4proto ${p.protocol} dnat to ${e.address}:${e.port}\n  }`);
        return name;
      });
      nat.push(`${match} numgen random mod ${names.length} vmap { ${names.map((n, i) => `${i} : jump ${n}`).join(', ')} }`);
    }),
  );
  const set = `{ ${cut.join(', ')} }`;
  const out = [
    ...(cut.length ? [`ip daddr ${set} drop`] : []),
    `ip daddr ${serviceCidr} meta l4proto tcp reject with tcp reset`,
    `ip daddr ${serviceCidr} reject`,
  ];
  const input = cut.length ? [`ip saddr ${set} drop`] : [];
  const chain = (name: string, hook: string, rules: string[]): string =>
    `  chain ${name} {\n    type ${hook}; policy accept;\n${rules.map((r) => `    ${r}\n`).join('')}  }`;
  return [
    `table ip ${table}`,
    `delete table ip ${table}`,
    `table ip ${table} {`,
    ...chains,
    chain('services', 'nat hook output priority -100', nat),
    chain('output', 'filter hook output priority 0', out),
    chain('input', 'filter hook input priority 0', input),
    '}',
    '',
  ].join('\n');
}

// ---------------------------------------------------------------- the network

/** A partition side member: a pod, or the test process itself. */
export type PartitionMember = Pod | 'test-client';

export interface PartitionHandle {
  /** Removes this partition's rules (others stay). */
  heal(): Promise<void>;
}

/** What the network needs to know of its cluster. */
export interface NetworkHost {
  readonly pods: readonly Pod[];
  readonly services: ReadonlyMap<string, ServiceInfo>;
  /** Whether the pod is an endpoint right now (readiness, as the cluster tracks it). */
  isReady(pod: Pod): boolean;
  log(msg: string): void;
}

interface Cut {
  a: Set<string>;
  b: Set<string>;
}

export class PodNetwork {
  readonly plan: NetPlan;
  private bridge?: NetnsHolder;
  private readonly holders = new Map<Pod, NetnsHolder>();
  private readonly vips = new Map<ServiceInfo, string>();
  private readonly cuts = new Set<Cut>();
  private clientWired = false;
  /** VIPs handed out so far (never handed out again, as a released ClusterIP is not reused at once). */
  private nextVip = 0;
  /** Bridge-side veths made so far (`vp<n>`), likewise. */
  private nextVeth = 0;
  private pending?: Promise<void>;
  private inflight: Promise<void> = Promise.resolve();
  private down = false;

  constructor(
    subnet: number,
    private readonly host: NetworkHost,
  ) {
    this.plan = new NetPlan(subnet);
  }

  /** Assigns VIPs to ClusterIP Services (headless ones get none), in manifest order. */
  assignVips(): void {
    for (const s of this.host.services.values()) this.assignVip(s);
  }

  /** Gives a ClusterIP Service (not a headless one) the next VIP, unless it has one. */
  assignVip(s: ServiceInfo): void {
    if (!s.headless && !this.vips.has(s)) this.vips.set(s, this.plan.vip(this.nextVip++));
  }

  /** A deleted Service's VIP goes; its rules with the next sync. */
  releaseVip(s: ServiceInfo): void {
    this.vips.delete(s);
  }

  /** Whether setup() has built the bridge (pods added later need their namespaces made at once). */
  get isSetUp(): boolean {
    return this.bridge !== undefined && !this.down;
  }

  vipOf(s: ServiceInfo): string | undefined {
    return this.vips.get(s);
  }

  /** The pod's namespace for `nsenter --net=` (undefined before setup). */
  netnsPath(pod: Pod): string | undefined {
    return this.holders.get(pod)?.path;
  }

  /** Identities of every namespace made here (to check that none survives teardown). */
  namespaceIds(): string[] {
    return [this.bridge, ...this.holders.values()].filter((h): h is NetnsHolder => h !== undefined).map((h) => h.id);
  }

  /** PIDs of the holders. */
  holderPids(): number[] {
    return [this.bridge, ...this.holders.values()].filter((h): h is NetnsHolder => h !== undefined).map((h) => h.pid);
  }

  /** Builds the namespaces, bridge, veths and first rules. */
  async setup(): Promise<void> {
    assertPrivateNetns();
    assertTools();
    const p = this.plan;
    this.bridge = await NetnsHolder.start('the bridge');
    await Promise.all(this.host.pods.map(async (pod) => this.holders.set(pod, await NetnsHolder.start(`pod ${pod.name}`))));
    const veths = this.host.pods.map((pod) => this.vethScript(pod));
    await inNetns(
      this.bridge.path,
      [
        disableIpv6(),
        'ip link set lo up',
        `ip link add ${BRIDGE} type bridge`,
        `ip addr add ${p.bridgeAddress}/${NET_BITS} dev ${BRIDGE}`,
        `ip link set ${BRIDGE} up`,
        ...veths,
        `ip link add vc type veth peer name ${p.clientIface} netns ${process.pid}`,
        `ip link set vc master ${BRIDGE} up`,
      ].join('\n'),
    );
    this.clientWired = true;
    await Promise.all(this.host.pods.map((pod) => this.configurePod(pod)));
    // The test process's namespace is private (checked above); only its own veth gets IPv6 off.
    await inNetns(
      undefined,
      [
        `echo 1 > /proc/sys/net/ipv6/conf/${p.clientIface}/disable_ipv6`,
        `ip addr add ${p.clientAddress}/${NET_BITS} dev ${p.clientIface}`,
        `ip addr add ${p.dnsAddress}/${NET_BITS} dev ${p.clientIface}`,
        `ip link set ${p.clientIface} up`,
        `ip route add ${p.serviceCidr} dev ${p.clientIface}`,
      ].join('\n'),
    );
    await this.sync();
    this.host.log(`network: bridge ${p.bridgeAddress} (holder ${this.bridge.pid}), ${this.holders.size} pod namespaces, VIPs in ${p.serviceCidr}, test client ${p.clientAddress}`);
  }

  /** The bridge side of a pod's veth (run in the bridge's namespace); its other end is the pod's eth0. */
  private vethScript(pod: Pod): string {
    const v = `vp${this.nextVeth++}`;
    return `ip link add ${v} type veth peer name ${POD_IFACE} netns ${this.holders.get(pod)?.pid}\nip link set ${v} master ${BRIDGE} up`;
  }

  /** The pod's only routes: its /24 and the VIP range, both on the bridge; no default route. */
  private configurePod(pod: Pod): Promise<string> {
    return inNetns(
      this.netnsPath(pod),
      [
        'ip link set lo up',
        `ip addr add ${pod.address}/${NET_BITS} dev ${POD_IFACE}`,
        `ip link set ${POD_IFACE} up`,
        `ip route add ${this.plan.serviceCidr} dev ${POD_IFACE}`,
        disableIpv6(),
      ].join('\n'),
    );
  }

  /**
   * Namespaces for pods created after setup (before they start), wired to the bridge as setup wires
   * the first ones. Does nothing before setup, which makes every pod's.
   */
  async addPods(pods: Pod[]): Promise<void> {
    if (!this.isSetUp || pods.length === 0) return;
    await Promise.all(pods.map(async (pod) => this.holders.set(pod, await NetnsHolder.start(`pod ${pod.name}`))));
    await inNetns(this.bridge?.path, pods.map((pod) => this.vethScript(pod)).join('\n'));
    await Promise.all(pods.map((pod) => this.configurePod(pod)));
    this.host.log(`network: namespaces for ${pods.map((x) => `${x.name} (${x.address})`).join(', ')}`);
  }

  /**
   * A deleted pod's namespace goes: once the rules no longer reach into it, its holder is killed, and
   * the namespace, with its veth, vanishes with its last process. The pod must be gone from the cluster.
   */
  async removePod(pod: Pod): Promise<void> {
    const holder = this.holders.get(pod);
    if (!holder) return;
    if (this.host.pods.includes(pod)) throw new Error(`network: pod ${pod.name} is still in the cluster`);
    await this.sync().catch((e) => this.host.log(`network: rule update before removing ${pod.name} failed: ${errText(e)}`));
    this.holders.delete(pod);
    await holder.kill();
    this.host.log(`network: namespace of ${pod.name} (holder ${holder.pid}) released`);
  }

  /**
   * Rewrites the rules of every namespace from the current readiness and partitions. Calls coalesce:
   * at most one rewrite runs and one waits; the promise resolves once a rewrite that started after
   * the call is done.
   */
  sync(): Promise<void> {
    if (this.pending) return this.pending;
    const next = this.inflight.then(async () => {
      this.pending = undefined;
      // A rewrite killed by its bound (a loaded machine) leaves the last rules in place until the next
      // change, which may never come: try again, a bounded number of times, as kube-proxy resyncs.
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.applyAll();
        } catch (e) {
          if (attempt >= RULE_UPDATE_ATTEMPTS) throw e;
          this.host.log(`network: rule update failed (attempt ${attempt} of ${RULE_UPDATE_ATTEMPTS}, retrying): ${errText(e)}`);
        }
      }
    });
    this.pending = next;
    this.inflight = next.catch((e) => this.host.log(`network: rule update failed: ${errText(e)}`));
    return next;
  }

  private async applyAll(): Promise<void> {
    if (this.down) return;
    const services = this.vipServices();
    const table = this.plan.table;
    const cidr = this.plan.serviceCidr;
    await Promise.all([
      // Only pods that have their namespace (one without would write into the test process's).
      ...this.host.pods.filter((pod) => this.holders.has(pod)).map((pod) => nft(this.netnsPath(pod), nftScript(table, cidr, services, this.cutFor(pod.address)))),
      nft(undefined, nftScript(table, cidr, services, this.cutFor(this.plan.clientAddress))),
    ]);
  }

  /** Every ClusterIP Service with its ready endpoints (all pods with publishNotReadyAddresses). */
  private vipServices(): VipService[] {
    const out: VipService[] = [];
    for (const [s, vip] of this.vips) {
      const eps = this.endpoints(s);
      out.push({
        name: s.name,
        vip,
        ports: (s.object.spec?.ports ?? []).map((sp: { port: number; protocol?: string; targetPort?: number | string }) => ({
          port: sp.port,
          protocol: (sp.protocol ?? 'TCP').toLowerCase() === 'udp' ? 'udp' : 'tcp',
          endpoints: eps.map((pod) => ({ address: pod.address, port: pod.containerPort(sp.targetPort ?? sp.port) })),
        })),
      });
    }
    return out;
  }

  /**
   * Endpoints of a Service, as the endpoints controller lists them: ready pods, or with
   * publishNotReadyAddresses every pod the harness has not stopped.
   */
  endpoints(s: ServiceInfo): Pod[] {
    if (s.object.spec?.publishNotReadyAddresses) return s.pods.filter((p) => p.anyRunning);
    return s.pods.filter((p) => this.host.isReady(p));
  }

  /** What cluster DNS answers for a Service: its VIP, or (headless) its endpoints' addresses. */
  serviceAddresses(s: ServiceInfo): string[] {
    const vip = this.vips.get(s);
    return vip ? [vip] : this.endpoints(s).map((p) => p.address);
  }

  private addressOf(m: PartitionMember): string {
    return m === 'test-client' ? this.plan.clientAddress : m.address;
  }

  private cutFor(address: string): string[] {
    const out = new Set<string>();
    for (const c of this.cuts) {
      if (c.a.has(address)) c.b.forEach((x) => out.add(x));
      if (c.b.has(address)) c.a.forEach((x) => out.add(x));
    }
    return [...out].sort();
  }

  async partition(groupA: PartitionMember[], groupB: PartitionMember[]): Promise<PartitionHandle> {
    const cut: Cut = { a: new Set(groupA.map((m) => this.addressOf(m))), b: new Set(groupB.map((m) => this.addressOf(m))) };
    for (const x of cut.a) if (cut.b.has(x)) throw new Error(`partition: ${x} is on both sides`);
    this.cuts.add(cut);
    const names = (g: PartitionMember[]): string => g.map((m) => (m === 'test-client' ? m : m.name)).join(',');
    this.host.log(`network: partition [${names(groupA)}] | [${names(groupB)}]`);
    await this.sync();
    return {
      heal: async () => {
        if (!this.cuts.delete(cut)) return;
        this.host.log(`network: healed [${names(groupA)}] | [${names(groupB)}]`);
        await this.sync();
      },
    };
  }

  async healAll(): Promise<void> {
    this.cuts.clear();
    this.host.log('network: healed every partition');
    await this.sync();
  }

  /** Kills the holders (their namespaces go with the last process in them) and undoes the test side. */
  async teardown(): Promise<void> {
    this.down = true;
    await this.inflight;
    await Promise.all([this.bridge, ...this.holders.values()].filter((h): h is NetnsHolder => h !== undefined).map((h) => h.kill()));
    if (!this.clientWired) return;
    const p = this.plan;
    // The veth went with the bridge's namespace, unless that is still being torn down.
    await inNetns(undefined, `ip link del ${p.clientIface} 2>/dev/null || true\nnft delete table ip ${p.table} 2>/dev/null || true`);
    this.clientWired = false;
  }
}

/** IPv6 off in the current namespace, for its devices and those to come (/proc/sys/net is per namespace). */
function disableIpv6(): string {
  return 'for c in all default; do echo 1 > /proc/sys/net/ipv6/conf/$c/disable_ipv6; done';
}

function nft(nsPath: string | undefined, script: string): Promise<string> {
  const argv = ['nft', '-f', '-'];
  return run(nsPath ? ['nsenter', `--net=${nsPath}`, '--', ...argv] : argv, { input: script });
}
