/**
 * The DNS stand-in in a process of its own (see {@link DnsProcess}): the test process's event loop
 * can lag under load, and a sentinel blocked on a slow lookup for 2 s enters TILT mode. Answers from
 * the table the harness sends over IPC; exits when the harness goes away.
 */
import { DnsResponder } from './dns';

let table: Record<string, string[]> = {};
const responder = new DnsResponder(process.argv[2], (name) => table[name]);
process.on('message', (m) => {
  const { seq, names } = m as { seq: number; names: Record<string, string[]> };
  table = names;
  process.send?.({ applied: seq });
});
process.on('disconnect', () => {
  responder.stop();
  process.exit(0);
});
responder.start().then(
  () => process.send?.('ready'),
  (e) => {
    console.error(`dns stand-in: ${e}`);
    process.exit(1);
  },
);
