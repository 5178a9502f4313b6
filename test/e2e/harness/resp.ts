/**
 * Minimal RESP2 client over net.Socket (no npm dependencies).
 * One command in flight at a time is the common use, but requests are queued FIFO so callers may
 * issue several without awaiting. Every operation is bounded by a timeout.
 */
import * as net from 'net';
import * as tls from 'tls';

export type RespValue = string | number | null | RedisError | RespValue[];

/** An error reply ("-ERR ...") from the server. */
export class RedisError extends Error {
  constructor(public readonly reply: string) {
    super(reply);
    this.name = 'RedisError';
  }
  /** First word of the reply, e.g. ERR, NOAUTH, READONLY, LOADING, MASTERDOWN. */
  get code(): string {
    return this.reply.split(' ')[0];
  }
}

/** Connection-level failure (refused, reset, closed, timed out). */
export class ConnectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectionError';
  }
}

export interface ConnectOptions {
  /** Connect timeout, and default per-command timeout (default 2000ms). */
  timeoutMs?: number;
  /** Per-command timeout (default: timeoutMs). */
  commandTimeoutMs?: number;
  /** If set, AUTH is sent right after connecting. */
  password?: string;
  username?: string;
  /** Local address to bind the client socket to (optional). */
  localAddress?: string;
  /** Connect over TLS, trusting this CA (PEM), optionally with a client certificate. Host names are not checked. */
  tls?: { ca: string; cert?: string; key?: string };
}

/** Thrown (one shared instance) when the buffer holds only part of a value. */
class Incomplete extends Error {}
const INCOMPLETE = new Incomplete();

/** Parses one RESP value at `pos`; returns [value, nextPos] or throws INCOMPLETE. */
function parse(buf: Buffer, pos: number): [RespValue, number] {
  if (pos >= buf.length) throw INCOMPLETE;
  const type = buf[pos];
  const eol = buf.indexOf('\r\n', pos);
  if (eol < 0) throw INCOMPLETE;
  const line = buf.toString('utf8', pos + 1, eol);
  const next = eol + 2;
  switch (type) {
    case 0x2b: // +
      return [line, next];
    case 0x2d: // -
      return [new RedisError(line), next];
    case 0x3a: // :
      return [Number(line), next];
    case 0x24: {
      // $
      const len = Number(line);
      if (len < 0) return [null, next];
      if (buf.length < next + len + 2) throw INCOMPLETE;
      return [buf.toString('utf8', next, next + len), next + len + 2];
    }
    case 0x2a: {
      // *
      const n = Number(line);
      if (n < 0) return [null, next];
      const arr: RespValue[] = [];
      let p = next;
      for (let i = 0; i < n; i++) {
        const [v, np] = parse(buf, p);
        arr.push(v);
        p = np;
      }
      return [arr, p];
    }
    default:
      throw new Error(`RESP protocol error: unexpected type byte 0x${type.toString(16)} in ${JSON.stringify(buf.toString('utf8', pos, Math.min(buf.length, pos + 80)))}`);
  }
}

function encode(args: Array<string | number | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a), 'utf8');
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

interface Pending {
  resolve: (v: RespValue) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  what: string;
}

export type PushHandler = (msg: RespValue[]) => void;

export class RedisClient {
  /** Connects (and AUTHs if a password is given). Rejects with ConnectionError within timeoutMs. */
  static connect(host: string, port: number, opts: ConnectOptions = {}): Promise<RedisClient> {
    const timeoutMs = opts.timeoutMs ?? 2000;
    return new Promise<RedisClient>((resolve, reject) => {
      const socket: net.Socket = opts.tls
        ? tls.connect({ host, port, ...opts.tls, checkServerIdentity: () => undefined })
        : net.createConnection({ host, port, localAddress: opts.localAddress });
      let done = false;
      const timer = setTimeout(() => {
        if (done) return;
        done = true;
        socket.destroy();
        reject(new ConnectionError(`connect to ${host}:${port} timed out after ${timeoutMs}ms`));
      }, timeoutMs);
      socket.once('error', (e) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        socket.destroy();
        reject(new ConnectionError(`connect to ${host}:${port} failed: ${e.message}`));
      });
      socket.once(opts.tls ? 'secureConnect' : 'connect', () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        socket.setNoDelay(true);
        const client = new RedisClient(socket, `${host}:${port}`, opts.commandTimeoutMs ?? timeoutMs);
        if (opts.password === undefined) {
          resolve(client);
          return;
        }
        const authArgs = opts.username ? ['AUTH', opts.username, opts.password] : ['AUTH', opts.password];
        client.command(...authArgs).then(
          () => resolve(client),
          (e: Error) => {
            client.close();
            reject(e);
          },
        );
      });
    });
  }

  private buf: Buffer = Buffer.alloc(0);
  private readonly pending: Pending[] = [];
  private pushHandler?: PushHandler;
  private closedReason?: string;

  private constructor(
    private readonly socket: net.Socket,
    readonly endpoint: string,
    private readonly defaultTimeoutMs: number,
  ) {
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', (e) => this.fail(`connection error: ${e.message}`));
    socket.on('close', () => this.fail('connection closed'));
  }

  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  /** Sends a command; resolves with the reply, throws RedisError for error replies. */
  async command(...args: Array<string | number | Buffer>): Promise<RespValue> {
    const v = await this.commandRaw(args);
    if (v instanceof RedisError) throw v;
    return v;
  }

  /** Like command() but with explicit timeout; error replies are thrown as RedisError. */
  async commandWithTimeout(timeoutMs: number, ...args: Array<string | number | Buffer>): Promise<RespValue> {
    const v = await this.commandRaw(args, timeoutMs);
    if (v instanceof RedisError) throw v;
    return v;
  }

  /** Sends a command; error replies are returned as RedisError values instead of thrown. */
  commandRaw(args: Array<string | number | Buffer>, timeoutMs?: number): Promise<RespValue> {
    const what = `${this.endpoint} ${args.map(String).join(' ').slice(0, 80)}`;
    if (this.closedReason !== undefined) {
      return Promise.reject(new ConnectionError(`${what}: ${this.closedReason}`));
    }
    const ms = timeoutMs ?? this.defaultTimeoutMs;
    return new Promise<RespValue>((resolve, reject) => {
      const timer = setTimeout(() => {
        // Protocol state is unknown after a timeout: drop the connection.
        this.fail(`command timed out after ${ms}ms: ${what}`);
      }, ms);
      this.pending.push({ resolve, reject, timer, what });
      this.socket.write(encode(args));
    });
  }

  /**
   * Enters pub/sub mode: SUBSCRIBE or PSUBSCRIBE to the given channels/patterns; every
   * message/pmessage push is passed to `onMessage`. Resolves after the first confirmation.
   */
  async subscribe(kind: 'SUBSCRIBE' | 'PSUBSCRIBE', channels: string[], onMessage: PushHandler): Promise<void> {
    this.pushHandler = onMessage;
    await this.command(kind, ...channels);
    // Additional confirmations (one per channel after the first) arrive as pushes and are ignored.
  }

  /** Called once when the connection closes or fails (after all pending commands are rejected). */
  onClose(cb: (reason: string) => void): void {
    if (this.closedReason !== undefined) {
      cb(this.closedReason);
      return;
    }
    this.socket.once('close', () => cb(this.closedReason ?? 'connection closed'));
  }

  close(): void {
    this.fail('closed by client');
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    let pos = 0;
    for (;;) {
      let value: RespValue;
      let next: number;
      try {
        [value, next] = parse(this.buf, pos);
      } catch (e) {
        if (e === INCOMPLETE) break;
        this.fail((e as Error).message);
        return;
      }
      pos = next;
      this.dispatch(value);
    }
    this.buf = pos >= this.buf.length ? Buffer.alloc(0) : this.buf.subarray(pos);
  }

  private dispatch(value: RespValue): void {
    if (this.pushHandler && Array.isArray(value) && typeof value[0] === 'string') {
      const kind = value[0].toLowerCase();
      if (kind === 'message' || kind === 'pmessage') {
        this.pushHandler(value);
        return;
      }
      if ((kind === 'subscribe' || kind === 'psubscribe') && this.pending.length === 0) return;
    }
    const p = this.pending.shift();
    if (!p) return; // unsolicited; ignore
    clearTimeout(p.timer);
    p.resolve(value);
  }

  private fail(reason: string): void {
    if (this.closedReason === undefined) this.closedReason = reason;
    for (const p of this.pending.splice(0)) {
      clearTimeout(p.timer);
      p.reject(new ConnectionError(`${p.what}: ${reason}`));
    }
    if (!this.socket.destroyed) this.socket.destroy();
  }
}

/** Convenience: connect, run one command, close. */
export async function redisOnce(host: string, port: number, args: Array<string | number>, opts: ConnectOptions = {}): Promise<RespValue> {
  const c = await RedisClient.connect(host, port, opts);
  try {
    return await c.command(...args);
  } finally {
    c.close();
  }
}

/** Parses an INFO reply into a key/value map. */
export function parseInfo(info: RespValue): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof info !== 'string') return out;
  for (const line of info.split('\r\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** Converts a flat [k1, v1, k2, v2] array reply (e.g. SENTINEL MASTER) to a map. */
export function pairsToMap(v: RespValue): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(v)) return out;
  for (let i = 0; i + 1 < v.length; i += 2) out[String(v[i])] = String(v[i + 1]);
  return out;
}
