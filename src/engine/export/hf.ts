// A Hugging Face model folder (config.json, model.safetensors with LoRA merged in, the tokenizer with the chat
// template the run trained with, generation_config.json, a model card with the loss curve), loadable by
// transformers' AutoModelForCausalLM.from_pretrained and AutoTokenizer; with `onnx`, the transformers.js package too.
import { safetensorsParts, type StoredDtype } from '../hub/safetensors.js';
import { isLlama } from '../models/config.js';
import { familyOf } from '../models/family.js';
import { jsonFile, textFile, type OutFile } from '../util/files.js';
import { modelCard } from './model-card.js';
import { mergedWeights, specialIds, type ExportSource } from './source.js';
import { lossCurveSvg } from './svg.js';
import { tokenizerFiles } from './tokenizer-files.js';

/**
 * generation_config.json: the end ids (one or a list: transformers and transformers.js stop at any), bos and pad
 * (GPT-2: end-of-text for all three, as the Hub's gpt2 has it), and the chat's sampling defaults.
 */
export function generationConfig(src: ExportSource): Record<string, unknown> {
  const s = src.sampling;
  const ids = specialIds(src);
  const gpt2 = !isLlama(src.config);
  return {
    bos_token_id: gpt2 ? src.eosId : ids.bos,
    eos_token_id: ids.eos.length === 1 ? ids.eos[0] : ids.eos,
    pad_token_id: gpt2 ? src.eosId : (ids.pad ?? ids.eos[0]),
    do_sample: s.temperature > 0,
    ...(s.temperature > 0 ? { temperature: s.temperature, top_k: s.topK, top_p: s.topP } : {}),
    repetition_penalty: s.repetitionPenalty,
    max_new_tokens: s.maxNewTokens,
  };
}

export interface HfOptions {
  /** Adds onnx/model.onnx(+_data) and the transformers.js config: a package transformers.js loads. */
  onnx?: boolean;
  /** model.safetensors' dtype: F32 (the float32 the run ends with, default), or BF16 / F16 for half the size. */
  dtype?: StoredDtype;
}

/** The Hugging Face folder (and, with `onnx`, the transformers.js package in the same folder). */
export function hfFolderFiles(src: ExportSource, o: HfOptions = {}): OutFile[] {
  const c = src.config;
  const f = familyOf(c);
  const W = mergedWeights(src);
  const tensors = Object.fromEntries(f.params(c).map((p) => [p.name, { shape: p.shape, data: W[p.name] }]));
  const ids = specialIds(src);
  const config = {
    ...f.configJson(c, ids),
    torch_dtype: { F32: 'float32', BF16: 'bfloat16', F16: 'float16' }[o.dtype ?? 'F32'],
    ...(o.onnx ? f.transformersJsConfig(c, ids) : {}),
  };
  return [
    jsonFile('config.json', config),
    { path: 'model.safetensors', parts: safetensorsParts(tensors, undefined, o.dtype) },
    jsonFile('generation_config.json', generationConfig(src)),
    ...tokenizerFiles(src),
    textFile('README.md', modelCard(src, o)),
    textFile('loss.svg', lossCurveSvg(src.run.losses, src.run.evals)),
    ...(o.onnx ? f.onnxFiles(c, W) : []),
  ];
}
