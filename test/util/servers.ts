/**
 * Real redis-server and redis-sentinel processes for the unit tests of the rendered scripts, each
 * on a loopback address and port of the test's choosing (never 127.0.0.1:6379), in a private root.
 */
import { writeFileSync } from 'fs';
import { join } from 'path';
import { REDIS_PATHS } from '../../src/server-config';
import { SENTINEL_PATHS, renderSentinelConf } from '../../src/sentinel/sentinel-config';
import { RealProcess } from './process';
import { RootMount } from './private-root';
import { redisCli } from './redis-cli';
import { tempDir } from './temp';

const WAIT_MS = 10_000;

/** A redis-server without persistence at `host:port`, answering PING when this returns. */
export async function startRedis(host: string, port: number, ...args: string[]): Promise<RealProcess> {
  const server = RealProcess.start(
    ['redis-server', '--bind', host, '--port', String(port), '--dir', REDIS_PATHS.data, '--save', '', '--appendonly', 'no', ...args],
    [{ source: tempDir('data'), target: REDIS_PATHS.data }],
  );
  await server.waitUntil(`redis-server at ${host}:${port} answers`, () => redisCli(host, port, ['ping']) === 'PONG', WAIT_MS);
  return server;
}

export interface SentinelOptions {
  readonly host: string;
  readonly port: number;
  readonly masterName: string;
  /** The monitored master's address as the config names it (an IP or a host name). */
  readonly masterHost: string;
  readonly masterPort: number;
  /** Default 1: this sentinel alone decides. */
  readonly quorum?: number;
  /** Default 1000. */
  readonly downAfterMilliseconds?: number;
  /** Extra files in the sentinel's root, such as /etc/hosts. */
  readonly mounts?: readonly RootMount[];
}

/** A redis-sentinel with the chart's rendered settings, announcing its own address, answering PING when this returns. */
export async function startSentinel(o: SentinelOptions): Promise<RealProcess> {
  const { global, master } = renderSentinelConf({
    port: o.port, masterName: o.masterName, downAfterMilliseconds: o.downAfterMilliseconds ?? 1000,
    failoverTimeoutMilliseconds: 3000, parallelSyncs: 1,
  });
  const data = tempDir('sentinel-data');
  writeFileSync(join(data, 'sentinel.conf'), [
    global, `bind ${o.host}\n`, `sentinel announce-ip ${o.host}\n`, `sentinel monitor ${o.masterName} ${o.masterHost} ${o.masterPort} ${o.quorum ?? 1}\n`, master,
  ].join(''));
  const sentinel = RealProcess.start(['redis-server', `${SENTINEL_PATHS.data}/sentinel.conf`, '--sentinel'],
    [{ source: data, target: SENTINEL_PATHS.data }, ...(o.mounts ?? [])]);
  await sentinel.waitUntil(`sentinel at ${o.host}:${o.port} answers`, () => redisCli(o.host, o.port, ['ping']) === 'PONG', WAIT_MS);
  return sentinel;
}

/** The master a sentinel names, as "HOST PORT", or '' when it names none. */
export function namedMaster(host: string, port: number, masterName: string): string {
  return redisCli(host, port, ['--raw', 'sentinel', 'get-master-addr-by-name', masterName]).split('\n').join(' ').trim();
}
