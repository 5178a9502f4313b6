/**
 * A "cluster" made of local processes: runs every Deployment/StatefulSet pod of a set of
 * synthesized manifests on its own loopback address 127.<subnet>.<w>.<i>, with generated
 * /etc/hosts (Services) and /etc/resolv.conf bind-mounted into each container; or, with
 * `network: 'netns'`, each pod in its own network namespace behind kube-proxy-like VIPs (network.ts).
 */
import * as fs from 'fs';
import * as path from 'path';
import { AdmissionRequest, admit, groupVersionOf } from './admission';
import { DnsProcess } from './dns';
import { Container, ExecOptions, ExecResult, Pod, PodHost, ProbeKind, tail } from './kubelet';
import { K8sObject, Secrets, b64decode, expandVars, labelSelectorMatches, labelsMatch, nameOf, nsOf } from './manifest';
import { NetPlan, PartitionHandle, PartitionMember, PodNetwork, assertPrivateNetns } from './network';
import { ReadinessTracker } from './readiness';
import { ConnectOptions, ConnectionError, RedisClient } from './resp';
import { errText, pidAlive } from './util';

export interface ClusterOptions {
  /** Second octet of the pods' loopback addresses (1..254, not 0). Use distinct values per test file. */
  subnet: number;
  /** Secret data the chart references but does not create: { secretName: { key: value } }. */
  secrets?: Secrets;
  /** Label used for the work dir / logs (default 'cluster'). */
  name?: string;
  /** Parent of the work dir (default <repo>/.e2e-work). */
  workRoot?: string;
  /** Echo harness events to console (default: env E2E_VERBOSE=1). */
  verbose?: boolean;
  /**
   * Stand-in for cluster DNS: answer A queries for Service names (same map as /etc/hosts) on
   * 127.<subnet>.255.253:53, which then is the pods' nameserver. Default false: the nameserver is
   * 127.255.255.254, where nothing listens, so DNS lookups fail fast.
   */
  dns?: boolean;
  /**
   * 'loopback' (default): the above. 'netns': every pod in its own network namespace on a bridge,
   * pods in 10.244.<subnet>.0/24, ClusterIP Services on VIPs 10.96.<subnet>.x DNATed to ready
   * endpoints, DNS always on, readiness probes run in the background, partition() available. The
   * test process must run in a private network namespace (`unshare -n`); see README.md.
   */
  network?: 'loopback' | 'netns';
}

export interface ServiceInfo {
  name: string;
  namespace: string;
  headless: boolean;
  object: K8sObject;
  pods: Pod[];
  /** Service port -> target container port (validated equal, except with network 'netns': the first pod's) and port name. */
  ports: Array<{ name?: string; port: number; targetPort: number }>;
}

export interface ReconcileOptions {
  /**
   * `kubectl apply --prune -l <selector>`: objects held now whose labels match (matchLabels; `{}`
   * matches every object, as `--prune --all`) and that are absent from the manifests are deleted.
   * Every kind is pruned, as with a `--prune-allowlist` naming every kind of the chart.
   */
  prune?: Record<string, string>;
  /** Bound on each StatefulSet pod's readiness during a rolling replacement (default 60 s). */
  readyTimeoutMs?: number;
}

export interface ReconcileResult {
  /** Pods of new workloads, or added by a larger `replicas`, started (unless the cluster was not started yet). */
  created: Pod[];
  /** Names of the pods deleted (workload pruned, or a smaller `replicas`), gone once the call returns. */
  deleted: string[];
  /** Pods whose template changed: stopped, then started with the new template. */
  replaced: Array<{ pod: Pod; stoppedAt: number; startedAt: number }>;
}

const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'ReplicaSet'];
const UNSUPPORTED_WORKLOAD_KINDS = ['DaemonSet', 'Job', 'CronJob'];
const DEFAULT_READY_TIMEOUT_MS = 60_000;

/** Identity of an object as the API server keys it: group, kind, namespace, name. */
function objectKey(o: K8sObject): string {
  return `${groupVersionOf(o).group}/${o.kind}/${nsOf(o)}/${nameOf(o)}`;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const DEAD_NAMESERVER = '127.255.255.254';

export class Cluster implements PodHost {
  readonly workDir: string;
  readonly pods: Pod[] = [];
  readonly services = new Map<string, ServiceInfo>();
  readonly notes: string[] = [];
  private readonly objects: K8sObject[];
  private readonly rrIndex = new Map<string, number>();
  private readonly eventLog: string[] = [];
  private readonly verbose: boolean;
  private shutDown = false;
  private networkUp = false;
  private readonly everPids = new Set<number>();
  private readonly dnsNames = new Map<string, string[]>();
  /** network 'netns': Service names, answered from current endpoints. */
  private readonly dnsServices = new Map<string, ServiceInfo>();
  private dnsResponder?: DnsProcess;
  /** The nameserver written to every pod's /etc/resolv.conf. */
  readonly nameserver: string;
  /** Pod networks and VIPs (network: 'netns' only). */
  readonly network?: PodNetwork;
  private readonly readiness?: ReadinessTracker;
  private readonly netPlan?: NetPlan;
  /** Loopback addresses: each workload's number (its third octet), never handed out twice. */
  private readonly workloadNumbers = new Map<string, number>();
  /** Next workload number, and next pod sequence number (netns addresses), to hand out. */
  private alloc = { workload: 1, seq: 0 };
  /** Pods being deleted by reconcile(): no endpoint, no name, still in `pods` until gone. */
  private readonly terminating = new Set<Pod>();
  /** Claims of deleted PVCs whose directory waits for the last pod using them (pvc-protection). */
  private readonly claimsToDelete = new Set<string>();
  private started = false;
  private reconciling: Promise<unknown> = Promise.resolve();

  constructor(
    manifests: K8sObject[],
    private readonly opts: ClusterOptions,
  ) {
    if (!(opts.subnet >= 1 && opts.subnet <= 254)) throw new Error(`subnet must be 1..254, got ${opts.subnet}`);
    this.verbose = opts.verbose ?? process.env.E2E_VERBOSE === '1';
    this.objects = manifests.filter((o) => o && typeof o === 'object' && o.kind);
    if (opts.network === 'netns') {
      assertPrivateNetns();
      this.netPlan = new NetPlan(opts.subnet);
    }
    const root = opts.workRoot ?? path.join(REPO_ROOT, '.e2e-work');
    fs.mkdirSync(root, { recursive: true });
    this.workDir = fs.mkdtempSync(path.join(root, `${opts.name ?? 'cluster'}-`));
    fs.chmodSync(this.workDir, 0o755);
    this.nameserver = this.netPlan?.dnsAddress ?? (opts.dns ? `127.${opts.subnet}.255.253` : DEAD_NAMESERVER);
    this.buildPods();
    this.buildServices();
    if (this.netPlan) {
      this.readiness = new ReadinessTracker(() => void this.network?.sync().catch(() => undefined), (m) => this.log(m));
      this.network = new PodNetwork(opts.subnet, this);
      this.network.assignVips();
    }
    this.writeStaticFiles();
  }

  /** Whether pods have their own network namespaces (network: 'netns'). */
  get netns(): boolean {
    return this.netPlan !== undefined;
  }

  /**
   * A new pod's address: by workload (from 1) and replica on loopback; by creation order (`seq`, never
   * reused) with network 'netns'.
   */
  private podAddress(w: number, replica: number, seq: number): string {
    return this.netPlan ? this.netPlan.podAddress(seq) : `127.${this.opts.subnet}.${w}.${replica + 1}`;
  }

  // ---------------------------------------------------------------- model

  private buildPods(): void {
    for (const o of this.objects) {
      if (UNSUPPORTED_WORKLOAD_KINDS.includes(o.kind)) throw new Error(`harness does not support workload kind ${o.kind} (${nameOf(o)})`);
      if (WORKLOAD_KINDS.includes(o.kind) || o.kind === 'Pod') this.pods.push(...this.newPods(o, 0, replicasOf(o), this.alloc, this.workloadNumbers));
    }
  }

  /**
   * Pods [from, to) of a workload (Deployment, StatefulSet, ReplicaSet, or a bare Pod) as they are
   * created: name, address, claims, template. `alloc` and `numbers` hand out workload numbers and
   * pod sequence numbers (a plan passes copies, so nothing is handed out until it is carried out).
   */
  private newPods(o: K8sObject, from: number, to: number, alloc: { workload: number; seq: number }, numbers: Map<string, number>): Pod[] {
    const kind = o.kind;
    let w = numbers.get(objectKey(o));
    if (w === undefined) {
      w = alloc.workload++;
      if (w > 254) throw new Error('too many workloads');
      numbers.set(objectKey(o), w);
    }
    if (kind === 'Pod') {
      const claims = new Map<string, string>();
      for (const v of o.spec?.volumes ?? []) if (v.persistentVolumeClaim) claims.set(v.name, v.persistentVolumeClaim.claimName);
      return [new Pod(this, nameOf(o), nsOf(o), { kind, name: nameOf(o) }, 0, this.podAddress(w, 0, alloc.seq++), o, claims)];
    }
    const template = o.spec?.template;
    if (!template) throw new Error(`${kind} ${nameOf(o)} has no pod template`);
    if (o.spec?.selector?.matchLabels && !labelsMatch(o.spec.selector.matchLabels, template.metadata?.labels)) {
      throw new Error(`${kind} ${nameOf(o)}: selector does not match its template labels`);
    }
    const pods: Pod[] = [];
    for (let i = from; i < to; i++) {
      const podName = `${nameOf(o)}-${i}`;
      const claims = new Map<string, string>();
      for (const v of template.spec?.volumes ?? []) {
        if (v.persistentVolumeClaim) claims.set(v.name, v.persistentVolumeClaim.claimName);
      }
      if (kind === 'StatefulSet') {
        for (const t of o.spec.volumeClaimTemplates ?? []) claims.set(t.metadata.name, `${t.metadata.name}-${podName}`);
      }
      pods.push(new Pod(this, podName, nsOf(o), { kind, name: nameOf(o) }, i, this.podAddress(w, i, alloc.seq++), template, claims));
    }
    return pods;
  }

  private buildServices(): void {
    for (const s of this.objects.filter((o) => o.kind === 'Service')) {
      const info = this.serviceInfo(s, this.pods, (m) => this.note(m));
      this.services.set(`${info.namespace}/${info.name}`, info);
    }
  }

  /** A Service's pods and ports among `allPods`; throws where the harness cannot serve it. */
  private serviceInfo(s: K8sObject, allPods: readonly Pod[], note: (m: string) => void): ServiceInfo {
    const name = nameOf(s);
    const ns = nsOf(s);
    const selector = s.spec?.selector;
    const pods = selector ? allPods.filter((p) => p.namespace === ns && labelsMatch(selector, p.labels)) : [];
    const headless = s.spec?.clusterIP === 'None';
    if (!selector) note(`Service ${name} has no selector; it gets no hosts entries`);
    else if (pods.length === 0) note(`Service ${name} selects no pod`);
    // With network 'netns' a VIP spreads connections as kube-proxy does: nothing to note.
    if (!headless && pods.length > 1 && !this.netns) {
      note(`ClusterIP Service ${name} selects ${pods.length} pods (${pods.map((p) => p.name).join(', ')}); /etc/hosts lists all of them, cluster.connect() round-robins over running ones`);
    }
    const ports: ServiceInfo['ports'] = [];
    for (const p of s.spec?.ports ?? []) {
      const target = p.targetPort ?? p.port;
      for (const pod of pods) {
        let containerPort: number;
        if (typeof target === 'number' || /^\d+$/.test(String(target))) {
          containerPort = Number(target);
        } else {
          try {
            containerPort = pod.containerPort(String(target));
          } catch {
            throw new Error(`Service ${name} port ${p.name ?? p.port}: targetPort '${target}' is not a named port of pod ${pod.name}`);
          }
        }
        if (containerPort !== p.port && !this.netns) {
          throw new Error(
            `Service ${name} port ${p.name ?? ''} ${p.port} targets container port ${containerPort} of pod ${pod.name}; ` +
              'the harness has no kube-proxy, so service port and container port must be equal',
          );
        }
      }
      ports.push({ name: p.name, port: p.port, targetPort: this.netns && pods.length ? pods[0].containerPort(target) : p.port });
    }
    return { name, namespace: ns, headless, object: s, pods, ports };
  }

  private writeStaticFiles(): void {
    fs.mkdirSync(path.join(this.workDir, 'etc'), { recursive: true });
    for (const pod of this.pods) this.writeResolv(pod);
    for (const pod of this.pods) fs.writeFileSync(this.hostsFile(pod), this.hostsContent(pod), { mode: 0o644 });
    this.rebuildNames();
  }

  private writeResolv(pod: Pod): void {
    const comment = this.opts.dns || this.netns
      ? `# generated by the e2e harness: the harness answers A queries for Service names on ${this.nameserver}`
      : `# generated by the e2e harness: nothing listens on ${this.nameserver}, DNS fails fast`;
    fs.writeFileSync(this.resolvConf(pod), this.resolvContent(pod, comment), { mode: 0o644 });
  }

  /**
   * Rewrites a pod's /etc/hosts where its containers see it: in place, since it is bind-mounted as a
   * file (a rename would leave them the old one), and without a moment of an empty file (the new
   * content is written over the old, then the file is cut to its length).
   */
  private rewriteHosts(pod: Pod): void {
    const f = this.hostsFile(pod);
    const content = Buffer.from(this.hostsContent(pod));
    let old: Buffer | undefined;
    try {
      old = fs.readFileSync(f);
    } catch {
      /* new pod */
    }
    if (old === undefined) {
      fs.writeFileSync(f, content, { mode: 0o644 });
      return;
    }
    if (old.equals(content)) return;
    const fd = fs.openSync(f, 'r+');
    try {
      fs.writeSync(fd, content, 0, content.length, 0);
      fs.ftruncateSync(fd, content.length);
    } finally {
      fs.closeSync(fd);
    }
  }

  /**
   * The DNS stand-in's view: every fully qualified (and partially qualified) Service name (short names
   * via search domains), and StatefulSet pods' names; pods being deleted have none.
   */
  private rebuildNames(): void {
    this.dnsNames.clear();
    this.dnsServices.clear();
    for (const svc of this.services.values()) {
      for (const n of this.serviceNames(svc, svc.namespace)) {
        if (n === svc.name) continue;
        if (this.netns) this.dnsServices.set(n, svc);
        else this.dnsNames.set(n, svc.pods.map((p) => p.address));
      }
    }
    for (const o of this.objects.filter((x) => x.kind === 'StatefulSet' && x.spec?.serviceName)) {
      for (const p of this.statefulSetPods(o)) {
        this.dnsNames.set(`${p.name}.${o.spec.serviceName}.${nsOf(o)}.svc.cluster.local`, [p.address]);
      }
    }
  }

  /** A StatefulSet's pods that have DNS names (not being deleted). */
  private statefulSetPods(o: K8sObject): Pod[] {
    return this.pods.filter((x) => x.owner.kind === 'StatefulSet' && x.owner.name === nameOf(o) && x.namespace === nsOf(o) && !this.terminating.has(x));
  }

  /** What the DNS stand-in answers for a name (undefined: NXDOMAIN). */
  /** Every name the DNS stand-in answers, with its addresses now (Services follow readiness). */
  dnsTable(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const n of [...this.dnsServices.keys(), ...this.dnsNames.keys()]) {
      const a = this.dnsLookup(n);
      if (a && a.length) out[n] = a;
    }
    return out;
  }

  dnsLookup(name: string): string[] | undefined {
    const n = name.toLowerCase().replace(/\.$/, '');
    const svc = this.dnsServices.get(n);
    if (svc && this.network) return this.network.serviceAddresses(svc);
    return this.dnsNames.get(n);
  }

  /**
   * The /etc/hosts content for a pod: localhost and own hostname -> pod address, then all Services;
   * with network 'netns' only localhost and the pod's own name, as kubelet writes it (Services go through DNS).
   */
  hostsContent(pod: Pod): string {
    if (this.netns) return ['# generated by the e2e harness (network: netns)', '127.0.0.1\tlocalhost', `${pod.address}\t${pod.name}`, ''].join('\n');
    const lines = [
      '# generated by the e2e harness',
      `${pod.address}\tlocalhost`,
      '::1\tip6-localhost ip6-loopback',
      `${pod.address}\t${pod.name}`,
    ];
    for (const svc of this.services.values()) {
      const names = this.serviceNames(svc, pod.namespace);
      for (const p of svc.pods) lines.push(`${p.address}\t${names.join(' ')}`);
    }
    // StatefulSet pod DNS names: <pod>.<serviceName>[.<ns>.svc.cluster.local]
    for (const o of this.objects.filter((x) => x.kind === 'StatefulSet' && x.spec?.serviceName)) {
      for (const p of this.statefulSetPods(o)) {
        const sn = o.spec.serviceName;
        const ns = nsOf(o);
        const names = [`${p.name}.${sn}.${ns}.svc.cluster.local`, `${p.name}.${sn}.${ns}.svc`, `${p.name}.${sn}.${ns}`];
        if (ns === pod.namespace) names.push(`${p.name}.${sn}`);
        lines.push(`${p.address}\t${names.join(' ')}`);
      }
    }
    return lines.join('\n') + '\n';
  }

  private serviceNames(svc: ServiceInfo, fromNamespace: string): string[] {
    const n = svc.name;
    const ns = svc.namespace;
    const names = [`${n}.${ns}.svc.cluster.local`, `${n}.${ns}.svc`, `${n}.${ns}`];
    if (ns === fromNamespace) names.unshift(n);
    return names;
  }

  // ---------------------------------------------------------------- PodHost

  log(msg: string): void {
    const line = `${new Date().toISOString()} ${msg}`;
    this.eventLog.push(line);
    try {
      fs.appendFileSync(path.join(this.workDir, 'harness.log'), line + '\n');
    } catch {
      /* work dir removed */
    }
    if (this.verbose) console.log(`[harness] ${msg}`);
  }

  private note(msg: string): void {
    this.notes.push(msg);
    this.log(`NOTE: ${msg}`);
  }

  hostsFile(pod: Pod): string {
    return path.join(this.workDir, 'etc', `hosts-${pod.name}`);
  }

  resolvConf(pod: Pod): string {
    return path.join(this.workDir, 'etc', `resolv-${pod.name}.conf`);
  }

  /**
   * A pod's resolv.conf as kubelet writes it for dnsPolicy ClusterFirst: the search domains of its
   * namespace and `ndots:5`, with the options of the pod's `dnsConfig` merged over them. Lookups time
   * out after 1 s, once: the stand-in runs in the test process, and a starved test process must not
   * block a sentinel in getaddrinfo for glibc's 5 s (Sentinel enters TILT mode after 2 s).
   */
  private resolvContent(pod: Pod, comment: string): string {
    const options = new Map<string, string | undefined>([['ndots', '5'], ['timeout', '1'], ['attempts', '1']]);
    for (const o of (pod.template.spec?.dnsConfig?.options ?? []) as Array<{ name: string; value?: string }>) options.set(o.name, o.value);
    const opts = [...options].map(([k, v]) => (v === undefined ? k : `${k}:${v}`)).join(' ');
    const ns = pod.namespace;
    return `${comment}\nnameserver ${this.nameserver}\nsearch ${ns}.svc.cluster.local svc.cluster.local cluster.local\noptions ${opts}\n`;
  }

  netnsPath(pod: Pod): string | undefined {
    return this.network?.netnsPath(pod);
  }

  podStarted(pod: Pod): void {
    this.readiness?.podStarted(pod);
  }

  containerExited(c: Container): void {
    this.readiness?.containerExited(c);
  }

  rootDir(c: Container): string {
    const dir = path.join(this.workDir, 'roots', `${c.pod.name}_${c.name}`);
    fs.mkdirSync(dir, { recursive: true });
    return dir;
  }

  resolveEnv(pod: Pod, container: K8sObject): Record<string, string> {
    const env: Record<string, string> = { PATH: process.env.E2E_POD_PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOSTNAME: pod.name, HOME: '/' };
    const where = `pod ${pod.name} container ${container.name}`;
    for (const src of container.envFrom ?? []) {
      const prefix = src.prefix ?? '';
      let data: Record<string, string> | undefined;
      if (src.configMapRef) data = this.configMapData(src.configMapRef.name, pod.namespace, src.configMapRef.optional, where);
      else if (src.secretRef) data = this.secretData(src.secretRef.name, pod.namespace, src.secretRef.optional, where);
      else throw new Error(`${where}: unsupported envFrom ${JSON.stringify(src)}`);
      for (const [k, v] of Object.entries(data ?? {})) env[prefix + k] = v;
    }
    for (const e of container.env ?? []) {
      let value: string | undefined;
      if (e.value !== undefined) {
        value = expandVars(String(e.value), env);
      } else if (e.valueFrom?.secretKeyRef) {
        const r = e.valueFrom.secretKeyRef;
        const data = this.secretData(r.name, pod.namespace, r.optional, `${where} env ${e.name}`);
        value = data?.[r.key];
        if (value === undefined && !r.optional) throw new Error(`${where} env ${e.name}: key '${r.key}' missing in Secret ${r.name}`);
      } else if (e.valueFrom?.configMapKeyRef) {
        const r = e.valueFrom.configMapKeyRef;
        const data = this.configMapData(r.name, pod.namespace, r.optional, `${where} env ${e.name}`);
        value = data?.[r.key];
        if (value === undefined && !r.optional) throw new Error(`${where} env ${e.name}: key '${r.key}' missing in ConfigMap ${r.name}`);
      } else if (e.valueFrom?.fieldRef) {
        const f = e.valueFrom.fieldRef.fieldPath;
        if (f === 'status.podIP') value = pod.address;
        else if (f === 'status.podIPs') value = pod.address;
        else if (f === 'metadata.name') value = pod.name;
        else if (f === 'metadata.namespace') value = pod.namespace;
        else if (f.startsWith('metadata.labels[')) value = pod.labels[f.slice(17, -2)] ?? '';
        else throw new Error(`${where} env ${e.name}: unsupported fieldRef ${f}`);
      } else if (e.valueFrom) {
        throw new Error(`${where} env ${e.name}: unsupported valueFrom ${JSON.stringify(e.valueFrom)}`);
      } else {
        value = '';
      }
      if (value === undefined) continue;
      // The one override: the chart binds to BIND_ADDRESS (default 0.0.0.0); here each pod binds its own
      // loopback address (with network 'netns' pods have their own stacks, so 0.0.0.0 stays).
      if (e.name === 'BIND_ADDRESS' && !this.netns) value = pod.address;
      env[e.name] = value;
    }
    return env;
  }

  /**
   * Applies re-synthesized manifests, as `kubectl apply` would: ConfigMaps and Secrets are
   * replaced or added, and the stopped pods of each Deployment get its new template on their
   * next start. Claims and addresses stay. Pods whose template changed must be stopped first.
   */
  apply(manifests: K8sObject[]): void {
    this.replaceConfigObjects(manifests);
    for (const o of manifests.filter((x) => x?.kind === 'Deployment')) {
      const i = this.objects.findIndex((x) => x.kind === 'Deployment' && nameOf(x) === nameOf(o) && nsOf(x) === nsOf(o));
      if (i < 0) throw new Error(`apply: Deployment ${nameOf(o)} is new; the harness only updates existing workloads`);
      if (JSON.stringify(this.objects[i].spec.template) === JSON.stringify(o.spec.template)) continue;
      this.objects[i] = o;
      // Running pods keep the template they started with (use rollout() to replace them).
      for (const pod of this.pods.filter((p) => p.owner.kind === 'Deployment' && p.owner.name === nameOf(o) && !p.anyRunning)) pod.replaceTemplate(o.spec.template);
    }
  }

  /**
   * Applies re-synthesized manifests while the pods run, as `kubectl apply` does with Deployments of
   * strategy Recreate: every pod whose template changed is stopped at once (preStop hook, SIGTERM,
   * grace period), and each starts with its new template as soon as it is gone. Returns the pods
   * replaced, once every one of them has started again, with when each old one was gone and each
   * new one started (ms since epoch).
   */
  async rollout(manifests: K8sObject[]): Promise<Array<{ pod: Pod; stoppedAt: number; startedAt: number }>> {
    const changed: Array<{ pod: Pod; template: K8sObject }> = [];
    for (const o of manifests.filter((x) => x?.kind === 'Deployment')) {
      const old = this.objects.find((x) => x.kind === 'Deployment' && nameOf(x) === nameOf(o) && nsOf(x) === nsOf(o));
      if (!old) throw new Error(`rollout: Deployment ${nameOf(o)} is new; the harness only updates existing workloads`);
      if (JSON.stringify(old.spec.template) === JSON.stringify(o.spec.template)) continue;
      for (const pod of this.pods.filter((p) => p.owner.kind === 'Deployment' && p.owner.name === nameOf(o))) changed.push({ pod, template: o.spec.template });
    }
    // ConfigMaps and Secrets change at once; running pods keep the files they started with (kubelet
    // refreshes mounted ConfigMaps only later), new pods get the new ones.
    this.replaceConfigObjects(manifests);
    this.note(`rollout: replacing ${changed.map((c) => c.pod.name).join(', ') || 'nothing'}`);
    return Promise.all(changed.map(async ({ pod, template }) => {
      await pod.stop();
      const stoppedAt = Date.now();
      const i = this.objects.findIndex((x) => x.kind === 'Deployment' && nameOf(x) === pod.owner.name && nsOf(x) === pod.namespace);
      this.objects[i] = { ...this.objects[i], spec: { ...this.objects[i].spec, template } };
      pod.replaceTemplate(template);
      const startedAt = Date.now();
      await this.startPod(pod);
      return { pod, stoppedAt, startedAt };
    }));
  }

  /**
   * As `kubectl apply --prune -l <selector>` on re-synthesized manifests, while the pods run; one call
   * is one apply, carried out as the API server, the controllers, kubelet, kube-proxy and CoreDNS would:
   *
   * - Checked first, all of it, before anything changes (a refusal throws and changes nothing):
   *   immutable fields of updated objects (a workload's selector, a StatefulSet's serviceName and
   *   volumeClaimTemplates, a Service's headlessness, a Pod's spec), then every CREATE, UPDATE and DELETE
   *   against the ValidatingAdmissionPolicies and bindings held now (admission.ts; the error quotes the
   *   API server's refusal, with the validation's message), then what the harness can run.
   * - New objects are stored; a new workload gets its pods (addresses, claims, hostname, as pods built at
   *   construction), a new Service its pods, VIP (netns) and names. A larger `replicas` adds pods
   *   `<name>-<n>`, a smaller one deletes the highest.
   * - Pods being deleted leave every Service's endpoints and names at once; /etc/hosts (loopback), the
   *   DNS stand-in and the rules (netns) show the new state before the pods start or stop.
   * - Mounted ConfigMaps and Secrets of running pods follow their objects atomically, as kubelet's
   *   AtomicWriter swaps `..data` (env vars do not change).
   * - Then concurrently: new pods start (unless the cluster has not been started); deleted pods stop as
   *   on a pod deletion (preStop, SIGTERM, grace period, SIGKILL) and leave `pods`, their network
   *   namespace torn down; pods whose template changed are replaced as rollout() does (a StatefulSet's
   *   one at a time from the highest ordinal, each Ready before the next, as its RollingUpdate).
   * - Pruned objects are deleted; a deleted PVC's directory goes once no pod uses it (pvc-protection),
   *   like claims of a StatefulSet whose persistentVolumeClaimRetentionPolicy says Delete.
   *
   * Resolves once every new pod has started, every deleted pod is gone and every replaced pod runs
   * again; rejects naming each action that failed. Calls are serialized.
   */
  reconcile(manifests: K8sObject[], opts: ReconcileOptions = {}): Promise<ReconcileResult> {
    const run = this.reconciling.then(() => this.reconcileNow(manifests, opts));
    this.reconciling = run.catch(() => undefined);
    return run;
  }

  private async reconcileNow(manifests: K8sObject[], opts: ReconcileOptions): Promise<ReconcileResult> {
    if (this.shutDown) throw new Error('reconcile: cluster is shut down');
    const incoming = manifests.filter((o) => o && typeof o === 'object' && o.kind);
    const given = new Map<string, K8sObject>();
    for (const o of incoming) {
      if (given.has(objectKey(o))) throw new Error(`reconcile: ${o.kind} ${nsOf(o)}/${nameOf(o)} appears twice in the manifests`);
      given.set(objectKey(o), o);
    }
    const held = new Map(this.objects.map((o) => [objectKey(o), o]));
    const creates = incoming.filter((o) => !held.has(objectKey(o)));
    const updates = incoming.flatMap((o) => {
      const old = held.get(objectKey(o));
      return old && !sameJson(old, o) ? [{ old, obj: o }] : [];
    });
    const prune = opts.prune;
    const deletes = prune ? this.objects.filter((o) => !given.has(objectKey(o)) && labelSelectorMatches({ matchLabels: prune }, o.metadata?.labels ?? {})) : [];

    // ---- The API server: validation, then admission, of every request before any is carried out.
    for (const o of creates) {
      if (UNSUPPORTED_WORKLOAD_KINDS.includes(o.kind)) throw new Error(`reconcile: harness does not support workload kind ${o.kind} (${nameOf(o)}); nothing changed`);
    }
    for (const { old, obj } of updates) checkUpdate(old, obj);
    const requests: AdmissionRequest[] = [
      ...creates.map((o): AdmissionRequest => ({ operation: 'CREATE', object: o, oldObject: null })),
      ...updates.map(({ old, obj }): AdmissionRequest => ({ operation: 'UPDATE', object: obj, oldObject: old })),
      ...deletes.map((o): AdmissionRequest => ({ operation: 'DELETE', object: null, oldObject: o })),
    ];
    const verdict = await admit(this.objects, requests, (m) => this.log(m));
    for (const w of verdict.warnings) this.note(`reconcile: admission warning: ${w}`);
    if (verdict.denied.length) throw new Error(`reconcile refused by admission, nothing changed: ${verdict.denied.join('; ')}`);

    // ---- The plan: what the controllers make of it; throws, changing nothing, where the harness cannot.
    const alloc = { ...this.alloc };
    const numbers = new Map(this.workloadNumbers);
    const created: Pod[] = [];
    const doomed: Pod[] = [];
    const replace: Array<{ pod: Pod; template: K8sObject }> = [];
    const claimsToDelete: string[] = [];
    const isWorkload = (o: K8sObject): boolean => WORKLOAD_KINDS.includes(o.kind) || o.kind === 'Pod';
    const podsOf = (o: K8sObject): Pod[] =>
      this.pods.filter((p) => p.owner.kind === o.kind && p.owner.name === nameOf(o) && p.namespace === nsOf(o)).sort((a, b) => a.index - b.index);
    const templateClaims = (o: K8sObject, pods: Pod[]): string[] => {
      const names = new Set<string>((o.spec?.volumeClaimTemplates ?? []).map((t: K8sObject) => t.metadata?.name));
      return pods.flatMap((p) => [...p.claims].filter(([vol]) => names.has(vol)).map(([, claim]) => claim));
    };
    for (const o of creates.filter(isWorkload)) created.push(...this.newPods(o, 0, replicasOf(o), alloc, numbers));
    for (const { old, obj } of updates.filter((u) => isWorkload(u.obj) && u.obj.kind !== 'Pod')) {
      const pods = podsOf(obj);
      const want = replicasOf(obj);
      const from = pods.length ? pods[pods.length - 1].index + 1 : 0;
      if (want > from) created.push(...this.newPods(obj, from, want, alloc, numbers));
      const gone = pods.filter((p) => p.index >= want);
      doomed.push(...gone);
      if (obj.kind === 'StatefulSet' && obj.spec?.persistentVolumeClaimRetentionPolicy?.whenScaled === 'Delete') claimsToDelete.push(...templateClaims(obj, gone));
      if (!sameJson(old.spec?.template, obj.spec?.template)) for (const pod of pods.filter((p) => p.index < want)) replace.push({ pod, template: obj.spec.template });
    }
    for (const o of deletes) {
      if (isWorkload(o)) {
        const pods = podsOf(o);
        doomed.push(...pods);
        if (o.kind === 'StatefulSet' && o.spec?.persistentVolumeClaimRetentionPolicy?.whenDeleted === 'Delete') claimsToDelete.push(...templateClaims(o, pods));
      } else if (o.kind === 'PersistentVolumeClaim') {
        claimsToDelete.push(nameOf(o));
      }
    }
    for (const p of created) {
      const taken = [...this.pods, ...created].find((x) => x !== p && x.name === p.name);
      if (taken) {
        const why = doomed.includes(taken) ? ', which this call deletes: apply the deletion first, then the new object' : '';
        throw new Error(`reconcile: pod name ${p.name} of ${p.owner.kind} ${p.owner.name} is taken by a pod of ${taken.owner.kind} ${taken.owner.name}${why}; nothing changed`);
      }
    }
    const updated = new Map(updates.map((u) => [objectKey(u.obj), u.obj]));
    const dropped = new Set(deletes.map(objectKey));
    const objectsAfter = [...this.objects.filter((o) => !dropped.has(objectKey(o))).map((o) => updated.get(objectKey(o)) ?? o), ...creates];
    const podsAfter = [...this.pods.filter((p) => !doomed.includes(p)), ...created];
    const touched = new Set([...creates, ...updates.map((u) => u.obj)].map(objectKey));
    const serviceNotes: string[] = [];
    const servicesAfter = new Map<string, ServiceInfo>();
    for (const s of objectsAfter.filter((o) => o.kind === 'Service')) {
      const info = this.serviceInfo(s, podsAfter, (m) => touched.has(objectKey(s)) && serviceNotes.push(m));
      servicesAfter.set(`${info.namespace}/${info.name}`, info);
    }

    // ---- Carried out: the objects, then names and endpoints, then the pods.
    this.objects.splice(0, this.objects.length, ...objectsAfter);
    this.alloc = alloc;
    for (const [k, w] of numbers) this.workloadNumbers.set(k, w);
    for (const n of serviceNotes) this.note(n);
    for (const p of doomed) this.terminating.add(p);
    // A Service that stays keeps its ServiceInfo: its VIP, DNS entries and rules are keyed on it.
    for (const [key, info] of [...this.services]) {
      const next = servicesAfter.get(key);
      if (next) {
        Object.assign(info, next);
      } else {
        this.services.delete(key);
        this.network?.releaseVip(info);
      }
    }
    for (const [key, info] of servicesAfter) {
      if (this.services.has(key)) continue;
      this.services.set(key, info);
      this.network?.assignVip(info);
    }
    await this.network?.addPods(created);
    this.pods.push(...created);
    for (const p of created) this.writeResolv(p);
    this.rebuildNames();
    for (const p of this.pods) if (!this.terminating.has(p)) this.rewriteHosts(p);
    const replacing = new Set(replace.map((r) => r.pod));
    for (const p of this.pods) if (p.anyRunning && !this.terminating.has(p) && !replacing.has(p)) this.refreshVolumes(p);
    await this.syncNames();
    const list = (ps: Pod[]): string => ps.map((p) => p.name).join(', ') || 'none';
    this.note(
      `reconcile: ${creates.length} created, ${updates.length} updated, ${deletes.length} deleted (${deletes.map((o) => `${o.kind} ${nameOf(o)}`).join(', ') || 'none'}); ` +
        `pods new: ${list(created)}; deleted: ${list(doomed)}; replaced: ${list([...replacing])}`,
    );

    const result: ReconcileResult = { created, deleted: doomed.map((p) => p.name), replaced: [] };
    const settled = await Promise.allSettled([
      ...doomed.map((p) => this.deletePod(p)),
      ...created.map(async (p) => (this.started ? this.startPod(p) : undefined)),
      this.replacePods(replace, opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS).then((r) => void result.replaced.push(...r)),
    ]);
    for (const c of claimsToDelete) this.claimsToDelete.add(c);
    this.deleteReleasedClaims();
    await this.syncNames();
    const failed = settled.flatMap((r) => (r.status === 'rejected' ? [errText(r.reason)] : []));
    if (failed.length) throw new Error(`reconcile: ${failed.length} action(s) failed: ${failed.join('; ')}`);
    return result;
  }

  /** Rules (netns) and the DNS stand-in reflect the current Services, endpoints and pods. */
  private async syncNames(): Promise<void> {
    await Promise.all([this.network?.isSetUp ? this.network.sync() : undefined, this.dnsResponder?.sync()]);
  }

  /**
   * A pod deletion as kubelet carries it out (preStop hook, SIGTERM, grace period, SIGKILL); then the
   * pod leaves the cluster, its network namespace (netns) and its files but the logs go.
   */
  private async deletePod(pod: Pod): Promise<void> {
    for (const c of [...pod.containers, ...pod.initContainers]) if (c.pid) this.everPids.add(c.pid);
    try {
      await pod.stop();
      await Promise.all(pod.initContainers.map((c) => c.crash()));
    } finally {
      const i = this.pods.indexOf(pod);
      if (i >= 0) this.pods.splice(i, 1);
      this.terminating.delete(pod);
      await this.network?.removePod(pod);
      const dirs = [this.hostsFile(pod), this.resolvConf(pod), path.join(this.workDir, 'pods', pod.name)];
      dirs.push(...pod.containers.concat(pod.initContainers).map((c) => path.join(this.workDir, 'roots', `${pod.name}_${c.name}`)));
      for (const d of dirs) {
        try {
          fs.rmSync(d, { recursive: true, force: true });
        } catch (e) {
          this.log(`deleted pod ${pod.name}: ${d} left: ${errText(e)}`);
        }
      }
      this.log(`pod ${pod.name} deleted`);
    }
  }

  /**
   * Pods whose template changed: a Deployment's (or ReplicaSet's) all at once, each started with its new
   * template as soon as it is gone (as rollout()); a StatefulSet's one at a time from the highest
   * ordinal, each Ready (bounded) before the next, as its RollingUpdate does.
   */
  private async replacePods(list: Array<{ pod: Pod; template: K8sObject }>, readyTimeoutMs: number): Promise<ReconcileResult['replaced']> {
    const one = async ({ pod, template }: { pod: Pod; template: K8sObject }): Promise<ReconcileResult['replaced'][number]> => {
      await pod.stop();
      const stoppedAt = Date.now();
      pod.replaceTemplate(template);
      const startedAt = Date.now();
      if (this.started) await this.startPod(pod);
      return { pod, stoppedAt, startedAt };
    };
    const sets = new Map<string, Array<{ pod: Pod; template: K8sObject }>>();
    const at: Array<Promise<Array<ReconcileResult['replaced'][number]>>> = [];
    for (const r of list) {
      if (r.pod.owner.kind !== 'StatefulSet') {
        at.push(one(r).then((x) => [x]));
        continue;
      }
      const k = `${r.pod.namespace}/${r.pod.owner.name}`;
      sets.set(k, [...(sets.get(k) ?? []), r]);
    }
    for (const rs of sets.values()) {
      at.push((async () => {
        const out: Array<ReconcileResult['replaced'][number]> = [];
        const ordered = rs.sort((a, b) => b.pod.index - a.pod.index);
        for (const [i, r] of ordered.entries()) {
          out.push(await one(r));
          if (this.started && i < ordered.length - 1) await r.pod.waitReady(readyTimeoutMs);
        }
        return out;
      })());
    }
    return (await Promise.all(at)).flat();
  }

  /** pvc-protection: a deleted claim's directory goes once no pod of the cluster uses it. */
  private deleteReleasedClaims(): void {
    for (const claim of [...this.claimsToDelete]) {
      const user = this.pods.find((p) => [...p.claims.values()].includes(claim));
      if (user) {
        this.log(`claim ${claim} is deleted but pod ${user.name} still uses it: its data stays until that pod is gone`);
        continue;
      }
      this.claimsToDelete.delete(claim);
      fs.rmSync(this.claimDir(claim), { recursive: true, force: true });
      this.log(`claim ${claim} deleted with its data`);
    }
  }

  /** An object held now ({@link reconcile} keeps them current), or undefined. */
  object(kind: string, name: string, namespace = 'default'): K8sObject | undefined {
    return this.findObject(kind, name, namespace);
  }

  /** Every object held now, as the API server has them (a copy of the list). */
  objectsNow(): K8sObject[] {
    return [...this.objects];
  }

  /** ConfigMaps and Secrets of the manifests replace (or join) the current ones. */
  private replaceConfigObjects(manifests: K8sObject[]): void {
    for (const o of manifests.filter((x) => x?.kind === 'ConfigMap' || x?.kind === 'Secret')) {
      const i = this.objects.findIndex((x) => x.kind === o.kind && nameOf(x) === nameOf(o) && nsOf(x) === nsOf(o));
      if (i >= 0) this.objects[i] = o;
      else this.objects.push(o);
    }
  }

  private findObject(kind: string, name: string, ns: string): K8sObject | undefined {
    return this.objects.find((o) => o.kind === kind && o.metadata?.name === name && nsOf(o) === ns);
  }

  private configMapData(name: string, ns: string, optional: boolean | undefined, where: string): Record<string, string> | undefined {
    const cm = this.findObject('ConfigMap', name, ns);
    if (!cm) {
      if (optional) return undefined;
      throw new Error(`${where}: ConfigMap ${ns}/${name} not found in the manifests`);
    }
    const out: Record<string, string> = { ...(cm.data ?? {}) };
    for (const [k, v] of Object.entries((cm.binaryData ?? {}) as Record<string, string>)) out[k] = b64decode(v);
    return out;
  }

  private secretData(name: string, ns: string, optional: boolean | undefined, where: string): Record<string, string> | undefined {
    const supplied = this.opts.secrets?.[name];
    if (supplied) return supplied;
    const s = this.findObject('Secret', name, ns);
    if (!s) {
      if (optional) return undefined;
      throw new Error(`${where}: Secret ${name} is neither supplied to the harness (secrets option) nor in the manifests`);
    }
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries((s.data ?? {}) as Record<string, string>)) out[k] = b64decode(v);
    Object.assign(out, s.stringData ?? {});
    return out;
  }

  /** Directory of a PVC (created on first use; survives pod restarts). */
  claimDir(claimName: string): string {
    return path.join(this.workDir, 'pvc', claimName);
  }

  /** Deletes all data of one claim (the pod using it should be stopped). */
  wipeClaim(claimName: string): void {
    const d = this.claimDir(claimName);
    fs.rmSync(d, { recursive: true, force: true });
    this.log(`wiped claim ${claimName}`);
  }

  /** Host directory of a pod's configMap or secret volume. */
  private volumeDir(pod: Pod, v: K8sObject): string {
    return path.join(this.workDir, 'pods', pod.name, `vol-${v.name}`);
  }

  /**
   * The files of a configMap or secret volume from the objects held now (`items`, `defaultMode`, a
   * key's `mode`); undefined for an optional source that does not exist.
   */
  private volumePayload(pod: Pod, v: K8sObject): Map<string, ProjectedFile> | undefined {
    const where = `pod ${pod.name} volume ${v.name}`;
    const isCm = Boolean(v.configMap);
    const src = isCm ? v.configMap : v.secret;
    const objName = isCm ? src.name : src.secretName;
    const data = isCm ? this.configMapData(objName, pod.namespace, src.optional, where) : this.secretData(objName, pod.namespace, src.optional, where);
    if (data === undefined) return undefined;
    const defaultMode: number = src.defaultMode ?? 0o644;
    const items: Array<{ key: string; path: string; mode?: number }> = src.items ?? Object.keys(data).map((k) => ({ key: k, path: k }));
    const files = new Map<string, ProjectedFile>();
    for (const it of items) {
      const value = data[it.key];
      if (value === undefined) {
        if (src.optional) continue;
        throw new Error(`${where}: key '${it.key}' not found in ${isCm ? 'ConfigMap' : 'Secret'} ${objName}`);
      }
      files.set(path.posix.normalize(it.path), { content: value, mode: it.mode ?? defaultMode });
    }
    return files;
  }

  /**
   * What kubelet's volume manager does for a running pod: each configMap and secret volume follows
   * its object as held now, swapped atomically (see {@link writeAtomically}). A source that is gone, or
   * lacks a key, leaves the files as they were (kubelet logs the error and retries).
   */
  private refreshVolumes(pod: Pod): void {
    const spec = pod.template.spec;
    const gid: number = spec.securityContext?.fsGroup ?? 0;
    for (const v of (spec.volumes ?? []) as K8sObject[]) {
      if (!v.configMap && !v.secret) continue;
      let files: Map<string, ProjectedFile> | undefined;
      try {
        files = this.volumePayload(pod, v);
      } catch (e) {
        this.log(`volume ${v.name} of pod ${pod.name} left as it was: ${errText(e)}`);
        continue;
      }
      if (!files) continue;
      if (writeAtomically(this.volumeDir(pod, v), files, gid)) this.log(`refreshed volume ${v.name} of running pod ${pod.name}`);
    }
  }

  prepareVolumes(pod: Pod): Map<string, { dir: string; alwaysReadOnly: boolean }> {
    const out = new Map<string, { dir: string; alwaysReadOnly: boolean }>();
    const spec = pod.template.spec;
    const fsGroup: number | undefined = spec.securityContext?.fsGroup;
    const podDir = path.join(this.workDir, 'pods', pod.name);
    fs.mkdirSync(podDir, { recursive: true });
    const volumes: K8sObject[] = [...(spec.volumes ?? [])];
    for (const [volName, claim] of pod.claims) {
      if (!volumes.find((v) => v.name === volName)) volumes.push({ name: volName, persistentVolumeClaim: { claimName: claim } });
    }
    for (const v of volumes) {
      const where = `pod ${pod.name} volume ${v.name}`;
      if (v.configMap || v.secret) {
        const files = this.volumePayload(pod, v) ?? new Map<string, ProjectedFile>();
        const dir = this.volumeDir(pod, v);
        fs.rmSync(dir, { recursive: true, force: true });
        writeAtomically(dir, files, fsGroup ?? 0);
        out.set(v.name, { dir, alwaysReadOnly: true });
      } else if (v.emptyDir) {
        const dir = path.join(podDir, `emptydir-${v.name}`);
        fs.rmSync(dir, { recursive: true, force: true });
        fs.mkdirSync(dir, { recursive: true });
        if (fsGroup !== undefined) {
          fs.chownSync(dir, 0, fsGroup);
          fs.chmodSync(dir, 0o2775);
        } else {
          fs.chmodSync(dir, 0o777);
        }
        out.set(v.name, { dir, alwaysReadOnly: false });
      } else if (v.persistentVolumeClaim) {
        const claim = pod.claims.get(v.name) ?? v.persistentVolumeClaim.claimName;
        const dir = this.claimDir(claim);
        if (!fs.existsSync(dir)) {
          fs.mkdirSync(dir, { recursive: true });
          fs.chmodSync(dir, 0o755);
          this.log(`created claim ${claim} for pod ${pod.name}`);
        }
        if (fsGroup !== undefined) applyFsGroup(dir, fsGroup);
        out.set(v.name, { dir, alwaysReadOnly: Boolean(v.persistentVolumeClaim.readOnly) });
      } else if (v.hostPath) {
        // Test fixtures only (the chart uses none): an existing host directory, never created here. A
        // bind mount also reaches a directory whose parents the pod's user could not traverse.
        if (!fs.statSync(v.hostPath.path, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`${where}: hostPath ${v.hostPath.path} is not an existing directory`);
        out.set(v.name, { dir: v.hostPath.path, alwaysReadOnly: false });
      } else {
        throw new Error(`${where}: unsupported volume type ${JSON.stringify(Object.keys(v).filter((k) => k !== 'name'))}`);
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- lifecycle

  /** Starts every pod (concurrently). */
  async start(): Promise<void> {
    if (this.network && !this.networkUp) {
      this.networkUp = true;
      await this.network.setup();
    }
    if ((this.opts.dns || this.netns) && !this.dnsResponder) {
      const d = new DnsProcess(this.nameserver, () => this.dnsTable());
      await d.start();
      this.dnsResponder = d;
      this.log(`DNS stand-in listening on ${this.nameserver}:53`);
    }
    await Promise.all(this.pods.map((p) => this.startPod(p)));
  }

  async startPod(p: Pod): Promise<void> {
    if (this.shutDown) throw new Error('cluster is shut down');
    this.started = true;
    await p.start();
    for (const c of p.containers) if (c.pid) this.everPids.add(c.pid);
  }

  /** Waits until every pod passes its readiness probes (or just runs, without probes). */
  async waitAllReady(timeoutMs: number): Promise<void> {
    await Promise.all(this.pods.map((p) => p.waitReady(timeoutMs)));
  }

  /** SIGKILLs everything and removes the work dir (unless KEEP_E2E=1). */
  async shutdown(): Promise<void> {
    if (this.shutDown) return;
    this.shutDown = true;
    for (const p of this.pods) for (const c of [...p.containers, ...p.initContainers]) if (c.pid) this.everPids.add(c.pid);
    await Promise.all(
      this.pods.map(async (p) => {
        for (const c of [...p.containers, ...p.initContainers]) {
          if (c.frozen) c.signalGroup('SIGCONT');
          try {
            await c.crash();
          } catch (e) {
            this.log(`shutdown: ${p.name}/${c.name}: ${errText(e)}`);
          }
        }
      }),
    );
    await this.readiness?.stop();
    this.dnsResponder?.stop();
    await this.network?.teardown();
    if (process.env.KEEP_E2E === '1') {
      console.log(`[harness] KEEP_E2E=1: work dir kept at ${this.workDir}`);
    } else {
      fs.rmSync(this.workDir, { recursive: true, force: true });
    }
  }

  /** Every container PID this cluster ever started, and whether any is still alive. */
  leftovers(): number[] {
    return [...this.everPids].filter((pid) => pidAlive(pid));
  }

  // ---------------------------------------------------------------- lookups

  pod(name: string): Pod {
    const p = this.pods.find((x) => x.name === name);
    if (!p) throw new Error(`no pod ${name} (pods: ${this.pods.map((x) => x.name).join(', ')})`);
    return p;
  }

  /** Pods of a workload (Deployment / StatefulSet name). */
  podsOf(workload: string): Pod[] {
    return this.pods.filter((p) => p.owner.name === workload);
  }

  service(name: string, namespace?: string): ServiceInfo {
    if (namespace) {
      const s = this.services.get(`${namespace}/${name}`);
      if (s) return s;
    } else {
      const all = [...this.services.values()].filter((s) => s.name === name);
      if (all.length === 1) return all[0];
      if (all.length > 1) throw new Error(`Service ${name} exists in several namespaces; pass one`);
    }
    throw new Error(`no Service ${name} (services: ${[...this.services.values()].map((s) => s.name).join(', ')})`);
  }

  /** Addresses /etc/hosts gives for a Service (all selected pods); with network 'netns', what DNS answers now. */
  addressesOf(serviceName: string): string[] {
    const s = this.service(serviceName);
    return this.network ? this.network.serviceAddresses(s) : s.pods.map((p) => p.address);
  }

  /** network 'netns': the Service's endpoints now (ready pods, or all running with publishNotReadyAddresses). */
  endpointsOf(serviceName: string): Pod[] {
    return this.requireNetwork('endpointsOf').endpoints(this.service(serviceName));
  }

  /** network 'netns': whether the pod passes its readiness probes as the background loops last saw. */
  isReady(pod: Pod): boolean {
    return this.readiness?.isReady(pod) ?? false;
  }

  /**
   * network 'netns': resolves once every namespace's rules reflect the current readiness and partitions,
   * and the DNS stand-in answers from the current endpoints.
   */
  async syncNetwork(): Promise<void> {
    await Promise.all([this.requireNetwork('syncNetwork').sync(), this.dnsResponder?.sync()]);
  }

  /**
   * network 'netns': drops every packet between the two groups, both ways, open connections included
   * ('test-client' is the test process). Partitions add up; heal() removes this one.
   */
  partition(groupA: PartitionMember[], groupB: PartitionMember[]): Promise<PartitionHandle> {
    return this.requireNetwork('partition').partition(groupA, groupB);
  }

  /** network 'netns': removes every partition. */
  healAll(): Promise<void> {
    return this.requireNetwork('healAll').healAll();
  }

  private requireNetwork(what: string): PodNetwork {
    if (!this.network) throw new Error(`${what}() needs network: 'netns'`);
    return this.network;
  }

  /** Pods selected by a Service. */
  podsOfService(serviceName: string): Pod[] {
    return this.service(serviceName).pods;
  }

  /** Port number of a Service port (by name or number; default the only port). */
  servicePort(serviceName: string, port?: number | string): number {
    const s = this.service(serviceName);
    if (port === undefined) {
      if (s.ports.length !== 1) throw new Error(`Service ${serviceName} has ${s.ports.length} ports; name one`);
      return s.ports[0].port;
    }
    const p = s.ports.find((x) => x.name === port || x.port === port);
    if (!p) throw new Error(`Service ${serviceName} has no port ${port}`);
    return p.port;
  }

  /**
   * Connects like a client behind kube-proxy: round-robin over the Service's pods whose containers are
   * running and not frozen (a frozen pod stays an endpoint, as it would until its readiness probe fails,
   * so pass {includeFrozen: false} to skip them).
   */
  async connect(serviceName: string, port?: number | string, opts: ConnectOptions & { includeFrozen?: boolean } = {}): Promise<RedisClient> {
    const s = this.service(serviceName);
    const portNum = this.servicePort(serviceName, port);
    if (this.network) return this.connectThroughNetwork(s, portNum, opts);
    const endpoints = s.pods.filter((p) => p.running && (opts.includeFrozen !== false || !p.containers.some((c) => c.frozen)));
    if (endpoints.length === 0) throw new ConnectionError(`Service ${serviceName} has no running endpoints`);
    const i = this.rrIndex.get(s.name) ?? 0;
    this.rrIndex.set(s.name, i + 1);
    const pod = endpoints[i % endpoints.length];
    return RedisClient.connect(pod.address, portNum, opts);
  }

  /** network 'netns': to the VIP (kube-proxy picks), or round-robin over a headless Service's endpoints. */
  private async connectThroughNetwork(s: ServiceInfo, port: number, opts: ConnectOptions): Promise<RedisClient> {
    const network = this.requireNetwork('connect');
    const vip = network.vipOf(s);
    if (vip) return RedisClient.connect(vip, port, opts);
    const endpoints = network.endpoints(s);
    if (endpoints.length === 0) throw new ConnectionError(`Service ${s.name} has no ready endpoints`);
    const i = this.rrIndex.get(s.name) ?? 0;
    this.rrIndex.set(s.name, i + 1);
    const pod = endpoints[i % endpoints.length];
    // No proxy in front of a headless Service: the client reaches the pod's target port itself.
    const target = (s.object.spec?.ports ?? []).find((x: K8sObject) => x.port === port)?.targetPort ?? port;
    return RedisClient.connect(pod.address, pod.containerPort(target), opts);
  }

  exec(pod: Pod | string, argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return (typeof pod === 'string' ? this.pod(pod) : pod).exec(argv, opts);
  }

  probe(pod: Pod | string, kind: ProbeKind, opts: { container?: string } = {}): Promise<boolean> {
    return (typeof pod === 'string' ? this.pod(pod) : pod).probe(kind, opts);
  }

  /** Recent harness events. */
  events(lines = 50): string {
    return this.eventLog.slice(-lines).join('\n');
  }

  /** Tails of every pod's logs (or the given pods), plus harness events; for failure reports. */
  dumpLogs(pods: Pod[] = this.pods, lines = 40): string {
    const parts = [`----- harness events (${this.workDir})\n${this.events(60)}`];
    for (const p of pods) {
      for (const c of p.containers) {
        const shown = tail(c.logFile, lines);
        // The pod scripts' decisions ("HH:MM:SS tag: ..."), which the server's own lines push out of a tail.
        const decisions = tail(c.logFile, 100_000).split('\n').filter((l) => /^\d\d:\d\d:\d\d [\w-]+: /.test(l) && !shown.includes(l)).slice(-12);
        parts.push(`----- ${p.name}/${c.name} (${p.address})${decisions.length ? `\n(earlier script lines)\n${decisions.join('\n')}\n(last lines)` : ''}\n${shown}`);
      }
    }
    return parts.join('\n');
  }

  /** Wraps a test body: on failure prints log tails before rethrowing. */
  guard<T>(fn: () => Promise<T>, pods?: () => Pod[]): () => Promise<T> {
    return async () => {
      try {
        return await fn();
      } catch (e) {
        console.log(`TEST FAILED: ${errText(e)}\n${this.dumpLogs(pods ? pods() : this.pods)}`);
        throw e;
      }
    };
  }

  /** Every unexpected container exit so far. */
  unexpectedExits(): string[] {
    return this.pods.flatMap((p) => p.unexpectedExits.map((x) => `${p.name}/${x.container} code=${x.code} signal=${x.signal} at ${new Date(x.at).toISOString()}`));
  }
}

/**
 * The API server's validation of an update: a change to an immutable field refuses the whole apply
 * (delete the object first, as Kubernetes demands).
 */
function checkUpdate(old: K8sObject, obj: K8sObject): void {
  const what = `${obj.kind} ${nsOf(obj)}/${nameOf(obj)}`;
  const immutable = (field: string, a: unknown, b: unknown): void => {
    if (!sameJson(a, b)) throw new Error(`reconcile: ${what} is invalid: ${field}: field is immutable; nothing changed`);
  };
  switch (obj.kind) {
    case 'Deployment':
    case 'ReplicaSet':
      immutable('spec.selector', old.spec?.selector, obj.spec?.selector);
      break;
    case 'StatefulSet':
      for (const f of ['selector', 'serviceName', 'volumeClaimTemplates', 'podManagementPolicy']) immutable(`spec.${f}`, old.spec?.[f], obj.spec?.[f]);
      break;
    case 'Service':
      immutable('spec.clusterIP', old.spec?.clusterIP === 'None', obj.spec?.clusterIP === 'None');
      break;
    case 'Pod':
      immutable('spec', old.spec, obj.spec);
      break;
    case 'PersistentVolumeClaim':
      immutable('spec', { ...old.spec, resources: undefined }, { ...obj.spec, resources: undefined });
      break;
    default:
  }
}

/** A file of a configMap or secret volume. */
interface ProjectedFile {
  content: string;
  mode: number;
}

function replicasOf(o: K8sObject): number {
  return o.kind === 'Pod' ? 1 : (o.spec?.replicas ?? 1);
}

/** `..YYYY_MM_DD_HH_MM_SS.`, the prefix of kubelet's payload directories. */
function payloadPrefix(): string {
  const d = new Date();
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `..${d.getUTCFullYear()}_${p(d.getUTCMonth() + 1)}_${p(d.getUTCDate())}_${p(d.getUTCHours())}_${p(d.getUTCMinutes())}_${p(d.getUTCSeconds())}.`;
}

/** Whether a payload directory holds exactly these files, with these modes and group. */
function holdsPayload(dir: string, files: Map<string, ProjectedFile>, gid: number): boolean {
  const found: string[] = [];
  const walk = (rel: string): boolean => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (!walk(r)) return false;
        continue;
      }
      const f = files.get(r);
      if (!f) return false;
      const st = fs.statSync(path.join(dir, r));
      if ((st.mode & 0o7777) !== f.mode || st.gid !== gid || !fs.readFileSync(path.join(dir, r)).equals(Buffer.from(f.content))) return false;
      found.push(r);
    }
    return true;
  };
  try {
    return walk('') && found.length === files.size;
  } catch {
    return false;
  }
}

/**
 * Writes a configMap or secret volume as kubelet's AtomicWriter does: the files into a new directory
 * `..<timestamp>.<random>`, then a symlink `..data_tmp` to it renamed over `..data` (one rename(2)),
 * then a symlink `<entry> -> ..data/<entry>` for each top-level entry (stale ones removed), then the
 * old payload directory removed. A reader sees the whole old set of files or the whole new one,
 * never a partly written file; one that holds an old file open goes on reading the old content.
 * Returns false, writing nothing, when the volume holds this payload already.
 */
function writeAtomically(dir: string, files: Map<string, ProjectedFile>, gid: number): boolean {
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  fs.chmodSync(dir, 0o755);
  const dataLink = path.join(dir, '..data');
  let old: string | undefined;
  try {
    old = fs.readlinkSync(dataLink);
  } catch {
    /* first write */
  }
  if (old !== undefined && holdsPayload(path.join(dir, old), files, gid)) return false;
  const payload = fs.mkdtempSync(path.join(dir, payloadPrefix()));
  fs.chmodSync(payload, 0o755);
  for (const [rel, f] of files) {
    const target = path.join(payload, rel);
    const missing: string[] = [];
    for (let d = path.dirname(target); d !== payload && !fs.existsSync(d); d = path.dirname(d)) missing.unshift(d);
    for (const d of missing) {
      fs.mkdirSync(d);
      fs.chmodSync(d, 0o755);
    }
    fs.writeFileSync(target, f.content);
    fs.chownSync(target, 0, gid);
    fs.chmodSync(target, f.mode);
  }
  const tmp = path.join(dir, '..data_tmp');
  fs.rmSync(tmp, { force: true });
  fs.symlinkSync(path.basename(payload), tmp);
  fs.renameSync(tmp, dataLink);
  const tops = new Set([...files.keys()].map((rel) => rel.split('/')[0]));
  for (const t of tops) {
    const link = path.join(dir, t);
    if (!fs.lstatSync(link, { throwIfNoEntry: false })) fs.symlinkSync(path.posix.join('..data', t), link);
  }
  for (const e of fs.readdirSync(dir)) if (!e.startsWith('..') && !tops.has(e)) fs.rmSync(path.join(dir, e), { recursive: true, force: true });
  if (old !== undefined) fs.rmSync(path.join(dir, old), { recursive: true, force: true });
  return true;
}

/** kubelet-like fsGroup ownership: group fsGroup, group rw (+x and setgid on dirs), recursively; top dir root:fsGroup. */
function applyFsGroup(dir: string, gid: number): void {
  const walk = (p: string, top: boolean): void => {
    const st = fs.lstatSync(p);
    if (st.isSymbolicLink()) return;
    fs.chownSync(p, top ? 0 : st.uid, gid);
    if (st.isDirectory()) {
      fs.chmodSync(p, (st.mode & 0o7777) | 0o2770 | (top ? 0o005 : 0));
      for (const e of fs.readdirSync(p)) walk(path.join(p, e), false);
    } else {
      fs.chmodSync(p, (st.mode & 0o7777) | 0o660);
    }
  };
  walk(dir, true);
}
