// Rotary position embeddings as transformers computes them: inverse frequencies (default, linear, llama3) and the
// cos/sin tables the graphs take as inputs, (T, head_dim) in the rotate-half layout cat(freqs, freqs). Every step
// rounds to float32 as torch's float32 tensors do; pow is the one step not correctly rounded (2 ulps from numpy's).
import type { LlamaConfig } from './llama-config.js';

export type RopeConfig = Pick<LlamaConfig, 'head_dim' | 'rope_theta' | 'rope_scaling'>;

const f = Math.fround;

/**
 * inv_freq (head_dim / 2), after transformers' src/transformers/modeling_rope_utils.py:
 * _compute_default_rope_parameters: 1 / theta^(2i / d), over head_dim (config.head_dim where the config has one);
 * _compute_linear_scaling_rope_parameters: inv_freq / factor (the same as positions / factor);
 * _compute_llama3_parameters: with wavelen = 2 pi / inv_freq, low = original / low_freq_factor and
 * high = original / high_freq_factor: wavelen < high keeps inv_freq, wavelen > low divides it by factor, and
 * between the two, with smooth = (original / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor),
 * it is (1 - smooth) inv_freq / factor + smooth inv_freq. attention_scaling is 1 for all three.
 */
export function ropeInvFreq(c: RopeConfig): Float32Array {
  const d = c.head_dim;
  const base = f(c.rope_theta);
  // torch: 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim)); `1.0 / x` is x.reciprocal() * 1.0
  const inv = Float32Array.from({ length: d / 2 }, (_, i) => f(1 / f(Math.pow(base, f((2 * i) / d)))));
  const s = c.rope_scaling;
  if (!s) return inv;
  const factor = f(s.factor);
  if (s.rope_type === 'linear') return inv.map((x) => f(x / factor));
  const old = s.original_max_position_embeddings;
  const lowWavelen = old / s.low_freq_factor;
  const highWavelen = old / s.high_freq_factor;
  const span = f(s.high_freq_factor - s.low_freq_factor);
  const twoPi = f(2 * Math.PI);
  return inv.map((x) => {
    const wavelen = f(f(1 / x) * twoPi); // torch: 2 * math.pi / inv_freq, i.e. inv_freq.reciprocal() * (2 pi)
    if (wavelen < highWavelen) return x;
    if (wavelen > lowWavelen) return f(x / factor);
    const smooth = f(f(f(f(1 / wavelen) * old) - s.low_freq_factor) / span);
    return f(f(f(f(1 - smooth) * x) / factor) + f(smooth * x));
  });
}

export interface RopeTables {
  /** (T, head_dim) row-major: row t is cat(freqs, freqs) of position positions[t], freqs = positions[t] * inv_freq. */
  readonly cos: Float32Array;
  readonly sin: Float32Array;
  readonly shape: readonly [number, number];
}

/** cos and sin for `positions` (a count T means 0..T-1), as LlamaRotaryEmbedding.forward computes them in float32. */
export function ropeTables(c: RopeConfig, positions: number | ArrayLike<number>): RopeTables {
  const pos = typeof positions === 'number' ? Array.from({ length: positions }, (_, t) => t) : Array.from(positions);
  const inv = ropeInvFreq(c);
  const D = c.head_dim;
  const half = D / 2;
  const cos = new Float32Array(pos.length * D);
  const sin = new Float32Array(pos.length * D);
  pos.forEach((p, t) => {
    for (let i = 0; i < half; i++) {
      const a = f(f(p) * inv[i]); // torch: inv_freq (float32) @ position_ids (float32), one product per entry
      cos[t * D + i] = cos[t * D + half + i] = Math.cos(a);
      sin[t * D + i] = sin[t * D + half + i] = Math.sin(a);
    }
  });
  return { cos, sin, shape: [pos.length, D] };
}
