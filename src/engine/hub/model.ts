// A GPT-2 from the Hub: config.json first (so a model that is not GPT-2 is refused before the big download), the
// tokenizer (tokenizer.json + tokenizer_config.json, or the older vocab.json + merges.txt), generation_config.json
// when present, then model.safetensors (F32/F16/BF16, any of the Hub's naming variants), streamed: the worker holds the parsed
// weights and one chunk, never the file as one buffer.
import { gpt2TokenizerFiles, type TokenizerFiles } from '../data/tokenizer.js';
import * as v from 'valibot';
import { readSafetensorsStream } from './safetensors.js';
import { GENERATION_CONFIG, TOKENIZER_CONFIG, TOKENIZER_JSON } from './schemas.js';
import { parseJsonFile, readJsonFile } from '../util/json.js';
import { gpt2WeightsFromTensors, parseGpt2Config } from '../models/hf.js';
import type { GPT2Config } from '../models/gpt2.js';
import type { Weights } from '../models/init.js';
import type { HubClient, Progress } from './client.js';
import { readWhole, type FileReader, type HubCache } from './cache.js';

export interface HubModel {
  repo: string;
  revision: string;
  config: GPT2Config;
  weights: Weights;
  tokenizer: TokenizerFiles;
  generationConfig: Record<string, unknown> | null;
}

/** Where a GPT-2's files come from: the Hub through its cache, or the cache alone (imported models). */
export interface Gpt2FileSource {
  /** A small file's bytes; null when optional and absent. */
  get(file: string, optional?: boolean): Promise<Uint8Array | null>;
  /** A file as chunks, never one buffer. */
  open(file: string): Promise<FileReader>;
}

export async function loadHubGpt2(
  hub: HubClient,
  repo: string,
  revision = 'main',
  o: { onProgress?: (p: Progress) => void; signal?: AbortSignal } = {},
): Promise<HubModel> {
  return loadGpt2(
    {
      get: (file, optional = false) => hub.file(repo, revision, file, { ...o, optional }),
      open: async (file) => (await hub.open(repo, revision, file, o))!,
    },
    repo,
    revision,
  );
}

/** A GPT-2 whose files are all in the cache already (an imported one): no request is ever made. */
export async function loadCachedGpt2(
  cache: HubCache,
  endpoint: string,
  repo: string,
  revision: string,
): Promise<HubModel> {
  const key = (file: string) => `${endpoint}/${repo}@${revision}/${file}`;
  return loadGpt2(
    {
      get: async (file, optional = false) => {
        const r = await cache.open(key(file));
        if (!r && !optional) throw new Error(`${repo}: ${file} is missing from the stored model; import it again`);
        return r ? readWhole(r) : null;
      },
      open: async (file) => {
        const r = await cache.open(key(file));
        if (!r) throw new Error(`${repo}: ${file} is missing from the stored model; import it again`);
        return r;
      },
    },
    repo,
    revision,
  );
}

export async function loadGpt2(src: Gpt2FileSource, repo: string, revision: string): Promise<HubModel> {
  const get = (file: string, optional = false) => src.get(file, optional);
  const config = parseGpt2Config(
    parseJsonFile((await get('config.json'))!, `${repo}/config.json`),
    `${repo}/config.json`,
  );
  const tokJson = await get('tokenizer.json', true);
  let tokenizer: TokenizerFiles;
  if (tokJson) {
    const cfg = await get('tokenizer_config.json', true);
    tokenizer = {
      tokenizer: readJsonFile(tokJson, `${repo}/tokenizer.json`, TOKENIZER_JSON),
      config: cfg
        ? readJsonFile(cfg, `${repo}/tokenizer_config.json`, TOKENIZER_CONFIG)
        : gpt2TokenizerFiles({ '<|endoftext|>': 50256 }, '').config,
    };
  } else {
    const vocab = await get('vocab.json');
    const merges = await get('merges.txt');
    tokenizer = gpt2TokenizerFiles(
      readJsonFile(vocab!, `${repo}/vocab.json`, v.record(v.string(), v.number())),
      new TextDecoder().decode(merges!),
    );
  }
  const gen = await get('generation_config.json', true);
  // the weights: downloaded into the cache chunk by chunk, then parsed from it tensor by tensor (never one buffer)
  const st = await src.open('model.safetensors');
  const file = `${repo}/model.safetensors`;
  const tensors = await readSafetensorsStream(
    st.chunks(),
    st.size,
    file,
    (name) => !/\.attn\.(masked_)?bias$/.test(name),
  );
  return {
    repo,
    revision,
    config,
    weights: gpt2WeightsFromTensors(config, tensors, file),
    tokenizer,
    generationConfig: gen ? readJsonFile(gen, `${repo}/generation_config.json`, GENERATION_CONFIG) : null,
  };
}
