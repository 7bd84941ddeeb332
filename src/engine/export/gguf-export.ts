// The GGUF export: one file per type asked for (<name>-F32.gguf, -F16, -Q8_0, -Q4_K_M) as llama.cpp's converter
// and llama-quantize write them, with the tokenizer (tokenizer.ggml.*) and the run's chat template, and an Ollama
// Modelfile beside them (modelfile.ts). Norms, biases, 1-D tensors and GPT-2's position table stay float32 in
// every type (as the converter keeps them); Q4_K_M's mix of Q4_K and Q6_K is llama-quantize's, and a tensor whose
// rows are not whole blocks (32 for Q8_0 and Q5_0, 256 for the K types) falls back as llama-quantize does.
import { familyOf } from '../models/family.js';
import type { OutFile } from '../util/files.js';
import { ggufFile, GGML_TYPES, str, u32, bool, type GgmlType, type GgufTensor, type GgufValue } from './gguf.js';
import { encodeTensor } from './gguf-quant.js';
import { modelfile } from './modelfile.js';
import { mergedWeights, specialIds, type ExportSource } from './source.js';

export const GGUF_TYPES = ['f32', 'f16', 'q8_0', 'q4_k_m'] as const;
export type GgufType = (typeof GGUF_TYPES)[number];

const FILE_TYPE: Record<GgufType, { id: number; label: string }> = {
  f32: { id: 0, label: 'F32' },
  f16: { id: 1, label: 'F16' },
  q8_0: { id: 7, label: 'Q8_0' },
  q4_k_m: { id: 15, label: 'Q4_K_M' },
};

/** `f16,q8_0` as GGUF types, or an error naming the one that is not. */
export function parseGgufTypes(list: string): GgufType[] {
  const out = list.split(',').map((s) => s.trim().toLowerCase());
  for (const t of out)
    if (!(GGUF_TYPES as readonly string[]).includes(t))
      throw new RangeError(`--gguf: "${t}" is not a GGUF type this export writes; use ${GGUF_TYPES.join(', ')}`);
  return [...new Set(out)] as GgufType[];
}

/** llama-quantize's use_more_bits: the first and last eighth of the layers and every third between. */
const moreBits = (i: number, n: number) => i < n / 8 || i >= (7 * n) / 8 || (i - Math.floor(n / 8)) % 3 === 2;

/**
 * The ggml type a tensor gets in a file of `t`: llama-quantize's choice for Q4_K_M (llama_tensor_get_type): Q4_K,
 * and Q6_K for the output head (token_embd when the head is tied) and for attn_v (GPT-2's attn_qkv) and ffn_down in
 * the layers use_more_bits picks; rows that are not whole blocks fall back as it does (Q4_K to Q5_0, Q6_K to Q8_0,
 * then F16).
 */
function tensorType(
  name: string,
  shape: readonly number[],
  t: GgufType,
  layers: number,
  tiedOutput: boolean,
): GgmlType {
  const keep =
    shape.length < 2 || !name.endsWith('.weight') || name.endsWith('_norm.weight') || name === 'position_embd.weight';
  if (keep || t === 'f32') return 'F32';
  const inner = shape[shape.length - 1];
  const FALLBACK: Partial<Record<GgmlType, GgmlType>> = { Q4_K: 'Q5_0', Q6_K: 'Q8_0', Q5_0: 'F16', Q8_0: 'F16' };
  const fit = (want: GgmlType): GgmlType =>
    inner % GGML_TYPES[want].block === 0 ? want : fit(FALLBACK[want] ?? 'F16');
  if (t === 'f16') return 'F16';
  if (t === 'q8_0') return fit('Q8_0');
  const layer = /^blk\.(\d+)\./.exec(name);
  const isOutput = name === 'output.weight' || (tiedOutput && name === 'token_embd.weight');
  const vOrDown = /\.(attn_v|attn_qkv|ffn_down)\.weight$/.test(name) && layer && moreBits(Number(layer[1]), layers);
  return fit(isOutput || vOrDown ? 'Q6_K' : 'Q4_K');
}

/**
 * llama.cpp's pre-tokenizer for what the tokenizer's own pre_tokenizer does (the converter tells them apart by
 * hashing a test string's tokens): GPT-2's byte-level regex alone ('gpt-2'), with single digits split first
 * (SmolLM's, 'smollm'), or a Split regex: Llama 3's (digits in threes, 'llama-bpe') or Qwen2's (single digits).
 */
function preTokenizer(files: ExportSource['tokenizer']): string {
  type Pre = { type?: string; pretokenizers?: Pre[]; pattern?: { Regex?: string } } | null | undefined;
  const pre = files.tokenizer.pre_tokenizer as Pre;
  const parts = pre?.type === 'Sequence' ? (pre.pretokenizers ?? []) : [pre];
  const split = parts.find((p) => p?.type === 'Split');
  if (!split) return parts.some((p) => p?.type === 'Digits') ? 'smollm' : 'gpt-2';
  const regex = split.pattern?.Regex ?? '';
  if (regex.includes('\\p{N}{1,3}')) return 'llama-bpe';
  if (regex.includes('\\p{N}')) return 'qwen2';
  throw new RangeError(
    `GGUF: the tokenizer splits text by a regex llama.cpp has no pre-tokenizer for (${regex.slice(0, 60)}...)`,
  );
}

/** tokenizer.ggml.*: every id up to the model's vocab_size (gaps as [PAD{id}], unused), types, merges, specials. */
function tokenizerMetadata(src: ExportSource): [string, GgufValue][] {
  const files = src.tokenizer;
  const model = files.tokenizer.model as {
    type?: string;
    vocab: Record<string, number>;
    merges: (string | string[])[];
  };
  if (model.type !== undefined && model.type !== 'BPE')
    throw new RangeError(`GGUF: the tokenizer is ${model.type}; this export writes byte-level BPE tokenizers only`);
  const V = familyOf(src.config).vocabSize(src.config);
  const tokens: string[] = new Array<string>(V);
  const types = new Array<number>(V).fill(1);
  for (const [t, id] of Object.entries(model.vocab)) if (id < V) tokens[id] = t;
  const added = (files.tokenizer.added_tokens ?? []) as { id: number; content: string; special?: boolean }[];
  for (const a of added)
    if (a.id < V) {
      tokens[a.id] = a.content;
      types[a.id] = a.special || /^<\|.*\|>$/.test(a.content) ? 3 : 4;
    }
  const seen = new Map<string, number>();
  for (let i = 0; i < V; i++) {
    if (tokens[i] === undefined) {
      tokens[i] = `[PAD${i}]`;
      types[i] = 5;
    }
    const before = seen.get(tokens[i]);
    if (before !== undefined)
      throw new RangeError(
        `GGUF: the tokenizer maps "${tokens[i]}" to ids ${before} and ${i}; llama.cpp needs each token once`,
      );
    seen.set(tokens[i], i);
  }
  const ids = specialIds(src);
  const cfg = files.config;
  const post = files.tokenizer.post_processor as { type?: string; single?: unknown[] } | null | undefined;
  const addsBos =
    typeof cfg.add_bos_token === 'boolean'
      ? cfg.add_bos_token
      : post?.type === 'TemplateProcessing' &&
        !!post.single?.some((p) => typeof p === 'object' && p && 'SpecialToken' in p);
  const entries: [string, GgufValue][] = [
    ['tokenizer.ggml.model', str('gpt2')],
    ['tokenizer.ggml.pre', str(preTokenizer(files))],
    ['tokenizer.ggml.tokens', { type: 'array', of: 'string', value: tokens }],
    ['tokenizer.ggml.token_type', { type: 'array', of: 'i32', value: types }],
    [
      'tokenizer.ggml.merges',
      { type: 'array', of: 'string', value: model.merges.map((m) => (Array.isArray(m) ? m.join(' ') : m)) },
    ],
  ];
  if (ids.bos !== null) entries.push(['tokenizer.ggml.bos_token_id', u32(ids.bos)]);
  entries.push(['tokenizer.ggml.eos_token_id', u32(ids.eos[0])]);
  if (ids.pad !== null) entries.push(['tokenizer.ggml.padding_token_id', u32(ids.pad)]);
  entries.push(
    ['tokenizer.ggml.add_bos_token', bool(addsBos)],
    ['tokenizer.chat_template', str(src.run.data.template)],
  );
  return entries;
}

/** One GGUF file per type, named <name>-<TYPE>.gguf, and the Modelfile naming the first. */
export function ggufFiles(src: ExportSource, kinds: readonly GgufType[], name: string): OutFile[] {
  const c = src.config;
  const f = familyOf(c);
  const model = f.gguf(c, mergedWeights(src));
  const tied = !model.tensors.some((t) => t.name === 'output.weight');
  const tokenizer = tokenizerMetadata(src);
  const files = kinds.map((k) => {
    const meta = new Map<string, GgufValue>([
      ['general.architecture', str(model.arch)],
      ['general.type', str('model')],
      ['general.name', str(name)],
      ['general.file_type', u32(FILE_TYPE[k].id)],
      ['general.quantization_version', u32(2)],
    ]);
    for (const m of model.metadata)
      meta.set(m.key, m.type === 'string' ? str(m.value) : { type: m.type, value: m.value });
    for (const [key, v] of tokenizer) meta.set(key, v);
    const tensors: GgufTensor[] = model.tensors.map((t) => {
      const type = tensorType(t.name, t.shape, k, f.layers(c), tied);
      return { name: t.name, shape: t.shape, type, data: encodeTensor(t.data, type) };
    });
    return ggufFile(`${name}-${FILE_TYPE[k].label}.gguf`, meta, tensors);
  });
  return [...files, modelfile(src, files[0].path)];
}
