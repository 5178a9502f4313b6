import { Construct } from 'constructs';
import { checkImage, fail } from './validation';

/** The servers a {@link RedisEngine} can run. */
export enum EngineKind {
  /** Redis (redis.io), `redis-server` and `redis-cli`. */
  REDIS = 'redis',
  /** Valkey (valkey.io), the BSD-licensed fork of Redis 7.2, `valkey-server` and `valkey-cli`. */
  VALKEY = 'valkey',
}

/** Which image of an engine to run. */
export interface EngineOptions {
  /**
   * Container image; must be pinned to a tag or a digest.
   * @default - the engine's default image (e.g. RedisEngine.DEFAULT_VALKEY_IMAGE)
   */
  readonly image?: string;
  /**
   * The version the image runs, `major.minor[.patch]`, checked against what the chart's props need.
   * Needed when the image's tag does not start with the version (a digest, a custom tag).
   * @default - read from the image tag (`valkey/valkey:9.1.4` is 9.1.4)
   */
  readonly version?: string;
}

/** A version as `[major, minor, patch]`. */
export type Version = [number, number, number];

function parseVersion(text: string): Version | undefined {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?(?:$|[-+])/.exec(text);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : undefined;
}

function tagOf(image: string): string | undefined {
  if (image.includes('@')) return undefined;
  const m = /:([\w][\w.-]*)$/.exec(image);
  return m ? m[1] : undefined;
}

function older(a: Version, b: Version): boolean {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] < b[i];
  return false;
}

/** An image resolved against a construct: pinned, with a known version. */
export interface ResolvedImage {
  readonly image: string;
  readonly version: Version;
}

function resolveImage(scope: Construct, prop: string, image: string, version: string | undefined, name: string, min: Version): ResolvedImage {
  // The deprecated `image` props report under their own name.
  const imageProp = prop === 'image' ? prop : `${prop}.image`;
  const versionProp = prop === 'image' ? 'version' : `${prop}.version`;
  checkImage(scope, imageProp, image);
  let v: Version | undefined;
  if (version !== undefined) {
    v = parseVersion(version);
    if (!v || !/^\d+\.\d+(\.\d+)?$/.test(version)) fail(scope, versionProp, version, 'must be a version "major.minor" or "major.minor.patch"');
  } else {
    const tag = tagOf(image);
    v = tag ? parseVersion(tag) : undefined;
    if (!v) fail(scope, imageProp, image, `does not name its ${name} version in its tag; set ${prop === 'image' ? 'engine with a version' : versionProp}`);
  }
  if (older(v, min)) {
    fail(scope, prop, `${name} ${v.join('.')}`, `is older than the chart supports: ${name} ${min.slice(0, 2).join('.')} or newer`);
  }
  return { image, version: v };
}

/** The binaries an engine's image puts on its PATH, and what the chart runs them with. */
export interface Binaries {
  readonly server: string;
  readonly cli: string;
}

/**
 * The server the chart runs in its Redis and sentinel pods: Redis or Valkey, with its image. Each
 * engine runs its own binaries (`valkey-server`, `valkey-cli` for Valkey) with the same scripts,
 * probes, auth, TLS and metrics.
 *
 * @example
 * import { RedisEngine } from 'cdk8s-redis-ha';
 *
 * RedisEngine.valkey({ image: 'valkey/valkey:9.1.4' });
 */
export class RedisEngine {
  /**
   * The Valkey image the chart runs by default: the newest patch of Valkey's newest line
   * (9.1.4, 2026-11-18); the end-to-end suite runs the 9.1 line.
   */
  public static readonly DEFAULT_VALKEY_IMAGE = 'valkey/valkey:9.1.4';
  /**
   * The Redis image of `RedisEngine.redis()`: the newest patch of Redis's newest supported line
   * (8.10.2, security release of 2026-09-18). The end-to-end matrix runs Redis 8.0 and 7.0.
   */
  public static readonly DEFAULT_REDIS_IMAGE = 'redis:8.10.2';

  /** Redis, from `redis:<tag>` or a mirror of it. */
  public static redis(options: EngineOptions = {}): RedisEngine {
    return new RedisEngine(EngineKind.REDIS, options.image ?? RedisEngine.DEFAULT_REDIS_IMAGE, options.version, {
      server: 'redis-server',
      cli: 'redis-cli',
    });
  }

  /** Valkey, from `valkey/valkey:<tag>` or a mirror of it. */
  public static valkey(options: EngineOptions = {}): RedisEngine {
    return new RedisEngine(EngineKind.VALKEY, options.image ?? RedisEngine.DEFAULT_VALKEY_IMAGE, options.version, {
      server: 'valkey-server',
      cli: 'valkey-cli',
    });
  }

  /** The oldest version of each engine the chart runs on (the oldest line the tests run). */
  private static readonly MINIMUM: { [kind: string]: Version } = {
    [EngineKind.REDIS]: [7, 0, 0],
    [EngineKind.VALKEY]: [7, 2, 0],
  };

  /** The server. */
  public readonly kind: EngineKind;
  /** The container image. */
  public readonly image: string;
  /** The version given, if any (else it is read from the image tag). */
  public readonly version?: string;
  /** The server binary (the sentinels run it with `--sentinel`). */
  public readonly serverBinary: string;
  /** The command-line client the chart's scripts and probes run. */
  public readonly cliBinary: string;

  private constructor(kind: EngineKind, image: string, version: string | undefined, binaries: Binaries) {
    this.kind = kind;
    this.image = image;
    this.version = version;
    this.serverBinary = binaries.server;
    this.cliBinary = binaries.cli;
  }

  /** A name for messages: `valkey 9.1.4`. */
  public toString(): string {
    return `${this.kind}${this.version ? ` ${this.version}` : ''} (${this.image})`;
  }

  /**
   * @internal Checks the image against `scope` (pinned, a known version the chart supports) and
   * returns it with its version.
   */
  public _resolve(scope: Construct, prop: string): ResolvedImage {
    return resolveImage(scope, prop, this.image, this.version, this.kind, RedisEngine.MINIMUM[this.kind]);
  }

  /**
   * @internal Fails unless the engine is at least `min[kind]` (omitted: any version), naming the
   * prop that needs it, the version it needs and the engine chosen.
   */
  public _require(scope: Construct, prop: string, feature: string, min: { readonly redis?: string; readonly valkey?: string }): void {
    const need = min[this.kind];
    if (need === undefined) return;
    const have = this._resolve(scope, 'engine').version;
    const want = parseVersion(need) as Version;
    if (older(have, want)) {
      fail(scope, prop, feature, `needs ${this.kind} ${need} or newer, but the engine is ${this.kind} ${have.join('.')} (${this.image})`);
    }
  }

  /** @internal The environment the chart's scripts read their binaries from. */
  public _env(): { [name: string]: string } {
    return { SERVER_BIN: this.serverBinary, CLI_BIN: this.cliBinary };
  }
}

/**
 * The HAProxy the proxy pods run, with its image.
 *
 * @example
 * import { ProxyEngine } from 'cdk8s-redis-ha';
 *
 * ProxyEngine.haproxy({ image: 'haproxy:3.0.27' });
 */
export class ProxyEngine {
  /**
   * The HAProxy image the chart runs by default: the newest patch we found of the 3.0 LTS line
   * (supported until 2029), the newest line the end-to-end suite runs.
   */
  public static readonly DEFAULT_HAPROXY_IMAGE = 'haproxy:3.0.27';

  /** HAProxy, from `haproxy:<tag>` or a mirror of it (built with Lua, OpenSSL and the Prometheus exporter). */
  public static haproxy(options: EngineOptions = {}): ProxyEngine {
    return new ProxyEngine(options.image ?? ProxyEngine.DEFAULT_HAPROXY_IMAGE, options.version);
  }

  /** The oldest HAProxy the chart runs on (the oldest line the tests run, Debian 12's 2.6). */
  private static readonly MINIMUM: Version = [2, 6, 0];

  /** The container image. */
  public readonly image: string;
  /** The version given, if any (else it is read from the image tag). */
  public readonly version?: string;

  private constructor(image: string, version: string | undefined) {
    this.image = image;
    this.version = version;
  }

  /** @internal Checks the image against `scope` and returns it with its version. */
  public _resolve(scope: Construct, prop: string): ResolvedImage {
    return resolveImage(scope, prop, this.image, this.version, 'haproxy', ProxyEngine.MINIMUM);
  }

  /** @internal Fails unless HAProxy is at least `min`, naming the prop and both versions. */
  public _require(scope: Construct, prop: string, feature: string, min: string): void {
    const have = this._resolve(scope, 'engine').version;
    if (older(have, parseVersion(min) as Version)) {
      fail(scope, prop, feature, `needs haproxy ${min} or newer, but the engine is haproxy ${have.join('.')} (${this.image})`);
    }
  }
}

/**
 * The engine of a layer: `engine`, or the deprecated `image` prop as a Redis image (what it always
 * was), or the fallback. Both at once fail.
 */
export function chooseEngine(scope: Construct, engine: RedisEngine | undefined, image: string | undefined, fallback: () => RedisEngine): RedisEngine {
  if (engine && image !== undefined) fail(scope, 'image', image, 'cannot be set together with engine; give the image to the engine (RedisEngine.valkey({ image }))');
  if (engine) return engine;
  if (image !== undefined) return RedisEngine.redis({ image });
  return fallback();
}

/** The proxy's engine: `engine`, or the deprecated `image` prop, or the default HAProxy. */
export function chooseProxyEngine(scope: Construct, engine: ProxyEngine | undefined, image: string | undefined): ProxyEngine {
  if (engine && image !== undefined) fail(scope, 'image', image, 'cannot be set together with engine; give the image to the engine (ProxyEngine.haproxy({ image }))');
  return engine ?? ProxyEngine.haproxy(image !== undefined ? { image } : {});
}
