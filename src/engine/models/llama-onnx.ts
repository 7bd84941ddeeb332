// The Llama family (LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM) as transformers.js loads it: the layout of
// onnx.ts's GPT-2 (Optimum's inputs and outputs, weights in onnx/model.onnx_data) with the family's decoder: RMSNorm,
// RoPE from position_ids (inv_freq from rope.ts, so llama3 and linear scaling are baked in), grouped-query attention
// with Qwen2's q/k/v biases and Qwen3's q/k norms, SwiGLU, the head tied to the embedding unless lm_head.weight.
import type { Weights } from './init.js';
import { llamaParams, type LlamaConfig, type LlamaModelType } from './llama-config.js';
import { ropeInvFreq } from './rope.js';
import { DTYPE_CODE, int, ints } from '../onnx/graph.js';
import type { OutFile } from '../util/files.js';
import { ONNX_DATA, ONNX_MODEL, TRANSFORMERS_JS_CONFIG } from './gpt2-onnx.js';
import { attentionBias, decoderInputs, RawGraph, serialize } from '../onnx/raw.js';

export const LLAMA_ARCHITECTURES: Readonly<Record<LlamaModelType, string>> = Object.freeze({
  llama: 'LlamaForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
  qwen3: 'Qwen3ForCausalLM',
});

/** The transformers.js ONNX files for a Llama-family model with (merged) weights `W` under llamaParams' names. */
export function llamaOnnxFiles(c: LlamaConfig, W: Weights): OutFile[] {
  const g = new RawGraph();
  const [C, H, Hkv, D, V] = [c.hidden_size, c.num_attention_heads, c.num_key_value_heads, c.head_dim, c.vocab_size];
  const G = H / Hkv; // query heads per KV head: query head h reads KV head floor(h / G)
  const eps = c.rms_norm_eps;
  const P: Record<string, string> = {};
  for (const p of llamaParams(c)) {
    if (!W[p.name]) throw new Error(`llamaOnnxFiles: no weight ${p.name}`);
    P[p.name] = g.const('float32', p.shape, W[p.name], true, p.name);
  }
  decoderInputs(g, c.num_hidden_layers, Hkv, D);
  g.outputs.push({ name: 'logits', dtype: 'float32', dims: ['batch_size', 'sequence_length', V] });

  const h0 = g.op('Gather', [
    P['model.embed_tokens.weight'],
    g.op('Cast', ['input_ids'], { to: int(DTYPE_CODE.int32) }),
  ]);
  let h = g.op('Reshape', [h0, g.i64([-1, C])]); // (B, S, C) -> (N, C): every per-token op on rows, linears as Gemm
  const bias = g.op('Unsqueeze', [attentionBias(g), g.i64([2])]); // (B, 1, S, T) -> (B, 1, 1, S, T), per KV group

  // RoPE: freqs = position * inv_freq in float32 as transformers computes them, emb = cat(freqs, freqs)
  const inv = g.const('float32', [D / 2], ropeInvFreq(c));
  const pos = g.op('Unsqueeze', [g.op('Cast', ['position_ids'], { to: int(DTYPE_CODE.float32) }), g.i64([2])]); // (B, S, 1)
  const freqs = g.op('Mul', [pos, inv]); // (B, S, D/2)
  const emb = g.op('Unsqueeze', [g.op('Concat', [freqs, freqs], { axis: int(-1) }), g.i64([1])]); // (B, 1, S, D)
  const [cos, sin] = [g.op('Cos', [emb]), g.op('Sin', [emb])];
  const halves = g.i64([D / 2, D / 2]);
  const rope = (x: string) => {
    const [x1, x2] = g.node('Split', [x, halves], { axis: int(-1) }, 2);
    const rot = g.op('Concat', [g.op('Neg', [x2]), x1], { axis: int(-1) }); // rotate_half: cat(-x2, x1)
    return g.op('Add', [g.op('Mul', [x, cos]), g.op('Mul', [rot, sin])]);
  };

  // LlamaRMSNorm over the last axis: x * rsqrt(mean(x^2) + eps) * weight
  const rmsNorm = (x: string, w: string) => {
    const ms = g.op('ReduceMean', [g.op('Mul', [x, x])], { axes: ints([-1]), keepdims: int(1) });
    return g.op('Mul', [g.op('Mul', [x, g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [ms, g.f32(eps)])])])]), w]);
  };
  // nn.Linear on (N, in) rows: x W^T + b with W [out, in] as stored, no transposed copy
  const linear = (x: string, module: string) =>
    g.op('Gemm', [x, P[`${module}.weight`], ...(P[`${module}.bias`] ? [P[`${module}.bias`]] : [])], { transB: int(1) });
  const ids = g.op('Shape', ['input_ids']); // (2,): B, S
  const headShape = (n: number) => g.op('Concat', [ids, g.i64([n, D])], { axis: int(0) }); // (4,): B, S, n, D
  const [qShape, kvShape] = [headShape(H), headShape(Hkv)];
  const toHeads = (x: string) => g.op('Transpose', [x], { perm: ints([0, 2, 1, 3]) }); // (B, S, n, D) -> (B, n, S, D)
  const scale = g.f32(1 / Math.sqrt(D));

  for (let i = 0; i < c.num_hidden_layers; i++) {
    const pre = `model.layers.${i}`;
    const at = `${pre}.self_attn`;
    const a = rmsNorm(h, P[`${pre}.input_layernorm.weight`]);
    let q = g.op('Reshape', [linear(a, `${at}.q_proj`), qShape]); // (N, H*D) -> (B, S, H, D)
    let k = g.op('Reshape', [linear(a, `${at}.k_proj`), kvShape]); // (N, Hkv*D) -> (B, S, Hkv, D)
    const v = g.op('Reshape', [linear(a, `${at}.v_proj`), kvShape]);
    if (c.qk_norm) {
      q = rmsNorm(q, P[`${at}.q_norm.weight`]); // per head, over D, before RoPE
      k = rmsNorm(k, P[`${at}.k_norm.weight`]);
    }
    // the cache holds keys after RoPE, as transformers' DynamicCache does
    const key = g.node('Concat', [`past_key_values.${i}.key`, rope(toHeads(k))], { axis: int(2) }, 1, [
      `present.${i}.key`,
    ])[0]; // (B, Hkv, T, D)
    const value = g.node('Concat', [`past_key_values.${i}.value`, toHeads(v)], { axis: int(2) }, 1, [
      `present.${i}.value`,
    ])[0];
    // grouped-query attention without repeating the cache: queries (B, Hkv, G, S, D) against keys (B, Hkv, 1, T, D)
    const qg = g.op('Reshape', [g.op('Mul', [rope(toHeads(q)), scale]), g.i64([0, Hkv, G, -1, D])]); // (B, H, S, D) -> (B, Hkv, G, S, D)
    const kT = g.op('Transpose', [g.op('Unsqueeze', [key, g.i64([2])])], { perm: ints([0, 1, 2, 4, 3]) }); // (B, Hkv, 1, D, T)
    const att = g.op('Add', [g.op('MatMul', [qg, kT]), bias]); // (B, Hkv, G, S, T)
    const y = g.op('MatMul', [g.op('Softmax', [att], { axis: int(-1) }), g.op('Unsqueeze', [value, g.i64([2])])]); // (B, Hkv, G, S, D)
    const yh = g.op('Transpose', [g.op('Reshape', [y, g.i64([0, H, -1, D])])], { perm: ints([0, 2, 1, 3]) }); // (B, S, H, D)
    h = g.op('Add', [h, linear(g.op('Reshape', [yh, g.i64([-1, H * D])]), `${at}.o_proj`)]); // (N, H*D) -> (N, C)

    // MLP: down(silu(gate(x)) * up(x)), silu(x) = x sigmoid(x)
    const m = rmsNorm(h, P[`${pre}.post_attention_layernorm.weight`]);
    const gate = linear(m, `${pre}.mlp.gate_proj`);
    const act = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), linear(m, `${pre}.mlp.up_proj`)]);
    h = g.op('Add', [h, linear(act, `${pre}.mlp.down_proj`)]);
    for (const kv of ['key', 'value'])
      g.outputs.push({
        name: `present.${i}.${kv}`,
        dtype: 'float32',
        dims: ['batch_size', Hkv, 'total_sequence_length', D],
      });
  }
  // the head: (N, C) x W^T, W lm_head.weight or the embedding itself when tied (one initializer, read twice)
  const head = P[c.tie_word_embeddings ? 'model.embed_tokens.weight' : 'lm_head.weight'];
  const logits = g.op('Gemm', [rmsNorm(h, P['model.norm.weight']), head], { transB: int(1) }); // (N, V)
  g.node('Reshape', [logits, g.op('Concat', [ids, g.i64([V])], { axis: int(0) })], {}, 1, ['logits']); // (B, S, V)
  const { model, data } = serialize(g, 'model.onnx_data', c.model_type);
  return [
    { path: ONNX_MODEL, parts: [model] },
    { path: ONNX_DATA, parts: data },
  ];
}

export interface LlamaTokenIds {
  /** End-of-sequence ids: one, or a list (Llama 3's instruct models stop at <|end_of_text|>, <|eom_id|>, <|eot_id|>). */
  readonly eos: readonly number[];
  readonly bos: number | null;
  readonly pad?: number | null;
}

/**
 * What transformers.js reads, on top of the Hugging Face config.json and generation_config.json: in config.json the
 * architecture and model_type (which pick its LlamaForCausalLM / Qwen2ForCausalLM / Qwen3ForCausalLM and the
 * single-file decoder session), num_hidden_layers (the past_key_values.N names), num_key_value_heads and head_dim
 * (its normalized num_heads and dim_kv: transformers.js 3.x shapes the empty past from them, 4.x from the graph's
 * inputs), and transformers.js_config (fp32 with external data, not the q8 default on WASM); the token ids in both
 * files (generation_config.json's win). rope_scaling needs nothing here: inv_freq is a constant in the graph.
 */
export function llamaTransformersJsConfig(
  c: LlamaConfig,
  t: LlamaTokenIds,
): { config: Record<string, unknown>; generation: Record<string, unknown> } {
  if (t.eos.length === 0) throw new Error('llamaTransformersJsConfig: no end-of-sequence id');
  const ids = {
    bos_token_id: t.bos,
    eos_token_id: t.eos.length === 1 ? t.eos[0] : [...t.eos],
    ...(t.pad != null ? { pad_token_id: t.pad } : {}),
  };
  return {
    config: {
      architectures: [LLAMA_ARCHITECTURES[c.model_type]],
      model_type: c.model_type,
      vocab_size: c.vocab_size,
      hidden_size: c.hidden_size,
      num_hidden_layers: c.num_hidden_layers,
      num_attention_heads: c.num_attention_heads,
      num_key_value_heads: c.num_key_value_heads,
      head_dim: c.head_dim,
      tie_word_embeddings: c.tie_word_embeddings,
      ...ids,
      'transformers.js_config': TRANSFORMERS_JS_CONFIG,
    },
    generation: ids,
  };
}
