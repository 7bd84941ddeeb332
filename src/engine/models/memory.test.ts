// The memory estimate against the WASM heap measured in a real training step (onnxruntime-web's WASM build in
// Node, one fresh process per shape: the heap never shrinks), at the shapes the tests train; and the checks that
// refuse what cannot fit, gpt2-medium's included, without downloading it.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { GPT2_124M } from './gpt2.js';
import { estimateMemory, fitProblems } from './memory.js';
import { studioLora } from '../../protocol.js';

const run = promisify(execFile);
const measure = async (shape: string, batch: number, seq: number, rank: number) => {
  const { stdout } = await run(
    'npx',
    ['tsx', 'src/engine/testing/measure-step.ts', shape, String(batch), String(seq), String(rank)],
    { maxBuffer: 1 << 20 },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as { peakBytes: number; estimateBytes: number };
};
const MEDIUM = { ...GPT2_124M, n_embd: 1024, n_layer: 24, n_head: 16 };

describe('memory estimate', () => {
  // the last: a full fine-tune at 4 x 128 measures 3.7 GiB, so the estimate decides whether WASM may run it at all
  for (const [shape, b, t, r] of [
    ['tiny', 2, 24, 0],
    ['tiny', 4, 128, 8],
    ['gpt2', 1, 32, 8],
    ['gpt2', 1, 32, 0],
    ['gpt2', 4, 128, 0],
  ] as const) {
    it(`is within 25% of the WASM heap measured for ${shape} at batch ${b} x ${t}, ${r ? `LoRA rank ${r}` : 'full fine-tune'}`, async () => {
      const m = await measure(shape, b, t, r);
      expect(m.peakBytes).toBeGreaterThan(0);
      expect(m.estimateBytes / m.peakBytes).toBeGreaterThan(0.75);
      expect(m.estimateBytes / m.peakBytes).toBeLessThan(1.25);
    }, 300_000);
  }

  it('follows the batch and sequence length', () => {
    const small = estimateMemory(GPT2_124M, 1, 32);
    const big = estimateMemory(GPT2_124M, 4, 128);
    expect(big.activationBytes).toBeGreaterThan(10 * small.activationBytes);
    expect(big.weightsBytes).toBe(small.weightsBytes);
  });

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
    expect(fitProblems(estimateMemory(MEDIUM, 4, 128, studioLora(8)), 4, 128, { backend: 'wasm' }, true)).toEqual([]);
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
