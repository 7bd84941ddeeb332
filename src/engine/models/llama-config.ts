// The Llama family's config.json (LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM) read into one typed
// config, with transformers' defaults for absent fields and every refusal naming the file and the field; and the
// parameter list under Hugging Face's names, nn.Linear weights as [out, in].
import type { ParamSpec } from './gpt2.js';
import { ModelFormatError } from './hf.js';

export const LLAMA_MODEL_TYPES = ['llama', 'qwen2', 'qwen3'] as const;
export type LlamaModelType = (typeof LLAMA_MODEL_TYPES)[number];

/** rope_scaling as transformers' modeling_rope_utils.py reads it; null is the default RoPE. */
export type RopeScaling =
  | null
  | { readonly rope_type: 'linear'; readonly factor: number }
  | {
      readonly rope_type: 'llama3';
      readonly factor: number;
      readonly low_freq_factor: number;
      readonly high_freq_factor: number;
      readonly original_max_position_embeddings: number;
    };

export interface LlamaConfig {
  readonly model_type: LlamaModelType;
  readonly vocab_size: number;
  readonly hidden_size: number;
  readonly intermediate_size: number;
  readonly num_hidden_layers: number;
  readonly num_attention_heads: number;
  readonly num_key_value_heads: number;
  readonly head_dim: number;
  readonly max_position_embeddings: number;
  readonly rms_norm_eps: number;
  readonly rope_theta: number;
  readonly rope_scaling: RopeScaling;
  readonly tie_word_embeddings: boolean;
  /** q_proj, k_proj and v_proj have biases: Qwen2 always, Llama and Qwen3 when attention_bias. */
  readonly qkv_bias: boolean;
  /** o_proj has a bias: Llama and Qwen3 when attention_bias; never Qwen2. */
  readonly o_bias: boolean;
  /** Per-head RMSNorm on q and k before RoPE (Qwen3's q_norm, k_norm over head_dim). */
  readonly qk_norm: boolean;
}

/**
 * transformers' defaults for fields a config.json leaves out (LlamaConfig, Qwen2Config, Qwen3Config). Odd ones:
 * Qwen2Config and Qwen3Config default num_key_value_heads to 32, not to the head count; Qwen3Config's head_dim
 * defaults to 128, not hidden_size / heads; all three default tie_word_embeddings to false (the Hub's SmolLM2,
 * Qwen2.5, Qwen3 and Llama 3.2 small models all set it true).
 */
const DEFAULTS: Record<LlamaModelType, { kvHeads: number | null; headDim: number | null; maxPos: number }> =
  Object.freeze({
    llama: { kvHeads: null, headDim: null, maxPos: 2048 },
    qwen2: { kvHeads: 32, headDim: null, maxPos: 32768 },
    qwen3: { kvHeads: 32, headDim: 128, maxPos: 32768 },
  });

const show = (v: unknown) => JSON.stringify(v) ?? String(v);

/** Validates a Llama, Qwen2 or Qwen3 config.json object; every message names the file and the field. */
export function parseLlamaConfig(json: unknown, file = 'config.json'): LlamaConfig {
  if (!json || typeof json !== 'object' || Array.isArray(json))
    throw new ModelFormatError(`${file}: not a JSON object`);
  const c = json as Record<string, unknown>;
  const type = c.model_type;
  if (!LLAMA_MODEL_TYPES.includes(type as LlamaModelType))
    throw new ModelFormatError(
      `${file}: model_type ${show(type)} is not a Llama-family model; supported: ${LLAMA_MODEL_TYPES.map((t) => `"${t}"`).join(', ')}`,
    );
  const mt = type as LlamaModelType;
  const d = DEFAULTS[mt];
  const bad = (k: string, want: string, v: unknown = c[k]) =>
    new ModelFormatError(`${file}: field "${k}" must be ${want}, got ${show(v)}`);
  const int = (k: string, dflt?: number | null) => {
    const v = c[k] ?? dflt;
    if (!Number.isInteger(v) || (v as number) <= 0) throw bad(k, 'a positive integer');
    return v as number;
  };
  const num = (k: string, dflt: number, v: unknown = c[k] ?? dflt) => {
    if (typeof v !== 'number' || !(v > 0)) throw bad(k, 'a positive number', v);
    return v;
  };
  const bool = (k: string, dflt: boolean) => {
    const v = c[k] ?? dflt;
    if (typeof v !== 'boolean') throw bad(k, 'true or false');
    return v;
  };

  const hidden = int('hidden_size');
  const heads = int('num_attention_heads');
  const kvHeads = int('num_key_value_heads', d.kvHeads ?? heads);
  if (c.head_dim == null && d.headDim === null && hidden % heads)
    throw new ModelFormatError(`${file}: hidden_size ${hidden} is not divisible by num_attention_heads ${heads}`);
  const headDim = int('head_dim', d.headDim ?? hidden / heads);
  if (heads % kvHeads)
    throw new ModelFormatError(
      `${file}: num_attention_heads ${heads} is not divisible by num_key_value_heads ${kvHeads}` +
        (c.num_key_value_heads == null ? ` (absent: transformers' default for ${mt})` : ''),
    );
  if (headDim % 2) throw new ModelFormatError(`${file}: head_dim ${headDim} is odd; rotary embeddings need pairs`);

  const act = c.hidden_act ?? 'silu';
  if (act !== 'silu') throw new ModelFormatError(`${file}: hidden_act ${show(act)} is not supported (expected "silu")`);
  if (c.mlp_bias === true) throw new ModelFormatError(`${file}: mlp_bias true is not supported (no MLP biases)`);
  if (c.use_sliding_window === true)
    throw new ModelFormatError(`${file}: use_sliding_window true is not supported (full causal attention only)`);
  if (Array.isArray(c.layer_types) && c.layer_types.some((t) => t !== 'full_attention'))
    throw new ModelFormatError(`${file}: layer_types other than "full_attention" are not supported`);
  if (c.partial_rotary_factor != null && c.partial_rotary_factor !== 1)
    throw new ModelFormatError(`${file}: partial_rotary_factor ${show(c.partial_rotary_factor)} is not supported`);

  const attnBias = mt === 'qwen2' ? false : bool('attention_bias', false);
  return {
    model_type: mt,
    vocab_size: int('vocab_size'),
    hidden_size: hidden,
    intermediate_size: int('intermediate_size'),
    num_hidden_layers: int('num_hidden_layers'),
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    head_dim: headDim,
    max_position_embeddings: int('max_position_embeddings', d.maxPos),
    rms_norm_eps: num('rms_norm_eps', 1e-6),
    ...parseRope(c, file),
    tie_word_embeddings: bool('tie_word_embeddings', false),
    qkv_bias: mt === 'qwen2' || attnBias,
    o_bias: attnBias,
    qk_norm: mt === 'qwen3',
  };
}

/**
 * rope_theta and rope_scaling (transformers 4.x), or rope_parameters (transformers 5: {rope_type, rope_theta, ...}).
 * "type" is the older spelling of "rope_type"; "default" is no scaling.
 */
function parseRope(c: Record<string, unknown>, file: string): { rope_theta: number; rope_scaling: RopeScaling } {
  const params = c.rope_parameters;
  const field = params != null ? 'rope_parameters' : 'rope_scaling';
  const s = params ?? c.rope_scaling;
  const thetaRaw = params != null ? (params as Record<string, unknown>).rope_theta : c.rope_theta;
  const theta = thetaRaw ?? 10000;
  if (typeof theta !== 'number' || !(theta > 1))
    throw new ModelFormatError(
      `${file}: field "${params != null ? 'rope_parameters.rope_theta' : 'rope_theta'}" must be a number above 1, got ${show(theta)}`,
    );
  if (s == null) return { rope_theta: theta, rope_scaling: null };
  if (typeof s !== 'object' || Array.isArray(s))
    throw new ModelFormatError(`${file}: field "${field}" must be an object or null, got ${show(s)}`);
  const r = s as Record<string, unknown>;
  const type = r.rope_type ?? r.type ?? 'default';
  const pos = (k: string, integer = false) => {
    const v = r[k];
    if (typeof v !== 'number' || !(v > 0) || (integer && !Number.isInteger(v)))
      throw new ModelFormatError(
        `${file}: field "${field}.${k}" must be a positive ${integer ? 'integer' : 'number'} for rope_type ${show(type)}, got ${show(v)}`,
      );
    return v;
  };
  if (type === 'default') return { rope_theta: theta, rope_scaling: null };
  if (type === 'linear') return { rope_theta: theta, rope_scaling: { rope_type: 'linear', factor: pos('factor') } };
  if (type === 'llama3') {
    const scaling = {
      rope_type: 'llama3' as const,
      factor: pos('factor'),
      low_freq_factor: pos('low_freq_factor'),
      high_freq_factor: pos('high_freq_factor'),
      original_max_position_embeddings: pos('original_max_position_embeddings', true),
    };
    if (scaling.high_freq_factor <= scaling.low_freq_factor)
      throw new ModelFormatError(
        `${file}: ${field}.high_freq_factor ${scaling.high_freq_factor} must be greater than low_freq_factor ${scaling.low_freq_factor}`,
      );
    return { rope_theta: theta, rope_scaling: scaling };
  }
  throw new ModelFormatError(
    `${file}: ${field}.rope_type ${show(type)} is not supported; supported: "default", "linear", "llama3"`,
  );
}

/**
 * Every parameter under Hugging Face's names, nn.Linear weights as [out, in]. Weight decay for matrices only
 * (not norms, not biases), as for GPT-2. lm_head.weight only when the head is untied.
 */
export function llamaParams(c: LlamaConfig): ParamSpec[] {
  const C = c.hidden_size;
  const D = c.head_dim;
  const q = c.num_attention_heads * D;
  const kv = c.num_key_value_heads * D;
  const F = c.intermediate_size;
  const p = (name: string, shape: number[], decay = shape.length === 2): ParamSpec => ({ name, shape, decay });
  const out = [p('model.embed_tokens.weight', [c.vocab_size, C])];
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const l = `model.layers.${i}`;
    const a = `${l}.self_attn`;
    out.push(p(`${l}.input_layernorm.weight`, [C]));
    for (const [m, n] of [
      ['q_proj', q],
      ['k_proj', kv],
      ['v_proj', kv],
    ] as const) {
      out.push(p(`${a}.${m}.weight`, [n, C]));
      if (c.qkv_bias) out.push(p(`${a}.${m}.bias`, [n]));
    }
    out.push(p(`${a}.o_proj.weight`, [C, q]));
    if (c.o_bias) out.push(p(`${a}.o_proj.bias`, [C]));
    if (c.qk_norm) out.push(p(`${a}.q_norm.weight`, [D]), p(`${a}.k_norm.weight`, [D]));
    out.push(
      p(`${l}.post_attention_layernorm.weight`, [C]),
      p(`${l}.mlp.gate_proj.weight`, [F, C]),
      p(`${l}.mlp.up_proj.weight`, [F, C]),
      p(`${l}.mlp.down_proj.weight`, [C, F]),
    );
  }
  out.push(p('model.norm.weight', [C]));
  if (!c.tie_word_embeddings) out.push(p('lm_head.weight', [c.vocab_size, C]));
  return out;
}

/** SmolLM2-135M's shape, from the Hub's config.json (its token ids aside): the benchmarks' Llama-family model. */
export const SMOLLM2_135M_CONFIG: LlamaConfig = Object.freeze(
  parseLlamaConfig({
    model_type: 'llama',
    hidden_size: 576,
    num_hidden_layers: 30,
    num_attention_heads: 9,
    num_key_value_heads: 3,
    head_dim: 64,
    intermediate_size: 1536,
    vocab_size: 49152,
    tie_word_embeddings: true,
    rope_theta: 100000,
    rms_norm_eps: 1e-5,
    max_position_embeddings: 8192,
  }),
);
