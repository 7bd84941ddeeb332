// An independent GPT-2 forward pass in plain TypeScript (float64 accumulation, no ONNX, no graph IR): the golden
// reference the ONNX graphs are tested against. Written straight from HF's GPT2LMHeadModel; slow, test-only.
import type { GPT2Config } from './gpt2.js';
import type { Weights } from './init.js';

/** Logits (T, V) for one sequence. */
export function referenceLogits(c: GPT2Config, W: Weights, ids: readonly number[]): Float64Array[] {
  const T = ids.length;
  const C = c.n_embd;
  const H = c.n_head;
  const D = C / H;
  const F = c.n_inner ?? 4 * C;
  const w = (n: string) => W[n];
  const layerNorm = (x: Float64Array, g: Float32Array, b: Float32Array) => {
    let mean = 0;
    for (const v of x) mean += v;
    mean /= x.length;
    let vr = 0;
    for (const v of x) vr += (v - mean) ** 2;
    vr /= x.length;
    const r = 1 / Math.sqrt(vr + c.layer_norm_epsilon);
    return x.map((v, i) => (v - mean) * r * g[i] + b[i]);
  };
  // Conv1D: y = x @ W + b, W (in, out)
  const conv1d = (x: Float64Array, W: Float32Array, b: Float32Array, nout: number) => {
    const y = Float64Array.from(b);
    for (let i = 0; i < x.length; i++) {
      const xi = x[i];
      for (let j = 0; j < nout; j++) y[j] += xi * W[i * nout + j];
    }
    return y;
  };
  const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

  let h = ids.map((id, t) => {
    const e = new Float64Array(C);
    for (let i = 0; i < C; i++) e[i] = w('transformer.wte.weight')[id * C + i] + w('transformer.wpe.weight')[t * C + i];
    return e;
  });
  for (let l = 0; l < c.n_layer; l++) {
    const p = `transformer.h.${l}`;
    const qkv = h.map((x) =>
      conv1d(
        layerNorm(x, w(`${p}.ln_1.weight`), w(`${p}.ln_1.bias`)),
        w(`${p}.attn.c_attn.weight`),
        w(`${p}.attn.c_attn.bias`),
        3 * C,
      ),
    );
    const attnOut = h.map(() => new Float64Array(C));
    for (let hd = 0; hd < H; hd++) {
      for (let t = 0; t < T; t++) {
        const scores = new Float64Array(t + 1);
        for (let s = 0; s <= t; s++) {
          let dot = 0;
          for (let d = 0; d < D; d++) dot += qkv[t][hd * D + d] * qkv[s][C + hd * D + d];
          scores[s] = dot / Math.sqrt(D);
        }
        const m = Math.max(...scores);
        const e = scores.map((v) => Math.exp(v - m));
        const z = e.reduce((a, b) => a + b, 0);
        for (let s = 0; s <= t; s++)
          for (let d = 0; d < D; d++) attnOut[t][hd * D + d] += (e[s] / z) * qkv[s][2 * C + hd * D + d];
      }
    }
    h = h.map((x, t) => {
      const a = conv1d(attnOut[t], w(`${p}.attn.c_proj.weight`), w(`${p}.attn.c_proj.bias`), C);
      const x1 = x.map((v, i) => v + a[i]);
      const f = conv1d(
        layerNorm(x1, w(`${p}.ln_2.weight`), w(`${p}.ln_2.bias`)),
        w(`${p}.mlp.c_fc.weight`),
        w(`${p}.mlp.c_fc.bias`),
        F,
      ).map(gelu);
      const m = conv1d(f, w(`${p}.mlp.c_proj.weight`), w(`${p}.mlp.c_proj.bias`), C);
      return x1.map((v, i) => v + m[i]);
    });
  }
  const wte = w('transformer.wte.weight');
  return h.map((x) => {
    const y = layerNorm(x, w('transformer.ln_f.weight'), w('transformer.ln_f.bias'));
    const logits = new Float64Array(c.vocab_size);
    for (let v = 0; v < c.vocab_size; v++) {
      let s = 0;
      for (let i = 0; i < C; i++) s += y[i] * wte[v * C + i];
      logits[v] = s;
    }
    return logits;
  });
}
