// The served model's KV cache: B sequences at once, each with its own position, for a batched decoding step (B rows
// of one token) or a prefill chunk (one row of S tokens). Unlike kv-cache.ts's cache, which the graph rewrites
// (a ScatterND or Where copies all L slots every run), this one is read-only in the graph: the graph attends over
// the past slots and the S new keys and values together, and outputs the new ones only (new.<i>.key/value,
// (B, Hkv, S, D)); the caller writes them into its cache (generate/batch.ts) in place. Nothing is copied per run
// but S rows per head. The caller also gives each row's positions, the past's mask and the rows whose logits it
// wants, so no shape in the graph depends on B or L: every Reshape infers the rows (-1), and one graph (one session,
// its weights prepacked once) serves any batch and cache length, with those two dims symbolic in the file
// (artifacts/build.ts). Either family's attention plugs in here (gpt2.ts, llama-cache.ts).
import type { Graph, Value } from '../onnx/graph.js';
import { groupedCausalMask } from './llama-ops.js';
import { pastName } from './kv-cache.js';

export const newKvName = (layer: number, kv: 'key' | 'value') => `new.${layer}.${kv}`;

/** What every layer of a served graph shares: its shape, past inputs, positions and masks. */
export interface BatchCache {
  /** Representative rows and cache length (the file leaves both symbolic), and the tokens per row. */
  readonly B: number;
  readonly S: number;
  readonly L: number;
  readonly past: readonly { key: Value; value: Value }[];
  /** (B*S,) int32: each token's position, row-major (b, s). */
  readonly posIds: Value;
  /** (B, 1, 1, L) additive: 0 on a row's filled past slots, -1e9 on the rest. */
  readonly pastMask: Value;
  /** (G*S, S) additive causal mask among the new tokens, queries grouped per KV head (G = 1: GPT-2). */
  readonly newMask: Value;
}

/**
 * Graph inputs past.<i>.key / past.<i>.value (B, kvHeads, L, D) float32 for `layers` layers, position_ids (B*S,)
 * int32 and past_mask (B, L) float32 (0 where a row's past holds a token, -1e9 elsewhere).
 */
export function batchCacheInputs(
  g: Graph,
  o: { layers: number; kvHeads: number; headDim: number; B: number; S: number; L: number; groups: number },
): BatchCache {
  const { B, S, L } = o;
  const past = Array.from({ length: o.layers }, (_, i) => ({
    key: g.input(pastName(i, 'key'), 'float32', [B, o.kvHeads, L, o.headDim]),
    value: g.input(pastName(i, 'value'), 'float32', [B, o.kvHeads, L, o.headDim]),
  }));
  const posIds = g.input('position_ids', 'int32', [B * S]);
  const pastMask = g.unsqueeze(g.input('past_mask', 'float32', [B, L]), [1, 2]);
  return { B, S, L, past, posIds, pastMask, newMask: groupedCausalMask(g, S, o.groups) };
}

/**
 * Attention of q (B, Hkv, G*S, D) (queries grouped per KV head, row g*S + s) over a layer's past (B, Hkv, L, D) and
 * the new k, v (B, Hkv, S, D): one softmax over both, split back by the last S columns. Returns (B, Hkv, G*S, D).
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
  const p = g.softmax(g.concat([onPast, onNew], 3));
  const pPast = g.slice(p, 3, 0, -c.S); // Slice ends from the end: no L in the graph
  const pNew = g.slice(p, 3, -c.S, 2 ** 31 - 1);
  return g.add(g.matmul(pPast, past.value), g.matmul(pNew, v));
}

/** (B*S, n*D) rows (b, s) to heads (B, n, S, D); with one token per row a Reshape does it. */
export function rowsToHeads(g: Graph, x: Value, S: number, n: number, D: number): Value {
  return S === 1 ? g.reshape(x, [-1, n, 1, D]) : g.transpose(g.reshape(x, [-1, S, n, D]), [0, 2, 1, 3]);
}

/** Heads (B, n, S, D) back to rows (B*S, n*D). */
export function headsToRows(g: Graph, x: Value, S: number, n: number, D: number): Value {
  return S === 1 ? g.reshape(x, [-1, n * D]) : g.reshape(g.transpose(x, [0, 2, 1, 3]), [-1, n * D]);
}

/**
 * The rows whose logits a run returns: all of them for one token per row, else an input last_index (B,) int32 of
 * flat row indices (b * S + the row's last real token), gathered from h (B*S, C).
 */
export function lastRows(g: Graph, h: Value, B: number, S: number): Value {
  if (S === 1) return h;
  return g.gather(h, g.input('last_index', 'int32', [B])); // (B, C)
}
