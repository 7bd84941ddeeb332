// LoRA laid out as PEFT saves it, for any family: lora_A.weight (r, in), lora_B.weight (out, r),
// y = base(x) + (alpha / r) (x A^T) B^T. Base weights stay frozen graph inputs; B starts at zero so the adapted
// model starts equal to the base one. The family says which modules exist and how their weights are stored.
import type { ModelConfig } from './config.js';
import { familyOf } from './family.js';
import type { ParamSpec } from './gpt2.js';
import type { Weights } from './init.js';
import { LoraConfigError, type LoraConfig } from './lora-config.js';

export { LoraConfigError, loraDelta, type LoraConfig } from './lora-config.js';

/** A LoRA of `rank` (0: none, a full fine-tune), alpha 2 x rank and the family's studio targets unless given. */
export function loraOfRank(
  c: ModelConfig,
  rank: number,
  o: { alpha?: number; targets?: readonly string[] } = {},
): LoraConfig | undefined {
  return rank > 0
    ? { rank, alpha: o.alpha ?? 2 * rank, targets: o.targets ?? familyOf(c).lora.studioDefault }
    : undefined;
}

/** PEFT's usual choice for the family (GPT-2: the fused QKV projection; Llama: q_proj, v_proj), rank 8, alpha 16. */
export const defaultLora = (c: ModelConfig): LoraConfig =>
  Object.freeze({ rank: 8, alpha: 16, targets: familyOf(c).lora.cliDefault });

export function validateLora(c: ModelConfig, l: LoraConfig): void {
  const valid = familyOf(c).lora.targets;
  if (!Number.isInteger(l.rank) || l.rank < 1)
    throw new LoraConfigError(`LoRA rank must be a positive integer, got ${l.rank}`);
  if (!(l.alpha > 0)) throw new LoraConfigError(`LoRA alpha must be positive, got ${l.alpha}`);
  if (l.targets.length === 0)
    throw new LoraConfigError(`LoRA needs at least one target module. Valid: ${valid.join(', ')}`);
  for (const t of l.targets) {
    if (!valid.includes(t))
      throw new LoraConfigError(
        `Unknown LoRA target "${t}" for ${familyOf(c).label(c)}. Should be one of: ${valid.join(', ')}`,
      );
  }
}

/** One adapted layer: its weight's name, its adapters' names and the module's (in, out). */
export interface LoraSite {
  /** The adapted module, e.g. `transformer.h.3.attn.c_attn`; its weight is `${module}.weight`. */
  module: string;
  A: string;
  B: string;
  din: number;
  dout: number;
}

/** Every layer the adapter touches, in order: the one loop that params, merge, PEFT export and import share. */
export function loraSites(c: ModelConfig, l: LoraConfig): LoraSite[] {
  validateLora(c, l);
  const f = familyOf(c);
  const out: LoraSite[] = [];
  for (let i = 0; i < f.layers(c); i++) {
    for (const t of l.targets) {
      const [din, dout] = f.lora.dims(c, t);
      const module = f.lora.module(i, t);
      out.push({ module, A: `${module}.lora_A.weight`, B: `${module}.lora_B.weight`, din, dout });
    }
  }
  return out;
}

export function loraParams(c: ModelConfig, l: LoraConfig): ParamSpec[] {
  return loraSites(c, l).flatMap((s) => [
    { name: s.A, shape: [l.rank, s.din], decay: true },
    { name: s.B, shape: [s.dout, l.rank], decay: true },
  ]);
}

/**
 * The base weights with each adapter merged in as PEFT merges it: delta = (alpha / r) B A, (out, in), added to
 * an nn.Linear weight [out, in] as is and to a Conv1D weight [in, out] transposed (fan_in_fan_out).
 */
export function mergeLora(c: ModelConfig, l: LoraConfig, W: Weights): Weights {
  const f = familyOf(c);
  const out: Weights = {};
  for (const p of f.params(c)) out[p.name] = W[p.name];
  const scale = l.alpha / l.rank;
  const inOut = f.lora.weightLayout === 'in-out';
  for (const s of loraSites(c, l)) {
    const A = W[s.A]; // (r, in)
    const B = W[s.B]; // (out, r)
    const merged = out[`${s.module}.weight`].slice();
    for (let a = 0; a < s.din; a++) {
      for (let o = 0; o < s.dout; o++) {
        let acc = 0;
        for (let r = 0; r < l.rank; r++) acc += A[r * s.din + a] * B[o * l.rank + r];
        merged[inOut ? a * s.dout + o : o * s.din + a] += scale * acc;
      }
    }
    out[`${s.module}.weight`] = merged;
  }
  return out;
}
