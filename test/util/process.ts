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
  /** Starts `argv` as root in a private root with these mounts; killed after each test. */
  static start(argv: string[], mounts: RootMount[] = []): RealProcess {
    const dir = tempDir('proc');
    const log = join(dir, 'output.log');
    const fd = openSync(log, 'a');
    try {
      const child = spawnInPrivateRoot({ root: tempDir('root'), mounts }, argv, { stdio: ['ignore', fd, fd] });
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

  /** The last lines of the process's output. */
  tail(lines = 20): string {
    let text = '';
    try {
      text = readFileSync(this.logFile, 'utf8');
    } catch {
      /* nothing written yet */
    }
    return text.split('\n').slice(-lines - 1).join('\n');
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

  async kill(): Promise<void> {
    if (this.exit || this.child.pid === undefined) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

if (typeof afterEach === 'function') afterEach(() => RealProcess.killAll());
