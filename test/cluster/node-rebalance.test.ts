import { spawnSync } from 'child_process';
import { HOME_SHARD_AWK, PLAN_AWK } from '../../src/cluster/node-rebalance';
import { ShardState, TopologyShard, renderTopology } from '../../src/cluster/topology';

/** The rebalancer's plan, computed by the real awk from a topology and a CLUSTER NODES text. */
function plan(shards: TopologyShard[], nodes: string[]): string {
  const input = [
    ...renderTopology(shards).split('\n').filter(Boolean).map((l) => `T ${l}`),
    ...nodes.map((l) => `N ${l}`),
  ].join('\n');
  const r = spawnSync('awk', [PLAN_AWK], { input: `${input}\n`, encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`awk: ${r.stderr}`);
  return r.stdout.trim();
}

const host = (s: number, m: number) => `n${s}${m}.ns.svc.cluster.local`;
const id = (s: number, m: number) => `${s}${m}`.padEnd(40, 'a');
const shard = (index: number, state = ShardState.ACTIVE): TopologyShard => ({ index, state, hosts: [host(index, 0), host(index, 1)] });
/** A master line (s, m) owning `slots`, and its replica's. */
function pair(s: number, slots: string[], flags = 'master'): string[] {
  return [
    `${id(s, 0)} 10.96.0.${s * 2 + 1}:6379@16379,${host(s, 0)} ${flags} - 0 0 ${s + 1} connected ${slots.join(' ')}`.trim(),
    `${id(s, 1)} 10.96.0.${s * 2 + 2}:6379@16379,${host(s, 1)} slave ${id(s, 0)} 0 0 ${s + 1} connected`,
  ];
}
const formed = [...pair(0, ['0-5460']), ...pair(1, ['5461-10922']), ...pair(2, ['10923-16383'])];

describe('the rebalancer\'s plan (PLAN_AWK, run by awk)', () => {
  test('a formed 3-shard cluster is balanced', () => {
    expect(plan([shard(0), shard(1), shard(2)], formed)).toBe('balanced');
  });

  test('a 4th shard with an empty master: the most over-share shard gives the top of its range, as much as it has over', () => {
    const nodes = [...formed, ...pair(3, [])];
    // Shares of 4: 4096 each; shard 1 holds 5462, the most over (1366).
    expect(plan([shard(0), shard(1), shard(2), shard(3)], nodes)).toBe(`move ${id(1, 0)} ${id(3, 0)} 9557 10922 10.96.0.3:6379 10.96.0.7:6379 1 3`);
  });

  test('moves continue until every shard holds its share of an even split, then balanced', () => {
    const shards = [shard(0), shard(1), shard(2), shard(3)];
    const owned: string[][] = [['0-5460'], ['5461-10922'], ['10923-16383'], []];
    for (let step = 0; step < 10; step++) {
      const next = plan(shards, owned.flatMap((slots, s) => pair(s, slots)));
      if (next === 'balanced') break;
      const [, src, dst, lo, hi] = next.split(' ');
      const from = Number(src[0]);
      const to = Number(dst[0]);
      // The move takes lo-hi off the top of the source's highest range.
      const last = owned[from][owned[from].length - 1].split('-').map(Number);
      owned[from] = [...owned[from].slice(0, -1), ...(Number(lo) > last[0] ? [`${last[0]}-${Number(lo) - 1}`] : [])];
      expect(Number(hi)).toBe(last[1]);
      owned[to] = [...owned[to], `${lo}-${hi}`];
    }
    const size = (r: string) => { const [a, b = a] = r.split('-').map(Number); return b - a + 1; };
    expect(owned.map((slots) => slots.reduce((n, r) => n + size(r), 0))).toEqual([4096, 4096, 4096, 4096]);
    expect(plan(shards, owned.flatMap((slots, s) => pair(s, slots)))).toBe('balanced');
    // Slot 0 never moved: the driver stays where it was.
    expect(owned[0][0].startsWith('0-')).toBe(true);
  });

  test('a draining shard gives everything; its share is none', () => {
    const nodes = [...pair(0, ['0-4095']), ...pair(1, ['4096-8191']), ...pair(2, ['8192-12287']), ...pair(3, ['12288-16383'])];
    expect(plan([shard(0), shard(1), shard(2), shard(3, ShardState.DRAIN)], nodes))
      // Shares of 3: 5461, 5462, 5461; shard 1 lacks the most (1366).
      .toBe(`move ${id(3, 0)} ${id(1, 0)} 15018 16383 10.96.0.7:6379 10.96.0.3:6379 3 1`);
  });

  test('slots left open by a classic move come first', () => {
    const nodes = [...pair(0, ['0-5460', '[5461->-' + id(1, 0) + ']']), ...pair(1, ['5461-10922']), ...pair(2, ['10923-16383'])];
    expect(plan([shard(0), shard(1), shard(2)], nodes)).toBe(`open [5461->-${id(1, 0)}]`);
  });

  test('waits while a master owning slots is failing, while an active shard has no master, and for a master no shard names', () => {
    const failing = [...pair(0, ['0-5460']), ...pair(1, ['5461-10922'], 'master,fail'), ...pair(2, ['10923-16383'])];
    expect(plan([shard(0), shard(1), shard(2)], failing)).toMatch(/^wait masters owning slots are failing: n10/);
    expect(plan([shard(0), shard(1), shard(2), shard(3)], formed)).toBe('wait shard 3 has no live master yet');
    expect(plan([shard(0), shard(1)], formed)).toMatch(/^wait masters that no shard of the chart names own slots: n20/);
  });

  test('once balanced, failed nodes no shard names any more are forgotten', () => {
    const gone = `${'f'.repeat(40)} 10.96.0.9:6379@16379,old.ns.svc.cluster.local master,fail - 0 0 9 disconnected`;
    expect(plan([shard(0), shard(1), shard(2)], [...formed, gone])).toBe(`forget ${'f'.repeat(40)}`);
    // A lost incarnation: another id under a name a live node has now.
    const ghost = `${'e'.repeat(40)} :6379@16379,${host(1, 1)} slave,fail,noaddr ${id(1, 0)} 0 0 2 disconnected`;
    expect(plan([shard(0), shard(1), shard(2)], [...formed, ghost])).toBe(`forget ${'e'.repeat(40)}`);
    // A node merely down (its name has no other id) is not forgotten.
    const down = formed.map((l) => (l.startsWith(id(1, 1)) ? l.replace(' slave ', ' slave,fail ') : l));
    expect(plan([shard(0), shard(1), shard(2)], down)).toBe('balanced');
  });
});

describe('renderTopology', () => {
  test('active shards get the even split as formation range, draining ones none', () => {
    expect(renderTopology([shard(0), shard(1), shard(2), shard(3, ShardState.DRAIN)]).split('\n').slice(1, 5)).toEqual([
      `0 active 0-5460 ${host(0, 0)} ${host(0, 1)}`,
      `1 active 5461-10922 ${host(1, 0)} ${host(1, 1)}`,
      `2 active 10923-16383 ${host(2, 0)} ${host(2, 1)}`,
      `3 drain - ${host(3, 0)} ${host(3, 1)}`,
    ]);
  });
});

/** Where a node replicating outside its shard goes (HOME_SHARD_AWK, run by awk): '' for nowhere. */
function home(hosts: string[], nodes: string[]): string {
  const r = spawnSync('awk', ['-v', `hosts=${hosts.join(' ')}`, HOME_SHARD_AWK], { input: `${nodes.join('\n')}\n`, encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`awk: ${r.stderr}`);
  return r.stdout.trim();
}
const myself = (line: string) => line.replace(/ (master|slave) /, ' myself,$1 ');

describe('a replica outside its shard goes back (HOME_SHARD_AWK, run by awk)', () => {
  const shard2 = [host(2, 0), host(2, 1)];

  test('a replica of its own shard\'s master stays', () => {
    const [m, r] = pair(2, ['10923-16383']);
    expect(home(shard2, [...pair(0, ['0-5460']), m, myself(r)])).toBe('');
  });

  test('a former master made a replica of another shard\'s master goes back to its shard\'s master owning slots', () => {
    // Shard 2's node 0, killed in a move, came back as a replica of shard 3's master; node 1 took over.
    const nodes = [
      ...pair(3, ['12288']),
      `${id(2, 1)} 10.96.0.6:6379@16379,${host(2, 1)} master - 0 0 9 connected 12289-16383`,
      `${id(2, 0)} 10.96.0.5:6379@16379,${host(2, 0)} myself,slave ${id(3, 0)} 0 0 9 connected`,
    ];
    expect(home(shard2, nodes)).toBe(id(2, 1));
  });

  test('while its shard\'s master is failing, or owns no slot (a drained shard), it stays', () => {
    const away = (flags: string, slots: string) => [
      ...pair(3, ['12288']),
      `${id(2, 1)} 10.96.0.6:6379@16379,${host(2, 1)} ${flags} - 0 0 9 connected ${slots}`.trim(),
      `${id(2, 0)} 10.96.0.5:6379@16379,${host(2, 0)} myself,slave ${id(3, 0)} 0 0 9 connected`,
    ];
    expect(home(shard2, away('master,fail', '12289-16383'))).toBe('');
    expect(home(shard2, away('master', ''))).toBe('');
    expect(home(shard2, away('master', '[12289->-abc]'))).toBe('');
  });

  test('a master stays a master', () => {
    const [m, r] = pair(2, ['10923-16383']);
    expect(home(shard2, [myself(m), r])).toBe('');
  });
});
