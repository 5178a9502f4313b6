import { readFileSync, readdirSync } from 'fs';
import { join } from 'path';
import * as api from '../src';
import { ProxyEngine, RedisEngine, RedisHa, RedisInstance, SentinelCluster, SentinelProxy } from '../src';
import { component, containerOf, named, ofKind, synthRedisHa } from './util/synth';

const SRC = join(__dirname, '..', 'src');

/** Every `@default` line of the source's doc comments, with the file it is in. */
function defaultDocs(): Array<{ file: string; text: string }> {
  // Every module, shared ones and those of each mode's folder.
  return (readdirSync(SRC, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).flatMap((file) =>
    [...readFileSync(join(SRC, file), 'utf8').matchAll(/@default (.*)$/gm)].map((m) => ({ file, text: m[1] })));
}

describe('the public API', () => {
  // jsii carries classes, interfaces and enums to the other languages, and drops functions and constants.
  test('exports classes and enums only: no free function or module constant', () => {
    const kinds = Object.entries(api).map(([name, value]) => {
      if (typeof value === 'function') return [name, /^class\b/.test(Function.prototype.toString.call(value)) ? 'class' : 'function'];
      const isEnum = typeof value === 'object' && value !== null && Object.values(value).every((v) => typeof v === 'string');
      return [name, isEnum ? 'enum' : typeof value];
    });
    expect(kinds.filter(([, kind]) => kind !== 'class' && kind !== 'enum')).toEqual([]);
    expect(Object.keys(api).sort()).toEqual([
      'AntiAffinity', 'ClusterEndpointType', 'ClusterNode', 'EngineKind', 'Persistence', 'PodVolume', 'ProxyEngine', 'RedisAuth', 'RedisCluster', 'RedisEngine', 'RedisHa',
      'RedisInstance', 'RedisTls',
      'SentinelCluster', 'SentinelProxy', 'TaintEffect', 'Toleration',
    ]);
  });

  test('every @default that names a constant names a static member that exists', () => {
    // A constant: SNAKE_CASE, or a static member (`RedisInstance.PORT`).
    const constants = defaultDocs().filter((d) => /\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b|\b[A-Z]\w*\.[A-Z][A-Z0-9_]+\b/.test(d.text));
    expect(constants.length).toBeGreaterThanOrEqual(4);
    for (const d of constants) {
      const ref = /\b([A-Z]\w*)\.([A-Z][A-Z0-9_]+)\b/.exec(d.text);
      expect({ ...d, ref: ref?.[0] }).toEqual({ ...d, ref: expect.any(String) });
      const owner = (api as any)[ref![1]];
      expect({ ...d, value: owner?.[ref![2]] }).toEqual({ ...d, value: expect.anything() });
    }
  });

  test('the static defaults and ports are the ones the chart runs', () => {
    const { ha, objects } = synthRedisHa({ metrics: {}, proxy: { readReplicas: true } });
    const deployments = ofKind(objects, 'Deployment');
    const redis = deployments.filter((d) => component(d) === 'redis');
    const sentinels = deployments.filter((d) => component(d) === 'sentinel');
    const [proxy] = deployments.filter((d) => component(d) === 'proxy');
    for (const d of redis) {
      expect(containerOf(d).image).toBe(RedisEngine.DEFAULT_VALKEY_IMAGE);
      expect(containerOf(d).ports.map((p: any) => p.containerPort)).toEqual([RedisInstance.PORT]);
      expect(containerOf(d, 'exporter').image).toBe(RedisHa.DEFAULT_EXPORTER_IMAGE);
    }
    for (const d of sentinels) {
      expect(containerOf(d).image).toBe(RedisEngine.DEFAULT_VALKEY_IMAGE);
      expect(containerOf(d).ports.map((p: any) => p.containerPort)).toEqual([SentinelCluster.PORT]);
    }
    expect(containerOf(proxy).image).toBe(ProxyEngine.DEFAULT_HAPROXY_IMAGE);
    expect(containerOf(proxy).ports.map((p: any) => p.containerPort).sort()).toEqual(
      [RedisInstance.PORT, SentinelProxy.READ_REPLICAS_PORT, SentinelProxy.HEALTH_PORT].sort());
    expect(named(objects, ha.proxy.host).spec.ports.map((p: any) => p.port)).toEqual([RedisInstance.PORT, SentinelProxy.READ_REPLICAS_PORT, SentinelProxy.HEALTH_PORT]);
    expect(ha.port).toBe(RedisInstance.PORT);
    expect(ha.sentinels.port).toBe(SentinelCluster.PORT);
  });
});
