import { execFileSync, spawnSync } from 'child_process';
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

export interface SynthFigures {
  /** Median in-process wall time (ms) to build and synthesize N RedisHa, after a warm-up. */
  readonly ms: Record<string, number>;
  /** Peak resident memory (MiB) of the process that did it. */
  readonly rssMb: Record<string, number>;
  /** Median wall time (ms) of `cdk8s synth` of the default app (compiled JavaScript). */
  readonly cliMs: number;
  /** The same with the app run through ts-node (compiling TypeScript on every synth). */
  readonly cliTsNodeMs: number;
}

const ROOT = join(__dirname, '..');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function timeCommand(cmd: string, args: string[], runs = 3): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = Date.now();
    const r = spawnSync(cmd, args, { cwd: ROOT, stdio: 'ignore', timeout: 120_000 });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}`);
    times.push(Date.now() - start);
  }
  return median(times);
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
  const cliMs = timeCommand('npx', ['--no-install', 'cdk8s', 'synth', '-o', out]);
  const cliTsNodeMs = timeCommand('npx', ['--no-install', 'cdk8s', 'synth', '-o', out, '--app', 'npx ts-node src/main.ts']);
  rmSync(out, { recursive: true, force: true });
  return { ms, rssMb, cliMs, cliTsNodeMs };
}
