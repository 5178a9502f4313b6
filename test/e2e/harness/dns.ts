/**
 * Optional stand-in for cluster DNS: a UDP responder answering A queries from the same name map as the
 * generated /etc/hosts (NXDOMAIN for unknown names, no AAAA records). Needed by software that resolves
 * at run time through the nameservers of /etc/resolv.conf rather than libc (e.g. HAProxy `resolvers`,
 * which marks servers down for maintenance when no nameserver ever answers).
 */
import { ChildProcess, fork } from 'child_process';
import * as dgram from 'dgram';
import * as path from 'path';
import { registerGroup, unregisterGroup } from './registry';
import { withTimeout } from './util';

export class DnsResponder {
  private socket?: dgram.Socket;
  queries = 0;

  constructor(
    readonly address: string,
    /** Lower-case FQDN or short name (no trailing dot) -> IPv4 addresses. */
    private readonly lookup: (name: string) => string[] | undefined,
    private readonly ttlSeconds = 5,
  ) {}

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = dgram.createSocket('udp4');
      s.once('error', reject);
      s.on('message', (msg, rinfo) => {
        this.queries++;
        const reply = this.answer(msg);
        if (reply) s.send(reply, rinfo.port, rinfo.address);
      });
      s.bind(53, this.address, () => {
        s.removeListener('error', reject);
        s.on('error', () => undefined);
        this.socket = s;
        resolve();
      });
    });
  }

  stop(): void {
    this.socket?.close();
    this.socket = undefined;
  }

  private answer(msg: Buffer): Buffer | undefined {
    if (msg.length < 12) return undefined;
    const qdcount = msg.readUInt16BE(4);
    if (qdcount !== 1) return this.header(msg, 4 /* NOTIMP */, 0, msg.subarray(12, 12));
    // question
    const labels: string[] = [];
    let p = 12;
    while (p < msg.length) {
      const len = msg[p];
      if (len === 0) break;
      if (len > 63) return undefined; // compression in a question: not expected
      labels.push(msg.toString('ascii', p + 1, p + 1 + len));
      p += 1 + len;
    }
    p++; // zero label
    if (p + 4 > msg.length) return undefined;
    const qtype = msg.readUInt16BE(p);
    const qclass = msg.readUInt16BE(p + 2);
    const question = msg.subarray(12, p + 4);
    const name = labels.join('.').toLowerCase();
    const addrs = this.lookup(name);
    if (!addrs || addrs.length === 0) return this.header(msg, 3 /* NXDOMAIN */, 0, question);
    if (qclass !== 1 || qtype !== 1 /* A */) return this.header(msg, 0, 0, question); // NODATA
    const answers = addrs.map((a) => {
      const rr = Buffer.alloc(16);
      rr.writeUInt16BE(0xc00c, 0); // pointer to the question name
      rr.writeUInt16BE(1, 2); // A
      rr.writeUInt16BE(1, 4); // IN
      rr.writeUInt32BE(this.ttlSeconds, 6);
      rr.writeUInt16BE(4, 10);
      a.split('.').forEach((o, i) => rr.writeUInt8(Number(o), 12 + i));
      return rr;
    });
    return Buffer.concat([this.header(msg, 0, answers.length, question), ...answers]);
  }

  private header(q: Buffer, rcode: number, ancount: number, question: Buffer): Buffer {
    const h = Buffer.alloc(12);
    q.copy(h, 0, 0, 2); // id
    const opcodeRd = q[2] & 0x79; // opcode + RD
    h[2] = 0x80 | opcodeRd | 0x04; // QR, AA
    h[3] = 0x80 | (rcode & 0x0f); // RA + rcode
    h.writeUInt16BE(question.length ? 1 : 0, 4);
    h.writeUInt16BE(ancount, 6);
    h.writeUInt16BE(0, 8);
    h.writeUInt16BE(0, 10);
    return Buffer.concat([h, question]);
  }
}

/**
 * A {@link DnsResponder} in a child process, fed a snapshot of the names whenever it changes: its
 * answers do not wait for the test process's event loop.
 */
export class DnsProcess {
  private child?: ChildProcess;
  private sent = '';
  private sentSeq = 0;
  private appliedSeq = 0;
  private waiters: Array<{ seq: number; resolve: () => void }> = [];
  private timer?: NodeJS.Timeout;

  constructor(
    readonly address: string,
    /** Every name the stand-in answers, with its current addresses. */
    private readonly snapshot: () => Record<string, string[]>,
  ) {}

  async start(timeoutMs = 20_000): Promise<void> {
    const child = fork(path.join(__dirname, 'dns-child.ts'), [this.address], {
      execArgv: ['-r', 'ts-node/register/transpile-only'],
      detached: true,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    if (child.pid === undefined) throw new Error('failed to start the DNS stand-in');
    registerGroup(child.pid);
    this.child = child;
    await withTimeout(new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`DNS stand-in exited with code ${code}`)));
    }), timeoutMs, 'the DNS stand-in');
    child.on('message', (m) => {
      const applied = (m as { applied?: number }).applied;
      if (typeof applied !== 'number') return;
      this.appliedSeq = Math.max(this.appliedSeq, applied);
      const done = this.waiters.filter((w) => w.seq <= this.appliedSeq);
      this.waiters = this.waiters.filter((w) => w.seq > this.appliedSeq);
      done.forEach((w) => w.resolve());
    });
    await this.sync(timeoutMs);
    this.timer = setInterval(() => this.push(), 100);
    this.timer.unref();
  }

  /** Sends the names when they changed. */
  push(): void {
    const table = this.snapshot();
    const text = JSON.stringify(table);
    if (text === this.sent || !this.child?.connected) return;
    this.sent = text;
    this.child.send({ seq: ++this.sentSeq, names: table });
  }

  /**
   * Sends the names now and resolves once the stand-in answers from them (or from a later table), as
   * cluster DNS does once its watch has caught up: the 100 ms push alone leaves a window in which a
   * lookup right after a change still gets the old answer.
   */
  sync(timeoutMs = 10_000): Promise<void> {
    this.push();
    const seq = this.sentSeq;
    if (seq <= this.appliedSeq || !this.child?.connected) return Promise.resolve();
    return withTimeout(new Promise<void>((resolve) => this.waiters.push({ seq, resolve })), timeoutMs, 'the DNS stand-in to take the new names');
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    const pid = this.child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    unregisterGroup(pid);
    this.child = undefined;
  }
}
