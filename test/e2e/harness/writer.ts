/**
 * Continuous numbered writer through a service, recording every acknowledged write and every failure
 * with timestamps, for measuring client-visible write gaps and lost acknowledged writes.
 */
import { RedisClient } from './resp';
import { errText, settleWithin, sleep } from './util';

export interface WriteRecord {
  n: number;
  sentAt: number;
  ackAt: number;
  /** WAIT mode: number of replicas that acknowledged. */
  replicas?: number;
}

export interface FailureRecord {
  n?: number;
  at: number;
  stage: 'connect' | 'write' | 'wait';
  error: string;
}

export interface WriterOptions {
  /** 'set': SET <prefix>:N N; 'rpush': RPUSH <prefix> N; 'wait': SET then WAIT <replicas> <waitMs>. */
  mode?: 'set' | 'rpush' | 'wait';
  prefix?: string;
  /** WAIT mode: replicas to wait for (default 1) and timeout (default 500ms). */
  waitReplicas?: number;
  waitMs?: number;
  /** Pause between writes (default 5ms). */
  intervalMs?: number;
  /** Pause after a failure before reconnecting (default 50ms). */
  backoffMs?: number;
  /** Per-command timeout (default 1000ms). */
  commandTimeoutMs?: number;
}

export interface VerifyResult {
  checked: number;
  /** Acknowledged writes not found (or with a wrong value). */
  missing: number[];
  /** WAIT-acknowledged writes not found. */
  missingWaitAcked: number[];
}

export class Writer {
  readonly acked: WriteRecord[] = [];
  readonly waitAcked: WriteRecord[] = [];
  readonly failures: FailureRecord[] = [];
  readonly mode: 'set' | 'rpush' | 'wait';
  readonly prefix: string;
  private seq = 0;
  private stopping = false;
  private loop?: Promise<void>;
  private client?: RedisClient;
  private readonly o: Required<Omit<WriterOptions, 'mode' | 'prefix'>>;

  /** `connect` is called for every (re)connection, e.g. () => cluster.connect('redis-proxy', 6379, {password}). */
  constructor(
    private readonly connect: () => Promise<RedisClient>,
    opts: WriterOptions = {},
  ) {
    this.mode = opts.mode ?? 'set';
    this.prefix = opts.prefix ?? `w${Date.now().toString(36)}`;
    this.o = {
      waitReplicas: opts.waitReplicas ?? 1,
      waitMs: opts.waitMs ?? 500,
      intervalMs: opts.intervalMs ?? 5,
      backoffMs: opts.backoffMs ?? 50,
      commandTimeoutMs: opts.commandTimeoutMs ?? 1000,
    };
  }

  key(n: number): string {
    return `${this.prefix}:${n}`;
  }

  start(): this {
    if (this.loop) throw new Error('writer already started');
    this.loop = this.run();
    return this;
  }

  /** Stops the loop (bounded by the command timeout plus margin). */
  async stop(): Promise<void> {
    this.stopping = true;
    const limit = this.o.commandTimeoutMs + this.o.waitMs + 2000;
    if (this.loop) await settleWithin(this.loop, limit);
    this.client?.close();
    this.client = undefined;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      if (!this.client || this.client.closed) {
        try {
          this.client = await this.connect();
        } catch (e) {
          this.failures.push({ at: Date.now(), stage: 'connect', error: errText(e) });
          await sleep(this.o.backoffMs);
          continue;
        }
      }
      const c = this.client;
      const n = ++this.seq;
      const sentAt = Date.now();
      let stage: 'write' | 'wait' = 'write';
      try {
        if (this.mode === 'rpush') await c.commandWithTimeout(this.o.commandTimeoutMs, 'RPUSH', this.prefix, n);
        else await c.commandWithTimeout(this.o.commandTimeoutMs, 'SET', this.key(n), n);
        const rec: WriteRecord = { n, sentAt, ackAt: Date.now() };
        this.acked.push(rec);
        if (this.mode === 'wait') {
          stage = 'wait';
          const r = await c.commandWithTimeout(this.o.commandTimeoutMs + this.o.waitMs, 'WAIT', this.o.waitReplicas, this.o.waitMs);
          rec.replicas = Number(r);
          if (rec.replicas >= this.o.waitReplicas) this.waitAcked.push(rec);
        }
      } catch (e) {
        this.failures.push({ n, at: Date.now(), stage, error: errText(e) });
        // Reconnect on any error (a proxy keeps a connection pinned to its backend).
        c.close();
        this.client = undefined;
        await sleep(this.o.backoffMs);
        continue;
      }
      if (this.o.intervalMs > 0) await sleep(this.o.intervalMs);
    }
  }

  /** Last acknowledged write acked at or before t. */
  lastAckBefore(t: number): WriteRecord | undefined {
    for (let i = this.acked.length - 1; i >= 0; i--) if (this.acked[i].ackAt <= t) return this.acked[i];
    return undefined;
  }

  /** First write sent at/after t that was acknowledged. */
  firstAckAfter(t: number): WriteRecord | undefined {
    return this.acked.find((r) => r.sentAt >= t);
  }

  /**
   * Client-visible write gap: ms from t (e.g. the kill) to the ack of the first write sent at/after
   * `sentAfter` (default t; pass the time the kill completed so that no write racing the kill counts).
   */
  gapAfter(t: number, sentAfter: number = t): number | undefined {
    const r = this.firstAckAfter(sentAfter);
    return r ? r.ackAt - t : undefined;
  }

  /** Longest time without any acknowledgement within [from, to] (edges count): the longest client-visible pause. */
  maxAckPause(from: number, to: number): number {
    let prev = from;
    let max = 0;
    for (const r of this.acked) {
      if (r.ackAt < from) continue;
      if (r.ackAt > to) break;
      max = Math.max(max, r.ackAt - prev);
      prev = r.ackAt;
    }
    return Math.max(max, to - prev);
  }

  failuresBetween(from: number, to: number): FailureRecord[] {
    return this.failures.filter((f) => f.at >= from && f.at <= to);
  }

  /** Distinct failure messages (first few) for reports. */
  failureSummary(max = 5): string[] {
    const counts = new Map<string, number>();
    for (const f of this.failures) {
      const k = `${f.stage}: ${f.error.replace(/\b\d+(\.\d+)*\b/g, '#').slice(0, 120)}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    return [...counts.entries()].slice(0, max).map(([k, v]) => `${v}x ${k}`);
  }

  /** Checks every acknowledged write against a client (normally connected to the current master). */
  async verify(client: RedisClient): Promise<VerifyResult> {
    const missing: number[] = [];
    if (this.mode === 'rpush') {
      const all = (await client.commandWithTimeout(10000, 'LRANGE', this.prefix, 0, -1)) as string[] | null;
      const present = new Set((all ?? []).map(Number));
      for (const r of this.acked) if (!present.has(r.n)) missing.push(r.n);
    } else {
      for (let i = 0; i < this.acked.length; i += 500) {
        const batch = this.acked.slice(i, i + 500);
        const vals = (await client.commandWithTimeout(10000, 'MGET', ...batch.map((r) => this.key(r.n)))) as Array<string | null>;
        batch.forEach((r, j) => {
          if (vals[j] !== String(r.n)) missing.push(r.n);
        });
      }
    }
    const miss = new Set(missing);
    return {
      checked: this.acked.length,
      missing,
      missingWaitAcked: this.waitAcked.filter((r) => miss.has(r.n)).map((r) => r.n),
    };
  }
}

