/** Small helpers shared by the e2e harness. Everything here is bounded in time. */
import * as fs from 'fs';

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class TimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TimeoutError';
  }
}

export interface WaitOptions {
  /** Poll interval in ms (default 100). */
  intervalMs?: number;
  /** Per-attempt timeout in ms: an attempt that takes longer counts as failed (default: remaining time). */
  attemptTimeoutMs?: number;
}

/**
 * Polls `fn` until it returns a truthy value (which is returned) or `timeoutMs` elapses.
 * Exceptions thrown by `fn` count as "not yet"; the last one is included in the timeout error.
 */
export async function waitUntil<T>(
  fn: () => T | Promise<T>,
  timeoutMs: number,
  what: string,
  opts: WaitOptions = {},
): Promise<Exclude<T, false | null | undefined | 0 | ''>> {
  const interval = opts.intervalMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  let lastValue: unknown;
  let attempts = 0;
  for (;;) {
    attempts++;
    const remaining = deadline - Date.now();
    try {
      const v = await withTimeout(Promise.resolve(fn()), Math.max(1, Math.min(opts.attemptTimeoutMs ?? remaining, remaining)), what);
      if (v) return v as Exclude<T, false | null | undefined | 0 | ''>;
      lastValue = v;
      lastError = undefined;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() + interval > deadline) {
      const detail = lastError !== undefined ? `last error: ${errText(lastError)}` : `last value: ${safeJson(lastValue)}`;
      throw new TimeoutError(`timed out after ${timeoutMs}ms (${attempts} attempts) waiting for: ${what}; ${detail}`);
    }
    await sleep(interval);
  }
}

/** Rejects with a TimeoutError if `p` does not settle within `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new TimeoutError(`timed out after ${ms}ms: ${what}`)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: Error) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

/** Waits for `p` to settle, at most `ms`; true if it settled. Leaves no timer behind. */
export async function settleWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  try {
    await withTimeout(p, ms, 'settle');
    return true;
  } catch (e) {
    return !(e instanceof TimeoutError);
  }
}

export function errText(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** Quotes a string for POSIX sh. */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** True if a process with this pid exists (and is not a zombie). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Milliseconds with sub-ms precision since an arbitrary origin; use for intervals. */
export const now = (): number => Date.now();
