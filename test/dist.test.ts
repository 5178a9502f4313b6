import { readFileSync, readdirSync } from 'fs';
import { join } from 'path';
import { buildApp } from '../src/main';
import { tempDir } from './util/temp';

describe('dist/', () => {
  test('equals a fresh synth of the default app', () => {
    const out = tempDir('dist');
    buildApp(out).synth();
    const dist = join(__dirname, '..', 'dist');
    expect(readdirSync(dist).sort()).toEqual(readdirSync(out).sort());
    for (const file of readdirSync(out)) {
      expect(readFileSync(join(dist, file), 'utf8')).toBe(readFileSync(join(out, file), 'utf8'));
    }
  });
});
