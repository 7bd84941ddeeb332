// Test setup the Llama-family tests share: tiny configs per variant (the features each must exercise, over a
// small shape a test may resize). Hub-layout repos on disk are llama-fixtures.ts's.
import { parseLlamaConfig, type LlamaConfig, type RopeScaling } from '../models/llama-config.js';
import type { LlamaVariant } from './llama-fixtures.js';

/** rope_scaling of rope_type llama3 with Llama 3's band factors (low 1, high 4). */
export const llama3Scaling = (factor: number, original: number): RopeScaling => ({
  rope_type: 'llama3',
  factor,
  low_freq_factor: 1,
  high_freq_factor: 4,
  original_max_position_embeddings: original,
});

/** hidden 32, 4 heads on 2 KV heads (head_dim 8), 2 layers; no vocab_size: each test sizes its own. */
export const TINY_LLAMA = Object.freeze({
  hidden_size: 32,
  intermediate_size: 48,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
});

/** What sets each variant apart in config.json; the rest (eps, theta, sizes) is left to the test. */
const FEATURES: Record<LlamaVariant, Record<string, unknown>> = {
  // GQA and a tied head
  smollm2: { model_type: 'llama', tie_word_embeddings: true },
  // q/k/v biases (the model type's own) and an untied lm_head
  qwen2: { model_type: 'qwen2', tie_word_embeddings: false },
  // q/k norms, head_dim 16 apart from 32 / 4 (Qwen3Config's default would be 128)
  qwen3: { model_type: 'qwen3', head_dim: 16, tie_word_embeddings: true },
  // llama3 RoPE scaling; original 16 at head_dim 8 and theta 5e5: one frequency smoothed, three divided
  llama3: { model_type: 'llama', tie_word_embeddings: true, rope_theta: 500000, rope_scaling: llama3Scaling(8, 16) },
};

/** A tiny variant as a config.json object: TINY_LLAMA, the variant's features, then `json` over both. */
export const tinyLlamaJson = (variant: LlamaVariant, json: Record<string, unknown> = {}): Record<string, unknown> => ({
  ...TINY_LLAMA,
  ...FEATURES[variant],
  ...json,
});

/** tinyLlamaJson read by parseLlamaConfig, as the loaders read it. */
export const tinyLlama = (variant: LlamaVariant, json: Record<string, unknown> = {}): LlamaConfig =>
  parseLlamaConfig(tinyLlamaJson(variant, json));
