/**
 * What a container's image puts on its PATH. The harness runs no images; it runs, for an image of
 * a known engine, that engine's real binaries of the same line: Debian 12's own packages for the
 * lines the host has (redis 7.0 in /usr/bin, haproxy 2.6 in /usr/sbin), else a build from
 * `scripts/ensure-engines.sh` in the engine cache, bound read-only where the official image keeps
 * its binaries (/usr/local/bin for redis and valkey, /usr/local/sbin for haproxy), which the pod's
 * PATH searches first, as the image's does. Inside the pod, that directory then holds exactly what
 * the image's holds (valkey's `redis-*` compatibility links included), and nothing of the host's.
 */
import * as fs from 'fs';
import * as path from 'path';
import { RootMount } from '../../util/private-root';

/** Where scripts/ensure-engines.sh installs its builds, one `<engine>-<version>/bin` each. */
export const ENGINE_CACHE = process.env.ENGINE_CACHE ?? '/var/cache/cdk8s-redis-ha/engines';

interface EngineLayout {
  /** The server binary, to tell a working build. */
  readonly server: string;
  /** Where the official image keeps its binaries. */
  readonly target: string;
  /** The line Debian 12 provides on the host, run without any bind. */
  readonly hostLine?: string;
}

const ENGINES: { [name: string]: EngineLayout } = {
  redis: { server: 'redis-server', target: '/usr/local/bin', hostLine: '7.0' },
  valkey: { server: 'valkey-server', target: '/usr/local/bin' },
  haproxy: { server: 'haproxy', target: '/usr/local/sbin', hostLine: '2.6' },
};

/** An image's engine and line (`major.minor`), or undefined for an image of no known engine. */
export function engineLine(image: string): { engine: string; line: string } | undefined {
  const m = /^(?:.*\/)?([a-z0-9._-]+):(\d+)\.(\d+)(?:[.-][\w.-]*)?$/.exec(image);
  if (!m || !ENGINES[m[1]]) return undefined;
  return { engine: m[1], line: `${m[2]}.${m[3]}` };
}

/** The cached build of an engine line, newest patch first, or undefined when none is built. */
export function cachedBuild(engine: string, line: string, cache = ENGINE_CACHE): string | undefined {
  let entries: string[];
  try {
    entries = fs.readdirSync(cache);
  } catch {
    return undefined;
  }
  const builds = entries
    .filter((e) => e.startsWith(`${engine}-${line}.`) && !e.endsWith('.partial') && !e.endsWith('.log'))
    .sort((a, b) => b.localeCompare(a, undefined, { numeric: true }))
    .map((e) => path.join(cache, e, 'bin'));
  return builds.find((bin) => fs.existsSync(path.join(bin, ENGINES[engine].server)));
}

/** Whether the host can run an image's engine line (the host's own, or a cached build). */
export function canRun(image: string, cache = ENGINE_CACHE): boolean {
  const e = engineLine(image);
  return !e || e.line === ENGINES[e.engine].hostLine || cachedBuild(e.engine, e.line, cache) !== undefined;
}

/** The binds that give a container its image's binaries; fails for a known engine line not built. */
export function imageMounts(image: string, cache = ENGINE_CACHE): RootMount[] {
  const e = engineLine(image);
  if (!e || e.line === ENGINES[e.engine].hostLine) return [];
  const bin = cachedBuild(e.engine, e.line, cache);
  if (!bin) {
    throw new Error(`image ${image}: no build of ${e.engine} ${e.line} in ${cache}; run scripts/ensure-engines.sh (test/run-all.sh does)`);
  }
  return [{ source: bin, target: ENGINES[e.engine].target, readOnly: true }];
}
