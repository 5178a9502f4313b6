/** Subscribes to Sentinel event channels on several sentinels and records timestamped events. */
import { ConnectOptions, RedisClient, RespValue } from './resp';
import { errText, settleWithin, sleep, waitUntil } from './util';

export interface SentinelEvent {
  at: number;
  /** Which sentinel reported it (a label, e.g. the pod name). */
  source: string;
  channel: string;
  message: string;
}

export interface SentinelTarget {
  name: string;
  host: string;
  port: number;
}

export class SentinelWatcher {
  readonly events: SentinelEvent[] = [];
  readonly errors: string[] = [];
  private stopped = false;
  private readonly clients = new Map<string, RedisClient>();
  private readonly loops: Array<Promise<void>> = [];

  constructor(
    private readonly targets: SentinelTarget[],
    private readonly opts: { password?: string; tls?: ConnectOptions['tls']; pattern?: string; reconnectMs?: number } = {},
  ) {}

  /** Starts watching; resolves once every target is subscribed or `timeoutMs` passed (retries continue). */
  async start(timeoutMs = 5000): Promise<void> {
    for (const t of this.targets) this.loops.push(this.watch(t));
    try {
      await waitUntil(() => this.clients.size === this.targets.length, timeoutMs, 'sentinel watcher subscriptions', { intervalMs: 50 });
    } catch (e) {
      this.errors.push(errText(e));
    }
  }

  private async watch(t: SentinelTarget): Promise<void> {
    while (!this.stopped) {
      let c: RedisClient | undefined;
      try {
        c = await RedisClient.connect(t.host, t.port, { timeoutMs: 1000, password: this.opts.password, tls: this.opts.tls });
        const closed = new Promise<void>((resolve) => c!.onClose(() => resolve()));
        await c.subscribe('PSUBSCRIBE', [this.opts.pattern ?? '*'], (msg: RespValue[]) => {
          // ['pmessage', pattern, channel, message]
          this.events.push({ at: Date.now(), source: t.name, channel: String(msg[2]), message: String(msg[3]) });
        });
        this.clients.set(t.name, c);
        await closed;
      } catch (e) {
        if (!this.stopped) this.errors.push(`${t.name}: ${errText(e)}`);
      } finally {
        this.clients.delete(t.name);
        c?.close();
      }
      if (!this.stopped) await sleep(this.opts.reconnectMs ?? 200);
    }
  }

  /** Events on a channel (e.g. '+switch-master'), optionally only those at/after `after`. */
  on(channel: string, after = 0): SentinelEvent[] {
    return this.events.filter((e) => e.channel === channel && e.at >= after);
  }

  first(channel: string, after = 0): SentinelEvent | undefined {
    return this.on(channel, after)[0];
  }

  async waitFor(channel: string, timeoutMs: number, after = 0): Promise<SentinelEvent> {
    return waitUntil(() => this.first(channel, after), timeoutMs, `sentinel event ${channel}`, { intervalMs: 50 });
  }

  /** Compact timeline of events since `after`, relative to `t0`. */
  timeline(t0: number, after = t0): string {
    return this.events
      .filter((e) => e.at >= after)
      .map((e) => `+${e.at - t0}ms ${e.source} ${e.channel} ${e.message}`)
      .join('\n');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const c of this.clients.values()) c.close();
    await settleWithin(Promise.all(this.loops), 3000);
  }
}
