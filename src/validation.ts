import { Duration, Size, SizeRoundingBehavior } from 'cdk8s';
import { Construct } from 'constructs';

/** Throws an error that names the construct path, the prop, the value and what is allowed. */
export function fail(scope: Construct, prop: string, value: unknown, allowed: string): never {
  throw new Error(`${scope.node.path}: ${prop} (${JSON.stringify(value)}) ${allowed}`);
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

/** Checks a volume size: a positive whole number of gibibytes (what cdk8s-plus claims accept). */
export function checkSize(scope: Construct, prop: string, value: Size): Size {
  const mib = value.toMebibytes({ rounding: SizeRoundingBehavior.NONE });
  if (!(mib > 0) || mib % 1024 !== 0) fail(scope, prop, `${mib}Mi`, 'must be a positive whole number of gibibytes');
  return value;
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

/** A pinned container image: a tag other than `latest`, or a digest. */
export function checkImage(scope: Construct, prop: string, value: string): string {
  const digest = /@sha256:[a-f0-9]{64}$/.test(value);
  const tag = /^[^@\s]+:([\w][\w.-]{0,127})$/.exec(value);
  if (!digest && (!tag || tag[1] === 'latest' || tag[1].includes('/'))) {
    fail(scope, prop, value, 'must be pinned: "name:tag" with a tag other than latest, or "name@sha256:<digest>"');
  }
  return value;
}
