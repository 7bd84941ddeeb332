// LoRA for GPT-2's Conv1D layers, laid out as PEFT saves it: lora_A.weight (r, in), lora_B.weight (out, r),
// y = x W + b + (alpha / r) (x A^T) B^T. Base weights stay frozen graph inputs; B starts at zero so the
// adapted model starts equal to the base one.
import type { Graph, Value } from '../onnx/graph.js';
import type { GPT2Config, ParamSpec } from './gpt2.js';
import { innerDim } from './gpt2.js';

export const LORA_TARGETS = ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];

export interface LoraConfig {
  readonly rank: number;
  readonly alpha: number;
  readonly targets: readonly LoraTarget[];
}

/** PEFT's usual GPT-2 choice: the fused QKV projection only. */
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

export function loraParams(c: GPT2Config, l: LoraConfig): ParamSpec[] {
  validateLora(l);
  const out: ParamSpec[] = [];
  for (let i = 0; i < c.n_layer; i++) {
    for (const t of l.targets) {
      const [din, dout] = dims(c, t);
      const base = `transformer.h.${i}.${t}`;
      out.push({ name: `${base}.lora_A.weight`, shape: [l.rank, din], decay: true });
      out.push({ name: `${base}.lora_B.weight`, shape: [dout, l.rank], decay: true });
    }
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
