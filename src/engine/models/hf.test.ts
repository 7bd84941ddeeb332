// Hub checkpoint variants map onto the engine's names; configs that are not GPT-2 are refused by field.
import { describe, expect, it } from 'vitest';
import { gpt2Params } from './gpt2.js';
import { gpt2WeightsFromTensors, parseGpt2Config } from './hf.js';
import { initGpt2, initLora } from './init.js';
import { mergeLora } from './lora.js';

const cfg = { vocab_size: 11, n_positions: 8, n_embd: 8, n_layer: 1, n_head: 2, layer_norm_epsilon: 1e-5 };
const W = initGpt2(cfg, 1);
const tensorsOf = (rename: (k: string) => string, extra: Record<string, Float32Array> = {}) =>
  new Map([
    ...gpt2Params(cfg).map((p) => [rename(p.name), { shape: p.shape, data: W[p.name] }] as const),
    ...Object.entries(extra).map(([k, d]) => [k, { shape: [d.length], data: d }] as const),
  ]);

describe('HF GPT-2 checkpoints', () => {
  it('accepts names without the transformer. prefix, mask buffers and a tied lm_head', () => {
    const t = tensorsOf((k) => k.replace('transformer.', ''), {
      'h.0.attn.bias': new Float32Array(4),
      'h.0.attn.masked_bias': new Float32Array(1),
    });
    t.set('lm_head.weight', { shape: [11, 8], data: W['transformer.wte.weight'] });
    expect(gpt2WeightsFromTensors(cfg, t)['transformer.h.0.mlp.c_fc.weight']).toBe(
      W['transformer.h.0.mlp.c_fc.weight'],
    );
  });
  it('names missing tensors and wrong shapes', () => {
    const t = tensorsOf((k) => k);
    t.delete('transformer.ln_f.bias');
    expect(() => gpt2WeightsFromTensors(cfg, t)).toThrow(/missing 1 tensor\(s\): transformer.ln_f.bias/);
    const u = tensorsOf((k) => k);
    u.set('transformer.wpe.weight', { shape: [4, 8], data: new Float32Array(32) });
    expect(() => gpt2WeightsFromTensors(cfg, u)).toThrow(
      /wpe.weight has shape \[4,8\], but config.json implies \[8,8\]/,
    );
  });
  it('refuses a config that is not GPT-2, by field', () => {
    expect(() => parseGpt2Config({ model_type: 'llama' })).toThrow(/model_type is "llama"/);
    expect(() =>
      parseGpt2Config({ model_type: 'gpt2', vocab_size: 5, n_positions: 8, n_embd: 8, n_layer: 'x', n_head: 2 }),
    ).toThrow(/"n_layer" must be a positive integer/);
    expect(
      parseGpt2Config({ model_type: 'gpt2', vocab_size: 5, n_ctx: 8, n_embd: 8, n_layer: 1, n_head: 2 }).n_positions,
    ).toBe(8);
  });
  it('merges LoRA into Conv1D weights as W + (alpha/r) A^T B^T', () => {
    const lora = { rank: 2, alpha: 4, targets: ['mlp.c_fc'] as const };
    const L = initLora(cfg, lora, 2);
    L['transformer.h.0.mlp.c_fc.lora_B.weight'] = Float32Array.from({ length: 32 * 2 }, (_, i) => (i % 7) / 10);
    const merged = mergeLora(cfg, lora, { ...W, ...L })['transformer.h.0.mlp.c_fc.weight'];
    const A = L['transformer.h.0.mlp.c_fc.lora_A.weight'];
    const B = L['transformer.h.0.mlp.c_fc.lora_B.weight'];
    const [i, o] = [3, 17];
    const expected =
      W['transformer.h.0.mlp.c_fc.weight'][i * 32 + o] +
      2 * (A[0 * 8 + i] * B[o * 2 + 0] + A[1 * 8 + i] * B[o * 2 + 1]);
    expect(merged[i * 32 + o]).toBeCloseTo(expected, 6);
  });
});
