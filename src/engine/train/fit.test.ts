// The checks that refuse a run that cannot fit, from the memory estimate, gpt2-medium's included, without
// downloading it.
import { describe, expect, it } from 'vitest';
import { GPT2_124M } from '../models/gpt2.js';
import { loraOfRank } from '../models/lora.js';
import { estimateMemory } from '../models/memory.js';
import { fitProblems } from './fit.js';

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
});
