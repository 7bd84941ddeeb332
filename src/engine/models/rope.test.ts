// RoPE frequencies and tables against values worked out by hand from transformers' formulas
// (modeling_rope_utils.py), at indices in each of llama3's three bands.
import { describe, expect, it } from 'vitest';
import { llama3Scaling } from '../testing/llama-configs.js';
import { ropeInvFreq, ropeTables, type RopeConfig } from './rope.js';

const near = (got: number, want: number, rel = 2e-7) =>
  expect(Math.abs(got - want), `${got} vs ${want}`).toBeLessThanOrEqual(rel * Math.abs(want));

// Llama-3.2-1B: head_dim 64, theta 5e5, rope_scaling llama3 factor 32, low 1, high 4, original 8192. The bands:
// high_freq_wavelen = 8192 / 4 = 2048, low_freq_wavelen = 8192 / 1 = 8192, wavelen_i = 2 pi 500000^(i/32), so
// i <= 14 keeps inv_freq (wavelen_14 = 1956.5), i >= 18 divides it by 32 (wavelen_18 = 10089), 15..17 are smoothed.
const llama32: RopeConfig = { head_dim: 64, rope_theta: 500000, rope_scaling: llama3Scaling(32, 8192) };

describe('ropeInvFreq', () => {
  it('default: 1 / theta^(2i/d) over head_dim', () => {
    const inv = ropeInvFreq({ head_dim: 64, rope_theta: 1e5, rope_scaling: null }); // SmolLM2-135M
    expect(inv.length).toBe(32);
    expect(inv[0]).toBe(1);
    near(inv[16], 3.16227766e-3); // 1e5^(-1/2) = 1 / 316.227766
    near(inv[31], 1.43301257e-5); // 1e5^(-31/32) = 10^(-4.84375)
    expect(Array.from(ropeInvFreq({ head_dim: 4, rope_theta: 1e4, rope_scaling: null }))).toEqual([1, f32(0.01)]);
  });
  it('linear: inv_freq / factor', () => {
    const inv = ropeInvFreq({ head_dim: 4, rope_theta: 1e4, rope_scaling: { rope_type: 'linear', factor: 4 } });
    expect(Array.from(inv)).toEqual([0.25, f32(f32(0.01) / 4)]);
  });
  it("llama3: Llama 3.2's bands", () => {
    const inv = ropeInvFreq(llama32);
    expect(inv[0]).toBe(1); // high frequency: kept
    near(inv[10], 1.656044008e-2); // 500000^(-10/32), kept
    near(inv[14], 3.211445995e-3); // kept: wavelen 1956.5 < 2048
    // i = 16: inv = 500000^(-1/2) = 1.414213562e-3, wavelen = 4442.883, smooth = (8192/4442.883 - 1) / 3 = 0.2812826,
    // (1 - smooth) inv / 32 + smooth inv = inv (0.7187174 / 32 + 0.2812826) = 4.295567966e-4
    near(inv[16], 4.295567966e-4, 1e-6);
    near(inv[15], 1.290547928e-3, 1e-6); // smooth = 0.5928493
    near(inv[17], 9.708287803e-5, 1e-6); // smooth = 0.0745266
    near(inv[18], 6.227724219e-4 / 32); // low frequency: divided by 32
    near(inv[31], 3.013858152e-6 / 32);
  });
});

describe('ropeTables', () => {
  it('is (T, head_dim) in the rotate-half layout cat(freqs, freqs), freqs = position * inv_freq', () => {
    const t = ropeTables({ head_dim: 4, rope_theta: 1e4, rope_scaling: null }, 3);
    expect(t.shape).toEqual([3, 4]);
    // row 2: freqs = [2 * 1, 2 * 0.01]
    const row = (a: Float32Array, r: number) => Array.from(a.subarray(r * 4, r * 4 + 4));
    expect(row(t.cos, 0)).toEqual([1, 1, 1, 1]);
    expect(row(t.sin, 0)).toEqual([0, 0, 0, 0]);
    const c2 = row(t.cos, 2);
    const s2 = row(t.sin, 2);
    near(c2[0], Math.cos(2), 1e-7);
    near(c2[1], Math.cos(0.02), 1e-7);
    near(s2[0], Math.sin(2), 1e-7);
    near(s2[1], Math.sin(0.02), 1e-6);
    expect([c2[2], c2[3], s2[2], s2[3]]).toEqual([c2[0], c2[1], s2[0], s2[1]]);
  });
  it('takes explicit positions (a KV cache continues from its offset) and rounds angles as float32', () => {
    const inv = ropeInvFreq(llama32);
    const t = ropeTables(llama32, [100000]);
    // the angle is float32(100000 * inv_freq) as torch's float32 matmul makes it, then cos/sin
    for (const i of [0, 16, 31]) {
      const a = f32(100000 * inv[i]);
      expect(t.cos[i]).toBe(f32(Math.cos(a)));
      expect(t.sin[32 + i]).toBe(f32(Math.sin(a)));
    }
  });
});

function f32(x: number) {
  return Math.fround(x);
}
