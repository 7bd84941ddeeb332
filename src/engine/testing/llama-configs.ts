// Test setup the Llama-family tests share: tiny configs per variant (the features each must exercise, over a
// small shape a test may resize), random weights with signal on every path, transformers.js reading exported
// folders from disk only, and the WebGPU placement check. Hub-layout repos on disk are llama-fixtures.ts's.
import type { Tensor } from 'onnxruntime-common';
import type { BuiltGraph } from '../artifacts/model.js';
import type { Weights } from '../models/init.js';
import { llamaParams, parseLlamaConfig, type LlamaConfig, type RopeScaling } from '../models/llama-config.js';
import type { Backend } from '../runtime/backend.js';
import { profilePlacement } from '../runtime/placement.js';
import { Rng } from '../util/rng.js';
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

/** The normal's scale for each kind of parameter: matrices (those with weight decay), norms (about 1), biases. */
export interface WeightScales {
  matrix: number;
  norm: number;
  bias: number;
}

/**
 * Weights drawn from one seed in llamaParams' order: matrices N(0, matrix), norms 1 + N(0, norm), biases N(0, bias).
 * Large enough that every path carries signal, unlike an init's unit norms and zero biases, which would hide a
 * wrong index or a dropped term.
 */
export function llamaTestWeights(c: LlamaConfig, seed: number, s: WeightScales): Weights {
  const r = new Rng(seed);
  const W: Weights = {};
  for (const p of llamaParams(c)) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    const isNorm = p.name.endsWith('norm.weight');
    W[p.name] = Float32Array.from({ length: n }, () =>
      isNorm ? 1 + s.norm * r.normal() : (p.decay ? s.matrix : s.bias) * r.normal(),
    );
  }
  return W;
}

/** Every lora_B in W (in place) set to N(0, scale), as after training: at init B is zero and LoRA a no-op. */
export function randomLoraB(W: Weights, seed: number, scale: number): Weights {
  const r = new Rng(seed);
  for (const [k, v] of Object.entries(W))
    if (k.includes('lora_B')) for (let i = 0; i < v.length; i++) v[i] = scale * r.normal();
  return W;
}

/**
 * transformers.js in Node reading the folders below `root` only: remote models off, so a file an export left out
 * fails the test instead of being fetched from the Hub. Imported on first use, so config-only tests skip loading it.
 */
export async function localTransformers(root: string) {
  const tjs = await import('@huggingface/transformers');
  tjs.env.allowRemoteModels = false;
  tjs.env.allowLocalModels = true;
  tjs.env.localModelPath = `${root}/`;
  return {
    model: (name: string) => tjs.AutoModelForCausalLM.from_pretrained(name, { device: 'cpu' }),
    tokenizer: (name: string) => tjs.AutoTokenizer.from_pretrained(name),
  };
}

/**
 * The nodes of `g` that ran anywhere but the WebGPU EP, from one profiled run on the WebGPU backend: a node that
 * fell back to the CPU EP costs a copy each way, and onnxruntime does it silently. Tests expect it empty.
 */
export async function nodesOffWebGpu(gpu: Backend, g: BuiltGraph, feeds: Record<string, Tensor>): Promise<string[]> {
  return (await profilePlacement(gpu, g, feeds, 'WebGpuExecutionProvider')).elsewhere;
}
