/**
 * A process's own view of the filesystem that leaves the host's untouched: inside a private mount
 * namespace, a tmpfs becomes the root and binds the host's top-level entries; a mount target that
 * does not exist is made on a tmpfs laid over its nearest existing parent (whose entries are bound
 * back), never on the host; then the process is chrooted there. Everything disappears with the
 * namespace, so no pod's mount path (`/data`, `/opt/redis-ha`, ...) is ever created on the host.
 */
import { ChildProcess, SpawnOptions, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

/** A host file or directory bound at a path of the private root. */
export interface RootMount {
  /** Host path (a file or a directory). */
  readonly source: string;
  /** Absolute path inside the private root. */
  readonly target: string;
  /** Remount read-only. */
  readonly readOnly?: boolean;
}

export interface PrivateRootOptions {
  /** An existing, empty host directory; a tmpfs is mounted on it inside the namespace only. */
  readonly root: string;
  readonly mounts: readonly RootMount[];
  /** Everything but the mounts read-only, as `readOnlyRootFilesystem` does. */
  readonly readOnlyRoot?: boolean;
  /** Working directory inside the root (default `/`). */
  readonly workingDir?: string;
  /** Hostname in a private UTS namespace (default: the host's, no UTS namespace). */
  readonly hostname?: string;
}

/** Quotes a string for POSIX sh. */
function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The part of `p` below `dir`, or undefined when `p` is not `dir` or below it. */
function below(p: string, dir: string): string | undefined {
  if (p === dir) return '';
  const prefix = dir === '/' ? '/' : `${dir}/`;
  return p.startsWith(prefix) ? p.slice(prefix.length) : undefined;
}

/**
 * Shell steps, run as root inside `unshare -m --propagation private`, that build the root. The
 * host is read here (which entries exist) to decide where a tmpfs layer is needed.
 */
export function privateRootSteps(o: PrivateRootOptions): string[] {
  const R = path.resolve(o.root);
  const at = (p: string): string => shq(p === '/' ? R : R + p);
  // Unbindable: the root lies below a host directory it binds (/tmp, /work), and a recursive bind
  // must not copy the root into itself.
  const steps = ['set -e', `mount -t tmpfs -o mode=0755 private-root ${at('/')}`, `mount --make-unbindable ${at('/')}`];
  // What the root shows: container path -> host path for every bind made so far, plus what we made
  // on our own tmpfs layers (which we may write to without touching the host).
  const binds = new Map<string, string>();
  const made = new Set<string>(['/']);
  const readOnly: string[] = [];
  const layers: string[] = ['/'];

  const hostPathOf = (p: string): string | undefined => {
    let best: string | undefined;
    for (const t of binds.keys()) if (below(p, t) !== undefined && (best === undefined || t.length > best.length)) best = t;
    if (best === undefined) return undefined;
    const rest = below(p, best) as string;
    return rest ? path.join(binds.get(best) as string, rest) : binds.get(best);
  };
  const exists = (p: string): boolean => {
    if (made.has(p) && !binds.has(p)) return true;
    const h = hostPathOf(p);
    return h !== undefined && fs.existsSync(h);
  };
  const ours = (dir: string): boolean => made.has(dir) && !binds.has(dir);
  const bindEntry = (target: string, source: string, ro: boolean): void => {
    const st = fs.lstatSync(source);
    if (st.isSymbolicLink()) {
      steps.push(`ln -s ${shq(fs.readlinkSync(source))} ${at(target)}`);
      made.add(target);
      return;
    }
    steps.push(st.isDirectory() ? `mkdir ${at(target)}` : `touch ${at(target)}`);
    steps.push(`mount --rbind ${shq(source)} ${at(target)}`);
    binds.set(target, source);
    if (ro) readOnly.push(target);
  };
  const applied: RootMount[] = [];
  const bind = (m: RootMount): void => {
    steps.push(`mount --bind ${shq(m.source)} ${at(m.target)}`);
    for (const t of [...binds.keys()]) if (below(t, m.target) !== undefined) binds.delete(t);
    for (const t of [...made]) if (t !== m.target && below(t, m.target) !== undefined) made.delete(t);
    binds.set(m.target, m.source);
    for (let i = readOnly.length - 1; i >= 0; i--) if (below(readOnly[i], m.target) !== undefined) readOnly.splice(i, 1);
    if (m.readOnly) readOnly.push(m.target);
  };
  /**
   * Lays a tmpfs over `dir` and binds its entries back, so that new entries can be made in it;
   * mounts already made below `dir` are made again on top.
   */
  const layer = (dir: string): void => {
    const host = hostPathOf(dir) as string;
    const wasReadOnly = readOnly.includes(dir);
    const mode = (fs.statSync(host).mode & 0o7777).toString(8);
    steps.push(`mount -t tmpfs -o mode=${mode} private-layer ${at(dir)}`);
    binds.delete(dir);
    made.add(dir);
    layers.push(dir);
    for (const e of fs.readdirSync(host)) bindEntry(path.posix.join(dir, e), path.join(host, e), wasReadOnly);
    for (const m of applied) if (m.target !== dir && below(m.target, dir) !== undefined) bind(m);
  };

  for (const e of fs.readdirSync('/')) bindEntry(`/${e}`, `/${e}`, Boolean(o.readOnlyRoot));
  const mounts = o.mounts
    .map((m) => ({ ...m, target: path.posix.normalize(m.target) }))
    .sort((a, b) => a.target.split('/').length - b.target.split('/').length);
  for (const m of mounts) {
    if (!path.posix.isAbsolute(m.target) || m.target === '/') throw new Error(`mount target must be an absolute path below /: ${m.target}`);
  }
  // Host directories that need a layer, shallowest first, before any mount hides part of them.
  const hostLayers: string[] = [];
  for (const m of mounts) {
    if (mounts.some((x) => x !== m && below(m.target, x.target) !== undefined) || fs.existsSync(m.target)) continue;
    let parent = path.posix.dirname(m.target);
    while (!fs.existsSync(parent)) parent = path.posix.dirname(parent);
    if (parent !== '/' && !hostLayers.some((l) => below(parent, l) !== undefined)) hostLayers.push(parent);
  }
  for (const l of hostLayers.sort((a, b) => a.length - b.length)) if (!ours(l)) layer(l);
  for (const m of mounts) {
    const isDir = fs.statSync(m.source).isDirectory();
    if (!exists(m.target)) {
      let parent = path.posix.dirname(m.target);
      while (!exists(parent)) parent = path.posix.dirname(parent);
      if (!ours(parent)) layer(parent);
      const missing: string[] = [];
      for (let p = m.target; !exists(p); p = path.posix.dirname(p)) missing.unshift(p);
      for (const p of missing) {
        steps.push(p === m.target && !isDir ? `touch ${at(p)}` : `mkdir ${at(p)}`);
        made.add(p);
      }
    }
    bind(m);
    applied.push(m);
  }
  if (o.readOnlyRoot) {
    for (const d of layers) if (!binds.has(d)) steps.push(`mount -o remount,ro ${at(d)}`);
  }
  // Bind remounts change only this namespace's mounts; submounts (/proc, /dev/pts) keep their flags.
  for (const t of readOnly) if (binds.has(t)) steps.push(`mount -o remount,bind,ro ${at(t)}`);
  if (o.hostname !== undefined) steps.push(`printf %s ${shq(o.hostname)} > /proc/sys/kernel/hostname`);
  return steps;
}

/**
 * The argv that runs `argv` in a private root: `unshare` for the namespaces, the steps, then
 * `unshare --root --wd` to chroot. Every step execs, so the spawned PID becomes `argv`'s process.
 */
export function privateRootArgv(o: PrivateRootOptions, argv: readonly string[]): string[] {
  const script = [
    ...privateRootSteps(o),
    `exec unshare --root=${shq(path.resolve(o.root))} --wd=${shq(o.workingDir ?? '/')} -- "$@"`,
  ].join('\n');
  const ns = o.hostname !== undefined ? ['-m', '-u'] : ['-m'];
  return ['unshare', ...ns, '--propagation', 'private', '--', 'sh', '-c', script, 'sh', ...argv];
}

/** Spawns `argv` in a private root (see {@link privateRootArgv}). */
export function spawnInPrivateRoot(o: PrivateRootOptions, argv: readonly string[], opts: SpawnOptions = {}): ChildProcess {
  const [cmd, ...args] = privateRootArgv(o, argv);
  return spawn(cmd, args, opts);
}
