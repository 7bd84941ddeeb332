// The fixed-size KV cache both families generate with: the (S, L) mask of S new tokens at a position and the
// writes of their keys and values into L slots, made once per generate graph.
import type { Graph, Value } from '../onnx/graph.js';

/** The generate graph's cache inputs and outputs, per layer. */
export const pastName = (layer: number, kv: 'key' | 'value') => `past.${layer}.${kv}`;
export const presentName = (layer: number, kv: 'key' | 'value') => `present.${layer}.${kv}`;

/**
 * A fixed-size KV cache as a trunk reads it: where this call's keys and values go (cacheWrites), what each new
 * token may attend to, each layer's cache (1, heads, L, D), and the updated ones, filled in by the trunk.
 */
export interface KvCache extends Omit<CacheWrites, 'posIds'> {
  readonly past: readonly { key: Value; value: Value }[];
  readonly present: { key: Value; value: Value }[];
}

/** What the cache needs besides past and present: mask, write and the new tokens' positions, made once per graph. */
export interface CacheWrites {
  /** (S,) int32: position + 0..S-1. */
  readonly posIds: Value;
  /** (S, L) additive mask: slots after each new token's position are hidden. */
  readonly mask: Value;
  /** One token (S = 1): (1, 1, L, 1) bool, true at its slot (a Where writes it)... */
  readonly slot?: Value;
  /** ...or (1, heads, 1, 3) int64 indices [0, h, position] (a ScatterND writes it: the CPU EP). */
  readonly slotIndex?: Value;
  /** A chunk (S > 1): (L, S) one-hot float rows placing each new token, and (1, 1, L, 1) 1 where no new token goes. */
  readonly write?: Value;
  readonly keep?: Value;
}

/**
 * The mask and the slot writes of S new tokens at position (1,) int32 in a cache of L slots with `heads` heads
 * (the KV heads; any family): ScatterND indices where g.options.scatterAdd (the CPU EP, ~10x faster than the
 * broadcasting Where there), else a (1, 1, L, 1) bool slot for one token; a one-hot (L, S) write and a keep mask
 * for a chunk. Positions past the last slot write nothing.
 */
export function cacheWrites(g: Graph, heads: number, L: number, S: number, position: Value): CacheWrites {
  const arange = (n: number) =>
    g.constant(
      'int32',
      [n],
      Int32Array.from({ length: n }, (_, i) => i),
    );
  const posIds = S === 1 ? position : g.add(position, arange(S)); // (S,)
  const slots = arange(L); // (L,)
  const allowed = g.op1('LessOrEqual', [g.unsqueeze(slots, [0]), g.unsqueeze(posIds, [1])]); // (S, L): slot <= position
  const mask = g.where(allowed, g.scalar(0), g.scalar(-1e9)); // (S, L)
  if (S === 1 && g.options.scatterAdd) {
    const base = new BigInt64Array(heads * 3);
    for (let h = 0; h < heads; h++) base[3 * h + 1] = BigInt(h);
    const at = g.mul(g.cast(position, 'int64'), g.i64([0, 0, 1])); // (3,): [0, 0, position]
    return { posIds, mask, slotIndex: g.add(g.constant('int64', [1, heads, 1, 3], base), at) }; // (1, heads, 1, 3)
  }
  if (S === 1) {
    const slotIds = g.constant(
      'int32',
      [1, 1, L, 1],
      Int32Array.from({ length: L }, (_, i) => i),
    );
    return { posIds, mask, slot: g.equal(slotIds, position) }; // (1, 1, L, 1): the one slot this token writes
  }
  const write = g.cast(g.equal(g.unsqueeze(slots, [1]), g.unsqueeze(posIds, [0])), 'float32'); // (L, S)
  return { posIds, mask, write, keep: g.reshape(g.sub(g.scalar(1), g.reduceSum(write, [1])), [1, 1, L, 1]) };
}
