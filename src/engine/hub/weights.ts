// A checkpoint's weights from a repo's files: model.safetensors, or, when a repo has none, the shards its
// model.safetensors.index.json names (weight_map: tensor -> shard), read one after the other. Each file is streamed
// as it comes from its source (a download into the cache, the cache, a local folder), so memory holds the parsed
// weights and a chunk, never a file as one buffer. Then the family maps the tensors onto its parameter names.
import * as v from 'valibot';
import { isLlama, type ModelConfig } from '../models/config.js';
import { gpt2WeightsFromTensors, ModelFormatError } from '../models/hf.js';
import type { Weights } from '../models/init.js';
import { isLlamaBuffer, llamaWeightsFromTensors } from '../models/llama-hf.js';
import { readJsonFile } from '../util/json.js';
import type { F32Tensor } from '../util/tensor.js';
import type { FileReader } from './cache.js';
import { readSafetensorsStream } from './safetensors.js';

export const INDEX_FILE = 'model.safetensors.index.json';

/** Where a model's files come from: the Hub through its cache, the cache alone (imported models), a local folder. */
export interface ModelFileSource {
  /** A small file's bytes; null when optional and absent. */
  get(file: string, optional?: boolean): Promise<Uint8Array | null>;
  /** A file as chunks, never one buffer; null when optional and absent. */
  open(file: string, optional?: boolean): Promise<FileReader | null>;
  /** Whether a file is at hand without a request (the Hub's cache); absent: every file is at hand (a folder). */
  cached?(file: string): Promise<boolean>;
}

const SHARD_NAME = /^[\w.-]+\.safetensors$/; // a file beside the index, never a path out of the repo
const formatError = (m: string) => new ModelFormatError(m);

/** model.safetensors.index.json: which shard holds each tensor (metadata.total_size is not needed). */
const INDEX = v.looseObject({
  weight_map: v.record(
    v.string(),
    v.pipe(
      v.string(),
      v.regex(SHARD_NAME, (i) => `expected a shard file name beside the index, got ${JSON.stringify(i.input)}`),
    ),
    (i) => `expected an object of tensor -> shard file, got ${JSON.stringify(i.input)}`,
  ),
});

/** The shard files an index names, each once, in name order. */
export function shardNames(indexBytes: Uint8Array, file: string): string[] {
  const { weight_map } = readJsonFile(indexBytes, file, INDEX, formatError);
  return [...new Set(Object.values(weight_map))].sort();
}

/** Buffers a checkpoint may carry that are not parameters: never converted, never kept. */
const isBuffer = (c: ModelConfig) => (isLlama(c) ? isLlamaBuffer : (n: string) => /\.attn\.(masked_)?bias$/.test(n));

/** The weights of `config`'s model from model.safetensors or the shards of model.safetensors.index.json. */
export async function readModelWeights(src: ModelFileSource, repo: string, config: ModelConfig): Promise<Weights> {
  const skip = isBuffer(config);
  // a sharded repo in the cache: straight to its index, so no request for the model.safetensors it lacks (offline too)
  const sharded = src.cached && !(await src.cached('model.safetensors')) && (await src.cached(INDEX_FILE));
  const single = sharded ? null : await src.open('model.safetensors', true);
  if (single) {
    const file = `${repo}/model.safetensors`;
    const tensors = await readSafetensorsStream(single.chunks(), single.size, file, (n) => !skip(n));
    return isLlama(config)
      ? llamaWeightsFromTensors(config, tensors, file)
      : gpt2WeightsFromTensors(config, tensors, file);
  }
  const indexBytes = await src.get(INDEX_FILE, true);
  if (!indexBytes)
    throw new ModelFormatError(
      `${repo} has neither model.safetensors nor ${INDEX_FILE}; only safetensors checkpoints load here (convert a pytorch_model.bin with transformers' save_pretrained)`,
    );
  const indexFile = `${repo}/${INDEX_FILE}`;
  const { weight_map } = readJsonFile(indexBytes, indexFile, INDEX, formatError);
  const byShard = new Map<string, string[]>();
  for (const [tensor, shard] of Object.entries(weight_map)) {
    if (skip(tensor)) continue;
    const names = byShard.get(shard) ?? [];
    names.push(tensor);
    byShard.set(shard, names);
  }
  const tensors = new Map<string, F32Tensor>();
  const shardOf = new Map<string, string>();
  for (const [shard, names] of [...byShard].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const r = await src.open(shard, true);
    if (!r)
      throw new ModelFormatError(
        `${indexFile}: weight_map puts ${names.length} tensor(s) (${names[0]}, ...) in ${shard}, but ${repo} has no file ${shard}`,
      );
    const wanted = new Set(names);
    const file = `${repo}/${shard}`;
    const got = await readSafetensorsStream(r.chunks(), r.size, file, (n) => wanted.has(n));
    const lost = names.filter((n) => !got.has(n));
    if (lost.length)
      throw new ModelFormatError(
        `${file}: has no tensor ${lost[0]}${lost.length > 1 ? ` (nor ${lost.length - 1} more)` : ''}, though ${INDEX_FILE} puts it in this shard`,
      );
    for (const [n, t] of got) {
      tensors.set(n, t);
      shardOf.set(n, file);
    }
  }
  if (isLlama(config)) return llamaWeightsFromTensors(config, tensors, indexFile, (n) => shardOf.get(n) ?? indexFile);
  return gpt2WeightsFromTensors(config, tensors, indexFile);
}
