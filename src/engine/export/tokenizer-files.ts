// The tokenizer files of an export: tokenizer.json, tokenizer_config.json carrying the run's chat template,
// special_tokens_map.json, and the older vocab.json + merges.txt pair that some loaders still read.
import { EOS_TOKEN, type TokenizerFiles } from '../data/tokenizer.js';
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

/** The tokenizer files, tokenizer_config.json carrying the run's chat template. */
export function tokenizerFiles(src: ExportSource): OutFile[] {
  return [
    textFile('tokenizer.json', JSON.stringify(src.tokenizer.tokenizer)),
    jsonFile('tokenizer_config.json', {
      ...src.tokenizer.config,
      pad_token: EOS_TOKEN,
      chat_template: src.run.data.template,
    }),
    jsonFile('special_tokens_map.json', {
      bos_token: EOS_TOKEN,
      eos_token: EOS_TOKEN,
      unk_token: EOS_TOKEN,
      pad_token: EOS_TOKEN,
    }),
    ...vocabAndMerges(src.tokenizer),
  ];
}
