// A Hugging Face model folder (config.json, model.safetensors with LoRA merged in, the tokenizer with the chat
// template the run trained with, generation_config.json, a model card with the loss curve), loadable by
// transformers' GPT2LMHeadModel.from_pretrained and AutoTokenizer; with `onnx`, the transformers.js package too.
import { safetensorsParts } from '../hub/safetensors.js';
import { isLlama } from '../models/config.js';
import { gpt2Params } from '../models/gpt2.js';
import { gpt2ConfigJson } from '../models/hf.js';
import { jsonFile, textFile, type OutFile } from '../util/files.js';
import { modelCard } from './model-card.js';
import { gpt2OnnxFiles, TRANSFORMERS_JS_CONFIG } from './onnx.js';
import { mergedWeights, type ExportSource } from './source.js';
import { lossCurveSvg } from './svg.js';
import { tokenizerFiles } from './tokenizer-files.js';

/** generation_config.json: end-of-text as eos and pad, and the chat's sampling defaults. */
export function generationConfig(src: ExportSource): Record<string, unknown> {
  const s = src.sampling;
  return {
    bos_token_id: src.eosId,
    eos_token_id: src.eosId,
    pad_token_id: src.eosId,
    do_sample: s.temperature > 0,
    ...(s.temperature > 0 ? { temperature: s.temperature, top_k: s.topK, top_p: s.topP } : {}),
    repetition_penalty: s.repetitionPenalty,
    max_new_tokens: s.maxNewTokens,
  };
}

export interface HfOptions {
  /** Adds onnx/model.onnx(+_data) and the transformers.js config: a package transformers.js loads. */
  onnx?: boolean;
}

/** The Hugging Face folder (and, with `onnx`, the transformers.js package in the same folder). */
export function hfFolderFiles(src: ExportSource, o: HfOptions = {}): OutFile[] {
  const c = src.config;
  if (isLlama(c)) throw new Error(`the ${c.model_type} export is not wired yet`);
  const W = mergedWeights(src);
  const tensors = Object.fromEntries(gpt2Params(c).map((p) => [p.name, { shape: p.shape, data: W[p.name] }]));
  const config = {
    ...gpt2ConfigJson(c, src.eosId),
    ...(o.onnx ? { 'transformers.js_config': TRANSFORMERS_JS_CONFIG } : {}),
  };
  return [
    jsonFile('config.json', config),
    { path: 'model.safetensors', parts: safetensorsParts(tensors) },
    jsonFile('generation_config.json', generationConfig(src)),
    ...tokenizerFiles(src),
    textFile('README.md', modelCard(src, o)),
    textFile('loss.svg', lossCurveSvg(src.run.losses, src.run.evals)),
    ...(o.onnx ? gpt2OnnxFiles(c, W) : []),
  ];
}
