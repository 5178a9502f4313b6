/**
 * Writers through a real cluster client (ioredis `Cluster`): loops that each SET a key to its next
 * number, then `WAIT 1` on the same connection (a pipeline goes to the node owning the key's slot),
 * over keys spread across every slot. Every acknowledgement is timestamped with the key's shard, so
 * a test can tell what each shard acknowledged when, and what a read afterwards must find.
 */
import { Cluster as IoCluster } from 'ioredis';
import { shardSlotRanges } from '../../src/cluster/slots';
import { keySlot } from '../cluster/util/test-cluster';
import { sleep } from './harness';

export interface ClusterAck {
  readonly key: string;
  readonly seq: number;
  readonly shard: number;
  readonly at: number;
  /** WAIT answered at least 1: a replica has the write. */
  readonly replicated: boolean;
  /** The loop that wrote it: one client waiting for one key at a time. */
  readonly loop: number;
}

/** How a {@link ClusterWriter} writes. */
export interface ClusterWriterOptions {
  /** SET then `WAIT 1 1000` in one pipeline (true), or a plain SET (false). @default true */
  readonly wait?: boolean;
}

export class ClusterWriter {
  readonly acks: ClusterAck[] = [];
  readonly failures = new Map<string, number>();
  /** Every failure with its time and the key's shard, in order (for timelines). */
  readonly failureLog: Array<{ at: number; shard: number; message: string }> = [];
  private running = false;
  private loops: Array<Promise<void>> = [];
  private readonly seqs = new Map<string, number>();
  private readonly shardOfKey = new Map<string, number>();

  private readonly wait: boolean;
  private nextLoop = 0;
  private refreshedAt = 0;

  constructor(private readonly client: IoCluster, private readonly shards: number, readonly keys: string[], private readonly loopsCount = 4,
    opts: ClusterWriterOptions = {}) {
    this.wait = opts.wait ?? true;
    const ranges = shardSlotRanges(shards);
    for (const k of keys) {
      const slot = keySlot(k);
      this.shardOfKey.set(k, ranges.findIndex((r) => slot >= r.start && slot <= r.end));
    }
  }

  shardOf(key: string): number {
    return this.shardOfKey.get(key) as number;
  }

  /**
   * Starts the loops. With `perShard`, each loop writes the keys of one shard only (`loopsCount` a
   * shard), so a loop waiting on a shard that has no master (a command timeout) cannot hold up the
   * others' writes: what the bench needs to time each shard's pause. Otherwise `loopsCount` loops
   * each write keys of every shard in turn.
   */
  start(perShard = false): void {
    this.running = true;
    if (perShard) {
      for (let shard = 0; shard < this.shards; shard++) {
        const keys = this.keys.filter((k) => this.shardOf(k) === shard);
        for (let i = 0; i < this.loopsCount; i++) this.loops.push(this.loop(keys.filter((_, j) => j % this.loopsCount === i)));
      }
    } else {
      // Loops of an earlier start keep their numbers: a restart is a new client.
      for (let i = 0; i < this.loopsCount; i++) this.loops.push(this.loop(this.keys.filter((_, j) => j % this.loopsCount === i)));
    }
  }

  /**
   * Stops the loops, waiting at most `boundMs` for their commands in flight: a command sent to a
   * cluster whose every node is gone never settles (ioredis keeps it queued), and its loop, left
   * behind, ends once it does. An unanswered command is no acknowledgement, so nothing is counted.
   */
  async stop(boundMs = 60_000): Promise<void> {
    this.running = false;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(this.loops), new Promise((resolve) => { timer = setTimeout(resolve, boundMs); })]);
    clearTimeout(timer);
    this.loops = [];
  }

  private async loop(mine: string[]): Promise<void> {
    // One writer per key, so its values only grow.
    if (mine.length === 0) return;
    const loop = this.nextLoop++;
    let n = 0;
    while (this.running) {
      const key = mine[n++ % mine.length];
      const seq = (this.seqs.get(key) ?? 0) + 1;
      this.seqs.set(key, seq);
      try {
        let replicated = false;
        if (this.wait) {
          const replies = await this.client.pipeline().set(key, String(seq)).call('WAIT', '1', '1000').exec();
          const [setReply, waitReply] = replies ?? [];
          if (setReply?.[0] || setReply?.[1] !== 'OK') throw setReply?.[0] ?? new Error(`SET answered ${String(setReply?.[1])}`);
          replicated = !waitReply?.[0] && Number(waitReply?.[1]) >= 1;
        } else {
          const reply = await this.client.set(key, String(seq));
          if (reply !== 'OK') throw new Error(`SET answered ${String(reply)}`);
        }
        this.acks.push({ key, seq, shard: this.shardOf(key), at: Date.now(), replicated, loop });
      } catch (e) {
        // ioredis retries a pipeline on MOVED only when every command of it was redirected; WAIT is
        // not (it has no key), so the client is told to read the slots again, as it would on a lone command.
        // ioredis refreshes its slot map on MOVED only; after a timeout or a lost connection, as an
        // application would, it asks again where the slots are (a failover may have moved them), at
        // most twice a second.
        if (Date.now() - this.refreshedAt > 500) {
          this.refreshedAt = Date.now();
          this.client.refreshSlotsCache();
        }
        const msg = String((e as Error).message ?? e).replace(/\d+/g, '#').slice(0, 80);
        this.failures.set(msg, (this.failures.get(msg) ?? 0) + 1);
        this.failureLog.push({ at: Date.now(), shard: this.shardOf(key), message: String((e as Error).message ?? e).slice(0, 80) });
        await sleep(20);
      }
    }
  }

  /** What failed, how often, for messages. */
  describeFailures(): string {
    return JSON.stringify([...this.failures]);
  }

  /** The longest time between two acknowledgements of a shard within [from, to]. */
  longestGap(shard: number, from: number, to: number): number {
    return this.longestGapAt(shard, from, to).ms;
  }

  /** The longest time between two acknowledgements of a shard within [from, to], and when it began. */
  longestGapAt(shard: number, from: number, to: number): { ms: number; at: number } {
    const times = [from, ...this.acks.filter((a) => a.shard === shard && a.at >= from && a.at <= to).map((a) => a.at), to];
    let longest = { ms: 0, at: from };
    for (let i = 1; i < times.length; i++) if (times[i] - times[i - 1] > longest.ms) longest = { ms: times[i] - times[i - 1], at: times[i - 1] };
    return longest;
  }

  /**
   * The longest time a loop (a client writing one key at a time) went without an acknowledgement
   * within [from, to], and when that began: the longest any client waited for a key.
   */
  longestLoopPause(from: number, to: number): { ms: number; at: number; loop: number } {
    const byLoop = new Map<number, number[]>();
    for (const a of this.acks) {
      if (a.at < from || a.at > to) continue;
      const ats = byLoop.get(a.loop);
      if (ats) ats.push(a.at);
      else byLoop.set(a.loop, [a.at]);
    }
    let longest = { ms: 0, at: from, loop: -1 };
    for (const [loop, ats] of byLoop) {
      const times = [from, ...ats, to];
      for (let i = 1; i < times.length; i++) if (times[i] - times[i - 1] > longest.ms) longest = { ms: times[i] - times[i - 1], at: times[i - 1], loop };
    }
    return longest;
  }

  /**
   * Reads every key back and counts the acknowledged writes it no longer holds: a key whose value is
   * below its last acknowledged (or last replicated) number lost them.
   */
  async verify(reader: IoCluster): Promise<{ acked: number; lost: number; replicated: number; replicatedLost: number; lostKeys: string[] }> {
    const lastReplicated = new Map<string, number>();
    const byKey = new Map<string, ClusterAck[]>();
    for (const a of this.acks) {
      const mine = byKey.get(a.key);
      if (mine) mine.push(a);
      else byKey.set(a.key, [a]);
      if (a.replicated) lastReplicated.set(a.key, Math.max(lastReplicated.get(a.key) ?? 0, a.seq));
    }
    let lost = 0;
    let replicatedLost = 0;
    const lostKeys: string[] = [];
    for (const key of this.keys) {
      const value = Number((await readKey(reader, key)) ?? 0);
      const acked = (byKey.get(key) ?? []).filter((a) => a.seq > value);
      lost += acked.length;
      replicatedLost += acked.filter((a) => a.replicated).length;
      if ((lastReplicated.get(key) ?? 0) > value || (!this.wait && acked.length > 0)) lostKeys.push(`${key}=${value} < acknowledged ${acked[acked.length - 1]?.seq}`);
    }
    return { acked: this.acks.length, lost, replicated: this.acks.filter((a) => a.replicated).length, replicatedLost, lostKeys };
  }
}

/**
 * A key's value, read again on a timeout or a lost connection for up to 15 s: what is checked is the
 * value, and one slow answer (a node busy for a moment after a move) is not a lost write. An error the
 * server answers (a ReplyError) is thrown at once.
 */
export async function readKey(reader: IoCluster, key: string, boundMs = 15_000): Promise<string | null> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    try {
      return await reader.get(key);
    } catch (e) {
      if ((e as Error).name === 'ReplyError' || Date.now() > deadline) throw e;
      await sleep(200);
    }
  }
}
