// GPT-2 as Hugging Face's GPT2LMHeadModel defines it, emitted into the graph IR: HF parameter names and layouts
// (Conv1D weights are [in, out]), lm_head tied to transformer.wte.weight, tanh GELU, causal attention,
// LayerNorm eps from the config. LoRA (./lora.ts) plugs into the four linear layers by name.
import type { Graph, Value } from '../onnx/graph.js';
import { attendPastAndNew, batchCacheInputs, headsToRows, lastRows, newKvName, rowsToHeads } from './batch-cache.js';
import { cacheWrites, pastName, presentName, type KvCache } from './kv-cache.js';
import { loraDelta, type LoraConfig } from './lora-config.js';
import type { Weights } from './init.js';
import { optimumGraph } from './optimum.js';
import type { OutFile } from '../util/files.js';

export interface GPT2Config {
  readonly vocab_size: number;
  readonly n_positions: number;
  readonly n_embd: number;
  readonly n_layer: number;
  readonly n_head: number;
  /** HF default 1e-5. */
  readonly layer_norm_epsilon: number;
  /** null means 4 * n_embd, as in HF. */
  readonly n_inner?: number | null;
}

export const GPT2_124M: GPT2Config = Object.freeze({
  vocab_size: 50257,
  n_positions: 1024,
  n_embd: 768,
  n_layer: 12,
  n_head: 12,
  layer_norm_epsilon: 1e-5,
});

export interface ParamSpec {
  readonly name: string;
  readonly shape: readonly number[];
  /** AdamW's weight decay applies to matrices only, not to biases and LayerNorm weights (as in HF's Trainer). */
  readonly decay: boolean;
}

export const innerDim = (c: GPT2Config) => c.n_inner ?? 4 * c.n_embd;

/** Every parameter in HF order (the order of a Hub model.safetensors' header, after sorting, does not matter). */
export function gpt2Params(c: GPT2Config): ParamSpec[] {
  const C = c.n_embd;
  const F = innerDim(c);
  const p = (name: string, shape: number[], decay = shape.length === 2): ParamSpec => ({ name, shape, decay });
  const out = [p('transformer.wte.weight', [c.vocab_size, C]), p('transformer.wpe.weight', [c.n_positions, C])];
  for (let i = 0; i < c.n_layer; i++) {
    const h = `transformer.h.${i}`;
    out.push(
      p(`${h}.ln_1.weight`, [C]),
      p(`${h}.ln_1.bias`, [C]),
      p(`${h}.attn.c_attn.weight`, [C, 3 * C]),
      p(`${h}.attn.c_attn.bias`, [3 * C]),
      p(`${h}.attn.c_proj.weight`, [C, C]),
      p(`${h}.attn.c_proj.bias`, [C]),
      p(`${h}.ln_2.weight`, [C]),
      p(`${h}.ln_2.bias`, [C]),
      p(`${h}.mlp.c_fc.weight`, [C, F]),
      p(`${h}.mlp.c_fc.bias`, [F]),
      p(`${h}.mlp.c_proj.weight`, [F, C]),
      p(`${h}.mlp.c_proj.bias`, [C]),
    );
  }
  out.push(p('transformer.ln_f.weight', [C]), p('transformer.ln_f.bias', [C]));
  return out;
}

export function countParams(specs: readonly ParamSpec[]): number {
  return specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
}

/** Dropout is off: fine-tuning runs are short and determinism given a seed is worth more here. */
export interface ForwardOptions {
  lora?: LoraConfig;
  /** The additive causal mask, (T, T). */
  readonly mask: Value;
}

/** How one graph runs a layer's attention: its (N, 3C) QKV projection (bias added) to the merged heads (N, C). */
export type Gpt2Attend = (qkv: Value, layer: number) => Value;

/**
 * What differs between training's graphs and generation's around the attention: the linear layers (a GEMV leaves
 * the bias to the op that reads it), a residual add with the LayerNorm after it ([normed, sum]: an Add and a
 * LayerNorm, or one SkipLayerNormalization), and GELU (tanh; FastGelu in generation).
 */
interface Gpt2Forms {
  linear(x: Value, layer: number, mod: string): Value;
  /** The bias `linear` left out, or null. */
  bias(layer: number, mod: string): Value | null;
  addNorm(h: Value, x: Value, norm: string, bias: Value | null): [Value, Value];
  gelu(x: Value, bias: Value | null): Value;
}

const ln = (layer: number | 'f') => (layer === 'f' ? 'transformer.ln_f' : `transformer.h.${layer}.ln_1`);

/**
 * The decoder, defined once for every graph: token plus position embeddings, each layer (pre-norm attention, tanh
 * GELU MLP, residual adds), ln_f. ids (B, T) int32, posEmb (T, C); returns (B*T, C) after ln_f.
 */
function gpt2Decoder(
  g: Graph,
  c: GPT2Config,
  P: Record<string, Value>,
  ids: Value,
  posEmb: Value,
  attend: Gpt2Attend,
  f: Gpt2Forms,
): Value {
  const eps = c.layer_norm_epsilon;
  let h = g.reshape(g.add(g.gather(P['transformer.wte.weight'], ids), posEmb), [-1, c.n_embd]); // posEmb broadcasts over B
  let a = g.layerNorm(h, P[`${ln(0)}.weight`], P[`${ln(0)}.bias`], eps);
  for (let i = 0; i < c.n_layer; i++) {
    const b = f.bias(i, 'attn.c_attn');
    const qkv = b ? g.add(f.linear(a, i, 'attn.c_attn'), b) : f.linear(a, i, 'attn.c_attn'); // (N, 3C)
    let m: Value;
    [m, h] = f.addNorm(
      h,
      f.linear(attend(qkv, i), i, 'attn.c_proj'),
      `transformer.h.${i}.ln_2`,
      f.bias(i, 'attn.c_proj'),
    );
    const hidden = f.gelu(f.linear(m, i, 'mlp.c_fc'), f.bias(i, 'mlp.c_fc'));
    [a, h] = f.addNorm(
      h,
      f.linear(hidden, i, 'mlp.c_proj'),
      ln(i + 1 < c.n_layer ? i + 1 : 'f'),
      f.bias(i, 'mlp.c_proj'),
    );
  }
  return a;
}

/**
 * The transformer trunk for training. ids: (B, T) int32; posEmb: (T, C) (0..T-1 as a slice of wpe). Returns the
 * final hidden states (B*T, C) after ln_f.
 */
export function gpt2Trunk(
  g: Graph,
  c: GPT2Config,
  P: Record<string, Value>,
  ids: Value,
  posEmb: Value,
  o: ForwardOptions,
): Value {
  const [B, T] = ids.shape;
  const C = c.n_embd;
  const H = c.n_head;
  const D = C / H;
  const N = B * T;
  const eps = c.layer_norm_epsilon;
  const attend: Gpt2Attend = (qkv) => {
    if (g.options.einsum) {
      // heads as the projection lays them out, (B, T, H, D), and attention by Einsum: no Transpose
      const [q, k, v] = g.split(g.reshape(qkv, [B, T, 3 * H, D]), [H, H, H], 2);
      return g.reshape(g.attentionBTHD(q, k, v, o.mask, 1 / Math.sqrt(D)), [N, C]);
    }
    // q, k and v heads in one Reshape, one Transpose and one Split: (N, 3C) -> (B, 3H, T, D) -> 3 x (B, H, T, D)
    const [q, k, v] = g.split(g.transpose(g.reshape(qkv, [B, T, 3 * H, D]), [0, 2, 1, 3]), [H, H, H], 1);
    const y = g.attention(q, k, v, o.mask, 1 / Math.sqrt(D)); // (B, H, T, D)
    return g.reshape(g.transpose(y, [0, 2, 1, 3]), [N, C]); // (B, T, H, D) -> (N, C)
  };
  return gpt2Decoder(g, c, P, ids, posEmb, attend, {
    linear: linearOf(g, P, o.lora),
    bias: () => null,
    addNorm: (h, x, norm) => {
      const sum = g.add(h, x);
      return [g.layerNorm(sum, P[`${norm}.weight`], P[`${norm}.bias`], eps), sum];
    },
    gelu: (x) => g.geluTanh(x),
  });
}

const linearOf = (g: Graph, P: Record<string, Value>, lora?: LoraConfig) => (x: Value, layer: number, mod: string) => {
  const name = `transformer.h.${layer}.${mod}`;
  const y = g.gemm(x, P[`${name}.weight`], P[`${name}.bias`]);
  return lora ? loraDelta(g, lora, P, name, x, y) : y;
};

/** The KV cache (kv-cache.ts) and LoRA. */
export interface CacheOptions extends KvCache {
  lora?: LoraConfig;
}

/**
 * The trunk for generation over S new tokens (ids (1, S)) with a KV cache of L slots: the forward only, so it
 * uses onnxruntime's fused kernels (SkipLayerNormalization for each residual add with the LayerNorm after it,
 * FastGelu). A single token writes its keys and values into the cache with one Where (or ScatterND) each; a
 * chunk (prefill) with a one-hot matmul. Returns the final hidden states (S, C) after ln_f.
 */
export function gpt2CachedTrunk(
  g: Graph,
  c: GPT2Config,
  P: Record<string, Value>,
  ids: Value,
  posEmb: Value,
  o: CacheOptions,
): Value {
  const S = ids.shape[1];
  const C = c.n_embd;
  const H = c.n_head;
  const D = C / H;
  // One token on the WebGPU target (g.options.einsum): each linear layer is an Einsum, a plain loop per output
  // element, i.e. a GEMV; its bias goes into the op that reads it (SkipLayerNormalization and FastGelu take one).
  // There a (1, K) x (K, N) Gemm runs a 2-D tiled kernel for one row: 214 ms against 7.6 ms for 768 x 3072 on
  // SwiftShader (node's WebGPU EP, per layer). Prefill and the other EPs keep Gemm with its bias.
  const gemv = !!g.options.einsum && S === 1;
  const put = (cache: Value, x: Value) =>
    o.slotIndex
      ? g.op1('ScatterND', [cache, o.slotIndex, x])
      : S === 1
        ? g.where(o.slot!, x, cache)
        : g.add(g.mul(cache, o.keep!), g.matmul(o.write!, x));
  const attend: Gpt2Attend = (qkv, i) => {
    // (S, 3C) -> (1, 3H, S, D); with one token the transpose moves nothing, so a Reshape does it
    const heads =
      S === 1 ? g.reshape(qkv, [1, 3 * H, 1, D]) : g.transpose(g.reshape(qkv, [1, S, 3 * H, D]), [0, 2, 1, 3]);
    const [q, k, v] = g.split(heads, [H, H, H], 1); // (1, H, S, D)
    const past = o.past[i];
    const key = put(past.key, k); // (1, H, L, D)
    const value = put(past.value, v);
    o.present[i] = { key, value };
    const scores = gemv
      ? g.einsum('bhsd,bhld,->bhsl', q, key, 1 / Math.sqrt(D))
      : g.matmul(g.mulScalar(q, 1 / Math.sqrt(D)), g.transpose(key, [0, 1, 3, 2]));
    const att = g.softmax(g.add(scores, o.mask)); // (1, H, S, L)
    const y = gemv ? g.einsum('bhsl,bhld->bhsd', att, value) : g.matmul(att, value); // (1, H, S, D)
    return S === 1 ? g.reshape(y, [1, C]) : g.reshape(g.transpose(y, [0, 2, 1, 3]), [S, C]);
  };
  return gpt2Decoder(g, c, P, ids, posEmb, attend, generationForms(g, c, P, gemv, o.lora));
}

/**
 * Generation's forms: Gemm with its bias (or, gemv, an Einsum with the bias left to the op that reads it),
 * SkipLayerNormalization for each residual add with the LayerNorm after it, FastGelu.
 */
function generationForms(
  g: Graph,
  c: GPT2Config,
  P: Record<string, Value>,
  gemv: boolean,
  lora?: LoraConfig,
): Gpt2Forms {
  return {
    linear: gemv ? gemvOf(g, P, lora) : linearOf(g, P, lora),
    bias: (i, mod) => (gemv ? P[`transformer.h.${i}.${mod}.bias`] : null),
    addNorm: (h, x, norm, b) => {
      const [y, , , sum] = g.op(
        'SkipLayerNormalization',
        [h, x, P[`${norm}.weight`], P[`${norm}.bias`], ...(b ? [b] : [])],
        { epsilon: { kind: 'float', value: c.layer_norm_epsilon } },
      );
      return [y, sum];
    },
    gelu: (x, b) => g.op1('FastGelu', [x, ...(b ? [b] : [])]),
  };
}

/** x (1, in) times a layer's weight (in, out), and its LoRA update, each by Einsum; the bias is the caller's. */
const gemvOf = (g: Graph, P: Record<string, Value>, lora?: LoraConfig) => (x: Value, layer: number, mod: string) => {
  const name = `transformer.h.${layer}.${mod}`;
  const y = g.einsum('mk,kn->mn', x, P[`${name}.weight`]);
  const A = lora && P[`${name}.lora_A.weight`];
  if (!A) return y;
  const xa = g.einsum('mk,rk->mr', x, A); // (1, r)
  return g.add(y, g.einsum('mr,nr,->mn', xa, P[`${name}.lora_B.weight`], lora.alpha / lora.rank));
};

/**
 * The body of a generate graph for S new tokens (ids (1, S) int32 from position (1,) int32) and L cache slots:
 * inputs past.<i>.key / past.<i>.value (1, H, L, D), the cached trunk, the tied head at row `last` (1,) of a chunk;
 * outputs logits (1, V) and present.<i>.key / present.<i>.value. The target is g.options.
 */
export function gpt2GenerateGraphBody(
  g: Graph,
  c: GPT2Config,
  P: Record<string, Value>,
  ids: Value,
  position: Value,
  last: Value,
  L: number,
  lora?: LoraConfig,
): void {
  const S = ids.shape[1];
  const H = c.n_head;
  const D = c.n_embd / H;
  const past = Array.from({ length: c.n_layer }, (_, i) => ({
    key: g.input(pastName(i, 'key'), 'float32', [1, H, L, D]),
    value: g.input(pastName(i, 'value'), 'float32', [1, H, L, D]),
  }));
  const { posIds, ...writes } = cacheWrites(g, H, L, S, position);
  const present: { key: Value; value: Value }[] = [];
  const h = gpt2CachedTrunk(g, c, P, ids, g.gather(P['transformer.wpe.weight'], posIds), {
    lora,
    past,
    present,
    ...writes,
  }); // (S, C)
  g.output(lmHead(g, P, S === 1 ? h : g.gather(h, last)), 'logits'); // (1, C) -> (1, V)
  present.forEach((kv, i) => {
    g.output(kv.key, presentName(i, 'key'));
    g.output(kv.value, presentName(i, 'value'));
  });
}

/**
 * The body of a served model's graph (models/batch-cache.ts): ids (B, S) int32 and the cache's inputs
 * (position_ids, past_mask, past.<i>.* (B, H, L, D) read-only, last_index for a chunk); outputs new.<i>.key /
 * new.<i>.value (B, H, S, D) and logits (B, V) at each row's last token. No shape depends on B or L.
 */
export function gpt2ServeGraphBody(g: Graph, c: GPT2Config, P: Record<string, Value>, ids: Value, L: number): void {
  const [B, S] = ids.shape;
  const H = c.n_head;
  const D = c.n_embd / H;
  const bc = batchCacheInputs(g, { layers: c.n_layer, kvHeads: H, headDim: D, B, S, L, groups: 1 });
  const attend: Gpt2Attend = (qkv, i) => {
    const [q, k, v] = g.split(rowsToHeads(g, qkv, S, 3 * H, D), [H, H, H], 1); // (B, H, S, D)
    g.output(k, newKvName(i, 'key'));
    g.output(v, newKvName(i, 'value'));
    return headsToRows(g, attendPastAndNew(g, bc, bc.past[i], q, k, v, 1 / Math.sqrt(D)), S, H, D);
  };
  const posEmb = g.reshape(g.gather(P['transformer.wpe.weight'], bc.posIds), [-1, S, c.n_embd]); // (B, S, C)
  const h = gpt2Decoder(g, c, P, ids, posEmb, attend, generationForms(g, c, P, false)); // (B*S, C)
  g.output(lmHead(g, P, lastRows(g, h, B, S)), 'logits'); // (B, V)
}

/**
 * The transformers.js package's ONNX files (models/optimum.ts: Optimum's inputs and outputs, batch and lengths
 * symbolic) for a GPT-2 with (merged) weights `W`: gpt2Decoder in generation's forms, attending over the past.
 */
export function gpt2OnnxFiles(c: GPT2Config, W: Weights): OutFile[] {
  const H = c.n_head;
  const D = c.n_embd / H;
  const o = optimumGraph({ name: 'gpt2', layers: c.n_layer, kvHeads: H, headDim: D }, gpt2Params(c), W);
  const { g, P } = o;
  const attend: Gpt2Attend = (qkv, i) => {
    const [q, k, v] = g.split(o.heads(qkv, 3 * H), [H, H, H], 1); // (B, H, S, D)
    return o.rows(o.attend(i, q, k, v, 1 / Math.sqrt(D)));
  };
  const posEmb = g.gather(P['transformer.wpe.weight'], o.positions); // (B, S, C)
  return o.finish(lmHead(g, P, gpt2Decoder(g, c, P, o.ids, posEmb, attend, generationForms(g, c, P, false))));
}

/** Logits from hidden states with the tied head: (N, C) @ wte^T -> (N, V). */
export function lmHead(g: Graph, P: Record<string, Value>, h: Value): Value {
  // one row on the WebGPU target: a GEMV by Einsum, as for the layers of a generated token (gpt2CachedTrunk)
  if (g.options.einsum && h.shape[0] === 1) return g.einsum('mk,nk->mn', h, P['transformer.wte.weight']);
  return g.gemm(h, P['transformer.wte.weight'], null, { transB: true });
}

/** The additive causal mask: 0 on and below the diagonal, -1e9 above. (T, T) */
export function causalMask(g: Graph, T: number): Value {
  const m = new Float32Array(T * T);
  for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) m[i * T + j] = -1e9;
  return g.constant('float32', [T, T], m);
}
