// The tokenizer files of an export: tokenizer.json, tokenizer_config.json carrying the run's chat template,
// special_tokens_map.json, and the older vocab.json + merges.txt pair that some loaders still read.
import { EOS_TOKEN, Tokenizer, type TokenizerFiles } from '../data/tokenizer.js';
import { isLlama } from '../models/config.js';
import { jsonFile, textFile, type OutFile } from '../util/files.js';
import type { ExportSource } from './source.js';

export function vocabAndMerges(tok: TokenizerFiles): OutFile[] {
  const model = tok.tokenizer.model as { vocab: Record<string, number>; merges: (string | string[])[] };
  const merges = model.merges.map((m) => (Array.isArray(m) ? m.join(' ') : m));
  return [
    textFile('vocab.json', JSON.stringify(model.vocab)),
    textFile('merges.txt', `#version: 0.2\n${merges.join('\n')}\n`),
  ];
}

/**
 * The tokenizer files, tokenizer_config.json carrying the run's chat template. GPT-2 pads with end-of-text (its
 * Hub tokenizer has no pad token); a Llama-family tokenizer keeps its own special tokens as the repo set them.
 */
export function tokenizerFiles(src: ExportSource): OutFile[] {
  const gpt2 = !isLlama(src.config);
  const tok = new Tokenizer(src.tokenizer);
  const specials = gpt2
    ? { bos_token: EOS_TOKEN, eos_token: EOS_TOKEN, unk_token: EOS_TOKEN, pad_token: EOS_TOKEN }
    : tok.specialTokens;
  return [
    textFile('tokenizer.json', JSON.stringify(src.tokenizer.tokenizer)),
    jsonFile('tokenizer_config.json', {
      ...src.tokenizer.config,
      ...(gpt2 ? { pad_token: EOS_TOKEN } : {}),
      chat_template: src.run.data.template,
    }),
    jsonFile('special_tokens_map.json', specials),
    ...(gpt2 ? vocabAndMerges(src.tokenizer) : []),
  ];
}
