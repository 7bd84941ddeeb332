// Which model a config describes: GPT-2 (GPT2LMHeadModel) or the Llama family (LlamaForCausalLM,
// Qwen2ForCausalLM, Qwen3ForCausalLM). config.json's model_type picks the family; every module outside models/
// holds a ModelConfig and asks models/family.ts for names, shapes and graphs.
import type { GPT2Config } from './gpt2.js';
import { parseGpt2Config, ModelFormatError } from './hf.js';
import { LLAMA_MODEL_TYPES, parseLlamaConfig, type LlamaConfig } from './llama-config.js';

export type ModelConfig = GPT2Config | LlamaConfig;

/** The Llama family carries its model_type; GPT-2's config does not (it predates the seam). */
export const isLlama = (c: ModelConfig): c is LlamaConfig => 'model_type' in c;

export const SUPPORTED_MODEL_TYPES = ['gpt2', ...LLAMA_MODEL_TYPES] as const;

/** A config.json object of any supported family; an unsupported model_type is refused naming the supported ones. */
export function parseModelConfig(json: unknown, file = 'config.json'): ModelConfig {
  if (!json || typeof json !== 'object' || Array.isArray(json))
    throw new ModelFormatError(`${file}: not a JSON object`);
  const type = (json as Record<string, unknown>).model_type;
  if (type === 'gpt2') return parseGpt2Config(json, file);
  if (LLAMA_MODEL_TYPES.includes(type as LlamaConfig['model_type'])) return parseLlamaConfig(json, file);
  throw new ModelFormatError(
    `${file}: field "model_type" is ${JSON.stringify(type) ?? 'absent'}; supported: ${SUPPORTED_MODEL_TYPES.map((t) => `"${t}"`).join(', ')}`,
  );
}
