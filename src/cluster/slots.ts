/** How many hash slots a Redis/Valkey Cluster has; every key hashes to one of them. */
export const CLUSTER_SLOTS = 16384;

/** A contiguous range of hash slots, both ends included. */
export interface SlotRange {
  readonly start: number;
  readonly end: number;
}

/**
 * The slot range of each of `shards` shards: 0..16383 split evenly and contiguously, shard `i`
 * starting at `round(i * 16384 / shards)` (the split `redis-cli --cluster create` makes), so ranges
 * differ in size by at most one slot. E.g. 3 shards: 0-5460, 5461-10922, 10923-16383.
 */
export function shardSlotRanges(shards: number): SlotRange[] {
  if (!Number.isInteger(shards) || shards < 1 || shards > CLUSTER_SLOTS) {
    throw new Error(`shards (${shards}) must be an integer between 1 and ${CLUSTER_SLOTS}`);
  }
  const start = (i: number) => Math.round((i * CLUSTER_SLOTS) / shards);
  return Array.from({ length: shards }, (_, i) => ({ start: start(i), end: start(i + 1) - 1 }));
}

/** A range as the entrypoint reads it from `SHARD_SLOTS` and CLUSTER NODES prints it: `START-END`. */
export function formatSlotRange(r: SlotRange): string {
  return `${r.start}-${r.end}`;
}
