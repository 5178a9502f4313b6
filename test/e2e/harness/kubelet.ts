/**
 * Pods and containers as local processes ("mini-kubelet").
 *
 * Every container runs in a private root (test/util/private-root.ts): its own mount and UTS
 * namespaces, its volumes bound at their mount paths, chrooted, then `setpriv` to its user;
 * detached in its own process group. Every step execs, so the spawned PID is the container's process.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as path from 'path';
import { K8sObject, expandVars } from './manifest';
import { registerGroup, unregisterGroup } from './registry';
import { RootMount, privateRootArgv } from '../../util/private-root';
import { ConnectOptions, RedisClient } from './resp';
import { TimeoutError, errText, sleep, withTimeout } from './util';
import { imageMounts } from './images';

export type ProbeKind = 'readiness' | 'liveness' | 'startup';

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface ExecOptions {
  /** Default 10000ms. The exec's process group is SIGKILLed on timeout. */
  timeoutMs?: number;
  /** Container name; default the pod's first container. */
  container?: string;
  /** Extra env (merged over the container's env). */
  env?: Record<string, string>;
}

/** Everything the pod needs from its cluster (kept as an interface to avoid a circular import). */
export interface PodHost {
  readonly workDir: string;
  log(msg: string): void;
  /** Prepares volumes for a pod start; returns volume name -> host dir. */
  prepareVolumes(pod: Pod): Map<string, { dir: string; alwaysReadOnly: boolean }>;
  /** An empty host directory, inside the work dir, for the container's private root. */
  rootDir(c: Container): string;
  resolveEnv(pod: Pod, container: K8sObject): Record<string, string>;
  hostsFile(pod: Pod): string;
  resolvConf(pod: Pod): string;
  /** The pod's own network namespace (network: 'netns'), which all its containers and execs join. */
  netnsPath?(pod: Pod): string | undefined;
  /** After a pod start (readiness tracking). */
  podStarted?(pod: Pod): void;
  /** After a container's process exited (readiness tracking). */
  containerExited?(c: Container): void;
}

/** `nsenter` into the pod's network namespace, when it has one, in front of a command. */
function joinNetns(host: PodHost, pod: Pod, argv: string[]): string[] {
  const ns = host.netnsPath?.(pod);
  return ns ? ['nsenter', `--net=${ns}`, '--', ...argv] : argv;
}

interface UserSpec {
  uid: number;
  gid: number;
  groups: number[];
  noNewPrivs: boolean;
  readOnlyRoot: boolean;
}

function setprivArgs(u: UserSpec): string[] {
  const a = [`--reuid=${u.uid}`, `--regid=${u.gid}`];
  a.push(u.groups.length ? `--groups=${u.groups.join(',')}` : '--clear-groups');
  if (u.noNewPrivs) a.push('--nnp');
  a.push('--pdeathsig', 'KILL');
  return a;
}

export class Container {
  child?: ChildProcess;
  pid?: number;
  env: Record<string, string> = {};
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  startedAt = 0;
  exitedAt = 0;
  starts = 0;
  /** Set while the harness itself is stopping/killing the container (exit is then expected). */
  expectingExit = false;
  frozen = false;
  private exitWaiters: Array<() => void> = [];
  /** The private-root setup script the process runs before it chroots (see {@link rootReady}). */
  private rootScript = '';

  constructor(
    readonly pod: Pod,
    readonly spec: K8sObject,
    readonly init: boolean,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  get running(): boolean {
    return this.child !== undefined && this.exitedAt === 0;
  }

  get logFile(): string {
    return path.join(this.pod.host.workDir, 'logs', `${this.pod.name}_${this.name}.log`);
  }

  user(): UserSpec {
    const psc = this.pod.template.spec.securityContext ?? {};
    const csc = this.spec.securityContext ?? {};
    const uid = csc.runAsUser ?? psc.runAsUser ?? 0;
    const gid = csc.runAsGroup ?? psc.runAsGroup ?? 0;
    if ((csc.runAsNonRoot ?? psc.runAsNonRoot) && uid === 0) {
      throw new Error(`pod ${this.pod.name} container ${this.name}: runAsNonRoot is set but no non-zero runAsUser (image USER is unknown to the harness)`);
    }
    const groups: number[] = [];
    if (psc.fsGroup !== undefined) groups.push(psc.fsGroup);
    for (const g of psc.supplementalGroups ?? []) if (!groups.includes(g)) groups.push(g);
    return {
      uid,
      gid,
      groups,
      noNewPrivs: csc.allowPrivilegeEscalation === false,
      readOnlyRoot: csc.readOnlyRootFilesystem === true,
    };
  }

  /** Spawns the container process (does not wait for readiness). */
  start(volumes: Map<string, { dir: string; alwaysReadOnly: boolean }>): void {
    if (this.running) throw new Error(`container ${this.pod.name}/${this.name} is already running (pid ${this.pid})`);
    const host = this.pod.host;
    const spec = this.spec;
    if (!spec.command || spec.command.length === 0) {
      throw new Error(`pod ${this.pod.name} container ${this.name}: no 'command' (image entrypoints are unknown to the harness)`);
    }
    this.env = host.resolveEnv(this.pod, spec);
    const argv: string[] = [...spec.command, ...(spec.args ?? [])].map((s: string) => expandVars(String(s), this.env));
    const user = this.user();

    const mounts: RootMount[] = (spec.volumeMounts ?? []).map((m: K8sObject) => {
      if (m.subPath || m.subPathExpr) throw new Error(`pod ${this.pod.name} container ${this.name}: volumeMount ${m.name} uses subPath (not supported by the harness)`);
      const vol = volumes.get(m.name);
      if (!vol) throw new Error(`pod ${this.pod.name} container ${this.name}: volumeMount ${m.name} has no matching volume`);
      return { source: vol.dir, target: m.mountPath, readOnly: Boolean(m.readOnly || vol.alwaysReadOnly) };
    });
    mounts.push({ source: host.hostsFile(this.pod), target: '/etc/hosts' }, { source: host.resolvConf(this.pod), target: '/etc/resolv.conf' });
    // The image's own binaries where the image keeps them (see images.ts).
    mounts.push(...imageMounts(String(spec.image ?? '')));
    // A private root: mount paths are made inside the container's own mount namespace, never on the host.
    const root = host.rootDir(this);
    const command = joinNetns(
      host,
      this.pod,
      privateRootArgv(
        { root, mounts, readOnlyRoot: user.readOnlyRoot, workingDir: spec.workingDir ?? '/', hostname: this.pod.name.slice(0, 63) },
        ['setpriv', ...setprivArgs(user), '--', ...argv],
      ),
    );

    this.rootScript = command[command.indexOf('-c') + 1];
    fs.mkdirSync(path.dirname(this.logFile), { recursive: true });
    const fd = fs.openSync(this.logFile, 'a');
    this.starts++;
    fs.writeSync(fd, `\n===== [harness] ${new Date().toISOString()} start #${this.starts} of ${this.pod.name}/${this.name} at ${this.pod.address}: ${JSON.stringify(argv)}\n`);
    let child: ChildProcess;
    try {
      child = spawn(command[0], command.slice(1), {
        detached: true,
        stdio: ['ignore', fd, fd],
        env: this.env,
        cwd: '/',
      });
    } finally {
      fs.closeSync(fd);
    }
    if (child.pid === undefined) throw new Error(`failed to spawn ${this.pod.name}/${this.name}`);
    const pid = child.pid;
    registerGroup(pid);
    this.child = child;
    this.pid = pid;
    this.exitCode = null;
    this.exitSignal = null;
    this.exitedAt = 0;
    this.frozen = false;
    this.expectingExit = false;
    this.startedAt = Date.now();
    child.on('error', (e) => host.log(`${this.pod.name}/${this.name}: spawn error ${e.message}`));
    child.on('exit', (code, signal) => {
      // Like the container runtime: when the main process dies, the whole container dies.
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* group already gone */
      }
      unregisterGroup(pid);
      this.exitCode = code;
      this.exitSignal = signal;
      this.exitedAt = Date.now();
      const msg = `${this.pod.name}/${this.name} (pid ${pid}) exited code=${code} signal=${signal}${this.expectingExit ? '' : ' (UNEXPECTED)'}`;
      host.log(msg);
      try {
        fs.appendFileSync(this.logFile, `===== [harness] ${new Date().toISOString()} ${msg}\n`);
      } catch {
        /* work dir may be gone */
      }
      if (!this.expectingExit && !this.init) this.pod.unexpectedExits.push({ container: this.name, code, signal, at: this.exitedAt });
      for (const w of this.exitWaiters.splice(0)) w();
      host.containerExited?.(this);
    });
  }

  /** Resolves when the current process has exited; rejects with TimeoutError after timeoutMs. */
  waitExit(timeoutMs: number): Promise<void> {
    if (!this.running) return Promise.resolve();
    return withTimeout(
      new Promise<void>((resolve) => this.exitWaiters.push(resolve)),
      timeoutMs,
      `exit of ${this.pod.name}/${this.name} (pid ${this.pid})`,
    );
  }

  /** Sends a signal to the container's main process (like the runtime does for SIGTERM). */
  signal(sig: NodeJS.Signals): void {
    if (!this.running || this.pid === undefined) return;
    try {
      process.kill(this.pid, sig);
    } catch {
      /* raced with exit */
    }
  }

  /** Sends a signal to every process of the container (process group). */
  signalGroup(sig: NodeJS.Signals): void {
    if (!this.running || this.pid === undefined) return;
    try {
      process.kill(-this.pid, sig);
    } catch {
      /* raced with exit */
    }
  }

  /** SIGKILL the whole container and wait (bounded) for the exit to be observed. */
  async crash(): Promise<void> {
    if (!this.running) return;
    this.expectingExit = true;
    this.signalGroup('SIGKILL');
    await this.waitExit(5000);
  }

  /** preStop hook, SIGTERM, wait up to grace, then SIGKILL. */
  async stop(graceMs: number): Promise<void> {
    if (!this.running) return;
    this.expectingExit = true;
    const deadline = Date.now() + graceMs;
    const preStop = this.spec.lifecycle?.preStop;
    if (preStop) {
      try {
        const r = await this.pod.runHandler(preStop, this, Math.max(1, graceMs));
        this.pod.host.log(`${this.pod.name}/${this.name} preStop: ${r}`);
      } catch (e) {
        this.pod.host.log(`${this.pod.name}/${this.name} preStop failed: ${errText(e)}`);
      }
    }
    this.signal('SIGTERM');
    try {
      await this.waitExit(Math.max(1, deadline - Date.now()));
    } catch (e) {
      if (!(e instanceof TimeoutError)) throw e;
      this.pod.host.log(`${this.pod.name}/${this.name} did not exit within grace ${graceMs}ms; SIGKILL`);
      this.signalGroup('SIGKILL');
      await this.waitExit(5000);
    }
  }

  /**
   * Whether the process has left its wrappers (nsenter, unshare, the setup script) and runs in its private
   * root. Until then `nsenter --root` would enter a root still being built, or the host's.
   */
  rootReady(): boolean {
    if (!this.running || this.pid === undefined) return false;
    let argv: string[];
    try {
      argv = fs.readFileSync(`/proc/${this.pid}/cmdline`, 'utf8').split('\0');
    } catch {
      return false;
    }
    return argv[0] !== 'nsenter' && argv[0] !== 'unshare' && !(argv[1] === '-c' && argv[2] === this.rootScript);
  }

  /** Runs argv inside this container's mount/uts namespaces with its env and user. */
  async exec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    if (!this.running || this.pid === undefined) throw new Error(`exec in ${this.pod.name}/${this.name}: container is not running`);
    const timeoutMs = opts.timeoutMs ?? 10000;
    // Bounded: the setup is a few mounts, well under a second.
    const setupDeadline = Date.now() + Math.min(timeoutMs, 5000);
    while (!this.rootReady()) {
      if (!this.running) throw new Error(`exec in ${this.pod.name}/${this.name}: container exited during setup`);
      if (Date.now() > setupDeadline) throw new TimeoutError(`exec in ${this.pod.name}/${this.name}: private root not ready after ${Math.min(timeoutMs, 5000)}ms`);
      await sleep(5);
    }
    const user = this.user();
    const ns = this.pod.host.netnsPath?.(this.pod);
    const nsArgs = ['--target', String(this.pid), ...(ns ? [`--net=${ns}`] : []), '--mount', '--uts', '--root', '--wd'];
    const child = spawn('nsenter', [...nsArgs, '--', 'setpriv', ...setprivArgs(user), '--', ...argv], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...this.env, ...(opts.env ?? {}) },
      cwd: '/',
    });
    if (child.pid === undefined) throw new Error('failed to spawn nsenter');
    const pgid = child.pid;
    registerGroup(pgid);
    let stdout = '';
    let stderr = '';
    const cap = 1 << 20;
    child.stdout?.on('data', (d: Buffer) => {
      if (stdout.length < cap) stdout += d.toString('utf8');
    });
    child.stderr?.on('data', (d: Buffer) => {
      if (stderr.length < cap) stderr += d.toString('utf8');
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, timeoutMs);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
      child.on('close', (c, s) => resolve([c, s]));
      child.on('error', () => resolve([null, null]));
    });
    clearTimeout(timer);
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      /* gone */
    }
    unregisterGroup(pgid);
    return { code, signal, stdout, stderr, timedOut };
  }
}

export class Pod {
  readonly containers: Container[];
  readonly initContainers: Container[];
  readonly unexpectedExits: Array<{ container: string; code: number | null; signal: NodeJS.Signals | null; at: number }> = [];

  constructor(
    readonly host: PodHost,
    readonly name: string,
    readonly namespace: string,
    /** Owning workload, e.g. { kind: 'Deployment', name: 'redis-1' }. */
    readonly owner: { kind: string; name: string },
    readonly index: number,
    readonly address: string,
    /** The pod template (metadata + spec) of the owning workload; see {@link Pod.replaceTemplate}. */
    public template: K8sObject,
    /** Claim name for each PVC-backed volume name of this pod (StatefulSet templates resolved). */
    readonly claims: Map<string, string>,
  ) {
    const spec = template.spec;
    if (!spec?.containers?.length) throw new Error(`pod ${name}: template has no containers`);
    this.containers = spec.containers.map((c: K8sObject) => new Container(this, c, false));
    this.initContainers = [];
    for (const c of spec.initContainers ?? []) {
      if (c.restartPolicy === 'Always') this.containers.push(new Container(this, c, false)); // native sidecar
      else this.initContainers.push(new Container(this, c, true));
    }
  }

  /**
   * Swaps in the template of a re-synthesized workload (as a rollout would), keeping the pod's
   * name, address and claims. The pod must be stopped.
   */
  replaceTemplate(template: K8sObject): void {
    if (this.anyRunning) throw new Error(`pod ${this.name}: stop it before replacing its template`);
    const fresh = new Pod(this.host, this.name, this.namespace, this.owner, this.index, this.address, template, this.claims);
    this.template = template;
    this.containers.splice(0, this.containers.length, ...fresh.containers.map((c) => new Container(this, c.spec, false)));
    this.initContainers.splice(0, this.initContainers.length, ...fresh.initContainers.map((c) => new Container(this, c.spec, true)));
  }

  get labels(): Record<string, string> {
    return this.template.metadata?.labels ?? {};
  }

  /** The first (main) container. */
  get main(): Container {
    return this.containers[0];
  }

  container(name?: string): Container {
    if (name === undefined) return this.main;
    const c = this.containers.find((x) => x.name === name);
    if (!c) throw new Error(`pod ${this.name} has no container ${name} (has ${this.containers.map((x) => x.name).join(', ')})`);
    return c;
  }

  /** PID of the main container process. */
  get pid(): number | undefined {
    return this.main.running ? this.main.pid : undefined;
  }

  get running(): boolean {
    return this.containers.every((c) => c.running);
  }

  get anyRunning(): boolean {
    return this.containers.some((c) => c.running);
  }

  get graceMs(): number {
    return (this.template.spec.terminationGracePeriodSeconds ?? 30) * 1000;
  }

  /** Starts the pod: prepares volumes, runs init containers to completion, spawns containers, runs postStart hooks. */
  async start(opts: { initTimeoutMs?: number } = {}): Promise<void> {
    if (this.anyRunning) throw new Error(`pod ${this.name} is already running`);
    const volumes = this.host.prepareVolumes(this);
    for (const ic of this.initContainers) {
      ic.start(volumes);
      ic.expectingExit = true;
      try {
        await ic.waitExit(opts.initTimeoutMs ?? 60000);
      } catch (e) {
        await ic.crash();
        throw new Error(`pod ${this.name}: init container ${ic.name} did not finish: ${errText(e)}\n${tail(ic.logFile, 30)}`);
      }
      if (ic.exitCode !== 0) throw new Error(`pod ${this.name}: init container ${ic.name} failed (code ${ic.exitCode}, signal ${ic.exitSignal})\n${tail(ic.logFile, 30)}`);
    }
    for (const c of this.containers) {
      c.start(volumes);
      const postStart = c.spec.lifecycle?.postStart;
      if (postStart) {
        const r = await this.runHandler(postStart, c, 30000);
        this.host.log(`${this.name}/${c.name} postStart: ${r}`);
      }
    }
    this.host.podStarted?.(this);
  }

  /**
   * Signal semantics:
   *  - SIGKILL: crash; the whole pod (all containers, all processes) is killed at once.
   *  - SIGTERM: graceful stop (preStop, SIGTERM, wait terminationGracePeriodSeconds, SIGKILL).
   *  - SIGSTOP / SIGCONT: freeze() / thaw().
   *  - anything else: sent to each container's main process.
   */
  async kill(sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    switch (sig) {
      case 'SIGKILL':
        await Promise.all(this.containers.map((c) => c.crash()));
        return;
      case 'SIGTERM':
        await this.stop();
        return;
      case 'SIGSTOP':
        this.freeze();
        return;
      case 'SIGCONT':
        this.thaw();
        return;
      default:
        for (const c of this.containers) c.signal(sig);
    }
  }

  /** Graceful stop of all containers, bounded by the grace period (+5s for the final SIGKILL). */
  async stop(graceMs: number = this.graceMs): Promise<void> {
    await Promise.all(this.containers.map((c) => c.stop(graceMs)));
  }

  /** SIGSTOP every process of every container (like the cgroup freezer). */
  freeze(): void {
    for (const c of this.containers) {
      c.signalGroup('SIGSTOP');
      c.frozen = true;
    }
  }

  thaw(): void {
    for (const c of this.containers) {
      c.signalGroup('SIGCONT');
      c.frozen = false;
    }
  }

  /** Stop (graceful, or crash with {crash: true}) then start again with the same address and claims. */
  async restart(opts: { crash?: boolean; graceMs?: number } = {}): Promise<void> {
    if (opts.crash) await this.kill('SIGKILL');
    else await this.stop(opts.graceMs ?? this.graceMs);
    await this.start();
  }

  /** Waits for the main container to exit. */
  waitExit(timeoutMs: number): Promise<void> {
    return this.main.waitExit(timeoutMs);
  }

  /** Log output of a container (default: main), optionally only the last `lines`. */
  logs(opts: { container?: string; lines?: number } = {}): string {
    const f = this.container(opts.container).logFile;
    return opts.lines ? tail(f, opts.lines) : safeRead(f);
  }

  exec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return this.container(opts.container).exec(argv, opts);
  }

  /** Connects the test process to this pod's address (RESP). */
  connect(port: number, opts: ConnectOptions = {}): Promise<RedisClient> {
    return RedisClient.connect(this.address, port, opts);
  }

  /** Resolves a numeric or named container port. */
  containerPort(port: number | string, container?: string): number {
    if (typeof port === 'number') return port;
    if (/^\d+$/.test(port)) return Number(port);
    const cs = container ? [this.container(container)] : this.containers;
    for (const c of cs) {
      const p = (c.spec.ports ?? []).find((x: K8sObject) => x.name === port);
      if (p) return p.containerPort;
    }
    throw new Error(`pod ${this.name}: no container port named ${port}`);
  }

  /**
   * Runs the container's probe once; true on success. Bounded by the probe's timeoutSeconds
   * (default 1s). Throws if the container has no such probe.
   */
  async probe(kind: ProbeKind, opts: { container?: string } = {}): Promise<boolean> {
    const c = this.container(opts.container);
    const probe = c.spec[`${kind}Probe`];
    if (!probe) throw new Error(`pod ${this.name}/${c.name} has no ${kind}Probe`);
    if (!c.running) return false;
    const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
    try {
      return await this.runCheck(probe, c, timeoutMs);
    } catch {
      return false;
    }
  }

  /** Whether the container defines a probe of this kind. */
  hasProbe(kind: ProbeKind, container?: string): boolean {
    return Boolean(this.container(container).spec[`${kind}Probe`]);
  }

  /** Polls the readiness probe (or, without one, just the process) until it passes. */
  async waitReady(timeoutMs: number, opts: { container?: string } = {}): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const containers = opts.container ? [this.container(opts.container)] : this.containers;
    for (const c of containers) {
      for (;;) {
        if (!c.running) throw new Error(`pod ${this.name}/${c.name} is not running (exit code ${c.exitCode}, signal ${c.exitSignal})\n${tail(c.logFile, 30)}`);
        const ok = c.spec.readinessProbe ? await this.probe('readiness', { container: c.name }) : true;
        if (ok) break;
        if (Date.now() > deadline) throw new TimeoutError(`pod ${this.name}/${c.name} not ready after ${timeoutMs}ms\n${tail(c.logFile, 30)}`);
        await sleep(200);
      }
    }
  }

  /** Runs a probe or lifecycle handler (exec / tcpSocket / httpGet); returns success. */
  async runCheck(handler: K8sObject, c: Container, timeoutMs: number): Promise<boolean> {
    if (handler.exec) {
      const r = await c.exec(handler.exec.command.map((s: string) => String(s)), { timeoutMs });
      return !r.timedOut && r.code === 0;
    }
    if (handler.tcpSocket) {
      const port = this.containerPort(handler.tcpSocket.port, c.name);
      const host = handler.tcpSocket.host ?? this.address;
      return tcpCheck(host, port, timeoutMs);
    }
    if (handler.httpGet) {
      const port = this.containerPort(handler.httpGet.port, c.name);
      const host = handler.httpGet.host ?? this.address;
      return httpCheck(host, port, handler.httpGet.path ?? '/', timeoutMs);
    }
    if (handler.sleep) {
      await sleep(Math.min(timeoutMs, handler.sleep.seconds * 1000));
      return true;
    }
    throw new Error(`pod ${this.name}/${c.name}: unsupported probe/handler ${JSON.stringify(Object.keys(handler))}`);
  }

  /** Lifecycle hook runner; returns a description with the end of the hook's output (kubelet keeps none; tests read it). */
  async runHandler(handler: K8sObject, c: Container, timeoutMs: number): Promise<string> {
    if (handler.exec) {
      const r = await c.exec(handler.exec.command.map((s: string) => String(s)), { timeoutMs });
      return `exec code=${r.code} timedOut=${r.timedOut} stdout=${JSON.stringify(r.stdout.slice(-300))} stderr=${JSON.stringify(r.stderr.slice(-2000))}`;
    }
    return `ok=${await this.runCheck(handler, c, timeoutMs)}`;
  }
}

export function tcpCheck(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createConnection({ host, port });
    const done = (ok: boolean): void => {
      clearTimeout(t);
      s.destroy();
      resolve(ok);
    };
    const t = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

export function httpCheck(host: string, port: number, p: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(t);
      req.destroy();
      resolve(ok);
    };
    const req = http.get({ host, port, path: p, agent: false }, (res) => {
      res.resume();
      finish((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400);
    });
    req.on('error', () => finish(false));
    const t = setTimeout(() => finish(false), timeoutMs);
  });
}

function safeRead(f: string): string {
  try {
    return fs.readFileSync(f, 'utf8');
  } catch {
    return '';
  }
}

/** Last `lines` lines of a file ('' if missing). */
export function tail(f: string, lines: number): string {
  const s = safeRead(f);
  const parts = s.split('\n');
  return parts.slice(Math.max(0, parts.length - lines - 1)).join('\n');
}
