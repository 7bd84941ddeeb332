// Where the CLI's models come from: a run's base model (the tiny one from its seed, a local Hugging Face folder, a
// Hub repo through the cache), a run saved by `npm run finetune -- --out DIR`, and a model to chat with (any of
// those, with its tokenizer, chat template and sampling defaults).
import { createReadStream, existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { DEFAULT_CHAT_TEMPLATE } from '../src/engine/data/template.js';
import { Tokenizer } from '../src/engine/data/tokenizer.js';
import { gpt2TokenizerFromPackage } from '../src/engine/data/tokenizer.node.js';
import { parseSavedRun, SAVED_RUN_DIR, type ModelSource, type SavedRun } from '../src/engine/export/saved-run.js';
import { DEFAULT_SAMPLING, type SampleOptions } from '../src/engine/generate/sampling.js';
import { FsHubCache } from '../src/engine/hub/cache.node.js';
import { HubClient, type Progress } from '../src/engine/hub/client.js';
import { loadGpt2, loadHubGpt2, type Gpt2FileSource, type HubModel } from '../src/engine/hub/model.js';
import { readSafetensorsStream } from '../src/engine/hub/safetensors.js';
import type { GPT2Config } from '../src/engine/models/gpt2.js';
import { gpt2WeightsFromTensors, parseGpt2Config } from '../src/engine/models/hf.js';
import { initGpt2, TINY_GPT2, type Weights } from '../src/engine/models/init.js';
import { mergeLora } from '../src/engine/models/lora.js';
import { DEFAULT_TRAIN } from '../src/engine/train/config.js';
import { parseJsonFile } from '../src/engine/util/json.js';

export async function readSafetensorsFile(file: string, keep?: (name: string) => boolean) {
  const chunks = (async function* () {
    for await (const c of createReadStream(file, { highWaterMark: 8 * 2 ** 20 })) yield new Uint8Array(c as Buffer);
  })();
  return readSafetensorsStream(chunks, (await stat(file)).size, file, keep);
}

/** The base model of a run: the tiny one from its seed, a local Hugging Face folder, or a Hub repo (cached). */
export async function loadBase(
  source: ModelSource,
  onProgress?: (p: Progress) => void,
): Promise<{ config: GPT2Config; weights: Weights }> {
  if (source.kind === 'tiny') return { config: TINY_GPT2, weights: initGpt2(TINY_GPT2, source.seed) };
  if (source.kind === 'folder') {
    const config = parseGpt2Config(
      parseJsonFile(await readFile(join(source.path, 'config.json'), 'utf8'), join(source.path, 'config.json')),
      join(source.path, 'config.json'),
    );
    const file = join(source.path, 'model.safetensors');
    return {
      config,
      weights: gpt2WeightsFromTensors(
        config,
        await readSafetensorsFile(file, (n) => !/\.attn\.(masked_)?bias$/.test(n)),
        file,
      ),
    };
  }
  const hub = new HubClient(new FsHubCache(), {
    endpoint: source.endpoint ?? process.env.HF_ENDPOINT,
    token: process.env.HF_TOKEN,
  });
  const m = await loadHubGpt2(hub, source.repo, source.revision, { onProgress });
  return { config: m.config, weights: m.weights };
}

/** A saved run: its record, and the trained tensors (the adapters, or every weight of a full fine-tune). */
export async function loadSavedRun(dir: string) {
  const runDir = basename(dir) === SAVED_RUN_DIR && existsSync(join(dir, 'run.json')) ? dir : join(dir, SAVED_RUN_DIR);
  const runFile = join(runDir, 'run.json');
  if (!existsSync(runFile))
    throw new Error(`${dir} holds no saved run (no ${runFile}); runs are saved by npm run finetune -- --out DIR`);
  const saved: SavedRun = parseSavedRun(parseJsonFile(await readFile(runFile, 'utf8'), runFile), runFile);
  const { config, weights: base } = await loadBase(saved.source);
  let trained: Weights;
  if (saved.run.lora) {
    const file = join(runDir, 'lora.safetensors');
    trained = Object.fromEntries([...(await readSafetensorsFile(file))].map(([k, t]) => [k, t.data]));
  } else {
    const file = join(runDir, '..', 'model.safetensors');
    trained = gpt2WeightsFromTensors(config, await readSafetensorsFile(file), file);
  }
  return { saved, runDir, config, base, trained };
}

/** A model to chat with: plain weights (LoRA merged), its tokenizer and chat template, its sampling defaults. */
export interface ChatModel {
  name: string;
  config: GPT2Config;
  weights: Weights;
  tok: Tokenizer;
  template: string;
  sampling: SampleOptions & { maxNewTokens: number };
}

/** A Hugging Face folder's files, for the same loader the Hub's go through. */
function folderSource(dir: string): Gpt2FileSource {
  return {
    get: async (file, optional = false) => {
      const p = join(dir, file);
      if (existsSync(p)) return new Uint8Array(await readFile(p));
      if (optional) return null;
      throw new Error(`${dir} has no ${file}`);
    },
    open: async (file) => {
      const p = join(dir, file);
      const { size } = await stat(p);
      return { size, chunks: () => createReadStream(p, { highWaterMark: 8 * 2 ** 20 }) as AsyncIterable<Uint8Array> };
    },
  };
}

/** generation_config.json's sampling, over the studio's defaults (do_sample false: greedy). */
function samplingOf(gen: HubModel['generationConfig']): ChatModel['sampling'] {
  const n = (k: string) => (typeof gen?.[k] === 'number' ? gen[k] : undefined);
  return {
    temperature: gen?.do_sample === false ? 0 : (n('temperature') ?? DEFAULT_SAMPLING.temperature),
    topK: n('top_k') ?? DEFAULT_SAMPLING.topK,
    topP: n('top_p') ?? DEFAULT_SAMPLING.topP,
    repetitionPenalty: n('repetition_penalty') ?? DEFAULT_SAMPLING.repetitionPenalty,
    maxNewTokens: n('max_new_tokens') ?? 128,
  };
}

function fromHubModel(m: HubModel, name: string): ChatModel {
  const t = m.tokenizer.config.chat_template;
  return {
    name,
    config: m.config,
    weights: m.weights,
    tok: new Tokenizer(m.tokenizer),
    template: typeof t === 'string' ? t : DEFAULT_CHAT_TEMPLATE,
    sampling: samplingOf(m.generationConfig),
  };
}

/** `tiny`, a saved run's folder, a Hugging Face folder, or a Hub repo id (cached, as the finetune CLI does). */
export async function loadChatModel(model: string, revision = 'main'): Promise<ChatModel> {
  if (model === 'tiny') {
    return {
      name: 'the tiny GPT-2 (random weights)',
      config: TINY_GPT2,
      weights: initGpt2(TINY_GPT2, DEFAULT_TRAIN.seed), // the tiny model finetune starts from by default
      tok: gpt2TokenizerFromPackage(DEFAULT_CHAT_TEMPLATE),
      template: DEFAULT_CHAT_TEMPLATE,
      sampling: { ...DEFAULT_SAMPLING, maxNewTokens: 128 },
    };
  }
  if (existsSync(model)) {
    const dir = resolve(model);
    if (existsSync(join(dir, 'run.json')) || existsSync(join(dir, SAVED_RUN_DIR, 'run.json'))) {
      const { saved, config, base, trained } = await loadSavedRun(dir);
      const all = { ...base, ...trained };
      return {
        name: `the run in ${model}`,
        config,
        weights: saved.run.lora ? mergeLora(config, saved.run.lora, all) : all,
        tok: gpt2TokenizerFromPackage(saved.run.data.template),
        template: saved.run.data.template,
        sampling: saved.sampling,
      };
    }
    if (!existsSync(join(dir, 'config.json')))
      throw new Error(`${model} is neither a Hugging Face folder (no config.json) nor a saved run (no run.json)`);
    return fromHubModel(await loadGpt2(folderSource(dir), model, 'local'), model);
  }
  if (!/^[\w.-]+(\/[\w.-]+)?$/.test(model))
    throw new Error(`${model} is not a folder here, nor a Hub repo id (owner/name)`);
  const hub = new HubClient(new FsHubCache(), { endpoint: process.env.HF_ENDPOINT, token: process.env.HF_TOKEN });
  return fromHubModel(await loadHubGpt2(hub, model, revision), model);
}
