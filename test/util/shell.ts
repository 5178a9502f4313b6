import { SpawnSyncReturns, spawn, spawnSync } from 'child_process';
import { writeFileSync } from 'fs';
import { tempDir } from './temp';
import { join } from 'path';

/** Writes text to a fresh temp file and returns its path. */
export function tempFile(name: string, text: string): string {
  const dir = tempDir('test');
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** `sh -n` and shellcheck (installed by the test command) on a script; returns their combined complaints. */
export function lintScript(script: string): string {
  const path = tempFile('script.sh', script);
  const out: string[] = [];
  const syntax = spawnSync('sh', ['-n', path], { encoding: 'utf8', timeout: 10_000 });
  if (syntax.status !== 0) out.push(`sh -n: ${syntax.stderr}`);
  const sc = spawnSync('shellcheck', ['-s', 'sh', path], { encoding: 'utf8', timeout: 15_000 });
  if (sc.status !== 0) out.push(`shellcheck (${sc.error ?? sc.status}): ${sc.stdout}${sc.stderr}`);
  return out.join('\n');
}

/**
 * Runs a command in its own mount namespace whose /etc/resolv.conf names a
 * loopback address nothing listens on, so name lookups (e.g. by `haproxy -c`)
 * fail fast and never leave the machine.
 */
export function withLoopbackDns(argv: string[], env: NodeJS.ProcessEnv): SpawnSyncReturns<string> {
  const resolv = tempFile('resolv.conf', 'nameserver 127.255.255.254\noptions timeout:1 attempts:1\n');
  return spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c',
    'mount --bind "$0" /etc/resolv.conf && exec "$@"', resolv, ...argv], { encoding: 'utf8', env, timeout: 15_000 });
}

/** A shell script started by {@link startScript}. */
export interface ScriptRun {
  /** Its exit code and output (stdout and stderr), once it and everything it started are gone. */
  readonly done: Promise<{ code: number | null; out: string }>;
  /** Ends the script and every process it left (a preStop's background clients with it). */
  stop(): void;
}

/**
 * Runs `sh -c script` with exactly this environment (plus PATH), in its own process group, killed
 * with that group after `timeoutMs`. When it ends, whatever it left in the background is killed too.
 */
export function startScript(script: string, env: NodeJS.ProcessEnv, timeoutMs = 20_000): ScriptRun {
  const child = spawn('sh', ['-c', script], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const stop = () => {
    try {
      process.kill(-(child.pid as number), 'SIGKILL');
    } catch {
      /* gone */
    }
  };
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const timer = setTimeout(stop, timeoutMs);
  const done = new Promise<{ code: number | null; out: string }>((resolve) => child.on('close', (code) => {
    clearTimeout(timer);
    stop();
    resolve({ code, out });
  }));
  return { done, stop };
}
