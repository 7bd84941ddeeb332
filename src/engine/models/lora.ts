// LoRA for GPT-2's Conv1D layers, laid out as PEFT saves it: lora_A.weight (r, in), lora_B.weight (out, r),
// y = x W + b + (alpha / r) (x A^T) B^T. Base weights stay frozen graph inputs; B starts at zero so the
// adapted model starts equal to the base one.
import type { Graph, Value } from '../onnx/graph.js';
import { gpt2Params, innerDim, type GPT2Config, type ParamSpec } from './gpt2.js';
import type { Weights } from './init.js';

export const LORA_TARGETS = ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];

export interface LoraConfig {
  readonly rank: number;
  readonly alpha: number;
  readonly targets: readonly LoraTarget[];
}

/** The adapters the studio trains: the QKV projection and the MLP's first layer. */
export const STUDIO_LORA_TARGETS: readonly LoraTarget[] = Object.freeze(['attn.c_attn', 'mlp.c_fc'] as const);

/** A LoRA of `rank` (0: none, a full fine-tune), alpha 2 x rank and the studio's targets unless given. */
export function loraOfRank(
  rank: number,
  o: { alpha?: number; targets?: readonly LoraTarget[] } = {},
): LoraConfig | undefined {
  return rank > 0 ? { rank, alpha: o.alpha ?? 2 * rank, targets: o.targets ?? STUDIO_LORA_TARGETS } : undefined;
}

/** PEFT's usual GPT-2 choice: the fused QKV projection only (the benchmarks' and the CLI's default targets). */
export const DEFAULT_LORA: LoraConfig = Object.freeze({ rank: 8, alpha: 16, targets: ['attn.c_attn'] as const });

export class LoraConfigError extends Error {
  readonly code = 'LORA_CONFIG';
}

export function validateLora(l: LoraConfig): void {
  if (!Number.isInteger(l.rank) || l.rank < 1)
    throw new LoraConfigError(`LoRA rank must be a positive integer, got ${l.rank}`);
  if (!(l.alpha > 0)) throw new LoraConfigError(`LoRA alpha must be positive, got ${l.alpha}`);
  if (l.targets.length === 0)
    throw new LoraConfigError(`LoRA needs at least one target module. Valid: ${LORA_TARGETS.join(', ')}`);
  for (const t of l.targets) {
    if (!LORA_TARGETS.includes(t))
      throw new LoraConfigError(`Unknown LoRA target "${t}". Should be one of: ${LORA_TARGETS.join(', ')}`);
  }
}

/** (in, out) of each target's Conv1D weight. */
function dims(c: GPT2Config, t: LoraTarget): [number, number] {
  const C = c.n_embd;
  const F = innerDim(c);
  return { 'attn.c_attn': [C, 3 * C], 'attn.c_proj': [C, C], 'mlp.c_fc': [C, F], 'mlp.c_proj': [F, C] }[t] as [
    number,
    number,
  ];
}

/** One adapted layer: its weight's name, its adapters' names and the weight's (in, out). */
export interface LoraSite {
  /** The adapted module, e.g. `transformer.h.3.attn.c_attn`; its weight is `${module}.weight`. */
  module: string;
  A: string;
  B: string;
  din: number;
  dout: number;
}

/** Every layer the adapter touches, in order: the one loop that params, merge, PEFT export and import share. */
export function loraSites(c: GPT2Config, l: LoraConfig): LoraSite[] {
  validateLora(l);
  const out: LoraSite[] = [];
  for (let i = 0; i < c.n_layer; i++) {
    for (const t of l.targets) {
      const [din, dout] = dims(c, t);
      const module = `transformer.h.${i}.${t}`;
      out.push({ module, A: `${module}.lora_A.weight`, B: `${module}.lora_B.weight`, din, dout });
    }
  }
  return out;
}

export function loraParams(c: GPT2Config, l: LoraConfig): ParamSpec[] {
  return loraSites(c, l).flatMap((s) => [
    { name: s.A, shape: [l.rank, s.din], decay: true },
    { name: s.B, shape: [s.dout, l.rank], decay: true },
  ]);
}

/** The base weights with each adapter merged in as PEFT merges it: W (in, out) += (alpha / r) A^T B^T. */
export function mergeLora(c: GPT2Config, l: LoraConfig, W: Weights): Weights {
  const out: Weights = {};
  for (const p of gpt2Params(c)) out[p.name] = W[p.name];
  const scale = l.alpha / l.rank;
  for (const s of loraSites(c, l)) {
    const A = W[s.A]; // (r, in)
    const B = W[s.B]; // (out, r)
    const merged = out[`${s.module}.weight`].slice(); // (in, out)
    for (let a = 0; a < s.din; a++) {
      for (let o = 0; o < s.dout; o++) {
        let acc = 0;
        for (let r = 0; r < l.rank; r++) acc += A[r * s.din + a] * B[o * l.rank + r];
        merged[a * s.dout + o] += scale * acc;
      }
    }
    out[`${s.module}.weight`] = merged;
  }
  return out;
}

/** Adds the low-rank update of layer `name` to its base output y: (N, out). */
export function loraDelta(g: Graph, l: LoraConfig, P: Record<string, Value>, name: string, x: Value, y: Value): Value {
  const A = P[`${name}.lora_A.weight`];
  if (!A) return y; // not a target
  const B = P[`${name}.lora_B.weight`];
  const xa = g.gemm(x, A, null, { transB: true }); // (N, in) @ (r, in)^T -> (N, r)
  return g.gemm(xa, B, y, { transB: true, alpha: l.alpha / l.rank }); // y + (N, r) @ (out, r)^T -> (N, out), y as Gemm's C
}
