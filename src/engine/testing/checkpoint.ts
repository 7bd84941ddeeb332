// A small GPT-2 checkpoint as the Hub serves one, made by the tests themselves: config.json, model.safetensors (with
// openai-community/gpt2's unprefixed names and attn.bias buffers), the tokenizer files.
import { gpt2ConfigJson } from '../models/hf.js';
import { gpt2Params, type GPT2Config } from '../models/gpt2.js';
import { initGpt2 } from '../models/init.js';
import { writeSafetensors } from '../hub/safetensors.js';
import type { TokenizerFiles } from '../data/tokenizer.js';

/** `realMasks`: attn.bias buffers of (1, 1, n_positions, n_positions) as the Hub's gpt2 has (548 MB in all at 124M). */
export function hubCheckpoint(
  c: GPT2Config,
  tok: TokenizerFiles,
  seed = 7,
  o: { realMasks?: boolean } = {},
): Record<string, Uint8Array> {
  const W = initGpt2(c, seed);
  const tensors: Record<string, { shape: readonly number[]; data: Float32Array }> = {};
  for (const p of gpt2Params(c)) tensors[p.name.replace(/^transformer\./, '')] = { shape: p.shape, data: W[p.name] };
  const T = o.realMasks ? c.n_positions : 4;
  const mask = new Float32Array(T * T).map((_, k) => (k % T <= Math.floor(k / T) ? 1 : 0)); // lower-triangular ones
  for (let i = 0; i < c.n_layer; i++) tensors[`h.${i}.attn.bias`] = { shape: [1, 1, T, T], data: mask };
  const enc = new TextEncoder();
  return {
    'config.json': enc.encode(JSON.stringify(gpt2ConfigJson(c))),
    'model.safetensors': writeSafetensors(tensors),
    'tokenizer.json': enc.encode(JSON.stringify(tok.tokenizer)),
    'tokenizer_config.json': enc.encode(JSON.stringify(tok.config)),
    'generation_config.json': enc.encode(JSON.stringify({ eos_token_id: 50256 })),
  };
}
