/**
 * Section 8, engines side by side: for each engine line and HAProxy version the tests run, the failover
 * write gap at down-after 2 s (SIGKILLs of the master, as figure 1) and the proxy's throughput ratio
 * (as figure 3, chart defaults only), with the server and HAProxy versions that answered.
 */
import { ProxyEngine, RedisEngine, RedisHaProps } from '../src';
import { canRun, errText, parseInfo } from '../test/e2e/harness';
import { BenchEnv } from './env';
import { measureFailover } from './failover';
import { TestName, measureProxy } from './proxy';

/** One engine combination. */
export interface EngineRow {
  readonly name: string;
  readonly props: RedisHaProps;
}

/** The default chart first, then the matrix's other lines (test/e2e/matrix.test.ts). */
export const ENGINE_ROWS: EngineRow[] = [
  { name: 'valkey 9.1 + haproxy 3.0 (chart default)', props: {} },
  { name: 'redis 7.0 + haproxy 2.6', props: { engine: RedisEngine.redis({ image: 'redis:7.0.15' }), proxy: { engine: ProxyEngine.haproxy({ image: 'haproxy:2.6.12' }) } } },
  { name: 'redis 8.0 + haproxy 3.0', props: { engine: RedisEngine.redis({ image: 'redis:8.0.6' }) } },
  { name: 'valkey 8.1 + haproxy 3.0', props: { engine: RedisEngine.valkey({ image: 'valkey/valkey:8.1.1' }) } },
  { name: 'valkey 9.1 + haproxy 3.2', props: { proxy: { engine: ProxyEngine.haproxy({ image: 'haproxy:3.2.26' }) } } },
];

export interface EngineFigure {
  name: string;
  /** What answered: INFO server's version and `haproxy -v`. */
  server?: string;
  haproxy?: string;
  /** Write gap after SIGKILL of the master, down-after 2000 ms. */
  gapMs?: { min: number; median: number; max: number; n: number };
  switchMs?: { min: number; median: number; max: number; n: number };
  /** Proxy throughput / direct, 50 clients. */
  ratio?: Record<TestName, number>;
  skipped?: string;
  errors: string[];
}

function imagesOf(props: RedisHaProps): string[] {
  return [(props.engine ?? RedisEngine.valkey()).image, (props.proxy?.engine ?? ProxyEngine.haproxy()).image];
}

export async function measureEngines(o: { subnetBase: number; kills: number; seconds: number; log: (m: string) => void }): Promise<EngineFigure[]> {
  const out: EngineFigure[] = [];
  for (const [i, row] of ENGINE_ROWS.entries()) {
    const fig: EngineFigure = { name: row.name, errors: [] };
    out.push(fig);
    const missing = imagesOf(row.props).filter((image) => !canRun(image));
    if (missing.length) {
      fig.skipped = `no build of ${missing.join(', ')} (scripts/ensure-engines.sh)`;
      o.log(`engines: ${row.name}: SKIPPED, ${fig.skipped}`);
      continue;
    }
    let be: BenchEnv | undefined;
    try {
      be = await BenchEnv.create({ subnet: o.subnetBase + 2 * i, name: `bench-engine-${i}`, props: row.props });
      const master = await be.healthy(60_000);
      const info = parseInfo(await be.env.on<string>(master, ['INFO', 'server']));
      fig.server = info.valkey_version ? `valkey ${info.valkey_version}` : `redis ${info.redis_version}`;
      fig.haproxy = (await be.env.proxies[0].exec(['haproxy', '-v'])).stdout.split('\n')[0].replace(/^HAProxy version (\S+).*/, '$1');
      const p = await measureProxy(be, [{ label: 'chart default', change: 'none' }], { seconds: o.seconds, directEvery: 1, log: o.log });
      fig.ratio = p.ratio;
    } catch (e) {
      fig.errors.push(`proxy: ${errText(e)}`);
      o.log(`engines: ${row.name}: proxy FAILED ${errText(e)}`);
    } finally {
      await be?.shutdown();
    }
    try {
      const f = await measureFailover({ subnet: o.subnetBase + 2 * i + 1, downAfterMs: 2000, kills: o.kills, props: row.props, name: `engine-${i}`, log: o.log });
      fig.gapMs = f.gapMs;
      fig.switchMs = f.switchMs;
    } catch (e) {
      fig.errors.push(`failover: ${errText(e)}`);
      o.log(`engines: ${row.name}: failover FAILED ${errText(e)}`);
    }
    o.log(`engines: ${row.name}: ${JSON.stringify(fig)}`);
  }
  return out;
}
