// An independent Llama / Qwen2 / Qwen3 forward pass in plain TypeScript (float64, no ONNX, no graph IR, its own
// RoPE): the golden reference the graphs are tested against. Written straight from transformers' LlamaForCausalLM,
// Qwen2ForCausalLM and Qwen3ForCausalLM (modeling_llama.py, modeling_qwen2.py, modeling_qwen3.py); slow, test-only.
import type { Weights } from './init.js';
import type { LlamaConfig } from './llama-config.js';

/** Logits (T, V) for one sequence at positions 0..T-1, causal. */
export function llamaReferenceLogits(c: LlamaConfig, W: Weights, ids: readonly number[]): Float64Array[] {
  const C = c.hidden_size;
  const H = c.num_attention_heads;
  const Hkv = c.num_key_value_heads;
  const D = c.head_dim;
  const group = H / Hkv; // repeat_kv: query head h reads KV head floor(h / group)
  const w = (n: string) => {
    if (!W[n]) throw new Error(`reference: no weight ${n}`);
    return W[n];
  };
  const opt = (n: string) => W[n] as Float32Array | undefined;

  // LlamaRMSNorm: x * rsqrt(mean(x^2) + eps) * weight
  const rmsNorm = (x: Float64Array, g: Float32Array) => {
    let ms = 0;
    for (const v of x) ms += v * v;
    const r = 1 / Math.sqrt(ms / x.length + c.rms_norm_eps);
    return x.map((v, i) => v * r * g[i]);
  };
  // nn.Linear: y = W x + b, W [out, in]
  const linear = (x: Float64Array, Wt: Float32Array, b: Float32Array | undefined, nout: number) => {
    const y = new Float64Array(nout);
    for (let o = 0; o < nout; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < x.length; i++) s += Wt[o * x.length + i] * x[i];
      y[o] = s;
    }
    return y;
  };
  const silu = (x: number) => x / (1 + Math.exp(-x));

  // RoPE: angle t * inv_freq_i for i < D/2, used by dimensions i and i + D/2 (cat(freqs, freqs)).
  const inv = invFreq(c);
  const rope = (x: Float64Array, t: number) => {
    const half = D / 2;
    return x.map((v, j) => {
      const a = t * inv[j % half];
      const rot = j < half ? -x[j + half] : x[j - half]; // rotate_half: cat(-x2, x1)
      return v * Math.cos(a) + rot * Math.sin(a);
    });
  };
  const heads = (x: Float64Array, n: number) => Array.from({ length: n }, (_, h) => x.slice(h * D, (h + 1) * D));

  const embed = w('model.embed_tokens.weight');
  let hs = ids.map((id) => Float64Array.from(embed.subarray(id * C, (id + 1) * C)));
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `model.layers.${l}`;
    const a = `${p}.self_attn`;
    // q, k, v per position and head, after the q/k norms (Qwen3) and RoPE
    const q: Float64Array[][] = [];
    const k: Float64Array[][] = [];
    const v: Float64Array[][] = [];
    hs.forEach((x, t) => {
      const n = rmsNorm(x, w(`${p}.input_layernorm.weight`));
      let qh = heads(linear(n, w(`${a}.q_proj.weight`), opt(`${a}.q_proj.bias`), H * D), H);
      let kh = heads(linear(n, w(`${a}.k_proj.weight`), opt(`${a}.k_proj.bias`), Hkv * D), Hkv);
      if (c.qk_norm) {
        qh = qh.map((y) => rmsNorm(y, w(`${a}.q_norm.weight`)));
        kh = kh.map((y) => rmsNorm(y, w(`${a}.k_norm.weight`)));
      }
      q.push(qh.map((y) => rope(y, t)));
      k.push(kh.map((y) => rope(y, t)));
      v.push(heads(linear(n, w(`${a}.v_proj.weight`), opt(`${a}.v_proj.bias`), Hkv * D), Hkv));
    });
    hs = hs.map((x, t) => {
      const att = new Float64Array(H * D);
      for (let h = 0; h < H; h++) {
        const kv = Math.floor(h / group);
        const scores = Array.from({ length: t + 1 }, (_, s) => {
          let dot = 0;
          for (let d = 0; d < D; d++) dot += q[t][h][d] * k[s][kv][d];
          return dot / Math.sqrt(D);
        });
        const m = Math.max(...scores);
        const e = scores.map((x) => Math.exp(x - m));
        const z = e.reduce((x, y) => x + y, 0);
        for (let s = 0; s <= t; s++) for (let d = 0; d < D; d++) att[h * D + d] += (e[s] / z) * v[s][kv][d];
      }
      const o = linear(att, w(`${a}.o_proj.weight`), opt(`${a}.o_proj.bias`), C);
      const x1 = x.map((y, i) => y + o[i]);
      const n = rmsNorm(x1, w(`${p}.post_attention_layernorm.weight`));
      const F = c.intermediate_size;
      const gate = linear(n, w(`${p}.mlp.gate_proj.weight`), undefined, F);
      const up = linear(n, w(`${p}.mlp.up_proj.weight`), undefined, F);
      const mlp = linear(
        gate.map((gv, i) => silu(gv) * up[i]),
        w(`${p}.mlp.down_proj.weight`),
        undefined,
        C,
      );
      return x1.map((y, i) => y + mlp[i]);
    });
  }
  const head = c.tie_word_embeddings ? embed : w('lm_head.weight');
  return hs.map((x) => linear(rmsNorm(x, w('model.norm.weight')), head, undefined, c.vocab_size));
}

/** inv_freq in float64, from transformers' formulas (default, linear, llama3), written apart from rope.ts. */
function invFreq(c: LlamaConfig): number[] {
  const d = c.head_dim;
  const inv = Array.from({ length: d / 2 }, (_, i) => 1 / Math.pow(c.rope_theta, (2 * i) / d));
  const s = c.rope_scaling;
  if (!s) return inv;
  if (s.rope_type === 'linear') return inv.map((x) => x / s.factor);
  const lowWavelen = s.original_max_position_embeddings / s.low_freq_factor;
  const highWavelen = s.original_max_position_embeddings / s.high_freq_factor;
  return inv.map((x) => {
    const wavelen = (2 * Math.PI) / x;
    if (wavelen > lowWavelen) return x / s.factor;
    if (wavelen < highWavelen) return x;
    const smooth =
      (s.original_max_position_embeddings / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
    return ((1 - smooth) * x) / s.factor + smooth * x;
  });
}
