/**
 * How the harness maps an image to the binaries it runs (harness/images.ts), on a throwaway cache.
 */
import * as fs from 'fs';
import * as path from 'path';
import { canRun, engineLine, imageMounts } from './harness';
import { tempDir } from '../util/temp';

describe('image binaries', () => {
  let cache: string;
  beforeAll(() => {
    cache = tempDir('engines');
    for (const [dir, bin] of [['valkey-9.1.2', 'valkey-server'], ['valkey-9.1.10', 'valkey-server'], ['haproxy-3.0.11', 'haproxy']]) {
      fs.mkdirSync(path.join(cache, dir, 'bin'), { recursive: true });
      fs.writeFileSync(path.join(cache, dir, 'bin', bin), '');
    }
    // A build that did not finish never counts.
    fs.mkdirSync(path.join(cache, 'redis-8.0.6.partial', 'bin'), { recursive: true });
    fs.writeFileSync(path.join(cache, 'redis-8.0.6.partial', 'bin', 'redis-server'), '');
  });
  afterAll(() => fs.rmSync(cache, { recursive: true, force: true }));

  test('an image names its engine and line, whatever the registry and suffix', () => {
    expect(engineLine('valkey/valkey:9.1.4')).toEqual({ engine: 'valkey', line: '9.1' });
    expect(engineLine('registry.example:5000/mirror/redis:8.0.6-alpine')).toEqual({ engine: 'redis', line: '8.0' });
    expect(engineLine('haproxy:3.0')).toEqual({ engine: 'haproxy', line: '3.0' });
    expect(engineLine('oliver006/redis_exporter:v1.62.0')).toBeUndefined();
  });

  test('a line the host has runs the host\'s binaries; another binds the newest build where the image keeps them', () => {
    expect(imageMounts('redis:7.0.15', cache)).toEqual([]);
    expect(imageMounts('haproxy:2.6.12', cache)).toEqual([]);
    expect(imageMounts('valkey/valkey:9.1.4', cache)).toEqual([{ source: path.join(cache, 'valkey-9.1.10', 'bin'), target: '/usr/local/bin', readOnly: true }]);
    expect(imageMounts('haproxy:3.0.27', cache)).toEqual([{ source: path.join(cache, 'haproxy-3.0.11', 'bin'), target: '/usr/local/sbin', readOnly: true }]);
    expect(imageMounts('oliver006/redis_exporter:v1.62.0', cache)).toEqual([]);
  });

  test('a line not built fails naming the script that builds it', () => {
    expect(canRun('redis:8.0.6', cache)).toBe(false);
    expect(() => imageMounts('redis:8.0.6', cache)).toThrow(/image redis:8.0.6: no build of redis 8.0 in .*; run scripts\/ensure-engines.sh/);
    expect(canRun('valkey/valkey:9.1.4', cache)).toBe(true);
  });
});
