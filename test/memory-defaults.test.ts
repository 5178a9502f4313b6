/**
 * The memory bound every server gets unless the user sets one (issue 30, item 6): `maxmemory` at half
 * the container's memory limit and `maxmemory-policy noeviction`, in both modes, so that a full server
 * refuses writes instead of being OOM-killed. bench/memory.ts measures the headroom that half leaves.
 */
import { Size, Testing } from 'cdk8s';
import { RedisCluster, RedisClusterProps, RedisHa, RedisHaProps } from '../src';
import { ofKind } from './util/synth';

/** Every server's rendered config, as directive -> value (the last of each wins, as in the server). */
function serverConfs(objects: any[]): Array<Record<string, string>> {
  return ofKind(objects, 'ConfigMap').filter((c) => c.data?.['redis.conf'] !== undefined).map((c) => Object.fromEntries(
    (c.data['redis.conf'] as string).split('\n').filter((l) => l && !l.startsWith('#')).map((l) => {
      const [directive, ...rest] = l.split(' ');
      return [directive, rest.join(' ').replace(/^"(.*)"$/, '$1')];
    })));
}

const MODES: Array<[string, (memoryLimit?: Size, extraConfig?: Record<string, string>) => any[]]> = [
  ['RedisHa', (memoryLimit, extraConfig) => {
    const chart = Testing.chart();
    const redis: RedisHaProps['redis'] = { resources: memoryLimit && { memoryLimit }, extraConfig };
    new RedisHa(chart, 'ha', { redis });
    return Testing.synth(chart);
  }],
  ['RedisCluster', (memoryLimit, extraConfig) => {
    const chart = Testing.chart();
    const props: RedisClusterProps = { resources: memoryLimit && { memoryLimit }, extraConfig };
    new RedisCluster(chart, 'cache', props);
    return Testing.synth(chart);
  }],
];

describe.each(MODES)('%s', (_mode, synth) => {
  test('by default: maxmemory half the 1Gi limit, noeviction, on every server', () => {
    const confs = serverConfs(synth());
    expect(confs.length).toBeGreaterThanOrEqual(3);
    for (const c of confs) expect([c.maxmemory, c['maxmemory-policy']]).toEqual(['512mb', 'noeviction']);
  });

  test('it follows the memory limit', () => {
    for (const c of serverConfs(synth(Size.mebibytes(3000)))) expect(c.maxmemory).toBe('1500mb');
  });

  test('the user\'s own maxmemory and policy win, each on its own', () => {
    for (const c of serverConfs(synth(undefined, { 'maxmemory': '800mb' }))) expect([c.maxmemory, c['maxmemory-policy']]).toEqual(['800mb', 'noeviction']);
    for (const c of serverConfs(synth(undefined, { 'maxmemory-policy': 'allkeys-lru' }))) expect([c.maxmemory, c['maxmemory-policy']]).toEqual(['512mb', 'allkeys-lru']);
    // 0 is the engine's "no limit": the user may still ask for it.
    for (const c of serverConfs(synth(undefined, { maxmemory: '0' }))) expect(c.maxmemory).toBe('0');
  });
});
