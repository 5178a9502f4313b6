/**
 * A real server started by a unit test, in a private root (so the paths its rendered config
 * names, such as `/data`, exist only for it), logging to a file. Waits are bounded and, when
 * they fail, report the process's exit code and the last lines of its log.
 */
import { ChildProcess } from 'child_process';
import { closeSync, openSync, readFileSync } from 'fs';
import { join } from 'path';
import { RootMount, spawnInPrivateRoot } from './private-root';
import { tempDir } from './temp';

const running: RealProcess[] = [];

export class RealProcess {
  /**
   * Starts `argv` as root in a private root with these mounts (and this environment, default the
   * test's); killed after each test. Its PID is `argv`'s own, and stays that of whatever it execs.
   */
  static start(argv: string[], mounts: RootMount[] = [], env?: NodeJS.ProcessEnv): RealProcess {
    const dir = tempDir('proc');
    const log = join(dir, 'output.log');
    const fd = openSync(log, 'a');
    try {
      // A process group of its own, so that kill() also ends what it started (a script's children).
      const child = spawnInPrivateRoot({ root: tempDir('root'), mounts }, argv, { stdio: ['ignore', fd, fd], env: env ?? process.env, detached: true });
      const p = new RealProcess(argv, child, log);
      running.push(p);
      return p;
    } finally {
      closeSync(fd);
    }
  }

  /** Kills every process started by {@link RealProcess.start} that still runs. */
  static async killAll(): Promise<void> {
    await Promise.all(running.splice(0).map((p) => p.kill()));
  }

  private exit?: { code: number | null; signal: NodeJS.Signals | null };
  private readonly exited: Promise<void>;

  private constructor(readonly argv: string[], private readonly child: ChildProcess, readonly logFile: string) {
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => {
      this.exit = { code, signal };
      resolve();
    }));
  }

  get pid(): number {
    return this.child.pid as number;
  }

  /** The whole output so far. */
  output(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  /** Waits at most `ms` for the process to exit and returns its exit code; fails if it still runs. */
  async exitCode(ms: number): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
    await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (!this.exit) throw new Error(`still running after ${ms} ms: ${this.report()}`);
    return this.exit.code;
  }

  /** The last lines of the process's output. */
  tail(lines = 20): string {
    return this.output().split('\n').slice(-lines - 1).join('\n');
  }

  /** One paragraph for a failure message: state and the last lines of output. */
  report(): string {
    const state = this.exit ? `exited (code ${this.exit.code}, signal ${this.exit.signal})` : `still running (pid ${this.child.pid})`;
    return `${this.argv.join(' ')}: ${state}; last lines of its output:\n${this.tail()}`;
  }

  /** Polls `ok` every 100 ms for at most `ms`; fails at once if the process exits. */
  async waitUntil(what: string, ok: () => boolean, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      if (this.exit) throw new Error(`waiting for ${what}: ${this.report()}`);
      if (ok()) return;
      if (Date.now() >= deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}: ${this.report()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Kills the process and whatever it started (its process group). */
  async kill(): Promise<void> {
    if (this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, 'SIGKILL');
    } catch {
      /* the group is gone */
    }
    await this.exited;
  }
}

if (typeof afterEach === 'function') afterEach(() => RealProcess.killAll());
