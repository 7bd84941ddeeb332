// The shapes of the JSON files a model folder or an adapter brings (tokenizer.json, tokenizer_config.json,
// generation_config.json, adapter_config.json) as valibot schemas: loose objects that check the fields the engine
// reads and keep the rest as they are, so a file from the Hub loads and a bad one is refused naming the field.
import * as v from 'valibot';
import { got, positiveInt, positiveNumber } from '../util/json.js';

const tokenId = v.pipe(v.number(got('a token id')), v.integer(got('a token id')), v.minValue(0, got('a token id')));

/** tokenizer.json (Hugging Face tokenizers): a BPE model's vocabulary and merges, the added tokens. */
export const TOKENIZER_JSON = v.looseObject({
  model: v.looseObject({
    vocab: v.record(v.string(), tokenId, got('an object of token -> id')),
    merges: v.optional(v.array(v.union([v.string(), v.array(v.string())]), got('a list of merges'))),
  }),
  added_tokens: v.optional(v.array(v.looseObject({ id: tokenId, content: v.string(got('a string')) }))),
});

const tokenName = v.optional(v.nullable(v.union([v.string(), v.looseObject({ content: v.string(got('a string')) })])));

/** tokenizer_config.json: the special tokens and the chat template. */
export const TOKENIZER_CONFIG = v.looseObject({
  chat_template: v.optional(v.nullable(v.string(got('a Jinja template string')))),
  eos_token: tokenName,
  bos_token: tokenName,
  pad_token: tokenName,
  unk_token: tokenName,
});

/** generation_config.json: end tokens (one id or a list) and sampling defaults. */
export const GENERATION_CONFIG = v.looseObject({
  eos_token_id: v.optional(v.nullable(v.union([tokenId, v.array(tokenId)], got('a token id or a list of them')))),
  bos_token_id: v.optional(v.nullable(tokenId)),
  pad_token_id: v.optional(v.nullable(tokenId)),
  temperature: v.optional(v.nullable(v.number(got('a number')))),
  top_p: v.optional(v.nullable(v.number(got('a number')))),
  top_k: v.optional(v.nullable(v.number(got('a number')))),
});

/** adapter_config.json (PEFT): a LoRA adapter's rank, alpha, target modules and base model. */
export const ADAPTER_CONFIG = v.looseObject({
  peft_type: v.literal('LORA', got('"LORA" (only LoRA adapters can be applied)')),
  r: positiveInt,
  lora_alpha: positiveNumber,
  target_modules: v.union([v.string(), v.array(v.string())], got('a module name or a list of them')),
  fan_in_fan_out: v.optional(v.nullable(v.boolean(got('true or false')))),
  use_dora: v.optional(v.nullable(v.boolean(got('true or false')))),
  use_rslora: v.optional(v.nullable(v.boolean(got('true or false')))),
  base_model_name_or_path: v.optional(v.nullable(v.string(got('a repo id or a path')))),
});
export type AdapterConfig = v.InferOutput<typeof ADAPTER_CONFIG>;
