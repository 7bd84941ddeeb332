// Hugging Face checkpoints of the Llama family (LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM): a
// checkpoint's tensors mapped onto llamaParams with every shape checked, and the config.json transformers loads
// back. Checkpoints differ: older Llama ones carry rotary_emb.inv_freq buffers, tied ones may still hold an
// lm_head.weight (dropped when it is the embedding, refused when it is not).
import { ModelFormatError } from './hf.js';
import type { Weights } from './init.js';
import { llamaParams, type LlamaConfig } from './llama-config.js';
import type { F32Tensor } from '../util/tensor.js';

/** Buffers some checkpoints store that are not parameters (the RoPE frequencies are computed from the config). */
export const isLlamaBuffer = (name: string) => /(^|\.)rotary_emb\.inv_freq$/.test(name);

const listed = (names: readonly string[]) =>
  `${names.slice(0, 5).join(', ')}${names.length > 5 ? `, ... (${names.length} in all)` : ''}`;

/**
 * Maps a checkpoint's tensors onto llamaParams(c), checking every shape against the config. `file` names the
 * checkpoint in messages about missing tensors (the index, for a sharded one); `fileOf` names the file a tensor
 * came from (its shard) in messages about that tensor. The weights are the tensors' own arrays (no copy).
 */
export function llamaWeightsFromTensors(
  c: LlamaConfig,
  tensors: Map<string, F32Tensor>,
  file = 'model.safetensors',
  fileOf: (tensor: string) => string = () => file,
): Weights {
  const specs = llamaParams(c);
  const known = new Set(specs.map((p) => p.name));
  const W: Weights = {};
  const missing: string[] = [];
  for (const p of specs) {
    const t = tensors.get(p.name);
    if (!t) {
      missing.push(p.name);
      continue;
    }
    if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i]))
      throw new ModelFormatError(
        `${fileOf(p.name)}: tensor ${p.name} has shape [${t.shape}], but config.json implies [${p.shape}]`,
      );
    W[p.name] = t.data;
  }
  if (missing.length === 1 && missing[0] === 'lm_head.weight')
    throw new ModelFormatError(
      `${file}: lm_head.weight is missing, but config.json says "tie_word_embeddings": false; a checkpoint whose head is the token embedding needs "tie_word_embeddings": true`,
    );
  if (missing.length) throw new ModelFormatError(`${file}: missing ${missing.length} tensor(s): ${listed(missing)}`);

  const head = tensors.get('lm_head.weight');
  if (c.tie_word_embeddings && head) {
    const emb = W['model.embed_tokens.weight'];
    const same = head.data.length === emb.length && head.data.every((v, i) => v === emb[i]);
    if (!same)
      throw new ModelFormatError(
        `${fileOf('lm_head.weight')}: lm_head.weight differs from model.embed_tokens.weight, but config.json says "tie_word_embeddings": true; set it false to load the separate head`,
      );
  }
  // a tensor the config has no place for means the config and the weights disagree (biases, norms, layer count)
  const extra = [...tensors.keys()].filter((k) => !known.has(k) && !isLlamaBuffer(k) && k !== 'lm_head.weight');
  if (extra.length)
    throw new ModelFormatError(
      `${file}: ${extra.length} tensor(s) that config.json (model_type "${c.model_type}") has no place for: ${listed(extra)}; check attention_bias, num_hidden_layers and model_type`,
    );
  return W;
}

/** What config.json carries besides the architecture: the special ids (from the tokenizer) and the stored dtype. */
export interface LlamaConfigExtras {
  bos_token_id?: number | null;
  eos_token_id?: number | readonly number[] | null;
  pad_token_id?: number | null;
  /** torch's name of the dtype model.safetensors holds. */
  torch_dtype?: 'float32' | 'bfloat16' | 'float16';
}

const ARCHITECTURES: Record<LlamaConfig['model_type'], string> = {
  llama: 'LlamaForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
  qwen3: 'Qwen3ForCausalLM',
};

/**
 * The config.json transformers loads back into the same model: parseLlamaConfig(llamaConfigJson(c)) is c.
 * Biases are spelled per family (Qwen2 has q/k/v biases with no field; Llama and Qwen3 have attention_bias, which
 * covers o_proj too), so a config no family can spell is refused.
 */
export function llamaConfigJson(c: LlamaConfig, extras: LlamaConfigExtras = {}): Record<string, unknown> {
  const mt = c.model_type;
  const spelled = mt === 'qwen2' ? c.qkv_bias && !c.o_bias : c.qkv_bias === c.o_bias;
  if (!spelled || c.qk_norm !== (mt === 'qwen3'))
    throw new ModelFormatError(
      `config.json: model_type "${mt}" cannot express qkv_bias ${c.qkv_bias}, o_bias ${c.o_bias}, qk_norm ${c.qk_norm}`,
    );
  return {
    architectures: [ARCHITECTURES[mt]],
    model_type: mt,
    vocab_size: c.vocab_size,
    hidden_size: c.hidden_size,
    intermediate_size: c.intermediate_size,
    num_hidden_layers: c.num_hidden_layers,
    num_attention_heads: c.num_attention_heads,
    num_key_value_heads: c.num_key_value_heads,
    head_dim: c.head_dim,
    hidden_act: 'silu',
    max_position_embeddings: c.max_position_embeddings,
    rms_norm_eps: c.rms_norm_eps,
    rope_theta: c.rope_theta,
    rope_scaling: c.rope_scaling && { ...c.rope_scaling },
    tie_word_embeddings: c.tie_word_embeddings,
    ...(mt === 'qwen2'
      ? { use_sliding_window: false, sliding_window: c.max_position_embeddings, max_window_layers: c.num_hidden_layers }
      : { attention_bias: c.o_bias }),
    ...(mt === 'llama' ? { mlp_bias: false, pretraining_tp: 1 } : {}),
    attention_dropout: 0,
    initializer_range: 0.02,
    use_cache: true,
    bos_token_id: extras.bos_token_id ?? null,
    eos_token_id: extras.eos_token_id ?? null,
    ...(extras.pad_token_id != null ? { pad_token_id: extras.pad_token_id } : {}),
    torch_dtype: extras.torch_dtype ?? 'float32',
  };
}
