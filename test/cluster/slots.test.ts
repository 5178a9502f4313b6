import { CLUSTER_SLOTS, formatSlotRange, shardSlotRanges } from '../../src/cluster/slots';

describe('shardSlotRanges', () => {
  test('3 shards: the split redis-cli --cluster create makes', () => {
    expect(shardSlotRanges(3).map(formatSlotRange)).toEqual(['0-5460', '5461-10922', '10923-16383']);
  });

  test.each([1, 2, 3, 4, 5, 6, 7, 10, 16, 100, 1000, 16383, 16384])('%i shards: contiguous, every slot once, sizes differ by at most one', (shards) => {
    const ranges = shardSlotRanges(shards);
    expect(ranges).toHaveLength(shards);
    expect(ranges[0].start).toBe(0);
    expect(ranges[shards - 1].end).toBe(CLUSTER_SLOTS - 1);
    ranges.slice(1).forEach((r, i) => expect(r.start).toBe(ranges[i].end + 1));
    const sizes = ranges.map((r) => r.end - r.start + 1);
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  });

  test.each([0, -1, 2.5, 16385, NaN])('fails when shards is %p', (shards) => {
    expect(() => shardSlotRanges(shards)).toThrow(`shards (${shards}) must be an integer between 1 and 16384`);
  });
});
