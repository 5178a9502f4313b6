import { Testing } from 'cdk8s';
import { EngineKind, ProxyEngine, RedisEngine, RedisHa, RedisInstance, SentinelCluster, SentinelProxy } from '../src';
import { containerEnv, mainContainer } from './util/synth';

describe('RedisEngine', () => {
  test('each engine names its own binaries and default image', () => {
    const valkey = RedisEngine.valkey();
    expect([valkey.kind, valkey.image, valkey.serverBinary, valkey.cliBinary]).toEqual([EngineKind.VALKEY, RedisEngine.DEFAULT_VALKEY_IMAGE, 'valkey-server', 'valkey-cli']);
    const redis = RedisEngine.redis();
    expect([redis.kind, redis.image, redis.serverBinary, redis.cliBinary]).toEqual([EngineKind.REDIS, RedisEngine.DEFAULT_REDIS_IMAGE, 'redis-server', 'redis-cli']);
    expect(ProxyEngine.haproxy().image).toBe(ProxyEngine.DEFAULT_HAPROXY_IMAGE);
  });

  test('the default chart runs Valkey with HAProxy, every image pinned by tag', () => {
    const chart = Testing.chart();
    new RedisHa(chart, 'ha');
    const manifest = Testing.synth(chart);
    const redis = mainContainer(manifest, 'redis1');
    expect(redis.image).toBe('valkey/valkey:9.1.4');
    expect(containerEnv(redis)).toMatchObject({ SERVER_BIN: 'valkey-server', CLI_BIN: 'valkey-cli' });
    const sentinel = mainContainer(manifest, 'sentinel1');
    expect(sentinel.image).toBe('valkey/valkey:9.1.4');
    expect(containerEnv(sentinel)).toMatchObject({ SERVER_BIN: 'valkey-server', CLI_BIN: 'valkey-cli' });
    expect(mainContainer(manifest, 'proxy').image).toBe('haproxy:3.0.27');
  });

  test('engine on RedisHa reaches Redis and sentinel pods; proxy.engine the proxy', () => {
    const chart = Testing.chart();
    new RedisHa(chart, 'ha', {
      engine: RedisEngine.redis({ image: 'registry.example/redis:8.0.6' }),
      proxy: { engine: ProxyEngine.haproxy({ image: 'haproxy:3.2.26' }) },
    });
    const manifest = Testing.synth(chart);
    for (const part of ['redis1', 'redis3', 'sentinel2']) {
      const c = mainContainer(manifest, part);
      expect(c.image).toBe('registry.example/redis:8.0.6');
      expect(containerEnv(c)).toMatchObject({ SERVER_BIN: 'redis-server', CLI_BIN: 'redis-cli' });
    }
    expect(mainContainer(manifest, 'proxy').image).toBe('haproxy:3.2.26');
  });

  test('a digest-pinned image takes its version from the engine options', () => {
    const chart = Testing.chart();
    const image = `valkey/valkey@sha256:${'a'.repeat(64)}`;
    new RedisHa(chart, 'ha', { engine: RedisEngine.valkey({ image, version: '9.1.4' }) });
    expect(mainContainer(Testing.synth(chart), 'redis2').image).toBe(image);
  });

  test('the deprecated image props still mean a Redis image', () => {
    const chart = Testing.chart();
    new RedisHa(chart, 'ha', { redis: { image: 'redis:7.2.5' }, sentinel: { image: 'redis:7.2.5' } });
    const manifest = Testing.synth(chart);
    expect(containerEnv(mainContainer(manifest, 'redis1'))).toMatchObject({ SERVER_BIN: 'redis-server', CLI_BIN: 'redis-cli' });
    expect(mainContainer(manifest, 'sentinel1').image).toBe('redis:7.2.5');
  });

  test('sentinels follow the instances\' engine unless given one of the same kind', () => {
    const chart = Testing.chart();
    const master = new RedisInstance(chart, 'R1', { engine: RedisEngine.redis({ image: 'redis:8.0.6' }) });
    const sentinels = new SentinelCluster(chart, 'S', { instances: [master] });
    expect(sentinels.engine).toBe(master.engine);
    const proxy = new SentinelProxy(chart, 'P', { sentinels });
    expect(proxy.engine.image).toBe(ProxyEngine.DEFAULT_HAPROXY_IMAGE);
  });

  describe('fails', () => {
    const digest = `valkey/valkey@sha256:${'b'.repeat(64)}`;
    test.each<[string, () => void, RegExp]>([
      ['when an engine image is not pinned', () => new RedisHa(Testing.chart(), 'ha', { engine: RedisEngine.valkey({ image: 'valkey/valkey:latest' }) }),
        /test\/ha: engine.image \("valkey\/valkey:latest"\) must be pinned/],
      ['when the version cannot be read from the image', () => new RedisHa(Testing.chart(), 'ha', { engine: RedisEngine.valkey({ image: digest }) }),
        /engine.image \(".*"\) does not name its valkey version in its tag; set engine.version/],
      ['when the version is malformed', () => new RedisHa(Testing.chart(), 'ha', { engine: RedisEngine.valkey({ version: 'nine' }) }),
        /engine.version \("nine"\) must be a version "major.minor" or "major.minor.patch"/],
      ['when the engine is older than the chart supports', () => new RedisHa(Testing.chart(), 'ha', { engine: RedisEngine.redis({ image: 'redis:6.2.14' }) }),
        /test\/ha: engine \("redis 6.2.14"\) is older than the chart supports: redis 7.0 or newer/],
      ['when HAProxy is older than the chart supports', () => new RedisHa(Testing.chart(), 'ha', { proxy: { engine: ProxyEngine.haproxy({ image: 'haproxy:2.4.29' }) } }),
        /test\/ha: proxy.engine \("haproxy 2.4.29"\) is older than the chart supports: haproxy 2.6 or newer/],
      ['when engine and the deprecated image are both set', () => new RedisInstance(Testing.chart(), 'R', { engine: RedisEngine.valkey(), image: 'redis:7.2.5' }),
        /test\/R: image \("redis:7.2.5"\) cannot be set together with engine/],
      ['when engine and redis.image are both set on RedisHa', () => new RedisHa(Testing.chart(), 'ha', { engine: RedisEngine.valkey(), redis: { image: 'redis:7.2.5' } }),
        /test\/ha: redis.image \("redis:7.2.5"\) cannot be set together with engine/],
      ['when sentinels run another engine than the instances', () => new RedisHa(Testing.chart(), 'ha', { sentinel: { engine: RedisEngine.redis() } }),
        /test\/ha: sentinel.engine \("redis"\) must be the instances' engine \(valkey\)/],
    ])('%s', (_name, build, message) => {
      expect(build).toThrow(message);
    });

    test('when a prop needs a newer engine than the one chosen, naming both', () => {
      const chart = Testing.chart();
      const instance = new RedisInstance(chart, 'R', { engine: RedisEngine.redis({ image: 'redis:7.0.15' }) });
      expect(() => instance.engine._require(instance, 'someProp', 'some feature', { redis: '7.4' }))
        .toThrow(/test\/R: someProp \("some feature"\) needs redis 7.4 or newer, but the engine is redis 7.0.15 \(redis:7.0.15\)/);
      expect(() => instance.engine._require(instance, 'someProp', 'some feature', { valkey: '9.0' })).not.toThrow();
      const proxy = ProxyEngine.haproxy({ image: 'haproxy:2.6.12' });
      expect(() => proxy._require(instance, 'proxy.x', 'x', '3.0')).toThrow(/needs haproxy 3.0 or newer, but the engine is haproxy 2.6.12/);
    });
  });
});
