// A model's files from the Hub, the cache or a folder, for any supported family: config.json first (so a model
// type that is not supported is refused before the big download), the tokenizer, generation_config.json when
// present, then the weights (weights.ts: model.safetensors or an index's shards, F32/F16/BF16, streamed: the
// worker holds the parsed weights and one chunk, never a file as one buffer). The chat template ends up in one
// place, the tokenizer config's chat_template, wherever the repo keeps it; the end-of-sequence ids in eosIds.
import * as v from 'valibot';
import { gpt2TokenizerFiles, type TokenizerFiles } from '../data/tokenizer.js';
import { isLlama, parseModelConfig, type ModelConfig } from '../models/config.js';
import type { GPT2Config } from '../models/gpt2.js';
import { ModelFormatError, parseGpt2Config } from '../models/hf.js';
import type { Weights } from '../models/init.js';
import { parseJsonFile, readJsonFile } from '../util/json.js';
import { readWhole, type HubCache } from './cache.js';
import { HubError, type HubClient, type Progress } from './client.js';
import { GENERATION_CONFIG, TOKENIZER_CONFIG, TOKENIZER_JSON } from './schemas.js';
import { INDEX_FILE, readModelWeights, shardNames, type ModelFileSource } from './weights.js';

export type { ModelFileSource } from './weights.js';
/** The name callers used before the Llama family; the same source. */
export type Gpt2FileSource = ModelFileSource;

export type GenerationConfig = v.InferOutput<typeof GENERATION_CONFIG>;

export interface ModelFiles<C extends ModelConfig = ModelConfig> {
  repo: string;
  revision: string;
  config: C;
  weights: Weights;
  /** chat_template in config, whether the repo had it in tokenizer_config.json or in chat_template.jinja. */
  tokenizer: TokenizerFiles;
  generationConfig: GenerationConfig | null;
  /** Every id that ends a reply: generation_config.json's eos_token_id (one or a list), else config.json's, else the tokenizer's eos_token. */
  eosIds: number[];
}

/** A GPT-2 as loadGpt2 gives it. */
export type HubModel = ModelFiles<GPT2Config>;

export interface HubLoadOptions {
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}

/** A repo's files through the Hub client: from its cache, or downloaded into it. */
export function hubSource(hub: HubClient, repo: string, revision: string, o: HubLoadOptions = {}): ModelFileSource {
  return {
    get: (file, optional = false) => hub.file(repo, revision, file, { ...o, optional }),
    open: (file, optional = false) => hub.open(repo, revision, file, { ...o, optional }),
    cached: (file) => hub.cached(repo, revision, file),
  };
}

/** A repo's files from the cache alone (an imported model): no request is ever made. */
export function cachedSource(cache: HubCache, endpoint: string, repo: string, revision: string): ModelFileSource {
  const open = async (file: string, optional = false) => {
    const r = await cache.open(`${endpoint}/${repo}@${revision}/${file}`);
    if (!r && !optional) throw new Error(`${repo}: ${file} is missing from the stored model; import it again`);
    return r ?? null;
  };
  return {
    get: async (file, optional) => {
      const r = await open(file, optional);
      return r && readWhole(r);
    },
    open,
  };
}

/**
 * What a repo's weights download: model.safetensors' size from a HEAD, or, for a sharded repo, its index (a small
 * file, kept in the cache) and a HEAD of each shard. Null when the Hub does not say a size.
 */
export async function hubWeightsBytes(hub: HubClient, repo: string, revision: string): Promise<number | null> {
  try {
    return await hub.size(repo, revision, 'model.safetensors');
  } catch (e) {
    if (!(e instanceof HubError) || e.code !== 'NOT_FOUND') throw e;
  }
  const index = await hub.file(repo, revision, INDEX_FILE, { optional: true });
  if (!index)
    throw new ModelFormatError(
      `${repo} has neither model.safetensors nor ${INDEX_FILE}; only safetensors checkpoints load here`,
    );
  let total = 0;
  for (const shard of shardNames(index, `${repo}/${INDEX_FILE}`)) {
    const n = await hub.size(repo, revision, shard);
    if (n === null) return null;
    total += n;
  }
  return total;
}

/** A model of any supported family from the Hub (through the cache). */
export function loadHubModel(hub: HubClient, repo: string, revision = 'main', o: HubLoadOptions = {}) {
  return loadModelFiles(hubSource(hub, repo, revision, o), repo, revision);
}

/** A model of any supported family whose files are all in the cache already (an imported one). */
export function loadCachedModel(cache: HubCache, endpoint: string, repo: string, revision: string) {
  return loadModelFiles(cachedSource(cache, endpoint, repo, revision), repo, revision);
}

/** A model of any supported family (parseModelConfig: GPT-2, Llama, Qwen2, Qwen3) from a file source. */
export function loadModelFiles(src: ModelFileSource, repo: string, revision: string): Promise<ModelFiles> {
  return load(src, repo, revision, parseModelConfig);
}

/** A GPT-2 from the Hub; any other model type is refused as only GPT-2 trains here (as before the Llama family). */
export function loadHubGpt2(hub: HubClient, repo: string, revision = 'main', o: HubLoadOptions = {}) {
  return loadGpt2(hubSource(hub, repo, revision, o), repo, revision);
}

/** A GPT-2 whose files are all in the cache already (an imported one): no request is ever made. */
export function loadCachedGpt2(cache: HubCache, endpoint: string, repo: string, revision: string) {
  return loadGpt2(cachedSource(cache, endpoint, repo, revision), repo, revision);
}

export function loadGpt2(src: ModelFileSource, repo: string, revision: string): Promise<HubModel> {
  return load(src, repo, revision, parseGpt2Config);
}

async function load<C extends ModelConfig>(
  src: ModelFileSource,
  repo: string,
  revision: string,
  parse: (json: unknown, file: string) => C,
): Promise<ModelFiles<C>> {
  const configFile = `${repo}/config.json`;
  const configJson = parseJsonFile((await src.get('config.json'))!, configFile);
  const config = parse(configJson, configFile);
  const tokenizer = isLlama(config)
    ? await llamaTokenizer(src, repo, config.model_type)
    : await gpt2Tokenizer(src, repo);
  const gen = await src.get('generation_config.json', true);
  const generationConfig = gen ? readJsonFile(gen, `${repo}/generation_config.json`, GENERATION_CONFIG) : null;
  const eosIds = endIds(repo, generationConfig, configJson as Record<string, unknown>, tokenizer);
  const weights = await readModelWeights(src, repo, config);
  return { repo, revision, config, weights, tokenizer, generationConfig, eosIds };
}

/** GPT-2's tokenizer: tokenizer.json + tokenizer_config.json, or the older vocab.json + merges.txt. */
async function gpt2Tokenizer(src: ModelFileSource, repo: string): Promise<TokenizerFiles> {
  const tokJson = await src.get('tokenizer.json', true);
  if (tokJson) {
    const cfg = await src.get('tokenizer_config.json', true);
    return {
      tokenizer: readJsonFile(tokJson, `${repo}/tokenizer.json`, TOKENIZER_JSON),
      config: cfg
        ? readJsonFile(cfg, `${repo}/tokenizer_config.json`, TOKENIZER_CONFIG)
        : gpt2TokenizerFiles({ '<|endoftext|>': 50256 }, '').config,
    };
  }
  const vocab = await src.get('vocab.json');
  const merges = await src.get('merges.txt');
  return gpt2TokenizerFiles(
    readJsonFile(vocab!, `${repo}/vocab.json`, v.record(v.string(), v.number())),
    new TextDecoder().decode(merges!),
  );
}

/**
 * The Llama family's tokenizer: tokenizer.json and tokenizer_config.json, both required (no family here ships the
 * old vocab files, and the special tokens live in the config). The chat template from tokenizer_config.json, or
 * else chat_template.jinja (what transformers writes since 4.5x). GPT-2 does not look for the .jinja file: a repo
 * without one would ask the Hub for it on every load, even when everything else is cached.
 */
async function llamaTokenizer(src: ModelFileSource, repo: string, type: string): Promise<TokenizerFiles> {
  const required = async (file: string, what: string) => {
    const b = await src.get(file, true);
    if (!b) throw new ModelFormatError(`${repo} has no ${file}; a ${type} model needs it (${what})`);
    return b;
  };
  const tokJson = await required('tokenizer.json', "the tokenizer's vocabulary, merges and added tokens");
  const cfgBytes = await required('tokenizer_config.json', 'the special tokens and the chat template');
  const tokenizer = readJsonFile(tokJson, `${repo}/tokenizer.json`, TOKENIZER_JSON);
  const config = readJsonFile(cfgBytes, `${repo}/tokenizer_config.json`, TOKENIZER_CONFIG);
  if (typeof config.chat_template !== 'string') {
    const jinja = await src.get('chat_template.jinja', true);
    if (jinja) config.chat_template = new TextDecoder().decode(jinja);
  }
  return { tokenizer, config };
}

const isId = (x: unknown): x is number => Number.isInteger(x) && (x as number) >= 0;

/** The ids that end a reply; the first file that names any wins, as in transformers' generation config. */
function endIds(
  repo: string,
  gen: GenerationConfig | null,
  configJson: Record<string, unknown>,
  tokenizer: TokenizerFiles,
): number[] {
  const list = (x: number | number[]) => [...new Set(Array.isArray(x) ? x : [x])];
  if (gen?.eos_token_id != null && (!Array.isArray(gen.eos_token_id) || gen.eos_token_id.length))
    return list(gen.eos_token_id);
  const c = configJson.eos_token_id;
  if (c != null && !(isId(c) || (Array.isArray(c) && c.every(isId))))
    throw new ModelFormatError(
      `${repo}/config.json: field "eos_token_id" must be a token id or a list of them, got ${JSON.stringify(c)}`,
    );
  if (isId(c) || (Array.isArray(c) && c.length)) return list(c);
  const e = tokenizer.config.eos_token as string | { content?: string } | null | undefined;
  const token = typeof e === 'string' ? e : e?.content;
  const id = token === undefined ? undefined : tokenId(tokenizer, token);
  if (id === undefined)
    throw new ModelFormatError(
      `${repo}: no end-of-sequence token: generation_config.json and config.json have no eos_token_id, and tokenizer_config.json's eos_token ${token === undefined ? 'is absent' : `${JSON.stringify(token)} is not in tokenizer.json`}`,
    );
  return [id];
}

function tokenId(files: TokenizerFiles, token: string): number | undefined {
  const t = files.tokenizer as { added_tokens?: { id: number; content: string }[]; model: { vocab: object } };
  const added = t.added_tokens?.find((a) => a.content === token);
  if (added) return added.id;
  const vocab = t.model.vocab as Record<string, number>;
  return Object.hasOwn(vocab, token) ? vocab[token] : undefined;
}
