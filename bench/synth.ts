import { execFileSync, spawnSync } from 'child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

export interface SynthFigures {
  /** Median in-process wall time (ms) to build and synthesize N RedisHa, after a warm-up. */
  readonly ms: Record<string, number>;
  /** Peak resident memory (MiB) of the process that did it. */
  readonly rssMb: Record<string, number>;
  /** Median wall time (ms) of `cdk8s synth` of the default app (compiled JavaScript), of 5 runs in turns with the others. */
  readonly cliMs: number;
  /**
   * The same CLI, in the same run, synthesizing an empty app (a cdk8s `App` with no chart): what
   * `cdk8s synth` costs before the chart's first object, the floor of {@link cliMs}.
   */
  readonly cliEmptyMs: number;
  /** The same with the app run through ts-node (compiling TypeScript on every synth). */
  readonly cliTsNodeMs: number;
}

const ROOT = join(__dirname, '..');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * Median wall time (ms) of each command, the commands run in turns (a, b, c, a, b, c, ...) so that a
 * change of load during the runs (other work on a shared machine) weighs on each of them alike.
 */
function timeInTurns(commands: Array<[string, string[]]>, runs: number): number[] {
  const times: number[][] = commands.map(() => []);
  for (let i = 0; i < runs; i++) {
    commands.forEach(([cmd, args], c) => {
      const start = Date.now();
      const r = spawnSync(cmd, args, { cwd: ROOT, stdio: 'ignore', timeout: 120_000 });
      if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}`);
      times[c].push(Date.now() - start);
    });
  }
  return times.map(median);
}

export function measureSynth(): SynthFigures {
  const ms: Record<string, number> = {};
  const rssMb: Record<string, number> = {};
  for (const n of [1, 10, 100]) {
    const out = execFileSync('npx', ['ts-node', '--transpile-only', 'bench/synth-child.ts', String(n)], {
      cwd: ROOT, encoding: 'utf8', timeout: 300_000,
    });
    const r = JSON.parse(out.trim().split('\n').pop()!);
    ms[n] = Math.round(r.ms * 10) / 10;
    rssMb[n] = Math.round(r.rssMb);
  }
  const out = mkdtempSync(join(tmpdir(), 'bench-synth-'));
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'ignore' });
  // The empty app loads the same cdk8s as the chart's app (this repository's), and nothing else.
  const emptyApp = join(out, 'empty-app.js');
  writeFileSync(emptyApp, `const { App } = require(${JSON.stringify(require.resolve('cdk8s'))});\nnew App().synth();\n`);
  const [cliMs, cliEmptyMs, cliTsNodeMs] = timeInTurns([
    ['npx', ['--no-install', 'cdk8s', 'synth', '-o', join(out, 'chart')]],
    ['npx', ['--no-install', 'cdk8s', 'synth', '-o', join(out, 'empty'), '--app', `node ${emptyApp}`]],
    ['npx', ['--no-install', 'cdk8s', 'synth', '-o', join(out, 'chart-ts'), '--app', 'npx ts-node src/main.ts']],
  ], 5);
  rmSync(out, { recursive: true, force: true });
  return { ms, rssMb, cliMs, cliTsNodeMs, cliEmptyMs };
}
