// GPT-2 as Hugging Face's GPT2LMHeadModel defines it, emitted into the graph IR: HF parameter names and layouts
// (Conv1D weights are [in, out]), lm_head tied to transformer.wte.weight, tanh GELU, causal attention,
// LayerNorm eps from the config. LoRA (./lora.ts) plugs into the four linear layers by name.
import type { Graph, Value } from '../onnx/graph.js';
import { loraDelta, type LoraConfig } from './lora.js';

export interface GPT2Config {
  readonly vocab_size: number;
  readonly n_positions: number;
  readonly n_embd: number;
  readonly n_layer: number;
  readonly n_head: number;
  /** HF default 1e-5. */
  readonly layer_norm_epsilon: number;
  /** null means 4 * n_embd, as in HF. */
  readonly n_inner?: number | null;
}

export const GPT2_124M: GPT2Config = Object.freeze({ vocab_size: 50257, n_positions: 1024, n_embd: 768, n_layer: 12, n_head: 12, layer_norm_epsilon: 1e-5 });

export interface ParamSpec {
  readonly name: string;
  readonly shape: readonly number[];
  /** AdamW's weight decay applies to matrices only, not to biases and LayerNorm weights (as in HF's Trainer). */
  readonly decay: boolean;
}

export const innerDim = (c: GPT2Config) => c.n_inner ?? 4 * c.n_embd;

/** Every parameter in HF order (the order of a Hub model.safetensors' header, after sorting, does not matter). */
export function gpt2Params(c: GPT2Config): ParamSpec[] {
  const C = c.n_embd;
  const F = innerDim(c);
  const p = (name: string, shape: number[], decay = shape.length === 2): ParamSpec => ({ name, shape, decay });
  const out = [p('transformer.wte.weight', [c.vocab_size, C]), p('transformer.wpe.weight', [c.n_positions, C])];
  for (let i = 0; i < c.n_layer; i++) {
    const h = `transformer.h.${i}`;
    out.push(
      p(`${h}.ln_1.weight`, [C]), p(`${h}.ln_1.bias`, [C]),
      p(`${h}.attn.c_attn.weight`, [C, 3 * C]), p(`${h}.attn.c_attn.bias`, [3 * C]),
      p(`${h}.attn.c_proj.weight`, [C, C]), p(`${h}.attn.c_proj.bias`, [C]),
      p(`${h}.ln_2.weight`, [C]), p(`${h}.ln_2.bias`, [C]),
      p(`${h}.mlp.c_fc.weight`, [C, F]), p(`${h}.mlp.c_fc.bias`, [F]),
      p(`${h}.mlp.c_proj.weight`, [F, C]), p(`${h}.mlp.c_proj.bias`, [C]),
    );
  }
  out.push(p('transformer.ln_f.weight', [C]), p('transformer.ln_f.bias', [C]));
  return out;
}

export function countParams(specs: readonly ParamSpec[]): number {
  return specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
}

/** Where the keys and values of one attention call come from. */
export type AttentionMode =
  | { kind: 'causal'; mask: Value } // training / eval: (T, T) additive mask
  | { kind: 'cache'; mask: Value; write: Value; keep: Value; past: { key: Value; value: Value }[]; present: { key: Value; value: Value }[] };

export interface ForwardOptions {
  lora?: LoraConfig;
  /** Dropout is off: fine-tuning runs are short and determinism given a seed is worth more here. */
  readonly mode: AttentionMode;
}

/**
 * The transformer trunk. ids: (B, T) int32; positions: (T,) token positions (training: 0..T-1 as a slice of wpe).
 * Returns the final hidden states (B*T, C) after ln_f.
 */
export function gpt2Trunk(g: Graph, c: GPT2Config, P: Record<string, Value>, ids: Value, posEmb: Value, o: ForwardOptions): Value {
  const [B, T] = ids.shape;
  const C = c.n_embd;
  const H = c.n_head;
  const D = C / H;
  const N = B * T;
  const eps = c.layer_norm_epsilon;
  const linear = (x: Value, layer: number, mod: string) => {
    const name = `transformer.h.${layer}.${mod}`;
    const y = g.gemm(x, P[`${name}.weight`], P[`${name}.bias`]);
    return o.lora ? loraDelta(g, o.lora, P, name, x, y) : y;
  };

  const tok = g.gather(P['transformer.wte.weight'], ids); // (B, T, C)
  let h = g.reshape(g.add(tok, posEmb), [N, C]); // (B*T, C); posEmb (T, C) broadcasts over B

  for (let i = 0; i < c.n_layer; i++) {
    const pre = `transformer.h.${i}`;
    // ---- attention
    const a = g.layerNorm(h, P[`${pre}.ln_1.weight`], P[`${pre}.ln_1.bias`], eps);
    const qkv = linear(a, i, 'attn.c_attn'); // (N, 3C)
    const [q, k, v] = g.split(qkv, [C, C, C], 1); // (N, C) each
    const heads = (x: Value, perm: number[]) => g.transpose(g.reshape(x, [B, T, H, D]), perm);
    const qh = heads(g.mulScalar(q, 1 / Math.sqrt(D)), [0, 2, 1, 3]); // (B, H, T, D), pre-scaled by 1/sqrt(D)
    let kh = heads(k, [0, 2, 1, 3]); // (B, H, T, D)
    let vh = heads(v, [0, 2, 1, 3]); // (B, H, T, D)
    if (o.mode.kind === 'cache') {
      // Write this call's keys/values into the fixed-size cache at their positions: (1, H, L, D).
      const { write, keep } = o.mode; // write (L, T) one-hot rows per new token, transposed; keep (1, 1, L, 1)
      kh = g.add(g.mul(o.mode.past[i].key, keep), g.matmul(write, kh));
      vh = g.add(g.mul(o.mode.past[i].value, keep), g.matmul(write, vh));
      o.mode.present[i] = { key: kh, value: vh };
    }
    const att = g.add(g.matmul(qh, g.transpose(kh, [0, 1, 3, 2])), o.mode.mask); // (B, H, T, S)
    const y = g.matmul(g.softmax(att), vh); // (B, H, T, D)
    const merged = g.reshape(g.transpose(y, [0, 2, 1, 3]), [N, C]); // (B, T, H, D) -> (N, C)
    h = g.add(h, linear(merged, i, 'attn.c_proj'));
    // ---- MLP
    const m = g.layerNorm(h, P[`${pre}.ln_2.weight`], P[`${pre}.ln_2.bias`], eps);
    h = g.add(h, linear(g.geluTanh(linear(m, i, 'mlp.c_fc')), i, 'mlp.c_proj'));
  }
  return g.layerNorm(h, P['transformer.ln_f.weight'], P['transformer.ln_f.bias'], eps); // (N, C)
}

/** Logits from hidden states with the tied head: (N, C) @ wte^T -> (N, V). */
export function lmHead(g: Graph, P: Record<string, Value>, h: Value): Value {
  return g.gemm(h, P['transformer.wte.weight'], null, { transB: true });
}

/** The additive causal mask: 0 on and below the diagonal, -1e9 above. (T, T) */
export function causalMask(g: Graph, T: number): Value {
  const m = new Float32Array(T * T);
  for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) m[i * T + j] = -1e9;
  return g.constant('float32', [T, T], m);
}
