import { existsSync, readFileSync } from 'fs';
import { join } from 'path';
import { ROOT, jsiiBuild, run } from './util/consumer-app';

const DOCGEN = join(ROOT, 'node_modules', 'jsii-docgen', 'bin', 'jsii-docgen');

/** The first line where two texts differ (1-based), with both versions of it; undefined when equal. */
function firstDifference(a: string, b: string): string | undefined {
  if (a === b) return undefined;
  const x = a.split('\n');
  const y = b.split('\n');
  const i = x.findIndex((line, n) => line !== y[n]);
  const n = i === -1 ? x.length : i;
  return `line ${n + 1}: committed ${JSON.stringify(x[n])}, generated ${JSON.stringify(y[n])}`;
}

describe('API.md', () => {
  test('is what jsii-docgen writes for the current source (regenerate with `npm run docgen`)', () => {
    const stage = jsiiBuild();
    run([process.execPath, DOCGEN, '-o', 'API.md'], stage);
    const generated = readFileSync(join(stage, 'API.md'), 'utf8');
    expect(generated).toMatch(/^# API Reference/);
    expect(existsSync(join(ROOT, 'API.md'))).toBe(true);
    expect(firstDifference(readFileSync(join(ROOT, 'API.md'), 'utf8'), generated)).toBeUndefined();
  }, 120_000);
});
