// Each family as llama.cpp's converter (convert_hf_to_gguf.py) writes it to GGUF: the architecture and its
// hyperparameter keys, and every tensor under llama.cpp's name in the layout llama.cpp computes with. GPT-2: Conv1D
// weights [in, out] transposed to nn.Linear's [out, in], the tied head left to token_embd. The Llama
// family: nn.Linear's [out, in] as is, except that arch `llama` takes q_proj and k_proj with each head's rotary
// halves interleaved (llama.cpp rotates adjacent pairs there; Qwen2 and Qwen3 rotate halves, as transformers does),
// Llama 3's rope scaling as a rope_freqs.weight of per-frequency divisors, an lm_head only when untied.
import type { GPT2Config } from './gpt2.js';
import { innerDim } from './gpt2.js';
import type { Weights } from './init.js';
import type { LlamaConfig } from './llama-config.js';
import { ropeInvFreq } from './rope.js';

export type GgufMeta =
  { key: string; type: 'u32' | 'f32'; value: number } | { key: string; type: 'string'; value: string };

export interface GgufSource {
  readonly name: string;
  /** PyTorch order, outermost first. */
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export interface GgufModel {
  readonly arch: 'gpt2' | 'llama' | 'qwen2' | 'qwen3';
  readonly metadata: readonly GgufMeta[];
  readonly tensors: readonly GgufSource[];
}

/** A row-major [rows, cols] matrix transposed. */
function transpose(x: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = x[r * cols + c];
  return out;
}

export function gpt2Gguf(c: GPT2Config, W: Weights): GgufModel {
  const C = c.n_embd;
  const F = innerDim(c);
  const t = (name: string, shape: number[], data: Float32Array): GgufSource => ({ name, shape, data });
  const tensors: GgufSource[] = [
    t('token_embd.weight', [c.vocab_size, C], W['transformer.wte.weight']),
    t('position_embd.weight', [c.n_positions, C], W['transformer.wpe.weight']),
  ];
  for (let i = 0; i < c.n_layer; i++) {
    const h = `transformer.h.${i}`;
    const b = `blk.${i}`;
    // Conv1D [in, out] -> [out, in]
    const lin = (gg: string, hf: string, inDim: number, outDim: number) => [
      t(`${b}.${gg}.weight`, [outDim, inDim], transpose(W[`${h}.${hf}.weight`], inDim, outDim)),
      t(`${b}.${gg}.bias`, [outDim], W[`${h}.${hf}.bias`]),
    ];
    tensors.push(
      t(`${b}.attn_norm.weight`, [C], W[`${h}.ln_1.weight`]),
      t(`${b}.attn_norm.bias`, [C], W[`${h}.ln_1.bias`]),
      ...lin('attn_qkv', 'attn.c_attn', C, 3 * C),
      ...lin('attn_output', 'attn.c_proj', C, C),
      t(`${b}.ffn_norm.weight`, [C], W[`${h}.ln_2.weight`]),
      t(`${b}.ffn_norm.bias`, [C], W[`${h}.ln_2.bias`]),
      ...lin('ffn_up', 'mlp.c_fc', C, F),
      ...lin('ffn_down', 'mlp.c_proj', F, C),
    );
  }
  tensors.push(
    t('output_norm.weight', [C], W['transformer.ln_f.weight']),
    t('output_norm.bias', [C], W['transformer.ln_f.bias']),
  ); // no output.weight: llama.cpp uses token_embd for the tied head
  const u = (key: string, value: number): GgufMeta => ({ key: `gpt2.${key}`, type: 'u32', value });
  return {
    arch: 'gpt2',
    metadata: [
      u('context_length', c.n_positions),
      u('embedding_length', C),
      u('feed_forward_length', F),
      u('block_count', c.n_layer),
      u('attention.head_count', c.n_head),
      { key: 'gpt2.attention.layer_norm_epsilon', type: 'f32', value: c.layer_norm_epsilon },
    ],
    tensors,
  };
}

/**
 * The converter's LlamaModel.permute for arch llama: [heads * D, in] rows reordered within each head from
 * rotate-half's (first halves, then second halves) to adjacent pairs: weights.reshape(n, 2, D / 2, in)
 * .swapaxes(1, 2).reshape(...).
 */
function permuteRope(x: Float32Array, heads: number, D: number, cols: number): Float32Array {
  const out = new Float32Array(x.length);
  const half = D / 2;
  for (let h = 0; h < heads; h++)
    for (let two = 0; two < 2; two++)
      for (let j = 0; j < half; j++) {
        const from = (h * D + two * half + j) * cols;
        const to = (h * D + j * 2 + two) * cols;
        out.set(x.subarray(from, from + cols), to);
      }
  return out;
}

export function llamaGguf(c: LlamaConfig, W: Weights): GgufModel {
  const arch = c.model_type;
  const [C, H, Hkv, D, F] = [
    c.hidden_size,
    c.num_attention_heads,
    c.num_key_value_heads,
    c.head_dim,
    c.intermediate_size,
  ];
  const t = (name: string, shape: number[], data: Float32Array): GgufSource => ({ name, shape, data });
  const tensors: GgufSource[] = [t('token_embd.weight', [c.vocab_size, C], W['model.embed_tokens.weight'])];
  if (arch === 'llama' && c.rope_scaling?.rope_type === 'llama3') {
    const plain = ropeInvFreq({ ...c, rope_scaling: null });
    const scaled = ropeInvFreq(c);
    tensors.push(
      t(
        'rope_freqs.weight',
        [D / 2],
        plain.map((x, i) => x / scaled[i]),
      ),
    );
  }
  const rot = (x: Float32Array, heads: number, cols = C) => (arch === 'llama' ? permuteRope(x, heads, D, cols) : x);
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `model.layers.${i}`;
    const b = `blk.${i}`;
    // q/k biases (Qwen2's) take the same row order as their weights
    const bias = (gg: string, hf: string, n: number) => {
      const x = W[`${p}.${hf}.bias`];
      return x ? [t(`${b}.${gg}.bias`, [n], gg === 'attn_v' ? x : rot(x, n / D, 1))] : [];
    };
    tensors.push(
      t(`${b}.attn_norm.weight`, [C], W[`${p}.input_layernorm.weight`]),
      t(`${b}.attn_q.weight`, [H * D, C], rot(W[`${p}.self_attn.q_proj.weight`], H)),
      ...bias('attn_q', 'self_attn.q_proj', H * D),
      t(`${b}.attn_k.weight`, [Hkv * D, C], rot(W[`${p}.self_attn.k_proj.weight`], Hkv)),
      ...bias('attn_k', 'self_attn.k_proj', Hkv * D),
      t(`${b}.attn_v.weight`, [Hkv * D, C], W[`${p}.self_attn.v_proj.weight`]),
      ...bias('attn_v', 'self_attn.v_proj', Hkv * D),
      t(`${b}.attn_output.weight`, [C, H * D], W[`${p}.self_attn.o_proj.weight`]),
      ...(c.qk_norm
        ? [
            t(`${b}.attn_q_norm.weight`, [D], W[`${p}.self_attn.q_norm.weight`]),
            t(`${b}.attn_k_norm.weight`, [D], W[`${p}.self_attn.k_norm.weight`]),
          ]
        : []),
      t(`${b}.ffn_norm.weight`, [C], W[`${p}.post_attention_layernorm.weight`]),
      t(`${b}.ffn_gate.weight`, [F, C], W[`${p}.mlp.gate_proj.weight`]),
      t(`${b}.ffn_up.weight`, [F, C], W[`${p}.mlp.up_proj.weight`]),
      t(`${b}.ffn_down.weight`, [C, F], W[`${p}.mlp.down_proj.weight`]),
    );
  }
  tensors.push(t('output_norm.weight', [C], W['model.norm.weight']));
  if (!c.tie_word_embeddings) tensors.push(t('output.weight', [c.vocab_size, C], W['lm_head.weight']));
  const u = (key: string, value: number): GgufMeta => ({ key: `${arch}.${key}`, type: 'u32', value });
  const fl = (key: string, value: number): GgufMeta => ({ key: `${arch}.${key}`, type: 'f32', value });
  const s = c.rope_scaling;
  return {
    arch,
    metadata: [
      u('context_length', c.max_position_embeddings),
      u('embedding_length', C),
      u('block_count', c.num_hidden_layers),
      u('feed_forward_length', F),
      u('attention.head_count', H),
      u('attention.head_count_kv', Hkv),
      fl('rope.freq_base', c.rope_theta),
      fl('attention.layer_norm_rms_epsilon', c.rms_norm_eps),
      ...(arch === 'llama' ? [u('vocab_size', c.vocab_size), u('rope.dimension_count', D)] : []),
      ...(arch === 'qwen3' || D !== C / H ? [u('attention.key_length', D), u('attention.value_length', D)] : []),
      ...(s?.rope_type === 'linear'
        ? [
            { key: `${arch}.rope.scaling.type`, type: 'string', value: 'linear' } as const,
            fl('rope.scaling.factor', s.factor),
          ]
        : []),
    ],
    tensors,
  };
}
