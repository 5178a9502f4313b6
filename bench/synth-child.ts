// One synth measurement in a fresh process: `ts-node bench/synth-child.ts N`.
// Prints JSON { n, ms, rssMb } after one warm-up run, timing the median of 3 runs.
import { App, Chart } from 'cdk8s';
import { RedisHa } from '../src';

function synthOnce(n: number): number {
  const start = process.hrtime.bigint();
  const app = new App();
  const chart = new Chart(app, 'bench');
  for (let i = 0; i < n; i++) new RedisHa(chart, `redis${i}`);
  app.synthYaml();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

const n = Number(process.argv[2] ?? 1);
synthOnce(n); // warm-up: module loading and JIT
const runs = [synthOnce(n), synthOnce(n), synthOnce(n)].sort((a, b) => a - b);
const rssMb = process.resourceUsage().maxRSS / 1024;
process.stdout.write(JSON.stringify({ n, ms: runs[1], rssMb }) + '\n');
