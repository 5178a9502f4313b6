import { spawnSync } from 'child_process';
import { readFileSync, readdirSync, writeFileSync } from 'fs';
import { join } from 'path';
import { PackedPackage, ROOT, consumerApp, packPackage, tsc } from './util/consumer-app';

/** The app's cdk8s-plus as `cdk8s init typescript-app` installs it today, and the newest one. */
const INIT_PLUS = 'cdk8s-plus-33';
const NEWEST_PLUS = 'cdk8s-plus-34';

/** Every ```ts block of the README, with the line it starts on. */
function snippets(): Array<{ line: number; code: string }> {
  const lines = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n');
  const found: Array<{ line: number; code: string }> = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== '```ts') continue;
    const end = lines.findIndex((l, j) => j > i && l.trim() === '```');
    found.push({ line: i + 1, code: lines.slice(i + 1, end).join('\n') + '\n' });
    i = end;
  }
  return found;
}

/** Writes each snippet as its own module of a fresh app; returns the app's directory. */
function appWithSnippets(packed: PackedPackage, plus: string): string {
  const app = consumerApp(packed, [INIT_PLUS, plus]);
  for (const s of snippets()) {
    writeFileSync(join(app, `readme-line-${s.line}.ts`), s.code.replace(new RegExp(`'${INIT_PLUS}'`, 'g'), `'${plus}'`));
  }
  return app;
}

describe('README', () => {
  let packed: PackedPackage;
  beforeAll(() => {
    packed = packPackage();
  }, 120_000);

  test('has TypeScript snippets, each a whole app', () => {
    expect(snippets().length).toBeGreaterThanOrEqual(3);
    for (const s of snippets()) expect(s.code).toMatch(/app\.synth\(\);\n$/);
  });

  // The snippets use cdk8s-plus-33, as `cdk8s init` apps do; and with the newest cdk8s-plus instead.
  test.each([INIT_PLUS, NEWEST_PLUS])('every snippet compiles in a `cdk8s init typescript-app` app on %s, and synthesizes', (plus) => {
    const app = appWithSnippets(packed, plus);
    // Named by README line: an error reads "readme-line-54.ts(12,7): error TS6133: ...".
    expect(tsc(app)).toBe('');
    for (const js of readdirSync(app).filter((f) => f.startsWith('readme-line-') && f.endsWith('.js'))) {
      const r = spawnSync(process.execPath, [js], { cwd: app, encoding: 'utf8', timeout: 60_000 });
      expect({ js, status: r.status, stderr: r.stderr }).toEqual({ js, status: 0, stderr: '' });
    }
  }, 240_000);
});
