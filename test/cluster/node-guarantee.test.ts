import { spawnSync } from 'child_process';
import { SHARD_STATE_AWK } from '../../src/cluster/node-guarantee';

const host = (s: number, m: number) => `n${s}${m}.ns.svc.cluster.local`;
const id = (s: number, m: number) => `${s}${m}`.padEnd(40, 'a');

/** One CLUSTER NODES line of node (s, m). */
function line(s: number, m: number, flags: string, master: string, slots = ''): string {
  return `${id(s, m)} 10.96.0.${s * 2 + m + 1}:6379@16379,${host(s, m)} ${flags} ${master} 0 0 ${s + 1} connected ${slots}`.trim();
}
const SLOTS = ['0-5460', '5461-10922', '10923-16383'];
/** A formed 3 x 2 cluster seen from node (0, me), with each line's flags changed by `edit`. */
function view(me: number, edit: (s: number, m: number, flags: string) => string = (_s, _m, f) => f): string[] {
  const out: string[] = [];
  for (let s = 0; s < 3; s++) {
    for (let m = 0; m < 2; m++) {
      const base = m === 0 ? 'master' : 'slave';
      const flags = edit(s, m, s === 0 && m === me ? `myself,${base}` : base);
      out.push(line(s, m, flags, flags.includes('master') ? '-' : id(s, 0), flags.includes('master') && m === 0 ? SLOTS[s] : ''));
    }
  }
  return out;
}

/** The guarantee loop's reading of its shard, computed by the real awk. */
function shardState(nodes: string[], members: string[]): string {
  const r = spawnSync('awk', ['-v', `members=${members.join(' ')}`, SHARD_STATE_AWK], { input: `${nodes.join('\n')}\n`, encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`awk: ${r.stderr}`);
  return r.stdout.trim();
}

describe('the write guarantee\'s reading of its shard (SHARD_STATE_AWK, run by awk)', () => {
  test('a healthy shard: its one other member is up', () => {
    expect(shardState(view(0), [host(0, 1)])).toBe('master members 1');
  });

  test('a replica the cluster marked failed (fail): the master counts it failed', () => {
    expect(shardState(view(0, (s, m, f) => (s === 0 && m === 1 ? `${f},fail` : f)), [host(0, 1)])).toBe(`master members 0 ${host(0, 1)}`);
  });

  test('a replica only this node suspects (fail?) still counts as up: lowering needs the majority\'s verdict', () => {
    expect(shardState(view(0, (s, m, f) => (s === 0 && m === 1 ? `${f},fail?` : f)), [host(0, 1)])).toBe('master members 1');
  });

  test('a promoted replica whose old master failed: the old master counts failed', () => {
    const nodes = [
      line(0, 0, 'master,fail', '-'),
      line(0, 1, 'myself,master', '-', SLOTS[0]),
      line(1, 0, 'master', '-', SLOTS[1]), line(1, 1, 'slave', id(1, 0)),
      line(2, 0, 'master', '-', SLOTS[2]), line(2, 1, 'slave', id(2, 0)),
    ];
    expect(shardState(nodes, [host(0, 0)])).toBe(`master members 0 ${host(0, 0)}`);
  });

  test('a replica whose master the cluster marked failed, before its promotion: the master counts failed, and a majority is still reached', () => {
    expect(shardState(view(1, (s, m, f) => (s === 0 && m === 0 ? `${f},fail` : f)), [host(0, 0)])).toBe(`replica members 0 ${host(0, 0)}`);
  });

  test('a node that sees most masters failing is in a minority, whatever its shard looks like', () => {
    const cut = view(0, (s, m, f) => (s > 0 ? `${f},fail?` : s === 0 && m === 1 ? `${f},fail` : f));
    expect(shardState(cut, [host(0, 1)])).toBe('master minority 1 3');
  });

  test('a member without an address (noaddr, failed on load by Valkey) is no evidence: it counts as up', () => {
    expect(shardState(view(0, (s, m, f) => (s === 0 && m === 1 ? `${f},fail,noaddr` : f)), [host(0, 1)])).toBe('master members 1');
  });

  test('a member not known yet counts as up; so does a lost incarnation under a name that a live node answers to', () => {
    expect(shardState(view(0), [host(0, 1), 'n09.ns.svc.cluster.local'])).toBe('master members 2');
    const ghost = `${'ff'.padEnd(40, 'f')} 10.96.0.2:6379@16379,${host(0, 1)} slave,fail ${id(0, 0)} 0 0 1 connected`;
    expect(shardState([...view(0), ghost], [host(0, 1)])).toBe('master members 1');
  });

  test('no master owns slots yet (forming): a minority, never lowered', () => {
    expect(shardState([line(0, 0, 'myself,master', '-'), line(0, 1, 'slave,fail', id(0, 0))], [host(0, 1)])).toBe('master minority 0 0');
  });
});
