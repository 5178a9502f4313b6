import { ApiObject, Duration, Size, SizeRoundingBehavior } from 'cdk8s';
import { Construct } from 'constructs';

/** Constructs building children from one of their props, innermost last. */
const passThrough: Array<{ readonly owner: Construct; readonly prefix: string }> = [];

/**
 * Runs `build`, which makes children of `owner` from its prop `prefix` (e.g. `'redis.'`):
 * errors about their props are reported at `owner`'s path, in the terms the user wrote.
 */
export function withPropsOf<T>(owner: Construct, prefix: string, build: () => T): T {
  passThrough.push({ owner, prefix });
  try {
    return build();
  } finally {
    passThrough.pop();
  }
}

/** The outermost construct the user configured `scope` through, if any. */
function configuredThrough(scope: Construct) {
  return passThrough.find((p) => scope.node.scopes.includes(p.owner));
}

/** The name of `prop` of `scope` as the user wrote it, e.g. `redis.appendOnly` for a RedisHa's instances. */
export function userProp(scope: Construct, prop: string): string {
  return `${configuredThrough(scope)?.prefix ?? ''}${prop}`;
}

/** Where an error about `prop` of `scope` is reported: `<path>: <prop>`, at the construct the user configured. */
export function propRef(scope: Construct, prop: string): string {
  return `${(configuredThrough(scope)?.owner ?? scope).node.path}: ${userProp(scope, prop)}`;
}

/** Throws an error that names the construct path, the prop, the value and what is allowed. */
export function fail(scope: Construct, prop: string, value: unknown, allowed: string): never {
  throw new Error(`${propRef(scope, prop)} (${JSON.stringify(value)}) ${allowed}`);
}

/** Checks an integer within [min, max]. */
export function checkInt(scope: Construct, prop: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `between ${min} and ${max}`;
    fail(scope, prop, value, `must be an integer ${range}`);
  }
  return value;
}

/** Checks a positive duration and returns it in milliseconds. */
export function checkDurationMs(scope: Construct, prop: string, value: Duration): number {
  const ms = value.toMilliseconds();
  if (!(ms > 0) || !Number.isInteger(ms)) fail(scope, prop, `${ms}ms`, 'must be a positive whole number of milliseconds');
  return ms;
}

/** Checks a volume size: a positive whole number of kibibytes, the smallest unit a Size has. */
export function checkSize(scope: Construct, prop: string, value: Size): Size {
  const kib = value.toKibibytes({ rounding: SizeRoundingBehavior.NONE });
  if (!(kib > 0) || !Number.isInteger(kib)) fail(scope, prop, `${kib}Ki`, 'must be a positive whole number of kibibytes (e.g. Size.mebibytes(512), Size.gibibytes(10))');
  return value;
}

/**
 * A checked size as a Kubernetes quantity, in the largest binary unit that holds it whole, from
 * `largest` down: `10Gi`, `512Mi`, `1536Ki`.
 */
export function sizeQuantity(value: Size, largest: 'Gi' | 'Mi' = 'Gi'): string {
  const kib = value.toKibibytes({ rounding: SizeRoundingBehavior.NONE });
  if (largest === 'Gi' && kib % (1024 * 1024) === 0) return `${kib / (1024 * 1024)}Gi`;
  return kib % 1024 === 0 ? `${kib / 1024}Mi` : `${kib}Ki`;
}

const DNS_LABEL = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A Service name: an RFC 1035 label. */
export function checkServiceName(scope: Construct, prop: string, value: string): string {
  if (!DNS_LABEL.test(value)) {
    fail(scope, prop, value, 'must be a DNS label: 1-63 lowercase letters, digits or "-", starting with a letter and ending with a letter or digit');
  }
  return value;
}

/** A DNS domain such as a cluster domain: dot-separated RFC 1123 labels of at most 63 characters. */
export function checkDomainName(scope: Construct, prop: string, value: string): string {
  if (value.length > 253 || !DNS_SUBDOMAIN.test(value) || value.split('.').some((label) => label.length > 63)) {
    fail(scope, prop, value, 'must be a DNS name: dot-separated labels of 1-63 lowercase letters, digits or "-", e.g. "cluster.local"');
  }
  return value;
}

const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

/** A Kubernetes label value: at most 63 characters. */
export function checkLabelValue(scope: Construct, prop: string, value: string): string {
  if (typeof value !== 'string' || !LABEL_VALUE.test(value)) {
    fail(scope, prop, value, 'must be a label value: at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit');
  }
  return value;
}

/** A name of an object in a pod (a volume, a container): an RFC 1123 label. */
export function checkDnsLabel(scope: Construct, prop: string, value: string): string {
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(value)) {
    fail(scope, prop, value, 'must be a DNS label: 1-63 lowercase letters, digits or "-", starting and ending with a letter or digit');
  }
  return value;
}

/** Kubernetes labels: keys `[prefix/]name` (the prefix a DNS subdomain), values of at most 63 characters. */
export function checkLabels(scope: Construct, prop: string, labels: { [key: string]: string }): { [key: string]: string } {
  for (const [key, value] of Object.entries(labels)) {
    const slash = key.lastIndexOf('/');
    const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
    if (!LABEL_NAME.test(key.slice(slash + 1)) || (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix)))) {
      fail(scope, `${prop} key`, key, 'must be a label key: [prefix/]name, the name 1-63 letters, digits, "-", "_" or ".", the prefix a DNS subdomain');
    }
    checkLabelValue(scope, `${prop}[${JSON.stringify(key)}]`, value);
  }
  return labels;
}

/** A Secret name: an RFC 1123 subdomain. */
export function checkSecretName(scope: Construct, prop: string, value: string): string {
  if (value.length > 253 || !DNS_SUBDOMAIN.test(value)) {
    fail(scope, prop, value, 'must be a DNS subdomain: lowercase letters, digits, "-" and "."');
  }
  return value;
}

/** A Secret data key. */
export function checkSecretKey(scope: Construct, prop: string, value: string): string {
  if (!/^[-._a-zA-Z0-9]{1,253}$/.test(value)) fail(scope, prop, value, 'must be a non-empty Secret key of letters, digits, "-", "_" or "."');
  return value;
}

/** A sentinel master name: safe in sentinel.conf and in HAProxy checks without quoting. */
export function checkMasterName(scope: Construct, prop: string, value: string): string {
  if (!/^[A-Za-z0-9][-_.A-Za-z0-9]{0,63}$/.test(value)) {
    fail(scope, prop, value, 'must be 1-64 letters, digits, "-", "_" or ".", starting with a letter or digit');
  }
  return value;
}

const MEMORY_UNITS: { [unit: string]: number } = { '': 1, 'b': 1, 'k': 1e3, 'kb': 1024, 'm': 1e6, 'mb': 1024 ** 2, 'g': 1e9, 'gb': 1024 ** 3 };

/** A redis.conf memory size in bytes: a number with an optional unit (`1k` = 1000, `1kb` = 1024, also m/mb, g/gb). */
export function checkRedisMemory(scope: Construct, prop: string, value: string): number {
  const match = /^(\d+)([a-z]*)$/.exec(value.trim().toLowerCase());
  const unit = match ? MEMORY_UNITS[match[2]] : undefined;
  if (!match || unit === undefined) fail(scope, prop, value, 'must be a Redis memory size: bytes, or a number with k, kb, m, mb, g or gb, e.g. "512mb"');
  return Number(match[1]) * unit;
}

/**
 * Fails synth when another Service in the app has the name of `service`
 * in its namespace; `prop` is the prop of `scope` that chose the name.
 */
export function checkUniqueServiceName(scope: Construct, prop: string, service: ApiObject): void {
  const where = propRef(scope, prop);
  scope.node.addValidation({
    validate: () => {
      const name = service.name;
      const namespace = service.metadata.namespace;
      return scope.node.root.node.findAll()
        .filter((c): c is ApiObject => ApiObject.isApiObject(c) && c !== service && c.kind === 'Service'
          && c.apiVersion === 'v1' && c.name === name && c.metadata.namespace === namespace)
        .map((other) => `${where} (${JSON.stringify(name)}) is also the name of the Service ${other.node.path}`
          + `${namespace ? ` in namespace ${JSON.stringify(namespace)}` : ''}: Service names must be unique in a namespace`);
    },
  });
}

/** A pinned container image: a tag other than `latest`, or a digest. */
export function checkImage(scope: Construct, prop: string, value: string): string {
  const digest = /@sha256:[a-f0-9]{64}$/.test(value);
  const tag = /^[^@\s]+:([\w][\w.-]{0,127})$/.exec(value);
  if (!digest && (!tag || tag[1] === 'latest' || tag[1].includes('/'))) {
    fail(scope, prop, value, 'must be pinned: "name:tag" with a tag other than latest, or "name@sha256:<digest>"');
  }
  return value;
}
