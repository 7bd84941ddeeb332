// What a set of artifacts is built from: a model's config (any family), optionally LoRA, and the parameter lists
// that follow (all inputs of the forward graphs; the trainable subset gets gradients and optimizer state).
import type { ModelConfig } from '../models/config.js';
import { familyOf } from '../models/family.js';
import type { ParamSpec } from '../models/gpt2.js';
import { loraParams, type LoraConfig } from '../models/lora.js';
import type { Graph, Value } from '../onnx/graph.js';

export interface ModelSpec<C extends ModelConfig = ModelConfig> {
  readonly config: C;
  readonly lora?: LoraConfig;
}

export interface BuiltGraph {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
}

/** Every parameter the forward graph takes: the base model's, plus the adapters' under LoRA. */
export function allParams(m: ModelSpec): ParamSpec[] {
  const base = familyOf(m.config).params(m.config);
  return m.lora ? [...base, ...loraParams(m.config, m.lora)] : base;
}

/** The parameters that get gradients and AdamW state. */
export function trainableParams(m: ModelSpec): ParamSpec[] {
  return m.lora ? loraParams(m.config, m.lora) : familyOf(m.config).params(m.config);
}

export function paramInputs(g: Graph, specs: readonly ParamSpec[]): Record<string, Value> {
  return Object.fromEntries(specs.map((s) => [s.name, g.input(s.name, 'float32', s.shape)]));
}

export const gradName = (p: string) => `${p}_grad`;
export const accumName = (p: string) => `${p}_grad.accumulation`;
export const expAvgName = (p: string) => `${p}.exp_avg`;
export const expAvgSqName = (p: string) => `${p}.exp_avg_sq`;
export const updatedName = (x: string) => `${x}.updated`;
export { pastName, presentName } from '../models/kv-cache.js';
