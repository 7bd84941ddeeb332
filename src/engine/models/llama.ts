// The Llama family (LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM) emitted into the graph IR from the
// pieces in llama-ops.ts: HF parameter names, pre-norm decoder layers (RMSNorm, grouped-query attention with RoPE and
// Qwen3's q/k norms, SwiGLU), the final norm, the head tied to model.embed_tokens.weight unless lm_head.weight.
// The decoder is defined once (llamaDecoder); training attends over the batch here, generation over the KV
// cache (llama-cache.ts).
import type { Graph, Value } from '../onnx/graph.js';
import { causalMask } from './gpt2.js';
import type { LlamaConfig } from './llama-config.js';
import {
  applyRope,
  gqaAttention,
  gqaAttentionBTHD,
  groupedCausalMask,
  linear,
  rmsNorm,
  ropeInputs,
  siluMul,
  type RopeInputs,
} from './llama-ops.js';

/** What every layer of one graph shares, made once: the RoPE tables and the causal mask in its layout's form. */
export interface LlamaInputs {
  readonly rope: RopeInputs;
  /** (T, T) for the Einsum (B, T, H, D) attention; (G*T, T) for the (B, H, T, D) one, queries grouped per KV head. */
  readonly mask: Value;
}

/** cos, sin: (T, head_dim) graph inputs (rope.ts's ropeTables for the positions), so one graph serves any offset. */
export function llamaInputs(g: Graph, c: LlamaConfig, cos: Value, sin: Value): LlamaInputs {
  const T = cos.shape[0];
  const G = c.num_attention_heads / c.num_key_value_heads;
  return { rope: ropeInputs(g, cos, sin), mask: g.options.einsum ? causalMask(g, T) : groupedCausalMask(g, T, G) };
}

/** A linear layer by module name ("model.layers.0.self_attn.q_proj"): where LoRA will hook in. */
export type LinearOf = (x: Value, module: string) => Value;

export const plainLinear =
  (g: Graph, P: Record<string, Value>): LinearOf =>
  (x, module) =>
    linear(g, x, P[`${module}.weight`], P[`${module}.bias`] ?? null);

/**
 * How one graph attends: q (N, H*D), k and v (N, Hkv*D) of a layer, as projected, to the attention output
 * (N, H*D), with the q/k norms and RoPE in the attention's own head layout. Training attends causally over the
 * batch (batchAttention); generation over the KV cache (llama-cache.ts).
 */
export type LlamaAttend = (q: Value, k: Value, v: Value, layer: number) => Value;

/** RMSNorm and SwiGLU's gating: the trainable forms of llama-ops.ts, or generation's forward-only ones. */
export interface LlamaForms {
  norm(x: Value, w: Value): Value;
  siluMul(gate: Value, up: Value): Value;
}

export const trainableForms = (g: Graph, c: LlamaConfig): LlamaForms => ({
  norm: (x, w) => rmsNorm(g, x, w, c.rms_norm_eps),
  siluMul: (a, b) => siluMul(g, a, b),
});

/**
 * The decoder, defined once for every graph: the token embedding, each layer (pre-norm attention and SwiGLU MLP,
 * residual adds), model.norm. ids (B, T) int32; returns (B*T, C).
 */
export function llamaDecoder(
  g: Graph,
  c: LlamaConfig,
  P: Record<string, Value>,
  ids: Value,
  attend: LlamaAttend,
  lin: LinearOf = plainLinear(g, P),
  forms: LlamaForms = trainableForms(g, c),
): Value {
  let h = g.reshape(g.gather(P['model.embed_tokens.weight'], ids), [-1, c.hidden_size]); // (B, T, C) -> (N, C)
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const pre = `model.layers.${i}`;
    const at = `${pre}.self_attn`;
    const a = forms.norm(h, P[`${pre}.input_layernorm.weight`]); // (N, C)
    const y = attend(lin(a, `${at}.q_proj`), lin(a, `${at}.k_proj`), lin(a, `${at}.v_proj`), i); // (N, H*D)
    h = g.add(h, lin(y, `${at}.o_proj`)); // (N, C)
    // MLP: down(silu(gate(x)) * up(x))
    const m = forms.norm(h, P[`${pre}.post_attention_layernorm.weight`]);
    const mlp = `${pre}.mlp`;
    h = g.add(h, lin(forms.siluMul(lin(m, `${mlp}.gate_proj`), lin(m, `${mlp}.up_proj`)), `${mlp}.down_proj`));
  }
  return forms.norm(h, P['model.norm.weight']);
}

/** Training's attention over a batch (B, T): causal, grouped-query, RoPE at positions 0..T-1 of the tables. */
export function batchAttention(
  g: Graph,
  c: LlamaConfig,
  P: Record<string, Value>,
  [B, T]: readonly [number, number],
  inp: LlamaInputs,
): LlamaAttend {
  const [H, Hkv, D] = [c.num_attention_heads, c.num_key_value_heads, c.head_dim];
  const eps = c.rms_norm_eps;
  const scale = 1 / Math.sqrt(D);
  return (qp, kp, vp, layer) => {
    const at = `model.layers.${layer}.self_attn`;
    let q = g.reshape(qp, [B, T, H, D]); // (N, H*D) -> (B, T, H, D)
    let k = g.reshape(kp, [B, T, Hkv, D]); // (N, Hkv*D) -> (B, T, Hkv, D)
    const v = g.reshape(vp, [B, T, Hkv, D]);
    if (c.qk_norm) {
      q = rmsNorm(g, q, P[`${at}.q_norm.weight`], eps); // per head, over D, before RoPE
      k = rmsNorm(g, k, P[`${at}.k_norm.weight`], eps);
    }
    let y: Value; // (B, T, H, D)
    if (g.options.einsum) {
      // heads as the projections lay them out, attention by Einsum: no Transpose
      y = gqaAttentionBTHD(g, applyRope(g, q, inp.rope, 'bthd'), applyRope(g, k, inp.rope, 'bthd'), v, inp.mask, scale);
    } else {
      const heads = (x: Value) => g.transpose(x, [0, 2, 1, 3]); // (B, T, h, D) -> (B, h, T, D)
      const qh = applyRope(g, heads(q), inp.rope, 'bhtd');
      const kh = applyRope(g, heads(k), inp.rope, 'bhtd');
      y = g.transpose(gqaAttention(g, qh, kh, heads(v), inp.mask, scale), [0, 2, 1, 3]); // (B, H, T, D) -> (B, T, H, D)
    }
    return g.reshape(y, [B * T, H * D]); // (B, T, H, D) -> (N, H*D)
  };
}

/** The decoder over ids (B, T) int32 at the positions of the RoPE tables; returns (B*T, C) after model.norm. */
export function llamaTrunk(
  g: Graph,
  c: LlamaConfig,
  P: Record<string, Value>,
  ids: Value,
  inp: LlamaInputs,
  lin: LinearOf = plainLinear(g, P),
): Value {
  const [B, T] = ids.shape;
  return llamaDecoder(g, c, P, ids, batchAttention(g, c, P, [B, T], inp), lin);
}

/** Logits (N, V) from hidden states (N, C): h @ W^T with W lm_head.weight, or the token embedding when tied. */
export function llamaLogits(g: Graph, c: LlamaConfig, P: Record<string, Value>, h: Value): Value {
  return linear(g, h, P[c.tie_word_embeddings ? 'model.embed_tokens.weight' : 'lm_head.weight']);
}
