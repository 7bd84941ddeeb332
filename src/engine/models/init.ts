// Weight initialisation from a seed, as transformers' _init_weights does it. GPT-2: N(0, 0.02) for matrices and
// embeddings, c_proj weights scaled by 1/sqrt(2 n_layer), zero biases, unit LayerNorm weights. The Llama family:
// N(0, initializer_range 0.02) for matrices and the embedding, zero biases, unit RMSNorm weights. LoRA: A as
// PEFT's kaiming_uniform(a=sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)); B zero.
import { Rng } from '../util/rng.js';
import { isLlama, type ModelConfig } from './config.js';
import { gpt2Params, type GPT2Config } from './gpt2.js';
import { llamaParams, type LlamaConfig } from './llama-config.js';
import { loraParams, type LoraConfig } from './lora.js';

export type Weights = Record<string, Float32Array>;

export function initGpt2(c: GPT2Config, seed: number): Weights {
  const rng = new Rng(seed);
  const out: Weights = {};
  for (const p of gpt2Params(c)) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    const a = new Float32Array(n);
    if (p.name.endsWith('.bias')) {
      // zeros
    } else if (/ln_\w+\.weight$/.test(p.name)) {
      a.fill(1);
    } else {
      const std = p.name.endsWith('c_proj.weight') ? 0.02 / Math.sqrt(2 * c.n_layer) : 0.02;
      for (let i = 0; i < n; i++) a[i] = std * rng.normal();
    }
    out[p.name] = a;
  }
  return out;
}

/** A model of any family from a seed (the benchmarks', the tests' and the offline model's weights). */
export const initModel = (c: ModelConfig, seed: number): Weights =>
  isLlama(c) ? initLlama(c, seed) : initGpt2(c, seed);

export function initLlama(c: LlamaConfig, seed: number): Weights {
  const rng = new Rng(seed);
  const out: Weights = {};
  for (const p of llamaParams(c)) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    const a = new Float32Array(n);
    if (p.name.endsWith('norm.weight')) a.fill(1);
    else if (!p.name.endsWith('.bias')) for (let i = 0; i < n; i++) a[i] = 0.02 * rng.normal();
    out[p.name] = a;
  }
  return out;
}

export function initLora(c: ModelConfig, l: LoraConfig, seed: number): Weights {
  const rng = new Rng(seed ^ 0x5bd1e995);
  const out: Weights = {};
  for (const p of loraParams(c, l)) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    const a = new Float32Array(n);
    if (p.name.endsWith('lora_A.weight')) {
      const bound = 1 / Math.sqrt(p.shape[1]);
      for (let i = 0; i < n; i++) a[i] = rng.uniform(-bound, bound);
    }
    out[p.name] = a;
  }
  return out;
}

/** The offline model: GPT-2's real vocabulary and tokenizer with a small trunk, made from a seed. */
export const TINY_GPT2: GPT2Config = Object.freeze({
  vocab_size: 50257,
  n_positions: 256,
  n_embd: 64,
  n_layer: 2,
  n_head: 4,
  layer_norm_epsilon: 1e-5,
});
