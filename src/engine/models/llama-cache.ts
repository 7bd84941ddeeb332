// The Llama family's generation graph: the decoder of llama.ts (llamaDecoder, the layers training runs) over S new
// tokens with a fixed-size KV cache of L slots that holds the Hkv key/value heads only (never repeated to H), RoPE
// at each token's cache position from a constant table, and the head. Forward only; the cache writes are gpt2.ts's (a Where or ScatterND for one token,
// a one-hot matmul for a prefill chunk), so the generator drives both families the same way.
import type { Graph, Value } from '../onnx/graph.js';
import type { LlamaConfig } from './llama-config.js';
import { applyRope, groupedMask, linear, rmsNorm, ropeInputs, siluMul, type RopeInputs } from './llama-ops.js';
import {
  llamaDecoder,
  llamaLogits,
  plainLinear,
  trainableForms,
  type LinearOf,
  type LlamaAttend,
  type LlamaForms,
} from './llama.js';
import { ropeTables } from './rope.js';
import { attendPastAndNew, batchCacheInputs, headsToRows, lastRows, newKvName, rowsToHeads } from './batch-cache.js';
import { cacheWrites, pastName, presentName, type KvCache } from './kv-cache.js';

/** The KV cache of Hkv heads (kv-cache.ts) and the linear layers. */
export interface LlamaCacheOptions extends KvCache {
  /** The linear layers by module name (LoRA hooks in here); default: gemvLinear for one token on the Einsum target, else plainLinear. */
  readonly lin?: LinearOf;
}

/**
 * nn.Linear for one row by Einsum, x (1, in) times W [out, in]^T, plus the bias by an Add: on the WebGPU target a
 * (1, K) x (K, N) Gemm runs a 2-D tiled kernel for one row, ~30x slower than Einsum's loop per output (gpt2.ts).
 */
export const gemvLinear =
  (g: Graph, P: Record<string, Value>): LinearOf =>
  (x, module) => {
    const y = g.einsum('mk,nk->mn', x, P[`${module}.weight`]);
    const b = P[`${module}.bias`];
    return b ? g.add(y, b) : y;
  };

/**
 * The decoder over S new tokens, ids (1, S) int32 at cache positions posIds (S,) int32; returns the hidden states
 * (S, C) after model.norm. Every layer reads its cache from o.past and leaves the updated one in o.present.
 * RoPE: cos/sin rows gathered by posIds from a constant (L + S - 1, D) table, so one graph serves any offset and a
 * padded prefill tail past the last slot still finds a row (its keys land in no slot).
 */
export function llamaCachedTrunk(
  g: Graph,
  c: LlamaConfig,
  P: Record<string, Value>,
  ids: Value,
  posIds: Value,
  o: LlamaCacheOptions,
): Value {
  const S = ids.shape[1];
  const L = o.mask.shape[1];
  const [H, Hkv, D] = [c.num_attention_heads, c.num_key_value_heads, c.head_dim];
  const G = H / Hkv;
  const eps = c.rms_norm_eps;
  const gemv = !!g.options.einsum && S === 1;
  const lin = o.lin ?? (gemv ? gemvLinear(g, P) : plainLinear(g, P));
  const rope = cachedRope(g, c, L + S - 1, posIds);
  // queries grouped per KV head, (1, Hkv, G*S, D) rows g*S + s, see the (G*S, L) mask; one token's (1, L) broadcasts
  const mask = S === 1 ? o.mask : groupedMask(g, o.mask, G);
  const scale = 1 / Math.sqrt(D);
  const put = (cache: Value, x: Value) =>
    o.slotIndex
      ? g.op1('ScatterND', [cache, o.slotIndex, x])
      : S === 1
        ? g.where(o.slot!, x, cache)
        : g.add(g.mul(cache, o.keep!), g.matmul(o.write!, x)); // (1, Hkv, L, D)
  // (S, n*D) -> (1, n, S, D); with one token the transpose moves nothing, so a Reshape does it
  const heads = (x: Value, n: number) =>
    S === 1 ? g.reshape(x, [1, n, 1, D]) : g.transpose(g.reshape(x, [1, S, n, D]), [0, 2, 1, 3]);

  // one token on the Einsum target: the forward-only forms below, fewer nodes (each a GPU dispatch); queries as
  // (1, Hkv, G, D) straight from the projection, head h = kv * G + g
  const f = gemv ? tokenForms(g, rope) : null;
  const norm = (x: Value, w: Value) => (f ? f.rmsNorm(x, w, eps) : rmsNorm(g, x, w, eps));
  const rotate = (x: Value) => (f ? f.rope(x) : applyRope(g, x, rope, 'bhtd'));

  const attend: LlamaAttend = (qp, kp, vp, i) => {
    const at = `model.layers.${i}.self_attn`;
    let q = f ? g.reshape(qp, [1, Hkv, G, D]) : heads(qp, H); // (1, Hkv, G, D) or (1, H, S, D)
    let k = heads(kp, Hkv); // (1, Hkv, S, D)
    const v = heads(vp, Hkv);
    if (c.qk_norm) {
      q = norm(q, P[`${at}.q_norm.weight`]); // per head, over D, before RoPE
      k = norm(k, P[`${at}.k_norm.weight`]);
    }
    const key = put(past(o, i).key, rotate(k)); // (1, Hkv, L, D)
    const value = put(past(o, i).value, v);
    o.present[i] = { key, value };
    q = rotate(q);
    if (f) {
      // scores and their sum over the cache by Einsum, as gpt2.ts does for one token
      const p = g.softmax(g.add(g.einsum('bkgd,bkld,->bkgl', q, key, scale), mask)); // (1, Hkv, G, L)
      return g.reshape(g.einsum('bkgl,bkld->bkgd', p, value), [1, H * D]);
    }
    const qg = g.reshape(q, [1, Hkv, G * S, D]); // (1, H, S, D) -> (1, Hkv, G*S, D): a free Reshape
    const att = g.reshape(g.attention(qg, key, value, mask, scale), [1, H, S, D]); // (1, Hkv, G*S, D) -> (1, H, S, D)
    return S === 1 ? g.reshape(att, [1, H * D]) : g.reshape(g.transpose(att, [0, 2, 1, 3]), [S, H * D]); // (S, H*D)
  };
  const forms: LlamaForms = f
    ? { norm, siluMul: f.siluMul }
    : { norm, siluMul: (a: Value, b: Value) => siluMul(g, a, b) };
  return llamaDecoder(g, c, P, ids, attend, lin, forms); // (S, C)
}

/**
 * Forward-only forms of llama-ops.ts's rmsNorm, applyRope and siluMul for one token by Einsum (no gradients here):
 * RMSNorm in 4 nodes (mean of squares by Einsum, + eps, ^-0.5, the product) where the trainable one takes 6; RoPE
 * as one product with M (1, D, D), M_de = cos_e [d = e] + R_de sin_e (x M = x cos + rotate_half(x) sin), made once
 * per graph (3 nodes), where applyRope takes 3 per use; silu(a) b in 2 nodes where siluMul takes 3.
 */
function tokenForms(g: Graph, r: RopeInputs) {
  const D = r.cos.shape[1];
  const I = g.constant(
    'float32',
    [D, D],
    Float32Array.from({ length: D * D }, (_, i) => +(i % (D + 1) === 0)),
  );
  const M = g.add(g.einsum('te,de->tde', r.cos, I), g.einsum('te,de->tde', r.sin, r.rot)); // (1, D, D)
  return {
    rmsNorm(x: Value, w: Value, eps: number): Value {
      const rows = 'abcdefgh'.slice(0, x.shape.length - 1);
      const X = `${rows}z`;
      const ms = g.einsum(`${X},${X},->${rows}`, x, x, 1 / x.shape[x.shape.length - 1]); // (...): mean(x^2)
      const inv = g.op1('Pow', [g.addScalar(ms, eps), g.scalar(-0.5)]);
      return g.einsum(`${X},${rows},z->${X}`, x, inv, w);
    },
    /** x (1, n, g, D), a single position. */
    rope: (x: Value) => g.einsum('bngd,tde->bnge', x, M),
    siluMul: (a: Value, b: Value) => g.einsum('sf,sf,sf->sf', a, g.op1('Sigmoid', [a]), b),
  };
}

const past = (o: LlamaCacheOptions, i: number) => {
  const p = o.past[i];
  if (!p) throw new RangeError(`llamaCachedTrunk: no past cache for layer ${i} (got ${o.past.length} layers)`);
  return p;
};

/** RoPE tables for rows 0..rows-1 as constants, gathered at posIds: (S, D) each, in llama-ops.ts's RopeInputs. */
function cachedRope(g: Graph, c: LlamaConfig, rows: number, posIds: Value): RopeInputs {
  const t = ropeTables(c, rows);
  const table = (data: Float32Array) => g.gather(g.constant('float32', [...t.shape], data), posIds); // (S, D)
  return ropeInputs(g, table(t.cos), table(t.sin));
}

/**
 * The body of a generate graph for S new tokens and L slots, the Llama family's counterpart of gpt2.ts's
 * gpt2GenerateGraphBody: graph inputs past.<i>.key / past.<i>.value (1, Hkv, L, D) float32, the trunk, the head at row `last`
 * (1,) int32 of the chunk (tied: model.embed_tokens.weight, else lm_head.weight), and outputs logits (1, V) and
 * present.<i>.key / present.<i>.value. ids (1, S) int32 and position (1,) int32 are the caller's inputs. The target
 * is g.options (scatterAdd: ScatterND writes; einsum: the GEMV forms for one token).
 */
export function llamaGenerateGraphBody(
  g: Graph,
  c: LlamaConfig,
  P: Record<string, Value>,
  ids: Value,
  position: Value,
  last: Value,
  L: number,
  lin?: LinearOf,
): { logits: Value; present: { key: Value; value: Value }[] } {
  const S = ids.shape[1];
  if (S < 1 || S > L) throw new RangeError(`llamaGenerateGraphBody: step ${S} and cache ${L} need 1 <= step <= cache`);
  const [Hkv, D] = [c.num_key_value_heads, c.head_dim];
  const pastKV = Array.from({ length: c.num_hidden_layers }, (_, i) => ({
    key: g.input(pastName(i, 'key'), 'float32', [1, Hkv, L, D]),
    value: g.input(pastName(i, 'value'), 'float32', [1, Hkv, L, D]),
  }));
  const { posIds, ...writes } = cacheWrites(g, Hkv, L, S, position);
  const present: { key: Value; value: Value }[] = [];
  const h = llamaCachedTrunk(g, c, P, ids, posIds, { ...writes, past: pastKV, present, lin }); // (S, C)
  const row = S === 1 ? h : g.gather(h, last); // (1, C)
  const W = P[c.tie_word_embeddings ? 'model.embed_tokens.weight' : 'lm_head.weight'];
  // one row on the WebGPU target: a GEMV by Einsum, as for the layers
  const logits = g.options.einsum ? g.einsum('mk,nk->mn', row, W) : linear(g, row, W); // (1, V)
  g.output(logits, 'logits');
  present.forEach((kv, i) => {
    g.output(kv.key, presentName(i, 'key'));
    g.output(kv.value, presentName(i, 'value'));
  });
  return { logits, present };
}

/**
 * The body of a served model's graph (models/batch-cache.ts), the Llama family's counterpart of gpt2.ts's
 * gpt2ServeGraphBody: ids (B, S) int32 and the cache's inputs (past.<i>.* (B, Hkv, L, D) read-only); outputs
 * new.<i>.key (after the k norm and RoPE) / new.<i>.value (B, Hkv, S, D) and logits (B, V) of each row's last token.
 * RoPE treats the B*S rows as one sequence at position_ids, from a constant table of `rows` positions (the most a
 * request reaches), so no shape depends on B or L.
 */
export function llamaServeGraphBody(
  g: Graph,
  c: LlamaConfig,
  P: Record<string, Value>,
  ids: Value,
  L: number,
  rows: number,
  lin: LinearOf = plainLinear(g, P),
): void {
  const [B, S] = ids.shape;
  const [H, Hkv, D] = [c.num_attention_heads, c.num_key_value_heads, c.head_dim];
  const G = H / Hkv;
  const bc = batchCacheInputs(g, { layers: c.num_hidden_layers, kvHeads: Hkv, headDim: D, B, S, L, groups: G });
  const rope = cachedRope(g, c, rows, bc.posIds); // (N, D)
  const forms = trainableForms(g, c);
  const attend: LlamaAttend = (qp, kp, vp, i) => {
    const at = `model.layers.${i}.self_attn`;
    let q = g.reshape(qp, [1, -1, H, D]); // rows as one sequence of positions: RoPE's (1, T, H, D) layout
    let k = g.reshape(kp, [1, -1, Hkv, D]);
    if (c.qk_norm) {
      q = forms.norm(q, P[`${at}.q_norm.weight`]); // per head, over D, before RoPE
      k = forms.norm(k, P[`${at}.k_norm.weight`]);
    }
    const heads = (x: Value, n: number) => rowsToHeads(g, g.reshape(x, [-1, n * D]), S, n, D); // (B, n, S, D)
    const kh = heads(applyRope(g, k, rope, 'bthd'), Hkv);
    const vh = heads(vp, Hkv);
    g.output(kh, newKvName(i, 'key'));
    g.output(vh, newKvName(i, 'value'));
    const qg = g.reshape(heads(applyRope(g, q, rope, 'bthd'), H), [-1, Hkv, G * S, D]); // head h = kv * G + g
    const y = attendPastAndNew(g, bc, bc.past[i], qg, kh, vh, 1 / Math.sqrt(D)); // (B, Hkv, G*S, D)
    return headsToRows(g, g.reshape(y, [-1, H, S, D]), S, H, D); // (N, H*D)
  };
  const h = llamaDecoder(g, c, P, ids, attend, lin, forms); // (N, C)
  g.output(llamaLogits(g, c, P, lastRows(g, h, B, S)), 'logits'); // (B, V)
}
