// The served model's KV cache: B sequences at once, each with its own position, for a batched decoding step (B rows
// of one token) or a prefill chunk (one row of S tokens). Unlike kv-cache.ts's cache, which the graph rewrites
// (a ScatterND or Where copies all L slots every run), this one is read-only in the graph: the graph attends over
// the past slots and the S new keys and values together, and outputs the new ones only (new.<i>.key/value,
// (B, Hkv, S, D)); the caller writes them into its cache (generate/batch.ts) in place. Nothing is copied per run
// but S rows per head. Either family's attention plugs in here (gpt2.ts, llama-cache.ts).
import type { Graph, Value } from '../onnx/graph.js';
import { groupedCausalMask } from './llama-ops.js';
import { pastName } from './kv-cache.js';

export const newKvName = (layer: number, kv: 'key' | 'value') => `new.${layer}.${kv}`;

/** What every layer of a batch graph shares: its shape, past inputs, positions and masks. */
export interface BatchCache {
  readonly B: number;
  readonly S: number;
  readonly L: number;
  readonly past: readonly { key: Value; value: Value }[];
  /** (B*S,) int32: each row's token positions, row-major (b, s). */
  readonly posIds: Value;
  /** (B, 1, 1, L) additive: a row's past slots at and after its first new position are hidden. */
  readonly pastMask: Value;
  /** (G*S, S) additive causal mask among the new tokens, queries grouped per KV head (G = 1: GPT-2). */
  readonly newMask: Value;
}

/**
 * Graph inputs past.<i>.key / past.<i>.value (B, kvHeads, L, D) float32 for `layers` layers, and the positions and
 * masks from `positions` (B,) int32, the first new token's position in each row.
 */
export function batchCacheInputs(
  g: Graph,
  o: { layers: number; kvHeads: number; headDim: number; B: number; S: number; L: number; groups: number },
  positions: Value,
): BatchCache {
  const { B, S, L } = o;
  const arange = (n: number) =>
    g.constant(
      'int32',
      [n],
      Int32Array.from({ length: n }, (_, i) => i),
    );
  const past = Array.from({ length: o.layers }, (_, i) => ({
    key: g.input(pastName(i, 'key'), 'float32', [B, o.kvHeads, L, o.headDim]),
    value: g.input(pastName(i, 'value'), 'float32', [B, o.kvHeads, L, o.headDim]),
  }));
  const first = g.unsqueeze(positions, [1]); // (B, 1)
  const posIds = S === 1 ? positions : g.reshape(g.add(first, g.unsqueeze(arange(S), [0])), [B * S]);
  const seen = g.op1('Less', [g.unsqueeze(arange(L), [0]), first]); // (B, L): slot < first new position
  const pastMask = g.reshape(g.where(seen, g.scalar(0), g.scalar(-1e9)), [B, 1, 1, L]);
  return { B, S, L, past, posIds, pastMask, newMask: groupedCausalMask(g, S, o.groups) };
}

/**
 * Attention of q (B, Hkv, G*S, D) (queries grouped per KV head, row g*S + s) over a layer's past (B, Hkv, L, D) and
 * the new k, v (B, Hkv, S, D): one softmax over both. Returns (B, Hkv, G*S, D).
 */
export function attendPastAndNew(
  g: Graph,
  c: BatchCache,
  past: { key: Value; value: Value },
  q: Value,
  k: Value,
  v: Value,
  scale: number,
): Value {
  const qs = g.mulScalar(q, scale);
  const onPast = g.add(g.matmul(qs, g.transpose(past.key, [0, 1, 3, 2])), c.pastMask); // (B, Hkv, G*S, L)
  const onNew = g.add(g.matmul(qs, g.transpose(k, [0, 1, 3, 2])), c.newMask); // (B, Hkv, G*S, S)
  const [pPast, pNew] = g.split(g.softmax(g.concat([onPast, onNew], 3)), [c.L, c.S], 3);
  return g.add(g.matmul(pPast, past.value), g.matmul(pNew, v));
}

/** (N, n*D) rows (b, s) to heads (B, n, S, D); with one token per row a Reshape does it. */
export function rowsToHeads(g: Graph, x: Value, B: number, S: number, n: number, D: number): Value {
  return S === 1 ? g.reshape(x, [B, n, 1, D]) : g.transpose(g.reshape(x, [B, S, n, D]), [0, 2, 1, 3]);
}

/** Heads (B, n, S, D) back to rows (B*S, n*D). */
export function headsToRows(g: Graph, x: Value, B: number, S: number, n: number, D: number): Value {
  return S === 1 ? g.reshape(x, [B, n * D]) : g.reshape(g.transpose(x, [0, 2, 1, 3]), [B * S, n * D]);
}

/** Each row's last token of a chunk: rows b * S + last[b] of h (B*S, C), for `last` (B,) int32; all rows when S = 1. */
export function lastRows(g: Graph, h: Value, last: Value | null, B: number, S: number): Value {
  if (S === 1) return h;
  const starts = g.constant(
    'int32',
    [B],
    Int32Array.from({ length: B }, (_, b) => b * S),
  );
  return g.gather(h, g.add(starts, last!)); // (B, C)
}
