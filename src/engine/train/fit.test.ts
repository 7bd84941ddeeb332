// The checks that refuse a run that cannot fit, from the memory estimate, gpt2-medium's, Qwen2.5-0.5B's and
// Llama-3.2-1B's included (their Hub configs), without downloading them.
import { describe, expect, it } from 'vitest';
import { GPT2_124M } from '../models/gpt2.js';
import { loraOfRank } from '../models/lora.js';
import { estimateMemory } from '../models/memory.js';
import { parseLlamaConfig } from '../models/llama-config.js';
import { fitProblems } from './fit.js';

const GPU_128MIB = { maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 128 * 2 ** 20 };
const GPU_2GIB = { maxBufferSize: 2 ** 31, maxStorageBufferBindingSize: 2 ** 31 };
/** meta-llama/Llama-3.2-1B-Instruct's config.json, the fields the engine reads. */
const LLAMA32_1B = parseLlamaConfig({
  model_type: 'llama',
  hidden_size: 2048,
  num_hidden_layers: 16,
  intermediate_size: 8192,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  head_dim: 64,
  vocab_size: 128256,
  max_position_embeddings: 131072,
  rope_theta: 500000,
  rms_norm_eps: 1e-5,
  tie_word_embeddings: true,
  rope_scaling: {
    rope_type: 'llama3',
    factor: 32,
    low_freq_factor: 1,
    high_freq_factor: 4,
    original_max_position_embeddings: 8192,
  },
});
/** Qwen/Qwen2.5-0.5B-Instruct's: a 151,936-row embedding of 594 MB in float32. */
const QWEN25_05B = parseLlamaConfig({
  model_type: 'qwen2',
  hidden_size: 896,
  num_hidden_layers: 24,
  intermediate_size: 4864,
  num_attention_heads: 14,
  num_key_value_heads: 2,
  vocab_size: 151936,
  max_position_embeddings: 32768,
  rope_theta: 1000000,
  rms_norm_eps: 1e-6,
  tie_word_embeddings: true,
});

const MEDIUM = { ...GPT2_124M, n_embd: 1024, n_layer: 24, n_head: 16 };

describe('fit check', () => {
  it('lets a 124M full fine-tune at 4 x 128 run on WASM (it fits: 3.7 GiB measured)', () => {
    expect(fitProblems(estimateMemory(GPT2_124M, 4, 128), 4, 128, { backend: 'wasm' }, false)).toEqual([]);
  });

  it('refuses a gpt2-medium full fine-tune on WASM up front, with the way out, and lets its LoRA run', () => {
    const full = estimateMemory(MEDIUM, 1, 32);
    const problems = fitProblems(full, 1, 32, { backend: 'wasm' }, false);
    expect(problems).toEqual([
      expect.stringMatching(
        /^this run needs about 9\.\d GiB of memory at batch 1 x 32, more than the 4 GiB the WASM backend can address\. Use LoRA \(a LoRA rank above 0\), or a smaller batch or sequence length, or WebGPU\.$/,
      ),
    ]);
    expect(
      fitProblems(estimateMemory(MEDIUM, 4, 128, loraOfRank(MEDIUM, 8)), 4, 128, { backend: 'wasm' }, true),
    ).toEqual([]);
  });

  it("refuses buffers over the GPU's binding limit and checkpoints over the free storage", () => {
    const e = estimateMemory(GPT2_124M, 8, 256);
    const p = fitProblems(
      e,
      8,
      256,
      {
        backend: 'webgpu',
        adapter: { maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 128 * 2 ** 20 },
        freeStorage: 2 ** 30,
      },
      false,
    );
    expect(p[0]).toMatch(
      /^the logits \(2048 tokens x 50257\) take a 393 MiB GPU buffer at batch 8 x 256, but this GPU binds at most 128 MiB\. Use a smaller batch/,
    );
    expect(p[1]).toMatch(
      /^each checkpoint of this run needs 1\.4 GiB of storage, but only 1\.0 GiB is free in this browser\. Delete cached models or old runs, or use LoRA/,
    );
  });

  it('Llama-3.2-1B: refused on WASM whatever the batch (its weights alone pass 4 GiB); on WebGPU its embedding needs a GPU that binds 1 GiB', () => {
    const lora = loraOfRank(LLAMA32_1B, 8);
    const wasm = fitProblems(estimateMemory(LLAMA32_1B, 1, 32, lora), 1, 32, { backend: 'wasm' }, true);
    expect(wasm).toEqual([
      expect.stringMatching(
        /^this model's weights alone take 4\.6 GiB as float32, more than the 4 GiB the WASM backend can address, at any batch\. Use WebGPU, or a smaller model\.$/,
      ),
    ]);
    const small = fitProblems(
      estimateMemory(LLAMA32_1B, 1, 32, lora),
      1,
      32,
      { backend: 'webgpu', adapter: GPU_128MIB },
      true,
    );
    expect(small).toEqual([
      expect.stringMatching(
        /^the token embedding takes a 1\.0 GiB GPU buffer at batch 1 x 32, but this GPU binds at most 128 MiB\. It does not depend on the batch/,
      ),
    ]);
    expect(
      fitProblems(estimateMemory(LLAMA32_1B, 1, 32, lora), 1, 32, { backend: 'webgpu', adapter: GPU_2GIB }, true),
    ).toEqual([]);
  });

  it('Qwen2.5-0.5B: LoRA fits the WASM heap at 2 x 128, not at 4 x 128; on WebGPU its 594 MB embedding is over a 128 MiB binding', () => {
    const lora = loraOfRank(QWEN25_05B, 8);
    expect(fitProblems(estimateMemory(QWEN25_05B, 2, 128, lora), 2, 128, { backend: 'wasm' }, true)).toEqual([]);
    const e = estimateMemory(QWEN25_05B, 4, 128, lora);
    expect(fitProblems(e, 4, 128, { backend: 'wasm' }, true)).toEqual([
      expect.stringMatching(
        /^this run needs about 4\.\d GiB of memory at batch 4 x 128, .* Use a smaller batch or sequence length, or WebGPU\.$/,
      ),
    ]);
    expect(e.largestBuffer).toBe('embedding');
    expect(fitProblems(e, 4, 128, { backend: 'webgpu', adapter: GPU_128MIB }, true)).toEqual([
      expect.stringMatching(
        /^the token embedding takes a 0\.5 GiB GPU buffer at batch 4 x 128, .* It does not depend on the batch/,
      ),
    ]);
    // a full fine-tune: weights, gradients and both moments of 494M parameters pass 4 GiB
    expect(fitProblems(estimateMemory(QWEN25_05B, 1, 32), 1, 32, { backend: 'wasm' }, false)).toEqual([
      expect.stringMatching(/^this run needs about \d+\.\d GiB of memory at batch 1 x 32, more than the 4 GiB/),
    ]);
  });
});
