// The models the Model panel suggests, with their config.json as the Hub has it (the fields the engine reads) and
// the dtype their checkpoint ships in: parameters, download size and whether a run fits are worked out from these
// before anything is requested. Picking one still reads the repo's own config.json first (Check size), which is what
// a download uses.
import { isLlama, parseModelConfig, type ModelConfig } from '../engine/models/config.js';
import { familyOf } from '../engine/models/family.js';
import { countParams } from '../engine/models/gpt2.js';

export interface SuggestedModel {
  repo: string;
  /** What it is, in a few words. */
  what: string;
  config: ModelConfig;
  params: number;
  /**
   * Bytes of its safetensors: parameters times the stored dtype's size (GPT-2's F32, the rest BF16), and GPT-2's
   * attn.bias mask buffers (n_positions^2 F32 per layer) that the Hub's GPT-2 checkpoints carry.
   */
  downloadBytes: number;
}

const GPT2 = { model_type: 'gpt2', vocab_size: 50257, n_positions: 1024, n_embd: 768, n_head: 12 };
const SMOLLM2 = {
  model_type: 'llama',
  vocab_size: 49152,
  max_position_embeddings: 8192,
  rope_theta: 100000,
  rms_norm_eps: 1e-5,
  tie_word_embeddings: true,
};
const QWEN = { vocab_size: 151936, rope_theta: 1000000, rms_norm_eps: 1e-6, tie_word_embeddings: true };

const CATALOG: { repo: string; what: string; bytesPerParam: number; config: Record<string, unknown> }[] = [
  {
    repo: 'distilbert/distilgpt2',
    what: 'distilled, base model',
    bytesPerParam: 4,
    config: { ...GPT2, n_layer: 6 },
  },
  { repo: 'openai-community/gpt2', what: 'base model', bytesPerParam: 4, config: { ...GPT2, n_layer: 12 } },
  {
    repo: 'HuggingFaceTB/SmolLM2-135M-Instruct',
    what: 'chat model, ChatML',
    bytesPerParam: 2,
    config: {
      ...SMOLLM2,
      hidden_size: 576,
      num_hidden_layers: 30,
      intermediate_size: 1536,
      num_attention_heads: 9,
      num_key_value_heads: 3,
    },
  },
  {
    repo: 'HuggingFaceTB/SmolLM2-360M-Instruct',
    what: 'chat model, ChatML',
    bytesPerParam: 2,
    config: {
      ...SMOLLM2,
      hidden_size: 960,
      num_hidden_layers: 32,
      intermediate_size: 2560,
      num_attention_heads: 15,
      num_key_value_heads: 5,
    },
  },
  {
    repo: 'Qwen/Qwen2.5-0.5B-Instruct',
    what: 'chat model, ChatML',
    bytesPerParam: 2,
    config: {
      ...QWEN,
      model_type: 'qwen2',
      max_position_embeddings: 32768,
      hidden_size: 896,
      num_hidden_layers: 24,
      intermediate_size: 4864,
      num_attention_heads: 14,
      num_key_value_heads: 2,
    },
  },
  {
    repo: 'Qwen/Qwen3-0.6B',
    what: 'chat model, ChatML, thinking off here',
    bytesPerParam: 2,
    config: {
      ...QWEN,
      model_type: 'qwen3',
      max_position_embeddings: 40960,
      hidden_size: 1024,
      num_hidden_layers: 28,
      intermediate_size: 3072,
      num_attention_heads: 16,
      num_key_value_heads: 8,
      head_dim: 128,
    },
  },
];

export const SUGGESTED_MODELS: readonly SuggestedModel[] = CATALOG.map(({ repo, what, bytesPerParam, config }) => {
  const c = parseModelConfig(config, `${repo}/config.json`);
  const params = countParams(familyOf(c).params(c));
  const masks = isLlama(c) ? 0 : c.n_layer * c.n_positions ** 2 * 4;
  return { repo, what, config: c, params, downloadBytes: params * bytesPerParam + masks };
});
