// The Llama family (LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM) as transformers.js loads it: llama.ts's
// decoder in Optimum's layout (models/optimum.ts), RoPE from the position_ids fed (inv_freq from rope.ts, so llama3
// and linear scaling are baked in, cos and sin computed in float32 as transformers computes them), grouped-query
// attention over the past, the head tied to the embedding unless lm_head.weight.
import type { Weights } from './init.js';
import { llamaParams, type LlamaConfig, type LlamaModelType } from './llama-config.js';
import { applyRope, ropeInputs } from './llama-ops.js';
import { llamaDecoder, llamaLogits, trainableForms, type LlamaAttend } from './llama.js';
import { optimumGraph, TRANSFORMERS_JS_CONFIG } from './optimum.js';
import { ropeInvFreq } from './rope.js';
import type { OutFile } from '../util/files.js';
import type { Value } from '../onnx/graph.js';

export const LLAMA_ARCHITECTURES: Readonly<Record<LlamaModelType, string>> = Object.freeze({
  llama: 'LlamaForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
  qwen3: 'Qwen3ForCausalLM',
});

/** The transformers.js ONNX files for a Llama-family model with (merged) weights `W` under llamaParams' names. */
export function llamaOnnxFiles(c: LlamaConfig, W: Weights): OutFile[] {
  const [H, Hkv, D] = [c.num_attention_heads, c.num_key_value_heads, c.head_dim];
  const o = optimumGraph(
    { name: c.model_type, layers: c.num_hidden_layers, kvHeads: Hkv, headDim: D },
    llamaParams(c),
    W,
  );
  const { g, P } = o;
  // RoPE over the B*S rows as one sequence at their positions: freqs = position * inv_freq, emb = cat(freqs, freqs)
  const pos = g.reshape(g.cast(o.positions, 'float32'), [-1, 1]); // (N, 1)
  const freqs = g.mul(pos, g.constant('float32', [D / 2], ropeInvFreq(c))); // (N, D/2)
  const emb = g.concat([freqs, freqs], 1); // (N, D)
  const rope = ropeInputs(g, g.op1('Cos', [emb]), g.op1('Sin', [emb]));
  const forms = trainableForms(g, c);
  const attend: LlamaAttend = (qp, kp, vp, i) => {
    const at = `model.layers.${i}.self_attn`;
    let q = g.reshape(qp, [1, -1, H, D]); // (1, N, H, D): RoPE's (1, T, H, D) layout
    let k = g.reshape(kp, [1, -1, Hkv, D]);
    if (c.qk_norm) {
      q = forms.norm(q, P[`${at}.q_norm.weight`]); // per head, over D, before RoPE
      k = forms.norm(k, P[`${at}.k_norm.weight`]);
    }
    const heads = (x: Value, n: number) => o.heads(g.reshape(x, [-1, n * D]), n); // (B, n, S, D)
    const y = o.attend(
      i,
      heads(applyRope(g, q, rope, 'bthd'), H),
      heads(applyRope(g, k, rope, 'bthd'), Hkv),
      o.heads(vp, Hkv),
      1 / Math.sqrt(D),
    );
    return o.rows(y); // (N, H*D)
  };
  return o.finish(llamaLogits(g, c, P, llamaDecoder(g, c, P, o.ids, attend, undefined, forms)));
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
