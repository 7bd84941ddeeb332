// A Hugging Face model folder: config.json, model.safetensors, generation_config.json and the tokenizer files,
// loadable by transformers' GPT2LMHeadModel.from_pretrained and AutoTokenizer. LoRA runs are merged into the
// base weights here (Conv1D layout: W[in, out] += (alpha/r) A^T B^T).
import { gpt2Params, type GPT2Config } from '../models/gpt2.js';
import type { LoraConfig } from '../models/lora.js';
import { gpt2ConfigJson } from '../models/hf.js';
import type { Weights } from '../models/init.js';
import { writeSafetensors } from '../hub/safetensors.js';
import type { TokenizerFiles } from '../data/tokenizer.js';

export type FolderFiles = Record<string, Uint8Array | string>;

export function mergeLora(c: GPT2Config, l: LoraConfig, W: Weights): Weights {
  const out: Weights = {};
  for (const p of gpt2Params(c)) out[p.name] = W[p.name];
  const scale = l.alpha / l.rank;
  for (let i = 0; i < c.n_layer; i++) {
    for (const t of l.targets) {
      const base = `transformer.h.${i}.${t}`;
      const A = W[`${base}.lora_A.weight`]; // (r, in)
      const B = W[`${base}.lora_B.weight`]; // (out, r)
      const Wb = out[`${base}.weight`]; // (in, out)
      const nout = B.length / l.rank;
      const nin = A.length / l.rank;
      const merged = Wb.slice();
      for (let a = 0; a < nin; a++) {
        for (let o = 0; o < nout; o++) {
          let s = 0;
          for (let r = 0; r < l.rank; r++) s += A[r * nin + a] * B[o * l.rank + r];
          merged[a * nout + o] += scale * s;
        }
      }
      out[`${base}.weight`] = merged;
    }
  }
  return out;
}

export function vocabAndMerges(tok: TokenizerFiles): { 'vocab.json': string; 'merges.txt': string } {
  const model = tok.tokenizer.model as { vocab: Record<string, number>; merges: string[] };
  return { 'vocab.json': JSON.stringify(model.vocab), 'merges.txt': `#version: 0.2\n${model.merges.join('\n')}\n` };
}

export function hfFolder(c: GPT2Config, W: Weights, tok: TokenizerFiles, eosId: number): FolderFiles {
  const tensors = Object.fromEntries(gpt2Params(c).map((p) => [p.name, { shape: p.shape, data: W[p.name] }]));
  return {
    'config.json': JSON.stringify(gpt2ConfigJson(c, eosId), null, 2),
    'model.safetensors': writeSafetensors(tensors),
    'generation_config.json': JSON.stringify({ bos_token_id: eosId, eos_token_id: eosId }, null, 2),
    'tokenizer.json': JSON.stringify(tok.tokenizer),
    'tokenizer_config.json': JSON.stringify(tok.config, null, 2),
    'special_tokens_map.json': JSON.stringify({ bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>' }, null, 2),
    ...vocabAndMerges(tok),
  };
}
