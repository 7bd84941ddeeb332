// What a LoRA is (rank, alpha, the modules it adapts) and its update in a graph, apart from lora.ts so that the
// families (family.ts, gpt2.ts) can hook it into their linear layers without an import cycle.
import type { Graph, Value } from '../onnx/graph.js';

export interface LoraConfig {
  readonly rank: number;
  readonly alpha: number;
  /** The family's module suffixes (PEFT's target_modules): "attn.c_attn" for GPT-2, "q_proj" for Llama. */
  readonly targets: readonly string[];
}

export class LoraConfigError extends Error {
  readonly code = 'LORA_CONFIG';
}

/** Adds the low-rank update of layer `name` to its base output y: (N, out). */
export function loraDelta(g: Graph, l: LoraConfig, P: Record<string, Value>, name: string, x: Value, y: Value): Value {
  const A = P[`${name}.lora_A.weight`];
  if (!A) return y; // not a target
  const B = P[`${name}.lora_B.weight`];
  const xa = g.gemm(x, A, null, { transB: true }); // (N, in) @ (r, in)^T -> (N, r)
  return g.gemm(xa, B, y, { transB: true, alpha: l.alpha / l.rank }); // y + (N, r) @ (out, r)^T -> (N, out), y as Gemm's C
}
