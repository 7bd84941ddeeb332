// Llama-family repos for tests, written as the Hub lays them out (nothing is downloaded): config.json,
// generation_config.json, the tokenizer files, and the weights as one model.safetensors or as shards with an
// index, with random weights from a seed. One variant per layout the loader must read:
//   smollm2  llama, GQA 4/2 heads, tied head, BF16, ChatML template (default system prompt) in tokenizer_config.json
//   qwen2    q/k/v biases, untied lm_head, vocab_size padded past the tokenizer, F32 (or BF16), eos ids a list
//   qwen3    q_norm/k_norm, head_dim 32 (not hidden / heads), the chat template in chat_template.jinja
//   llama3   rope_scaling llama3, eos ids a list, two shards + model.safetensors.index.json
// Tiny by default (hidden 64, 2 layers, a 1024-token tokenizer); `dims` gives any shape (SMOLLM2_135M), written
// tensor by tensor so a real-size file never sits in memory.
import { open, readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { TokenizerFiles } from '../data/tokenizer.js';
import type { Weights } from '../models/init.js';
import { llamaParams, parseLlamaConfig, type LlamaConfig } from '../models/llama-config.js';
import { llamaConfigJson } from '../models/llama-hf.js';
import type { ParamSpec } from '../models/gpt2.js';
import { Rng } from '../util/rng.js';
import { llama3Scaling } from './llama-configs.js';
import { CHAT_TEMPLATES, chatSpecialIds, chatTokenizerFiles, type ChatFormat } from './chat-tokenizers.js';

export type LlamaVariant = ChatFormat;
export const LLAMA_VARIANTS: readonly LlamaVariant[] = ['smollm2', 'qwen2', 'qwen3', 'llama3'];

export interface LlamaDims {
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  /** Absent: hidden / heads (qwen3's tiny default sets it apart). */
  headDim?: number;
  intermediate: number;
  /** The tokenizer's size (GPT-2's BPE cut down, the family's special tokens last); vocab_size for all but qwen2. */
  tokens: number;
  /** vocab_size when the embedding is padded past the tokenizer (Qwen2.5: 151,936 rows); default as above. */
  vocab?: number;
}

export const TINY_DIMS: LlamaDims = Object.freeze({
  hidden: 64,
  layers: 2,
  heads: 4,
  kvHeads: 2,
  intermediate: 128,
  tokens: 1024,
});

/** SmolLM2-135M's shape: 134,515,008 parameters, 269 MB as BF16. */
export const SMOLLM2_135M: LlamaDims = Object.freeze({
  hidden: 576,
  layers: 30,
  heads: 9,
  kvHeads: 3,
  intermediate: 1536,
  tokens: 49152,
});

/** Qwen2.5-0.5B's shape: 24 layers, 896 wide, 14 heads over 2 KV heads, a 151,936-row embedding padded past the
 * tokenizer (here GPT-2's 50,256 tokens and Qwen's specials); 494M parameters, 988 MB as BF16. */
export const QWEN25_05B: LlamaDims = Object.freeze({
  hidden: 896,
  layers: 24,
  heads: 14,
  kvHeads: 2,
  intermediate: 4864,
  tokens: 50259,
  vocab: 151936,
});

export interface LlamaFixtureOptions {
  seed?: number;
  dims?: LlamaDims;
  /** How the weights are stored (default: BF16, qwen2 F32). */
  dtype?: 'F32' | 'BF16';
  /** Keep every weight in `weights` (default true; false for a real-size fixture: regenerate with `weight`). */
  keepWeights?: boolean;
}

export interface LlamaFixture {
  dir: string;
  variant: LlamaVariant;
  config: LlamaConfig;
  /** Every parameter as the files hold it, in float32 (after BF16 rounding); empty when keepWeights is false. */
  weights: Weights;
  /** One parameter regenerated from the seed, the same values as `weights` holds. */
  weight(name: string): Float32Array;
  /** As written (qwen3's tokenizer_config.json has no chat_template: it is in chat_template.jinja). */
  tokenizer: TokenizerFiles;
  chatTemplate: string;
  /** generation_config.json's eos_token_id as a list. */
  eosIds: number[];
  /** The names written into dir. */
  files: string[];
}

interface Layout {
  model_type: LlamaConfig['model_type'];
  json: Record<string, unknown>;
  dtype: 'F32' | 'BF16';
  shards: number;
  jinja: boolean;
  bos: string | null;
  /** generation_config.json's eos_token_id: one token or a list. */
  eos: string | string[];
}

const LAYOUTS: Record<LlamaVariant, Layout> = {
  smollm2: {
    model_type: 'llama',
    json: { tie_word_embeddings: true, rope_theta: 100000, rms_norm_eps: 1e-5, max_position_embeddings: 8192 },
    dtype: 'BF16',
    shards: 1,
    jinja: false,
    bos: '<|im_start|>',
    eos: '<|im_end|>',
  },
  qwen2: {
    model_type: 'qwen2',
    json: { tie_word_embeddings: false, rope_theta: 1e6, rms_norm_eps: 1e-6, max_position_embeddings: 32768 },
    dtype: 'F32',
    shards: 1,
    jinja: false,
    bos: '<|endoftext|>',
    eos: ['<|im_end|>', '<|endoftext|>'],
  },
  qwen3: {
    model_type: 'qwen3',
    json: { tie_word_embeddings: true, rope_theta: 1e6, rms_norm_eps: 1e-6, max_position_embeddings: 40960 },
    dtype: 'BF16',
    shards: 1,
    jinja: true,
    bos: null,
    eos: ['<|im_end|>', '<|endoftext|>'],
  },
  llama3: {
    model_type: 'llama',
    json: {
      tie_word_embeddings: true,
      rope_theta: 500000,
      rms_norm_eps: 1e-5,
      max_position_embeddings: 131072,
      rope_scaling: llama3Scaling(32, 8192),
    },
    dtype: 'BF16',
    shards: 2,
    jinja: false,
    bos: '<|begin_of_text|>',
    eos: ['<|end_of_text|>', '<|eot_id|>'],
  },
};

/** Writes the variant's repo into dir (created when absent). */
export async function writeLlamaFixture(
  dir: string,
  variant: LlamaVariant,
  o: LlamaFixtureOptions = {},
): Promise<LlamaFixture> {
  const L = LAYOUTS[variant];
  const d = o.dims ?? (variant === 'qwen3' ? { ...TINY_DIMS, headDim: 32 } : TINY_DIMS);
  const seed = o.seed ?? 1;
  const dtype = o.dtype ?? L.dtype;
  const tokenizer = cutTokenizer(chatTokenizerFiles(variant, { template: !L.jinja }), variant, d.tokens);
  const ids = specialIds(variant, d.tokens);
  const config = parseLlamaConfig({
    ...L.json,
    model_type: L.model_type,
    hidden_size: d.hidden,
    num_hidden_layers: d.layers,
    num_attention_heads: d.heads,
    num_key_value_heads: d.kvHeads,
    ...(d.headDim ? { head_dim: d.headDim } : {}),
    intermediate_size: d.intermediate,
    // Qwen2.5 pads its embedding past the tokenizer (151936 rows for 151665 tokens)
    vocab_size: d.vocab ?? (variant === 'qwen2' ? (Math.floor(d.tokens / 64) + 1) * 64 : d.tokens),
  });
  const eosIds = (Array.isArray(L.eos) ? L.eos : [L.eos]).map((t) => ids[t]);
  const bos = L.bos === null ? null : ids[L.bos];
  const genEos = Array.isArray(L.eos) ? eosIds : eosIds[0];
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  const put = async (name: string, text: string) => {
    await writeFile(join(dir, name), text);
    files.push(name);
  };
  const torchDtype = dtype === 'BF16' ? 'bfloat16' : 'float32';
  await put(
    'config.json',
    JSON.stringify(llamaConfigJson(config, { bos_token_id: bos, eos_token_id: genEos, torch_dtype: torchDtype })),
  );
  await put('generation_config.json', JSON.stringify({ bos_token_id: bos, eos_token_id: genEos, do_sample: true }));
  await put('tokenizer.json', JSON.stringify(tokenizer.tokenizer));
  await put('tokenizer_config.json', JSON.stringify(tokenizer.config));
  if (L.jinja) await put('chat_template.jinja', CHAT_TEMPLATES[variant]);

  const specs = llamaParams(config);
  const weight = (name: string) => {
    const p = specs.find((s) => s.name === name);
    if (!p) throw new Error(`${variant} fixture: no parameter ${name}`);
    return fixtureValues(p, seed, dtype);
  };
  const weights: Weights = {};
  const keep = o.keepWeights ?? true;
  const shards = splitShards(specs, L.shards);
  const weightMap: Record<string, string> = {};
  let totalSize = 0;
  for (const [i, shard] of shards.entries()) {
    const name = L.shards === 1 ? 'model.safetensors' : `model-${pad5(i + 1)}-of-${pad5(L.shards)}.safetensors`;
    totalSize += await writeSafetensorsFile(join(dir, name), shard, dtype, (p) => {
      const v = fixtureValues(p, seed, dtype);
      if (keep) weights[p.name] = v;
      return v;
    });
    for (const p of shard) weightMap[p.name] = name;
    files.push(name);
  }
  if (L.shards > 1)
    await put(
      'model.safetensors.index.json',
      JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }, null, 2),
    );
  return { dir, variant, config, weights, weight, tokenizer, chatTemplate: CHAT_TEMPLATES[variant], eosIds, files };
}

/** A folder's files by name, for the stand-in Hub (tiny fixtures only: every file is read whole). */
export async function folderFiles(dir: string): Promise<Record<string, Uint8Array>> {
  const out: Record<string, Uint8Array> = {};
  for (const f of await readdir(dir)) out[f] = new Uint8Array(await readFile(join(dir, f)));
  return out;
}

/** The special tokens' ids after cutTokenizer: the last ids of a `size`-token vocabulary. */
export function specialIds(variant: LlamaVariant, size: number): Record<string, number> {
  const full = chatSpecialIds(variant);
  const k = Object.keys(full).length;
  return Object.fromEntries(Object.entries(full).map(([t, id]) => [t, id - 50256 + size - k]));
}

const pad5 = (n: number) => String(n).padStart(5, '0');

/**
 * The chat tokenizer cut to `size` tokens: GPT-2's tokens below size - k and only the merges among them (still a
 * byte-level BPE that encodes any text: the 256 byte tokens stay), then the k special tokens.
 */
function cutTokenizer(files: TokenizerFiles, variant: LlamaVariant, size: number): TokenizerFiles {
  const tok = structuredClone(files.tokenizer) as {
    added_tokens: { id: number; content: string }[];
    model: { vocab: Record<string, number>; merges: string[] };
  };
  const k = tok.added_tokens.length;
  const cut = size - k;
  if (cut < 256) throw new Error(`${variant} fixture: ${size} tokens leave no room for the 256 byte tokens`);
  const vocab = Object.fromEntries(Object.entries(tok.model.vocab).filter(([, id]) => id < cut));
  tok.model.vocab = vocab;
  tok.model.merges = tok.model.merges.filter((m) => {
    const [a, b] = m.split(' ');
    return a in vocab && b in vocab && a + b in vocab;
  });
  const ids = specialIds(variant, size);
  for (const t of tok.added_tokens) t.id = ids[t.content];
  const config = { ...files.config };
  config.added_tokens_decoder = Object.fromEntries(
    tok.added_tokens.map((t) => [
      String(t.id),
      { content: t.content, special: true, normalized: false, lstrip: false, rstrip: false, single_word: false },
    ]),
  );
  return { tokenizer: tok, config };
}

/** The specs split into `n` runs of about equal bytes, in order. */
function splitShards(specs: readonly ParamSpec[], n: number): ParamSpec[][] {
  const size = (p: ParamSpec) => p.shape.reduce((a, b) => a * b, 1);
  const total = specs.reduce((s, p) => s + size(p), 0);
  const out: ParamSpec[][] = Array.from({ length: n }, () => []);
  let seen = 0;
  for (const p of specs) {
    out[Math.min(n - 1, Math.floor((seen * n) / total))].push(p);
    seen += size(p);
  }
  return out.filter((s) => s.length);
}

/** FNV-1a of the name, so each tensor's values depend on the seed and its name only (any order, any subset). */
function tensorSeed(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Matrices N(0, 0.02), norms 1 + N(0, 0.1), biases N(0, 0.02): rounded to BF16 when stored so. */
function fixtureValues(p: ParamSpec, seed: number, dtype: 'F32' | 'BF16'): Float32Array {
  const r = new Rng(tensorSeed(seed, p.name));
  const n = p.shape.reduce((a, b) => a * b, 1);
  const norm = p.name.endsWith('norm.weight');
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = norm ? 1 + 0.1 * r.normal() : 0.02 * r.normal();
  if (dtype === 'BF16') {
    const u = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) u[i] = (bf16Bits(u[i]) << 16) >>> 0;
  }
  return out;
}

/** float32 bits to bfloat16 bits, rounding to nearest even (what torch's .to(torch.bfloat16) does). */
const bf16Bits = (f32: number) => ((f32 + 0x7fff + ((f32 >>> 16) & 1)) >>> 16) & 0xffff;

/**
 * A safetensors file written tensor by tensor (the header first, from the shapes): only one tensor is ever in
 * memory. Returns the bytes of tensor data written.
 */
async function writeSafetensorsFile(
  path: string,
  specs: readonly ParamSpec[],
  dtype: 'F32' | 'BF16',
  values: (p: ParamSpec) => Float32Array,
): Promise<number> {
  const bytes = dtype === 'BF16' ? 2 : 4;
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let off = 0;
  for (const p of specs) {
    const size = p.shape.reduce((a, b) => a * b, 1) * bytes;
    header[p.name] = { dtype, shape: p.shape, data_offsets: [off, off + size] };
    off += size;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // the reference writer pads the header to 8 bytes
  const head = new Uint8Array(8 + json.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(json.length), true);
  head.set(new TextEncoder().encode(json), 8);
  const fh = await open(path, 'w');
  try {
    await fh.write(head);
    for (const p of specs) {
      const v = values(p);
      if (dtype === 'F32') await fh.write(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
      else {
        const u = new Uint32Array(v.buffer, v.byteOffset, v.length);
        const h = new Uint16Array(v.length);
        for (let i = 0; i < v.length; i++) h[i] = u[i] >>> 16; // already rounded: the upper half is the BF16
        await fh.write(new Uint8Array(h.buffer));
      }
    }
  } finally {
    await fh.close();
  }
  return off;
}
